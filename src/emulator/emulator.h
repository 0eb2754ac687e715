/* sluice emulate: a local, stateful Stripe API that records and delivers events (internal). */
#ifndef SLUICE_EMULATOR_H
#define SLUICE_EMULATOR_H

#include "sluice/error.h"

typedef struct sl_emulator sl_emulator_t;

typedef struct sl_emulator_config {
    const char *listen; /* "HOST:PORT"; port 0 picks a free one */
    long retry_base_ms; /* first wait before redelivering to a failing endpoint; default 1000 */
    int max_deliveries; /* attempts per event and endpoint; default 6 */
    const char *data;   /* NULL: state in memory only; else a SQLite file kept across restarts */
    int strict;         /* operations not kept answer 501, not the stateless mock's example */
    long max_events;    /* events kept for events.list/retrieve, oldest dropped; 0: 1,000,000 */
} sl_emulator_config_t;

/* Starts serving. err says why it could not. */
sl_err sl__emulator_start(const sl_emulator_config_t *cfg, sl_emulator_t **out, char *err,
                          size_t errlen);

int sl__emulator_port(const sl_emulator_t *e);

/* Stops serving and delivering (pending deliveries are dropped) and frees everything. */
void sl__emulator_stop(sl_emulator_t *e);

#endif
