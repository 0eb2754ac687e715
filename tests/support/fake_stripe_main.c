/*
 * fake_stripe: standalone scriptable fake Stripe server for shell-level tests.
 *
 *   fake_stripe --script FILE [--record FILE] [--port N]
 *
 * Prints the bound port and a newline on stdout once listening, writes one JSON line per
 * completed request to the record file (truncated at start), and exits 0 on SIGTERM or SIGINT.
 */
#include "fake_stripe.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sluice/stripe.h"

#define FAKE_STRIPE_EXIT_USAGE 2

static const char fake_stripe_usage[] =
    "usage: fake_stripe [--script FILE] [--echo OBJECT:PREFIX] [--record FILE] [--port N]\n"
    "\n"
    "Scriptable fake Stripe HTTP server on 127.0.0.1.\n"
    "\n"
    "  --script FILE  JSON array of replies, used in order, one per request:\n"
    "                   {\"status\": 200, \"headers\": {\"Request-Id\": \"req_1\"},\n"
    "                    \"body\": <JSON value, sent compact, or string, sent verbatim>,\n"
    "                    \"drop\": false, \"delay_ms\": 0, \"repeat\": false}\n"
    "                 all keys optional (status defaults to 200, body to empty);\n"
    "                 drop closes the connection without replying; repeat keeps the entry,\n"
    "                 so it answers every further request. When the script runs out,\n"
    "                 requests get a 404 Stripe-style error.\n"
    "  --echo OBJECT:PREFIX  once the script runs out (or without one), answer each\n"
    "                 request with {\"id\": \"PREFIX_N\", \"object\": OBJECT, \"created\": ...,\n"
    "                 \"livemode\": false} plus the request's decoded form parameters\n"
    "  --record FILE  write each completed request as one JSON line:\n"
    "                   {\"method\",\"path\",\"query\",\"body\",\"headers\":{lowercased: value}}\n"
    "  --port N       listen on port N (default 0: a random free port)\n"
    "  --help         show this help\n"
    "\n"
    "Prints the bound port on stdout once listening; exits 0 on SIGTERM or SIGINT.\n"
    "Exit status 2: bad arguments, or an unreadable or malformed script.\n";

/* A JSON string for arbitrary bytes: jansson rejects invalid UTF-8, so mask such bytes. */
static json_t *fake_stripe_json_bytes(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    if (j)
        return j;
    char *copy = malloc(len + 1);
    if (!copy)
        return NULL;
    for (size_t i = 0; i < len; i++)
        copy[i] = (unsigned char)s[i] < 0x80 ? s[i] : '?';
    copy[len] = '\0';
    j = json_stringn(copy, len);
    free(copy);
    return j;
}

/* Adds one header under its lowercased name; repeats are joined with ", " as HTTP allows. */
static int fake_stripe_json_add_header(json_t *headers, const fake_header_t *h)
{
    int rc = -1;
    char *name = strdup(h->name);
    char *joined = NULL;
    if (!name)
        goto out;
    for (char *p = name; *p; p++)
        *p = (char)tolower((unsigned char)*p);

    const char *value = h->value;
    json_t *prev = json_object_get(headers, name);
    if (prev) {
        if (asprintf(&joined, "%s, %s", json_string_value(prev), h->value) < 0) {
            joined = NULL;
            goto out;
        }
        value = joined;
    }
    rc = json_object_set_new(headers, name, fake_stripe_json_bytes(value, strlen(value)));
out:
    free(joined);
    free(name);
    return rc;
}

/* Recorder: runs under the library's lock, so lines from concurrent requests never interleave. */
static void fake_stripe_write_record(const fake_request_t *r, void *ctx)
{
    FILE *out = ctx;
    int ok = 0;
    json_t *headers = json_object();
    json_t *line = json_object();
    if (!headers || !line)
        goto out;
    for (size_t i = 0; i < r->header_count; i++)
        if (fake_stripe_json_add_header(headers, &r->headers[i]) != 0)
            goto out;

    if (json_object_set_new(line, "method", fake_stripe_json_bytes(r->method, strlen(r->method))) ||
        json_object_set_new(line, "path", fake_stripe_json_bytes(r->path, strlen(r->path))) ||
        json_object_set_new(line, "query", fake_stripe_json_bytes(r->query, strlen(r->query))) ||
        json_object_set_new(line, "body", fake_stripe_json_bytes(r->body, r->body_len)) ||
        json_object_set(line, "headers", headers))
        goto out;

    /* Flushed per line so a shell test can read the file while the server runs. */
    if (json_dumpf(line, out, JSON_COMPACT) == 0 && fputc('\n', out) != EOF && fflush(out) == 0)
        ok = 1;
out:
    if (!ok)
        fprintf(stderr, "fake_stripe: could not record %s %s\n", r->method, r->path);
    json_decref(headers);
    json_decref(line);
}

