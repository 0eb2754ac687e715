/* Opening a store by its URI: the one place that knows every backend. Kept apart from store.c,
 * whose row helpers the backends use, so that no two files of the store import each other. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/postgres.h"
#include "store/store.h"

sl_err sl_store_open_pool(const char *uri, int pool, sl_store_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (strncmp(uri, "sqlite:", 7) == 0 && uri[7])
        return sl__sqlite_open(uri + 7, out, err, errlen);
    if (strncmp(uri, "postgres://", 11) == 0 || strncmp(uri, "postgresql://", 13) == 0)
        return sl__postgres_open(uri, pool > 0 ? pool : 8, out, err, errlen);
    char *shown = sl__pg_mask_uri(uri); /* a mistyped scheme may still carry a password */
    snprintf(err, errlen, "store `%s` is neither sqlite:PATH nor postgres://USER@HOST/DB",
             shown ? shown : uri);
    free(shown);
    return SL_EINVAL;
}

sl_err sl_store_open(const char *uri, sl_store_t **out, char *err, size_t errlen)
{
    return sl_store_open_pool(uri, 0, out, err, errlen);
}

void sl_store_close(sl_store_t *s)
{
    if (s)
        s->ops->close(s);
}
