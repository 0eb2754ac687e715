/* Internals of the emulator shared between its files (internal).
 *
 * A local, stateful Stripe: Stripe's wire protocol (form bodies, bearer keys, error bodies,
 * Request-Id), every request checked against the catalog, objects built from Stripe's example
 * objects and kept in memory, list pagination, the search query language, idempotent replays,
 * and events recorded for every change and delivered signed to webhook endpoints, with retries.
 *
 * One lock guards all state; requests are short. Deliveries run on their own thread. Every
 * function below that takes the emulator expects its lock held, unless it says otherwise. */
#ifndef SLUICE_EMULATOR_INTERNAL_H
#define SLUICE_EMULATOR_INTERNAL_H

#include <pthread.h>
#include <stddef.h>

#include <jansson.h>
#include <sqlite3.h>

#include "emulator/emulator.h"
#include "sluice/catalog.h"

/* The resources the emulator keeps, by the plural their operations are named with. */
typedef struct sl_emu_resource {
    const char *plural; /* "customers": customers.create, customers.list, ... */
    const char *object; /* the fixture and the "object" field */
    const char *prefix; /* of generated ids */
    int emits;          /* records <event>.created/.updated/.deleted events */
    const char *event;  /* the events' prefix when it is not `object` (issuing_card), or NULL */
} sl_emu_resource_t;

/* A reply being built: status and JSON body. */
typedef struct sl_emu_reply {
    unsigned status;
    json_t *body; /* or, as a JSON string, a kept object's text (sl__emu_text) that a retrieve
                   * sends: made a tree once the lock is released */
    int replayed;
    char *html;    /* a page instead of JSON (hosted checkout pages; a quote's PDF: "%PDF-...") */
    int stateless; /* answered from Stripe's example, nothing kept (Sluice-Stateless: true) */
    int unkept;    /* a 501 for an operation the emulator does not keep */
} sl_emu_reply_t;

struct sl_emu_delivery; /* deliver.c's queue */

struct sl_emulator {
    sl_emulator_config_t cfg;
    struct MHD_Daemon *daemon;
    int port;
    char base_url[96];    /* http://HOST:PORT, for the hosted pages' URLs */
    pthread_mutex_t lock; /* guards everything below */
    json_t *objects;      /* id -> object: its compact text, or its tree within a request */
    json_t *thawed;       /* [ids] made trees by the request under way: sl__emu_freeze */
    json_t *templates;    /* object type -> Stripe's example object, parsed */
    char made_id[96];     /* the object the request's create made, and the text it wrote of */
    json_t *made_text;    /* it, until anything reaches it again (state.c: made_forget) */
    json_t *lists;        /* object type -> [ids], oldest first */
    json_t *events;       /* [event stubs: sl__emu_event_stub], oldest first */
    unsigned long *hits;  /* API requests routed to each operation, by catalog index (atomic) */
    json_t *idem;         /* idempotency key -> {fingerprint, status, body} */
    json_t *secrets;      /* webhook endpoint id -> whsec_ */
    json_t *pm_tokens;    /* payment method id -> the test token it came from (pm_card_visa) */
    json_t *settling;     /* [{id, ok}]: bank debits that settle when the request ends */
    unsigned long invoice_numbers; /* finalized invoices so far */
    /* --data FILE: every change is written through to SQLite at the end of its request */
    sqlite3 *db;
    json_t *seq; /* id -> creation order, which lists keep */
    json_int_t next_seq;
    json_t *touched; /* ids created or changed by the request under way -> true */
    json_t *gone;    /* ids removed by it */
    /* deliveries */
    pthread_t thread;
    pthread_cond_t wake;
    struct sl_emu_delivery *queue;
    int stopping;
};

/* --- Routing (server.c) ----------------------------------------------------------------------
 */

/* The catalog operation for METHOD PATH (the path without its query); literal segments beat
 * parameters. Sets the operation's path parameters in `params` as strings. NULL if none. */
const sl_op_t *sl__emu_route(const char *method, const char *path, json_t *params);

/* --- State (state.c): objects, ids, events, idempotency ------------------------------------- */

