/* Tables for people: each column as wide as its widest cell, so a long name never shifts the
 * columns after it. Widths count characters, not bytes (UTF-8 continuation bytes take none). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static size_t columns_of(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

void sl__cli_table(const char *const *headers, size_t ncols, const json_t *rows)
{
    size_t *w = calloc(ncols, sizeof *w);
    if (!w)
        return;
    for (size_t c = 0; c < ncols; c++)
        w[c] = columns_of(headers[c]);
    for (size_t r = 0; r < json_array_size(rows); r++)
        for (size_t c = 0; c < ncols; c++) {
            size_t n =
                columns_of(json_string_value(json_array_get(json_array_get(rows, r), c)) ?: "");
            if (n > w[c])
                w[c] = n;
        }
    for (size_t r = 0; r <= json_array_size(rows); r++)
        for (size_t c = 0; c < ncols; c++) {
            const char *cell =
                r ? json_string_value(json_array_get(json_array_get(rows, r - 1), c)) ?: ""
                  : headers[c];
            if (c + 1 == ncols)
                printf("%s\n", cell);
            else
                printf("%s%*s  ", cell, (int)(w[c] - columns_of(cell)), "");
        }
    free(w);
}
