#include "conn/clients.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn/conn.h"
#include "core/clock.h"

/* How long a client is used before the store is asked whether its connection changed. */
#define CHECK_EVERY_MS 1000

typedef struct slot {
    char name[64];
    sl_client_t *client;
    char *fingerprint; /* what the client was made from: sealed key, base URL, version, ... */
    int refs;          /* calls holding the client */
    int retired;       /* replaced: freed when refs reaches 0 */
    double checked_ms;
    struct slot *next;
} slot_t;

struct sl_clients {
    sl_store_t *store;
    const sl_crypt_t *crypt;
    pthread_mutex_t lock;
    slot_t *live;    /* the current client of each connection */
    slot_t *retired; /* replaced, still held by a call */
};

sl_clients_t *sl__clients_new(sl_store_t *store, const sl_crypt_t *crypt)
{
    sl_clients_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->store = store;
    c->crypt = crypt;
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

static char *fingerprint(const sl_conn_row_t *row)
{
    char *out = NULL;
    if (asprintf(&out, "%s|%s|%s|%s|%s", row->key_sealed ? row->key_sealed : "", row->base_url,
                 row->stripe_version, row->stripe_account, row->mode) < 0)
        return NULL;
    return out;
}

static void slot_free(slot_t *s)
{
    sl_client_free(s->client);
    free(s->fingerprint);
    free(s);
}

/* Moves a live slot to the retired list, or frees it when nobody holds it (lock held). */
static void retire(sl_clients_t *c, slot_t **link)
{
    slot_t *s = *link;
    *link = s->next;
    if (!s->refs) {
        slot_free(s);
        return;
    }
    s->retired = 1;
    s->next = c->retired;
    c->retired = s;
}

static slot_t **find(sl_clients_t *c, const char *name)
{
    slot_t **link = &c->live;
    while (*link && strcmp((*link)->name, name) != 0)
        link = &(*link)->next;
    return link;
}

sl_client_t *sl__clients_get(sl_clients_t *c, const char *name, char *err, size_t errlen)
{
    double now = sl__mono_ms();
    pthread_mutex_lock(&c->lock);
    slot_t *s = *find(c, name);
    if (s && now - s->checked_ms < CHECK_EVERY_MS) {
        s->refs++;
        pthread_mutex_unlock(&c->lock);
        return s->client;
    }
    pthread_mutex_unlock(&c->lock);

    /* Stale or new: read the connection outside the lock (the store may be slow). */
    sl_conn_row_t row;
    if (sl_store_conn_get(c->store, name, &row, err, errlen) != SL_OK) {
        pthread_mutex_lock(&c->lock);
        slot_t **link = find(c, name);
        if (*link)
            retire(c, link); /* removed: its client goes */
        pthread_mutex_unlock(&c->lock);
        return NULL; /* err says why, in the store's words */
    }
    char *fp = fingerprint(&row);
    pthread_mutex_lock(&c->lock);
    slot_t **link = find(c, name);
    if (*link && fp && strcmp((*link)->fingerprint, fp) == 0) {
        /* Unchanged: keep the client and its warm connections. */
        (*link)->checked_ms = now;
        (*link)->refs++;
        sl_client_t *client = (*link)->client;
        pthread_mutex_unlock(&c->lock);
        free(fp);
        sl_conn_row_cleanup(&row);
        return client;
    }
    pthread_mutex_unlock(&c->lock);

    sl_client_t *client = NULL;
    slot_t *fresh = calloc(1, sizeof *fresh);
    if (!fp || !fresh) {
        snprintf(err, errlen, "out of memory");
    } else if (sl__conn_client(&row, c->crypt, NULL, &client, err, errlen) == SL_OK) {
        snprintf(fresh->name, sizeof fresh->name, "%s", name);
        fresh->client = client;
        fresh->fingerprint = fp;
        fresh->refs = 1;
        fresh->checked_ms = now;
        fp = NULL;
        pthread_mutex_lock(&c->lock);
        link = find(c, name);
        if (*link)
            retire(c, link); /* changed: the old client goes once its calls end */
        fresh->next = c->live;
        c->live = fresh;
        fresh = NULL;
        pthread_mutex_unlock(&c->lock);
    }
    free(fresh);
    free(fp);
    sl_conn_row_cleanup(&row);
    return client;
}

void sl__clients_release(sl_clients_t *c, sl_client_t *client)
{
    if (!client)
        return;
    pthread_mutex_lock(&c->lock);
    for (slot_t *s = c->live; s; s = s->next)
        if (s->client == client) {
            s->refs--;
            pthread_mutex_unlock(&c->lock);
            return;
        }
    for (slot_t **link = &c->retired; *link; link = &(*link)->next)
        if ((*link)->client == client) {
            slot_t *s = *link;
            if (--s->refs == 0) {
                *link = s->next;
                slot_free(s);
            }
            break;
        }
    pthread_mutex_unlock(&c->lock);
}

void sl__clients_free(sl_clients_t *c)
{
    if (!c)
        return;
    for (slot_t *s = c->live, *next; s; s = next) {
        next = s->next;
        slot_free(s);
    }
    for (slot_t *s = c->retired, *next; s; s = next) {
        next = s->next;
        slot_free(s);
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
}
