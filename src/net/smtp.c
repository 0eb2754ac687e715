/* Sending one email over SMTP. libcurl speaks SMTP, STARTTLS and AUTH and writes the MIME body
 * (curl_mime, base64); the mail's headers are written here, because libcurl sends the ones it is
 * given as they are. A curl handle per send: mail is rare enough that keeping connections open
 * would only hold sockets for nothing. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "core/buf.h"
#include "core/rand.h"
#include "core/utf8.h"
#include "net/smtp.h"

#define SMTP_DEFAULT_TIMEOUT_MS 30000L
/* RFC 5322 asks for lines of at most 78 characters (998 is the hard limit). */
#define SMTP_LINE 78
/* An encoded-word holds at most 75 characters: 45 bytes make 60 base64 ones plus the 12 of
 * "=?UTF-8?B?" and "?=". */
#define SMTP_WORD_BYTES 45

static pthread_once_t smtp_once = PTHREAD_ONCE_INIT;
static CURLcode smtp_global_rc;

static void smtp_global_init(void)
{
    smtp_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* --- Checks --------------------------------------------------------------------------------- */

static int has_line_break(const char *s)
{
    return strpbrk(s, "\r\n") != NULL;
}

/* Control characters other than TAB (CR and LF included). */
static int has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return 1;
    return 0;
}

/* Checks a header value that the message carries as text (the subject, an address). */
static sl_err text_check(const char *field, const char *v, char *err, size_t errlen)
{
    if (has_line_break(v)) {
        set_err(err, errlen,
                "%s contains a line break (CR or LF): a header value must be one line, or it "
                "could add headers of its own",
                field);
        return SL_EINVAL;
    }
    if (has_control(v)) {
        set_err(err, errlen, "%s contains a control character", field);
        return SL_EINVAL;
    }
    if (!sl__utf8_valid(v)) {
        set_err(err, errlen, "%s is not valid UTF-8", field);
        return SL_EINVAL;
    }
    return SL_OK;
}

/* A mailbox split into its parts, pointing into the string it came from. */
typedef struct mailbox {
    const char *name; /* display name as written (may be a quoted-string); name_len 0: none */
    size_t name_len;
    const char *spec; /* addr-spec: local@domain */
    size_t spec_len;
} mailbox_t;

static int is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

/* Why the addr-spec s[0..n) is not one we send to, or NULL when it is fine. Deliberately
 * narrower than RFC 5321 (no quoted local parts, no address literals, ASCII only): what is
 * left is what people actually type, and none of it can confuse a header or an SMTP command. */
static const char *spec_problem(const char *s, size_t n)
{
    if (n == 0)
        return "is empty";
    const char *at = NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '@') {
            if (at)
                return "has more than one @";
            at = s + i;
        } else if (is_wsp((char)c)) {
            return "has a space in the address";
        } else if (c >= 0x80) {
            return "has a non-ASCII character in the address (not supported)";
        } else if (strchr("<>()[]\\,;:\"", c)) {
            return "has a character not allowed in an address";
        }
    }
    if (!at)
        return "has no @";
    size_t local = (size_t)(at - s), domain = n - local - 1;
    if (local == 0 || domain == 0)
        return "has nothing before or after the @";
    if (at[1] == '.' || s[n - 1] == '.' || memmem(at, domain + 1, "..", 2))
        return "has a malformed domain";
    return NULL;
}

/* Parses "addr@x", "<addr@x>" or "Name <addr@x>". */
static sl_err mailbox_parse(const char *field, const char *v, mailbox_t *m, char *err,
                            size_t errlen)
{
    memset(m, 0, sizeof *m);
    if (!v || !*v) {
        set_err(err, errlen, "%s is missing", field);
        return SL_EINVAL;
    }
    sl_err rc = text_check(field, v, err, errlen);
    if (rc)
        return rc;
    const char *b = v, *e = v + strlen(v);
    while (b < e && is_wsp(*b))
        b++;
    while (e > b && is_wsp(e[-1]))
        e--;
    const char *why = NULL;
    if (e > b && e[-1] == '>') {
        const char *lt = e - 1;
        while (lt > b && *lt != '<')
            lt--;
        if (*lt != '<') {
            why = "has a '>' without a '<'";
        } else {
            m->spec = lt + 1;
            m->spec_len = (size_t)(e - 1 - m->spec);
            const char *ne = lt;
            while (ne > b && is_wsp(ne[-1]))
                ne--;
            m->name = b;
            m->name_len = (size_t)(ne - b);
            /* Angle brackets in the name would make the header ambiguous to readers. */
            if (memchr(m->name, '<', m->name_len) || memchr(m->name, '>', m->name_len))
                why = "has more than one <...>";
        }
    } else {
        m->spec = b;
        m->spec_len = (size_t)(e - b);
    }
    if (!why)
        why = spec_problem(m->spec, m->spec_len);
    if (why) {
        set_err(err, errlen, "%s `%.200s` %s", field, v, why);
        return SL_EINVAL;
    }
    return SL_OK;
}

