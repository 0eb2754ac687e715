/* The sync tables: one for every object type Stripe lists, generated from the spec by
 * tools/gen_sync.py into tables_data.c (internal to src/sync/). */
#ifndef SLUICE_SYNC_TABLES_H
#define SLUICE_SYNC_TABLES_H

#include <stddef.h>

enum { SL_SYNC_TEXT = 1, SL_SYNC_INT = 2, SL_SYNC_REAL = 3, SL_SYNC_BOOL = 4 };

/* A typed column: a top-level scalar field of the object (an expandable reference as its id). */
typedef struct sl_sync_col {
    const char *name;
    int kind;    /* SL_SYNC_* */
    int indexed; /* a foreign-key-like column (customer, invoice, price, ...) */
} sl_sync_col_t;

typedef struct sl_sync_table {
    const char *name;       /* "customers", "invoice_line_items" */
    const char *object;     /* the object's `object`: "customer", "line_item" */
    const char *list;       /* "/v1/customers", "/v1/invoices/{invoice}/lines" */
    const char *retrieve;   /* "/v1/customers/{customer}", or "" */
    const char *parent;     /* the table whose objects embed these ("invoices"), or "" */
    const char *parent_col; /* the column naming the parent ("invoice"), or "" */
    int created_filter;     /* the list takes created[gte|lte] */
    int listable;           /* a top-level list needing no parameters */
    const sl_sync_col_t *cols;
    size_t ncols;
} sl_sync_table_t;

extern const sl_sync_table_t sl__sync_tables[];
extern const size_t sl__sync_ntables;

#endif
