/* Connected accounts (Connect): kept with state. Create, retrieve, update (account.updated),
 * list, and delete, which disconnects the account from the platform as Stripe records it:
 * account.application.deauthorized, whose object is the platform's application. */
#include <stdio.h>
#include <string.h>

#include "emulator/internal.h"

/* The platform's Connect application: the emulator is one platform, so its id is fixed, as its
 * own account's is (acct_sluiceemulator). */
#define EMU_APPLICATION "ca_sluiceemulator"

sl_emu_reply_t sl__emu_accounts(sl_emulator_t *e, const char *verb, const char *id, json_t *typed,
                                const char *request_id, const char *idem_key)
{
    const sl_emu_resource_t *r = sl__emu_resource("accounts", 8);
    if (strcmp(verb, "create") == 0) {
        sl_emu_reply_t out = sl__emu_create(e, r, typed, request_id, idem_key);
        if (out.status != 200)
            return out;
        /* The example's list of external accounts names the example's id. */
        const char *aid = json_string_value(json_object_get(out.body, "id"));
        char url[128];
        snprintf(url, sizeof url, "/v1/accounts/%s/external_accounts", aid);
        json_t *acct = sl__emu_get(e, aid);
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
    sl_emu_reply_t out = sl__emu_error(501, "api_error", "not_implemented", NULL,
                                       "sluice emulate does not keep accounts.%s", verb);
    out.unkept = 1;
    return out;
}