static sl_err url_check(const sl_smtp_config_t *cfg, int *implicit_tls, long *port, char *err,
                        size_t errlen)
{
    sl_err rc = SL_EINVAL;
    CURLU *u = NULL;
    char *scheme = NULL, *host = NULL, *user = NULL, *query = NULL, *fragment = NULL,
         *portstr = NULL;
    if (!cfg->url || !*cfg->url) {
        set_err(err, errlen, "url is missing (smtp://host:port or smtps://host:port)");
        return SL_EINVAL;
    }
    if (has_control(cfg->url) || strpbrk(cfg->url, " \t")) {
        set_err(err, errlen, "url contains a space or a control character");
        return SL_EINVAL;
    }
    u = curl_url();
    if (!u)
        return SL_ENOMEM;
    if (curl_url_set(u, CURLUPART_URL, cfg->url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0]) {
        set_err(err, errlen, "url is not an smtp:// or smtps:// address with a host");
        goto out;
    }
    /* A password in the URL would be echoed by every message that names the server. */
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
        set_err(err, errlen, "url holds credentials: give them as username and password");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK ||
        curl_url_get(u, CURLUPART_FRAGMENT, &fragment, 0) == CURLUE_OK) {
        set_err(err, errlen, "url `%.200s` has a query or a fragment", cfg->url);
        goto out;
    }
    if (strcasecmp(scheme, "smtp") && strcasecmp(scheme, "smtps")) {
        set_err(err, errlen, "url `%.200s` is not smtp:// or smtps://", cfg->url);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_PORT, &portstr, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        set_err(err, errlen, "url `%.200s` has no usable port", cfg->url);
        goto out;
    }
    *implicit_tls = strcasecmp(scheme, "smtps") == 0;
    *port = strtol(portstr, NULL, 10);
    rc = SL_OK;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(query);
    curl_free(fragment);
    curl_free(portstr);
    curl_url_cleanup(u);
    return rc;
}

/* Validates the config; *use_ssl gets the CURLOPT_USE_SSL level it asks for. */
static sl_err config_check(const sl_smtp_config_t *cfg, long *use_ssl, char *err, size_t errlen)
{
    int implicit_tls = 0;
    long port = 0;
    if (!cfg) {
        set_err(err, errlen, "no SMTP configuration");
        return SL_EINVAL;
    }
    sl_err rc = url_check(cfg, &implicit_tls, &port, err, errlen);
    if (rc)
        return rc;
    const char *tls = cfg->tls;
    if (!tls)
        tls = implicit_tls ? "tls" : port == 587 ? "starttls" : "none";
    if (strcmp(tls, "none") && strcmp(tls, "starttls") && strcmp(tls, "tls")) {
        set_err(err, errlen, "tls must be \"none\", \"starttls\" or \"tls\"");
        return SL_EINVAL;
    }
    if (implicit_tls != (strcmp(tls, "tls") == 0)) {
        set_err(err, errlen,
                implicit_tls ? "tls is \"%s\" but an smtps:// url means TLS from the start"
                             : "tls is \"%s\", which needs an smtps:// url",
                tls);
        return SL_EINVAL;
    }
    *use_ssl = strcmp(tls, "none") ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_NONE;

    if (cfg->username) {
        if (!*cfg->username || has_control(cfg->username)) {
            set_err(err, errlen, "username is empty or contains a control character");
            return SL_EINVAL;
        }
        if (!cfg->password) {
            set_err(err, errlen, "username is given without a password");
            return SL_EINVAL;
        }
    } else if (cfg->password) {
        set_err(err, errlen, "password is given without a username");
        return SL_EINVAL;
    }
    if (cfg->timeout_ms < 0) {
        set_err(err, errlen, "timeout_ms is negative");
        return SL_EINVAL;
    }
    return SL_OK;
}

