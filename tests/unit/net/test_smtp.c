/* The SMTP sender against tests/support/smtp_sink.py (aiosmtpd) on loopback ports: what a mail
 * reader makes of each message (the sink parses it with Python's `email` package), AUTH, refusals,
 * unreachable and silent servers, and the checks that keep bad input from being sent at all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <jansson.h>

#include "net/smtp.h"

#ifndef SMTP_SINK
#error "SMTP_SINK must name tests/support/smtp_sink.py"
#endif

#define USER "mailer"
#define PASSWORD "pw-Xq7-never-shown"

typedef struct sink {
    pid_t pid;
    int port;
    char url[64];
    char out[256];
} sink_t;

static struct {
    char python[256];
    char dir[64];
    sink_t plain; /* rejects RCPT for addresses containing "reject" */
    sink_t auth;  /* requires AUTH PLAIN as USER / PASSWORD */
} g;

/* --- The sink ------------------------------------------------------------------------------- */

static int run_quiet(char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The first Python that has aiosmtpd: $SLUICE_PYTHON, python3 on the PATH (which may be a
 * pyenv shim without Debian's packages), the system's. */
static int find_python(void)
{
    const char *env = getenv("SLUICE_PYTHON");
    const char *candidates[] = {env, "python3", "/usr/bin/python3"};
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++) {
        if (!candidates[i] || !*candidates[i])
            continue;
        char *argv[] = {(char *)candidates[i], "-c", "import aiosmtpd", NULL};
        if (run_quiet(argv) == 0) {
            snprintf(g.python, sizeof g.python, "%s", candidates[i]);
            return 0;
        }
    }
    return -1;
}

static int sink_start(sink_t *s, const char *name, const char *flag, const char *value)
{
    int fds[2];
    snprintf(s->out, sizeof s->out, "%s/%s.jsonl", g.dir, name);
    if (pipe(fds))
        return -1;
    s->pid = fork();
    if (s->pid == 0) {
        /* A test that crashes must not leave the sink running. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        close(fds[0]);
        dup2(fds[1], 1);
        char *argv[] = {g.python, SMTP_SINK, "0", s->out, (char *)flag, (char *)value, NULL};
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    if (s->pid < 0) {
        close(fds[0]);
        return -1;
    }
    /* The port is the first line; the sink takes a second or so to import and bind. */
    char line[32] = "";
    size_t used = 0;
    struct pollfd pfd = {fds[0], POLLIN, 0};
    while (used + 1 < sizeof line && !strchr(line, '\n') && poll(&pfd, 1, 15000) > 0) {
        ssize_t n = read(fds[0], line + used, sizeof line - 1 - used);
        if (n <= 0)
            break;
        used += (size_t)n;
        line[used] = '\0';
    }
    close(fds[0]);
    s->port = atoi(line);
    snprintf(s->url, sizeof s->url, "smtp://127.0.0.1:%d", s->port);
    return s->port > 0 ? 0 : -1;
}

static void sink_stop(sink_t *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
    if (s->out[0])
        unlink(s->out);
}

static int group_teardown(void **state)
{
    (void)state;
    sink_stop(&g.plain);
    sink_stop(&g.auth);
    if (g.dir[0])
        rmdir(g.dir);
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    if (find_python()) {
        fprintf(stderr, "test_smtp: no Python with aiosmtpd; install python3-aiosmtpd "
                        "(scripts/deps.sh --test) or point SLUICE_PYTHON at one\n");
        return -1;
    }
    snprintf(g.dir, sizeof g.dir, "/tmp/sluice-smtp-XXXXXX");
    if (!mkdtemp(g.dir))
        return -1;
    if (sink_start(&g.plain, "plain", "--reject", NULL) ||
        sink_start(&g.auth, "auth", "--auth", USER ":" PASSWORD)) {
        fprintf(stderr, "test_smtp: the SMTP sink did not start\n");
        group_teardown(state); /* cmocka does not call it when setup fails */
        return -1;
    }
    return 0;
}

/* The messages a sink has received so far, as a JSON array. */
static json_t *records(const sink_t *s)
{
    json_t *all = json_array();
    FILE *f = fopen(s->out, "r");
    char *line = NULL;
    size_t cap = 0;
    while (f && getline(&line, &cap, f) > 0) {
        json_error_t jerr;
        json_t *r = json_loads(line, 0, &jerr);
        assert_non_null(r);
        json_array_append_new(all, r);
    }
    free(line);
    if (f)
        fclose(f);
    return all;
}

static size_t count(const sink_t *s)
{
    json_t *all = records(s);
    size_t n = json_array_size(all);
    json_decref(all);
    return n;
}

/* The last message the sink received (the caller decrefs), after checking what must hold for
 * every message: it parses without defects, every line ends in CRLF and is at most 78
 * characters, it is 7-bit, and it has one each of the required headers. */
static json_t *last_record(const sink_t *s, const char *message_id)
{
    json_t *all = records(s);
    assert_true(json_array_size(all) > 0);
    json_t *r = json_incref(json_array_get(all, json_array_size(all) - 1));
    json_decref(all);
    if (json_object_get(r, "error"))
        fail_msg("the sink could not parse the message: %s",
                 json_string_value(json_object_get(r, "error")));
    if (json_array_size(json_object_get(r, "defects")))
        fail_msg("defects: %s\n%s", json_dumps(json_object_get(r, "defects"), 0),
                 json_string_value(json_object_get(r, "raw")));
    assert_true(json_is_true(json_object_get(r, "crlf")));
    assert_true(json_is_true(json_object_get(r, "ascii")));
    assert_true(json_integer_value(json_object_get(r, "max_line")) <= 78);
    json_t *h = json_object_get(r, "headers");
    assert_string_equal(json_string_value(json_object_get(h, "message_id")), message_id);
    assert_string_equal(json_string_value(json_object_get(h, "mime_version")), "1.0");
    assert_true(json_is_true(json_object_get(h, "date_utc")));
    json_int_t when = json_integer_value(json_object_get(h, "date_epoch"));
    assert_true(when > (json_int_t)time(NULL) - 300 && when <= (json_int_t)time(NULL) + 5);
    const char *once[] = {"date",       "from",         "to",          "subject",
                          "message-id", "mime-version", "content-type"};
    for (size_t i = 0; i < sizeof once / sizeof *once; i++)
        assert_int_equal(json_integer_value(json_object_get(json_object_get(h, "count"), once[i])),
                         1);
    return r;
}

static const char *str_at(json_t *r, const char *a, const char *b)
{
    json_t *v = json_object_get(r, a);
    if (b)
        v = json_object_get(v, b);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

/* The i-th address of a parsed address header. */
static void expect_address(json_t *r, const char *header, size_t i, const char *name,
                           const char *addr)
{
    json_t *a = json_array_get(json_object_get(json_object_get(r, "headers"), header), i);
    assert_non_null(a);
    assert_string_equal(json_string_value(json_object_get(a, "name")), name);
    assert_string_equal(json_string_value(json_object_get(a, "addr")), addr);
}

static void expect_part(json_t *r, size_t i, const char *type, const char *body)
{
    json_t *p = json_array_get(json_object_get(r, "parts"), i);
    assert_non_null(p);
    assert_string_equal(str_at(p, "content_type", NULL), type);
    assert_string_equal(str_at(p, "charset", NULL), "utf-8");
    assert_string_equal(str_at(p, "cte", NULL), "base64");
    assert_string_equal(str_at(p, "body", NULL), body);
}

static void expect_in(const char *err, const char *needle)
{
    if (!strstr(err, needle))
        fail_msg("err `%s` lacks `%s`", err, needle);
}

static sl_smtp_config_t config_for(const sink_t *s)
{
    sl_smtp_config_t c = {s->url, NULL, NULL, NULL, 10000};
    return c;
}

static void send_ok(const sl_smtp_config_t *cfg, const sl_mail_t *mail, char *id)
{
    char err[512];
    sl_err rc = sl__smtp_send(cfg, mail, id, SL_SMTP_MESSAGE_ID_MAX, err, sizeof err);
    if (rc)
        fail_msg("%s: %s", sl_errname(rc), err);
    assert_int_equal(strlen(id), 40 + 1);
    assert_true(id[0] == '<' && strcmp(id + 1 + 32, "@sluice>") == 0);
}

/* --- Delivery ------------------------------------------------------------------------------- */

static void test_text_only(void **state)
{
    (void)state;
    const char *to[] = {"dev@example.org", NULL};
    sl_mail_t mail = {
        "Sluice <noreply@example.com>", to, "Payment received", "Hello.\r\nBye.", NULL, NULL};
    sl_smtp_config_t cfg = config_for(&g.plain);
    char id[SL_SMTP_MESSAGE_ID_MAX];
    send_ok(&cfg, &mail, id);
    json_t *r = last_record(&g.plain, id);
    assert_string_equal(str_at(r, "mail_from", NULL), "noreply@example.com");
    assert_int_equal(json_array_size(json_object_get(r, "rcpt_tos")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "rcpt_tos"), 0)),
                        "dev@example.org");
    assert_string_equal(str_at(r, "headers", "subject"), "Payment received");
    expect_address(r, "from", 0, "Sluice", "noreply@example.com");
    expect_address(r, "to", 0, "", "dev@example.org");
    assert_true(json_is_null(json_object_get(json_object_get(r, "headers"), "reply_to")));
    /* libcurl's MIME documents are multipart/mixed; the body is their one part. */
    assert_string_equal(str_at(r, "content_type", NULL), "multipart/mixed");
    assert_int_equal(json_array_size(json_object_get(r, "parts")), 1);
    expect_part(r, 0, "text/plain", "Hello.\r\nBye.");
    json_decref(r);
}

static void test_html_only(void **state)
{
    (void)state;
    const char *to[] = {"dev@example.org", NULL};
    const char *html = "<p>Invoice <b>paid</b>.</p>\r\n.\r\n..leading dots survive\r\n";
    sl_mail_t mail = {"noreply@example.com", to, "HTML", NULL, html, NULL};
    sl_smtp_config_t cfg = config_for(&g.plain);
    char id[SL_SMTP_MESSAGE_ID_MAX];
    send_ok(&cfg, &mail, id);
    json_t *r = last_record(&g.plain, id);
    assert_string_equal(str_at(r, "content_type", NULL), "multipart/mixed");
    assert_int_equal(json_array_size(json_object_get(r, "parts")), 1);
    expect_part(r, 0, "text/html", html);
    expect_address(r, "from", 0, "", "noreply@example.com");
    json_decref(r);
}

static void test_text_and_html(void **state)
{
    (void)state;
    const char *to[] = {"dev@example.org", NULL};
    sl_mail_t mail = {
        "noreply@example.com",          to, "Both", "Plain version\r\n", "<p>HTML version</p>",
        "Support <support@example.com>"};
    sl_smtp_config_t cfg = config_for(&g.plain);
    char id[SL_SMTP_MESSAGE_ID_MAX];
    send_ok(&cfg, &mail, id);
    json_t *r = last_record(&g.plain, id);
    assert_string_equal(str_at(r, "content_type", NULL), "multipart/mixed");
    assert_non_null(strstr(str_at(r, "raw", NULL), "\r\nContent-Type: multipart/alternative"));
    assert_true(json_is_string(json_object_get(r, "boundary")));
    assert_int_equal(json_array_size(json_object_get(r, "parts")), 2);
    expect_part(r, 0, "text/plain", "Plain version\r\n");
    expect_part(r, 1, "text/html", "<p>HTML version</p>");
    expect_address(r, "reply_to", 0, "Support", "support@example.com");
    json_decref(r);
}

static void test_non_ascii(void **state)
{
    (void)state;
    const char *to[] = {"日本 太郎 <taro@example.jp>", NULL};
    /* Long enough for several encoded-words, with multi-byte characters at the cuts. */
    const char *subject = "Café — 日本語のテスト: paiement reçu pour la facture n° 42, merci "
                          "beaucoup 🎉 日本日本日本日本";
    const char *text = "Bonjour, voilà votre reçu.\nMontant : 42 €\n日本\n";
    const char *html = "<p>Déjà payé — 日本</p>";
    sl_mail_t mail = {"Zoë Ünïcode <zoe@example.org>", to, subject, text, html, NULL};
    sl_smtp_config_t cfg = config_for(&g.plain);
    char id[SL_SMTP_MESSAGE_ID_MAX];
    send_ok(&cfg, &mail, id);
    json_t *r = last_record(&g.plain, id);
    assert_string_equal(str_at(r, "headers", "subject"), subject);
    assert_non_null(strstr(str_at(r, "raw", NULL), "Subject: =?UTF-8?B?"));
    expect_address(r, "from", 0, "Zoë Ünïcode", "zoe@example.org");
    expect_address(r, "to", 0, "日本 太郎", "taro@example.jp");
    /* Line ends are sent in MIME's canonical CRLF form. */
    expect_part(r, 0, "text/plain", "Bonjour, voilà votre reçu.\r\nMontant : 42 €\r\n日本\r\n");
    expect_part(r, 1, "text/html", html);
    json_decref(r);
}

/* Subjects that are easy to get wrong: each comes back exactly. */
static void test_subjects_round_trip(void **state)
{
    (void)state;
    char long_ascii[301];
    memset(long_ascii, 'x', 300);
    for (size_t i = 7; i < 300; i += 8)
        long_ascii[i] = ' ';
    long_ascii[300] = '\0';
    const char *subjects[] = {"",
                              "=?UTF-8?B?bm90IGVuY29kZWQ=?= stays literal",
                              "  spaces at the edges  ",
                              "tab\there",
                              long_ascii,
                              "日本日本日本日本日本日本日本日本日本日本日本日本日本日本日本日本",
                              "a\xF0\x9F\x8E\x89"
                              "b\xF0\x9F\x8E\x89"
                              "c\xF0\x9F\x8E\x89"};
    const char *to[] = {"dev@example.org", NULL};
    sl_smtp_config_t cfg = config_for(&g.plain);
    for (size_t i = 0; i < sizeof subjects / sizeof *subjects; i++) {
        sl_mail_t mail = {"noreply@example.com", to, subjects[i], "x", NULL, NULL};
        char id[SL_SMTP_MESSAGE_ID_MAX];
        send_ok(&cfg, &mail, id);
        json_t *r = last_record(&g.plain, id);
        assert_string_equal(str_at(r, "headers", "subject"), subjects[i]);
        json_decref(r);
    }
}

static void test_several_recipients(void **state)
{
    (void)state;
    const char *to[] = {"a@example.org",
                        "Bea <bea@example.org>",
                        "\"Doe, John\" <john.doe@example.net>",
                        "Bob \"the builder\" Smith <bob+tag@example.com>",
                        "  <bare@example.org>  ",
                        "J. R. <jr@example.org>",
                        NULL};
    sl_mail_t mail = {"noreply@example.com", to, "Team", "hi", NULL, NULL};
    sl_smtp_config_t cfg = config_for(&g.plain);
    char id[SL_SMTP_MESSAGE_ID_MAX];
    send_ok(&cfg, &mail, id);
    json_t *r = last_record(&g.plain, id);
    const char *addrs[] = {"a@example.org",       "bea@example.org",  "john.doe@example.net",
                           "bob+tag@example.com", "bare@example.org", "jr@example.org"};
    const char *names[] = {"", "Bea", "Doe, John", "Bob \"the builder\" Smith", "", "J. R."};
    json_t *rcpt = json_object_get(r, "rcpt_tos");
    assert_int_equal(json_array_size(rcpt), 6);
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(json_string_value(json_array_get(rcpt, i)), addrs[i]);
        expect_address(r, "to", i, names[i], addrs[i]);
    }
    json_decref(r);
}

