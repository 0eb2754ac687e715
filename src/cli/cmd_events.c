/* sluice events: Stripe's webhook event types (the inbox arrives with `sluice serve`). */
#include <getopt.h>
#include <string.h>

#include "cli/cli.h"
#include "sluice/catalog.h"

#define CMD "events"

void sl__cmd_events_help(FILE *out)
{
    fprintf(out,
            "Usage: sluice events types [FILTER] [--json]\n"
            "\n"
            "Lists the webhook event types of Stripe's API (version %s), each with a short\n"
            "description; FILTER keeps those containing it (for example `invoice.`).\n"
            "\n"
            "Examples:\n"
            "  sluice events types\n"
            "  sluice events types invoice. --json\n",
            sl_catalog_api_version());
}

static int events_types(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int as_json = 0, c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'j') {
            as_json = 1;
        } else if (c == 'h') {
            sl__cmd_events_help(stdout);
            return CLI_OK;
        } else {
            return sl__cli_usage_error(CMD, "unknown option `%s`; see `sluice events --help`",
                                       argv[optind - 1]);
        }
    }
    if (optind + 1 < argc)
        return sl__cli_usage_error(CMD, "types takes at most one FILTER");
    const char *filter = optind < argc ? argv[optind] : NULL;
    json_t *arr = as_json ? json_array() : NULL;
    size_t shown = 0;
    for (size_t i = 0; i < sl_event_type_count(); i++) {
        const char *name = sl_event_type_name(i);
        if (filter && !strstr(name, filter))
            continue;
        shown++;
        if (arr)
            json_array_append_new(arr, json_pack("{s:s,s:s}", "type", name, "description",
                                                 sl_event_type_description(i)));
        else
            printf("%-56s %s\n", name, sl_event_type_description(i));
    }
    if (arr) {
        json_dumpf(arr, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(arr);
    }
    if (!shown && filter) {
        fprintf(stderr, "sluice events: no event type contains `%s`\n", filter);
        return CLI_EFAIL;
    }
    return CLI_OK;
}

int sl__cmd_events(int argc, char **argv)
{
    if (argc < 2)
        return sl__cli_usage_error(CMD, "needs a subcommand: types; see `sluice events --help`");
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        sl__cmd_events_help(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "types") == 0)
        return events_types(argc - 1, argv + 1);
    return sl__cli_usage_error(CMD, "unknown subcommand `%s`; see `sluice events --help`", argv[1]);
}
