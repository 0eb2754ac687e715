/* Stripe's example object of each resource, generated from fixtures3.json (internal). */
#ifndef SLUICE_EMULATOR_FIXTURES_H
#define SLUICE_EMULATOR_FIXTURES_H

#include <stddef.h>

typedef struct sl_fixture {
    const char *object; /* "customer", "checkout.session", ... */
    const char *json;   /* the example, compact JSON */
} sl_fixture_t;

extern const sl_fixture_t sl__fixtures[]; /* sorted by object */
extern const size_t sl__nfixtures;

/* The example JSON of an object type, or NULL. */
const char *sl__fixture_json(const char *object);

#endif
