/* Stripe CLI fixtures: named API requests whose parameters refer to earlier responses
 * (`${customer:id}`) and the environment (`${.env:VAR}`), run in order against a client. */
#ifndef SLUICE_FIXTURE_H
#define SLUICE_FIXTURE_H

#include <jansson.h>

#include "sluice/stripe.h"

/* Called after each request with what was sent and what came back (rc as from
 * sl_client_request). */
typedef void (*sl_fixture_step_fn)(void *ctx, const char *name, const char *method,
                                   const char *path, sl_err rc, const sl_response_t *resp);

/* Checks a fixture document's shape: {"fixtures": [{name, path, method, params?,
 * expected_error_type?}, ...]} with distinct names, and that every reference names an earlier
 * request or .env. err names the request and field. */
sl_err sl__fixture_check(const json_t *doc, char *err, size_t errlen);

/* Runs each request in order. A request whose answer is an error stops the run (SL_ESTRIPE),
 * unless its expected_error_type matches the error's type. A reference that resolves to
 * nothing is SL_EINVAL naming it. */
sl_err sl__fixture_run(sl_client_t *client, const json_t *doc, sl_fixture_step_fn step, void *ctx,
                       char *err, size_t errlen);

/* Resolves the references in a request's path or params: `done` maps the names of earlier
 * requests to their responses. Returns a new value, or NULL with err set (prefixed by `where`)
 * when a reference is malformed or resolves to nothing. */
json_t *sl__fixture_subst(const json_t *v, const json_t *done, const char *where, char *err,
                          size_t errlen);

/* The fixtures shipped inside sluice, by event type ("customer.created"). NULL if none. */
const char *sl__fixture_shipped(const char *event_type);
size_t sl__fixture_shipped_count(void);
const char *sl__fixture_shipped_name(size_t i);

#endif
