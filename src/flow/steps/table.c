/* The step table: every kind a flow's step may be, in the order `sluice flows` names them. The
 * control kinds (loop, if, filter, set) are run by run.c; each action is a file of its own. */
#include <string.h>

#include "flow/internal.h"

static const char *const loop_extra[] = {"steps", NULL};
static const char *const if_extra[] = {"then", "else", NULL};

static const sl_step_kind_t step_loop = {.name = "loop", .flow = SL_STEP_LOOP, .extra = loop_extra};
static const sl_step_kind_t step_if = {.name = "if", .flow = SL_STEP_IF, .extra = if_extra};
static const sl_step_kind_t step_filter = {.name = "filter", .flow = SL_STEP_FILTER};
static const sl_step_kind_t step_set = {.name = "set", .flow = SL_STEP_SET};

const sl_step_kind_t *const sl__step_table[] = {
    &sl__step_stripe, &step_loop,      &step_if,          &step_filter,   &step_set,
    &sl__step_http,   &sl__step_email, &sl__step_contact, &sl__step_emit, NULL,
};

const sl_step_kind_t *sl__step_of(const json_t *step)
{
    const sl_step_kind_t *found = NULL;
    for (size_t i = 0; sl__step_table[i]; i++)
        if (json_object_get(step, sl__step_table[i]->name)) {
            if (found)
                return NULL;
            found = sl__step_table[i];
        }
    return found;
}

const char *sl__step_kind(const json_t *step)
{
    const sl_step_kind_t *k = sl__step_of(step);
    return k ? k->name : NULL;
}

const char *sl__json_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}
