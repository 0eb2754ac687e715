#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

sl_err sl_store_open(const char *uri, sl_store_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (strncmp(uri, "sqlite:", 7) == 0 && uri[7])
        return sl__sqlite_open(uri + 7, out, err, errlen);
    snprintf(err, errlen, "store `%s` is not sqlite:PATH", uri);
    return SL_EINVAL;
}

void sl_store_close(sl_store_t *s)
{
    if (s)
        s->ops->close(s);
}

void sl_conn_row_cleanup(sl_conn_row_t *row)
{
    free(row->key_sealed);
    free(row->secret_sealed);
    free(row->old_secret_sealed);
    memset(row, 0, sizeof *row);
}

void sl_event_row_cleanup(sl_event_row_t *row)
{
    free(row->payload);
    memset(row, 0, sizeof *row);
}
