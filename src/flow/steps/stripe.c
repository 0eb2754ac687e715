/* The `stripe` step: any catalog operation or named action, called through the connection's
 * client. The client is the one layer that retries (Stripe's rules: network errors, 409, 429 and
 * 5xx, or what Stripe-Should-Retry says), so one transient failure costs at most the step's
 * attempts in requests; every write carries an Idempotency-Key made from the run and the step's
 * path, so a step cut off mid-call and resumed is answered with its first result. */
#include <stdio.h>
#include <string.h>

#include "flow/internal.h"
#include "sluice/catalog.h"

static void check_stripe(sl_check_t *c, const json_t *step, const char *path)
{
    char sub[1024];
    sl__path_fmt(sub, sizeof sub, "%s.stripe", path);
    const char *name = json_string_value(json_object_get(step, "stripe"));
    const sl_op_t *op = name ? sl_op_find(name) : NULL;
    const sl_alias_t *alias = name && !op ? sl_alias_find(name) : NULL;
    if (alias)
        op = sl_alias_op(alias);
    if (!op) {
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
    json_t *desc = sl_op_describe(op);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)with, k, v)
    {
        int known = strcmp(k, "id") == 0 || strcmp(k, "expand") == 0 ||
                    (alias && (strcmp(k, "email") == 0));
        const json_t *pp = json_object_get(desc, "path_params");
        for (size_t i = 0; !known && i < json_array_size(pp); i++)
            known = strcmp(json_string_value(json_array_get(pp, i)) ?: "", k) == 0;
        const json_t *params = json_object_get(desc, "params");
        for (size_t i = 0; !known && i < json_array_size(params); i++)
            known =
                strcmp(json_string_value(json_object_get(json_array_get(params, i), "name")) ?: "",
                       k) == 0;
        if (!known) {
            char psub[1400];
            sl__path_fmt(psub, sizeof psub, "%s.%s", sub, k);
            sl__check_problem(c, psub, "%s has no parameter `%s` (`sluice ops %s` lists them)",
                              sl_op_name(op), k, sl_op_name(op));
        }
    }
    json_decref(desc);
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
