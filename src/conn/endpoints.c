#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn/endpoints.h"
#include "sluice/catalog.h"

static int same_events(const json_t *have, const char *const *want, size_t n)
{
    if (json_array_size(have) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int found = 0;
        for (size_t j = 0; j < n && !found; j++)
            found = strcmp(json_string_value(json_array_get(have, j)) ?: "", want[i]) == 0;
        if (!found)
            return 0;
    }
    return 1;
}

static json_t *events_array(const char *const *events, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(events[i]));
    return a;
}

sl_err sl__endpoint_register(sl_store_t *store, const sl_crypt_t *crypt, const char *name,
                             const char *public_url, const char *const *events, size_t nevents,
                             sl_trace_fn trace, char *msg, size_t msglen)
{
    for (size_t i = 0; i < nevents; i++) {
        if (!sl_event_type_known(events[i])) {
            snprintf(msg, msglen, "`%s` is not a Stripe event type (see `sluice events types`)",
                     events[i]);
            return SL_EINVAL;
        }
    }
    sl_conn_row_t row;
    sl_err rc = sl_store_conn_get(store, name, &row, msg, msglen);
    if (rc)
        return rc;
    sl_client_t *client = NULL;
    sl_pager_t *pager = NULL;
    json_t *params = NULL;
    sl_response_t resp;
    memset(&resp, 0, sizeof resp);
    rc = sl__conn_client(&row, crypt, trace, &client, msg, msglen);
    if (rc)
        goto out;
    if (row.secret_sealed && !row.endpoint_id[0]) {
        /* The secret was entered by hand, for an endpoint made in the Dashboard: a new endpoint
         * would bring its own secret, and the hand-made one's webhooks would fail. */
        snprintf(msg, msglen,
                 "`%s` has a webhook secret entered by hand, so its endpoint is yours: sluice"
                 " registers none (`sluice connect unregister`, or a connection without"
                 " --webhook-secret, lets it)",
                 name);
        rc = SL_EINVAL;
        goto out;
    }
    char url[sizeof row.endpoint_url];
    size_t ul = strlen(public_url);
    while (ul && public_url[ul - 1] == '/')
        ul--;
    if (ul + strlen(name) + 8 >= sizeof url) {
        snprintf(msg, msglen, "--public-url is too long");
        rc = SL_EINVAL;
        goto out;
    }
    snprintf(url, sizeof url, "%.*s/hooks/%s", (int)ul, public_url, name);

    /* Find it by URL among every endpoint of the account. */
    sl_request_t list = {.method = "GET", .path = "/v1/webhook_endpoints"};
    params = json_pack("{s:i}", "limit", 100);
    list.params = params;
    rc = sl_pager_new(client, &list, 0, &pager);
    json_t *item, *found = NULL;
    while (!rc && !(rc = sl_pager_next(pager, &item)) && item) {
        const char *u = json_string_value(json_object_get(item, "url"));
        if (u && strcmp(u, url) == 0) {
            found = json_incref(item);
            break;
        }
    }
    if (rc) {
        const sl_response_t *pr = sl_pager_response(pager);
        snprintf(msg, msglen, "listing webhook endpoints: %s",
                 pr ? pr->error.message : sl_strerror(rc));
        goto out;
    }
    json_decref(params);
    params = json_pack("{s:o}", "enabled_events", events_array(events, nevents));
    /* Kept with the connection, for `connect show` and the dashboard. */
    free(row.endpoint_events);
    row.endpoint_events = json_dumps(json_object_get(params, "enabled_events"), JSON_COMPACT);
    if (found) {
        const char *id = json_string_value(json_object_get(found, "id"));
        snprintf(row.endpoint_id, sizeof row.endpoint_id, "%s", id ? id : "");
        memcpy(row.endpoint_url, url, sizeof url);
        if (same_events(json_object_get(found, "enabled_events"), events, nevents)) {
            snprintf(msg, msglen, "reusing webhook endpoint %s for %s", row.endpoint_id, url);
        } else {
            char path[128];
            snprintf(path, sizeof path, "/v1/webhook_endpoints/%s", row.endpoint_id);
            sl_request_t upd = {.method = "POST", .path = path, .params = params};
            rc = sl_client_request(client, &upd, &resp);
            if (rc) {
                snprintf(msg, msglen, "updating webhook endpoint %s: %s", row.endpoint_id,
                         resp.error.message);
                json_decref(found);
                goto out;
            }
            snprintf(msg, msglen, "updated the events of webhook endpoint %s for %s",
                     row.endpoint_id, url);
        }
        if (!row.secret_sealed) {
            size_t l = strlen(msg);
            snprintf(msg + l, msglen - l,
                     "; its signing secret is not stored: copy it from the Dashboard into "
                     "`sluice connect rotate-secret %s --webhook-secret whsec_...`",
                     name);
        }
        json_decref(found);
    } else {
        json_object_set_new(params, "url", json_string(url));
        /* The connection's pinned version, so that events arrive in the shape it reads. */
        json_object_set_new(
            params, "api_version",
            json_string(row.stripe_version[0] ? row.stripe_version : sl_catalog_api_version()));
        json_object_set_new(params, "description", json_string("sluice"));
        json_object_set_new(params, "metadata", json_pack("{s:s}", "sluice_connection", name));
        sl_request_t create = {.method = "POST", .path = "/v1/webhook_endpoints", .params = params};
        rc = sl_client_request(client, &create, &resp);
        if (rc) {
            snprintf(msg, msglen, "creating a webhook endpoint: %s", resp.error.message);
            goto out;
        }
        const char *id = json_string_value(json_object_get(resp.json, "id"));
        const char *secret = json_string_value(json_object_get(resp.json, "secret"));
        char old_id[sizeof row.endpoint_id] = "";
        if (row.endpoint_id[0] && strcmp(row.endpoint_url, url))
            snprintf(old_id, sizeof old_id, "%s", row.endpoint_id); /* the URL moved */
        snprintf(row.endpoint_id, sizeof row.endpoint_id, "%s", id ? id : "");
        memcpy(row.endpoint_url, url, sizeof url);
        if (secret) {
            char *sealed = NULL;
            if (sl__crypt_seal(crypt, secret, row.name, &sealed) == SL_OK) {
                free(row.old_secret_sealed);
                row.old_secret_sealed = NULL;
                free(row.secret_sealed);
                row.secret_sealed = sealed;
            }
        }
        snprintf(msg, msglen, "created webhook endpoint %s for %s", row.endpoint_id, url);
        if (old_id[0]) {
            /* The endpoint at the old URL would keep sending to where sluice no longer is. */
            char path[128];
            snprintf(path, sizeof path, "/v1/webhook_endpoints/%s", old_id);
            sl_request_t del = {.method = "DELETE", .path = path};
            sl_response_t dresp;
            memset(&dresp, 0, sizeof dresp);
            sl_err drc = sl_client_request(client, &del, &dresp);
            size_t l = strlen(msg);
            if (drc && !(drc == SL_ESTRIPE && dresp.error.http_status == 404))
                snprintf(msg + l, msglen - l,
                         "; the endpoint at the old URL, %s, could not be deleted (%s):"
                         " delete it in the Dashboard",
                         old_id, dresp.error.message);
            else
                snprintf(msg + l, msglen - l, "; deleted %s, at the old URL", old_id);
            sl_response_cleanup(&dresp);
        }
    }
    char err[512];
    rc = sl_store_conn_put(store, &row, err, sizeof err);
    if (rc)
        snprintf(msg, msglen, "%s", err);
out:
    sl_response_cleanup(&resp);
    sl_pager_free(pager);
    json_decref(params);
    sl_client_free(client);
    sl_conn_row_cleanup(&row);
    return rc;
}

