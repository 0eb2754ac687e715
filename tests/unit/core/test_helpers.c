/* The small helpers of core: hex digits, well-formed UTF-8, random ids and UUIDs, clocks and
 * --listen addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "core/clock.h"
#include "core/hex.h"
#include "core/log.h"
#include "core/net.h"
#include "core/rand.h"
#include "core/utf8.h"

static void test_hex(void **state)
{
    (void)state;
    assert_int_equal(sl__hex_val('0'), 0);
    assert_int_equal(sl__hex_val('9'), 9);
    assert_int_equal(sl__hex_val('a'), 10);
    assert_int_equal(sl__hex_val('F'), 15);
    assert_int_equal(sl__hex_val('g'), -1);
    assert_int_equal(sl__hex_val('G'), -1);
    assert_int_equal(sl__hex_val(' '), -1);
    assert_int_equal(sl__hex_val('\0'), -1);

    unsigned char all[256], back[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    char hex[513];
    sl__hex_encode(all, sizeof all, hex);
    assert_int_equal(strlen(hex), 512);
    assert_memory_equal(hex, "000102", 6);
    assert_string_equal(hex + 500, "fafbfcfdfeff");
    assert_int_equal(sl__hex_decode(hex, back, sizeof back), 0);
    assert_memory_equal(all, back, sizeof all);

    unsigned char two[2];
    assert_int_equal(sl__hex_decode("BEef", two, 2), 0);
    assert_int_equal(two[0], 0xbe);
    assert_int_equal(two[1], 0xef);
    assert_int_equal(sl__hex_decode("zz00", two, 2), -1);
    assert_int_equal(sl__hex_decode("0g00", two, 2), -1);
    assert_int_equal(sl__hex_decode("00-1", two, 2), -1);
    assert_int_equal(sl__hex_decode("abc", two, 2), -1); /* too short: stops at the NUL */
    assert_int_equal(sl__hex_decode("", two, 0), 0);

    char empty[1] = {'x'};
    sl__hex_encode(all, 0, empty);
    assert_string_equal(empty, "");
}

static size_t seq(const char *s)
{
    return sl__utf8_seq((const unsigned char *)s, strlen(s));
}

static void test_utf8_seq(void **state)
{
    (void)state;
    assert_int_equal(seq("\xc3\xa9"), 2);         /* é */
    assert_int_equal(seq("\xe2\x82\xac"), 3);     /* € */
    assert_int_equal(seq("\xf0\x9f\x98\x80"), 4); /* 😀 */
    assert_int_equal(seq("\xf4\x8f\xbf\xbf"), 4); /* U+10FFFF */
    assert_int_equal(seq("\xed\x9f\xbf"), 3);     /* U+D7FF, just below the surrogates */
    assert_int_equal(seq("\xee\x80\x80"), 3);     /* U+E000, just above */

    assert_int_equal(seq("\xc0\x80"), 0);         /* overlong NUL */
    assert_int_equal(seq("\xc1\xbf"), 0);         /* overlong 0x7F */
    assert_int_equal(seq("\xe0\x80\x80"), 0);     /* overlong, 3 bytes */
    assert_int_equal(seq("\xe0\x9f\xbf"), 0);     /* U+07FF in 3 bytes */
    assert_int_equal(seq("\xf0\x80\x80\x80"), 0); /* overlong, 4 bytes */
    assert_int_equal(seq("\xf0\x8f\xbf\xbf"), 0); /* U+FFFF in 4 bytes */
    assert_int_equal(seq("\xed\xa0\x80"), 0);     /* U+D800 */
    assert_int_equal(seq("\xed\xbf\xbf"), 0);     /* U+DFFF */
    assert_int_equal(seq("\xf4\x90\x80\x80"), 0); /* U+110000 */
    assert_int_equal(seq("\xf5\x80\x80\x80"), 0);
    assert_int_equal(seq("\xff"), 0);
    assert_int_equal(seq("\x80"), 0);     /* a lone continuation byte */
    assert_int_equal(seq("\xc3\x28"), 0); /* a bad continuation byte */
    assert_int_equal(sl__utf8_seq((const unsigned char *)"\xe2\x82\xac", 2), 0); /* cut short */
}

static void test_utf8_bad_at(void **state)
{
    (void)state;
    const char ok[] = "plain \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
    assert_int_equal(sl__utf8_bad_at(ok, strlen(ok)), strlen(ok));
    assert_true(sl__utf8_valid(ok));
    assert_true(sl__utf8_valid(""));
    assert_int_equal(sl__utf8_bad_at("ab\xed\xa0\x80z", 6), 2);
    assert_int_equal(sl__utf8_bad_at("abc\xc3", 4), 3); /* truncated at the end */
    assert_int_equal(sl__utf8_bad_at("\xc3\xa9\xc0\x80", 4), 2);
    assert_int_equal(sl__utf8_bad_at("a\0b", 3), 3); /* NUL is ASCII */
    assert_false(sl__utf8_valid("x\xf4\x90\x80\x80"));
    assert_false(sl__utf8_valid("\xe0\x80\x80"));
}

