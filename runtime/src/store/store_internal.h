#ifndef LUSTY_STORE_INTERNAL_H
#define LUSTY_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

/* How a store operation failed; the Lua side maps it to an HTTP status:
 * UNAVAILABLE -> 503, LOCKED -> 503, INVALID -> 400, others -> 500. */
typedef enum {
    LUSTY__STORE_OK = 0,
    LUSTY__STORE_INVALID,     /* bad operation (unknown operator, bad value) */
    LUSTY__STORE_UNAVAILABLE, /* server unreachable / cannot open file */
    LUSTY__STORE_LOCKED,      /* SQLite busy past the busy timeout */
    LUSTY__STORE_FULL,        /* disk full / quota */
    LUSTY__STORE_FAILED,      /* anything else */
} lusty__store_status_t;

typedef struct lusty__store_backend lusty__store_backend_t;

/* One backend instance per server process, shared by every worker thread. */
struct lusty__store_backend {
    const char *name; /* "sqlite", "mongodb" */
    /* Runs one canonical operation (JSON text, below) on a thread-pool
     * thread. On success *answer is malloc'd JSON text of the result. On
     * failure *answer is a malloc'd one-line message naming the cause
     * (never a password); the caller prefixes backend and collection. */
    lusty__store_status_t (*run)(lusty__store_backend_t *self,
                                 const char *op_json, size_t op_len,
                                 char **answer);
    /* Optional. hold_reads(self, true) before reads that may share one
     * snapshot (asked for together), hold_reads(self, false) after them:
     * they run in one read transaction, which spares taking and dropping
     * the file's locks for each. Returns false when it holds nothing (the
     * false call is then not made). On the calling thread, like run. */
    bool (*hold_reads)(lusty__store_backend_t *self, bool hold);
    void (*free)(lusty__store_backend_t *self);
};

/* config_json: the object `store` of lusty.json merged with defaults (for
 * MongoDB: {"uri": "...", "database": "..."}), project_root for relative
 * paths. NULL and *error (malloc'd message) on failure. */
lusty__store_backend_t *lusty__store_sqlite_open(const char *config_json,
                                                 const char *project_root,
                                                 char **error);
lusty__store_backend_t *lusty__store_mongo_open(const char *config_json,
                                                char **error);

#endif
