/* The `emit` step: POSTs {"event", "payload", "sent_at", "flow", "run"} to a URL, for systems
 * that take events from sluice. */
#include <time.h>

#include "flow/internal.h"

static sl_step_result_t act_emit(sl_step_call_t *call, json_t *input, json_t **out, char *err,
                                 size_t errlen)
{
    json_t *payload =
        json_pack("{s:O,s:O,s:I,s:s,s:s}", "event", json_object_get(input, "event"), "payload",
                  json_object_get(input, "payload") ?: json_null(), "sent_at",
                  (json_int_t)time(NULL), "flow", call->flow->name, "run", call->run_id);
    const char *url = sl__json_str(input, "url");
    sl_step_result_t r = sl__step_http_send(
        "POST", url ? url : "", json_object_get(input, "headers"), payload, 0, out, err, errlen);
    json_decref(payload);
    return r;
}

static const char *const emit_fields[] = {"url", "event", "payload", "headers", NULL};
static const char *const emit_needs[] = {"url", "event", NULL};

const sl_step_kind_t sl__step_emit = {
    .name = "emit",
    .flow = SL_STEP_ACTION,
    .fields = emit_fields,
    .needs = emit_needs,
    .act = act_emit,
};