static sl_err mail_check(const sl_mail_t *mail, char *err, size_t errlen)
{
    mailbox_t m;
    if (!mail) {
        set_err(err, errlen, "no mail");
        return SL_EINVAL;
    }
    sl_err rc = mailbox_parse("from", mail->from, &m, err, errlen);
    if (rc)
        return rc;
    if (!mail->to || !mail->to[0]) {
        set_err(err, errlen, "to has no recipients");
        return SL_EINVAL;
    }
    for (size_t i = 0; mail->to[i]; i++) {
        char field[32];
        snprintf(field, sizeof field, "to[%zu]", i);
        if ((rc = mailbox_parse(field, mail->to[i], &m, err, errlen)))
            return rc;
    }
    if (mail->reply_to && (rc = mailbox_parse("reply_to", mail->reply_to, &m, err, errlen)))
        return rc;
    if (!mail->subject) {
        set_err(err, errlen, "subject is missing");
        return SL_EINVAL;
    }
    if ((rc = text_check("subject", mail->subject, err, errlen)))
        return rc;
    if (!mail->text && !mail->html) {
        set_err(err, errlen, "the mail has neither a text nor an html body");
        return SL_EINVAL;
    }
    /* Bodies are declared UTF-8; anything else would reach readers as mojibake. */
    if (mail->text && !sl__utf8_valid(mail->text)) {
        set_err(err, errlen, "text is not valid UTF-8");
        return SL_EINVAL;
    }
    if (mail->html && !sl__utf8_valid(mail->html)) {
        set_err(err, errlen, "html is not valid UTF-8");
        return SL_EINVAL;
    }
    return SL_OK;
}

sl_err sl__smtp_check(const sl_smtp_config_t *cfg, const sl_mail_t *mail, char *err, size_t errlen)
{
    long use_ssl;
    if (err && errlen)
        err[0] = '\0';
    sl_err rc = config_check(cfg, &use_ssl, err, errlen);
    return rc ? rc : mail_check(mail, err, errlen);
}

/* --- Building the message ------------------------------------------------------------------- */

/* Appends s[0..n) (n <= SMTP_WORD_BYTES) as one RFC 2047 encoded-word. */
static sl_err put_word(sl_buf_t *b, const char *s, size_t n)
{
    unsigned char b64[SMTP_WORD_BYTES / 3 * 4 + 1];
    int len = EVP_EncodeBlock(b64, (const unsigned char *)s, (int)n);
    return sl__buf_printf(b, "=?UTF-8?B?%.*s?=", len, (const char *)b64);
}

/* Appends s[0..n) as RFC 2047 encoded-words, folding before each after the first so no line
 * passes SMTP_LINE. `col` is where the first one starts. Words end on character boundaries:
 * a reader decodes each word on its own. */
static sl_err put_encoded_words(sl_buf_t *b, const char *s, size_t n, size_t col)
{
    sl_err rc = SL_OK;
    size_t off = 0;
    do {
        size_t room = col + 12 < SMTP_LINE ? (SMTP_LINE - col - 12) / 4 * 3 : 0;
        if (room > SMTP_WORD_BYTES)
            room = SMTP_WORD_BYTES;
        if (room < 4 && off == 0 && col > 1) {
            /* Not even one character fits after the header name: start on the next line. */
            if ((rc = sl__buf_puts(b, "\r\n ")))
                return rc;
            col = 1;
            continue;
        }
        size_t take = n - off < room ? n - off : room;
        while (take > 0 && off + take < n && ((unsigned char)s[off + take] & 0xc0) == 0x80)
            take--;
        if (off > 0)
            rc = sl__buf_puts(b, "\r\n ");
        if (!rc)
            rc = put_word(b, s + off, take);
        off += take;
        col = 1;
    } while (!rc && off < n);
    return rc;
}

static int needs_encoding(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80 || s[i] == '\t')
            return 1;
    /* Text that looks like an encoded-word would be decoded by readers; edge spaces are
     * dropped by them. */
    return memmem(s, n, "=?", 2) || (n && (s[0] == ' ' || s[n - 1] == ' '));
}

