/* sluice: the command-line entry point and its help. */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ctype.h>
#include <errno.h>

#include "cli/cli.h"
#include "sluice/stripe.h"

static const sl_cli_cmd_t commands[] = {
    {"call", "Call any Stripe API operation: sluice call customers.create email=a@b.co",
     sl__cmd_call, sl__cmd_call_help},
    {"ops", "List the operations and named actions, or show one: sluice ops customers.create",
     sl__cmd_ops, sl__cmd_ops_help},
    {"connect", "Add and manage Stripe connections: sluice connect add shop --key sk_test_...",
     sl__cmd_connect, sl__cmd_connect_help},
    {"serve", "Receive, verify and store webhooks: sluice serve --listen 127.0.0.1:8080",
     sl__cmd_serve, sl__cmd_serve_help},
    {"demo", "The whole system offline: emulator, serve, a connection, webhooks", sl__cmd_demo,
     sl__cmd_demo_help},
    {"emulate", "A local, stateful Stripe that sends webhooks: sluice emulate", sl__cmd_emulate,
     sl__cmd_emulate_help},
    {"trigger", "Make the calls behind an event, or post a sample: sluice trigger invoice.paid",
     sl__cmd_trigger, sl__cmd_trigger_help},
    {"flows", "Automations as files: sluice flows list | validate | enable | disable | run NAME",
     sl__cmd_flows, sl__cmd_flows_help},
    {"runs", "Flow runs step by step: sluice runs list | show ID | retry ID", sl__cmd_runs,
     sl__cmd_runs_help},
    {"sync", "Stripe's objects as SQL tables: sluice sync backfill | rebuild | status",
     sl__cmd_sync, sl__cmd_sync_help},
    {"events", "The inbox and event types: sluice events list, show ID, replay ID, types",
     sl__cmd_events, sl__cmd_events_help},
    {"mcp", "Stripe and sluice as tools for AI agents (MCP over stdio): sluice mcp", sl__cmd_mcp,
     sl__cmd_mcp_help},
    {"completion", "Shell completion: source <(sluice completion bash)", sl__cmd_completion,
     sl__cmd_completion_help},
    {"man", "The manual page, from every command's help: sluice man > sluice.1", sl__cmd_man,
     sl__cmd_man_help},
};
#define NCOMMANDS (sizeof commands / sizeof *commands)

const sl_cli_cmd_t *sl__cli_commands(size_t *n)
{
    *n = NCOMMANDS;
    return commands;
}

/* Replaces the secret part of anything that looks like a key (sk_, rk_, whsec_) in msg. */
static void mask_secrets(char *msg, size_t cap)
{
    static const char *const prefixes[] = {"sk_", "rk_", "whsec_"};
    for (char *p = msg; *p; p++) {
        if (p != msg && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
            continue;
        for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
            if (strncmp(p, prefixes[i], strlen(prefixes[i])) != 0)
                continue;
            size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
            char key[512], masked[64];
            snprintf(key, sizeof key, "%.*s", (int)(n < sizeof key ? n : sizeof key - 1), p);
            sl_key_mask(key, masked, sizeof masked);
            size_t m = strlen(masked), rest = strlen(p + n);
            if ((size_t)(p - msg) + m + rest + 1 > cap)
                return;
            memmove(p + m, p + n, rest + 1);
            memcpy(p, masked, m);
            p += m - 1;
            break;
        }
    }
}

int sl__cli_usage_error(const char *cmd, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mask_secrets(msg, sizeof msg);
    if (cmd)
        fprintf(stderr, "sluice %s: %s\n", cmd, msg);
    else
        fprintf(stderr, "sluice: %s\n", msg);
    return CLI_EUSAGE;
}

int sl__cli_option_error(const char *cmd, int c, char **argv)
{
    if (optopt > 0 && optopt < 256)
        return sl__cli_usage_error(cmd,
                                   c == ':' ? "option `-%c` needs a value"
                                            : "unknown option `-%c`; see `sluice %s --help`",
                                   optopt, cmd);
    /* A long option: argv[optind - 1] is that option (cut at '=', never its value). */
    const char *arg = argv[optind - 1];
    int n = (int)strcspn(arg, "=");
    return sl__cli_usage_error(cmd,
                               c == ':' ? "option `%.*s` needs a value"
                                        : "unknown option `%.*s`; see `sluice %s --help`",
                               n, arg, cmd);
}

int sl__cli_parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int sl__cli_exit(sl_err rc)
{
    return rc == SL_OK                              ? CLI_OK
           : rc == SL_ENOTFOUND                     ? CLI_ENOTFOUND
           : rc == SL_EINVAL                        ? CLI_EUSAGE
           : rc == SL_ENETWORK || rc == SL_ETIMEOUT ? CLI_ENETWORK
                                                    : CLI_EFAIL;
}

