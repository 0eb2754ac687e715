/* Secrets at rest: AES-256-GCM under a master key (internal). */
#ifndef SLUICE_CORE_CRYPT_H
#define SLUICE_CORE_CRYPT_H

#include <stddef.h>

#include "sluice/error.h"

typedef struct sl_crypt {
    unsigned char key[32];
} sl_crypt_t;

/* Loads the master key: from SLUICE_MASTER_KEY (64 hex digits) when set, else from
 * DATA_DIR/master.key, which is created (32 random bytes, mode 0600) on first use. A key file
 * that others may read is refused. SL_EINVAL/SL_EIO with a reason in err. */
sl_err sl__crypt_init(sl_crypt_t *c, const char *data_dir, char *err, size_t errlen);

/* Wipes the key. */
void sl__crypt_cleanup(sl_crypt_t *c);

/* Encrypts `plain` into *out: "v1:" + base64(12-byte nonce | ciphertext | 16-byte tag), a heap
 * string the caller frees. `aad` (may be NULL) is authenticated, not stored: a sealed value only
 * opens with the same aad (the connection's name binds a secret to its connection). */
sl_err sl__crypt_seal(const sl_crypt_t *c, const char *plain, const char *aad, char **out);

/* Decrypts what sl__crypt_seal() made into *out (heap; the caller wipes and frees it with
 * sl__crypt_free()). SL_EPARSE for a value that is not sealed, or was sealed under another key
 * or aad, or was altered. */
sl_err sl__crypt_open(const sl_crypt_t *c, const char *sealed, const char *aad, char **out);

/* Wipes and frees a string from sl__crypt_open(). NULL is a no-op. */
void sl__crypt_free(char *plain);

#endif
