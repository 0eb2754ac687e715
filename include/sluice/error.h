/* sluice — error codes shared by every module.
 *
 * Every fallible function of libsluice returns an sl_err: SL_OK (zero) on success, a negative
 * constant from the list below otherwise. Details for a person go into a caller-supplied error
 * buffer or, for Stripe calls, into the response's error record.
 */
#ifndef SLUICE_ERROR_H
#define SLUICE_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, description) */
#define SL_ERR_LIST(X)                                                                             \
    X(SL_OK, 0, "success")                                                                         \
    X(SL_ENOMEM, -1, "out of memory")                                                              \
    X(SL_EINVAL, -2, "invalid argument")                                                           \
    X(SL_EPARSE, -3, "malformed input")                                                            \
    X(SL_ETOOBIG, -4, "size limit exceeded")                                                       \
    X(SL_ESTRIPE, -5, "Stripe returned an error")                                                  \
    X(SL_ENETWORK, -6, "network error")                                                            \
    X(SL_ETIMEOUT, -7, "timed out")                                                                \
    X(SL_ENOTFOUND, -8, "not found")                                                               \
    X(SL_EIO, -9, "input/output error")                                                            \
    X(SL_EINTERNAL, -10, "internal error")                                                         \
    X(SL_EREFUSED, -11, "refused by the server")

typedef enum sl_err {
#define SL__ERR_ENUM(name, value, text) name = value,
    SL_ERR_LIST(SL__ERR_ENUM)
#undef SL__ERR_ENUM
} sl_err;

/* Returns a static, human-readable description of `err`; never NULL. */
const char *sl_strerror(sl_err err);

/* Returns the constant's name ("SL_ENETWORK"); never NULL. */
const char *sl_errname(sl_err err);

#ifdef __cplusplus
}
#endif
#endif
