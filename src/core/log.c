#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/utf8.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_is_quiet;
static int log_as_text;

void sl__log_text(int text)
{
    log_as_text = text;
}

/* A line for a person: time, level, message, then key=value (strings quoted when they hold a
 * space, a quote or nothing). */
static char *text_line(const char *ts, const char *level, const char *msg, json_t *fields)
{
    sl_buf_t b;
    sl__buf_init(&b, 1 << 20);
    sl__buf_printf(&b, "%.10s %.12s %-6s %s", ts, ts + 11, level, msg);
    const char *k;
    json_t *v;
    json_object_foreach(fields, k, v)
    {
        if (json_is_string(v)) {
            const char *s = json_string_value(v);
            int plain = *s && !strpbrk(s, " \"=\t\n");
            sl__buf_printf(&b, plain ? " %s=%s" : " %s=\"%s\"", k, s);
        } else {
            char *j = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            sl__buf_printf(&b, " %s=%s", k, j ? j : "?");
            free(j);
        }
    }
    char *out = b.data ? strdup(b.data) : NULL;
    sl__buf_cleanup(&b);
    return out;
}

void sl__log_quiet(int quiet)
{
    log_is_quiet = quiet;
}

int sl__log_wants(const char *level)
{
    return !(log_is_quiet && strcmp(level, "info") == 0);
}

json_t *sl__log_str(const char *s)
{
    size_t len = strlen(s), bad = sl__utf8_bad_at(s, len);
    if (bad == len)
        return json_stringn(s, len);
    char *fixed = malloc(3 * len + 1); /* each bad byte grows to 3 */
    if (!fixed)
        return NULL;
    const unsigned char *u = (const unsigned char *)s;
    size_t k = 0;
    for (size_t i = 0; i < len;) {
        size_t n = u[i] < 0x80 ? 1 : sl__utf8_seq(u + i, len - i);
        if (n) {
            memcpy(fixed + k, s + i, n);
            k += n;
            i += n;
        } else {
            memcpy(fixed + k, "\xEF\xBF\xBD", 3);
            k += 3;
            i++;
        }
    }
    json_t *out = json_stringn(fixed, k);
    free(fixed);
    return out;
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
    if (log_as_text) {
        char *text = text_line(ts, level, msg, fields);
        json_decref(fields);
        if (!text)
            return;
        pthread_mutex_lock(&log_lock);
        fprintf(stderr, "%s\n", text);
        pthread_mutex_unlock(&log_lock);
        free(text);
        return;
    }
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
