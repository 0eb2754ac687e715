#include "core/rand.h"

#include <pthread.h>
#include <stdatomic.h>
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

/* Random bytes drawn a kilobyte at a time per thread (a token per request made RAND_bytes a
 * tenth of the emulator's time); a byte is cleared once handed out, and a forked child draws
 * its own (no getpid() per byte: a system call). */
static _Thread_local unsigned char pool[1024];
static _Thread_local size_t pool_left;
static _Thread_local unsigned pool_forks;
static atomic_uint forks; /* raised in a forked child, whose pools are then drawn anew */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
    atomic_fetch_add(&forks, 1);
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, on_fork_child);
}

static sl_err pool_byte(unsigned char *out)
{
    pthread_once(&atfork_once, register_atfork);
    unsigned gen = atomic_load(&forks);
    if (!pool_left || pool_forks != gen) {
        if (sl__rand_bytes(pool, sizeof pool))
            return SL_EINTERNAL;
        pool_left = sizeof pool;
        pool_forks = gen;
    }
    unsigned char *b = &pool[sizeof pool - pool_left--];
    *out = *b;
    *b = 0;
    return SL_OK;
}

sl_err sl__rand_token(char *out, size_t n)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const unsigned limit = 256 - 256 % (sizeof alphabet - 1); /* no bias: 248 = 4 x 62 */
    if (n > 64)
        return SL_EINTERNAL;
    for (size_t i = 0; i < n;) {
        unsigned char c;
        if (pool_byte(&c))
            return SL_EINTERNAL;
        if (c < limit)
            out[i++] = alphabet[c % (sizeof alphabet - 1)];
    }
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
