/* Stripe-Signature: parsing, HMAC-SHA256, constant-time comparison, tolerance. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sluice/webhook.h"
#include "core/hex.h"

const char *sl_webhook_reason_name(sl_webhook_reason r)
{
    switch (r) {
    case SL_WEBHOOK_OK:
        return "ok";
    case SL_WEBHOOK_NO_HEADER:
        return "missing_signature_header";
    case SL_WEBHOOK_MALFORMED:
        return "malformed_signature_header";
    case SL_WEBHOOK_TIMESTAMP:
        return "timestamp_outside_tolerance";
    case SL_WEBHOOK_NO_MATCH:
        return "no_matching_signature";
    case SL_WEBHOOK_NO_SECRET:
        return "no_webhook_secret";
    }
    return "unknown";
}

/* HMAC-SHA256 of "<t>.<body>" keyed with the secret. */
static int webhook_mac(const char *secret, const char *t, size_t tlen, const char *body, size_t len,
                       unsigned char mac[32])
{
    int ok = 0;
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = m ? EVP_MAC_CTX_new(m) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    size_t outlen = 0;
    if (ctx && EVP_MAC_init(ctx, (const unsigned char *)secret, strlen(secret), params) &&
        EVP_MAC_update(ctx, (const unsigned char *)t, tlen) &&
        EVP_MAC_update(ctx, (const unsigned char *)".", 1) &&
        EVP_MAC_update(ctx, (const unsigned char *)body, len) &&
        EVP_MAC_final(ctx, mac, &outlen, 32) && outlen == 32)
        ok = 1;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(m);
    return ok;
}

/* The next entry of a "t=1,v1=abc,v1=def,v0=..." header from *p on: its start and length
 * (without surrounding spaces), or NULL at the end. */
static const char *next_entry(const char **p, size_t *n)
{
    const char *s = *p;
    while (*s == ' ' || *s == ',')
        s++;
    if (!*s)
        return NULL;
    size_t k = strcspn(s, ",");
    *p = s + k;
    while (k && s[k - 1] == ' ')
        k--;
    *n = k;
    return s;
}

/* Whether the entry is a v1 whose 32 bytes decode into sig. Not hex: it can match nothing. */
static int entry_v1(const char *e, size_t n, unsigned char sig[32])
{
    return n == 3 + 64 && strncmp(e, "v1=", 3) == 0 && sl__hex_decode(e + 3, sig, 32) == 0;
}

sl_webhook_reason sl_webhook_verify(const char *header, const char *body, size_t len,
                                    const char *const *secrets, size_t nsecrets, long tolerance,
                                    time_t now)
{
    if (!header)
        return SL_WEBHOOK_NO_HEADER;
    if (strnlen(header, SL_WEBHOOK_MAX_HEADER + 1) > SL_WEBHOOK_MAX_HEADER)
        return SL_WEBHOOK_MALFORMED;
    const char *t = NULL;
    size_t tlen = 0, nsigs = 0;
    unsigned char sig[32];

    /* Unknown schemes are ignored, as Stripe's libraries do; the last t= counts. */
    const char *p = header;
    size_t n = 0;
    for (const char *e = next_entry(&p, &n); e; e = next_entry(&p, &n)) {
        if (n > 2 && e[0] == 't' && e[1] == '=') {
            t = e + 2;
            tlen = n - 2;
        } else if (entry_v1(e, n, sig)) {
            nsigs++;
        }
    }
    if (!t || tlen > 15 || !nsigs)
        return SL_WEBHOOK_MALFORMED;
    long long ts = 0;
    for (size_t i = 0; i < tlen; i++) {
        if (!isdigit((unsigned char)t[i]))
            return SL_WEBHOOK_MALFORMED;
        ts = ts * 10 + (t[i] - '0');
    }
    if (tolerance > 0 && (ts < (long long)now - tolerance || ts > (long long)now + tolerance))
        return SL_WEBHOOK_TIMESTAMP;

    int have_secret = 0, match = 0;
    for (size_t s = 0; s < nsecrets; s++) {
        if (!secrets[s] || !*secrets[s])
            continue;
        have_secret = 1;
        unsigned char mac[32];
        if (!webhook_mac(secrets[s], t, tlen, body, len, mac))
            continue;
        /* Compare against every v1 (the header's length bounds them) without stopping early. */
        p = header;
        for (const char *e = next_entry(&p, &n); e; e = next_entry(&p, &n))
            if (entry_v1(e, n, sig))
                match |= CRYPTO_memcmp(mac, sig, 32) == 0;
    }
    if (!have_secret)
        return SL_WEBHOOK_NO_SECRET;
    return match ? SL_WEBHOOK_OK : SL_WEBHOOK_NO_MATCH;
}

sl_err sl_webhook_sign(const char *secret, time_t t, const char *body, size_t len, char *out,
                       size_t outlen)
{
    char ts[32];
    int n = snprintf(ts, sizeof ts, "%lld", (long long)t);
    unsigned char mac[32];
    if (!secret || outlen < 80 || !webhook_mac(secret, ts, (size_t)n, body, len, mac))
        return SL_EINVAL;
    int k = snprintf(out, outlen, "t=%s,v1=", ts);
    for (size_t i = 0; i < 32; i++)
        k += snprintf(out + k, outlen - (size_t)k, "%02x", mac[i]);
    return SL_OK;
}
