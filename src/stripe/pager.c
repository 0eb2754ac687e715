/* Auto-pagination over list (starting_after / ending_before) and search (page) endpoints. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stripe/internal.h"

struct sl_pager {
    sl_client_t *client;
    char *method, *path, *account, *version;
    json_t *params;
    size_t max_items;
    size_t returned;
    size_t pages;
    sl_response_t resp;
    size_t next_index; /* items of resp handed out so far */
    int backward;      /* ending_before given: pages run toward newer items */
    int fetched;
    int done;
};

static int page_backward(const json_t *params)
{
    const json_t *eb = json_object_get(params, "ending_before");
    return json_is_string(eb) && json_string_length(eb) > 0;
}

sl_err sl__page_next_params(const json_t *params, const json_t *page, json_t **next)
{
    *next = NULL;
    const char *object = json_string_value(json_object_get(page, "object"));
    const json_t *data = json_object_get(page, "data");
    if (!object || !json_is_array(data))
        return SL_EPARSE;
    if (!json_is_true(json_object_get(page, "has_more")) || json_array_size(data) == 0)
        return SL_OK;

    const char *field, *value;
    if (strcmp(object, "list") == 0) {
        int back = page_backward(params);
        const json_t *edge = json_array_get(data, back ? 0 : json_array_size(data) - 1);
        field = back ? "ending_before" : "starting_after";
        value = json_string_value(json_object_get(edge, "id"));
    } else if (strcmp(object, "search_result") == 0) {
        field = "page";
        value = json_string_value(json_object_get(page, "next_page"));
        if (!value)
            return SL_OK;
    } else {
        return SL_EPARSE;
    }
    if (!value)
        return SL_EPARSE; /* a list item without an id cannot anchor the next page */
    /* A page that points at itself would be fetched forever. */
    const char *prev = json_string_value(json_object_get(params, field));
    if (prev && strcmp(prev, value) == 0)
        return SL_EPARSE;

    json_t *n = params ? json_deep_copy(params) : json_object();
    if (!n || json_object_set_new(n, field, json_string(value))) {
        json_decref(n);
        return SL_ENOMEM;
    }
    *next = n;
    return SL_OK;
}

static char *pager_dup(const char *s, int *failed)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *failed = 1;
    return d;
}

sl_err sl_pager_new(sl_client_t *client, const sl_request_t *req, size_t max_items,
                    sl_pager_t **out)
{
    *out = NULL;
    if (req->params && !json_is_object(req->params))
        return SL_EINVAL;
    sl_pager_t *p = calloc(1, sizeof *p);
    if (!p)
        return SL_ENOMEM;
    int failed = 0;
    p->client = client;
    p->method = pager_dup(req->method ? req->method : "GET", &failed);
    p->path = pager_dup(req->path, &failed);
    p->account = pager_dup(req->stripe_account, &failed);
    p->version = pager_dup(req->stripe_version, &failed);
    p->params = req->params ? json_deep_copy(req->params) : json_object();
    p->max_items = max_items;
    p->backward = page_backward(p->params);
    if (failed || !p->params) {
        sl_pager_free(p);
        return SL_ENOMEM;
    }
    *out = p;
    return SL_OK;
}

sl_err sl_pager_next(sl_pager_t *p, json_t **item)
{
    *item = NULL;
    for (;;) {
        if (p->max_items && p->returned >= p->max_items)
            return SL_OK;
        if (p->fetched) {
            const json_t *data = json_object_get(p->resp.json, "data");
            size_t n = json_array_size(data);
            if (p->next_index < n) {
                size_t i = p->backward ? n - 1 - p->next_index : p->next_index;
                p->next_index++;
                p->returned++;
                *item = json_array_get(data, i);
                return SL_OK;
            }
            if (p->done)
                return SL_OK;
            json_t *next = NULL;
            sl_err rc = sl__page_next_params(p->params, p->resp.json, &next);
            if (rc) {
                p->done = 1;
                snprintf(p->resp.error.message, sizeof p->resp.error.message,
                         "the response to %s %s is neither a list nor a search result, so it "
                         "cannot be paged",
                         p->method, p->path);
                return rc;
            }
            if (!next) {
                p->done = 1;
                return SL_OK;
            }
            json_decref(p->params);
            p->params = next;
        }
        sl_request_t req = {p->method, p->path, p->params, NULL, p->account, p->version, 0};
        sl_response_cleanup(&p->resp);
        sl_err rc = sl_client_request(p->client, &req, &p->resp);
        p->pages++;
        p->fetched = 1;
        p->next_index = 0;
        if (rc) {
            p->done = 1;
            return rc;
        }
        if (!json_is_array(json_object_get(p->resp.json, "data"))) {
            p->done = 1;
            snprintf(p->resp.error.message, sizeof p->resp.error.message,
                     "the response to %s %s has no `data` array, so it cannot be paged", p->method,
                     p->path);
            return SL_EPARSE;
        }
    }
}

const sl_response_t *sl_pager_response(const sl_pager_t *p)
{
    return p->fetched ? &p->resp : NULL;
}

size_t sl_pager_pages(const sl_pager_t *p)
{
    return p->pages;
}

void sl_pager_free(sl_pager_t *p)
{
    if (!p)
        return;
    sl_response_cleanup(&p->resp);
    json_decref(p->params);
    free(p->method);
    free(p->path);
    free(p->account);
    free(p->version);
    free(p);
}
