/* The REST API's admin token: DATA/admin.token is used only when nobody else may read it, as
 * the master key is (core/crypt.c); made at the first start with mode 600. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/api.h"

#define TOKEN "sla_0123456789abcdef0123456789abcdef"

static char dir[64];
static char path[128];

static int setup(void **state)
{
    (void)state;
    unsetenv("SLUICE_ADMIN_TOKEN");
    snprintf(dir, sizeof dir, "/tmp/sluice-token-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/admin.token", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    rmdir(dir);
    return 0;
}

static void write_token(const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_private_file_used(void **state)
{
    (void)state;
    write_token(TOKEN "\n", 0600);
    char tok[128], err[512] = "";
    int made = -1;
    assert_int_equal(sl__api_token(dir, tok, sizeof tok, &made, err, sizeof err), 0);
    assert_string_equal(tok, TOKEN);
    assert_int_equal(made, 0);
}

static void test_readable_file_refused(void **state)
{
    (void)state;
    static const mode_t modes[] = {0644, 0640, 0604, 0660};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        write_token(TOKEN "\n", modes[i]);
        char tok[128] = "", err[512] = "";
        int made = -1;
        assert_int_equal(sl__api_token(dir, tok, sizeof tok, &made, err, sizeof err), -1);
        assert_non_null(strstr(err, path));
        assert_non_null(strstr(err, "chmod 600"));
        assert_string_equal(tok, "");
        assert_int_equal(made, 0);
    }
    /* A token too short to use is refused too, not replaced in a file others can read. */
    write_token("short\n", 0644);
    char tok[128] = "", err[512] = "";
    int made = -1;
    assert_int_equal(sl__api_token(dir, tok, sizeof tok, &made, err, sizeof err), -1);
    assert_non_null(strstr(err, "chmod 600"));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 6);
}

static void test_made_private(void **state)
{
    (void)state;
    mode_t old = umask(0);
    char tok[128], err[512] = "";
    int made = 0;
    int rc = sl__api_token(dir, tok, sizeof tok, &made, err, sizeof err);
    umask(old);
    assert_int_equal(rc, 0);
    assert_int_equal(made, 1);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char again[128];
    assert_int_equal(sl__api_token(dir, again, sizeof again, &made, err, sizeof err), 0);
    assert_int_equal(made, 0);
    assert_string_equal(again, tok);
}

static void test_env_wins(void **state)
{
    (void)state;
    write_token(TOKEN "\n", 0644);
    setenv("SLUICE_ADMIN_TOKEN", "env_token_0123456789", 1);
    char tok[128], err[512] = "";
    int made = -1;
    int rc = sl__api_token(dir, tok, sizeof tok, &made, err, sizeof err);
    unsetenv("SLUICE_ADMIN_TOKEN");
    assert_int_equal(rc, 0);
    assert_string_equal(tok, "env_token_0123456789");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_private_file_used, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readable_file_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_made_private, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_wins, setup, teardown),
    };
    return cmocka_run_group_tests_name("api_token", tests, NULL, NULL);
}
