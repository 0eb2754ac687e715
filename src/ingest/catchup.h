/* Catch-up: polling GET /v1/events for events missed while sluice was down (internal). */
#ifndef SLUICE_INGEST_CATCHUP_H
#define SLUICE_INGEST_CATCHUP_H

#include "conn/conn.h"
#include "ingest/inbox.h"

typedef struct sl_catchup sl_catchup_t;

/* Every `interval` seconds, for every connection, lists the events created since its stored
 * cursor (the first run starts from now) and feeds them to the inbox with the same dedupe as
 * webhooks. The inbox is borrowed and must outlive the catch-up. */
sl_err sl__catchup_start(sl_store_t *store, const sl_crypt_t *crypt, sl_inbox_t *inbox,
                         long interval, sl_catchup_t **out);

/* Runs one pass now for every connection (also what the thread does each interval). */
void sl__catchup_pass(sl_store_t *store, const sl_crypt_t *crypt, sl_inbox_t *inbox);

void sl__catchup_stop(sl_catchup_t *c);

#endif
