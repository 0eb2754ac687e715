/* Validating a JSON object without building it, and picking out top-level members (internal). */
#ifndef SLUICE_CORE_JSCAN_H
#define SLUICE_CORE_JSCAN_H

#include <stddef.h>

#include "sluice/error.h"

typedef enum sl_jscan_kind {
    SL_JSCAN_ABSENT,
    SL_JSCAN_STRING,         /* str/len: the raw contents, no escapes in them */
    SL_JSCAN_ESCAPED_STRING, /* str/len: raw contents holding escapes (not decoded) */
    SL_JSCAN_INTEGER,        /* integer */
    SL_JSCAN_OTHER,          /* present, some other kind of value; str/len: its text when it is
                              * an object, an array, a literal or a number (not an integer) */
} sl_jscan_kind;

typedef struct sl_jscan_field {
    const char *name; /* in: the member to find */
    sl_jscan_kind kind;
    const char *str; /* borrowed from the document */
    size_t len;
    long long integer;
} sl_jscan_field_t;

/* Checks that buf[0..len) is exactly one JSON object, valid as jansson's json_loadb() would
 * find it (UTF-8, escapes, no \u0000, integers within 64 bits, finite reals, nesting up to 256),
 * and fills the named top-level fields (the last occurrence wins). It is stricter than jansson
 * in two ways only: a NUL byte anywhere is refused (jansson's reader skips some), and so is
 * nesting past 256 (jansson allows 2048). No allocation for documents
 * whose numbers are under 512 characters. SL_EPARSE when invalid. */
sl_err sl__jscan_object(const char *buf, size_t len, sl_jscan_field_t *fields, size_t nfields);

#endif