/* The Subject header (without its line end): as is when plain ASCII that fits one line, else
 * as encoded-words. */
static sl_err put_subject(sl_buf_t *b, const char *s)
{
    size_t n = strlen(s);
    sl_err rc = sl__buf_puts(b, "Subject: ");
    if (rc)
        return rc;
    if (needs_encoding(s, n) || 9 + n > SMTP_LINE)
        rc = put_encoded_words(b, s, n, 9);
    else
        rc = sl__buf_append(b, s, n);
    return rc;
}

static int is_atext(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* Appends a display name as a phrase: atoms when it is words of atext, a quoted-string when it
 * is other ASCII, encoded-words when it is not ASCII. A name already written as a
 * quoted-string is unquoted first so it is not quoted twice. */
static sl_err put_display_name(sl_buf_t *b, const char *s, size_t n, size_t col)
{
    sl_buf_t plain;
    sl__buf_init(&plain, 0);
    sl_err rc = SL_OK;
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        for (size_t i = 1; !rc && i + 1 < n; i++) {
            if (s[i] == '\\' && i + 2 < n)
                i++;
            rc = sl__buf_putc(&plain, s[i]);
        }
    } else {
        rc = sl__buf_append(&plain, s, n);
    }
    if (rc)
        goto out;
    const char *p = plain.data ? plain.data : "";
    n = plain.len;
    if (needs_encoding(p, n)) {
        rc = put_encoded_words(b, p, n, col);
        goto out;
    }
    int atoms = n > 0 && p[0] != ' ' && p[n - 1] != ' ';
    for (size_t i = 0; atoms && i < n; i++)
        atoms = is_atext(p[i]) || (p[i] == ' ' && p[i + 1] != ' ');
    if (atoms) {
        rc = sl__buf_append(b, p, n);
        goto out;
    }
    rc = sl__buf_putc(b, '"');
    for (size_t i = 0; !rc && i < n; i++) {
        if (p[i] == '"' || p[i] == '\\')
            rc = sl__buf_putc(b, '\\');
        if (!rc)
            rc = sl__buf_putc(b, p[i]);
    }
    if (!rc)
        rc = sl__buf_putc(b, '"');
out:
    sl__buf_cleanup(&plain);
    return rc;
}

static sl_err put_mailbox(sl_buf_t *b, const mailbox_t *m, size_t col)
{
    sl_err rc = SL_OK;
    if (m->name_len) {
        rc = put_display_name(b, m->name, m->name_len, col);
        if (!rc)
            rc = sl__buf_printf(b, " <%.*s>", (int)m->spec_len, m->spec);
    } else {
        rc = sl__buf_append(b, m->spec, m->spec_len);
    }
    return rc;
}

/* "Name: mailbox" or, for To, every recipient, one per line (no line end after the last). */
static sl_err put_address_header(sl_buf_t *b, const char *name, const char *const *list)
{
    sl_err rc = sl__buf_printf(b, "%s: ", name);
    for (size_t i = 0; !rc && list[i]; i++) {
        mailbox_t m;
        if (mailbox_parse(name, list[i], &m, NULL, 0))
            return SL_EINVAL;
        if (i > 0)
            rc = sl__buf_puts(b, ",\r\n ");
        if (!rc)
            rc = put_mailbox(b, &m, i > 0 ? 1 : strlen(name) + 2);
    }
    return rc;
}

static sl_err put_date(sl_buf_t *b, time_t now)
{
    /* Spelled out rather than strftime's %a and %b, which follow the locale. */
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    if (!gmtime_r(&now, &tm))
        return SL_EINVAL;
    return sl__buf_printf(b, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
                          tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                          tm.tm_sec);
}

/* The body's text in MIME's canonical form: every line end (LF, CR or CRLF) made CRLF. */
static sl_err canonical(sl_buf_t *out, const char *s)
{
    sl_err rc = sl__buf_reserve(out, strlen(s) + 2);
    for (const char *p = s; !rc && *p; p++) {
        if (*p == '\r' || *p == '\n') {
            rc = sl__buf_puts(out, "\r\n");
            if (p[0] == '\r' && p[1] == '\n')
                p++;
        } else {
            rc = sl__buf_putc(out, *p);
        }
    }
    return rc;
}

