/* Client benchmark: N form-encoded POSTs through one libsluice client from T threads against
 * a local server; prints calls/s and latency percentiles.
 * Usage: client_bench URL CALLS THREADS */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sluice/stripe.h"

typedef struct worker {
    sl_client_t *client;
    int calls;
    double *lat_ms;
    int failures;
} worker_t;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void *run(void *arg)
{
    worker_t *w = arg;
    json_t *p = json_pack("{s:s,s:s,s:{s:s,s:s},s:[{s:s,s:i}]}", "email", "jenny@example.com",
                          "description", "benchmark customer", "metadata", "plan", "pro", "seats",
                          "12", "line_items", "price", "price_123", "quantity", 2);
    for (int i = 0; i < w->calls; i++) {
        sl_request_t req = {.method = "POST", .path = "/v1/customers", .params = p};
        sl_response_t resp;
        double t0 = now_ms();
        if (sl_client_request(w->client, &req, &resp) != SL_OK)
            w->failures++;
        w->lat_ms[i] = now_ms() - t0;
        sl_response_cleanup(&resp);
    }
    json_decref(p);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: client_bench URL CALLS THREADS\n");
        return 2;
    }
    int calls = atoi(argv[2]), threads = atoi(argv[3]);
    if (calls <= 0 || threads <= 0 || threads > 64)
        return 2;
    sl_client_config_t cfg;
    sl_client_config_init(&cfg);
    cfg.api_key = "sk_test_bench_000000000000000000000000";
    cfg.base_url = argv[1];
    sl_client_t *c = NULL;
    if (sl_client_new(&cfg, &c, NULL, 0))
        return 1;
    int per = calls / threads;
    double *lat = calloc((size_t)(per * threads), sizeof *lat);
    worker_t *w = calloc((size_t)threads, sizeof *w);
    pthread_t *t = calloc((size_t)threads, sizeof *t);
    double t0 = now_ms();
    for (int i = 0; i < threads; i++) {
        w[i] = (worker_t){c, per, lat + i * per, 0};
        pthread_create(&t[i], NULL, run, &w[i]);
    }
    int failures = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        failures += w[i].failures;
    }
    double secs = (now_ms() - t0) / 1e3;
    int n = per * threads;
    qsort(lat, (size_t)n, sizeof *lat, cmp);
    printf("{\"client\":\"libsluice\",\"calls\":%d,\"concurrency\":%d,\"failures\":%d,"
           "\"calls_per_s\":%.0f,\"p50_ms\":%.3f,\"p99_ms\":%.3f}\n",
           n, threads, failures, n / secs, lat[n / 2], lat[(int)(n * 0.99)]);
    free(lat);
    free(w);
    free(t);
    sl_client_free(c);
    return failures ? 1 : 0;
}