/* --- AUTH ----------------------------------------------------------------------------------- */

static void test_auth_ok(void **state)
{
    (void)state;
    const char *to[] = {"dev@example.org", NULL};
    sl_mail_t mail = {"noreply@example.com", to, "Authenticated", "hi", NULL, NULL};
    sl_smtp_config_t cfg = config_for(&g.auth);
    cfg.username = USER;
    cfg.password = PASSWORD;
    char id[SL_SMTP_MESSAGE_ID_MAX];
    send_ok(&cfg, &mail, id);
    json_t *r = last_record(&g.auth, id);
    assert_string_equal(str_at(r, "auth_user", NULL), USER);
    json_decref(r);
}

static void test_auth_wrong_password(void **state)
{
    (void)state;
    const char *to[] = {"dev@example.org", NULL};
    sl_mail_t mail = {"noreply@example.com", to, "Nope", "hi", NULL, NULL};
    sl_smtp_config_t cfg = config_for(&g.auth);
    cfg.username = USER;
    cfg.password = "wrong-" PASSWORD;
    size_t before = count(&g.auth);
    char err[512], id[SL_SMTP_MESSAGE_ID_MAX] = "x";
    assert_int_equal(sl__smtp_send(&cfg, &mail, id, sizeof id, err, sizeof err), SL_EREFUSED);
    expect_in(err, "refused the login");
    expect_in(err, "535");
    assert_null(strstr(err, PASSWORD));
    assert_string_equal(id, "");
    assert_int_equal(count(&g.auth), before);
}

