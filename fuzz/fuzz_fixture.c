/* libFuzzer: Stripe CLI fixture files and their `${name:path|default}` references. The input
 * is a fixture document (JSON). What sl__fixture_check accepts, a run resolves request by
 * request (each earlier request answering a fixed response) without ever finding a reference
 * malformed or naming a request that is not an earlier one: only a field a response lacks, or
 * an unset environment variable, may stop it. Every failure says why; nothing leaks. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "trigger/fixture.h"

static const char response[] =
    "{\"id\":\"obj_123\",\"object\":\"thing\",\"amount\":1999,\"paid\":true,\"note\":null,"
    "\"metadata\":{\"plan\":\"pro\"},\"lines\":{\"data\":[{\"id\":\"li_1\"},{\"id\":\"li_2\"}]}}";

static void message_ok(const char *err)
{
    if (!err[0])
        abort(); /* a failure without a message */
    json_t *s = json_string(err);
    if (!s)
        abort(); /* not valid UTF-8 (messages end up in JSON) */
    json_decref(s);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
    json_t *doc = json_loadb((const char *)data, len, 0, NULL);
    if (!doc)
        return 0;
    char err[512] = "";
    json_t *resp = json_loads(response, 0, NULL);
    json_t *done = json_object();
    if (sl__fixture_check(doc, err, sizeof err) != SL_OK) {
        message_ok(err);
        /* Resolving what the checker refused still must not crash. */
        json_object_set(done, "customer", resp);
        err[0] = '\0';
        json_t *v = sl__fixture_subst(doc, done, "doc", err, sizeof err);
        if (!v)
            message_ok(err);
        json_decref(v);
        goto out;
    }
    const json_t *list = json_object_get(doc, "fixtures");
    size_t i;
    json_t *f;
    json_array_foreach(list, i, f)
    {
        const char *fields[] = {"path", "params"};
        for (size_t k = 0; k < 2; k++) {
            const json_t *raw = json_object_get(f, fields[k]);
            if (!raw)
                continue;
            err[0] = '\0';
            json_t *v = sl__fixture_subst(raw, done, "fixture", err, sizeof err);
            if (!v) {
                message_ok(err);
                /* Messages quote the reference or string between backquotes, then say what is
                 * wrong: read the kind after the last backquote (when the input has none of its
                 * own and the message is whole). */
                const char *tail = strrchr(err, '`');
                if (tail && !memchr(data, '`', len) && strlen(err) < sizeof err - 16 &&
                    (!strcmp(tail, "` is not ${name:field.path} or ${.env:VAR}") ||
                     !strcmp(tail, "`, which is not an earlier request") ||
                     !strcmp(tail, "` has ${ without its closing }")))
                    abort(); /* the checker let through what the run calls malformed */
            } else if (k == 0 && !json_is_string(v)) {
                abort(); /* a checked path starts with '/': it resolves to a string */
            }
            json_decref(v);
        }
        json_object_set(done, json_string_value(json_object_get(f, "name")), resp);
    }
out:
    json_decref(done);
    json_decref(resp);
    json_decref(doc);
    return 0;
}
