/* --data FILE: the state written through to SQLite at the end of every request that changes
 * it, and loaded back at start. Objects keep their creation order (seq), which lists follow. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "emulator/internal.h"

/* Marks every kept object a JSON value names (objects change in place: an invoice paid, a
 * payment method attached; the reply and the events of a request name what it changed). */
static void touch_named(sl_emulator_t *e, const json_t *v)
{
    if (json_is_string(v)) {
        if (sl__emu_get(e, json_string_value(v)))
            sl__emu_touch(e, json_string_value(v));
        return;
    }
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x) touch_named(e, x);
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x) touch_named(e, x);
    }
}

static int db_exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
        return 0;
    snprintf(err, errlen, "%s", msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return -1;
}

/* Runs one statement with text a, text b, integer n (if >= 0) and text, those given. */
static int db_put(sqlite3 *db, const char *sql, const char *a, const char *b, json_int_t n,
                  const char *text)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int i = 1;
    if (a)
        sqlite3_bind_text(st, i++, a, -1, SQLITE_STATIC);
    if (b)
        sqlite3_bind_text(st, i++, b, -1, SQLITE_STATIC);
    if (n >= 0)
        sqlite3_bind_int64(st, i++, n);
    if (text)
        sqlite3_bind_text(st, i++, text, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* The first failure of a sl__emu_persist() pass, for its log line. */
static __thread char db_failure[256];

static int db_check(sqlite3 *db, int bad)
{
    if (bad && !db_failure[0])
        snprintf(db_failure, sizeof db_failure, "%s", sqlite3_errmsg(db));
    return bad;
}

static int kv_put(sqlite3 *db, const char *kind, const char *key, const json_t *value)
{
    char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
    int rc = db_put(db, "INSERT OR REPLACE INTO kv(kind, key, value) VALUES (?, ?, ?)", kind, key,
                    -1, text);
    free(text);
    return rc;
}

static int put_object(sl_emulator_t *e, const char *id, const json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT);
    const char *type = strchr(id, '/') ? "" : json_string_value(json_object_get(obj, "object"));
    int rc =
        db_put(e->db, "INSERT OR REPLACE INTO objects(id, type, seq, json) VALUES (?, ?, ?, ?)", id,
               type ? type : "", json_integer_value(json_object_get(e->seq, id)), text);
    free(text);
    return rc;
}

void sl__emu_persist(sl_emulator_t *e, const json_t *reply, size_t events_before,
                     const char *idem_key)
{
    if (!e->db)
        return;
    touch_named(e, reply);
    for (size_t i = events_before; i < json_array_size(e->events); i++) {
        json_t *ev = sl__emu_event_full(json_array_get(e->events, i));
        touch_named(e, json_object_get(ev, "data"));
        json_decref(ev);
    }
    char err[256];
    db_failure[0] = '\0';
    int bad = db_check(e->db, db_exec(e->db, "BEGIN", err, sizeof err));
    const char *id;
    json_t *v;
    json_object_foreach(e->touched, id, v)
    {
        const json_t *obj = sl__emu_get(e, id);
        if (!obj)
            continue;
        bad |= db_check(e->db, put_object(e, id, obj));
        char key[160];
        snprintf(key, sizeof key, "%s/line_items", id);
        const json_t *li = sl__emu_get(e, key);
        if (li && !json_object_get(e->touched, key))
            bad |= db_check(e->db, put_object(e, key, li));
        const json_t *secret = json_object_get(e->secrets, id);
        if (secret)
            bad |= db_check(e->db, kv_put(e->db, "secret", id, secret));
        const json_t *token = json_object_get(e->pm_tokens, id);
        if (token)
            bad |= db_check(e->db, kv_put(e->db, "pm_token", id, token));
    }
    size_t i;
    json_array_foreach(e->gone, i, v)
    {
        bad |=
            db_put(e->db, "DELETE FROM objects WHERE id = ?", json_string_value(v), NULL, -1, NULL);
        bad |= db_check(e->db, db_put(e->db, "DELETE FROM kv WHERE kind = 'secret' AND key = ?",
                                      json_string_value(v), NULL, -1, NULL));
    }
    for (i = events_before; i < json_array_size(e->events); i++) {
        const char *text = json_string_value(json_object_get(json_array_get(e->events, i), "text"));
        bad |= db_check(e->db, db_put(e->db, "INSERT INTO events(json) VALUES (?)", NULL, NULL, -1,
                                      text ? text : "{}"));
    }
    if (idem_key && json_object_get(e->idem, idem_key))
        bad |= db_check(e->db, kv_put(e->db, "idem", idem_key, json_object_get(e->idem, idem_key)));
    json_t *jn = json_integer((json_int_t)e->invoice_numbers);
    bad |= db_check(e->db, kv_put(e->db, "meta", "invoice_numbers", jn));
    json_decref(jn);
    if (bad) {
        sl__log("error",
                "emulate: could not save the state; this request's changes are kept in "
                "memory only",
                json_pack("{s:s}", "error", db_failure));
        db_exec(e->db, "ROLLBACK", err, sizeof err);
    } else {
        db_exec(e->db, "COMMIT", err, sizeof err);
    }
    json_object_clear(e->touched);
    json_array_clear(e->gone);
}

