/* The named actions of the Stripe connectors sluice's users know (Konnectify, the agent
 * platform's Stripe Connection, Tray), as aliases of catalog operations. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/catalog.h"
#include "stripe/catalog.h"
#include "stripe/internal.h"

enum alias_kind {
    ALIAS_PLAIN,
    ALIAS_FIND_CUSTOMER,     /* id, or an email looked up through customers.list */
    ALIAS_FIND_SUBSCRIPTION, /* sub_... or si_... */
    ALIAS_ARCHIVE_PRICE,     /* prices.update with active=false */
    ALIAS_GET_ACCOUNT,       /* accounts.retrieve with an id, account.retrieve without */
};

struct sl_alias {
    const char *name;
    const char *title;
    const char *source;
    const char *op;
    enum alias_kind kind;
    const char *note;
};

#define K "Konnectify"
#define A "agent platform"
#define T "Tray"

/* Sorted by name (a unit test checks it, and that every operation exists). */
static const struct sl_alias aliases[] = {
    {"archive-price", "Archive Price", K, "prices.update", ALIAS_ARCHIVE_PRICE,
     "Updates the price with active=false (prices cannot be deleted)."},
    {"cancel-payment-intent", "Cancel Payment Intent", K, "payment_intents.cancel", ALIAS_PLAIN,
     ""},
    {"cancel-subscription", "Cancel Subscription", K ", " A, "subscriptions.cancel", ALIAS_PLAIN,
     ""},
    {"confirm-a-payment-intent", "Confirm a Payment Intent", A, "payment_intents.confirm",
     ALIAS_PLAIN, ""},
    {"create-a-customer", "Create a Customer", A, "customers.create", ALIAS_PLAIN, ""},
    {"create-a-payment-intent", "Create a Payment Intent", A, "payment_intents.create", ALIAS_PLAIN,
     ""},
    {"create-a-payment-link", "Create a Payment Link", A, "payment_links.create", ALIAS_PLAIN, ""},
    {"create-a-price", "Create a Price", A, "prices.create", ALIAS_PLAIN, ""},
    {"create-a-product", "Create a Product", A, "products.create", ALIAS_PLAIN, ""},
    {"create-a-subscription", "Create a Subscription", A, "subscriptions.create", ALIAS_PLAIN, ""},
    {"create-an-invoice", "Create an Invoice", A, "invoices.create", ALIAS_PLAIN, ""},
    {"create-card", "Create Card", T, "customers.sources.create", ALIAS_PLAIN,
     "Attaches a card (source=tok_...) to a customer."},
    {"create-checkout-session", "Create Checkout Session", A, "checkout.sessions.create",
     ALIAS_PLAIN, ""},
    {"create-coupon", "Create Coupon", K, "coupons.create", ALIAS_PLAIN, ""},
    {"create-customer", "Create Customer", K, "customers.create", ALIAS_PLAIN, ""},
    {"create-invoice", "Create Invoice", K, "invoices.create", ALIAS_PLAIN, ""},
    {"create-payment-intent", "Create Payment Intent", K, "payment_intents.create", ALIAS_PLAIN,
     ""},
    {"create-price", "Create Price", K, "prices.create", ALIAS_PLAIN, ""},
    {"create-product", "Create Product", K, "products.create", ALIAS_PLAIN, ""},
    {"create-subscription", "Create Subscription", K, "subscriptions.create", ALIAS_PLAIN, ""},
    {"delete-coupon", "Delete Coupon", K, "coupons.delete", ALIAS_PLAIN, ""},
    {"delete-customer", "Delete Customer", K, "customers.delete", ALIAS_PLAIN, ""},
    {"delete-invoice", "Delete Invoice", K, "invoices.delete", ALIAS_PLAIN, ""},
    {"delete-product", "Delete Product", K, "products.delete", ALIAS_PLAIN, ""},
    {"finalize-invoice", "Finalize Invoice", K, "invoices.finalize", ALIAS_PLAIN, ""},
    {"find-coupon", "Find Coupon", K, "coupons.retrieve", ALIAS_PLAIN, ""},
    {"find-customer", "Find Customer", K, "customers.retrieve", ALIAS_FIND_CUSTOMER,
     "Takes id=cus_... or email=... (an id containing '@' is an email); an email is looked up "
     "with customers.list and the newest match is returned."},
    {"find-invoice", "Find Invoice", K, "invoices.retrieve", ALIAS_PLAIN, ""},
    {"find-payment-intent", "Find Payment Intent", K, "payment_intents.retrieve", ALIAS_PLAIN, ""},
    {"find-price", "Find Price", K, "prices.retrieve", ALIAS_PLAIN, ""},
    {"find-product", "Find Product", K, "products.retrieve", ALIAS_PLAIN, ""},
    {"find-subscription", "Find Subscription", K, "subscriptions.retrieve", ALIAS_FIND_SUBSCRIPTION,
     "Takes a subscription id (sub_...) or a subscription item id (si_..., returns the item)."},
    {"get-account", "Get Account", K, "accounts.retrieve", ALIAS_GET_ACCOUNT,
     "With id=acct_... retrieves that connected account; without, the key's own account."},
    {"get-customer", "Get Customer", T, "customers.retrieve", ALIAS_PLAIN, ""},
    {"list-invoices", "List Invoices", T, "invoices.list", ALIAS_PLAIN, ""},
    {"mark-invoice-as-uncollectible", "Mark Invoice as Uncollectible", K,
     "invoices.mark_uncollectible", ALIAS_PLAIN, ""},
    {"pay-invoice", "Pay Invoice", K, "invoices.pay", ALIAS_PLAIN, ""},
    {"retrieve-event", "Retrieve Event", K, "events.retrieve", ALIAS_PLAIN, ""},
    {"search-invoice", "Search Invoice", K, "invoices.search", ALIAS_PLAIN, ""},
    {"search-price", "Search Price", K, "prices.search", ALIAS_PLAIN, ""},
    {"search-product", "Search Product", K, "products.search", ALIAS_PLAIN, ""},
    {"search-subscription", "Search Subscription", K, "subscriptions.search", ALIAS_PLAIN, ""},
    {"update-a-customer", "Update a Customer", A, "customers.update", ALIAS_PLAIN, ""},
    {"update-coupon", "Update Coupon", K, "coupons.update", ALIAS_PLAIN, ""},
    {"update-customer", "Update Customer", K, "customers.update", ALIAS_PLAIN, ""},
    {"update-invoice", "Update Invoice", K, "invoices.update", ALIAS_PLAIN, ""},
    {"update-payment-intent", "Update Payment Intent", K, "payment_intents.update", ALIAS_PLAIN,
     ""},
    {"update-price", "Update Price", K, "prices.update", ALIAS_PLAIN, ""},
    {"update-product", "Update Product", K, "products.update", ALIAS_PLAIN, ""},
    {"update-subscription", "Update Subscription", K, "subscriptions.update", ALIAS_PLAIN, ""},
};
#define NALIASES (sizeof aliases / sizeof *aliases)

