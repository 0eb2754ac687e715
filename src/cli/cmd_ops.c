/* sluice ops: the catalog of Stripe operations and the seeds' named actions. */
#include <getopt.h>
#include <string.h>

#include "cli/cli.h"
#include "sluice/catalog.h"

#define CMD "ops"

void sl__cmd_ops_help(FILE *out)
{
    fprintf(out,
            "Usage: sluice ops [FILTER] [--json]\n"
            "       sluice ops NAME [--json]\n"
            "       sluice ops --seeds [--json]\n"
            "\n"
            "Lists every Stripe API operation sluice can call (name, method, path), generated\n"
            "from Stripe's OpenAPI description (API version %s). FILTER keeps the operations\n"
            "whose name or path contains it. Given an operation's or a named action's exact\n"
            "name, shows its parameters like a manual page: required ones first, with types,\n"
            "allowed values and nested fields.\n"
            "\n"
            "Names follow the official SDKs: resource, then method (customers.create,\n"
            "customers.retrieve, invoices.finalize, checkout.sessions.create,\n"
            "customers.tax_ids.list). --seeds lists the actions of Konnectify, the agent\n"
            "platform and Tray under their own names (find-customer, archive-price, ...);\n"
            "they are accepted wherever an operation name is, in any case.\n"
            "\n"
            "Options:\n"
            "  --seeds   list the named actions\n"
            "  --json    print JSON instead of text\n"
            "  -h, --help\n"
            "\n"
            "Examples:\n"
            "  sluice ops | wc -l\n"
            "  sluice ops invoices\n"
            "  sluice ops customers.create\n"
            "  sluice ops find-customer\n",
            sl_catalog_api_version());
}

static void print_json(json_t *v)
{
    json_dumpf(v, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    json_decref(v);
}

/* Prints one parameter and, indented, its nested fields. */
static void print_param(const json_t *p, int depth)
{
    const char *name = json_string_value(json_object_get(p, "name"));
    const char *type = json_string_value(json_object_get(p, "type"));
    const char *desc = json_string_value(json_object_get(p, "description"));
    int required = json_is_true(json_object_get(p, "required"));
    int unset = json_is_true(json_object_get(p, "unsettable"));
    int indent = 4 + depth * 4;
    const json_t *items = json_object_get(p, "items");
    const char *item_type = json_string_value(json_object_get(items, "type"));
    char full_type[160];
    snprintf(full_type, sizeof full_type, "%s%s%s", type ? type : "", item_type ? " of " : "",
             item_type ? item_type : "");
    char head[256];
    snprintf(head, sizeof head, "%s  (%s%s%s)", name ? name : "?", full_type,
             required ? ", required" : "", unset ? ", \"\" unsets" : "");
    printf("%*s%s\n", indent, "", head);
    if (desc && *desc)
        printf("%*s%s\n", indent + 4, "", desc);
    const json_t *en = json_object_get(p, "enum");
    if (json_array_size(en)) {
        printf("%*sone of: ", indent + 4, "");
        for (size_t i = 0; i < json_array_size(en); i++)
            printf("%s%s", i ? ", " : "", json_string_value(json_array_get(en, i)));
        printf("\n");
    }
    if (json_is_true(json_object_get(p, "any_keys")))
        printf("%*sany keys: %s[KEY]=VALUE\n", indent + 4, "", name ? name : "");
    const json_t *fields = json_object_get(p, "fields");
    if (!json_array_size(fields) && items)
        fields = json_object_get(items, "fields");
    if (json_array_size(fields)) {
        if (depth >= 3) {
            printf("%*s(%zu nested fields: sluice ops NAME --json shows them all)\n", indent + 4,
                   "", json_array_size(fields));
            return;
        }
        for (size_t i = 0; i < json_array_size(fields); i++)
            print_param(json_array_get(fields, i), depth + 1);
    }
}

static void print_manual(const sl_op_t *op, const sl_alias_t *alias)
{
    json_t *d = sl_op_describe(op);
    if (alias) {
        printf("%s — %s (%s)\n", sl_alias_name(alias), sl_alias_title(alias),
               sl_alias_source(alias));
        printf("    Calls %s.", sl_op_name(op));
        if (sl_alias_note(alias)[0])
            printf(" %s", sl_alias_note(alias));
        printf("\n\n");
    }
    printf("%s\n    %s\n\n    %s %s  ->  %s\n", sl_op_name(op), sl_op_summary(op), sl_op_method(op),
           sl_op_path(op), sl_op_response(op));
    const json_t *pp = json_object_get(d, "path_params");
    if (json_array_size(pp)) {
        printf("\nPATH PARAMETERS (name=ID, or the IDs in order after the operation's name)\n");
        for (size_t i = 0; i < json_array_size(pp); i++) {
            const json_t *p = json_array_get(pp, i);
            printf("    %s  (string, required)\n", json_string_value(json_object_get(p, "name")));
            const char *desc = json_string_value(json_object_get(p, "description"));
            if (desc && *desc)
                printf("        %s\n", desc);
        }
    }
    const json_t *params = json_object_get(d, "params");
    printf("\n%s PARAMETERS\n", strcmp(sl_op_method(op), "POST") == 0 ? "BODY" : "QUERY");
    if (!json_array_size(params))
        printf("    (none)\n");
    for (size_t i = 0; i < json_array_size(params); i++)
        print_param(json_array_get(params, i), 0);

    printf("\nEXAMPLE\n    sluice call %s", alias ? sl_alias_name(alias) : sl_op_name(op));
    for (size_t i = 0; i < json_array_size(pp); i++)
        printf(" %s_ID", json_string_value(json_object_get(json_array_get(pp, i), "name")));
    for (size_t i = 0; i < json_array_size(params); i++) {
        const json_t *p = json_array_get(params, i);
        if (json_is_true(json_object_get(p, "required")))
            printf(" %s=...", json_string_value(json_object_get(p, "name")));
    }
    printf("\n");
    json_decref(d);
}

static int list_seeds(int as_json)
{
    json_t *arr = as_json ? json_array() : NULL;
    for (size_t i = 0; i < sl_alias_count(); i++) {
        const sl_alias_t *a = sl_alias_at(i);
        const sl_op_t *op = sl_alias_op(a);
        if (arr) {
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "name",
                                                 sl_alias_name(a), "title", sl_alias_title(a),
                                                 "source", sl_alias_source(a), "operation",
                                                 sl_op_name(op), "method", sl_op_method(op), "path",
                                                 sl_op_path(op), "note", sl_alias_note(a)));
        } else {
            printf("%-30s %-28s %-26s %s\n", sl_alias_name(a), sl_op_name(op), sl_alias_source(a),
                   sl_alias_title(a));
        }
    }
    if (arr)
        print_json(arr);
    return CLI_OK;
}

