/* The `email` step: one mail over SMTP (net/smtp.c). Settings come from the step's or the
 * flow's `smtp`, else from SLUICE_SMTP_*; a password is only ever read from the environment. */
#include <stdio.h>
#include <stdlib.h>

#include "flow/internal.h"
#include "net/smtp.h"

static sl_step_result_t act_email(sl_step_call_t *call, json_t *in, json_t **out, char *err,
                                  size_t errlen)
{
    const json_t *smtp = json_object_get(in, "smtp");
    if (!smtp)
        smtp = json_object_get(call->flow->def, "smtp");
    const char *pw_env = sl__json_str(smtp, "password_env");
    sl_smtp_config_t cfg = {
        sl__json_str(smtp, "url") ? sl__json_str(smtp, "url") : getenv("SLUICE_SMTP_URL"),
        sl__json_str(smtp, "username") ? sl__json_str(smtp, "username")
                                       : getenv("SLUICE_SMTP_USERNAME"),
        pw_env ? getenv(pw_env) : getenv("SLUICE_SMTP_PASSWORD"),
        sl__json_str(smtp, "tls"),
        0,
    };
    if (!cfg.url) {
        snprintf(err, errlen,
                 "no SMTP server: give the flow `smtp: {url: smtp://host:port}` or "
                 "set SLUICE_SMTP_URL");
        return SL_STEP_FAIL;
    }
    const json_t *to = json_object_get(in, "to");
    const char *list[65];
    size_t n = 0;
    if (json_is_string(to))
        list[n++] = json_string_value(to);
    for (size_t i = 0; json_is_array(to) && i < json_array_size(to) && n < 64; i++)
        if (json_is_string(json_array_get(to, i)))
            list[n++] = json_string_value(json_array_get(to, i));
    list[n] = NULL;
    if (!n) {
        snprintf(err, errlen, "email `to` is empty");
        return SL_STEP_FAIL;
    }
    const char *from =
        sl__json_str(in, "from") ? sl__json_str(in, "from") : getenv("SLUICE_SMTP_FROM");
    const char *subject = sl__json_str(in, "subject");
    sl_mail_t mail = {from ? from : "sluice <sluice@localhost>",
                      list,
                      subject ? subject : "",
                      sl__json_str(in, "text"),
                      sl__json_str(in, "html"),
                      sl__json_str(in, "reply_to")};
    char mid[256] = "";
    sl_err rc = sl__smtp_check(&cfg, &mail, err, errlen);
    if (!rc)
        rc = sl__smtp_send(&cfg, &mail, mid, sizeof mid, err, errlen);
    if (rc) /* a send that timed out may have gone out: not retried */
        return rc == SL_ENETWORK ? SL_STEP_RETRY : SL_STEP_FAIL;
    *out = json_pack("{s:s,s:O}", "message_id", mid, "to", to);
    return SL_STEP_OK;
}

static void check_email(sl_check_t *c, const json_t *step, const char *path)
{
    const json_t *body = json_object_get(step, "email");
    if (!json_object_get(body, "text") && !json_object_get(body, "html"))
        sl__check_problem(c, path, "an email step needs `text` or `html`");
}

static const char *const email_fields[] = {"to",   "from",     "subject", "text",
                                           "html", "reply_to", "smtp",    NULL};
static const char *const email_needs[] = {"to", "subject", NULL};

const sl_step_kind_t sl__step_email = {
    .name = "email",
    .flow = SL_STEP_ACTION,
    .fields = email_fields,
    .needs = email_needs,
    .check = check_email,
    .act = act_email,
};
