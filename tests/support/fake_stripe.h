/*
 * fake_stripe: a scriptable fake of the Stripe HTTP API for integration tests.
 *
 * The server listens on 127.0.0.1 only. Tests queue replies with the push functions; each
 * incoming request consumes the next reply in order (a "repeat" reply is never consumed), and
 * every request is recorded so the test can inspect what the client sent. All functions are
 * thread-safe; requests are served from one thread per connection.
 *
 * Set FAKE_STRIPE_DEBUG=1 in the environment to get libmicrohttpd's own error log on stderr.
 */
#ifndef FAKE_STRIPE_H
#define FAKE_STRIPE_H

#include <stddef.h>

typedef struct fake_stripe fake_stripe_t;

typedef struct fake_header {
    char *name; /* as the client spelled it */
    char *value;
} fake_header_t;

typedef struct fake_request {
    char *method;
    char *path;  /* raw path as sent, without the query */
    char *query; /* raw string after '?', "" when none */
    char *body;  /* raw request body, NUL-terminated; "" when over the 4 MiB cap (413) */
    size_t body_len;
    fake_header_t *headers; /* all request headers in arrival order */
    size_t header_count;    /* look up by name with fake_request_header() */
} fake_request_t;

/* Largest request body accepted; a bigger one is answered 413 without using the queue. */
#define FAKE_STRIPE_BODY_CAP ((size_t)4 * 1024 * 1024)

/* Listens on 127.0.0.1 on a random free port; NULL on failure. */
fake_stripe_t *fake_stripe_start(void);
/* Same, on a fixed port (0 = random free port); NULL on failure, e.g. port in use. */
fake_stripe_t *fake_stripe_start_port(int port);
int fake_stripe_port(const fake_stripe_t *f);
const char *fake_stripe_url(const fake_stripe_t *f); /* "http://127.0.0.1:PORT" */

/*
 * Queue a scripted reply; replies are consumed in order, one per request.
 * headers: NULL or "Name: value\nName2: value2". body (NULL = empty) and headers are copied.
 * Every reply gets "Content-Type: application/json" unless headers set Content-Type.
 */
void fake_stripe_push(fake_stripe_t *f, int status, const char *headers, const char *body);
/* Sleeps delay_ms (in the connection's thread) before replying. */
void fake_stripe_push_delay(fake_stripe_t *f, int status, const char *headers, const char *body,
                            int delay_ms);
/* Next request: close the TCP connection without any response. */
void fake_stripe_push_drop(fake_stripe_t *f);
/*
 * General form. drop: close the connection instead of replying (after delay_ms).
 * repeat: once this reply reaches the head of the queue it is never consumed, so it answers
 * every further request (later entries are never reached).
 */
void fake_stripe_push_ex(fake_stripe_t *f, int status, const char *headers, const char *body,
                         int delay_ms, int drop, int repeat);

/*
 * Reply used when the queue is empty. Default: 404 with body
 * {"error":{"type":"invalid_request_error","message":"fake_stripe: no scripted reply"}}
 */
void fake_stripe_set_default(fake_stripe_t *f, int status, const char *headers, const char *body);

/*
 * Called after each request is recorded (dropped and 413 ones included), before replying.
 * It runs under the server's lock, in a connection thread: it must not call back into f.
 * fn may be NULL to remove it.
 */
void fake_stripe_set_recorder(fake_stripe_t *f, void (*fn)(const fake_request_t *, void *ctx),
                              void *ctx);

/*
 * Answers requests while the queue is empty (instead of the default reply): returns the status
 * and sets *body to a malloc'd JSON body the server frees. Runs under the server's lock, in a
 * connection thread: it must not call back into f. fn may be NULL to remove it.
 */
typedef int (*fake_stripe_responder_fn)(const fake_request_t *r, char **body, void *ctx);
void fake_stripe_set_responder(fake_stripe_t *f, fake_stripe_responder_fn fn, void *ctx);

size_t fake_stripe_request_count(fake_stripe_t *f);
/* Recorded in arrival order; NULL if i is out of range; valid until fake_stripe_stop(). */
const fake_request_t *fake_stripe_request(fake_stripe_t *f, size_t i);
/* Case-insensitive; first match; NULL if absent. */
const char *fake_request_header(const fake_request_t *r, const char *name);

/* TCP connections accepted so far; a client that reuses its connection is counted once. */
int fake_stripe_connection_count(fake_stripe_t *f);

/* Stops the server (waiting for requests in progress) and frees everything; NULL ok. */
void fake_stripe_stop(fake_stripe_t *f);

#endif /* FAKE_STRIPE_H */
