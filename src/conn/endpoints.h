/* The webhook endpoint of each connection, registered through Stripe's API (internal). */
#ifndef SLUICE_CONN_ENDPOINTS_H
#define SLUICE_CONN_ENDPOINTS_H

#include "conn/conn.h"

/* Makes sure connection `name` has exactly one endpoint at PUBLIC_URL/hooks/NAME enabled for
 * `events` (nevents > 0) with the API version pinned: an existing endpoint for that URL is
 * reused (its events updated in place when they differ), otherwise one is created and its
 * signing secret stored. Never creates a second endpoint for the same URL. `msg` says what was
 * done (or why it failed). */
sl_err sl__endpoint_register(sl_store_t *store, const sl_crypt_t *crypt, const char *name,
                             const char *public_url, const char *const *events, size_t nevents,
                             sl_trace_fn trace, char *msg, size_t msglen);

/* Deletes the endpoint sluice registered for `name` and forgets it and its secret. */
sl_err sl__endpoint_unregister(sl_store_t *store, const sl_crypt_t *crypt, const char *name,
                               sl_trace_fn trace, char *msg, size_t msglen);

#endif
