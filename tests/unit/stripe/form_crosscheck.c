/* Compares sl_form_encode() with what the `stripe` npm package produced for the same cases.
 * Usage: form_crosscheck CASES.json EXPECTED.json (EXPECTED: a JSON array of strings, one per
 * case, from tests/node/encode.js). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sluice/stripe.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: form_crosscheck CASES.json EXPECTED.json\n");
        return 2;
    }
    json_error_t jerr;
    json_t *cases = json_load_file(argv[1], JSON_ALLOW_NUL, &jerr);
    if (!cases) {
        fprintf(stderr, "%s:%d: %s\n", argv[1], jerr.line, jerr.text);
        return 2;
    }
    json_t *expected = json_load_file(argv[2], JSON_ALLOW_NUL, &jerr);
    if (!expected) {
        fprintf(stderr, "%s:%d: %s\n", argv[2], jerr.line, jerr.text);
        json_decref(cases);
        return 2;
    }
    size_t n = json_array_size(cases), passed = 0, failed = 0;
    if (n < 40 || json_array_size(expected) != n) {
        fprintf(stderr,
                "need at least 40 cases and one expected string each (%zu cases, %zu "
                "expected)\n",
                n, json_array_size(expected));
        failed++;
    }
    for (size_t i = 0; i < n && i < json_array_size(expected); i++) {
        json_t *c = json_array_get(cases, i);
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *want = json_string_value(json_array_get(expected, i));
        char *got = NULL;
        sl_err rc = sl_form_encode(json_object_get(c, "params"), &got);
        if (rc == SL_OK && want && strcmp(got, want) == 0) {
            passed++;
        } else {
            failed++;
            printf("MISMATCH %s\n  sluice: %s\n  stripe: %s\n", name ? name : "?",
                   rc ? sl_strerror(rc) : got, want ? want : "(missing)");
        }
        free(got);
    }
    printf("form encoding vs the stripe npm package: %zu passed, %zu failed\n", passed, failed);
    json_decref(cases);
    json_decref(expected);
    return failed ? 1 : 0;
}