sl_err sl__emu_persist_open(sl_emulator_t *e, const char *file, char *err, size_t errlen)
{
    if (sqlite3_open_v2(file, &e->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        snprintf(err, errlen, "--data %s: %s", file, e->db ? sqlite3_errmsg(e->db) : "cannot open");
        return SL_EIO;
    }
    sqlite3_busy_timeout(e->db, 5000);
    char why[256];
    if (db_exec(e->db,
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                "CREATE TABLE IF NOT EXISTS objects(id TEXT PRIMARY KEY, type TEXT NOT NULL,"
                " seq INTEGER NOT NULL, json TEXT NOT NULL);"
                "CREATE TABLE IF NOT EXISTS events(seq INTEGER PRIMARY KEY, json TEXT NOT NULL);"
                "CREATE TABLE IF NOT EXISTS kv(kind TEXT NOT NULL, key TEXT NOT NULL,"
                " value TEXT NOT NULL, PRIMARY KEY(kind, key));",
                why, sizeof why)) {
        snprintf(err, errlen, "--data %s: %s (is it a sluice emulate state file?)", file, why);
        return SL_EIO;
    }
    sqlite3_stmt *st = NULL, *probe = NULL;
    int usable = sqlite3_prepare_v2(e->db, "SELECT kind, key, value FROM kv LIMIT 0", -1, &probe,
                                    NULL) == SQLITE_OK &&
                 sqlite3_prepare_v2(e->db, "SELECT id, type, seq, json FROM objects ORDER BY seq",
                                    -1, &st, NULL) == SQLITE_OK;
    sqlite3_finalize(probe);
    if (!usable) {
        snprintf(err, errlen, "--data %s: %s (is it a sluice emulate state file?)", file,
                 sqlite3_errmsg(e->db));
        sqlite3_finalize(st);
        return SL_EIO;
    }
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        const char *type = (const char *)sqlite3_column_text(st, 1);
        json_int_t seq = sqlite3_column_int64(st, 2);
        json_t *obj = json_loads((const char *)sqlite3_column_text(st, 3), 0, NULL);
        if (!obj || !id || !type)
            continue;
        sl__emu_put(e, id, obj);
        json_decref(obj);
        json_object_set_new(e->seq, id, json_integer(seq));
        if (seq >= e->next_seq)
            e->next_seq = seq + 1;
        if (sl__emu_listed(type))
            sl__emu_list_append(e, type, id);
    }
    sqlite3_finalize(st);
    sl__emu_freeze(e); /* kept as text, as between requests */
    st = NULL;
    sqlite3_prepare_v2(e->db, "SELECT json FROM events ORDER BY seq", -1, &st, NULL);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        json_t *ev = json_loads((const char *)sqlite3_column_text(st, 0), 0, NULL);
        if (ev)
            json_array_append_new(e->events, sl__emu_event_stub(ev));
        json_decref(ev);
    }
    sqlite3_finalize(st);
    st = NULL;
    sqlite3_prepare_v2(e->db, "SELECT kind, key, value FROM kv", -1, &st, NULL);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        const char *kind = (const char *)sqlite3_column_text(st, 0);
        const char *key = (const char *)sqlite3_column_text(st, 1);
        json_t *v = json_loads((const char *)sqlite3_column_text(st, 2), JSON_DECODE_ANY, NULL);
        if (!v || !kind || !key) {
            json_decref(v);
            continue;
        }
        if (strcmp(kind, "secret") == 0)
            json_object_set(e->secrets, key, v);
        else if (strcmp(kind, "pm_token") == 0)
            json_object_set(e->pm_tokens, key, v);
        else if (strcmp(kind, "idem") == 0)
            json_object_set(e->idem, key, v);
        else if (strcmp(kind, "meta") == 0 && strcmp(key, "invoice_numbers") == 0)
            e->invoice_numbers = (unsigned long)json_integer_value(v);
        json_decref(v);
    }
    sqlite3_finalize(st);
    return SL_OK;
}
