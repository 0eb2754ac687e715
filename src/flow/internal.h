/* What the files of the flow engine share (internal to src/flow/): the engine itself, one run
 * being executed, and the step table. */
#ifndef SLUICE_FLOW_INTERNAL_H
#define SLUICE_FLOW_INTERNAL_H

#include <pthread.h>
#include <stdarg.h>

#include <jansson.h>

#include "conn/clients.h"
#include "flow/engine.h"

#define SL_ENGINE_KINDS 16
#define SL_ENGINE_STEP_BUCKETS 9 /* <= 1, 5, 10, 50, 100, 500, 1000, 5000 ms, +Inf */
extern const double sl__engine_step_bounds_ms[SL_ENGINE_STEP_BUCKETS - 1];

struct sl_engine {
    sl_engine_config_t cfg;
    int *enabled; /* per flow, refreshed from the store */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stopping;
    int pending; /* runs queued since the workers last looked */
    pthread_t *threads;
    int nthreads;
    pthread_t sched;
    int have_sched;
    sl_clients_t *clients; /* one API client per connection */
    pthread_cond_t keeper_wake;
    char owner[96];  /* this instance's id on the leases it holds: host:pid:random */
    json_t *env;     /* $.env, read once at start (shared by every run, never changed) */
    json_t *secrets; /* what records must not hold (sl__record_secrets) */
    /* For /metrics: step latencies by kind (the step table's order), finished runs by flow
     * (index in cfg.flows) and status. */
    pthread_mutex_t stats_lock;
    unsigned long long step_le[SL_ENGINE_KINDS][SL_ENGINE_STEP_BUCKETS];
    double step_sum_ms[SL_ENGINE_KINDS];
    unsigned long long (*runs_by)[3]; /* succeeded, failed, filtered */
};

/* A run executed to its end, not yet recorded: its status and the step records still unwritten
 * (pure steps; every side effect was recorded as it happened). */
typedef struct sl_finished {
    char id[64];
    const char *status; /* static */
    char *error;        /* heap, or NULL */
    char *failed_step;  /* heap, or NULL */
    json_t *steps;      /* or NULL */
} sl_finished_t;

void sl__finished_clear(sl_finished_t *f);
/* Secrets out of run history (redact.c). The values to hide: SLUICE_FLOW_* (env, as from
 * sl__engine_env) and SLUICE_SMTP_PASSWORD, by name. */
json_t *sl__record_secrets(const json_t *env);
/* A copy of v to record: secret values, credential fields and URL passwords redacted (a new
 * reference; v itself when there is nothing to hide). */
json_t *sl__record_redact(const json_t *v, const json_t *secrets);
/* The same for a string: a heap copy, or NULL when there is nothing to hide. */
char *sl__record_redact_str(const char *s, const json_t *secrets);
/* The SLUICE_FLOW_* environment variables as an object. */
json_t *sl__engine_env(void);
/* Executes a claimed run to its end without recording its end (see sl__engine_execute). */
sl_err sl__engine_run(sl_engine_t *e, const json_t *run, sl_finished_t *out, char *err,
                      size_t errlen);
void sl__engine_log_finished(sl_engine_t *e, const sl_finished_t *f, const char *flow);
const sl_flow_t *sl__engine_flow_named(sl_engine_t *e, const char *name);

/* --- The step table ------------------------------------------------------------------------- */

/* How the runner treats a kind: control kinds are the runner's own (run.c); actions do one
 * thing to the world through their `act`. */
typedef enum sl_step_flow {
    SL_STEP_ACTION,
    SL_STEP_LOOP,
    SL_STEP_IF,
    SL_STEP_FILTER,
    SL_STEP_SET,
} sl_step_flow_t;

/* What an action's one attempt came to. */
typedef enum sl_step_result {
    SL_STEP_OK,
    SL_STEP_FAIL,  /* for good: the run fails at this step */
    SL_STEP_RETRY, /* transient: worth another attempt, by the step's `retry` */
} sl_step_result_t;

/* What an action sees of the run it is part of. */
typedef struct sl_step_call {
    sl_engine_t *engine;
    const sl_flow_t *flow;
    const json_t *step; /* the step as written */
    const char *run_id;
    const char *path; /* "each[2].get-customer" */
    int attempts;     /* the step's budget of attempts (its `retry.attempts`, default 3) */
    int requests;     /* out: attempts the action made itself (the Stripe client's retries) */
} sl_step_call_t;

/* The checker of one flow file (check.c). */
typedef struct sl_check sl_check_t;

typedef struct sl_step_kind {
    const char *name;
    sl_step_flow_t flow;
    const char *const *extra;  /* keys beside its own, id, description and retry (NULL-ended) */
    const char *input;         /* an action's rendered input: NULL its own key's value, or "with" */
    const char *const *fields; /* an action whose value is a mapping: the fields it takes */
    const char *const *needs;  /* ... and those it needs */
    /* Checks what the common checks do not (may be NULL). */
    void (*check)(sl_check_t *c, const json_t *step, const char *path);
    /* An action's one attempt with its rendered input: sets *out (a new reference) on success,
     * err on failure. Called from worker threads. */
    sl_step_result_t (*act)(sl_step_call_t *call, json_t *input, json_t **out, char *err,
                            size_t errlen);
} sl_step_kind_t;

/* Every kind, NULL-ended: the control kinds, then the actions of src/flow/steps/. */
extern const sl_step_kind_t *const sl__step_table[];

/* The kind of a step object (the one kind key it has), or NULL. */
const sl_step_kind_t *sl__step_of(const json_t *step);

extern const sl_step_kind_t sl__step_stripe, sl__step_http, sl__step_emit, sl__step_email,
    sl__step_contact;

/* --- Checking (check.c), for the kinds' own checks ---------------------------------------------
 */

/* Reports a problem at `path` ("steps[0].with.email": FILE:LINE:COL: message). */
void sl__check_problem(sl_check_t *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Checks the syntax of every {{ template }} inside a value. */
void sl__check_templates(sl_check_t *c, const char *path, const json_t *v);

/* The flow being checked. */
const sl_flow_t *sl__check_flow(const sl_check_t *c);

/* --- Helpers the actions share ------------------------------------------------------------- */

/* A string member of an object, or NULL. */
const char *sl__json_str(const json_t *obj, const char *key);

/* Sends an HTTP request with a JSON (or text) body for the http and emit steps: output
 * {status, body}. 5xx, 429, 408 and network failures are SL_STEP_RETRY. */
sl_step_result_t sl__step_http_send(const char *method, const char *url, const json_t *headers,
                                    const json_t *body, long timeout_ms, json_t **out, char *err,
                                    size_t errlen);

#endif
