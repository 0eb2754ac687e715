#include "net/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "core/buf.h"

struct sl_http {
    CURL *easy;
};

sl_http_t *sl__http_new(void)
{
    sl_http_t *h = calloc(1, sizeof *h);
    if (h && !(h->easy = curl_easy_init())) {
        free(h);
        h = NULL;
    }
    return h;
}

void sl__http_free(sl_http_t *h)
{
    if (!h)
        return;
    curl_easy_cleanup(h->easy);
    free(h);
}

static size_t collect(char *p, size_t size, size_t n, void *ctx)
{
    sl_buf_t *b = ctx;
    if (!b->max)
        return size * n; /* discarded */
    return sl__buf_append(b, p, size * n) ? 0 : size * n;
}

sl_err sl__http_send(sl_http_t *h, const sl_http_request_t *rq, sl_http_response_t *out, char *err,
                     size_t errlen)
{
    memset(out, 0, sizeof *out);
    CURL *easy = h ? h->easy : curl_easy_init();
    if (!easy) {
        snprintf(err, errlen, "out of memory");
        return SL_ENOMEM;
    }
    if (h)
        curl_easy_reset(easy);
    struct curl_slist *hs = NULL;
    for (const char *const *l = rq->headers; l && *l; l++) {
        struct curl_slist *more = curl_slist_append(hs, *l);
        if (!more) {
            curl_slist_free_all(hs);
            if (!h)
                curl_easy_cleanup(easy);
            snprintf(err, errlen, "out of memory");
            return SL_ENOMEM;
        }
        hs = more;
    }
    sl_buf_t resp;
    sl__buf_init(&resp, rq->max_response);
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(easy, CURLOPT_URL, rq->url);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, rq->method);
    if (strcasecmp(rq->method, "HEAD") == 0)
        curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    if (rq->body) {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, rq->body);
    }
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, rq->timeout_ms > 0 ? rq->timeout_ms : 30000L);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(easy);
    sl_err rc = SL_OK;
    if (cc == CURLE_OK) {
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &out->status);
    } else {
        snprintf(err, errlen, "%s %s: %s", rq->method, rq->url,
                 cc == CURLE_WRITE_ERROR ? "the answer is too large"
                 : cerr[0]               ? cerr
                                         : curl_easy_strerror(cc));
        rc = cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL ? SL_EINVAL
             : cc == CURLE_WRITE_ERROR                                     ? SL_ETOOBIG
             : cc == CURLE_OPERATION_TIMEDOUT                              ? SL_ETIMEOUT
                                                                           : SL_ENETWORK;
    }
    if (resp.len) {
        out->body_len = resp.len;
        out->body = sl__buf_take(&resp);
    }
    sl__buf_cleanup(&resp);
    /* The header list must outlive the transfer; a reused handle forgets it at the next reset. */
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hs);
    if (!h)
        curl_easy_cleanup(easy);
    return rc;
}

void sl__http_response_cleanup(sl_http_response_t *r)
{
    if (!r)
        return;
    free(r->body);
    memset(r, 0, sizeof *r);
}
