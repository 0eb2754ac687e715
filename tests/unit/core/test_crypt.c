/* Secrets at rest: the master key from SLUICE_MASTER_KEY or from DATA_DIR/master.key (made 0600
 * on first use, refused when others may read it), and AES-256-GCM seal/open bound to an aad. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/crypt.h"

#define KEY_A "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_B "ffeeddccbbaa99887766554433221100FFEEDDCCBBAA99887766554433221100"

typedef struct tmp {
    char dir[64];
    char key[128];
} tmp_t;

static int setup(void **state)
{
    tmp_t *t = calloc(1, sizeof *t);
    snprintf(t->dir, sizeof t->dir, "/tmp/sluice-crypt-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->key, sizeof t->key, "%s/master.key", t->dir);
    unsetenv("SLUICE_MASTER_KEY");
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    tmp_t *t = *state;
    unlink(t->key);
    rmdir(t->dir);
    free(t);
    unsetenv("SLUICE_MASTER_KEY");
    return 0;
}

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

static void init_with(sl_crypt_t *c, const char *hex)
{
    char err[256] = "";
    setenv("SLUICE_MASTER_KEY", hex, 1);
    assert_int_equal(sl__crypt_init(c, "/nonexistent-dir-never-used", err, sizeof err), SL_OK);
}

static void test_env_key(void **state)
{
    (void)state;
    sl_crypt_t c;
    init_with(&c, KEY_A);
    for (int i = 0; i < 32; i++)
        assert_int_equal(c.key[i], i);
    sl__crypt_cleanup(&c);
    assert_true(all_zero(c.key, sizeof c.key));

    init_with(&c, KEY_B); /* upper and lower case digits both count */
    assert_int_equal(c.key[0], 0xff);
    assert_int_equal(c.key[16], 0xff);
    assert_int_equal(c.key[31], 0x00);
    sl__crypt_cleanup(&c);
}

static void test_env_key_refused(void **state)
{
    (void)state;
    const char *bad[] = {
        KEY_A "0",                                                          /* 65 digits */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1", /* 63 */
        "g00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", /* not hex */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1 ", /* a space */
        "abc",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sl_crypt_t c;
        memset(&c, 0xAA, sizeof c);
        char err[256] = "";
        setenv("SLUICE_MASTER_KEY", bad[i], 1);
        assert_int_equal(sl__crypt_init(&c, "/tmp", err, sizeof err), SL_EINVAL);
        assert_string_equal(err, "SLUICE_MASTER_KEY must be 64 hex digits (32 bytes)");
        assert_true(all_zero(c.key, sizeof c.key)); /* nothing half-decoded is left */
    }
}