/* Log fields keep bytes that are not UTF-8 as U+FFFD, and the rest as they are. */
static void test_log_str(void **state)
{
    (void)state;
    json_t *j = sl__log_str("shop");
    assert_string_equal(json_string_value(j), "shop");
    json_decref(j);
    j = sl__log_str("\xff\xfe"
                    "a\xc3\xa9"
                    "\xc0\xaf"
                    "b\xe2\x82");
    assert_non_null(j);
    assert_string_equal(json_string_value(j), "\xef\xbf\xbd\xef\xbf\xbd"
                                              "a\xc3\xa9"
                                              "\xef\xbf\xbd\xef\xbf\xbd"
                                              "b\xef\xbf\xbd\xef\xbf\xbd");
    json_decref(j);
}

static void test_utf8_put(void **state)
{
    (void)state;
    char out[4];
    assert_int_equal(sl__utf8_put('A', out), 1);
    assert_int_equal(out[0], 'A');
    assert_int_equal(sl__utf8_put(0x20AC, out), 3);
    assert_memory_equal(out, "\xe2\x82\xac", 3);
    assert_int_equal(sl__utf8_put(0x10FFFF, out), 4);
    assert_memory_equal(out, "\xf4\x8f\xbf\xbf", 4);

    /* every code point but the surrogates: the written form is well-formed and decodes back */
    for (unsigned cp = 0; cp <= 0x10FFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        size_t n = sl__utf8_put(cp, out);
        size_t want = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        if (n != want)
            fail_msg("U+%04X: %zu bytes", cp, n);
        if (sl__utf8_bad_at(out, n) != n)
            fail_msg("U+%04X is not well-formed once written", cp);
        unsigned back = n == 1 ? (unsigned char)out[0] : (unsigned char)out[0] & (0xFFu >> (n + 1));
        for (size_t i = 1; i < n; i++)
            back = back << 6 | ((unsigned char)out[i] & 0x3F);
        if (back != cp)
            fail_msg("U+%04X came back as U+%04X", cp, back);
    }
}

static int all_of(const char *s, const char *set)
{
    return strspn(s, set) == strlen(s);
}

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

/* Tokens come from a per-thread pool: a forked child must draw its own, not the bytes its
 * parent is about to hand out. */
static void test_rand_fork(void **state)
{
    (void)state;
    char warm[16], mine[16], child[16] = "";
    assert_int_equal(sl__rand_token(warm, 14), SL_OK); /* the pool is filled */
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char t[16] = "";
        sl__rand_token(t, 14);
        ssize_t w = write(fd[1], t, sizeof t);
        _exit(w == (ssize_t)sizeof t ? 0 : 1);
    }
    close(fd[1]);
    assert_int_equal(read(fd[0], child, sizeof child), (ssize_t)sizeof child);
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    assert_int_equal(sl__rand_token(mine, 14), SL_OK);
    assert_int_equal(strlen(child), 14);
    assert_string_not_equal(child, mine);
}

static void test_rand(void **state)
{
    (void)state;
    char a[32], b[32];
    assert_int_equal(sl__rand_id("cus", a, sizeof a), SL_OK);
    assert_int_equal(sl__rand_id("cus", b, sizeof b), SL_OK);
    assert_int_equal(strlen(a), 4 + 14);
    assert_memory_equal(a, "cus_", 4);
    assert_true(all_of(a + 4, ALNUM));
    assert_string_not_equal(a, b);
    assert_int_equal(sl__rand_id("evt", a, 8), SL_OK); /* cut to the room given */
    assert_int_equal(strlen(a), 7);
    assert_memory_equal(a, "evt_", 4);

    char tok[65], tok2[65];
    assert_int_equal(sl__rand_token(tok, 64), SL_OK);
    assert_int_equal(sl__rand_token(tok2, 64), SL_OK);
    assert_int_equal(strlen(tok), 64);
    assert_true(all_of(tok, ALNUM));
    assert_string_not_equal(tok, tok2);
    assert_int_equal(sl__rand_token(tok, 0), SL_OK);
    assert_string_equal(tok, "");
    char big[80];
    assert_int_equal(sl__rand_token(big, 65), SL_EINTERNAL);

    char hex[129], hex2[129];
    assert_int_equal(sl__rand_hex(hex, 64), SL_OK);
    assert_int_equal(sl__rand_hex(hex2, 64), SL_OK);
    assert_int_equal(strlen(hex), 128);
    assert_true(all_of(hex, "0123456789abcdef"));
    assert_string_not_equal(hex, hex2);
    assert_int_equal(sl__rand_hex(big, 65), SL_EINTERNAL);

    unsigned char r1[32] = {0}, r2[32] = {0};
    assert_int_equal(sl__rand_bytes(r1, sizeof r1), SL_OK);
    assert_int_equal(sl__rand_bytes(r2, sizeof r2), SL_OK);
    assert_memory_not_equal(r1, r2, sizeof r1);

    uint32_t u = sl__rand_u32();
    int differs = 0;
    for (int i = 0; i < 8 && !differs; i++)
        differs = sl__rand_u32() != u;
    assert_true(differs);
}

