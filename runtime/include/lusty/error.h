/* Error codes of the runtime.
 *
 * Runtime functions return int: 0 on success, a negative code on failure:
 * a LUSTY_E* code, or a libuv code (UV_E*, which are negated errno values)
 * passed through. The LUSTY_E* codes sit at -30001 and below, far from
 * any errno or libuv code, so the two never collide, and lusty_strerror()
 * and lusty_err_name() describe both. One X-macro table gives the enum,
 * the names and the messages so that they never disagree. */
#ifndef LUSTY_ERROR_H
#define LUSTY_ERROR_H

#define LUSTY_ERRNO_MAP(X)                                      \
    X(EINVAL, -30001, "invalid argument")                           \
    X(ENOMEM, -30002, "out of memory")                              \
    X(EIO, -30003, "input/output error")                            \
    X(ENOENT, -30004, "not found")                                  \
    X(EEXIST, -30005, "already exists")                             \
    X(ESYNTAX, -30006, "syntax error")                              \
    X(ETOOBIG, -30007, "too large")                                 \
    X(ENOTSUP, -30008, "not supported")                             \
    X(ERUNTIME, -30009, "runtime error")

typedef enum {
    LUSTY_OK = 0,
#define LUSTY__ERR_ENUM(name, code, msg) LUSTY_##name = code,
    LUSTY_ERRNO_MAP(LUSTY__ERR_ENUM)
#undef LUSTY__ERR_ENUM
} lusty_error_t;

/* A short lowercase message for `err` ("not found", or libuv's message for
 * its codes: "address already in use"); never NULL. */
const char *lusty_strerror(int err);
/* The code's name ("LUSTY_ENOENT", "EADDRINUSE"); never NULL. */
const char *lusty_err_name(int err);

#endif
