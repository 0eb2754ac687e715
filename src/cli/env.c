/* What the commands that keep state share: the data directory, the store and the master key. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int sl__cli_env_open(sl_cli_env_t *env, const char *cmd, const char *data_opt,
                     const char *store_opt, int need_crypt)
{
    return sl__cli_env_open_pool(env, cmd, data_opt, store_opt, need_crypt, 0);
}

int sl__cli_env_open_pool(sl_cli_env_t *env, const char *cmd, const char *data_opt,
                          const char *store_opt, int need_crypt, int pool)
{
    char err[512];
    memset(env, 0, sizeof *env);
    if (sl__data_dir(data_opt, env->data, sizeof env->data, err, sizeof err)) {
        fprintf(stderr, "sluice %s: %s\n", cmd, err);
        return CLI_EFAIL;
    }
    char uri[4200];
    if (!store_opt || !*store_opt)
        store_opt = getenv("SLUICE_STORE");
    if (store_opt && *store_opt)
        snprintf(uri, sizeof uri, "%s", store_opt);
    else
        snprintf(uri, sizeof uri, "sqlite:%s/sluice.db", env->data);
    sl_err rc = sl_store_open_pool(uri, pool, &env->store, err, sizeof err);
    if (rc) {
        fprintf(stderr, "sluice %s: %s\n", cmd, err);
        return rc == SL_EINVAL ? CLI_EUSAGE : CLI_EFAIL;
    }
    if (need_crypt) {
        if (sl__crypt_init(&env->crypt, env->data, err, sizeof err)) {
            fprintf(stderr, "sluice %s: %s\n", cmd, err);
            sl_store_close(env->store);
            env->store = NULL;
            return CLI_EFAIL;
        }
        env->have_crypt = 1;
    }
    return CLI_OK;
}

void sl__cli_env_close(sl_cli_env_t *env)
{
    sl_store_close(env->store);
    if (env->have_crypt)
        sl__crypt_cleanup(&env->crypt);
    memset(env, 0, sizeof *env);
}

void sl__cli_trace(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "%s\n", line);
}

int sl__cli_collect_name(const sl_conn_row_t *row, void *ctx)
{
    sl_cli_names_t *acc = ctx;
    if (*acc->n >= acc->cap)
        return 1;
    snprintf(acc->names[*acc->n], 64, "%s", row->name);
    (*acc->n)++;
    return 0;
}

void sl__cli_block_stop_signals(sigset_t *stop)
{
    sigemptyset(stop);
    sigaddset(stop, SIGTERM);
    sigaddset(stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, stop, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int sl__cli_wait_stop(const sigset_t *stop)
{
    int sig = 0;
    while (sigwait(stop, &sig) != 0)
        ;
    return sig;
}