static void test_auth_missing(void **state)
{
    (void)state;
    const char *to[] = {"dev@example.org", NULL};
    sl_mail_t mail = {"noreply@example.com", to, "No login", "hi", NULL, NULL};
    sl_smtp_config_t cfg = config_for(&g.auth);
    char err[512];
    assert_int_equal(sl__smtp_send(&cfg, &mail, NULL, 0, err, sizeof err), SL_EREFUSED);
    expect_in(err, "530");
}

/* --- Refusals and failures ------------------------------------------------------------------ */

static void test_rejected_recipient(void **state)
{
    (void)state;
    const char *to[] = {"ok@example.org", "reject-me@example.org", NULL};
    sl_mail_t mail = {"noreply@example.com", to, "Refused", "hi", NULL, NULL};
    sl_smtp_config_t cfg = config_for(&g.plain);
    size_t before = count(&g.plain);
    char err[512];
    assert_int_equal(sl__smtp_send(&cfg, &mail, NULL, 0, err, sizeof err), SL_EREFUSED);
    expect_in(err, "refused the mail");
    expect_in(err, "550 5.1.1 <reject-me@example.org>: Recipient address rejected: no such user");
    assert_int_equal(count(&g.plain), before); /* all or none */
}

static void test_starttls_missing(void **state)
{
    (void)state;
    const char *to[] = {"dev@example.org", NULL};
    sl_mail_t mail = {"noreply@example.com", to, "TLS", "hi", NULL, NULL};
    sl_smtp_config_t cfg = config_for(&g.auth);
    cfg.tls = "starttls";
    cfg.username = USER;
    cfg.password = PASSWORD;
    size_t before = count(&g.auth);
    char err[512];
    assert_int_equal(sl__smtp_send(&cfg, &mail, NULL, 0, err, sizeof err), SL_EREFUSED);
    expect_in(err, "STARTTLS");
    assert_null(strstr(err, PASSWORD));
    assert_int_equal(count(&g.auth), before);
}

