/* sluice completion bash|zsh and sluice man: the shell completion and the manual page, both
 * made from the commands' own help, so they cannot drift from what the commands accept. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

void sl__cmd_completion_help(FILE *out)
{
    fprintf(out, "Usage: sluice completion bash|zsh\n"
                 "\n"
                 "Prints a completion script for the shell: commands, their subcommands and\n"
                 "options (read from each command's --help when you press Tab).\n"
                 "\n"
                 "  bash:  source <(sluice completion bash)        (or put it in ~/.bashrc)\n"
                 "  zsh:   source <(sluice completion zsh)         (or put it in ~/.zshrc)\n");
}

/* The subcommands each command takes (the words its help lists after "sluice CMD"). */
static const char *subcommands(const char *cmd)
{
    static const struct {
        const char *cmd, *subs;
    } table[] = {
        {"connect", "add list show remove rotate-secret unregister"},
        {"flows", "list validate enable disable run"},
        {"runs", "list show retry"},
        {"events", "list show replay types"},
        {"completion", "bash zsh"},
        {"help", NULL},
    };
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (!strcmp(table[i].cmd, cmd))
            return table[i].subs;
    return NULL;
}

int sl__cmd_completion(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "bash") && strcmp(argv[1], "zsh"))) {
        if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
            sl__cmd_completion_help(stdout);
            return CLI_OK;
        }
        return sl__cli_usage_error("completion", "takes the shell: bash or zsh");
    }
    if (!strcmp(argv[1], "zsh"))
        printf("autoload -U +X bashcompinit && bashcompinit\n");
    printf("# sluice completion for %s: source <(sluice completion %s)\n", argv[1], argv[1]);
    printf("_sluice() {\n"
           "    local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]}\n"
           "    if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
           "        COMPREPLY=($(compgen -W \"");
    size_t n = 0;
    const sl_cli_cmd_t *cmds = sl__cli_commands(&n);
    for (size_t i = 0; i < n; i++)
        printf("%s ", cmds[i].name);
    printf("help completion man\" -- \"$cur\"))\n"
           "        return\n"
           "    fi\n"
           "    case $cur in\n"
           "    -*)\n"
           "        COMPREPLY=($(compgen -W \"$(sluice \"$cmd\" --help 2>/dev/null"
           " | grep -o -- '--[a-z][a-z-]*' | sort -u)\" -- \"$cur\"))\n"
           "        return ;;\n"
           "    esac\n"
           "    if [ \"$COMP_CWORD\" -eq 2 ]; then\n"
           "        case $cmd in\n");
    for (size_t i = 0; i < n; i++) {
        const char *subs = subcommands(cmds[i].name);
        if (subs)
            printf("        %s) COMPREPLY=($(compgen -W \"%s\" -- \"$cur\")) ;;\n", cmds[i].name,
                   subs);
    }
    printf("        completion) COMPREPLY=($(compgen -W \"bash zsh\" -- \"$cur\")) ;;\n"
           "        help) COMPREPLY=($(compgen -W \"");
    for (size_t i = 0; i < n; i++)
        printf("%s ", cmds[i].name);
    printf("\" -- \"$cur\")) ;;\n"
           "        trigger) COMPREPLY=($(compgen -W \"$(sluice trigger --list 2>/dev/null)\""
           " -- \"$cur\")) ;;\n"
           "        call|ops) COMPREPLY=($(compgen -W \"$(sluice ops --json 2>/dev/null"
           " | grep -o '\"name\": *\"[^\"]*\"' | cut -d'\"' -f4)\" -- \"$cur\")) ;;\n"
           "        esac\n"
           "    fi\n"
           "}\n"
           "complete -F _sluice sluice\n");
    return CLI_OK;
}

void sl__cmd_man_help(FILE *out)
{
    fprintf(out, "Usage: sluice man\n\nPrints sluice's manual page (roff), made from every "
                 "command's help:\n  sluice man > sluice.1 && man ./sluice.1\n");
}

/* A line of help as roff: leading dots and backslashes escaped. */
static void roff_line(const char *line, size_t n)
{
    if (n && (line[0] == '.' || line[0] == '\''))
        fputs("\\&", stdout);
    for (size_t i = 0; i < n; i++) {
        if (line[i] == '\\')
            fputs("\\e", stdout);
        else if (line[i] == '-')
            fputs("\\-", stdout);
        else
            putchar(line[i]);
    }
    putchar('\n');
}

int sl__cmd_man(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        sl__cmd_man_help(stdout);
        return CLI_OK;
    }
    size_t n = 0;
    const sl_cli_cmd_t *cmds = sl__cli_commands(&n);
    printf(
        ".TH SLUICE 1 \"\" \"sluice %s\" \"User Commands\"\n"
        ".SH NAME\nsluice \\- a self\\-hosted Stripe automation engine\n"
        ".SH SYNOPSIS\n.B sluice\n.I COMMAND\n[\\fIOPTIONS\\fR] [\\fIARGS\\fR]\n"
        ".SH DESCRIPTION\n"
        "sluice receives Stripe's webhooks, verifies and stores them, runs flows on them, calls\n"
        "any Stripe API operation, and shows every run step by step.\n"
        ".SH COMMANDS\n",
        SLUICE_VERSION);
    for (size_t i = 0; i < n; i++) {
        printf(".SS %s\n%s\n.PP\n.nf\n", cmds[i].name, cmds[i].summary);
        char *text = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&text, &len);
        if (!mem)
            return CLI_EFAIL;
        cmds[i].help(mem);
        fclose(mem);
        for (char *p = text; p && *p;) {
            char *nl = strchr(p, '\n');
            size_t l = nl ? (size_t)(nl - p) : strlen(p);
            roff_line(p, l);
            p += l + (nl ? 1 : 0);
        }
        free(text);
        printf(".fi\n");
    }
    printf(".SH ENVIRONMENT\n.TP\n.B SLUICE_DATA\nthe data directory\n"
           ".TP\n.B SLUICE_STORE\nthe store: sqlite:PATH or postgres://USER@HOST/DB\n"
           ".TP\n.B SLUICE_MASTER_KEY\n64 hex digits: the key that seals stored secrets\n"
           ".TP\n.B SLUICE_FLOWS\nthe flow files' directory\n"
           ".TP\n.B SLUICE_ADMIN_TOKEN\nthe REST API's bearer token\n"
           ".TP\n.B SLUICE_FLOW_*\nvalues flows read as $.env (redacted in run history)\n"
           ".SH SEE ALSO\nThe README in sluice's repository.\n");
    return CLI_OK;
}
