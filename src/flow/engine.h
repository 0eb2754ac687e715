/* Runs flows (internal): the router that queues runs in the transaction storing an event, the
 * workers that execute them step by step with every step recorded, and the scheduler. */
#ifndef SLUICE_FLOW_ENGINE_H
#define SLUICE_FLOW_ENGINE_H

#include <time.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/crypt.h"
#include "flow/flow.h"
#include "store/store.h"

typedef struct sl_engine sl_engine_t;

typedef struct sl_engine_config {
    sl_store_t *store;
    const sl_crypt_t *crypt;
    const sl_flows_t *flows; /* borrowed; must outlive the engine */
    int workers;             /* threads executing runs; 0: none (sl__engine_run_one only) */
    int scheduler;           /* start the schedule thread */
    long retry_base_ms;      /* first wait before a step's retry; 0: 500 */
    int log_runs;            /* log each finished run (sluice serve); the CLI prints them */
    long long lease_ms;      /* how long a claimed run is this instance's without a heartbeat;
                                0: 30000 */
    int reloaded;            /* replaces an engine still running on this store (flows reloaded):
                                the runs it holds are not taken over */
} sl_engine_config_t;

/* Creates the engine. With workers, the threads start: they claim queued runs (and runs whose
 * lease expired) under this instance's leases. On SQLite, runs left running by a stop are
 * resumed first. Events queue their runs through sl__engine_route (given to the inbox). */
sl_err sl__engine_start(const sl_engine_config_t *cfg, sl_engine_t **out, char *err, size_t errlen);

/* Stops the threads (a run mid-way stays `running` until its lease ends, then resumes on any
 * instance; claimed runs not begun go back to the queue) and frees. */
void sl__engine_stop(sl_engine_t *e);

/* Queues a failed run again, to resume at its failed step (the step records that failed are
 * dropped; those that succeeded stand). SL_ENOTFOUND for no such run, SL_EINVAL when it is not
 * failed ("run ID is STATUS; only a failed run is retried"), SL_EIO when the store failed; err
 * says which. What `sluice runs retry` and POST /api/runs/ID/retry both do. */
sl_err sl__run_requeue_failed(sl_store_t *s, const char *id, char *err, size_t errlen);

/* Executes one queued or running run to its end in the calling thread. */
sl_err sl__engine_execute(sl_engine_t *e, json_t *run, char *err, size_t errlen);

/* Executes the queued run id in the calling thread when this instance can claim it (*here = 1);
 * when `sluice serve` (another instance) claimed it first, waits for it to end (*here = 0).
 * What `sluice flows run` and `sluice runs retry` do after queueing, so a run never runs twice. */
sl_err sl__engine_execute_id(sl_engine_t *e, const char *id, int *here, char *err, size_t errlen);
/* Queues the runs of an event again: one for each enabled flow that wants it now, as if it had
 * just arrived. *runs gets [{run, flow}] (a new array). What POST /api/events/ID/replay and
 * `sluice events replay` do. */
sl_err sl__engine_replay(sl_engine_t *e, const char *event_id, json_t **runs, char *err,
                         size_t errlen);
/* Whether a `sluice serve` with workers ran on this store in the last 5 seconds (each marks it
 * every second): then the CLI leaves runs to it, with its settings, not the shell's. */
int sl__engine_serving(sl_store_t *s);
/* Queues a run of a flow (manual trigger, replay). run_id (may be NULL) receives its id. */
sl_err sl__engine_queue(sl_engine_t *e, const char *flow, const char *event_id, const json_t *input,
                        char *run_id, size_t idlen, char *err, size_t errlen);

/* Appends the names of the enabled flows an event of this type and connection starts (what
 * a stored event queues, and what a replay queues). */
void sl__engine_flows_for(sl_engine_t *e, const char *type, const char *connection, json_t *flows);

/* The router of the inbox: the names (copied) of the enabled flows an event starts, up to max;
 * returns how many. */
size_t sl__engine_route(void *ctx, const char *type, const char *connection,
                        char (*names)[SL_FLOW_NAME_MAX], size_t max);
/* This instance's owner id on its leases. */
const char *sl__engine_owner(const sl_engine_t *e);
/* Whether a flow is enabled: the store's setting, else the file's `enabled`. */
int sl__engine_flow_enabled(sl_engine_t *e, const sl_flow_t *f);

/* One scheduler pass at time `now`: queues a run of every enabled scheduled flow whose cron
 * names a minute after its last fired one and up to now. Returns how many it queued. */
int sl__engine_schedule_tick(sl_engine_t *e, time_t now);

/* Rereads the flows' enabled settings from the store (another process may have changed them). */
void sl__engine_refresh(sl_engine_t *e);

/* Appends the engine's metrics in Prometheus's text format: finished runs by flow and status,
 * step latency histograms by kind, the queue's depth and its oldest run's age. */
void sl__engine_metrics(sl_engine_t *e, sl_buf_t *b);
/* The Idempotency-Key of a Stripe write: from the run id and the step's path. */
void sl__engine_idem_key(const char *run_id, const char *path, char *out, size_t n);

#endif
