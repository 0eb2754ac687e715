/* Growable byte buffers with a hard size cap (internal). */
#ifndef SLUICE_CORE_BUF_H
#define SLUICE_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "sluice/error.h"

/* A buffer that always keeps a NUL after its `len` bytes once anything was appended.
 * `max` bounds `len`: an append past it fails with SL_ETOOBIG and leaves the buffer as it was. */
typedef struct sl_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max;
} sl_buf_t;

/* Initialises an empty buffer holding at most `max` bytes (0 means no cap). */
void sl__buf_init(sl_buf_t *b, size_t max);

/* Frees the buffer's memory and leaves it empty and reusable. */
void sl__buf_cleanup(sl_buf_t *b);

/* Drops the contents but keeps the memory. */
void sl__buf_reset(sl_buf_t *b);

/* Makes room for `extra` more bytes at once (SL_ETOOBIG past the cap). */
sl_err sl__buf_reserve(sl_buf_t *b, size_t extra);

sl_err sl__buf_append(sl_buf_t *b, const void *p, size_t n);
sl_err sl__buf_puts(sl_buf_t *b, const char *s);
sl_err sl__buf_putc(sl_buf_t *b, char c);
sl_err sl__buf_printf(sl_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Moves the contents out: returns a NUL-terminated heap string the caller frees (an empty
 * string when nothing was appended; NULL only when out of memory). The buffer is left empty. */
char *sl__buf_take(sl_buf_t *b);

#endif
