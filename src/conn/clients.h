/* API clients per connection, shared by every run (internal). One client per connection, made
 * on first use and kept, with no cap on how many connections; a connection whose key, base URL,
 * version, account or mode changed in the store (`sluice connect add` again, from any process)
 * gets a new client within a second, and the old one is freed once no call uses it. */
#ifndef SLUICE_CONN_CLIENTS_H
#define SLUICE_CONN_CLIENTS_H

#include "core/crypt.h"
#include "sluice/stripe.h"
#include "store/store.h"

typedef struct sl_clients sl_clients_t;

/* A cache over `store` and `crypt` (borrowed; they must outlive it). NULL when out of memory.
 * Safe from any number of threads. */
sl_clients_t *sl__clients_new(sl_store_t *store, const sl_crypt_t *crypt);

/* A held client for connection `name`: usable until sl__clients_release() (from this thread or
 * any other), even if the connection changes meanwhile. NULL with err naming the connection and
 * the problem when it does not exist or its key cannot be opened. */
sl_client_t *sl__clients_get(sl_clients_t *c, const char *name, char *err, size_t errlen);

/* Gives back what sl__clients_get returned. NULL is a no-op. */
void sl__clients_release(sl_clients_t *c, sl_client_t *client);

/* Frees every client. No client may be held. NULL is a no-op. */
void sl__clients_free(sl_clients_t *c);

#endif