size_t sl_alias_count(void)
{
    return NALIASES;
}

const sl_alias_t *sl_alias_at(size_t i)
{
    return i < NALIASES ? &aliases[i] : NULL;
}

static int alias_cmp(const void *key, const void *row)
{
    return strcmp(key, ((const struct sl_alias *)row)->name);
}

const sl_alias_t *sl_alias_find(const char *name)
{
    char norm[96];
    size_t n = 0;
    for (const char *p = name; *p; p++) {
        char c = (char)tolower((unsigned char)*p);
        if (c == ' ' || c == '_')
            c = '-';
        if (c == '-' && (n == 0 || norm[n - 1] == '-'))
            continue;
        if (n + 1 >= sizeof norm)
            return NULL;
        norm[n++] = c;
    }
    while (n && norm[n - 1] == '-')
        n--;
    norm[n] = '\0';
    return bsearch(norm, aliases, NALIASES, sizeof *aliases, alias_cmp);
}

const char *sl_alias_name(const sl_alias_t *a)
{
    return a->name;
}

const char *sl_alias_title(const sl_alias_t *a)
{
    return a->title;
}

const char *sl_alias_source(const sl_alias_t *a)
{
    return a->source;
}

const char *sl_alias_note(const sl_alias_t *a)
{
    return a->note;
}

