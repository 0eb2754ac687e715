/* Catch-up: polling GET /v1/events for events missed while sluice was down (internal). */
#ifndef SLUICE_CONN_CATCHUP_H
#define SLUICE_CONN_CATCHUP_H

#include "conn/conn.h"
#include "http/server.h"

typedef struct sl_catchup sl_catchup_t;

/* Every `interval` seconds, for every connection, lists the events created since its stored
 * cursor (the first run starts from now) and feeds them to the server's inbox with the same
 * dedupe as webhooks. */
sl_err sl__catchup_start(sl_store_t *store, const sl_crypt_t *crypt, sl_server_t *server,
                         long interval, sl_catchup_t **out);

/* Runs one pass now for every connection (also what the thread does each interval). */
void sl__catchup_pass(sl_store_t *store, const sl_crypt_t *crypt, sl_server_t *server);

void sl__catchup_stop(sl_catchup_t *c);

#endif
