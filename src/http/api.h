/* The REST API of `sluice serve` under /api/, behind a bearer token (internal): flows, runs
 * and their steps, events, replay of an event into its flows, contacts. */
#ifndef SLUICE_HTTP_API_H
#define SLUICE_HTTP_API_H

#include <pthread.h>
#include <stddef.h>

#include <jansson.h>

#include "flow/engine.h"
#include "store/store.h"

struct sl_api {
    sl_store_t *store;
    sl_engine_t *engine;
    const sl_flows_t *flows;
    /* Held (read) while a request or /metrics uses engine and flows; taken (write) to swap them
     * when the flow files are reloaded. Set up by sl__api_init. */
    pthread_rwlock_t lock;
    json_t *load_errors; /* files that did not load at the last reload: their last good version
                            runs ("FILE:LINE:COL: problem" strings), or NULL */
};
typedef struct sl_api sl_api_t;

void sl__api_init(sl_api_t *api, sl_store_t *store, sl_engine_t *engine, const sl_flows_t *flows);
void sl__api_cleanup(sl_api_t *api);
/* Puts a reloaded engine and its flows in place (load_errors: taken); waits for the requests
 * that use the old ones. */
void sl__api_swap(sl_api_t *api, sl_engine_t *engine, const sl_flows_t *flows, json_t *load_errors);

/* Looks up a query argument of the request being answered. */
typedef const char *(*sl_api_arg_fn)(void *conn, const char *name);

/* Answers one request: returns the HTTP status and sets *out to the JSON body. */
unsigned sl__api_handle(sl_api_t *api, const char *method, const char *url, const char *body,
                        size_t len, sl_api_arg_fn arg, void *conn, json_t **out);

/* How many segments of a path under /api/ a request can use. */
#define SL_API_SEGS 4

/* Splits `path` (what follows "/api/") at its slashes (any number of them) into at most
 * SL_API_SEGS segments, the ones not there ""; what follows the last is ignored. Returns how
 * many there are, or -1 when one is longer than 255 bytes. */
int sl__api_split(const char *path, char seg[SL_API_SEGS][256]);

/* The input of POST /api/flows/NAME/run: the JSON value in the body (any JSON, an empty body
 * being {}), a new reference; NULL with a reason in err when the body is not JSON. */
json_t *sl__api_run_input(const char *body, size_t len, char *err, size_t errlen);

/* The admin token: $SLUICE_ADMIN_TOKEN, else DATA/admin.token, made (0600) at the first start;
 * *made says it was just made, so the caller shows it once. A DATA/admin.token that group or
 * others may read is refused: -1, with err naming the file and the chmod that fixes it. */
int sl__api_token(const char *data_dir, char *out, size_t n, int *made, char *err, size_t errlen);

#endif
