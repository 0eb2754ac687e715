/* Webhook deliveries: every event is POSTed, signed as Stripe signs, to each enabled endpoint
 * that wants its type, from a thread of its own; failures are retried with exponential backoff
 * up to max_deliveries attempts. The queue is guarded by the emulator's lock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "core/clock.h"
#include "core/log.h"
#include "emulator/internal.h"
#include "net/http.h"
#include "sluice/webhook.h"

typedef struct sl_emu_delivery {
    char *url;
    char *secret;
    char *payload;
    int attempt;
    double next_at; /* monotonic ms */
    struct sl_emu_delivery *next;
} delivery_t;

static int endpoint_wants(const json_t *endpoint, const char *type)
{
    const json_t *types = json_object_get(endpoint, "enabled_events");
    if (strcmp(json_string_value(json_object_get(endpoint, "status")) ?: "", "enabled") != 0)
        return 0;
    for (size_t i = 0; i < json_array_size(types); i++) {
        const char *t = json_string_value(json_array_get(types, i));
        if (t && (strcmp(t, "*") == 0 || strcmp(t, type) == 0))
            return 1;
    }
    return 0;
}

static void delivery_free(delivery_t *d)
{
    free(d->url);
    free(d->secret);
    free(d->payload);
    free(d);
}

/* POSTs one event signed as Stripe signs; 1 if the receiver answered 2xx. */
static int deliver(sl_http_t *h, const delivery_t *d)
{
    char sig[160], header[200], why[256];
    if (sl_webhook_sign(d->secret, time(NULL), d->payload, strlen(d->payload), sig, sizeof sig))
        return 0;
    snprintf(header, sizeof header, "Stripe-Signature: %s", sig);
    const char *const headers[] = {header, "Content-Type: application/json; charset=utf-8",
                                   "User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                                   NULL};
    sl_http_request_t rq = {.method = "POST",
                            .url = d->url,
                            .headers = headers,
                            .body = d->payload,
                            .body_len = strlen(d->payload),
                            .timeout_ms = 10000,
                            .max_response = 0};
    sl_http_response_t resp;
    int ok = sl__http_send(h, &rq, &resp, why, sizeof why) == SL_OK && resp.status >= 200 &&
             resp.status < 300;
    sl__http_response_cleanup(&resp);
    return ok;
}

static void *deliverer(void *arg)
{
    sl_emulator_t *e = arg;
    sl_http_t *h = sl__http_new();
    pthread_mutex_lock(&e->lock);
    while (!e->stopping) {
        /* The delivery due first. */
        delivery_t **best = NULL;
        for (delivery_t **p = &e->queue; *p; p = &(*p)->next)
            if (!best || (*p)->next_at < (*best)->next_at)
                best = p;
        double now = sl__mono_ms();
        if (!best || (*best)->next_at > now) {
            struct timespec until = sl__deadline_ms(best ? (long)((*best)->next_at - now) : 1000);
            pthread_cond_timedwait(&e->wake, &e->lock, &until);
            continue;
        }
        delivery_t *d = *best;
        *best = d->next;
        pthread_mutex_unlock(&e->lock);
        int ok = h && deliver(h, d);
        pthread_mutex_lock(&e->lock);
        d->attempt++;
        if (ok || d->attempt >= e->cfg.max_deliveries) {
            if (!ok)
                sl__log("warn", "emulator: gave up delivering an event",
                        json_pack("{s:s,s:i}", "url", d->url, "attempts", d->attempt));
            delivery_free(d);
            continue;
        }
        /* Back off exponentially, as Stripe does (in seconds to hours; here scaled down). */
        d->next_at = sl__mono_ms() + (double)e->cfg.retry_base_ms * (double)(1 << (d->attempt - 1));
        d->next = e->queue;
        e->queue = d;
    }
    pthread_mutex_unlock(&e->lock);
    sl__http_free(h);
    return NULL;
}

void sl__emu_deliver_event(sl_emulator_t *e, json_t *ev, const char *type)
{
    int pending = 0;
    const json_t *ids = json_object_get(e->lists, "webhook_endpoint");
    char *payload = NULL;
    for (size_t i = 0; i < json_array_size(ids); i++) {
        const char *we = json_string_value(json_array_get(ids, i));
        const json_t *endpoint = sl__emu_get(e, we);
        const char *secret = json_string_value(json_object_get(e->secrets, we));
        if (!endpoint || !secret || !endpoint_wants(endpoint, type))
            continue;
        pending++;
        json_object_set_new(ev, "pending_webhooks", json_integer(pending));
    }
    if (!pending)
        return;
    payload = json_dumps(ev, JSON_INDENT(2));
    for (size_t i = 0; payload && i < json_array_size(ids); i++) {
        const char *we = json_string_value(json_array_get(ids, i));
        const json_t *endpoint = sl__emu_get(e, we);
        const char *secret = json_string_value(json_object_get(e->secrets, we));
        if (!endpoint || !secret || !endpoint_wants(endpoint, type))
            continue;
        delivery_t *d = calloc(1, sizeof *d);
        if (!d)
            continue;
        d->url = strdup(json_string_value(json_object_get(endpoint, "url")) ?: "");
        d->secret = strdup(secret);
        d->payload = strdup(payload);
        d->next_at = sl__mono_ms();
        d->next = e->queue;
        e->queue = d;
        pthread_cond_signal(&e->wake);
    }
    free(payload);
}

sl_err sl__emu_deliver_start(sl_emulator_t *e, char *err, size_t errlen)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (pthread_create(&e->thread, NULL, deliverer, e)) {
        snprintf(err, errlen, "cannot start the delivery thread");
        return SL_EINTERNAL;
    }
    return SL_OK;
}

void sl__emu_deliver_stop(sl_emulator_t *e)
{
    pthread_mutex_lock(&e->lock);
    e->stopping = 1;
    pthread_cond_signal(&e->wake);
    pthread_mutex_unlock(&e->lock);
    pthread_join(e->thread, NULL);
    while (e->queue) {
        delivery_t *d = e->queue;
        e->queue = d->next;
        delivery_free(d);
    }
}