const sl_op_t *sl_alias_op(const sl_alias_t *a)
{
    return sl_op_find(a->op);
}

/* Takes the first of `keys` present in `p` out of it; returns a new reference or NULL. */
static json_t *take_first(json_t *p, const char *const *keys)
{
    for (; *keys; keys++) {
        json_t *v = json_object_get(p, *keys);
        if (v) {
            json_incref(v);
            json_object_del(p, *keys);
            return v;
        }
    }
    return NULL;
}

static sl_err call_op(sl_client_t *client, const sl_op_t *op, const json_t *params, int validate,
                      const sl_request_t *base, sl_response_t *resp, char *err, size_t errlen)
{
    sl_op_call_t call;
    sl_err rc = sl_op_call_init(&call, op, params, validate, err, errlen);
    if (!rc) {
        if (base) {
            call.req.idempotency_key = base->idempotency_key;
            call.req.stripe_account = base->stripe_account;
            call.req.stripe_version = base->stripe_version;
            call.req.max_retries = base->max_retries;
        }
        rc = sl_client_request(client, &call.req, resp);
        if (rc && err && errlen)
            snprintf(err, errlen, "%s", resp->error.message);
    }
    sl_op_call_cleanup(&call);
    return rc;
}

/* What an alias makes of a call before anything is sent: the operation (*op, which it may
 * change) and the parameters `p` (changed in place). *id receives the id or email it took out of
 * `p` (a new reference, or NULL), and *by_email is set when find-customer got an email: the
 * customer is then looked up with customers.list, whose parameters `p` holds. A value for which
 * opaque() is true is not known yet (a flow's template): it is taken for an id. */
static sl_err alias_prepare(const sl_alias_t *alias, json_t *p, const sl_op_t **op, json_t **id,
                            int *by_email, int (*opaque)(const json_t *v), char *err, size_t errlen)
{
    *id = NULL;
    *by_email = 0;
    switch (alias ? alias->kind : ALIAS_PLAIN) {
    case ALIAS_PLAIN:
        break;
    case ALIAS_ARCHIVE_PRICE:
        json_object_set_new(p, "active", json_string("false"));
        break;
    case ALIAS_GET_ACCOUNT: {
        static const char *const keys[] = {"account", "id", NULL};
        *id = take_first(p, keys);
        if (*id)
            json_object_set(p, "account", *id);
        else
            *op = sl_op_find("account.retrieve");
        break;
    }
    case ALIAS_FIND_SUBSCRIPTION: {
        static const char *const keys[] = {"subscription_exposed_id", "subscription", "id",
                                           "subscription_item",       "item",         NULL};
        *id = take_first(p, keys);
        const char *s = json_string_value(*id);
        if (!s || !*s) {
            snprintf(err, errlen, "%s: give id=sub_... or id=si_...", alias->name);
            return SL_EINVAL;
        }
        if (strncmp(s, "si_", 3) == 0) {
            *op = sl_op_find("subscription_items.retrieve");
            json_object_set(p, "item", *id);
        } else {
            json_object_set(p, "subscription_exposed_id", *id);
        }
        break;
    }
    case ALIAS_FIND_CUSTOMER: {
        static const char *const keys[] = {"email", "customer", "id", NULL};
        *id = take_first(p, keys);
        const char *s = json_string_value(*id);
        if (!s || !*s) {
            snprintf(err, errlen, "%s: give id=cus_... or email=...", alias->name);
            return SL_EINVAL;
        }
        if (!strchr(s, '@') || (opaque && opaque(*id))) {
            json_object_set(p, "customer", *id);
            break;
        }
        /* By email: the list endpoint's filter, newest first. */
        json_object_set(p, "email", *id);
        json_object_set_new(p, "limit", json_integer(1));
        *op = sl_op_find("customers.list");
        *by_email = 1;
        break;
    }
    }
    return SL_OK;
}

