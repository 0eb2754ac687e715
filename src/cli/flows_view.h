/* Shared by `sluice flows` and `sluice runs` (internal). */
#ifndef SLUICE_CLI_FLOWS_VIEW_H
#define SLUICE_CLI_FLOWS_VIEW_H

#include <jansson.h>

#include "cli/cli.h"
#include "flow/flow.h"

/* --flows DIR, else $SLUICE_FLOWS, else DATA/flows. */
void sl__cli_flows_dir(const char *opt, const sl_cli_env_t *env, char *out, size_t n);

/* Loads the flows, printing every problem; returns a CLI exit code. */
int sl__cli_flows_load(const char *cmd, const char *dir, sl_flows_t *flows);

/* The debug view: the run, then each step with its input, output, timing and error. */
void sl__cli_run_print(const json_t *run, const json_t *steps, const json_t *event, int full);

void sl__cli_when(long long ms, char *out, size_t n);

/* Prints the debug view of the run `id` from the store; exit code 1 if it failed, 2 if none. */
int sl__cli_show_run(sl_store_t *store, const char *id, int full);

/* Sees queued runs (ids) to their end: when a `sluice serve` runs on the store, it runs them
 * with its settings and this waits; else they run here, with the flows in flows_opt (or the
 * default directory). One run: its debug view; several: a line each. CLI_EFAIL when a run
 * failed. */
int sl__cli_finish_runs(const char *cmd, sl_cli_env_t *env, const char *flows_opt,
                        const json_t *ids, int full);

#endif
