/* The expression and template language of flow files (internal).
 *
 * An expression reads the run's context with JSONPath ($.trigger.data.object.id,
 * $.steps.fetch.value.items[*].price, $..id, $.lines[?(@.amount > 100)]) and combines values
 * with a few operators (?? || && ! == != < <= > >= + - * / %) and functions (exists, length,
 * lower, upper, contains, join, string, number, default, now, json). A template is a string with
 * {{ expr }} parts. The comment at the top of expr.c gives the grammar.
 *
 * Errors go into the caller's buffer `err` (`errlen` bytes, may be NULL/0): syntax problems as
 * "column N: ..." (1-based byte columns, counted in the whole template for template parts), a
 * missing member as "$.a.b: no `b` in $.a". Every function is reentrant and keeps no state.
 */
#ifndef SLUICE_FLOW_EXPR_H
#define SLUICE_FLOW_EXPR_H

#include <stddef.h>

#include <jansson.h>

#include "sluice/error.h"

/* Evaluates expression `expr` against `ctx` (a JSON object, e.g. {"trigger": {...},
 * "steps": {...}, "item": ..., "index": 0, "input": {...}}). Returns a new reference the caller
 * owns and that shares nothing with ctx, or NULL with err set (err names the path or the syntax
 * problem and the column). ctx is only read. */
json_t *sl__expr_eval(const char *expr, const json_t *ctx, char *err, size_t errlen);

/* Syntax check only (no ctx): SL_OK, or SL_EINVAL with err (message and 1-based column).
 * Unknown functions and wrong argument counts are syntax errors. */
sl_err sl__expr_check(const char *expr, char *err, size_t errlen);

/* JSON truthiness used by if/filter: false, null, 0, "", [] and {} are false (and so is a NULL
 * pointer); everything else is true. */
int sl__expr_truthy(const json_t *v);

/* Renders a template string with {{ expr }} parts. A string that is exactly one {{ expr }}
 * (surrounding whitespace inside the braces allowed) yields the value with its JSON type;
 * otherwise each value is spliced as text (strings raw, null as "", numbers/bools/objects/arrays
 * as compact JSON). A string without {{ is returned as a JSON string unchanged. Returns a new
 * reference, or NULL with err set. */
json_t *sl__template_render(const char *tmpl, const json_t *ctx, char *err, size_t errlen);

/* Syntax check of every {{ expr }} part of `tmpl` (an unterminated {{ included): SL_OK or
 * SL_EINVAL with err. */
sl_err sl__template_check(const char *tmpl, char *err, size_t errlen);

/* Renders every string (values only, not keys) inside any JSON value, recursively; other values
 * are copied. Returns a new reference, or NULL with err set, prefixed with where the failing
 * string is ("/with/body: ..."). */
json_t *sl__template_render_json(const json_t *v, const json_t *ctx, char *err, size_t errlen);

/* sl__template_check for every string value inside `v`; err is prefixed like the above. */
sl_err sl__template_check_json(const json_t *v, char *err, size_t errlen);

/* A path from the root that an expression reads, for the checks made before anything runs:
 * its first two members when they are names ($.steps.get-customer.email and
 * $['steps']['get-customer'] give "steps" and "get-customer"; `second` is NULL when the second
 * segment is not a name, or there is none) and its 1-based column in what the user wrote. The
 * strings are valid only during the call. */
typedef void (*sl_expr_ref_fn)(void *ctx, const char *first, const char *second, size_t col);

/* Calls fn for every path from the root ($...) that `expr` reads, in the order written, those
 * inside filters and function arguments included. An expression that does not parse calls
 * nothing: sl__expr_check reports it. */
void sl__expr_refs(const char *expr, sl_expr_ref_fn fn, void *ctx);

/* sl__expr_refs for every {{ expr }} part of a template (nothing after a part that does not
 * parse). */
void sl__template_refs(const char *tmpl, sl_expr_ref_fn fn, void *ctx);

#endif