/* A loopback socket that is bound but not listening: connections to it are refused. */
static void test_closed_port(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    char url[64];
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", ntohs(sa.sin_port));
    const char *to[] = {"dev@example.org", NULL};
    sl_mail_t mail = {"noreply@example.com", to, "Closed", "hi", NULL, NULL};
    sl_smtp_config_t cfg = {url, USER, PASSWORD, NULL, 5000};
    char err[512];
    assert_int_equal(sl__smtp_send(&cfg, &mail, NULL, 0, err, sizeof err), SL_ENETWORK);
    expect_in(err, url);
    assert_null(strstr(err, PASSWORD));
    close(fd);
}

/* A server that accepts one connection, writes `greeting` (may be NULL) and hangs up. */
typedef struct rude {
    int fd;
    const char *greeting;
} rude_t;

static void *rude_server(void *arg)
{
    rude_t *r = arg;
    int c = accept(r->fd, NULL, NULL);
    if (c >= 0) {
        if (r->greeting && write(c, r->greeting, strlen(r->greeting)) < 0)
            perror("write");
        close(c);
    }
    return NULL;
}

static int listener(char *url, size_t urllen)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    snprintf(url, urllen, "smtp://127.0.0.1:%d", ntohs(sa.sin_port));
    return fd;
}

