/* libFuzzer: the SMTP server's replies as sluice reads them. libcurl speaks the protocol; what
 * sluice parses is the reply lines libcurl hands its header callback (multi-line replies, the
 * latest 4xx/5xx kept for the error message) and the scrubbing of the password out of that
 * message. The input is the password (first line), then the server's lines, each ending in
 * "\n" (with or without "\r"). The kept text is printable ASCII and NUL-terminated, a failure
 * reply starts with its code, scrubbing ends and only shortens, and a password without '*' is
 * gone from the message afterwards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/smtp.h"

static void printable(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    if (n == cap)
        abort(); /* not NUL-terminated */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
            abort();
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
    const unsigned char *end = data + len, *nl = memchr(data, '\n', len);
    size_t slen = nl ? (size_t)(nl - data) : len;
    if (slen > 256)
        return 0;
    char secret[257];
    memcpy(secret, data, slen);
    secret[slen] = '\0';
    sl_smtp_reply_t r;
    memset(&r, 0, sizeof r);
    const unsigned char *p = nl ? nl + 1 : end;
    while (p < end) {
        const unsigned char *e = memchr(p, '\n', (size_t)(end - p));
        size_t n = e ? (size_t)(e - p) + 1 : (size_t)(end - p);
        char *copy = malloc(n ? n : 1); /* the callback's line, exactly as long as it is */
        if (!copy)
            return 0;
        memcpy(copy, p, n);
        if (sl__smtp_on_reply(copy, 1, n, &r) != n)
            abort();
        free(copy);
        printable(r.text, sizeof r.text);
        printable(r.failure, sizeof r.failure);
        if (r.failure[0] && r.failure[0] != '4' && r.failure[0] != '5')
            abort();
        p += n;
    }
    long code = strtol(r.failure, NULL, 10);
    const char *why = sl__smtp_failure_reply(&r, code);
    if (r.failure[0] && strncmp(why, r.failure, 3) != 0 && code >= 100 && code < 1000)
        abort();
    char err[1024];
    snprintf(err, sizeof err, "the SMTP server at smtp://%s@mail.test refused the mail: %s", secret,
             why);
    size_t before = strlen(err);
    sl__smtp_scrub(err, secret);
    if (strlen(err) > before)
        abort();
    if (secret[0] && !strchr(secret, '*') && strstr(err, secret))
        abort(); /* the password is still there */
    return 0;
}
