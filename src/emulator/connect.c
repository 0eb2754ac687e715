/* Connected accounts (Connect): kept with state. Create, retrieve, update (account.updated),
 * list, and delete, which disconnects the account from the platform as Stripe records it:
 * account.application.deauthorized, whose object is the platform's application. */
#include <stdio.h>
#include <string.h>

#include "emulator/internal.h"

/* The platform's Connect application: the emulator is one platform, so its id is fixed, as its
 * own account's is (acct_sluiceemulator). */
#define EMU_APPLICATION "ca_sluiceemulator"

/* capabilities[NAME][requested]=true|false asks for a capability; the account's field is its
 * status, a string: active at once in test mode, or inactive when not requested. The parameter
 * is taken out of typed (it is no field as sent); the statuses are returned. */
static json_t *capability_statuses(json_t *typed)
{
    json_t *asked = json_object_get(typed, "capabilities");
    json_t *statuses = json_object();
    const char *name;
    json_t *v;
    json_object_foreach(asked, name, v)
    {
        json_object_set_new(
            statuses, name,
            json_string(json_is_true(json_object_get(v, "requested")) ? "active" : "inactive"));
    }
    json_object_del(typed, "capabilities");
    json_object_del(typed, "external_account"); /* a token for a bank account: not kept */
    return statuses;
}

sl_emu_reply_t sl__emu_accounts(sl_emulator_t *e, const char *verb, const char *id, json_t *typed,
                                const char *request_id, const char *idem_key)
{
    const sl_emu_resource_t *r = sl__emu_resource("accounts", 8);
    if (strcmp(verb, "update") == 0) {
        json_t *statuses = capability_statuses(typed);
        if (json_object_size(statuses))
            json_object_set_new(typed, "capabilities", statuses);
        else
            json_decref(statuses);
        return sl__emu_update(e, r, id ? id : "", typed, request_id, idem_key);
    }
    if (strcmp(verb, "create") == 0) {
        json_t *statuses = capability_statuses(typed);
        sl_emu_reply_t out = sl__emu_create(e, r, typed, request_id, idem_key);
        if (out.status != 200) {
            json_decref(statuses);
            return out;
        }
        /* The example's list of external accounts names the example's id. */
        const char *aid = json_string_value(json_object_get(out.body, "id"));
        char url[128];
        snprintf(url, sizeof url, "/v1/accounts/%s/external_accounts", aid);
        json_t *acct = sl__emu_get(e, aid);
        json_object_set_new(acct, "capabilities", statuses); /* only those asked for */
        json_object_set_new(
            acct, "external_accounts",
            json_pack("{s:s,s:[],s:b,s:s}", "object", "list", "data", "has_more", 0, "url", url));
        json_decref(out.body);
        return (sl_emu_reply_t){200, json_deep_copy(acct), 0, NULL, 0, 0};
    }
    if (strcmp(verb, "delete") == 0) {
        sl_emu_reply_t out = sl__emu_delete(e, r, id ? id : "", request_id);
        if (out.status != 200)
            return out;
        json_t *app =
            json_pack("{s:s,s:s,s:n}", "id", EMU_APPLICATION, "object", "application", "name");
        sl__emu_emit(e, "account.application.deauthorized", app, NULL, request_id, idem_key);
        json_decref(app);
        return out;
    }
    sl_emu_reply_t out = sl__emu_unkept("sluice emulate does not keep accounts.%s", verb);
    return out;
}
