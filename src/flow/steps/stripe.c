/* The `stripe` step: any catalog operation or named action, called through the connection's
 * client. The client is the one layer that retries (Stripe's rules: network errors, 409, 429 and
 * 5xx, or what Stripe-Should-Retry says), so one transient failure costs at most the step's
 * attempts in requests; every write carries an Idempotency-Key made from the run and the step's
 * path, so a step cut off mid-call and resumed is answered with its first result. */
#include <stdio.h>
#include <string.h>

#include "flow/internal.h"
#include "sluice/catalog.h"
#include "stripe/catalog.h"

/* A value the run fills in: a string with a {{ template }}. */
static int is_template(const json_t *v)
{
    return json_is_string(v) && strstr(json_string_value(v), "{{") != NULL;
}

/* The node path of a parameter the catalog names ("items[0][price]" below "steps[1].with":
 * "steps[1].with.items[0].price"). */
static void param_node(char *out, size_t n, const char *with, const char *param)
{
    size_t k = strcspn(param, "[");
    size_t len = (size_t)snprintf(out, n, "%s%s%.*s", with, k ? "." : "", (int)k, param);
    for (const char *p = param + k; *p == '[' && len < n;) {
        const char *end = strchr(p, ']');
        if (!end)
            break;
        size_t m = (size_t)(end - p - 1);
        int index = m && strspn(p + 1, "0123456789") == m;
        len += (size_t)snprintf(out + len, n - len, index ? "[%.*s]" : ".%.*s", (int)m, p + 1);
        p = end + 1;
    }
}

/* The operation or action must exist, and its parameters pass the same validation as the call
 * will (sluice call's: names, types, enums, required ones, path parameters), the values that are
 * templates standing for any value. */
static void check_stripe(sl_check_t *c, const json_t *step, const char *path)
{
    char sub[1024];
    sl__path_fmt(sub, sizeof sub, "%s.stripe", path);
    const char *name = json_string_value(json_object_get(step, "stripe"));
    if (!name || (!sl_op_find(name) && !sl_alias_find(name))) {
        const char *near = name ? sl_op_suggest(name) : NULL;
        sl__check_problem(c, sub, "unknown Stripe operation `%s`%s%s%s (`sluice ops` lists them)",
                          name ? name : "", near ? " (did you mean `" : "", near ? near : "",
                          near ? "`?)" : "");
        return;
    }
    if (!sl__check_flow(c)->connection[0])
        sl__check_problem(c, sub, "a stripe step needs the flow's `connection`");
    const json_t *with = json_object_get(step, "with");
    sl__path_fmt(sub, sizeof sub, "%s.with", path);
    if (with && !json_is_object(with)) {
        sl__check_problem(c, sub, "`with` holds the parameters as a mapping");
        return;
    }
    char where[512], err[1024], node[1600];
    if (sl__action_check(name, with, is_template, where, sizeof where, err, sizeof err)) {
        param_node(node, sizeof node, sub, where);
        sl__check_problem(c, with ? node : path, "step `%s`, %s: %s",
                          json_string_value(json_object_get(step, "id")) ?: "?",
                          node + strlen(path) + 1, err);
    }
    sl__check_templates(c, sub, with);
}

static sl_step_result_t act_stripe(sl_step_call_t *call, json_t *input, json_t **out, char *err,
                                   size_t errlen)
{
    sl_clients_t *clients = call->engine->clients;
    sl_client_t *c = sl__clients_get(clients, call->flow->connection, err, errlen);
    if (!c)
        return SL_STEP_FAIL;
    const char *op = sl__json_str(call->step, "stripe");
    char key[64];
    sl__engine_idem_key(call->run_id, call->path, key, sizeof key);
    /* The step's attempts are the client's: attempts - 1 retries (a negative count is none). */
    sl_request_t base = {
        NULL, NULL, NULL, key, NULL, NULL, call->attempts > 1 ? call->attempts - 1 : -1};
    sl_response_t resp;
    char cerr[1024] = "";
    sl_err rc = sl_action_call(c, op, input, 1, &base, &resp, cerr, sizeof cerr);
    sl_step_result_t result = SL_STEP_OK;
    if (rc == SL_OK) {
        *out = json_incref(resp.json);
    } else if (rc == SL_ESTRIPE) {
        const sl_stripe_error_t *se = &resp.error;
        snprintf(err, errlen, "Stripe error (HTTP %ld, %s%s%s%s%s): %s%s%s", se->http_status,
                 se->type, se->code[0] ? " " : "", se->code, se->decline_code[0] ? " " : "",
                 se->decline_code, se->message, se->request_id[0] ? " (request " : "",
                 se->request_id[0] ? se->request_id : "");
        if (se->request_id[0])
            snprintf(err + strlen(err), errlen - strlen(err), ")");
        if (se->param[0])
            snprintf(err + strlen(err), errlen - strlen(err), " [param %s]", se->param);
        *out = resp.json ? json_incref(resp.json) : NULL;
        result = SL_STEP_FAIL;
    } else {
        snprintf(err, errlen, "%s: %s", op, cerr[0] ? cerr : resp.error.message);
        result = SL_STEP_FAIL;
    }
    call->requests = resp.attempts;
    sl_response_cleanup(&resp);
    sl__clients_release(clients, c);
    return result;
}

static const char *const stripe_extra[] = {"with", NULL};

const sl_step_kind_t sl__step_stripe = {
    .name = "stripe",
    .flow = SL_STEP_ACTION,
    .extra = stripe_extra,
    .input = "with",
    .check = check_stripe,
    .act = act_stripe,
};
