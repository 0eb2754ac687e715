#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "conn/conn.h"

static sl_err mkdir_p(const char *dir, char *err, size_t errlen)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) && errno != EEXIST)
            goto fail;
        *p = '/';
    }
    if (mkdir(buf, 0700) && errno != EEXIST)
        goto fail;
    return SL_OK;
fail:
    snprintf(err, errlen, "cannot create the data directory %s: %s", buf, strerror(errno));
    return SL_EIO;
}

sl_err sl__data_dir(const char *opt, char *out, size_t outlen, char *err, size_t errlen)
{
    const char *env = getenv("SLUICE_DATA"), *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    if (opt && *opt)
        snprintf(out, outlen, "%s", opt);
    else if (env && *env)
        snprintf(out, outlen, "%s", env);
    else if (xdg && *xdg)
        snprintf(out, outlen, "%s/sluice", xdg);
    else if (home && *home)
        snprintf(out, outlen, "%s/.local/share/sluice", home);
    else {
        snprintf(err, errlen, "no data directory: pass --data DIR or set SLUICE_DATA");
        return SL_EINVAL;
    }
    return mkdir_p(out, err, errlen);
}

const char *sl__conn_key_mode(const char *key)
{
    if (!key)
        return NULL;
    if (!strncmp(key, "sk_test_", 8) || !strncmp(key, "rk_test_", 8))
        return "test";
    if (!strncmp(key, "sk_live_", 8) || !strncmp(key, "rk_live_", 8))
        return "live";
    return NULL;
}

int sl__conn_name_ok(const char *n)
{
    size_t len = strlen(n);
    if (!len || len > 63)
        return 0;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
            return 0;
    return 1;
}

static sl_err client_for(const char *key, const sl_conn_spec_t *spec, sl_trace_fn trace,
                         sl_client_t **out, char *err, size_t errlen)
{
    sl_client_config_t cfg;
    sl_client_config_init(&cfg);
    cfg.api_key = key;
    cfg.base_url = spec->base_url;
    cfg.stripe_version = spec->stripe_version;
    cfg.stripe_account = spec->stripe_account;
    cfg.trace = trace;
    return sl_client_new(&cfg, out, err, errlen);
}

/* GET path; 1 if it answered 2xx, 0 for a permission refusal, -1 otherwise (err filled). */
static int probe(sl_client_t *c, const char *path, sl_response_t *resp, sl_err *rc, char *err,
                 size_t errlen)
{
    sl_request_t req = {.method = "GET", .path = path};
    *rc = sl_client_request(c, &req, resp);
    if (*rc == SL_OK)
        return 1;
    long st = resp->error.http_status;
    if (*rc == SL_ESTRIPE &&
        (st == 403 || (st == 401 && strstr(resp->error.message, "permission"))))
        return 0;
    if (*rc == SL_ESTRIPE && st == 401)
        snprintf(err, errlen, "the key was refused (HTTP 401): it is invalid or was revoked (%s)",
                 resp->error.message);
    else
        snprintf(err, errlen, "could not check the key: %s", resp->error.message);
    return -1;
}

