/* libFuzzer: a flow file (YAML, or JSON, which is YAML's flow style) is loaded and checked
 * without crashing, leaking or running away; a file that fails has at least one problem, and
 * every problem is a "FILE:LINE:COL: message" string; a file that loads is a whole flow. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flow.h"
#include "flow/yaml.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
    static const char file[] = "fuzz.yaml";
    json_t *errors = json_array();
    sl_flow_t f;
    sl_err rc = sl__flow_load_text(file, (const char *)data, len, &f, errors);
    if (rc != SL_OK && json_array_size(errors) == 0)
        abort(); /* refused with no word why (a message lost on the way) */
    if (rc == SL_OK && json_array_size(errors) != 0)
        abort();
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        const char *s = json_string_value(e);
        if (!s || strncmp(s, file, sizeof file - 1) != 0 || s[sizeof file - 1] != ':')
            abort(); /* not a problem that says where it is */
    }
    if (rc == SL_OK) {
        if (!f.name[0] || !json_is_object(f.def) || f.trigger < SL_TRIGGER_EVENTS ||
            f.trigger > SL_TRIGGER_SCHEDULE)
            abort();
        sl__flow_wants(&f, "invoice.paid", "shop");
        if (f.trigger == SL_TRIGGER_SCHEDULE)
            sl__cron_matches(&f.cron, 1700000000);
    }
    /* Every position recorded answers sl__yaml_where, and so does a path it never saw. */
    const char *path;
    json_t *lc;
    char where[32];
    json_object_foreach(f.pos, path, lc) sl__yaml_where(f.pos, path, where, sizeof where);
    sl__yaml_where(f.pos, "steps[99].with.nothing", where, sizeof where);
    sl__flow_cleanup(&f);
    json_decref(errors);
    return 0;
}