static void test_key_file_created_and_reused(void **state)
{
    tmp_t *t = *state;
    setenv("SLUICE_MASTER_KEY", "", 1); /* empty counts as unset */
    sl_crypt_t c1, c2;
    char err[256] = "";
    assert_int_equal(sl__crypt_init(&c1, t->dir, err, sizeof err), SL_OK);
    struct stat st;
    assert_int_equal(stat(t->key, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 32);
    assert_false(all_zero(c1.key, sizeof c1.key));

    assert_int_equal(sl__crypt_init(&c2, t->dir, err, sizeof err), SL_OK);
    assert_memory_equal(c1.key, c2.key, sizeof c1.key);

    FILE *f = fopen(t->key, "rb");
    unsigned char disk[32];
    assert_int_equal(fread(disk, 1, sizeof disk, f), sizeof disk);
    fclose(f);
    assert_memory_equal(disk, c1.key, sizeof disk);

    char *sealed = NULL, *plain = NULL;
    assert_int_equal(sl__crypt_seal(&c1, "sk_test_123", "conn", &sealed), SL_OK);
    assert_int_equal(sl__crypt_open(&c2, sealed, "conn", &plain), SL_OK);
    assert_string_equal(plain, "sk_test_123");
    sl__crypt_free(plain);
    free(sealed);
    sl__crypt_cleanup(&c1);
    sl__crypt_cleanup(&c2);
}

static void write_key_file(const char *path, size_t n, mode_t mode)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    unsigned char k[64];
    memset(k, 7, sizeof k);
    assert_int_equal(fwrite(k, 1, n, f), n);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_key_file_refused(void **state)
{
    tmp_t *t = *state;
    sl_crypt_t c;
    char err[512] = "", want[512];

    write_key_file(t->key, 32, 0644);
    assert_int_equal(sl__crypt_init(&c, t->dir, err, sizeof err), SL_EINVAL);
    snprintf(want, sizeof want, "the master key %s may be read by others: chmod 600 it", t->key);
    assert_string_equal(err, want);

    assert_int_equal(chmod(t->key, 0640), 0); /* the group alone is enough to refuse */
    assert_int_equal(sl__crypt_init(&c, t->dir, err, sizeof err), SL_EINVAL);
    assert_string_equal(err, want);

    write_key_file(t->key, 31, 0600);
    assert_int_equal(sl__crypt_init(&c, t->dir, err, sizeof err), SL_EINVAL);
    snprintf(want, sizeof want, "the master key %s is not 32 bytes long", t->key);
    assert_string_equal(err, want);

    write_key_file(t->key, 32, 0400); /* read-only for its owner is fine */
    assert_int_equal(sl__crypt_init(&c, t->dir, err, sizeof err), SL_OK);
    for (size_t i = 0; i < sizeof c.key; i++)
        assert_int_equal(c.key[i], 7);
    sl__crypt_cleanup(&c);
}

static void test_key_dir_missing(void **state)
{
    tmp_t *t = *state;
    char dir[128], err[512] = "";
    snprintf(dir, sizeof dir, "%s/no/such/dir", t->dir);
    sl_crypt_t c;
    assert_int_equal(sl__crypt_init(&c, dir, err, sizeof err), SL_EIO);
    char want[256];
    snprintf(want, sizeof want, "cannot create the master key %s/master.key: ", dir);
    assert_memory_equal(err, want, strlen(want));
}

static void test_round_trip(void **state)
{
    (void)state;
    sl_crypt_t c;
    init_with(&c, KEY_A);
    const char *plains[] = {"", "x", "sk_live_51Habc", "whsec_0123456789abcdef0123456789abcdef",
                            "ünïcödé \xf0\x9f\x94\x91"};
    for (size_t i = 0; i < sizeof plains / sizeof *plains; i++) {
        for (int with_aad = 0; with_aad < 2; with_aad++) {
            const char *aad = with_aad ? "connection:shop" : NULL;
            char *sealed = NULL, *plain = NULL;
            assert_int_equal(sl__crypt_seal(&c, plains[i], aad, &sealed), SL_OK);
            assert_non_null(sealed);
            assert_memory_equal(sealed, "v1:", 3);
            size_t raw = 12 + strlen(plains[i]) + 16;
            assert_int_equal(strlen(sealed), 3 + 4 * ((raw + 2) / 3));
            if (strlen(plains[i]) >= 8) /* a short one may turn up in base64 by chance */
                assert_null(strstr(sealed, plains[i]));
            assert_int_equal(sl__crypt_open(&c, sealed, aad, &plain), SL_OK);
            assert_string_equal(plain, plains[i]);
            sl__crypt_free(plain);
            free(sealed);
        }
    }
    sl__crypt_cleanup(&c);
}

static void test_wrong_aad_or_key(void **state)
{
    (void)state;
    sl_crypt_t a, b;
    init_with(&a, KEY_A);
    init_with(&b, KEY_B);
    char *sealed = NULL, *plain = (char *)"untouched";
    assert_int_equal(sl__crypt_seal(&a, "secret", "conn:one", &sealed), SL_OK);

    assert_int_equal(sl__crypt_open(&a, sealed, "conn:two", &plain), SL_EPARSE);
    assert_null(plain);
    assert_int_equal(sl__crypt_open(&a, sealed, NULL, &plain), SL_EPARSE);
    assert_null(plain);
    assert_int_equal(sl__crypt_open(&b, sealed, "conn:one", &plain), SL_EPARSE);
    assert_null(plain);
    free(sealed);

    assert_int_equal(sl__crypt_seal(&a, "secret", NULL, &sealed), SL_OK);
    assert_int_equal(sl__crypt_open(&a, sealed, "conn:one", &plain), SL_EPARSE);
    assert_int_equal(sl__crypt_open(&a, sealed, NULL, &plain), SL_OK);
    sl__crypt_free(plain);
    free(sealed);
    sl__crypt_cleanup(&a);
    sl__crypt_cleanup(&b);
}

static void test_any_flipped_byte_fails(void **state)
{
    (void)state;
    sl_crypt_t c;
    init_with(&c, KEY_A);
    char *sealed = NULL, *plain = NULL;
    /* 12 + 11 + 16 = 39 bytes: 52 base64 digits with no padding, so every digit carries data */
    assert_int_equal(sl__crypt_seal(&c, "sk_live_abc", "aad", &sealed), SL_OK);
    size_t n = strlen(sealed);
    assert_int_equal(n, 3 + 52);
    for (size_t i = 3; i < n; i++) {
        char was = sealed[i];
        sealed[i] = was == 'A' ? 'B' : 'A';
        assert_int_equal(sl__crypt_open(&c, sealed, "aad", &plain), SL_EPARSE);
        assert_null(plain);
        sealed[i] = was;
    }
    assert_int_equal(sl__crypt_open(&c, sealed, "aad", &plain), SL_OK);
    assert_string_equal(plain, "sk_live_abc");
    sl__crypt_free(plain);
    free(sealed);
    sl__crypt_cleanup(&c);
}

static void test_not_sealed(void **state)
{
    (void)state;
    sl_crypt_t c;
    init_with(&c, KEY_A);
    char *plain = NULL;
    const char *bad[] = {
        "",
        "sk_test_plain",
        "v2:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "v1:",
        "v1:AAAA",                                      /* too short for nonce and tag */
        "v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* not a multiple of 4 */
        "v1:!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",  /* not base64 */
        "v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  /* the right size, not a real seal */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(sl__crypt_open(&c, bad[i], NULL, &plain), SL_EPARSE);
        assert_null(plain);
    }
    assert_int_equal(sl__crypt_open(&c, NULL, NULL, &plain), SL_EPARSE);
    assert_null(plain);
    sl__crypt_cleanup(&c);
}

static void test_nonce_differs(void **state)
{
    (void)state;
    sl_crypt_t c;
    init_with(&c, KEY_A);
    char *s[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(sl__crypt_seal(&c, "same secret", "same aad", &s[i]), SL_OK);
    for (int i = 0; i < 4; i++) {
        for (int j = i + 1; j < 4; j++) {
            assert_string_not_equal(s[i], s[j]);
            assert_memory_not_equal(s[i] + 3, s[j] + 3, 16); /* the nonce itself differs */
        }
        char *plain = NULL;
        assert_int_equal(sl__crypt_open(&c, s[i], "same aad", &plain), SL_OK);
        assert_string_equal(plain, "same secret");
        sl__crypt_free(plain);
        free(s[i]);
    }
    sl__crypt_cleanup(&c);
}

static void test_free_null(void **state)
{
    (void)state;
    sl__crypt_free(NULL);
    char *p = strdup("wipe me");
    sl__crypt_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_env_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_key_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_file_created_and_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_file_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_dir_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_aad_or_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_any_flipped_byte_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_sealed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nonce_differs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_null, setup, teardown),
    };
    return cmocka_run_group_tests_name("crypt", tests, NULL, NULL);
}
