/* libFuzzer: the emulator's search query language (<resources>.search). The input is the query
 * (valid UTF-8 text, as the form decoder hands it over), then optionally, each on a line of its
 * own, `limit` and `page`. Every query is answered, over a few customers, with 200 and a search
 * result or 400 and a Stripe error: never a crash, a leak, or a reply with no body. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/internal.h"

static const char customers[] =
    "[{\"id\":\"cus_1\",\"object\":\"customer\",\"email\":\"jenny@example.com\",\"name\":"
    "\"Jenny Rosen\",\"created\":1700000000,\"livemode\":false,\"metadata\":{\"plan\":\"pro\","
    "\"seats\":\"3\"}},{\"id\":\"cus_2\",\"object\":\"customer\",\"email\":null,\"name\":"
    "\"Zo\\u00eb\",\"created\":1700000500,\"delinquent\":true,\"metadata\":{}},{\"id\":\"cus_3\","
    "\"object\":\"customer\",\"email\":\"a@b.co\",\"created\":-5,\"balance\":"
    "-9223372036854775808,\"metadata\":{\"plan\":\"\"}}]";

static char *line(const unsigned char **p, const unsigned char *end)
{
    const unsigned char *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));
    size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);
    *p = nl ? nl + 1 : end;
    char *out = malloc(n + 1);
    if (out) {
        memcpy(out, s, n);
        out[n] = '\0';
    }
    return out;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
    const unsigned char *p = data, *end = data + len;
    char *query = line(&p, end);
    char *limit = p < end ? line(&p, end) : NULL;
    char *page = p < end ? line(&p, end) : NULL;
    json_t *params = json_object();
    json_t *q = query ? json_string(query) : NULL;
    if (!q) /* not UTF-8: the form decoder never hands such a query over */
        goto out;
    json_object_set_new(params, "query", q);
    if (limit) {
        char *e;
        long long n = strtoll(limit, &e, 10);
        json_object_set_new(params, "limit", *limit && !*e ? json_integer(n) : json_string(limit));
    }
    if (page)
        json_object_set_new(params, "page", json_string(page));

    sl_emulator_t emu;
    memset(&emu, 0, sizeof emu);
    sl__emu_state_init(&emu);
    json_t *list = json_loads(customers, 0, NULL);
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c)
    {
        json_object_set(emu.objects, json_string_value(json_object_get(c, "id")), c);
        sl__emu_list_append(&emu, "customer", json_string_value(json_object_get(c, "id")));
    }
    json_decref(list);
    const sl_emu_resource_t *r = sl__emu_resource("customers", 9);
    sl_emu_reply_t reply = sl__emu_search(&emu, r, params, "/v1/customers/search");
    if (!reply.body)
        abort(); /* a reply with no body (an error message that is not UTF-8?) */
    if (reply.status == 200) {
        const json_t *d = json_object_get(reply.body, "data");
        if (!json_is_array(d) || json_array_size(d) > 3)
            abort();
    } else if (reply.status != 400 ||
               !json_is_string(json_object_get(json_object_get(reply.body, "error"), "message"))) {
        abort();
    }
    json_decref(reply.body);
    sl__emu_state_free(&emu);
out:
    json_decref(params);
    free(query);
    free(limit);
    free(page);
    return 0;
}
