/* The `http` step: any request, a JSON body sent as JSON, the answer as {status, body}. Also the
 * sender the `emit` step posts with. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "flow/internal.h"
#include "net/http.h"

#define HTTP_MAX_BODY (4u << 20)
#define MAX_HEADERS 64

sl_step_result_t sl__step_http_send(const char *method, const char *url, const json_t *headers,
                                    const json_t *body, long timeout_ms, json_t **out, char *err,
                                    size_t errlen)
{
    char *lines[MAX_HEADERS + 3] = {NULL};
    size_t n = 0;
    sl_step_result_t result = SL_STEP_FAIL;
    char *text = NULL;
    int has_type = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)headers, k, v)
    {
        const char *val = json_string_value(v);
        if (!val || strpbrk(k, "\r\n:") || strpbrk(val, "\r\n")) {
            snprintf(err, errlen, "header `%s` must be a one-line string", k);
            goto out;
        }
        if (n == MAX_HEADERS) {
            snprintf(err, errlen, "more than %d headers", MAX_HEADERS);
            goto out;
        }
        has_type |= strcasecmp(k, "Content-Type") == 0;
        if (asprintf(&lines[n], "%s: %s", k, val) < 0) {
            lines[n] = NULL;
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        n++;
    }
    if (body && !json_is_null(body)) {
        text = json_is_string(body) ? strdup(json_string_value(body))
                                    : json_dumps(body, JSON_ENCODE_ANY | JSON_COMPACT);
        if (!has_type)
            lines[n++] = strdup(json_is_string(body) ? "Content-Type: text/plain"
                                                     : "Content-Type: application/json");
    }
    lines[n++] = strdup("User-Agent: sluice-flow/1");
    if (!lines[n - 1] || (n > 1 && !lines[n - 2]) || (body && !json_is_null(body) && !text)) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    sl_http_request_t rq = {method,
                            url,
                            (const char *const *)lines,
                            body && !json_is_null(body) ? (text ? text : "") : NULL,
                            text ? strlen(text) : 0,
                            timeout_ms,
                            HTTP_MAX_BODY};
    sl_http_response_t resp;
    sl_err rc = sl__http_send(NULL, &rq, &resp, err, errlen);
    if (rc) {
        /* A URL that can never work, or an answer too large to keep, is not worth retrying. */
        result = rc == SL_EINVAL || rc == SL_ETOOBIG ? SL_STEP_FAIL : SL_STEP_RETRY;
    } else {
        json_t *parsed =
            resp.body_len ? json_loadb(resp.body, resp.body_len, JSON_DECODE_ANY, NULL) : NULL;
        if (!parsed)
            parsed = resp.body_len ? json_stringn_nocheck(resp.body, resp.body_len) : json_null();
        *out = json_pack("{s:i,s:o}", "status", (int)resp.status, "body", parsed);
        result = SL_STEP_OK;
        if (resp.status < 200 || resp.status >= 300) {
            snprintf(err, errlen, "%s %s answered HTTP %ld: %.300s", method, url, resp.status,
                     resp.body ? resp.body : "");
            result = resp.status >= 500 || resp.status == 429 || resp.status == 408 ? SL_STEP_RETRY
                                                                                    : SL_STEP_FAIL;
        }
    }
    sl__http_response_cleanup(&resp);
out:
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(text);
    return result;
}

static sl_step_result_t act_http(sl_step_call_t *call, json_t *input, json_t **out, char *err,
                                 size_t errlen)
{
    (void)call;
    const char *method = sl__json_str(input, "method");
    const char *url = sl__json_str(input, "url");
    return sl__step_http_send(method ? method : "GET", url ? url : "",
                              json_object_get(input, "headers"), json_object_get(input, "body"),
                              (long)json_integer_value(json_object_get(input, "timeout_ms")), out,
                              err, errlen);
}

static void check_http(sl_check_t *c, const json_t *step, const char *path)
{
    const char *m = sl__json_str(json_object_get(step, "http"), "method");
    if (m && strcasecmp(m, "GET") && strcasecmp(m, "POST") && strcasecmp(m, "PUT") &&
        strcasecmp(m, "PATCH") && strcasecmp(m, "DELETE") && strcasecmp(m, "HEAD"))
        sl__check_problem(c, path, "http method `%s` is not GET, POST, PUT, PATCH, DELETE or HEAD",
                          m);
}

static const char *const http_fields[] = {"method", "url", "headers", "body", "timeout_ms", NULL};
static const char *const http_needs[] = {"url", NULL};

const sl_step_kind_t sl__step_http = {
    .name = "http",
    .flow = SL_STEP_ACTION,
    .fields = http_fields,
    .needs = http_needs,
    .check = check_http,
    .act = act_http,
};
