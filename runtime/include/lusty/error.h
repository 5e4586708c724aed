/* Error codes of the runtime.
 *
 * Runtime functions return int: 0 on success, a negative LUSTY_E* code on
 * failure. One X-macro table gives the enum, the names and the messages so
 * that they never disagree. */
#ifndef LUSTY_ERROR_H
#define LUSTY_ERROR_H

#define LUSTY_ERRNO_MAP(X)                                      \
    X(EINVAL, -1, "invalid argument")                           \
    X(ENOMEM, -2, "out of memory")                              \
    X(EIO, -3, "input/output error")                            \
    X(ENOENT, -4, "not found")                                  \
    X(EEXIST, -5, "already exists")                             \
    X(ESYNTAX, -6, "syntax error")                              \
    X(ETOOBIG, -7, "too large")                                 \
    X(ENOTSUP, -8, "not supported")                             \
    X(ERUNTIME, -9, "runtime error")

typedef enum {
    LUSTY_OK = 0,
#define LUSTY__ERR_ENUM(name, code, msg) LUSTY_##name = code,
    LUSTY_ERRNO_MAP(LUSTY__ERR_ENUM)
#undef LUSTY__ERR_ENUM
} lusty_error_t;

/* A short lowercase message for `err` ("not found"); never NULL. */
const char *lusty_strerror(int err);
/* The code's name ("LUSTY_ENOENT"); never NULL. */
const char *lusty_err_name(int err);

#endif
