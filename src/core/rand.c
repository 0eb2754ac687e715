#include "core/rand.h"

#include <stdio.h>
#include <time.h>

#include <openssl/rand.h>

#include "core/hex.h"

sl_err sl__rand_bytes(void *out, size_t n)
{
    if (n > (size_t)2147483647 || RAND_bytes(out, (int)n) != 1)
        return SL_EINTERNAL;
    return SL_OK;
}

sl_err sl__rand_hex(char *out, size_t bytes)
{
    unsigned char raw[64];
    if (bytes > sizeof raw || sl__rand_bytes(raw, bytes))
        return SL_EINTERNAL;
    sl__hex_encode(raw, bytes, out);
    return SL_OK;
}

sl_err sl__rand_token(char *out, size_t n)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned char raw[64];
    if (n > sizeof raw || sl__rand_bytes(raw, n))
        return SL_EINTERNAL;
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[raw[i] % (sizeof alphabet - 1)];
    out[n] = '\0';
    return SL_OK;
}

sl_err sl__rand_id(const char *prefix, char *out, size_t n)
{
    char tok[16];
    sl_err rc = sl__rand_token(tok, 14);
    if (rc)
        return rc;
    snprintf(out, n, "%s_%s", prefix, tok);
    return SL_OK;
}

sl_err sl__uuid4(char out[37])
{
    unsigned char b[16];
    if (sl__rand_bytes(b, sizeof b))
        return SL_EINTERNAL;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
    return SL_OK;
}

uint32_t sl__rand_u32(void)
{
    uint32_t r = 0;
    if (sl__rand_bytes(&r, sizeof r)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        r = (uint32_t)ts.tv_nsec;
    }
    return r;
}
