/* POST /hooks/CONNECTION: verified against the connection's secrets, parsed, stored through the
 * inbox and answered 2xx only once durable. A verified request suspends its connection and
 * joins the next group commit; the committer resumes it once its batch is on disk. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "http/internal.h"
#include "ingest/event.h"
#include "sluice/webhook.h"

const char *const sl__rej_names[SL_REJ_COUNT] = {
    "missing_signature_header", "malformed_signature_header", "timestamp_outside_tolerance",
    "no_matching_signature",    "no_webhook_secret",          "not_a_stripe_event",
    "unknown_connection",       "method_not_allowed",         "body_too_large",
};

enum MHD_Result sl__hook_reject(sl_server_t *s, struct MHD_Connection *conn, int why,
                                unsigned status, const char *connection, const char *message)
{
    s->rejected[why]++;
    char addr[64];
    /* The connection's name comes from the path, which may hold any bytes. */
    sl__log("warn", "webhook rejected",
            json_pack("{s:o,s:s,s:s,s:i}", "connection", sl__log_str(connection ? connection : ""),
                      "reason", sl__rej_names[why], "remote",
                      sl__remote_addr(conn, addr, sizeof addr), "status", (int)status));
    return sl__reply_json(conn, status,
                          json_pack("{s:s,s:s}", "error", sl__rej_names[why], "message", message));
}

/* The committer calls this once the request's batch is durable (or failed). */
static void on_committed(sl_inbox_item_t *item)
{
    sl_request_t *rq = item->ctx;
    struct MHD_Connection *conn = rq->conn; /* rq may be answered and freed once resumed */
    atomic_store(&rq->state, SL_RQ_COMMITTED);
    MHD_resume_connection(conn);
}

/* A submitted request is answered, or its connection closed before it could be. */
void sl__hook_flight_done(sl_server_t *s, sl_request_t *rq)
{
    if (!rq->counted || rq->answered)
        return;
    rq->answered = 1;
    pthread_mutex_lock(&s->flight_lock);
    s->in_flight--;
    pthread_mutex_unlock(&s->flight_lock);
}

/* After the commit: the answer. */
static enum MHD_Result answer_committed(sl_server_t *s, struct MHD_Connection *conn,
                                        const char *name, sl_request_t *rq)
{
    sl__hook_flight_done(s, rq);
    if (rq->item.rc) {
        sl__log("error", "event not stored",
                json_pack("{s:s,s:s}", "connection", name, "error", rq->item.err));
        /* Stripe retries on 5xx, so nothing is lost. */
        return sl__reply_json(
            conn, MHD_HTTP_SERVICE_UNAVAILABLE,
            json_pack("{s:s,s:s}", "error", "store_unavailable", "message", rq->item.err));
    }
    return sl__reply(conn, MHD_HTTP_OK,
                     rq->item.fresh ? "{\"received\":true,\"duplicate\":false}"
                                    : "{\"received\":true,\"duplicate\":true}",
                     "application/json");
}

enum MHD_Result sl__hook_handle(sl_server_t *s, struct MHD_Connection *conn, const char *name,
                                sl_request_t *rq)
{
    if (atomic_load(&rq->state) == SL_RQ_COMMITTED)
        return answer_committed(s, conn, name, rq);
    if (atomic_load(&rq->state) == SL_RQ_COMMITTING)
        return MHD_YES; /* not resumed yet */
    if (rq->too_big) {
        char msg[96];
        snprintf(msg, sizeof msg, "the body is larger than %zu bytes", s->cfg.max_body);
        return sl__hook_reject(s, conn, SL_REJ_TOO_LARGE, MHD_HTTP_CONTENT_TOO_LARGE, name, msg);
    }
    char *cur = NULL, *prev = NULL;
    if (!sl__secrets_get(s->secrets, name, &cur, &prev))
        return sl__hook_reject(s, conn, SL_REJ_UNKNOWN_CONNECTION, MHD_HTTP_NOT_FOUND, name,
                               "no connection of that name");
    const char *header = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Stripe-Signature");
    const char *secrets[2] = {cur, prev};
    const char *body = rq->body.data ? rq->body.data : "";
    sl_webhook_reason why =
        sl_webhook_verify(header, body, rq->body.len, secrets, 2, s->cfg.tolerance, time(NULL));
    sl__crypt_free(cur);
    sl__crypt_free(prev);
    if (why != SL_WEBHOOK_OK) {
        static const int map[] = {[SL_WEBHOOK_NO_HEADER] = SL_REJ_MISSING_HEADER,
                                  [SL_WEBHOOK_MALFORMED] = SL_REJ_MALFORMED_HEADER,
                                  [SL_WEBHOOK_TIMESTAMP] = SL_REJ_TIMESTAMP,
                                  [SL_WEBHOOK_NO_MATCH] = SL_REJ_NO_MATCH,
                                  [SL_WEBHOOK_NO_SECRET] = SL_REJ_NO_SECRET};
        static const char *const msgs[] = {
            [SL_WEBHOOK_NO_HEADER] = "no Stripe-Signature header",
            [SL_WEBHOOK_MALFORMED] = "the Stripe-Signature header needs t= and v1=",
            [SL_WEBHOOK_TIMESTAMP] = "the signature's timestamp is outside the tolerance",
            [SL_WEBHOOK_NO_MATCH] = "no signature matches the webhook secret",
            [SL_WEBHOOK_NO_SECRET] = "the connection has no webhook secret yet"};
        return sl__hook_reject(s, conn, map[why],
                               why == SL_WEBHOOK_NO_SECRET ? MHD_HTTP_SERVICE_UNAVAILABLE
                                                           : MHD_HTTP_BAD_REQUEST,
                               name, msgs[why]);
    }
    long long created = 0;
    const char *problem = sl__event_parse(body, rq->body.len, rq->id, sizeof rq->id, rq->type,
                                          sizeof rq->type, &created);
    if (problem)
        return sl__hook_reject(s, conn, SL_REJ_NOT_EVENT, MHD_HTTP_BAD_REQUEST, name, problem);
    pthread_mutex_lock(&s->flight_lock);
    int stopping = s->stopping;
    if (!stopping)
        s->in_flight++;
    pthread_mutex_unlock(&s->flight_lock);
    if (stopping)
        return sl__reply_json(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
                              json_pack("{s:s,s:s}", "error", "shutting_down", "message",
                                        "sluice is stopping; Stripe will retry"));
    rq->ev = (sl_event_in_t){.id = rq->id,
                             .connection = name,
                             .type = rq->type,
                             .source = "webhook",
                             .payload = body,
                             .payload_len = rq->body.len,
                             .created = created,
                             .received_ms = sl__now_ms()};
    rq->item = (sl_inbox_item_t){.ev = &rq->ev, .done = on_committed, .ctx = rq};
    rq->conn = conn;
    rq->server = s;
    rq->counted = 1;
    /* Suspend first: the commit may finish, and resume us, before this function returns. */
    atomic_store(&rq->state, SL_RQ_COMMITTING);
    MHD_suspend_connection(conn);
    if (sl__inbox_submit_async(s->inbox, &rq->item)) {
        rq->item.rc = SL_EINVAL;
        snprintf(rq->item.err, sizeof rq->item.err, "shutting down");
        on_committed(&rq->item);
    }
    return MHD_YES;
}
