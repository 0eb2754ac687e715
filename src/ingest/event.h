/* A Stripe event as the inbox takes it (internal): the few fields read without building a JSON
 * tree, and one event stored synchronously (catch-up, replays). */
#ifndef SLUICE_INGEST_EVENT_H
#define SLUICE_INGEST_EVENT_H

#include <stddef.h>

#include "ingest/inbox.h"

/* Checks that body[0..len) is a Stripe event: one JSON object with an evt_ id, "object":
 * "event" and a type. Copies the id and type (NUL-terminated) and the `created` (0 if absent)
 * out. Returns NULL, or what is wrong with the body in words (a static string). */
const char *sl__event_parse(const char *body, size_t len, char *id, size_t idlen, char *type,
                            size_t typelen, long long *created);

/* Stores one event through the inbox, with the same dedupe and group commit as webhooks, and
 * waits until it is durable. `source` is "webhook" or "catch-up". *fresh is 1 if it was stored,
 * 0 if its id was already there. SL_EPARSE when the payload is not an event (err says why),
 * else as sl__inbox_submit. */
sl_err sl__event_ingest(sl_inbox_t *in, const char *connection, const char *source,
                        const char *payload, size_t len, int *fresh, char *err, size_t errlen);

#endif
