#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/crypt.h"
#include "core/hex.h"
#include "core/rand.h"

#define CRYPT_PREFIX "v1:"

/* Our own wipe rather than OPENSSL_cleanse: the sanitizers see these writes, so a wrong length
 * is caught by the tests. volatile keeps the compiler from dropping them. */
static void wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

static sl_err crypt_key_file(sl_crypt_t *c, const char *dir, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/master.key", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        unsigned char key[32];
        if (sl__rand_bytes(key, sizeof key)) {
            snprintf(err, errlen, "no randomness to make a master key");
            return SL_EINTERNAL;
        }
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            ssize_t w = write(fd, key, sizeof key);
            int synced = fsync(fd);
            close(fd);
            if (w != (ssize_t)sizeof key || synced) {
                unlink(path);
                snprintf(err, errlen, "cannot write the master key %s: %s", path, strerror(errno));
                return SL_EIO;
            }
            memcpy(c->key, key, sizeof key);
            wipe(key, sizeof key);
            return SL_OK;
        }
        if (errno != EEXIST) {
            snprintf(err, errlen, "cannot create the master key %s: %s", path, strerror(errno));
            return SL_EIO;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC); /* another process made it first */
    }
    if (fd < 0) {
        snprintf(err, errlen, "cannot read the master key %s: %s", path, strerror(errno));
        return SL_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) || (st.st_mode & 077)) {
        close(fd);
        snprintf(err, errlen, "the master key %s may be read by others: chmod 600 it", path);
        return SL_EINVAL;
    }
    ssize_t r = read(fd, c->key, sizeof c->key);
    close(fd);
    if (r != (ssize_t)sizeof c->key) {
        snprintf(err, errlen, "the master key %s is not 32 bytes long", path);
        return SL_EINVAL;
    }
    return SL_OK;
}

sl_err sl__crypt_init(sl_crypt_t *c, const char *data_dir, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    const char *env = getenv("SLUICE_MASTER_KEY");
    if (env && *env) {
        if (strlen(env) != 64 || sl__hex_decode(env, c->key, 32)) {
            snprintf(err, errlen, "SLUICE_MASTER_KEY must be 64 hex digits (32 bytes)");
            sl__crypt_cleanup(c);
            return SL_EINVAL;
        }
        return SL_OK;
    }
    return crypt_key_file(c, data_dir, err, errlen);
}

void sl__crypt_cleanup(sl_crypt_t *c)
{
    wipe(c->key, sizeof c->key);
}

void sl__crypt_free(char *plain)
{
    if (!plain)
        return;
    wipe(plain, strlen(plain));
    free(plain);
}

sl_err sl__crypt_seal(const sl_crypt_t *c, const char *plain, const char *aad, char **out)
{
    *out = NULL;
    size_t n = strlen(plain);
    unsigned char *raw = malloc(12 + n + 16);
    char *b64 = malloc(strlen(CRYPT_PREFIX) + 4 * ((12 + n + 16 + 2) / 3) + 1);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    sl_err rc = SL_EINTERNAL;
    int len = 0, fin = 0;
    if (!raw || !b64 || !ctx) {
        rc = SL_ENOMEM;
        goto out;
    }
    if (sl__rand_bytes(raw, 12))
        goto out;
    if (!EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, c->key, raw) ||
        (aad &&
         !EVP_EncryptUpdate(ctx, NULL, &len, (const unsigned char *)aad, (int)strlen(aad))) ||
        !EVP_EncryptUpdate(ctx, raw + 12, &len, (const unsigned char *)plain, (int)n) ||
        !EVP_EncryptFinal_ex(ctx, raw + 12 + len, &fin) ||
        !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, raw + 12 + n))
        goto out;
    strcpy(b64, CRYPT_PREFIX);
    EVP_EncodeBlock((unsigned char *)b64 + strlen(CRYPT_PREFIX), raw, (int)(12 + n + 16));
    *out = b64;
    b64 = NULL;
    rc = SL_OK;
out:
    EVP_CIPHER_CTX_free(ctx);
    if (raw) {
        wipe(raw, 12 + n + 16);
        free(raw);
    }
    free(b64);
    return rc;
}

sl_err sl__crypt_open(const sl_crypt_t *c, const char *sealed, const char *aad, char **out)
{
    *out = NULL;
    size_t plen = strlen(CRYPT_PREFIX);
    if (!sealed || strncmp(sealed, CRYPT_PREFIX, plen) != 0)
        return SL_EPARSE;
    const char *b64 = sealed + plen;
    size_t blen = strlen(b64);
    if (blen % 4 || blen < 40)
        return SL_EPARSE;
    unsigned char *raw = malloc(blen / 4 * 3 + 1);
    if (!raw)
        return SL_ENOMEM;
    int rawlen = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)blen);
    while (rawlen > 0 && blen && b64[blen - 1] == '=') { /* DecodeBlock counts padding */
        rawlen--;
        blen--;
    }
    sl_err rc = SL_EPARSE;
    EVP_CIPHER_CTX *ctx = NULL;
    char *plain = NULL;
    int len = 0, fin = 0;
    size_t n = 0;
    if (rawlen < 12 + 16)
        goto out;
    n = (size_t)rawlen - 12 - 16;
    plain = malloc(n + 1);
    ctx = EVP_CIPHER_CTX_new();
    if (!plain || !ctx) {
        rc = SL_ENOMEM;
        goto out;
    }
    if (!EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, c->key, raw) ||
        (aad &&
         !EVP_DecryptUpdate(ctx, NULL, &len, (const unsigned char *)aad, (int)strlen(aad))) ||
        !EVP_DecryptUpdate(ctx, (unsigned char *)plain, &len, raw + 12, (int)n) ||
        !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, raw + 12 + n) ||
        EVP_DecryptFinal_ex(ctx, (unsigned char *)plain + len, &fin) <= 0)
        goto out;
    plain[n] = '\0';
    *out = plain;
    plain = NULL;
    rc = SL_OK;
out:
    EVP_CIPHER_CTX_free(ctx);
    if (plain) {
        wipe(plain, n + 1); /* plain holds n + 1 bytes, not rawlen */
        free(plain);
    }
    wipe(raw, blen / 4 * 3 + 1);
    free(raw);
    return rc;
}
