/* sluice — every Stripe API operation by name, validated before it is sent.
 *
 * The catalog is generated from Stripe's OpenAPI description (API version 2023-08-16) and
 * compiled in: 468 operations named as the official SDKs name them, resource then method
 * (`customers.create`, `invoices.finalize`, `checkout.sessions.create`,
 * `customers.tax_ids.retrieve`), plus the named actions of popular Stripe connectors as aliases
 * (`find-customer`, `archive-price`, `create-a-payment-link`, ...), and the 223 webhook event
 * types.
 *
 * All returned pointers are to static data: never freed, valid for the life of the program, safe
 * to share between threads.
 */
#ifndef SLUICE_CATALOG_H
#define SLUICE_CATALOG_H

#include <jansson.h>
#include <stddef.h>

#include "sluice/error.h"
#include "sluice/stripe.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sl_op sl_op_t;
typedef struct sl_alias sl_alias_t;

/* The API version the catalog describes ("2023-08-16"). */
const char *sl_catalog_api_version(void);

/* Operations, sorted by name. */
size_t sl_op_count(void);
const sl_op_t *sl_op_at(size_t i); /* NULL past the end */

/* Finds an operation by its exact friendly name (binary search); NULL if none. */
const sl_op_t *sl_op_find(const char *name);

/* The operation or alias name closest to a misspelled `name`, or NULL if none is close. */
const char *sl_op_suggest(const char *name);

const char *sl_op_name(const sl_op_t *op);
const char *sl_op_method(const sl_op_t *op);   /* "GET", "POST" or "DELETE" */
const char *sl_op_path(const sl_op_t *op);     /* "/v1/customers/{customer}" */
const char *sl_op_summary(const sl_op_t *op);  /* the description's first sentence */
const char *sl_op_response(const sl_op_t *op); /* "customer", "list of invoice", ... */
size_t sl_op_path_param_count(const sl_op_t *op);
const char *sl_op_path_param(const sl_op_t *op, size_t i); /* in path order */

/* Describes an operation as a new JSON object: name, method, path, summary, response,
 * path_params and params (each with name, type, required, enum, unsettable, description and,
 * for objects and arrays, their nested fields and items). The caller owns the result. */
json_t *sl_op_describe(const sl_op_t *op);

/* Checks `params` (an object of query or body parameters, path parameters excluded) the way
 * Stripe would: unknown names, missing required ones, wrong types, values outside an enum, an
 * array where an object is expected — at every level of nesting. Values may be JSON-typed or
 * strings holding the value's text (as the command line gives them). Returns SL_OK, or
 * SL_EINVAL with a message naming the operation, the parameter and what was expected. */
sl_err sl_op_validate(const sl_op_t *op, const json_t *params, char *err, size_t errlen);

/* A call ready for sl_client_request(): `req.path` has the path parameters filled in
 * (percent-encoded) and `req.params` holds the remaining parameters. */
typedef struct sl_op_call {
    sl_request_t req;
    char *path_buf; /* owned */
    json_t *params; /* owned */
} sl_op_call_t;

/* Builds a call of `op` from `params`: path parameters are taken from `params` by their names,
 * or from `id` for the last one (so `id=cus_123` fills `{customer}`), and removed; the rest is
 * validated unless `validate` is 0. On failure returns SL_EINVAL with a message in `err`. The
 * caller releases `out` with sl_op_call_cleanup() whatever the result. */
sl_err sl_op_call_init(sl_op_call_t *out, const sl_op_t *op, const json_t *params, int validate,
                       char *err, size_t errlen);
void sl_op_call_cleanup(sl_op_call_t *call);

/* --- The seeds' named actions ------------------------------------------------------------- */

/* Aliases, sorted by name. Names are lowercase words joined by '-' ("find-customer"). */
size_t sl_alias_count(void);
const sl_alias_t *sl_alias_at(size_t i);

/* Finds an alias, ignoring case and treating spaces and '_' as '-' ("Find Customer",
 * "find_customer" and "find-customer" are one); NULL if none. */
const sl_alias_t *sl_alias_find(const char *name);

const char *sl_alias_name(const sl_alias_t *a);   /* "find-customer" */
const char *sl_alias_title(const sl_alias_t *a);  /* "Find Customer" */
const char *sl_alias_source(const sl_alias_t *a); /* whose connector names it so */
const char *sl_alias_note(const sl_alias_t *a);   /* what it does beyond its operation, or "" */
const sl_op_t *sl_alias_op(const sl_alias_t *a);  /* the operation it calls */

/* Runs an operation or alias by name, as `sluice call NAME` does: resolves the name
 * (operation first, then alias), applies the alias's own behaviour (Find Customer by id or
 * email, Find Subscription by subscription or item id, Archive Price, Get Account with or
 * without an id), builds and validates the call, and makes it. `base` may supply the
 * idempotency key, Stripe-Account and Stripe-Version (its method, path and params are
 * ignored). Returns SL_ENOTFOUND with a message for an unknown name or a lookup that found
 * nothing, SL_EINVAL for bad parameters (nothing sent), else what sl_client_request() returns.
 * `resp` is always initialised; release it with sl_response_cleanup(). */
sl_err sl_action_call(sl_client_t *client, const char *name, const json_t *params, int validate,
                      const sl_request_t *base, sl_response_t *resp, char *err, size_t errlen);

/* --- Webhook event types ------------------------------------------------------------------ */

size_t sl_event_type_count(void);
const char *sl_event_type_name(size_t i);        /* sorted; NULL past the end */
const char *sl_event_type_description(size_t i); /* NULL past the end */

/* Whether `name` is one of the event types (or "*"). */
int sl_event_type_known(const char *name);

#ifdef __cplusplus
}
#endif
#endif