static void test_server_hangs_up(void **state)
{
    (void)state;
    const char *greetings[] = {NULL, "220 sink ready\r\n", "421 4.3.2 Shutting down\r\n"};
    const char *to[] = {"dev@example.org", NULL};
    sl_mail_t mail = {"noreply@example.com", to, "Dropped", "hi", NULL, NULL};
    for (size_t i = 0; i < sizeof greetings / sizeof *greetings; i++) {
        char url[64], err[512];
        rude_t r = {listener(url, sizeof url), greetings[i]};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, rude_server, &r), 0);
        sl_smtp_config_t cfg = {url, NULL, NULL, NULL, 5000};
        assert_int_equal(sl__smtp_send(&cfg, &mail, NULL, 0, err, sizeof err), SL_ENETWORK);
        if (i == 2)
            expect_in(err, "421 4.3.2 Shutting down");
        pthread_join(t, NULL);
        close(r.fd);
    }
}

/* A server that never says a word: the whole send is bounded by timeout_ms, QUIT included. */
static void test_silent_server_times_out(void **state)
{
    (void)state;
    char url[64], err[512];
    int fd = listener(url, sizeof url);
    const char *to[] = {"dev@example.org", NULL};
    sl_mail_t mail = {"noreply@example.com", to, "Silence", "hi", NULL, NULL};
    sl_smtp_config_t cfg = {url, NULL, NULL, NULL, 400};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(sl__smtp_send(&cfg, &mail, NULL, 0, err, sizeof err), SL_ETIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    assert_true(ms < 3000);
    expect_in(err, "400 ms");
    close(fd);
}

/* --- Input that is refused before anything is sent ------------------------------------------ */

static void test_header_injection_sends_nothing(void **state)
{
    (void)state;
    const char *to[] = {"dev@example.org", NULL};
    const char *evil_to[] = {"dev@example.org", "x@example.org\r\nBcc: victim@example.net", NULL};
    sl_smtp_config_t cfg = config_for(&g.plain);
    const struct {
        sl_mail_t mail;
        const char *field;
    } cases[] = {
        {{"noreply@example.com", to, "Hi\r\nBcc: victim@example.net", "x", NULL, NULL}, "subject"},
        {{"noreply@example.com", to, "Hi\nBcc: victim@example.net", "x", NULL, NULL}, "subject"},
        {{"noreply@example.com", to, "Hi\rX", "x", NULL, NULL}, "subject"},
        {{"noreply@example.com", evil_to, "Hi", "x", NULL, NULL}, "to[1]"},
        {{"Me <noreply@example.com>\nBcc: victim@example.net", to, "Hi", "x", NULL, NULL}, "from"},
        {{"noreply@example.com", to, "Hi", "x", NULL, "a@example.org\r\nX-Evil: 1"}, "reply_to"},
    };
    size_t before = count(&g.plain);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char err[512], id[SL_SMTP_MESSAGE_ID_MAX] = "x";
        assert_int_equal(sl__smtp_send(&cfg, &cases[i].mail, id, sizeof id, err, sizeof err),
                         SL_EINVAL);
        assert_true(strncmp(err, cases[i].field, strlen(cases[i].field)) == 0);
        expect_in(err, "line break");
        assert_null(strstr(err, "victim")); /* the value is not echoed */
        assert_string_equal(id, "");
    }
    assert_int_equal(count(&g.plain), before);
}