int sl__cli_parse_since(const char *s, long long *ms)
{
    /* An age: 90m, 12h, 7d (or 30s) ago. */
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (!errno && end != s && n >= 0 && end[0] && !end[1] && strchr("smhd", end[0])) {
        long long unit = end[0] == 's' ? 1 : end[0] == 'm' ? 60 : end[0] == 'h' ? 3600 : 86400;
        *ms = ((long long)time(NULL) - n * unit) * 1000;
        return 0;
    }
    /* A date or a UTC time. */
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = strptime(s, "%Y-%m-%d", &tm);
    if (rest && *rest == 'T')
        rest = strptime(rest + 1, "%H:%M:%S", &tm);
    if (rest && *rest == 'Z')
        rest++;
    if (!rest || *rest)
        return -1;
    *ms = (long long)timegm(&tm) * 1000;
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out,
            "sluice %s: a self-hosted Stripe automation engine\n\n"
            "Usage: sluice [--config FILE] COMMAND [OPTIONS] [ARGS]\n\nCommands:\n",
            SLUICE_VERSION);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "  %-8s %s\n", "help", "Show help for a command: sluice help call");
    fprintf(out,
            "\nOptions:\n  -h, --help     show this help\n  -V, --version  show the version\n"
            "  --config FILE  options for the commands, as YAML (default: $SLUICE_CONFIG, else\n"
            "                 ~/.config/sluice/sluice.yaml): top-level keys for every command\n"
            "                 that takes them (store: URI), a command's section for it alone\n"
            "                 (serve: {listen: ..., workers: 4}); the command line wins\n"
            "\nExit codes: 0 ok, 1 Stripe or operation error, 2 usage error, 3 network failure,\n"
            "4 not found.\n");
}

static const sl_cli_cmd_t *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EUSAGE;
    }
    const char *arg = argv[1];
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0) {
        printf("sluice %s\n", SLUICE_VERSION);
        return CLI_OK;
    }
    if (strcmp(arg, "help") == 0) {
        if (argc < 3) {
            usage(stdout);
            return CLI_OK;
        }
        if (strcmp(argv[2], "help") == 0) { /* sluice help help: what help does */
            usage(stdout);
            return CLI_OK;
        }
        const sl_cli_cmd_t *c = find_command(argv[2]);
        if (!c)
            return sl__cli_usage_error(NULL,
                                       "no command named `%s`; run `sluice --help` for "
                                       "the list",
                                       argv[2]);
        c->help(stdout);
        return CLI_OK;
    }
    /* sluice.yaml: --config FILE before the command, else $SLUICE_CONFIG, else the user's. */
    const char *config = getenv("SLUICE_CONFIG");
    int explicit_config = config && *config;
    char home_config[4096] = "";
    if (strcmp(arg, "--config") == 0 && argc >= 3) {
        config = argv[2];
        explicit_config = 1;
        argv += 2;
        argc -= 2;
        if (argc < 2)
            return sl__cli_usage_error(NULL, "--config FILE comes before a command");
        arg = argv[1];
    } else if (!explicit_config && getenv("HOME")) {
        snprintf(home_config, sizeof home_config, "%s/.config/sluice/sluice.yaml", getenv("HOME"));
        config = home_config;
    }
    if (arg[0] == '-')
        return sl__cli_usage_error(NULL, "unknown option `%s`; run `sluice --help`", arg);
    const sl_cli_cmd_t *c = find_command(arg);
    if (!c)
        return sl__cli_usage_error(NULL, "unknown command `%s`; run `sluice --help` for the list",
                                   arg);
    char **opts = NULL;
    int nopts = 0;
    if (config && *config && strcmp(arg, "man") && strcmp(arg, "completion")) {
        int rc = sl__cli_config(config, explicit_config, c, &opts, &nopts);
        if (rc) {
            for (int i = 0; i < nopts; i++)
                free(opts[i]);
            free(opts);
            return rc;
        }
    }
    if (!nopts)
        return c->run(argc - 1, argv + 1);
    /* The file's options first, then the command line's: the last value of each stands. Kept
     * after a subcommand word (connect add, runs retry), which commands read first. */
    char **args = calloc((size_t)(argc + nopts + 1), sizeof *args);
    int n = 0;
    args[n++] = argv[1];
    int sub = argc > 2 && argv[2][0] != '-';
    if (sub)
        args[n++] = argv[2];
    for (int i = 0; i < nopts; i++)
        args[n++] = opts[i];
    for (int i = sub ? 3 : 2; i < argc; i++)
        args[n++] = argv[i];
    int ret = c->run(n, args);
    for (int i = 0; i < nopts; i++)
        free(opts[i]);
    free(opts);
    free(args);
    return ret;
}
