/* libFuzzer: the emulator's stateless answers (operations it does not keep). The input is
 * "METHOD PATH", a newline, then a form body. What routes and passes the catalog's checks is
 * answered by sl__emu_stateless: 200 with an object that has an "object" field (a list's items
 * too; a delete's `deleted: true`, a retrieve's id the one the path names), or 501 with a Stripe
 * error when the description has no example; nothing crashes or leaks, whatever the body holds. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/internal.h"
#include "sluice/catalog.h"
#include "sluice/stripe.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
    if (len > 16384)
        return 0;
    char *text = malloc(len + 1);
    if (!text)
        return 0;
    memcpy(text, data, len);
    text[len] = '\0';
    char *nl = strchr(text, '\n');
    const char *body = "";
    size_t blen = 0;
    if (nl) {
        *nl = '\0';
        body = nl + 1;
        blen = len - (size_t)(body - text);
    }
    char *sp = strchr(text, ' ');
    const char *method = "GET", *path = text;
    if (sp) {
        *sp = '\0';
        method = text;
        path = sp + 1;
    }
    json_t *params = NULL;
    char err[512];
    if (sl_form_decode(body, blen, &params, err, sizeof err) != SL_OK) {
        free(text);
        return 0;
    }
    const sl_op_t *op = sl__emu_route(method, path, params);
    json_t *body_params = json_deep_copy(params);
    for (size_t i = 0; op && i < sl_op_path_param_count(op); i++)
        json_object_del(body_params, sl_op_path_param(op, i));
    if (op && sl_op_validate(op, body_params, err, sizeof err) == SL_OK) {
        sl_emu_reply_t r = sl__emu_stateless(op, params, path);
        if (r.status == 200) {
            const json_t *o = r.body;
            if (!json_is_string(json_object_get(o, "object")))
                abort(); /* an answer that is no Stripe object */
            const char *kind = json_string_value(json_object_get(o, "object"));
            if (strcmp(kind, "list") == 0 &&
                !json_is_string(
                    json_object_get(json_array_get(json_object_get(o, "data"), 0), "object")))
                abort();
            const char *verb = strrchr(sl_op_name(op), '.') + 1;
            size_t np = sl_op_path_param_count(op);
            const char *id =
                np ? json_string_value(json_object_get(params, sl_op_path_param(op, np - 1)))
                   : NULL;
            if (strcmp(verb, "retrieve") == 0 && id && json_object_get(o, "id") &&
                strcmp(json_string_value(json_object_get(o, "id")) ?: "", id) != 0)
                abort(); /* a retrieve that answers for another id */
        } else if (r.status != 501 || !json_object_get(r.body, "error")) {
            abort();
        }
        json_decref(r.body);
    }
    json_decref(body_params);
    json_decref(params);
    free(text);
    return 0;
}
