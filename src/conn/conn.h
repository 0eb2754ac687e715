/* Connections to Stripe accounts: adding one (with its key checked against the API), opening a
 * client from one, and its webhook secrets (internal). */
#ifndef SLUICE_CONN_H
#define SLUICE_CONN_H

#include <time.h>

#include "core/crypt.h"
#include "sluice/stripe.h"
#include "store/store.h"

/* Resolves the data directory: `opt` if given, else $SLUICE_DATA, else $XDG_DATA_HOME/sluice,
 * else ~/.local/share/sluice; creates it (mode 0700) if missing. */
sl_err sl__data_dir(const char *opt, char *out, size_t outlen, char *err, size_t errlen);

typedef struct sl_conn_spec {
    const char *name;
    const char *key;
    const char *webhook_secret; /* may be NULL */
    const char *base_url;       /* may be NULL */
    const char *stripe_version; /* may be NULL */
    const char *stripe_account; /* may be NULL */
} sl_conn_spec_t;

/* Checks the name, the key's kind and mode (sk_/rk_, test/live), then the key itself against
 * the API (GET /v1/account; for a restricted key that cannot read the account, read access to
 * Charges or Webhook endpoints), and saves the connection with its secrets sealed. Nothing is
 * saved on failure; err says why (never quoting the key). */
sl_err sl__conn_add(sl_store_t *store, const sl_crypt_t *crypt, const sl_conn_spec_t *spec,
                    sl_trace_fn trace, sl_conn_row_t *saved, char *err, size_t errlen);

/* Fills cfg from the connection: its key (unsealed into *key, which the caller frees with
 * sl__crypt_free() once the client exists), base URL, Stripe-Version, Stripe-Account, and the
 * rate limit of its mode (25/s test, 100/s live). Other fields of cfg are left alone. */
sl_err sl__conn_config(const sl_conn_row_t *row, const sl_crypt_t *crypt, sl_client_config_t *cfg,
                       char **key, char *err, size_t errlen);

/* A client for the connection (its key unsealed, base URL, version and account applied). */
sl_err sl__conn_client(const sl_conn_row_t *row, const sl_crypt_t *crypt, sl_trace_fn trace,
                       sl_client_t **out, char *err, size_t errlen);

/* Unseals the current and, while its grace period lasts, the previous webhook secret. Either
 * may come back NULL; free them with sl__crypt_free(). */
sl_err sl__conn_secrets(const sl_conn_row_t *row, const sl_crypt_t *crypt, time_t now,
                        char **current, char **previous);

/* Whether `name` can be a connection's name: 1-63 of a-z, 0-9, '-' and '_'. */
int sl__conn_name_ok(const char *name);

/* "test" or "live" from a key's prefix, or NULL if it is not a secret or restricted key. */
const char *sl__conn_key_mode(const char *key);

#endif