int sl__cmd_ops(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"seeds", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int as_json = 0, seeds = 0, c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            as_json = 1;
            break;
        case 's':
            seeds = 1;
            break;
        case 'h':
            sl__cmd_ops_help(stdout);
            return CLI_OK;
        default:
            return sl__cli_usage_error(CMD, "unknown option `%s`; see `sluice ops --help`",
                                       argv[optind - 1]);
        }
    }
    if (optind + 1 < argc)
        return sl__cli_usage_error(CMD, "takes at most one FILTER or NAME, got `%s` too",
                                   argv[optind + 1]);
    const char *filter = optind < argc ? argv[optind] : NULL;
    if (seeds) {
        if (filter)
            return sl__cli_usage_error(CMD, "--seeds takes no FILTER");
        return list_seeds(as_json);
    }
    if (filter) {
        const sl_op_t *op = sl_op_find(filter);
        const sl_alias_t *alias = op ? NULL : sl_alias_find(filter);
        if (alias)
            op = sl_alias_op(alias);
        if (op) {
            if (as_json)
                print_json(sl_op_describe(op));
            else
                print_manual(op, alias);
            return CLI_OK;
        }
    }
    json_t *arr = as_json ? json_array() : NULL;
    size_t shown = 0;
    for (size_t i = 0; i < sl_op_count(); i++) {
        const sl_op_t *op = sl_op_at(i);
        if (filter && !strstr(sl_op_name(op), filter) && !strstr(sl_op_path(op), filter))
            continue;
        shown++;
        if (arr)
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s}", "name", sl_op_name(op),
                                                 "method", sl_op_method(op), "path", sl_op_path(op),
                                                 "summary", sl_op_summary(op)));
        else
            printf("%-48s %-6s %s\n", sl_op_name(op), sl_op_method(op), sl_op_path(op));
    }
    if (arr)
        print_json(arr);
    if (!shown && filter) {
        fprintf(stderr, "sluice ops: no operation matches `%s`\n", filter);
        return CLI_EFAIL;
    }
    return CLI_OK;
}
