/* The sluice command line: shared pieces of the subcommands. */
#ifndef SLUICE_CLI_H
#define SLUICE_CLI_H

#include <stdio.h>

/* Exit codes every subcommand uses. */
enum {
    CLI_OK = 0,
    CLI_EFAIL = 1,    /* Stripe answered with an error, or the operation failed */
    CLI_EUSAGE = 2,   /* the command line is wrong; nothing was sent */
    CLI_ENETWORK = 3, /* no answer from the server after the retries */
};

typedef struct sl_cli_cmd {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand's name */
    void (*help)(FILE *out);
} sl_cli_cmd_t;

int sl__cmd_call(int argc, char **argv);
void sl__cmd_call_help(FILE *out);
int sl__cmd_ops(int argc, char **argv);
void sl__cmd_ops_help(FILE *out);
int sl__cmd_events(int argc, char **argv);
void sl__cmd_events_help(FILE *out);

/* Prints "sluice CMD: <message>" to stderr and returns CLI_EUSAGE. */
int sl__cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parses a whole decimal number in [min, max]; returns 0 on success. */
int sl__cli_parse_long(const char *s, long min, long max, long *out);

#endif
