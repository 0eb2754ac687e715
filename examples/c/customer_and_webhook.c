/* libsluice from a C program of your own: create a customer, then verify a webhook the way a
 * receiver does. Links only libsluice (core + stripe): no store, server or flows.
 *
 *   customer_and_webhook [BASE_URL]     (default https://api.stripe.com; STRIPE_API_KEY is read)
 *
 * CI runs it against `sluice emulate` on loopback (tests/e2e/example_c.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sluice/stripe.h>
#include <sluice/webhook.h>

int main(int argc, char **argv)
{
    const char *key = getenv("STRIPE_API_KEY");
    if (!key || !*key) {
        fprintf(stderr, "set STRIPE_API_KEY (sk_test_...)\n");
        return 2;
    }
    sl_client_config_t cfg;
    sl_client_config_init(&cfg);
    cfg.api_key = key;
    cfg.base_url = argc > 1 ? argv[1] : NULL;
    sl_client_t *client = NULL;
    char err[256];
    if (sl_client_new(&cfg, &client, err, sizeof err)) {
        fprintf(stderr, "client: %s\n", err);
        return 1;
    }

    /* 1. A customer: POST /v1/customers, with an Idempotency-Key and Stripe's retry rules. */
    json_t *params = json_pack("{s:s,s:s,s:{s:s}}", "email", "jenny@example.com", "name",
                               "Jenny Rosen", "metadata", "from", "libsluice");
    sl_request_t req = {.method = "POST", .path = "/v1/customers", .params = params};
    sl_response_t resp;
    sl_err rc = sl_client_request(client, &req, &resp);
    json_decref(params);
    if (rc) {
        fprintf(stderr, "create customer: %s (%s)\n", sl_strerror(rc), resp.error.message);
        sl_response_cleanup(&resp);
        sl_client_free(client);
        return 1;
    }
    const char *id = json_string_value(json_object_get(resp.json, "id"));
    printf("created customer %s (%d attempt%s, %.1f ms)\n", id ? id : "?", resp.attempts,
           resp.attempts == 1 ? "" : "s", resp.elapsed_ms);
    int ok = id && strncmp(id, "cus_", 4) == 0;
    sl_response_cleanup(&resp);
    sl_client_free(client);

    /* 2. A webhook: signed as Stripe signs, verified as a receiver must (tolerance 300 s). */
    const char *secret = "whsec_example";
    const char *body = "{\"id\":\"evt_1\",\"object\":\"event\",\"type\":\"customer.created\"}";
    char header[256];
    time_t now = time(NULL);
    if (sl_webhook_sign(secret, now, body, strlen(body), header, sizeof header))
        return 1;
    const char *secrets[] = {secret};
    sl_webhook_reason good = sl_webhook_verify(header, body, strlen(body), secrets, 1, 300, now);
    sl_webhook_reason forged =
        sl_webhook_verify(header, "{\"id\":\"evt_2\"}", 14, secrets, 1, 300, now);
    printf("webhook: genuine %s, altered %s\n", sl_webhook_reason_name(good),
           sl_webhook_reason_name(forged));
    ok = ok && good == SL_WEBHOOK_OK && forged == SL_WEBHOOK_NO_MATCH;
    return ok ? 0 : 1;
}
