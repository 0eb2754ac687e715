#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "core/log.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_is_quiet;

void sl__log_quiet(int quiet)
{
    log_is_quiet = quiet;
}

int sl__log_wants(const char *level)
{
    return !(log_is_quiet && strcmp(level, "info") == 0);
}

void sl__log(const char *level, const char *msg, json_t *fields)
{
    /* "notice" lines (where sluice listens, that it stopped) show even when quiet. */
    if (log_is_quiet && strcmp(level, "info") == 0) {
        json_decref(fields);
        return;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
    json_t *line = json_pack("{s:s,s:s,s:s}", "ts", ts, "level", level, "msg", msg);
    if (line && fields)
        json_object_update(line, fields);
    json_decref(fields);
    char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
    json_decref(line);
    if (!text)
        return;
    pthread_mutex_lock(&log_lock);
    fprintf(stderr, "%s\n", text);
    pthread_mutex_unlock(&log_lock);
    free(text);
}