/* Reports a problem with one script entry, naming the file and the entry's index. */
__attribute__((format(printf, 3, 4))) static void
fake_stripe_entry_error(const char *path, size_t idx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fake_stripe: script %s: entry %zu: ", path, idx);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* "Name: value\n..." from a JSON object of strings; NULL (after a message) if malformed. */
static char *fake_stripe_script_headers(const json_t *obj, const char *path, size_t idx)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem)
        return NULL;

    /* Iterator API rather than json_object_foreach, which clang-format mangles. */
    for (void *it = json_object_iter((json_t *)obj); it;
         it = json_object_iter_next((json_t *)obj, it)) {
        const char *name = json_object_iter_key(it);
        const char *v = json_string_value(json_object_iter_value(it));
        if (!v) {
            fake_stripe_entry_error(path, idx, "header \"%s\" must be a string", name);
            goto fail;
        }
        if (!*name || strpbrk(name, ":\r\n") || strpbrk(v, "\r\n")) {
            fake_stripe_entry_error(path, idx, "invalid header \"%s\"", name);
            goto fail;
        }
        fprintf(mem, "%s: %s\n", name, v);
    }
    if (fclose(mem) != 0) {
        free(buf);
        return NULL;
    }
    return buf;

fail:
    fclose(mem);
    free(buf);
    return NULL;
}

/* Reads an optional boolean member; -1 (after a message) if it has another type. */
static int fake_stripe_script_bool(const json_t *entry, const char *key, const char *path,
                                   size_t idx)
{
    json_t *v = json_object_get(entry, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v)) {
        fake_stripe_entry_error(path, idx, "\"%s\" must be true or false", key);
        return -1;
    }
    return json_is_true(v);
}

/* Validates one script entry and queues it; -1 after a message naming the problem. */
static int fake_stripe_script_entry(fake_stripe_t *f, const json_t *entry, const char *path,
                                    size_t idx)
{
    static const char *const known[] = {"status", "headers", "body", "drop", "delay_ms", "repeat"};
    int rc = -1;
    char *headers = NULL, *body = NULL;
    json_t *v;

    if (!json_is_object(entry)) {
        fake_stripe_entry_error(path, idx, "must be an object");
        return -1;
    }
    /* Unknown keys are most likely typos that would silently change the test. */
    for (void *it = json_object_iter((json_t *)entry); it;
         it = json_object_iter_next((json_t *)entry, it)) {
        const char *key = json_object_iter_key(it);
        size_t k = 0;
        while (k < sizeof(known) / sizeof(known[0]) && strcmp(key, known[k]) != 0)
            k++;
        if (k == sizeof(known) / sizeof(known[0])) {
            fake_stripe_entry_error(path, idx, "unknown key \"%s\"", key);
            return -1;
        }
    }

    int status = 200;
    if ((v = json_object_get(entry, "status"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 100 || json_integer_value(v) > 599) {
            fake_stripe_entry_error(path, idx, "\"status\" must be 100..599");
            goto out;
        }
        status = (int)json_integer_value(v);
    }

    int delay_ms = 0;
    if ((v = json_object_get(entry, "delay_ms"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT_MAX) {
            fake_stripe_entry_error(path, idx, "\"delay_ms\" must be >= 0");
            goto out;
        }
        delay_ms = (int)json_integer_value(v);
    }

    if ((v = json_object_get(entry, "headers"))) {
        if (!json_is_object(v)) {
            fake_stripe_entry_error(path, idx, "\"headers\" must be an object");
            goto out;
        }
        if (!(headers = fake_stripe_script_headers(v, path, idx)))
            goto out;
    }

    if ((v = json_object_get(entry, "body"))) {
        body = json_is_string(v) ? strdup(json_string_value(v))
                                 : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!body) {
            fake_stripe_entry_error(path, idx, "cannot encode \"body\"");
            goto out;
        }
    }

    int drop = fake_stripe_script_bool(entry, "drop", path, idx);
    int repeat = fake_stripe_script_bool(entry, "repeat", path, idx);
    if (drop < 0 || repeat < 0)
        goto out;

    fake_stripe_push_ex(f, status, headers, body, delay_ms, drop, repeat);
    rc = 0;
out:
    free(headers);
    free(body);
    return rc;
}

static int fake_stripe_load_script(fake_stripe_t *f, const char *path)
{
    json_error_t err;
    json_t *script = json_load_file(path, 0, &err);
    int rc = -1;
    if (!script) {
        if (err.line > 0)
            fprintf(stderr, "fake_stripe: script %s:%d:%d: %s\n", path, err.line, err.column,
                    err.text);
        else
            fprintf(stderr, "fake_stripe: script %s: %s\n", path, err.text);
        return -1;
    }
    if (!json_is_array(script)) {
        fprintf(stderr, "fake_stripe: script %s: top level must be a JSON array\n", path);
        goto out;
    }

    for (size_t i = 0; i < json_array_size(script); i++) {
        json_t *entry = json_array_get(script, i);
        if (fake_stripe_script_entry(f, entry, path, i) != 0)
            goto out;
        if (json_is_true(json_object_get(entry, "repeat")) && i + 1 < json_array_size(script))
            fprintf(stderr, "fake_stripe: warning: entries after repeat entry %zu are never used\n",
                    i);
    }
    rc = 0;
out:
    json_decref(script);
    return rc;
}

static int fake_stripe_parse_port(const char *s, int *port)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > 65535)
        return -1;
    *port = (int)v;
    return 0;
}