/* Makes the empty state; sl__emu_state_free frees it and closes the state file. */
void sl__emu_state_init(sl_emulator_t *e);
void sl__emu_state_free(sl_emulator_t *e);

/* Aborts when the randomness an id needs is not to be had: the change under way is already
 * half made and cannot be undone, and an id must never be guessable. */
void sl__emu_must_rand(sl_err rc);

/* A Stripe error reply: {"error": {type, message, code?, param?}}. */
sl_emu_reply_t sl__emu_error(unsigned status, const char *type, const char *code, const char *param,
                             const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* A 501 for an operation the emulator does not keep (unkept: answered statelessly unless
 * --strict). */
sl_emu_reply_t sl__emu_unkept(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* 404 "No such <object>: '<id>'". */
sl_emu_reply_t sl__emu_no_such(const char *object, const char *id);

/* The kept object `id`, which the caller may change until the request ends, or NULL. */
json_t *sl__emu_get(sl_emulator_t *e, const char *id);

/* A copy of the kept object `id`, the caller's own (parsed from its text: a request that only
 * reads needs no object written back), or NULL. */
json_t *sl__emu_read(sl_emulator_t *e, const char *id);

/* The JSON text of the kept object `id`, as a JSON string (a new reference), when it is kept as
 * text and is of the type `type`; NULL otherwise (not kept, of another type, or in use as a
 * tree). A retrieve sends it without a tree made under the lock. */
json_t *sl__emu_text(sl_emulator_t *e, const char *id, const char *type);

/* Whether the kept object `id` may have the string field `key` equal to `value` (or an object
 * there with that id): exact for an object in use, a search of the text of one that is not (a
 * yes may be wrong; a no is never wrong, but for an object field: ask for "id" too).
 * Scans of many objects ask it first, to read only the objects that may match. */
int sl__emu_may_match(sl_emulator_t *e, const char *id, const char *key, const char *value);

/* Keeps `obj` (a new reference is taken) as object `id`; sl__emu_del removes it. */
void sl__emu_put(sl_emulator_t *e, const char *id, json_t *obj);
void sl__emu_del(sl_emulator_t *e, const char *id);

/* Turns the objects the request made trees back into text (what sl__emu_get returned is not to
 * be used after it); sl__emu_unlock does so, then releases the lock. */
void sl__emu_freeze(sl_emulator_t *e);
void sl__emu_unlock(sl_emulator_t *e);

/* The same for a request whose reply `body` may be a kept object's tree itself (as
 * sl__emu_create_shared makes it): that reply becomes the object's text (a JSON string, see
 * sl_emu_reply_t), dumped once for both. */
void sl__emu_freeze_reply(sl_emulator_t *e, json_t **body);
void sl__emu_unlock_reply(sl_emulator_t *e, sl_emu_reply_t *out);

/* The resource whose plural is plural[0..n), or NULL. */
const sl_emu_resource_t *sl__emu_resource(const char *plural, size_t n);

/* Whether objects of `type` are kept in a list of their own (a subscription's items are listed
 * through it only). */
int sl__emu_listed(const char *type);

/* Appends id to the list of its object type, oldest first. */
void sl__emu_list_append(sl_emulator_t *e, const char *type, const char *id);

/* A status change named by the operation (quotes.finalize, payouts.cancel, ...) on the kept
 * object `id`, with its event; status 0 when `op` is no such operation. */
sl_emu_reply_t sl__emu_transition(sl_emulator_t *e, const char *op, const char *id,
                                  const char *request_id, const char *idem_key);

/* The kept price `id`, or the price a kept plan `id` is (the legacy items[][plan]), or what
 * else the id names (the caller checks it is a recurring price), or NULL. */
json_t *sl__emu_price(sl_emulator_t *e, const char *id);

/* Whether obj is a kept object of the type (its "object" field); NULL is none. */
int sl__emu_is_a(const json_t *obj, const char *type);

/* An object's status field, or "". */
const char *sl__emu_status_of(const json_t *obj);

/* Merges typed parameters into an object, as Stripe applies an update: null unsets, metadata
 * merges key by key (an empty value removes the key), other objects merge field by field.
 * Fills `previous` (when given) with the old values of the fields it changes. */
void sl__emu_apply(json_t *obj, const json_t *params, json_t *previous, int metadata);

/* The generic create, update and delete of a resource, recording its events when it emits
 * them. Replies hold copies; the kept object is e->objects[id]. */
sl_emu_reply_t sl__emu_create(sl_emulator_t *e, const sl_emu_resource_t *r, const json_t *params,
                              const char *request_id, const char *idem_key);
/* sl__emu_create whose reply is the kept object's tree itself, not a copy: for a caller that
 * changes nothing in the reply and returns it to the request, which ends with
 * sl__emu_unlock_reply. */
sl_emu_reply_t sl__emu_create_shared(sl_emulator_t *e, const sl_emu_resource_t *r,
                                     const json_t *params, const char *request_id,
                                     const char *idem_key);
sl_emu_reply_t sl__emu_update(sl_emulator_t *e, const sl_emu_resource_t *r, const char *id,
                              const json_t *params, const char *request_id, const char *idem_key);
sl_emu_reply_t sl__emu_delete(sl_emulator_t *e, const sl_emu_resource_t *r, const char *id,
                              const char *request_id);

/* Records an event of `type` with a snapshot of `object` (and `previous`, whose reference it
 * takes) and queues it for every endpoint that wants it. */
void sl__emu_emit(sl_emulator_t *e, const char *type, const json_t *object, json_t *previous,
                  const char *request_id, const char *idem_key);

/* Events are kept small: e->events holds stubs {id, type, created, text}, text the whole event
 * as compact JSON (a tree per event costs several times its text). sl__emu_event_stub makes one
 * of an event (new reference); sl__emu_event_full gives the event back (new reference). */
json_t *sl__emu_event_stub(const json_t *ev);

/* Drops the oldest events past cfg.max_events (a sixteenth more are let in first, so that they
 * go in batches). Called between requests: persist counts events by index within one. The
 * state file keeps every event. */
void sl__emu_trim_events(sl_emulator_t *e);
json_t *sl__emu_event_full(const json_t *stub);

/* Idempotency-Key: 1 with *out filled when the key was seen before (the reply it got when the
 * request is the same, an idempotency_error otherwise); 0 for a new key. */
int sl__emu_idem_seen(sl_emulator_t *e, const char *key, const char *fingerprint,
                      sl_emu_reply_t *out);

/* Keeps a reply for replays of its key (not 5xx ones: those may be retried). */
void sl__emu_idem_keep(sl_emulator_t *e, const char *key, const char *fingerprint,
                       const sl_emu_reply_t *r);

/* Replaces a reply's body, which may hold kept objects' trees, by a copy of it, before expand[]
 * changes it. A reply needs no copy to be sent: sl__emu_freeze leaves the trees it holds to it
 * alone, the kept objects being text again. */
void sl__emu_snapshot(sl_emu_reply_t *r);

/* --- Stateless answers (stateless.c) -----------------------------------------------------------
 */

/* An operation the emulator does not keep, answered as Stripe's stateless mock does: the example
 * object of its response type (a list of one, or {id, object, deleted}), with the parameters
 * (path ids included, already validated) that name its fields applied, the id the path names or a
 * fresh one. Nothing is kept and no event recorded. A 501 when the API description has no
 * example of the response. Needs no lock. */
sl_emu_reply_t sl__emu_stateless(const sl_op_t *op, const json_t *params, const char *path);

/* --- Persistence (persist.c): --data FILE ------------------------------------------------------
 */

/* Marks an object as created or changed by the request under way; sl__emu_forget as removed. */
void sl__emu_touch(sl_emulator_t *e, const char *id);
void sl__emu_forget(sl_emulator_t *e, const char *id);

/* Opens (creating if need be) the state file and loads it into the empty state. */
sl_err sl__emu_persist_open(sl_emulator_t *e, const char *file, char *err, size_t errlen);

/* Writes what the request changed, in one transaction: the objects it touched or named in
 * `reply`, the events it recorded (from index `events_before`), its idempotency record and new
 * secrets. A failure is logged; the change stays in memory. */
void sl__emu_persist(sl_emulator_t *e, const json_t *reply, size_t events_before,
                     const char *idem_key);

/* --- Deliveries (deliver.c) --------------------------------------------------------------------
 */

/* Starts the delivery thread; sl__emu_deliver_stop stops it and drops what is pending (neither
 * with the lock held). */
sl_err sl__emu_deliver_start(sl_emulator_t *e, char *err, size_t errlen);
void sl__emu_deliver_stop(sl_emulator_t *e);

/* Counts the endpoints that want event `ev` of `type` into its pending_webhooks and queues it
 * for each of them. */
void sl__emu_deliver_event(sl_emulator_t *e, json_t *ev, const char *type);

/* --- Lists (list.c): pagination, events, expand[] ----------------------------------------------
 */

/* A page of `items` (newest first already; the reference is taken), cut by limit,
 * starting_after and ending_before. */
sl_emu_reply_t sl__emu_page(json_t *items, const json_t *params, const char *url);

/* <resources>.list: the objects of r, newest first, filtered by equal fields and created. */
sl_emu_reply_t sl__emu_list(sl_emulator_t *e, const sl_emu_resource_t *r, const json_t *params,
                            const char *url);

/* events.list, with type (a trailing * matches a prefix), types[] and created. */
sl_emu_reply_t sl__emu_events_list(sl_emulator_t *e, const json_t *params);

/* expand[]: a 400 reply when a path names a field that cannot be expanded; status 0 if fine. */
sl_emu_reply_t sl__emu_check_expand(const json_t *expand);

/* Expands one dotted path ("customer", "latest_invoice.payment_intent", "data.customer" in a
 * list) in node. An error reply when a segment names nothing expandable; status 0 if done. */
sl_emu_reply_t sl__emu_expand(sl_emulator_t *e, json_t *node, const char *path, const char *whole);

/* --- Search (search.c) -------------------------------------------------------------------------
 */

/* <resources>.search: field:'v', field~'v', metadata['k']:'v', created>N, -negation, AND / OR. */
sl_emu_reply_t sl__emu_search(sl_emulator_t *e, const sl_emu_resource_t *r, const json_t *params,
                              const char *url);

/* --- Test cards (cards.c) ----------------------------------------------------------------------
 */

#define SL_EMU_CARD_ATTACHES 1u /* a declining card that attaches, and declines when charged */
#define SL_EMU_CARD_ACTION 2u   /* payments with it need 3D Secure (requires_action) */
#define SL_EMU_CARD_DISPUTE 4u  /* it pays, and the payment is then disputed */
#define SL_EMU_CARD_INQUIRY 8u  /* the dispute is an inquiry */

/* One of Stripe's test cards. */
typedef struct sl_emu_card {
    const char *name;         /* after pm_card_ and tok_: "visa", "chargeDeclined", ... */
    const char *number;       /* its test card number */
    const char *brand;        /* "visa" */
    const char *funding;      /* "credit", "debit", "prepaid" */
    const char *decline_code; /* NULL: it pays */
    const char *code;         /* the error's code when it declines: card_declined, ... */
    const char *message;      /* and its message, as Stripe words it */
    const char *param;        /* and the parameter it names (cvc, exp_month), or NULL */
    unsigned flags;           /* SL_EMU_CARD_* */
} sl_emu_card_t;

/* The test card a token (pm_card_visa, pm_card_visa_chargeDeclined, tok_visa) or test card
 * number names, or NULL. */
const sl_emu_card_t *sl__emu_card(const char *token);

/* The test card a payment method or card (by id) was made from, or NULL. */
const sl_emu_card_t *sl__emu_card_of(sl_emulator_t *e, const char *id);

/* Makes a payment method (object "payment_method") or a card ("card") from a test token, or from
 * `details` (card[number], exp_month, exp_year), owned by `customer` (may be NULL). The id goes
 * to id[0..n). A number that is not one gets Stripe's 402 incorrect_number; an unknown token a
 * 400 naming it. */
sl_emu_reply_t sl__emu_card_make(sl_emulator_t *e, const char *object, const char *token,
                                 const json_t *details, const char *customer, char *id, size_t n);

/* Stripe's 402 card_error for a declining card: code, decline_code, message, param. */
sl_emu_reply_t sl__emu_card_decline(const sl_emu_card_t *c);

/* A 3D Secure card: `intent` (a payment or setup intent) is left requires_action with its
 * next_action, `event` is recorded, and the reply is the intent. */
sl_emu_reply_t sl__emu_card_requires_action(sl_emulator_t *e, json_t *intent, const char *event,
                                            const char *request_id, const char *idem_key);

/* A 402 when the payment method or card `id` declines as soon as it is attached to a customer
 * (Stripe checks a card then: only chargeCustomerFail declines later); status 0 if fine. */
sl_emu_reply_t sl__emu_card_attach_check(sl_emulator_t *e, const char *id);

/* --- Payments (pay.c) --------------------------------------------------------------------------
 */

/* A payment method id for a payment: a test token (pm_card_visa) becomes a new payment method
 * as Stripe makes one; an existing pm_ is used as it is. NULL with *err set if unknown. The
 * id made from a token lives until the thread's next call. */
const char *sl__emu_payment_method_for(sl_emulator_t *e, const char *pm, sl_emu_reply_t *err);

/* Settles the bank debits the request left processing whose test IBAN has a known outcome:
 * succeeded (charge.succeeded, payment_intent.succeeded) or failed (charge.failed,
 * payment_intent.payment_failed), and the checkout session paid with one. Called at the end of
 * every request that changes state, after its reply was taken. */
void sl__emu_settle(sl_emulator_t *e, const char *request_id);

/* payment_intents.create/update/confirm/cancel/capture (typed parameters, changed). */
sl_emu_reply_t sl__emu_payment_intents(sl_emulator_t *e, const char *verb, const char *id,
                                       json_t *typed, const char *request_id, const char *idem_key);

/* payment_methods.create/attach/detach: a card from card[token] or a test card number; a test
 * token attached makes a new payment method. */
sl_emu_reply_t sl__emu_payment_methods(sl_emulator_t *e, const char *verb, const char *id,
                                       json_t *typed, const char *request_id, const char *idem_key);

/* disputes.update (charge.dispute.updated) and disputes.close (charge.dispute.closed, lost). */
sl_emu_reply_t sl__emu_disputes(sl_emulator_t *e, const char *verb, const char *id, json_t *typed,
                                const char *request_id, const char *idem_key);

/* customers.sources.*: a card made from a token (source=tok_visa), updated, listed, detached. */
sl_emu_reply_t sl__emu_customer_sources(sl_emulator_t *e, const char *verb, const char *customer,
                                        const char *id, json_t *typed, const char *request_id,
                                        const char *idem_key);

/* customers.create/update with payment_method: a test token becomes a payment method attached
 * to the customer, and invoice_settings[default_payment_method] naming the same token names
 * it. */
sl_emu_reply_t sl__emu_customers_write(sl_emulator_t *e, const char *verb, const char *id,
                                       json_t *typed, const char *request_id, const char *idem_key);

/* --- Billing (billing.c) -----------------------------------------------------------------------
 */

/* invoices.*: draft -> open -> paid | void | uncollectible. */
sl_emu_reply_t sl__emu_invoices(sl_emulator_t *e, const char *verb, const char *id, json_t *typed,
                                const char *request_id, const char *idem_key);

/* invoiceitems.create/update/delete, on draft invoices only. */
sl_emu_reply_t sl__emu_invoiceitems_write(sl_emulator_t *e, const char *verb, const char *id,
                                          json_t *typed, const char *request_id,
                                          const char *idem_key);

/* subscriptions.create/update/cancel: the first invoice is made and paid at once. */
sl_emu_reply_t sl__emu_subscriptions(sl_emulator_t *e, const char *verb, const char *id,
                                     json_t *typed, const char *request_id, const char *idem_key);

/* The next period starts now, as when a test clock reaches the period's end: invoice.upcoming,
 * then the renewal invoice is made and paid (past_due if the payment fails), or the
 * subscription ends if it was set to cancel at the period's end. */
sl_emu_reply_t sl__emu_subscription_renew(sl_emulator_t *e, const char *id, const char *request_id);

/* coupon or promotion_code in `typed` (a customer's or subscription's create or update) made a
 * discount on `owner` as Stripe makes one ("" removes it), with customer.discount.created,
 * .updated or .deleted for a customer; the coupon's times_redeemed counts it. Fills previous
 * (when given) with the old discount. An error reply for an unknown coupon; status 0 if done
 * (the caller removes coupon and promotion_code from typed: they are not fields). */
sl_emu_reply_t sl__emu_discount(sl_emulator_t *e, json_t *owner, const json_t *typed,
                                const char *request_id, const char *idem_key, json_t *previous);

/* Takes coupon and promotion_code out of `typed` (they are no fields) into *disc, for
 * sl__emu_discount (the caller frees it). An unknown one is refused before anything is made:
 * an error reply, *disc NULL; status 0 if fine. */
sl_emu_reply_t sl__emu_discount_take(sl_emulator_t *e, json_t *typed, json_t **disc);

/* promotion_codes.create (a code made when none is given; the coupon object) and update. */
sl_emu_reply_t sl__emu_promotion_codes(sl_emulator_t *e, const char *verb, const char *id,
                                       json_t *typed, const char *request_id, const char *idem_key);

/* --- Money back (refunds.c) ------------------------------------------------------------------
 */

/* refunds.create (of a charge or a payment intent's charge, whole or in part: charge.refunded),
 * update (charge.refund.updated) and cancel. */
sl_emu_reply_t sl__emu_refunds(sl_emulator_t *e, const char *verb, const char *id, json_t *typed,
                               const char *request_id, const char *idem_key);

/* credit_notes.create (on an open or paid invoice, by lines or amount), update, void. */
sl_emu_reply_t sl__emu_credit_notes(sl_emulator_t *e, const char *verb, const char *id,
                                    json_t *typed, const char *request_id, const char *idem_key);

/* transfers.reversals.create: part or all of a transfer back (amount_reversed, reversed,
 * transfer.reversed). */
sl_emu_reply_t sl__emu_transfer_reversal(sl_emulator_t *e, const char *transfer_id, json_t *typed,
                                         const char *request_id, const char *idem_key);

/* --- Setup intents (setup.c) --------------------------------------------------------------------
 */

/* setup_intents.create (confirm=true too), confirm, update, cancel, with Stripe's test cards. */
sl_emu_reply_t sl__emu_setup_intents(sl_emulator_t *e, const char *verb, const char *id,
                                     json_t *typed, const char *request_id, const char *idem_key);

/* --- Time (clocks.c) ----------------------------------------------------------------------------
 */

/* test_helpers.test_clocks.create/advance/delete: advancing renews the subscriptions of the
 * clock's customers whose period ended by the new time. */
sl_emu_reply_t sl__emu_test_clocks(sl_emulator_t *e, const char *verb, const char *id,
                                   json_t *typed, const char *request_id, const char *idem_key);

/* subscription_schedules.create (a subscription from the first phase when it starts now),
 * update, cancel (aborted before it starts), release. */
sl_emu_reply_t sl__emu_subscription_schedules(sl_emulator_t *e, const char *verb, const char *id,
                                              json_t *typed, const char *request_id,
                                              const char *idem_key);

/* --- Money (money.c) ---------------------------------------------------------------------------
 */

/* balance.retrieve (what the kept charges paid, less refunds: available for
 * pm_card_bypassPending, pending otherwise), customers.cash_balance.retrieve,
 * customers.cash_balance_transactions.list and test_helpers.customers.fund_cash_balance
 * (customer_cash_balance_transaction.created, cash_balance.funds_available), by operation name;
 * id is the customer. */
sl_emu_reply_t sl__emu_money(sl_emulator_t *e, const char *name, const char *id, json_t *typed,
                             const char *request_id, const char *idem_key);

/* Records balance.available with the balance as it is now (a payment that is available at
 * once, as pm_card_bypassPending's is in test mode). */
void sl__emu_balance_available(sl_emulator_t *e, const char *request_id, const char *idem_key);

/* reporting.report_runs.create: the run succeeds at once (reporting.report_run.succeeded); its
 * result file is not served (url null). */
sl_emu_reply_t sl__emu_report_runs(sl_emulator_t *e, json_t *typed, const char *request_id,
                                   const char *idem_key);

/* --- Connect (connect.c) -----------------------------------------------------------------------
 */

/* accounts.create and accounts.delete (account.application.deauthorized); the rest is the
 * generic resource's (update records account.updated). */
sl_emu_reply_t sl__emu_accounts(sl_emulator_t *e, const char *verb, const char *id, json_t *typed,
                                const char *request_id, const char *idem_key);

/* --- Issuing (issuing.c) -----------------------------------------------------------------------
 */

/* The issuing test helpers, by operation name: test_helpers.issuing.authorizations.create
 * (issuing_authorization.request, .created), .capture (a transaction) and .reverse
 * (issuing_authorization.updated); test_helpers.issuing.transactions.create_force_capture,
 * .create_unlinked_refund and .refund (issuing_transaction.created). id is the path's. */
sl_emu_reply_t sl__emu_issuing(sl_emulator_t *e, const char *name, const char *id, json_t *typed,
                               const char *request_id, const char *idem_key);

/* --- Uploads (multipart.c) ----------------------------------------------------------------------
 */

struct sl_buf; /* core/buf.h */

/* A multipart/form-data body (ctype its Content-Type, with the boundary) as a form body: each
 * part's name and value, percent-encoded and joined with '&'; a file part's value is its file
 * name, since the emulator keeps no file's bytes. Returns 0 with out filled (within out's cap),
 * or -1 when ctype is not multipart/form-data with a boundary (out left as it was). Parts
 * without a name, and what follows a part with no end, are left out. */
int sl__emu_multipart_form(const char *ctype, const char *body, size_t len, struct sl_buf *out);

/* --- Checkout (checkout.c) ---------------------------------------------------------------------
 */

/* The line items kept beside a checkout session or payment link ("<id>/line_items"), or NULL. */
json_t *sl__emu_line_items(sl_emulator_t *e, const char *owner);

/* quotes.create/update: line_items[] (a price or price_data each) kept beside the quote as a
 * checkout session's are, its amounts their total. */
sl_emu_reply_t sl__emu_quotes_write(sl_emulator_t *e, const char *verb, const char *id,
                                    json_t *typed, const char *request_id, const char *idem_key);

/* checkout.sessions.create/expire. */
sl_emu_reply_t sl__emu_checkout_sessions(sl_emulator_t *e, const char *verb, const char *id,
                                         json_t *typed, const char *request_id,
                                         const char *idem_key);

/* The customer pays on the hosted page: with a test card (pm_card_visa unless payment_method
 * says otherwise), an email and a name. A decline answers 402 and the session stays open. */
sl_emu_reply_t sl__emu_checkout_complete(sl_emulator_t *e, const char *id, const json_t *form,
                                         const char *request_id);

/* The completed session paid with payment intent `pi`, which settled (ok) or failed: paid with
 * checkout.session.async_payment_succeeded, or checkout.session.async_payment_failed. */
void sl__emu_checkout_settled(sl_emulator_t *e, const char *pi, int ok, const char *request_id);

/* payment_links.create/update. */
sl_emu_reply_t sl__emu_payment_links(sl_emulator_t *e, const char *verb, const char *id,
                                     json_t *typed, const char *request_id, const char *idem_key);

/* A customer opens a payment link: a session for it, completed at once. */
sl_emu_reply_t sl__emu_payment_link_complete(sl_emulator_t *e, const char *id, const json_t *form,
                                             const char *request_id);

/* --- Hosted pages (pages.c) --------------------------------------------------------------------
 */

/* Test-only routes, under /_sluice/ so they never shadow Stripe's (form: the decoded query or
 * body). */
sl_emu_reply_t sl__emu_test_route(sl_emulator_t *e, const char *method, const char *path,
                                  const json_t *form, const char *request_id);

#endif
