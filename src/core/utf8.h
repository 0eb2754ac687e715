/* UTF-8 (internal): well-formed as jansson takes it — no overlong forms, no surrogates,
 * nothing past U+10FFFF. */
#ifndef SLUICE_CORE_UTF8_H
#define SLUICE_CORE_UTF8_H

#include <stddef.h>

/* The length of the multi-byte sequence at p (p[0] >= 0x80, `avail` bytes readable), 0 if it
 * is not a well-formed one. */
size_t sl__utf8_seq(const unsigned char *p, size_t avail);

/* The offset of the first byte of s[0..len) that is not well-formed UTF-8; len if none. */
size_t sl__utf8_bad_at(const char *s, size_t len);

/* Whether the NUL-terminated s is well-formed UTF-8. */
int sl__utf8_valid(const char *s);

/* Ends s (NUL-terminated) before its first byte that is not well-formed UTF-8, such as the
 * half of a character a truncating snprintf left at its end; returns the new length. */
size_t sl__utf8_clip(char *s);

/* Replaces, in place, each byte of s (NUL-terminated) that is not part of a well-formed UTF-8
 * character by '?': text from elsewhere (a library's message quoting raw input) made fit for
 * JSON. */
void sl__utf8_mend(char *s);

/* Writes code point cp (<= U+10FFFF) as UTF-8 into out; returns its length (1 to 4). */
size_t sl__utf8_put(unsigned cp, char out[4]);

#endif
