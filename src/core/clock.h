/* Clocks and waiting (internal): the one home of the time helpers every room uses. */
#ifndef SLUICE_CORE_CLOCK_H
#define SLUICE_CORE_CLOCK_H

#include <time.h>

/* Wall-clock time in milliseconds since the Unix epoch (CLOCK_REALTIME). */
long long sl__now_ms(void);

/* A monotonic time in milliseconds, for measuring durations only (CLOCK_MONOTONIC). */
double sl__mono_ms(void);

/* Sleeps `ms` milliseconds, resuming after signals. */
void sl__sleep_ms(long ms);

/* The CLOCK_REALTIME instant `ms` milliseconds from now, as pthread_cond_timedwait() takes it. */
struct timespec sl__deadline_ms(long ms);

#endif