sl_err sl__conn_add(sl_store_t *store, const sl_crypt_t *crypt, const sl_conn_spec_t *spec,
                    sl_trace_fn trace, sl_conn_row_t *saved, char *err, size_t errlen)
{
    memset(saved, 0, sizeof *saved);
    if (!sl__conn_name_ok(spec->name)) {
        snprintf(err, errlen, "connection name `%.64s` must be 1-63 of a-z, 0-9, '-' and '_'",
                 spec->name);
        return SL_EINVAL;
    }
    const char *mode = sl__conn_key_mode(spec->key);
    if (!mode) {
        snprintf(err, errlen,
                 "the key must be a secret key (sk_test_/sk_live_) or a restricted "
                 "key (rk_test_/rk_live_); publishable keys cannot call the API");
        return SL_EINVAL;
    }
    if (spec->webhook_secret && strncmp(spec->webhook_secret, "whsec_", 6) != 0) {
        snprintf(err, errlen, "a webhook signing secret starts with whsec_");
        return SL_EINVAL;
    }
    sl_conn_row_t existing;
    char tmp[256];
    if (sl_store_conn_get(store, spec->name, &existing, tmp, sizeof tmp) == SL_OK) {
        sl_conn_row_cleanup(&existing);
        snprintf(err, errlen, "a connection named `%s` exists; remove it first", spec->name);
        return SL_EINVAL;
    }

    sl_client_t *c = NULL;
    sl_err rc = client_for(spec->key, spec, trace, &c, err, errlen);
    if (rc)
        return rc;
    sl_response_t resp;
    char account[64] = "";
    int ok = probe(c, "/v1/account", &resp, &rc, err, errlen);
    if (ok == 1)
        snprintf(account, sizeof account, "%s",
                 json_string_value(json_object_get(resp.json, "id")) ?: "");
    sl_response_cleanup(&resp);
    /* A restricted key may lack the account: it must at least read charges or endpoints. */
    static const char *const fallbacks[] = {"/v1/charges?limit=1", "/v1/webhook_endpoints?limit=1"};
    for (size_t i = 0; ok == 0 && i < 2; i++) {
        ok = probe(c, fallbacks[i], &resp, &rc, err, errlen);
        sl_response_cleanup(&resp);
    }
    sl_client_free(c);
    if (ok == 0)
        snprintf(err, errlen,
                 "the key lacks permissions: a restricted key needs read access to "
                 "the account, Charges or Webhook endpoints");
    if (ok != 1)
        return rc == SL_ENETWORK || rc == SL_ETIMEOUT ? rc : SL_ESTRIPE;

    sl_conn_row_t row;
    memset(&row, 0, sizeof row);
    snprintf(row.name, sizeof row.name, "%s", spec->name);
    snprintf(row.mode, sizeof row.mode, "%s", mode);
    snprintf(row.account_id, sizeof row.account_id, "%s", account);
    snprintf(row.base_url, sizeof row.base_url, "%s", spec->base_url ? spec->base_url : "");
    snprintf(row.stripe_version, sizeof row.stripe_version, "%s",
             spec->stripe_version ? spec->stripe_version : "");
    snprintf(row.stripe_account, sizeof row.stripe_account, "%s",
             spec->stripe_account ? spec->stripe_account : "");
    row.created = (long long)time(NULL);
    rc = sl__crypt_seal(crypt, spec->key, row.name, &row.key_sealed);
    if (!rc && spec->webhook_secret)
        rc = sl__crypt_seal(crypt, spec->webhook_secret, row.name, &row.secret_sealed);
    if (!rc)
        rc = sl_store_conn_put(store, &row, err, errlen);
    else
        snprintf(err, errlen, "could not encrypt the secrets");
    if (rc) {
        sl_conn_row_cleanup(&row);
        return rc;
    }
    *saved = row;
    return SL_OK;
}

sl_err sl__conn_config(const sl_conn_row_t *row, const sl_crypt_t *crypt, sl_client_config_t *cfg,
                       char **key, char *err, size_t errlen)
{
    *key = NULL;
    if (sl__crypt_open(crypt, row->key_sealed, row->name, key)) {
        snprintf(err, errlen,
                 "cannot decrypt the key of `%s`: is this the master key it was saved with?",
                 row->name);
        return SL_EINVAL;
    }
    cfg->api_key = *key;
    cfg->base_url = row->base_url[0] ? row->base_url : NULL;
    cfg->stripe_version = row->stripe_version[0] ? row->stripe_version : NULL;
    cfg->stripe_account = row->stripe_account[0] ? row->stripe_account : NULL;
    cfg->rate_limit = strcmp(row->mode, "live") == 0 ? 100 : 25;
    return SL_OK;
}

sl_err sl__conn_client(const sl_conn_row_t *row, const sl_crypt_t *crypt, sl_trace_fn trace,
                       sl_client_t **out, char *err, size_t errlen)
{
    char *key = NULL;
    sl_client_config_t cfg;
    sl_client_config_init(&cfg);
    cfg.trace = trace;
    *out = NULL;
    sl_err rc = sl__conn_config(row, crypt, &cfg, &key, err, errlen);
    if (!rc)
        rc = sl_client_new(&cfg, out, err, errlen);
    sl__crypt_free(key);
    return rc;
}

sl_err sl__conn_secrets(const sl_conn_row_t *row, const sl_crypt_t *crypt, time_t now,
                        char **current, char **previous)
{
    *current = *previous = NULL;
    if (row->secret_sealed && sl__crypt_open(crypt, row->secret_sealed, row->name, current))
        return SL_EINVAL;
    if (row->old_secret_sealed && row->old_secret_expires > (long long)now &&
        sl__crypt_open(crypt, row->old_secret_sealed, row->name, previous)) {
        sl__crypt_free(*current);
        *current = NULL;
        return SL_EINVAL;
    }
    return SL_OK;
}
