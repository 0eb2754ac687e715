/* Sending one email over SMTP with libcurl, for the `email` step of workflows (internal). */
#ifndef SLUICE_NET_SMTP_H
#define SLUICE_NET_SMTP_H

#include <stddef.h>
#include <time.h>

#include "sluice/error.h"

typedef struct sl_smtp_config {
    const char *url;      /* "smtp://host:port" (plain or STARTTLS) or "smtps://host:port" (implicit
                             TLS); no credentials in it, no query */
    const char *username; /* NULL: no AUTH */
    const char *password; /* never logged, never in err */
    const char *tls;      /* "none" | "starttls" (required, CURLUSESSL_ALL) | "tls" (implied by
                             smtps://); NULL: "starttls" for port 587, "tls" for smtps, else "none" */
    long timeout_ms;      /* whole send; 0: 30000 */
} sl_smtp_config_t;

typedef struct sl_mail {
    const char *from;      /* "Name <addr@x>" or "addr@x" */
    const char *const *to; /* NULL-terminated list; each "Name <addr>" or "addr" */
    const char *subject;
    const char *text;     /* plain-text body, may be NULL if html given */
    const char *html;     /* HTML body, may be NULL */
    const char *reply_to; /* may be NULL */
} sl_mail_t;

/* Room for the Message-ID the functions below write: "<" 32 hex digits "@sluice>" and a NUL. */
#define SL_SMTP_MESSAGE_ID_MAX 48

/* Validates the config and the mail without sending anything: addresses (one @, no spaces,
 * printable ASCII in the addr-spec, "Name <addr>" form ok), no CR/LF in any header value (that
 * would let a value add headers of its own), UTF-8 text, a text or an HTML body, a URL and TLS
 * mode that agree. SL_EINVAL with err naming the field; values that hold control characters
 * are never echoed. */
sl_err sl__smtp_check(const sl_smtp_config_t *cfg, const sl_mail_t *mail, char *err, size_t errlen);

/* Sends the mail (all recipients or none). The message: RFC 5322 headers (non-ASCII subject and
 * names as RFC 2047 encoded-words, folded to lines of at most 78 characters), then a
 * multipart/mixed body whose one part is the text, the HTML, or both as a multipart/alternative
 * (text first); bodies in base64, their line ends made CRLF (MIME's canonical form). Writes the
 * Message-ID it used, fresh for each mail, into message_id (if not NULL; idlen at least
 * SL_SMTP_MESSAGE_ID_MAX). Returns
 *   SL_OK        the server accepted the message;
 *   SL_EINVAL    bad input, nothing sent;
 *   SL_ENETWORK  the server could not be reached, dropped the connection, failed the TLS
 *                handshake or answered 4xx (transient: worth retrying);
 *   SL_ETIMEOUT  no complete exchange within timeout_ms (the mail may or may not have gone);
 *   SL_EREFUSED  a 5xx permanent refusal (a recipient, the login, the message) or no STARTTLS
 *                when it is required: err carries the server's reply line;
 *   SL_ENOMEM, SL_EINTERNAL.
 * err never holds the password. */
sl_err sl__smtp_send(const sl_smtp_config_t *cfg, const sl_mail_t *mail, char *message_id,
                     size_t idlen, char *err, size_t errlen);

/* sl__smtp_send with the Date header set to `now` rather than the current time (for tests). */
sl_err sl__smtp_send_at(const sl_smtp_config_t *cfg, const sl_mail_t *mail, time_t now,
                        char *message_id, size_t idlen, char *err, size_t errlen);

/* --- The server's replies (exposed for tests and fuzzing) ------------------------------------ */

#define SL_SMTP_REPLY_MAX 512

/* The server's replies, which libcurl hands to the header callback line by line. A failed
 * transaction is followed by QUIT inside curl_easy_perform, so the reply that explains the
 * failure is the latest 4xx or 5xx one, not the latest. Start from all zeroes. */
typedef struct sl_smtp_reply {
    char text[SL_SMTP_REPLY_MAX];    /* the reply being read, all its lines */
    char failure[SL_SMTP_REPLY_MAX]; /* the latest complete 4xx or 5xx reply */
    int done; /* the last line ("250 ..." not "250-...") came: the next line starts anew */
} sl_smtp_reply_t;

/* libcurl's header callback: adds one reply line (size * n bytes at p, its CRLF included or
 * not) to the sl_smtp_reply_t at ctx, as printable ASCII, cut to fit. Returns size * n. */
size_t sl__smtp_on_reply(char *p, size_t size, size_t n, void *ctx);

/* The complete 4xx/5xx reply whose code is `code`, or "" when none was seen. */
const char *sl__smtp_failure_reply(const sl_smtp_reply_t *r, long code);

/* Replaces each occurrence of `secret` in s (NUL-terminated) by at most three '*', in place. */
void sl__smtp_scrub(char *s, const char *secret);

#endif