static void expect_mail_invalid(const sl_mail_t *mail, const char *field, const char *why)
{
    sl_smtp_config_t cfg = {"smtp://127.0.0.1:1", NULL, NULL, NULL, 0};
    char err[512];
    assert_int_equal(sl__smtp_check(&cfg, mail, err, sizeof err), SL_EINVAL);
    if (strncmp(err, field, strlen(field)) || !strstr(err, why))
        fail_msg("err `%s`, wanted `%s ... %s`", err, field, why);
}

static void test_check_mail(void **state)
{
    (void)state;
    const char *to[] = {"dev@example.org", NULL};
    const char *none[] = {NULL};
    const char *bad_to[] = {"dev@example.org", "two@@example.org", NULL};
    sl_mail_t ok = {"Me <me@example.org>", to, "s", "t", NULL, NULL};
    sl_smtp_config_t cfg = {"smtp://127.0.0.1:1", NULL, NULL, NULL, 0};
    char err[512];
    assert_int_equal(sl__smtp_check(&cfg, &ok, err, sizeof err), SL_OK);
    assert_string_equal(err, "");

    const struct {
        const char *addr, *why;
    } addrs[] = {
        {"nobody", "has no @"},
        {"a@b@c", "more than one @"},
        {"john doe@example.org", "space"},
        {"Name <john doe@example.org>", "space"},
        {"Name <a@example.org", "space"},
        {"Name a@example.org>", "'>' without a '<'"},
        {"<a@example.org> <b@example.org>", "more than one <...>"},
        {"@example.org", "nothing before or after"},
        {"me@", "nothing before or after"},
        {"me@example..org", "malformed domain"},
        {"zoë@example.org", "non-ASCII"},
        {"a,b@example.org", "not allowed"},
        {"", "missing"},
        {"Tab\x01 <a@example.org>", "control character"},
    };
    for (size_t i = 0; i < sizeof addrs / sizeof *addrs; i++) {
        sl_mail_t m = ok;
        m.from = addrs[i].addr;
        expect_mail_invalid(&m, "from", addrs[i].why);
        m = ok;
        m.reply_to = addrs[i].addr;
        expect_mail_invalid(&m, "reply_to", addrs[i].why);
    }
    sl_mail_t m = ok;
    m.to = bad_to;
    expect_mail_invalid(&m, "to[1]", "more than one @");
    m.to = none;
    expect_mail_invalid(&m, "to", "no recipients");
    m.to = NULL;
    expect_mail_invalid(&m, "to", "no recipients");
    m = ok;
    m.subject = NULL;
    expect_mail_invalid(&m, "subject", "missing");
    m.subject = "caf\xE9";
    expect_mail_invalid(&m, "subject", "UTF-8");
    m.subject = "bell\a";
    expect_mail_invalid(&m, "subject", "control character");
    m = ok;
    m.text = NULL;
    expect_mail_invalid(&m, "the mail", "neither a text nor an html body");
    m.html = "\xC0\xAF"; /* an overlong '/' */
    expect_mail_invalid(&m, "html", "UTF-8");
    m.html = NULL;
    m.text = "\xED\xA0\x80"; /* a surrogate */
    expect_mail_invalid(&m, "text", "UTF-8");
}