/* Resolves `name` (operation first, then alias) and copies the parameters; the caller frees *p. */
static sl_err action_start(const char *name, const json_t *params, const sl_op_t **op,
                           const sl_alias_t **alias, json_t **p, char *err, size_t errlen)
{
    *op = sl_op_find(name);
    *alias = *op ? NULL : sl_alias_find(name);
    *p = NULL;
    if (!*op && !*alias) {
        snprintf(err, errlen,
                 "unknown operation `%s`; `sluice ops` lists the operations and "
                 "`sluice ops --seeds` the named actions",
                 name);
        return SL_ENOTFOUND;
    }
    if (*alias)
        *op = sl_alias_op(*alias);
    if (params && !json_is_object(params)) {
        snprintf(err, errlen, "%s: parameters must be a JSON object", name);
        return SL_EINVAL;
    }
    *p = params ? json_deep_copy(params) : json_object();
    return *p ? SL_OK : SL_ENOMEM;
}

sl_err sl_action_call(sl_client_t *client, const char *name, const json_t *params, int validate,
                      const sl_request_t *base, sl_response_t *resp, char *err, size_t errlen)
{
    char ignored[8];
    memset(resp, 0, sizeof *resp);
    if (!err || !errlen) {
        err = ignored;
        errlen = sizeof ignored;
    }
    err[0] = '\0';
    const sl_op_t *op;
    const sl_alias_t *alias;
    json_t *p, *id = NULL;
    int by_email = 0;
    sl_err rc = action_start(name, params, &op, &alias, &p, err, errlen);
    if (!rc)
        rc = alias_prepare(alias, p, &op, &id, &by_email, NULL, err, errlen);
    if (!rc)
        rc = call_op(client, op, p, validate, base, resp, err, errlen);
    if (!rc && by_email) {
        json_t *first = json_array_get(json_object_get(resp->json, "data"), 0);
        if (!first) {
            snprintf(err, errlen, "%s: no customer has the email `%s`", alias->name,
                     json_string_value(id));
            snprintf(resp->error.message, sizeof resp->error.message, "%s", err);
            rc = SL_ENOTFOUND;
        } else {
            json_incref(first);
            json_decref(resp->json);
            resp->json = first;
        }
    }
    json_decref(id);
    json_decref(p);
    return rc;
}

sl_err sl__action_check(const char *name, const json_t *params, int (*opaque)(const json_t *v),
                        char *where, size_t wherelen, char *err, size_t errlen)
{
    char ignored[8];
    if (!err || !errlen) {
        err = ignored;
        errlen = sizeof ignored;
    }
    err[0] = '\0';
    if (where && wherelen)
        where[0] = '\0';
    const sl_op_t *op;
    const sl_alias_t *alias;
    json_t *p, *id = NULL;
    int by_email = 0;
    sl_err rc = action_start(name, params, &op, &alias, &p, err, errlen);
    if (!rc)
        rc = alias_prepare(alias, p, &op, &id, &by_email, opaque, err, errlen);
    if (!rc) {
        sl_op_call_t call; /* takes the path parameters out, as the call would */
        rc = sl_op_call_init(&call, op, p, 0, err, errlen);
        if (!rc)
            rc = sl__op_validate_open((const struct sl_op *)op, call.params, opaque, where,
                                      wherelen, err, errlen);
        sl_op_call_cleanup(&call);
    }
    json_decref(id);
    json_decref(p);
    return rc;
}

/* Operations first, then the named actions: the nearest name within a quarter of its length. */
const char *sl_op_suggest(const char *name)
{
    const char *best = NULL;
    size_t best_d = strlen(name) / 4 + 1;
    if (best_d > 4)
        best_d = 4;
    size_t nops = sl_op_count();
    for (size_t i = 0; i < nops + sl_alias_count(); i++) {
        const char *cand =
            i < nops ? sl_op_name(sl_op_at(i)) : sl_alias_name(sl_alias_at(i - nops));
        size_t d = sl__edit_distance(name, cand);
        if (d <= best_d) {
            best = cand;
            best_d = d;
        }
    }
    return best;
}
