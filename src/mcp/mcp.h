/* sluice mcp (internal): a Model Context Protocol server over newline-delimited JSON-RPC 2.0.
 *
 * Its tools are the catalog's operations and the seeds' named actions (called through the
 * Stripe client, validated before anything is sent), three generic tools (search_operations,
 * describe_operation, call_operation) and, when the caller gives a way to reach sluice's own
 * REST API, the inbox, runs and flows. It speaks the initialize-handshake revisions
 * (2024-11-05 to 2025-11-25) and the stateless 2026-07-28 one (server/discover, the protocol
 * version in each request's _meta). */
#ifndef SLUICE_MCP_H
#define SLUICE_MCP_H

#include <stdio.h>

#include <jansson.h>

#include "sluice/stripe.h"

/* One Stripe connection the tools may use. Strings and the client are borrowed. */
typedef struct sl_mcp_conn {
    const char *name;
    sl_client_t *client;
    int live; /* a live-mode key: writes are refused unless allow_live_writes */
} sl_mcp_conn_t;

/* Answers a request to sluice's REST API (as `sluice serve` does under /api/): `path` is what
 * follows "/api/" (segments already checked to hold no '/'), `query` an object of string
 * arguments (may be empty), `body` the JSON body of a POST or NULL. Returns the HTTP status and
 * sets *out to the JSON answer (a new reference). */
typedef unsigned (*sl_mcp_api_fn)(void *ctx, const char *method, const char *path,
                                  const json_t *query, const json_t *body, json_t **out);

typedef struct sl_mcp_config {
    const sl_mcp_conn_t *conns; /* at least one; the first is the default */
    size_t nconns;
    const char *const *patterns; /* glob patterns (fnmatch) narrowing the tools; NULL: all */
    size_t npatterns;
    int read_only;         /* list no write tool, refuse every write */
    int all_operations;    /* one tool per catalog operation as well */
    int allow_live_writes; /* let writes go to live-mode connections */
    sl_mcp_api_fn api;     /* NULL: no sluice tools (list_events, get_run, ...) */
    void *api_ctx;
    size_t page_size; /* tools per tools/list page; 0: 100 */
} sl_mcp_config_t;

typedef struct sl_mcp sl_mcp_t;

/* Creates a server from cfg (copied; the connections, patterns and api_ctx it points to are
 * borrowed and must outlive it). NULL when out of memory. */
sl_mcp_t *sl__mcp_new(const sl_mcp_config_t *cfg);

/* Frees the server. NULL is a no-op. */
void sl__mcp_free(sl_mcp_t *m);

/* How many tools tools/list gives in all. */
size_t sl__mcp_tool_count(const sl_mcp_t *m);

/* Answers one message (a line, without its newline). Returns the reply as a new heap string of
 * one line without its newline, or NULL when nothing is to be answered (a notification or a
 * response). Never fails on bad input: a malformed line gets a JSON-RPC error reply. */
char *sl__mcp_answer(sl_mcp_t *m, const char *line, size_t len);

/* Reads messages from `in` (a file descriptor) line by line until end of input and writes each
 * reply to `out` as one line, flushed. A line longer than max_line bytes is skipped and answered
 * with an error (id null). Returns 0 at end of input, -1 when reading or writing failed. */
int sl__mcp_serve(sl_mcp_t *m, int in, FILE *out, size_t max_line);

#endif