static void test_check_config(void **state)
{
    (void)state;
    const char *to[] = {"dev@example.org", NULL};
    sl_mail_t mail = {"me@example.org", to, "s", "t", NULL, NULL};
    const struct {
        sl_smtp_config_t cfg;
        sl_err want;
        const char *needle;
    } cases[] = {
        {{"smtp://mail.example.com", NULL, NULL, NULL, 0}, SL_OK, ""},
        {{"smtp://mail.example.com:587", "u", "p", NULL, 0}, SL_OK, ""},
        {{"smtps://mail.example.com", "u", "p", "tls", 0}, SL_OK, ""},
        {{"SMTP://mail.example.com:2525/ehlo.example", NULL, NULL, "starttls", 0}, SL_OK, ""},
        {{NULL, NULL, NULL, NULL, 0}, SL_EINVAL, "url is missing"},
        {{"https://mail.example.com", NULL, NULL, NULL, 0}, SL_EINVAL, "not smtp://"},
        {{"mail.example.com:25", NULL, NULL, NULL, 0}, SL_EINVAL, "url"},
        {{"smtp://u:" PASSWORD "@mail.example.com", NULL, NULL, NULL, 0},
         SL_EINVAL,
         "url holds credentials"},
        {{"smtp://mail.example.com/?x=1", NULL, NULL, NULL, 0}, SL_EINVAL, "query"},
        {{"smtp://mail.example.com\r\n", NULL, NULL, NULL, 0}, SL_EINVAL, "control character"},
        {{"smtp://mail.example.com", NULL, NULL, "ssl", 0}, SL_EINVAL, "tls must be"},
        {{"smtp://mail.example.com", NULL, NULL, "tls", 0}, SL_EINVAL, "needs an smtps:// url"},
        {{"smtps://mail.example.com", NULL, NULL, "starttls", 0}, SL_EINVAL, "smtps:// url"},
        {{"smtps://mail.example.com", NULL, NULL, "none", 0}, SL_EINVAL, "smtps:// url"},
        {{"smtp://mail.example.com", "u", NULL, NULL, 0}, SL_EINVAL, "without a password"},
        {{"smtp://mail.example.com", NULL, PASSWORD, NULL, 0}, SL_EINVAL, "without a username"},
        {{"smtp://mail.example.com", "", PASSWORD, NULL, 0}, SL_EINVAL, "username is empty"},
        {{"smtp://mail.example.com", "u\r\n", PASSWORD, NULL, 0}, SL_EINVAL, "username"},
        {{"smtp://mail.example.com", NULL, NULL, NULL, -1}, SL_EINVAL, "timeout_ms"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char err[512];
        sl_err rc = sl__smtp_check(&cases[i].cfg, &mail, err, sizeof err);
        if (rc != cases[i].want || !strstr(err, cases[i].needle))
            fail_msg("case %zu: %s `%s`, wanted %s with `%s`", i, sl_errname(rc), err,
                     sl_errname(cases[i].want), cases[i].needle);
        assert_null(strstr(err, PASSWORD));
    }
    char err[64];
    assert_int_equal(sl__smtp_check(NULL, &mail, err, sizeof err), SL_EINVAL);
    assert_int_equal(sl__smtp_check(&cases[0].cfg, NULL, err, sizeof err), SL_EINVAL);
    /* Too small a Message-ID buffer is refused before anything happens. */
    char id[8];
    assert_int_equal(sl__smtp_send(&cases[0].cfg, &mail, id, sizeof id, err, sizeof err),
                     SL_EINVAL);
}

/* The message as the sink received it, sent with a fixed date: folding, encoded names, the
 * alternative, base64 bodies, CRLF line ends, a fresh Message-ID each time. */
static void test_message_on_the_wire(void **state)
{
    (void)state;
    const char *to[] = {"Zoë <zoe@example.org>", "b@example.org", NULL};
    sl_mail_t mail = {"me@example.org", to, "Hello", "one\ntwo", "<p>x</p>", NULL};
    sl_smtp_config_t cfg = config_for(&g.plain);
    char id1[SL_SMTP_MESSAGE_ID_MAX], id2[SL_SMTP_MESSAGE_ID_MAX], err[512];
    const struct {
        time_t now;
        const char *date;
        char *id;
    } sends[] = {{0, "\r\nDate: Thu, 01 Jan 1970 00:00:00 +0000\r\n", id1},
                 {1700000000, "\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n", id2}};
    for (size_t i = 0; i < sizeof sends / sizeof *sends; i++) {
        sl_err rc = sl__smtp_send_at(&cfg, &mail, sends[i].now, sends[i].id, SL_SMTP_MESSAGE_ID_MAX,
                                     err, sizeof err);
        if (rc)
            fail_msg("%s: %s", sl_errname(rc), err);
        json_t *all = records(&g.plain);
        json_t *r = json_array_get(all, json_array_size(all) - 1);
        const char *raw = str_at(r, "raw", NULL);
        assert_int_equal(json_array_size(json_object_get(r, "defects")), 0);
        assert_int_equal(
            json_integer_value(json_object_get(json_object_get(r, "headers"), "date_epoch")),
            (json_int_t)sends[i].now);
        assert_string_equal(str_at(r, "headers", "message_id"), sends[i].id);
        assert_non_null(strstr(raw, sends[i].date));
        assert_non_null(strstr(raw, "\r\nTo: =?UTF-8?B?Wm/Dqw==?= <zoe@example.org>,\r\n"
                                    " b@example.org\r\n"));
        assert_non_null(strstr(raw, "Content-Type: multipart/alternative"));
        assert_true(json_is_string(json_object_get(r, "boundary")));
        assert_non_null(strstr(raw, "b25lDQp0d28=")); /* "one\r\ntwo" */
        assert_true(json_is_true(json_object_get(r, "crlf")));
        assert_true(json_integer_value(json_object_get(r, "max_line")) <= 78);
        for (const char *p = strchr(raw, '\n'); p; p = strchr(p + 1, '\n'))
            assert_true(p > raw && p[-1] == '\r');
        json_decref(all);
    }
    assert_string_not_equal(id1, id2);
}

/* Reply lines as libcurl hands them over; the kept failure; the password scrubbed out. */
static void test_replies_and_scrub(void **state)
{
    (void)state;
    sl_smtp_reply_t r;
    memset(&r, 0, sizeof r);
    char l1[] = "250-mail.test\r\n", l2[] = "250 OK\r\n", l3[] = "550-5.1.1 no \x1b[31m\r\n",
         l4[] = "550 such user\r\n", l5[] = "221 bye\r\n";
    char *lines[] = {l1, l2, l3, l4, l5};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(sl__smtp_on_reply(lines[i], 1, strlen(lines[i]), &r), strlen(lines[i]));
    assert_string_equal(r.text, "221 bye");
    assert_string_equal(r.failure, "550-5.1.1 no ?[31m 550 such user");
    assert_string_equal(sl__smtp_failure_reply(&r, 550), r.failure);
    assert_string_equal(sl__smtp_failure_reply(&r, 421), "");

    char msg[128] = "refused: hunter2 is wrong, hunter2";
    sl__smtp_scrub(msg, "hunter2");
    assert_string_equal(msg, "refused: *** is wrong, ***");
    /* fuzz_smtp_reply: a password of stars matched its own mask for ever. */
    alarm(5);
    snprintf(msg, sizeof msg, "535 bad * login **");
    sl__smtp_scrub(msg, "*");
    assert_string_equal(msg, "535 bad * login **");
    sl__smtp_scrub(msg, "**");
    assert_string_equal(msg, "535 bad * login **");
    alarm(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_mail),
        cmocka_unit_test(test_replies_and_scrub),
        cmocka_unit_test(test_check_config),
        cmocka_unit_test(test_message_on_the_wire),
        cmocka_unit_test(test_text_only),
        cmocka_unit_test(test_html_only),
        cmocka_unit_test(test_text_and_html),
        cmocka_unit_test(test_non_ascii),
        cmocka_unit_test(test_subjects_round_trip),
        cmocka_unit_test(test_several_recipients),
        cmocka_unit_test(test_auth_ok),
        cmocka_unit_test(test_auth_wrong_password),
        cmocka_unit_test(test_auth_missing),
        cmocka_unit_test(test_rejected_recipient),
        cmocka_unit_test(test_starttls_missing),
        cmocka_unit_test(test_closed_port),
        cmocka_unit_test(test_server_hangs_up),
        cmocka_unit_test(test_silent_server_times_out),
        cmocka_unit_test(test_header_injection_sends_nothing),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
