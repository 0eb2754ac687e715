/* Hexadecimal digits (internal). */
#ifndef SLUICE_CORE_HEX_H
#define SLUICE_CORE_HEX_H

#include <stddef.h>

/* The value of one hex digit (either case), or -1. */
int sl__hex_val(char c);

/* Decodes exactly 2*n hex digits from s into out[0..n); returns 0, or -1 when a character is
 * not a hex digit (out is then partly written). */
int sl__hex_decode(const char *s, unsigned char *out, size_t n);

/* Writes 2*n lowercase hex digits of in[0..n) and a NUL into out. */
void sl__hex_encode(const unsigned char *in, size_t n, char *out);

#endif
