/* The REST API of `sluice serve` under /api/, behind a bearer token (internal): flows, runs
 * and their steps, events, replay of an event into its flows, contacts. */
#ifndef SLUICE_HTTP_API_H
#define SLUICE_HTTP_API_H

#include <stddef.h>

#include <jansson.h>

#include "flow/engine.h"
#include "store/store.h"

struct sl_api {
    sl_store_t *store;
    sl_engine_t *engine;
    const sl_flows_t *flows;
};
typedef struct sl_api sl_api_t;

/* Looks up a query argument of the request being answered. */
typedef const char *(*sl_api_arg_fn)(void *conn, const char *name);

/* Answers one request: returns the HTTP status and sets *out to the JSON body. */
unsigned sl__api_handle(sl_api_t *api, const char *method, const char *url, const char *body,
                        size_t len, sl_api_arg_fn arg, void *conn, json_t **out);

/* The admin token: $SLUICE_ADMIN_TOKEN, else DATA/admin.token, made (0600) at the first start;
 * *made says it was just made, so the caller shows it once. A DATA/admin.token that group or
 * others may read is refused: -1, with err naming the file and the chmod that fixes it. */
int sl__api_token(const char *data_dir, char *out, size_t n, int *made, char *err, size_t errlen);

#endif
