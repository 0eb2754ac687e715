/* The sluice command line: shared pieces of the subcommands. */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <signal.h>
#include <stdio.h>

#include <jansson.h>

#include "conn/conn.h"
#include "core/buf.h"
#include "core/crypt.h"
#include "store/store.h"

/* Exit codes every subcommand uses. */
enum {
    CLI_OK = 0,
    CLI_EFAIL = 1,     /* Stripe answered with an error, or the operation failed */
    CLI_EUSAGE = 2,    /* the command line is wrong; nothing was sent */
    CLI_ENETWORK = 3,  /* no answer from the server after the retries */
    CLI_ENOTFOUND = 4, /* what the command names (run, event, connection, flow) does not exist */
};

typedef struct sl_cli_cmd {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand's name */
    void (*help)(FILE *out);
} sl_cli_cmd_t;

/* The options a config file gives cmd (see config.c), as "--key" ["value"] strings into a new
 * array (*opts, *nopts; free each and the array). A missing file is no error unless it was
 * named explicitly. CLI_EUSAGE with the problem printed when it cannot be used. */
int sl__cli_config(const char *path, int explicit_path, const struct sl_cli_cmd *cmd, char ***opts,
                   int *nopts);

/* Prints a table: headers, then rows (an array of arrays of ncols strings), each column as wide
 * as its widest cell. */
void sl__cli_table(const char *const *headers, size_t ncols, const json_t *rows);

/* Every command, in the order `sluice --help` lists them. */
const sl_cli_cmd_t *sl__cli_commands(size_t *n);

int sl__cmd_call(int argc, char **argv);
void sl__cmd_call_help(FILE *out);
int sl__cmd_ops(int argc, char **argv);
void sl__cmd_ops_help(FILE *out);
int sl__cmd_events(int argc, char **argv);
void sl__cmd_events_help(FILE *out);
int sl__cmd_completion(int argc, char **argv);
void sl__cmd_completion_help(FILE *out);
int sl__cmd_man(int argc, char **argv);
void sl__cmd_man_help(FILE *out);
int sl__cmd_connect(int argc, char **argv);
void sl__cmd_connect_help(FILE *out);
int sl__cmd_demo(int argc, char **argv);
void sl__cmd_demo_help(FILE *out);
int sl__cmd_trigger(int argc, char **argv);
void sl__cmd_trigger_help(FILE *out);
int sl__cmd_emulate(int argc, char **argv);
void sl__cmd_emulate_help(FILE *out);
int sl__cmd_serve(int argc, char **argv);
void sl__cmd_serve_help(FILE *out);
int sl__cmd_flows(int argc, char **argv);
void sl__cmd_flows_help(FILE *out);
int sl__cmd_runs(int argc, char **argv);
void sl__cmd_runs_help(FILE *out);
int sl__cmd_mcp(int argc, char **argv);
void sl__cmd_mcp_help(FILE *out);
int sl__cmd_sync(int argc, char **argv);
void sl__cmd_sync_help(FILE *out);

/* The data directory, store and (if asked for) master key of a command that keeps state. */
typedef struct sl_cli_env {
    char data[4096];
    sl_store_t *store;
    sl_crypt_t crypt;
    int have_crypt;
} sl_cli_env_t;

/* Opens them from --data / --store (else SLUICE_DATA / SLUICE_STORE, else the defaults);
 * prints why it failed and returns a CLI exit code. */
int sl__cli_env_open(sl_cli_env_t *env, const char *cmd, const char *data_opt,
                     const char *store_opt, int need_crypt);
/* The same, with a pool of that many connections when the store is PostgreSQL (0: 8). */
int sl__cli_env_open_pool(sl_cli_env_t *env, const char *cmd, const char *data_opt,
                          const char *store_opt, int need_crypt, int pool);
void sl__cli_env_close(sl_cli_env_t *env);

/* Collects connection names (an sl_conn_cb): up to cap of them into names. */
typedef struct sl_cli_names {
    char (*names)[64];
    size_t *n;
    size_t cap;
} sl_cli_names_t;
int sl__cli_collect_name(const sl_conn_row_t *row, void *ctx);

/* Blocks SIGTERM and SIGINT in this thread and every thread it starts later (call it first),
 * and ignores SIGPIPE; sl__cli_wait_stop() then waits for one of them and returns it. */
void sl__cli_block_stop_signals(sigset_t *stop);
int sl__cli_wait_stop(const sigset_t *stop);

/* An sl_trace_fn printing to stderr. */
void sl__cli_trace(void *ctx, const char *line);

/* Prints "sluice CMD: <message>" to stderr and returns CLI_EUSAGE. */
int sl__cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The usage error for what getopt_long() returned as ':' (a missing value) or '?' (an unknown
 * option): names the option (by optopt for short ones), never echoing anything else. */
int sl__cli_option_error(const char *cmd, int c, char **argv);

/* Parses a whole decimal number in [min, max]; returns 0 on success. */
int sl__cli_parse_long(const char *s, long min, long max, long *out);
/* The exit code for an error: not found 4, a wrong argument 2, no answer 3, else 1. */
int sl__cli_exit(sl_err rc);
/* --since: an age (90m, 12h, 7d), a date (2026-11-30) or a UTC time (2026-11-30T09:00:00Z)
 * into milliseconds since the epoch; -1 when it is none of those. */
int sl__cli_parse_since(const char *s, long long *ms);

/* sluice serve --sync (cmd_sync.c): the sync database opened (--sync-store WHERE, else
 * SLUICE_SYNC_STORE, else DATA/sync.db) and a thread applying events as the inbox commits them
 * (sl__cli_sync_committed is the inbox's committed hook; ctx is the sl_cli_sync_t). */
typedef struct sl_cli_sync sl_cli_sync_t;
int sl__cli_sync_start(sl_cli_env_t *env, const char *where, const char *schema,
                       sl_cli_sync_t **out);
void sl__cli_sync_committed(void *ctx, const sl_event_in_t *ev, size_t n, const int *fresh);
/* Applies what is queued and stops; NULL is a no-op. */
void sl__cli_sync_stop(sl_cli_sync_t *cs);
/* Waits (up to wait_ms) until every event committed so far is applied, then prints the newest
 * rows of customers and invoices (sluice demo). */
void sl__cli_sync_show(sl_cli_sync_t *cs, long wait_ms);

#endif
