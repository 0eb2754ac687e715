#include "conn/secrets.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn/conn.h"
#include "core/log.h"

#define SECRET_TTL_S 1

typedef struct entry {
    char name[64];
    int refreshing; /* one caller reloads it; the others keep using what is here */
    char *current;
    char *previous;
    time_t loaded;
} entry_t;

struct sl_secrets {
    sl_store_t *store;
    const sl_crypt_t *crypt;
    pthread_mutex_t lock;
    entry_t *v;
    size_t n;
};

sl_secrets_t *sl__secrets_new(sl_store_t *store, const sl_crypt_t *crypt)
{
    sl_secrets_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->store = store;
    c->crypt = crypt;
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

static entry_t *find(sl_secrets_t *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].name, name) == 0)
            return &c->v[i];
    return NULL;
}

static void forget(sl_secrets_t *c, const char *name)
{
    entry_t *e = find(c, name);
    if (!e)
        return;
    sl__crypt_free(e->current);
    sl__crypt_free(e->previous);
    *e = c->v[--c->n];
}

int sl__secrets_get(sl_secrets_t *c, const char *name, char **cur, char **prev)
{
    time_t now = time(NULL);
    *cur = *prev = NULL;
    if (!sl__conn_name_ok(name))
        return 0;
    pthread_mutex_lock(&c->lock);
    entry_t *e = find(c, name);
    if (e && (now - e->loaded < SECRET_TTL_S || e->refreshing)) {
        *cur = e->current ? strdup(e->current) : NULL;
        *prev = e->previous ? strdup(e->previous) : NULL;
        pthread_mutex_unlock(&c->lock);
        return 1;
    }
    if (e)
        e->refreshing = 1; /* this caller reloads it */
    pthread_mutex_unlock(&c->lock);

    sl_conn_row_t row;
    char err[256];
    if (sl_store_conn_get(c->store, name, &row, err, sizeof err) != SL_OK) {
        pthread_mutex_lock(&c->lock);
        forget(c, name); /* gone (removed) */
        pthread_mutex_unlock(&c->lock);
        return 0;
    }
    char *fc = NULL, *fp = NULL;
    if (sl__conn_secrets(&row, c->crypt, now, &fc, &fp))
        sl__log("error", "cannot decrypt the webhook secret",
                json_pack("{s:s}", "connection", name));
    sl_conn_row_cleanup(&row);

    pthread_mutex_lock(&c->lock);
    e = find(c, name);
    if (!e) {
        entry_t *grown = realloc(c->v, (c->n + 1) * sizeof *grown);
        if (grown) {
            c->v = grown;
            e = &c->v[c->n++];
            memset(e, 0, sizeof *e);
            snprintf(e->name, sizeof e->name, "%s", name);
        }
    }
    if (e) {
        sl__crypt_free(e->current);
        sl__crypt_free(e->previous);
        e->current = fc ? strdup(fc) : NULL;
        e->previous = fp ? strdup(fp) : NULL;
        e->loaded = now;
        e->refreshing = 0;
    }
    pthread_mutex_unlock(&c->lock);
    *cur = fc;
    *prev = fp;
    return 1;
}

void sl__secrets_free(sl_secrets_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        sl__crypt_free(c->v[i].current);
        sl__crypt_free(c->v[i].previous);
    }
    free(c->v);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
