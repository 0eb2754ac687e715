#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

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