typedef struct fake_echo {
    char object[64];
    char prefix[32];
    unsigned long next_id;
} fake_echo_t;

/* Turns the request's form parameters back into the object a create call would return. */
static int fake_stripe_echo(const fake_request_t *r, char **body, void *ctx)
{
    fake_echo_t *e = ctx;
    const char *form = strcmp(r->method, "POST") == 0 ? r->body : r->query;
    json_t *params = NULL;
    char err[256];
    if (sl_form_decode(form, strlen(form), &params, err, sizeof err) != SL_OK) {
        json_t *eb =
            json_pack("{s:{s:s,s:s}}", "error", "type", "invalid_request_error", "message", err);
        *body = json_dumps(eb, JSON_COMPACT);
        json_decref(eb);
        return 400;
    }
    /* The key's own account is an account whatever --echo says. */
    int account = strcmp(r->path, "/v1/account") == 0;
    char id[96];
    snprintf(id, sizeof id, "%s_%06lu", account ? "acct" : e->prefix, ++e->next_id);
    json_t *obj = json_pack("{s:s,s:s,s:I,s:b}", "id", id, "object",
                            account ? "account" : e->object, "created", (json_int_t)time(NULL),
                            "livemode", 0);
    json_object_update(obj, params);
    *body = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    json_decref(params);
    return 200;
}

int main(int argc, char **argv)
{
    const char *script = NULL, *record = NULL, *echo = NULL;
    fake_echo_t echo_state = {"", "", 0};
    int port = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(fake_stripe_usage, stdout);
            return 0;
        }
        if (strcmp(a, "--script") != 0 && strcmp(a, "--record") != 0 && strcmp(a, "--port") != 0 &&
            strcmp(a, "--echo") != 0) {
            fprintf(stderr, "fake_stripe: unknown argument \"%s\" (see --help)\n", a);
            return FAKE_STRIPE_EXIT_USAGE;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "fake_stripe: %s needs a value (see --help)\n", a);
            return FAKE_STRIPE_EXIT_USAGE;
        }
        const char *val = argv[++i];
        if (strcmp(a, "--script") == 0) {
            script = val;
        } else if (strcmp(a, "--record") == 0) {
            record = val;
        } else if (strcmp(a, "--echo") == 0) {
            const char *colon = strchr(val, ':');
            if (!colon || colon == val || !colon[1] || (size_t)(colon - val) >= 64 ||
                strlen(colon + 1) >= 32) {
                fprintf(stderr, "fake_stripe: --echo takes OBJECT:PREFIX, e.g. customer:cus\n");
                return FAKE_STRIPE_EXIT_USAGE;
            }
            echo = val;
            snprintf(echo_state.object, sizeof echo_state.object, "%.*s", (int)(colon - val), val);
            snprintf(echo_state.prefix, sizeof echo_state.prefix, "%s", colon + 1);
        } else if (fake_stripe_parse_port(val, &port) != 0) {
            fprintf(stderr, "fake_stripe: --port: \"%s\" is not a port number 0..65535\n", val);
            return FAKE_STRIPE_EXIT_USAGE;
        }
    }
    if (!script && !echo) {
        fprintf(stderr,
                "fake_stripe: --script FILE or --echo OBJECT:PREFIX is required (see --help)\n");
        return FAKE_STRIPE_EXIT_USAGE;
    }

    /*
     * Block the stop signals before MHD creates its threads (they inherit the mask), so only
     * sigwait() below ever sees them and no handler runs in a server thread.
     */
    sigset_t stop_sigs;
    sigemptyset(&stop_sigs);
    sigaddset(&stop_sigs, SIGTERM);
    sigaddset(&stop_sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = FAKE_STRIPE_EXIT_USAGE;
    FILE *rec = NULL;
    fake_stripe_t *f = NULL;

    if (record && !(rec = fopen(record, "w"))) {
        fprintf(stderr, "fake_stripe: --record %s: %s\n", record, strerror(errno));
        goto out;
    }
    f = fake_stripe_start_port(port);
    if (!f) {
        fprintf(stderr, "fake_stripe: cannot listen on 127.0.0.1:%d\n", port);
        rc = 1;
        goto out;
    }
    /* Queue the script before announcing the port: clients wait for the port line. */
    if (script && fake_stripe_load_script(f, script) != 0)
        goto out;
    if (echo)
        fake_stripe_set_responder(f, fake_stripe_echo, &echo_state);
    if (rec)
        fake_stripe_set_recorder(f, fake_stripe_write_record, rec);

    printf("%d\n", fake_stripe_port(f));
    fflush(stdout);

    int sig = 0;
    while (sigwait(&stop_sigs, &sig) != 0)
        ;
    rc = 0;
out:
    fake_stripe_stop(f); /* before closing rec: the recorder may still be running */
    if (rec)
        fclose(rec);
    return rc;
}
