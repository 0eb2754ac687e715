/* The compiled-in operation catalog (internal). The tables are generated into catalog_data.c by
 * tools/gen_catalog.py; strings are offsets into one blob so the tables need no relocations. */
#ifndef SLUICE_STRIPE_CATALOG_H
#define SLUICE_STRIPE_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#define SL_CAT_NONE 0xFFFFFFFFu

/* Kinds of value a parameter accepts (a bit set). */
enum {
    SL_KIND_STRING = 1,
    SL_KIND_INTEGER = 2,
    SL_KIND_NUMBER = 4,
    SL_KIND_BOOLEAN = 8,
    SL_KIND_OBJECT = 16,
    SL_KIND_ARRAY = 32,
};

/* Shape flags. */
enum {
    SL_SHAPE_OPEN = 1,     /* an object taking any keys, such as metadata */
    SL_SHAPE_EMPTY_OK = 2, /* "" is accepted: Stripe's way to unset a field */
};

typedef struct sl_cat_shape {
    uint8_t kinds;
    uint8_t flags;
    uint16_t nfields;
    uint16_t nenums;
    uint32_t fields;  /* first of nfields in sl__cat_fields */
    uint32_t enums;   /* first of nenums in sl__cat_enums */
    uint32_t items;   /* shape of array items (of an open object's values), or SL_CAT_NONE */
    uint16_t max_len; /* a string's most characters (maxLength), 0 for no limit */
} sl_cat_shape_t;

typedef struct sl_cat_field {
    uint32_t name; /* string offsets */
    uint32_t desc;
    uint32_t shape;
    uint8_t required;
} sl_cat_field_t;

typedef struct sl_cat_op {
    uint32_t name;
    uint8_t method; /* 0 GET, 1 POST, 2 DELETE */
    uint32_t path;
    uint32_t summary;
    uint32_t response;
    uint32_t path_fields; /* first of npath in sl__cat_fields, in path order */
    uint8_t npath;
    uint32_t params; /* shape of the query or body parameters (an object) */
} sl_cat_op_t;

typedef struct sl_cat_event {
    uint32_t name;
    uint32_t desc;
} sl_cat_event_t;

extern const char sl__cat_api_version[];
extern const char sl__cat_str[];
extern const sl_cat_shape_t sl__cat_shapes[];
extern const sl_cat_field_t sl__cat_fields[];
extern const uint32_t sl__cat_enums[];
extern const sl_cat_op_t sl__cat_ops[]; /* sorted by name (strcmp) */
extern const size_t sl__cat_nops;
extern const sl_cat_event_t sl__cat_events[]; /* sorted by name */
extern const size_t sl__cat_nevents;

#define SL_CAT_STR(off) (sl__cat_str + (off))

#include <jansson.h>

#include "sluice/error.h"

struct sl_op;
/* A copy of `params` (valid for the operation) with each value given the JSON type its
 * parameter declares: "12" for an integer becomes 12, "true" for a boolean true, "" where Stripe
 * allows it to unset a field becomes null, objects with numeric keys become arrays. Values of
 * free-form objects (metadata) stay strings. Returns a new reference, NULL when out of memory. */
json_t *sl__op_coerce(const struct sl_op *op, const json_t *params);

/* sl_op_validate() for parameters some of whose values are not known yet: a value for which
 * opaque(value) is true (a template a flow fills in at run time) stands for any valid value of
 * its parameter. When not NULL, `where` receives the parameter at fault as the messages write it
 * ("metadata[plan]", "items[0][price]"; "" when it is about the whole object). */
sl_err sl__op_validate_open(const struct sl_op *op, const json_t *params,
                            int (*opaque)(const json_t *v), char *where, size_t wherelen, char *err,
                            size_t errlen);

/* Checks a call of the operation or named action `name` with `params` as sl_action_call() does
 * before it sends anything (the alias's own handling, the path parameters, then
 * sl__op_validate_open() with `opaque`), without a client and without sending. Returns SL_OK,
 * SL_ENOTFOUND for an unknown name, or SL_EINVAL with err (and `where`, see above). */
sl_err sl__action_check(const char *name, const json_t *params, int (*opaque)(const json_t *v),
                        char *where, size_t wherelen, char *err, size_t errlen);

#endif
