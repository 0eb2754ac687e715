/* Sample events built from Stripe's example objects, for `sluice trigger --to`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/rand.h"
#include "emulator/fixtures.h"
#include "emulator/internal.h"
#include "sluice/catalog.h"

/* Event types whose object is not named by their prefix. */
static const struct {
    const char *prefix, *object;
} sample_aliases[] = {
    {"account.application", "application"},
    {"account.external_account", "bank_account"},
    {"application_fee.refund", "fee_refund"},
    {"charge.dispute", "dispute"},
    {"charge.refund", "refund"},
    {"customer.discount", "discount"},
    {"customer.source", "source"},
    {"customer.subscription", "subscription"},
    {"customer.tax_id", "tax_id"},
};

/* The example object for an event type's prefix ("invoice.paid" -> invoice, "issuing_card.created"
 * -> issuing.card, "customer.subscription.created" -> subscription), or NULL. */
static const char *sample_object(const char *prefix, char *buf, size_t n)
{
    if (sl__fixture_json(prefix))
        return prefix;
    for (size_t i = 0; i < sizeof sample_aliases / sizeof *sample_aliases; i++)
        if (strcmp(prefix, sample_aliases[i].prefix) == 0)
            return sample_aliases[i].object;
    const char *last = strrchr(prefix, '.');
    if (last && sl__fixture_json(last + 1))
        return last + 1;
    snprintf(buf, n, "%s", prefix);
    char *u = strchr(buf, '_');
    if (u) {
        *u = '.';
        if (sl__fixture_json(buf))
            return buf;
    }
    return NULL;
}

json_t *sl__sample_event(const char *type)
{
    const char *dot = strrchr(type, '.');
    if (!dot || !sl_event_type_known(type) || strcmp(type, "*") == 0)
        return NULL;
    char prefix[128], buf[128];
    snprintf(prefix, sizeof prefix, "%.*s", (int)(dot - type), type);
    const char *object = sample_object(prefix, buf, sizeof buf);
    json_t *obj = object ? json_loads(sl__fixture_json(object), 0, NULL) : NULL;
    if (!obj)
        obj = json_pack("{s:s,s:s}", "id", "sample_1", "object", prefix);
    char hex[17], id[40];
    sl__emu_must_rand(sl__rand_hex(hex, 8));
    snprintf(id, sizeof id, "evt_sample%s", hex);
    return json_pack("{s:s,s:s,s:s,s:I,s:{s:o},s:b,s:i,s:{s:n,s:n},s:s}", "id", id, "object",
                     "event", "api_version", sl_catalog_api_version(), "created",
                     (json_int_t)time(NULL), "data", "object", obj, "livemode", 0,
                     "pending_webhooks", 1, "request", "id", "idempotency_key", "type", type);
}