static void test_uuid4(void **state)
{
    (void)state;
    char u[37], v[37];
    for (int i = 0; i < 50; i++) {
        assert_int_equal(sl__uuid4(u), SL_OK);
        assert_int_equal(strlen(u), 36);
        for (int j = 0; j < 36; j++) {
            if (j == 8 || j == 13 || j == 18 || j == 23)
                assert_int_equal(u[j], '-');
            else
                assert_non_null(strchr("0123456789abcdef", u[j]));
        }
        assert_int_equal(u[14], '4');           /* version 4 */
        assert_non_null(strchr("89ab", u[19])); /* RFC 4122 variant */
    }
    assert_int_equal(sl__uuid4(v), SL_OK);
    assert_string_not_equal(u, v);
}

static void test_clock(void **state)
{
    (void)state;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long ms = sl__now_ms();
    long long then = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    assert_true(ms >= then && ms - then < 1000);

    for (long d = 0; d < 2000; d += 333) {
        clock_gettime(CLOCK_REALTIME, &now);
        struct timespec dl = sl__deadline_ms(d);
        assert_true(dl.tv_nsec >= 0 && dl.tv_nsec < 1000000000L);
        double diff =
            (double)(dl.tv_sec - now.tv_sec) * 1e3 + (double)(dl.tv_nsec - now.tv_nsec) / 1e6;
        assert_true(diff >= (double)d - 1 && diff < (double)d + 500);
    }
    struct timespec dl = sl__deadline_ms(999); /* nanoseconds carried into seconds */
    assert_true(dl.tv_nsec < 1000000000L);

    double t0 = sl__mono_ms();
    sl__sleep_ms(30);
    double t1 = sl__mono_ms();
    assert_true(t1 - t0 >= 29.0);
    sl__sleep_ms(0);
    sl__sleep_ms(-5);
    assert_true(sl__mono_ms() - t1 < 1000.0);
}

static void test_listen_ok(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    socklen_t len = 0;
    char err[256] = "";
    assert_int_equal(sl__listen_parse("127.0.0.1:0", &ss, &len, err, sizeof err), SL_OK);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(len, sizeof(struct sockaddr_in));
    const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
    assert_int_equal(ntohs(in->sin_port), 0);
    assert_int_equal(ntohl(in->sin_addr.s_addr), INADDR_LOOPBACK);

    assert_int_equal(sl__listen_parse("127.0.0.1:65535", &ss, NULL, err, sizeof err), SL_OK);
    assert_int_equal(ntohs(in->sin_port), 65535);

    assert_int_equal(sl__listen_parse("[::1]:8080", &ss, &len, err, sizeof err), SL_OK);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(len, sizeof(struct sockaddr_in6));
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
    assert_int_equal(ntohs(in6->sin6_port), 8080);
    assert_memory_equal(&in6->sin6_addr, &in6addr_loopback, sizeof in6addr_loopback);
}

static void check_refused(const char *listen, const char *want)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    char err[512] = "";
    assert_int_equal(sl__listen_parse(listen, &ss, &len, err, sizeof err), SL_EINVAL);
    assert_string_equal(err, want);
}

static void test_listen_refused(void **state)
{
    (void)state;
    check_refused("127.0.0.1", "--listen `127.0.0.1` is not HOST:PORT");
    check_refused("", "--listen `` is not HOST:PORT");
    check_refused(":8080", "--listen `:8080` is not HOST:PORT");
    check_refused("127.0.0.1:", "--listen `127.0.0.1:` is not HOST:PORT");
    check_refused("127.0.0.1:65536",
                  "--listen `127.0.0.1:65536`: the port must be a number from 0 to 65535");
    check_refused("127.0.0.1:99999",
                  "--listen `127.0.0.1:99999`: the port must be a number from 0 to 65535");
    check_refused("127.0.0.1:000080",
                  "--listen `127.0.0.1:000080`: the port must be a number from 0 to 65535");
    check_refused("127.0.0.1:80a",
                  "--listen `127.0.0.1:80a`: the port must be a number from 0 to 65535");
    check_refused("127.0.0.1:-1",
                  "--listen `127.0.0.1:-1`: the port must be a number from 0 to 65535");
    check_refused("[::1]:http", "--listen `[::1]:http`: the port must be a number from 0 to 65535");
    char longhost[400];
    memset(longhost, 'h', 300);
    snprintf(longhost + 300, sizeof longhost - 300, ":80");
    check_refused(longhost, "--listen: the host name is too long");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_utf8_seq),
        cmocka_unit_test(test_utf8_bad_at),
        cmocka_unit_test(test_utf8_put),
        cmocka_unit_test(test_log_str),
        cmocka_unit_test(test_rand),
        cmocka_unit_test(test_rand_fork),
        cmocka_unit_test(test_uuid4),
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_listen_ok),
        cmocka_unit_test(test_listen_refused),
    };
    return cmocka_run_group_tests_name("helpers", tests, NULL, NULL);
}
