#include "ingest/event.h"

#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/jscan.h"

const char *sl__event_parse(const char *body, size_t len, char *id, size_t idlen, char *type,
                            size_t typelen, long long *created)
{
    sl_jscan_field_t f[4] = {
        {.name = "id"}, {.name = "object"}, {.name = "type"}, {.name = "created"}};
    if (sl__jscan_object(body, len, f, 4))
        return "the body is not a JSON object";
    if (f[0].kind != SL_JSCAN_STRING || f[0].len < 5 || f[0].len >= idlen ||
        memcmp(f[0].str, "evt_", 4) != 0)
        return "the body has no event id (evt_...)";
    if (f[1].kind != SL_JSCAN_STRING || f[1].len != 5 || memcmp(f[1].str, "event", 5) != 0)
        return "the body is not an event (\"object\": \"event\")";
    if (f[2].kind != SL_JSCAN_STRING || !f[2].len || f[2].len >= typelen)
        return "the event has no type";
    memcpy(id, f[0].str, f[0].len);
    id[f[0].len] = '\0';
    memcpy(type, f[2].str, f[2].len);
    type[f[2].len] = '\0';
    *created = f[3].kind == SL_JSCAN_INTEGER ? f[3].integer : 0;
    return NULL;
}

sl_err sl__event_ingest(sl_inbox_t *in, const char *connection, const char *source,
                        const char *payload, size_t len, int *fresh, char *err, size_t errlen)
{
    char id[128], type[128];
    long long created;
    const char *problem = sl__event_parse(payload, len, id, sizeof id, type, sizeof type, &created);
    if (problem) {
        snprintf(err, errlen, "%s", problem);
        return SL_EPARSE;
    }
    sl_event_in_t ev = {.id = id,
                        .connection = connection,
                        .type = type,
                        .source = source,
                        .payload = payload,
                        .payload_len = len,
                        .created = created,
                        .received_ms = sl__now_ms()};
    return sl__inbox_submit(in, &ev, fresh, err, errlen);
}
