/* GET /metrics: the ingest counters and the group commit's histograms, in Prometheus's text
 * format. */
#include "flow/engine.h"
#include "http/api.h"
#include "http/internal.h"

enum MHD_Result sl__metrics_handle(sl_server_t *s, struct MHD_Connection *conn)
{
    sl_inbox_stats_t st;
    sl__inbox_stats(s->inbox, &st);
    sl_inbox_health_t health;
    sl__inbox_health(s->inbox, &health);
    sl_buf_t b;
    sl__buf_init(&b, 1 << 20);
    sl__buf_printf(&b,
                   "# HELP sluice_webhooks_received_total Verified webhook events offered to the "
                   "inbox.\n# TYPE sluice_webhooks_received_total counter\n"
                   "sluice_webhooks_received_total %llu\n"
                   "# HELP sluice_webhooks_accepted_total Events stored for the first time.\n"
                   "# TYPE sluice_webhooks_accepted_total counter\n"
                   "sluice_webhooks_accepted_total %llu\n"
                   "# HELP sluice_webhooks_duplicate_total Events already in the inbox.\n"
                   "# TYPE sluice_webhooks_duplicate_total counter\n"
                   "sluice_webhooks_duplicate_total %llu\n"
                   "# HELP sluice_webhooks_store_errors_total Events the store failed to keep "
                   "(answered 503).\n# TYPE sluice_webhooks_store_errors_total counter\n"
                   "sluice_webhooks_store_errors_total %llu\n"
                   "# HELP sluice_webhooks_rejected_total Requests refused, by reason.\n"
                   "# TYPE sluice_webhooks_rejected_total counter\n",
                   st.received, st.accepted, st.duplicates, st.store_errors);
    for (int i = 0; i < SL_REJ_COUNT; i++)
        sl__buf_printf(&b, "sluice_webhooks_rejected_total{reason=\"%s\"} %llu\n", sl__rej_names[i],
                       (unsigned long long)s->rejected[i]);
    sl__buf_printf(&b,
                   "# HELP sluice_http_deadline_closed_total Connections closed for not sending "
                   "their request's headers or body in time.\n"
                   "# TYPE sluice_http_deadline_closed_total counter\n"
                   "sluice_http_deadline_closed_total %llu\n"
                   "# HELP sluice_http_body_bytes Bytes held now for request bodies.\n"
                   "# TYPE sluice_http_body_bytes gauge\nsluice_http_body_bytes %lld\n",
                   (unsigned long long)s->deadline_closed, (long long)s->body_bytes);
    sl__buf_printf(&b,
                   "# HELP sluice_store_up 1 while the store commits, 0 since a commit failed.\n"
                   "# TYPE sluice_store_up gauge\nsluice_store_up %d\n",
                   !health.failing);
    sl__buf_printf(&b, "# HELP sluice_commit_batch_size Events per group commit.\n"
                       "# TYPE sluice_commit_batch_size histogram\n");
    unsigned long long cum = 0;
    for (int i = 0; i < SL_INBOX_BATCH_BUCKETS; i++) {
        cum += st.batch_le[i];
        if (i < SL_INBOX_BATCH_BUCKETS - 1)
            sl__buf_printf(&b, "sluice_commit_batch_size_bucket{le=\"%g\"} %llu\n",
                           sl__inbox_batch_bounds[i], cum);
        else
            sl__buf_printf(&b, "sluice_commit_batch_size_bucket{le=\"+Inf\"} %llu\n", cum);
    }
    sl__buf_printf(&b, "sluice_commit_batch_size_sum %llu\nsluice_commit_batch_size_count %llu\n",
                   st.events, st.batches);
    sl__buf_printf(&b, "# HELP sluice_commit_seconds Time to make one batch durable.\n"
                       "# TYPE sluice_commit_seconds histogram\n");
    cum = 0;
    for (int i = 0; i < SL_INBOX_LATENCY_BUCKETS; i++) {
        cum += st.latency_le[i];
        if (i < SL_INBOX_LATENCY_BUCKETS - 1)
            sl__buf_printf(&b, "sluice_commit_seconds_bucket{le=\"%g\"} %llu\n",
                           sl__inbox_latency_bounds_ms[i] / 1e3, cum);
        else
            sl__buf_printf(&b, "sluice_commit_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
    }
    sl__buf_printf(&b, "sluice_commit_seconds_sum %.6f\nsluice_commit_seconds_count %llu\n",
                   st.latency_sum_s, st.batches);
    if (s->cfg.api) {
        pthread_rwlock_rdlock(&s->cfg.api->lock);
        if (s->cfg.api->engine)
            sl__engine_metrics(s->cfg.api->engine, &b);
        pthread_rwlock_unlock(&s->cfg.api->lock);
    }
    enum MHD_Result ret =
        sl__reply(conn, MHD_HTTP_OK, b.data ? b.data : "", "text/plain; version=0.0.4");
    sl__buf_cleanup(&b);
    return ret;
}
