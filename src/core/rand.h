/* Randomness (internal): every id, token and nonce comes from OpenSSL's CSPRNG through here.
 * There is no weaker fallback: when the system has no randomness to give, these fail. */
#ifndef SLUICE_CORE_RAND_H
#define SLUICE_CORE_RAND_H

#include <stddef.h>
#include <stdint.h>

#include "sluice/error.h"

/* Fills out[0..n) with random bytes. SL_EINTERNAL when none are to be had. */
sl_err sl__rand_bytes(void *out, size_t n);

/* Writes 2*bytes lowercase hex digits of randomness and a NUL into out (bytes <= 64). */
sl_err sl__rand_hex(char *out, size_t bytes);

/* Writes n random characters from [a-zA-Z0-9] and a NUL into out (n <= 64): Stripe-style ids. */
sl_err sl__rand_token(char *out, size_t n);

/* Writes PREFIX_ + a 14-character token into out (Stripe's id shape, "cus_Abc..."), cut to n. */
sl_err sl__rand_id(const char *prefix, char *out, size_t n);

/* A random version-4 UUID (36 characters and a NUL). */
sl_err sl__uuid4(char out[37]);

/* A random 32-bit number for jitter; the time's nanoseconds when the CSPRNG fails (jitter needs
 * no secrecy, so this one never fails). */
uint32_t sl__rand_u32(void);

#endif