/* Adds a text part of `type` holding `body`, which libcurl sends in base64 (lines of 76). */
static sl_err add_text_part(curl_mime *mime, const char *type, const char *body)
{
    curl_mimepart *part = curl_mime_addpart(mime);
    sl_buf_t canon;
    sl__buf_init(&canon, 0);
    sl_err rc = part ? canonical(&canon, body) : SL_ENOMEM;
    /* curl_mime_data copies the bytes: `canon` can go right after. */
    if (!rc && (curl_mime_data(part, canon.data ? canon.data : "", canon.len) ||
                curl_mime_type(part, type) || curl_mime_encoder(part, "base64")))
        rc = SL_ENOMEM;
    sl__buf_cleanup(&canon);
    return rc;
}

/* libcurl writes "Content-Type: TYPE; boundary=" and a 40-character boundary on one line, past
 * SMTP_LINE; ending TYPE in a fold moves the boundary to a line of its own. (The boundary is
 * dashes and hex digits: no base64 line can be taken for it.) */
#define FOLDED(type) type "\r\n "

/* The body, as the mail's one part: the text, the HTML, or both as a multipart/alternative. */
static sl_err build_body(CURL *h, const sl_mail_t *mail, curl_mime **out)
{
    static const char text_type[] = "text/plain; charset=UTF-8",
                      html_type[] = "text/html; charset=UTF-8";
    curl_mime *mime = curl_mime_init(h), *alt = NULL;
    curl_mimepart *part = NULL;
    sl_err rc = SL_OK;
    if (!mime)
        return SL_ENOMEM;
    if (mail->text && mail->html) {
        if (!(alt = curl_mime_init(h)) || !(part = curl_mime_addpart(mime)))
            rc = SL_ENOMEM;
        /* Plain text first: readers show the last alternative they understand. */
        if (!rc)
            rc = add_text_part(alt, text_type, mail->text);
        if (!rc)
            rc = add_text_part(alt, html_type, mail->html);
        if (!rc && curl_mime_subparts(part, alt))
            rc = SL_ENOMEM;
        if (!rc) {
            alt = NULL; /* the part owns it now */
            if (curl_mime_type(part, FOLDED("multipart/alternative")))
                rc = SL_ENOMEM;
        }
    } else {
        rc = add_text_part(mime, mail->text ? text_type : html_type,
                           mail->text ? mail->text : mail->html);
    }
    curl_mime_free(alt);
    if (rc) {
        curl_mime_free(mime);
        mime = NULL;
    }
    *out = mime;
    return rc;
}

/* Appends b's contents, just written with result `rc`, to the list as one entry and empties b;
 * returns rc when that failed. */
static sl_err add_line(struct curl_slist **list, sl_buf_t *b, sl_err rc)
{
    if (rc)
        return rc;
    struct curl_slist *l = b->data ? curl_slist_append(*list, b->data) : NULL;
    if (!l)
        return SL_ENOMEM;
    *list = l;
    sl__buf_reset(b);
    return SL_OK;
}

/* The mail's headers, each a list entry (folded ones included), which libcurl sends before the
 * body's. The document's own Content-Type (multipart/mixed, libcurl's default) is given here
 * only to fold it. */
static sl_err build_headers(const sl_mail_t *mail, time_t now, const char *msgid,
                            struct curl_slist **out)
{
    const char *from[] = {mail->from, NULL}, *reply_to[] = {mail->reply_to, NULL};
    struct curl_slist *list = NULL;
    sl_buf_t b;
    sl__buf_init(&b, 0);
    sl_err rc = add_line(&list, &b, put_date(&b, now));
    if (!rc)
        rc = add_line(&list, &b, put_address_header(&b, "From", from));
    if (!rc && mail->reply_to)
        rc = add_line(&list, &b, put_address_header(&b, "Reply-To", reply_to));
    if (!rc)
        rc = add_line(&list, &b, put_address_header(&b, "To", mail->to));
    if (!rc)
        rc = add_line(&list, &b, put_subject(&b, mail->subject));
    if (!rc)
        rc = add_line(&list, &b, sl__buf_printf(&b, "Message-ID: %s", msgid));
    if (!rc)
        rc = add_line(&list, &b, sl__buf_puts(&b, "MIME-Version: 1.0"));
    if (!rc)
        rc = add_line(&list, &b, sl__buf_puts(&b, "Content-Type: " FOLDED("multipart/mixed")));
    sl__buf_cleanup(&b);
    if (rc) {
        curl_slist_free_all(list);
        list = NULL;
    }
    *out = list;
    return rc;
}

