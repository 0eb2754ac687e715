/* sluice.yaml: the options users would otherwise repeat, as defaults for each command.
 *
 *     store: postgres://sluice@db.internal/sluice     # for every command that takes --store
 *     data: /var/lib/sluice
 *     serve:                                          # for `sluice serve` only
 *       listen: 0.0.0.0:8080
 *       public-url: https://hooks.example.com
 *       workers: 4
 *
 * Found at --config FILE (before the command), else $SLUICE_CONFIG, else
 * ~/.config/sluice/sluice.yaml when it exists. A key is an option's long name; a value given on
 * the command line wins, since the file's come first and each option's last value stands. A
 * top-level key is passed only to the commands whose help offers that option; a key in a
 * command's own section that the command does not have is an error that names it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "flow/yaml.h"

/* Whether cmd's help offers --name. */
static int offers(const sl_cli_cmd_t *cmd, const char *name)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem)
        return 0;
    cmd->help(mem);
    fclose(mem);
    char want[96];
    snprintf(want, sizeof want, "--%s", name);
    int found = 0;
    for (char *p = text; p && (p = strstr(p, want)); p += strlen(want)) {
        char next = p[strlen(want)];
        if (!(next >= 'a' && next <= 'z') && next != '-') {
            found = 1;
            break;
        }
    }
    free(text);
    return found;
}

/* Appends "--key value" (or "--key" for true) to out; -1 on a value that is no scalar. */
static int add_option(char ***out, int *n, const char *key, const json_t *v)
{
    char value[4096];
    if (json_is_string(v))
        snprintf(value, sizeof value, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(value, sizeof value, "%lld", (long long)json_integer_value(v));
    else if (json_is_true(v))
        value[0] = '\0';
    else if (json_is_false(v) || json_is_null(v))
        return 0;
    else
        return -1;
    char **grown = realloc(*out, (size_t)(*n + 3) * sizeof **out);
    if (!grown)
        return -1;
    *out = grown;
    char opt[128];
    snprintf(opt, sizeof opt, "--%s", key);
    (*out)[(*n)++] = strdup(opt);
    if (!json_is_true(v))
        (*out)[(*n)++] = strdup(value);
    return 0;
}

int sl__cli_config(const char *path, int explicit_path, const sl_cli_cmd_t *cmd, char ***opts,
                   int *nopts)
{
    *opts = NULL;
    *nopts = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (!explicit_path)
            return CLI_OK;
        fprintf(stderr, "sluice: cannot read the config file %s\n", path);
        return CLI_EUSAGE;
    }
    static char text[SL_YAML_MAX_BYTES + 1];
    size_t len = fread(text, 1, sizeof text, f);
    fclose(f);
    if (len > SL_YAML_MAX_BYTES) {
        fprintf(stderr, "sluice: %s: larger than %u bytes\n", path, SL_YAML_MAX_BYTES);
        return CLI_EUSAGE;
    }
    char err[512];
    json_t *conf = sl__yaml_load(text, len, NULL, err, sizeof err);
    if (!conf || !json_is_object(conf)) {
        fprintf(stderr, "sluice: %s:%s\n", path, conf ? "1:1: not a mapping of options" : err);
        json_decref(conf);
        return CLI_EUSAGE;
    }
    int ret = CLI_OK;
    const char *key;
    json_t *v;
    json_object_foreach(conf, key, v)
    {
        if (json_is_object(v)) {
            if (strcmp(key, cmd->name))
                continue; /* another command's section */
            const char *k;
            json_t *x;
            json_object_foreach(v, k, x)
            {
                if (!offers(cmd, k)) {
                    fprintf(stderr, "sluice: %s: `%s.%s`: sluice %s has no --%s\n", path, key, k,
                            cmd->name, k);
                    ret = CLI_EUSAGE;
                } else if (add_option(opts, nopts, k, x)) {
                    fprintf(stderr, "sluice: %s: `%s.%s` takes a single value\n", path, key, k);
                    ret = CLI_EUSAGE;
                }
            }
        } else if (offers(cmd, key) && add_option(opts, nopts, key, v)) {
            fprintf(stderr, "sluice: %s: `%s` takes a single value\n", path, key);
            ret = CLI_EUSAGE;
        }
    }
    json_decref(conf);
    return ret;
}