sl_err sl__endpoint_unregister(sl_store_t *store, const sl_crypt_t *crypt, const char *name,
                               sl_trace_fn trace, char *msg, size_t msglen)
{
    sl_conn_row_t row;
    sl_err rc = sl_store_conn_get(store, name, &row, msg, msglen);
    if (rc)
        return rc;
    if (!row.endpoint_id[0]) {
        snprintf(msg, msglen, "`%s` has no webhook endpoint registered by sluice", name);
        sl_conn_row_cleanup(&row);
        return SL_ENOTFOUND;
    }
    sl_client_t *client = NULL;
    sl_response_t resp;
    memset(&resp, 0, sizeof resp);
    rc = sl__conn_client(&row, crypt, trace, &client, msg, msglen);
    if (!rc) {
        char path[128];
        snprintf(path, sizeof path, "/v1/webhook_endpoints/%s", row.endpoint_id);
        sl_request_t del = {.method = "DELETE", .path = path};
        rc = sl_client_request(client, &del, &resp);
        if (rc == SL_ESTRIPE && resp.error.http_status == 404)
            rc = SL_OK; /* already gone */
        if (rc) {
            snprintf(msg, msglen, "deleting webhook endpoint %s: %s", row.endpoint_id,
                     resp.error.message);
        } else {
            snprintf(msg, msglen, "Deleted webhook endpoint %s (%s).", row.endpoint_id,
                     row.endpoint_url);
            row.endpoint_id[0] = row.endpoint_url[0] = '\0';
            free(row.endpoint_events);
            row.endpoint_events = NULL;
            free(row.secret_sealed);
            free(row.old_secret_sealed);
            row.secret_sealed = row.old_secret_sealed = NULL;
            char err[512];
            if (sl_store_conn_put(store, &row, err, sizeof err)) {
                snprintf(msg, msglen, "%s", err);
                rc = SL_EIO;
            }
        }
    }
    sl_response_cleanup(&resp);
    sl_client_free(client);
    sl_conn_row_cleanup(&row);
    return rc;
}