/* The envelope: bare addr-specs in angle brackets, whatever the display names. */
static sl_err build_envelope(const sl_mail_t *mail, char **from, struct curl_slist **rcpt)
{
    mailbox_t m;
    sl_buf_t b;
    sl__buf_init(&b, 0);
    sl_err rc = SL_OK;
    mailbox_parse("from", mail->from, &m, NULL, 0);
    if (sl__buf_printf(&b, "<%.*s>", (int)m.spec_len, m.spec) || !(*from = sl__buf_take(&b)))
        rc = SL_ENOMEM;
    for (size_t i = 0; !rc && mail->to[i]; i++) {
        mailbox_parse("to", mail->to[i], &m, NULL, 0);
        rc = add_line(rcpt, &b, sl__buf_printf(&b, "<%.*s>", (int)m.spec_len, m.spec));
    }
    sl__buf_cleanup(&b);
    return rc;
}

/* --- Sending -------------------------------------------------------------------------------- */

size_t sl__smtp_on_reply(char *p, size_t size, size_t n, void *ctx)
{
    sl_smtp_reply_t *r = ctx;
    size_t len = size * n, used;
    if (r->done) {
        r->text[0] = '\0';
        r->done = 0;
    }
    while (len && (p[len - 1] == '\r' || p[len - 1] == '\n'))
        len--;
    r->done = len < 4 || p[3] != '-';
    used = strlen(r->text);
    if (used && used + 1 < sizeof r->text)
        r->text[used++] = ' ';
    /* Server text goes into messages people read on a terminal: printable ASCII only. */
    for (size_t i = 0; i < len && used + 1 < sizeof r->text; i++) {
        unsigned char c = (unsigned char)p[i];
        r->text[used++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    r->text[used] = '\0';
    if (r->done && (r->text[0] == '4' || r->text[0] == '5'))
        memcpy(r->failure, r->text, sizeof r->failure);
    return size * n;
}

const char *sl__smtp_failure_reply(const sl_smtp_reply_t *r, long code)
{
    char digits[8];
    snprintf(digits, sizeof digits, "%ld", code);
    return strncmp(r->failure, digits, 3) == 0 ? r->failure : "";
}

void sl__smtp_scrub(char *s, const char *secret)
{
    size_t n = secret ? strlen(secret) : 0;
    if (!n)
        return;
    size_t keep = n < 3 ? n : 3;
    /* Search on after each mask: a password of stars ("*", "**") matches its own mask. */
    for (char *p = s;;) {
        char *hit = strstr(p, secret);
        if (!hit)
            break;
        memset(hit, '*', keep);
        memmove(hit + keep, hit + n, strlen(hit + n) + 1);
        p = hit + keep;
    }
}

/* Sorts a finished exchange into the error classes of sl__smtp_send. */
static sl_err classify(CURLcode cc, long code, const sl_smtp_reply_t *r, const char *errbuf,
                       const sl_smtp_config_t *cfg, long timeout_ms, char *err, size_t errlen)
{
    const char *why = errbuf[0] ? errbuf : curl_easy_strerror(cc);
    const char *reply = sl__smtp_failure_reply(r, code);
    int login = cc == CURLE_LOGIN_DENIED;
    if (cc == CURLE_OK)
        return SL_OK;
    if (cc == CURLE_OUT_OF_MEMORY)
        return SL_ENOMEM;
    if (code >= 500 && code < 600) {
        set_err(err, errlen, "the SMTP server at %s refused the %s: %s", cfg->url,
                login ? "login" : "mail", reply[0] ? reply : why);
        return SL_EREFUSED;
    }
    if (code >= 400 && code < 500) {
        set_err(err, errlen,
                "the SMTP server at %s turned the %s down for now (try again later): %s", cfg->url,
                login ? "login" : "mail", reply[0] ? reply : why);
        return SL_ENETWORK;
    }
    switch (cc) {
    case CURLE_OPERATION_TIMEDOUT:
        set_err(err, errlen, "the SMTP exchange with %s did not finish within %ld ms", cfg->url,
                timeout_ms);
        return SL_ETIMEOUT;
    case CURLE_USE_SSL_FAILED:
        set_err(err, errlen, "the SMTP server at %s does not offer STARTTLS, which tls requires",
                cfg->url);
        return SL_EREFUSED;
    case CURLE_LOGIN_DENIED:
        set_err(err, errlen, "cannot log in to the SMTP server at %s: %s", cfg->url, why);
        return SL_EREFUSED;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        set_err(err, errlen, "url `%s` cannot be used: %s", cfg->url, why);
        return SL_EINVAL;
    default:
        set_err(err, errlen, "the SMTP exchange with %s failed: %s", cfg->url, why);
        return SL_ENETWORK;
    }
}

sl_err sl__smtp_send_at(const sl_smtp_config_t *cfg, const sl_mail_t *mail, time_t now,
                        char *message_id, size_t idlen, char *err, size_t errlen)
{
    long use_ssl;
    char *mail_from = NULL;
    char hex[33], msgid[SL_SMTP_MESSAGE_ID_MAX];
    struct curl_slist *rcpt = NULL, *headers = NULL;
    curl_mime *mime = NULL;
    CURL *h = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (message_id && idlen)
        message_id[0] = '\0';
    if (message_id && idlen < SL_SMTP_MESSAGE_ID_MAX) {
        set_err(err, errlen, "the Message-ID buffer holds fewer than %d bytes",
                SL_SMTP_MESSAGE_ID_MAX);
        return SL_EINVAL;
    }
    sl_err rc = config_check(cfg, &use_ssl, err, errlen);
    if (rc)
        return rc; /* no password in these messages: the URL's credentials are not echoed */
    if ((rc = mail_check(mail, err, errlen)))
        goto out;
    pthread_once(&smtp_once, smtp_global_init);
    if (smtp_global_rc != CURLE_OK) {
        set_err(err, errlen, "libcurl failed to initialise");
        rc = SL_EINTERNAL;
        goto out;
    }
    if (sl__rand_hex(hex, 16)) {
        set_err(err, errlen, "no randomness for the Message-ID");
        rc = SL_EINTERNAL;
        goto out;
    }
    snprintf(msgid, sizeof msgid, "<%s@sluice>", hex);
    if (!(h = curl_easy_init()))
        rc = SL_ENOMEM;
    if (!rc)
        rc = build_envelope(mail, &mail_from, &rcpt);
    if (!rc)
        rc = build_headers(mail, now, msgid, &headers);
    if (!rc)
        rc = build_body(h, mail, &mime);
    if (rc) {
        set_err(err, errlen, "cannot build the message: %s", sl_strerror(rc));
        goto out;
    }

    long timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : SMTP_DEFAULT_TIMEOUT_MS;
    sl_smtp_reply_t reply = {{0}, {0}, 0};
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, cfg->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USE_SSL, use_ssl);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    /* Also bounds the QUIT that curl_easy_cleanup sends, which the overall timeout does not. */
    curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT, (timeout_ms + 999) / 1000);
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
    /* With a MIME body, SMTP takes the "HTTP" header list as the mail's headers. */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, sl__smtp_on_reply);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &reply);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    if (cfg->username) {
        curl_easy_setopt(h, CURLOPT_USERNAME, cfg->username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, cfg->password);
    }
    CURLcode cc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    rc = classify(cc, code, &reply, errbuf, cfg, timeout_ms, err, errlen);
    /* A QUIT that is still due reports to `reply`, which lives until here. */
    curl_easy_cleanup(h);
    h = NULL;
    if (!rc && message_id)
        snprintf(message_id, idlen, "%s", msgid);

out:
    if (err && errlen)
        sl__smtp_scrub(err, cfg->password);
    curl_easy_cleanup(h);
    curl_mime_free(mime);
    curl_slist_free_all(headers);
    curl_slist_free_all(rcpt);
    free(mail_from);
    return rc;
}

sl_err sl__smtp_send(const sl_smtp_config_t *cfg, const sl_mail_t *mail, char *message_id,
                     size_t idlen, char *err, size_t errlen)
{
    return sl__smtp_send_at(cfg, mail, time(NULL), message_id, idlen, err, errlen);
}
