/* The `contact` step: upserts a contact by email (case-insensitive), created when missing, as
 * Loops does. */
#include <stdio.h>
#include <string.h>

#include "flow/internal.h"

/* A contact's `name` ("Jenny Rosen") fills first_name and last_name when they are not given:
 * the first word, and the rest. */
static void contact_names(json_t *input)
{
    const char *name = sl__json_str(input, "name");
    if (!name || sl__json_str(input, "first_name") || sl__json_str(input, "last_name"))
        return;
    while (*name == ' ')
        name++;
    size_t n = strcspn(name, " ");
    const char *rest = name + n;
    while (*rest == ' ')
        rest++;
    if (n)
        json_object_set_new(input, "first_name", json_stringn(name, n));
    if (*rest)
        json_object_set_new(input, "last_name", json_string(rest));
}

static sl_step_result_t act_contact(sl_step_call_t *call, json_t *input, json_t **out, char *err,
                                    size_t errlen)
{
    const char *email = sl__json_str(input, "email");
    if (!email || !strchr(email, '@')) {
        snprintf(err, errlen, "contact email `%s` is not an email address",
                 email ? email : "(not a string)");
        return SL_STEP_FAIL;
    }
    contact_names(input);
    sl_store_t *s = call->engine->cfg.store;
    int created = 0;
    json_t *row = NULL;
    if (sl_store_contact_upsert(s, email, sl__json_str(input, "first_name"),
                               sl__json_str(input, "last_name"), &created, &row, err, errlen))
        return SL_STEP_RETRY; /* the store is busy or full: worth another attempt */
    *out = row ? row : json_object();
    json_object_set_new(*out, "created", json_boolean(created));
    return SL_STEP_OK;
}

static const char *const contact_fields[] = {"email", "first_name", "last_name", "name", NULL};
static const char *const contact_needs[] = {"email", NULL};

const sl_step_kind_t sl__step_contact = {
    .name = "contact",
    .flow = SL_STEP_ACTION,
    .fields = contact_fields,
    .needs = contact_needs,
    .act = act_contact,
};
