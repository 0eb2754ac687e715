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

#include <jansson.h>

/* A sample event of `type` as Stripe would send it, its data.object built from the example of
 * the type's object (a minimal object for the few types with no example). NULL for an unknown
 * type. New reference. */
json_t *sl__sample_event(const char *type);

#endif
