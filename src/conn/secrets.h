/* The webhook-secret cache (internal): each connection's unsealed secrets, kept in memory so
 * that verifying a webhook needs no store read, and refreshed from the store every second so
 * that `sluice connect rotate-secret` reaches a running server at once. */
#ifndef SLUICE_CONN_SECRETS_H
#define SLUICE_CONN_SECRETS_H

#include "core/crypt.h"
#include "store/store.h"

typedef struct sl_secrets sl_secrets_t;

/* A cache over `store` and `crypt` (both borrowed; they must outlive it). NULL when out of
 * memory. Safe to use from any number of threads. */
sl_secrets_t *sl__secrets_new(sl_store_t *store, const sl_crypt_t *crypt);

/* Copies connection `name`'s current secret and, while its grace period lasts, the previous one
 * into *cur and *prev (either may be NULL; free both with sl__crypt_free()). An entry older than
 * a second is reloaded by one caller, outside the cache's lock, while the others go on with the
 * stale copy: a slow store holds up at most that one caller. Names no connection could have are
 * refused without a lookup, and unknown names are not cached (a flood of made-up names cannot
 * grow it). Returns 0 when the connection does not exist. */
int sl__secrets_get(sl_secrets_t *c, const char *name, char **cur, char **prev);

/* Wipes and frees every secret. NULL is a no-op. */
void sl__secrets_free(sl_secrets_t *c);

#endif
