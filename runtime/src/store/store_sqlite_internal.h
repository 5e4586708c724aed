/* Internals of the SQLite backend (store_sqlite*.c, store_doc.c,
 * store_regexp.c). Nothing here is seen outside runtime/src/store/. */
#ifndef LUSTY_STORE_SQLITE_INTERNAL_H
#define LUSTY_STORE_SQLITE_INTERNAL_H

#include "store_internal.h"

#include "lusty/buf.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

/* Documents are at most this long as JSON text, as in MongoDB. */
#define LUSTY__STORE_MAX_DOC (16u * 1024u * 1024u)

/* ---- store_doc.c: documents as cJSON trees ---- */

/* Whether `name` is a usable collection name: [A-Za-z0-9_.-]{1,120}, not
 * starting with "sqlite_" (SQLite's own tables). */
bool lusty__store_collection_ok(const char *name);
/* Whether `path` is a usable field path: dot-separated non-empty names,
 * none with a quote, backslash or control character, the first not
 * starting with '$'. Such a path can be written into SQL as a literal. */
bool lusty__store_path_ok(const char *path);
/* Writes `path` as SQLite's JSON path ('$."a"."b"[0]'), quoted as an SQL
 * string literal; `path` must be lusty__store_path_ok(). */
void lusty__store_put_json_path(lusty_buf_t *b, const char *path);
/* The value at the dotted `path` of `doc`, or NULL. */
cJSON *lusty__store_doc_get(cJSON *doc, const char *path);
/* Sets the dotted `path` of `doc` to `value` (taken), creating objects on
 * the way; false (value freed) when a step is not an object. */
bool lusty__store_doc_set(cJSON *doc, const char *path, cJSON *value);
/* A new document with `_id` and the listed dotted paths of `doc`. */
cJSON *lusty__store_doc_project(cJSON *doc, const cJSON *fields);
/* Writes a new ObjectId-shaped id: 24 lower-case hex digits and a NUL. */
void lusty__store_object_id(char out[25]);
/* A value as compact JSON text (free with lusty_free()): the one printer
 * of documents and of the values they are compared with, so that equal
 * values are equal text. Numbers are exact (shortest text that reads back
 * the same); integers have no fraction. */
char *lusty__store_json_print(const cJSON *v);

/* ---- store_sql_filter.c: filters as SQL ---- */

/* A value bound to a statement parameter. */
typedef struct {
    enum { LUSTY__P_TEXT, LUSTY__P_INT, LUSTY__P_REAL } kind;
    const char *text; /* LUSTY__P_TEXT: borrowed, or owned when `owned` */
    size_t len;
    int64_t i;
    double d;
    bool owned;
} lusty__store_param_t;

/* A statement being written: its SQL, its parameters in order, and the
 * first error met (an INVALID operation). */
typedef struct {
    lusty_buf_t sql;
    lusty__store_param_t *params;
    size_t nparams, cap;
    char *error; /* malloc'd, or NULL */
    /* The fields of this collection declared as indexed: compared as
     * single values (no array elements) so the index serves them. */
    const cJSON *scalar_fields; /* an array of strings, or NULL */
} lusty__store_sql_t;

void lusty__store_sql_init(lusty__store_sql_t *q, const cJSON *scalar_fields);
void lusty__store_sql_free(lusty__store_sql_t *q);
/* Appends a parameter placeholder bound to `text` (borrowed). */
void lusty__store_sql_text(lusty__store_sql_t *q, const char *text, size_t len);
/* Appends a placeholder bound to `text` (taken, freed with the statement). */
void lusty__store_sql_text_owned(lusty__store_sql_t *q, char *text);
void lusty__store_sql_int(lusty__store_sql_t *q, int64_t i);
/* Records the first error (printf-style); later ones are dropped. */
void lusty__store_sql_fail(lusty__store_sql_t *q, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends the SQL condition of a filter (an object), "1" for {}. */
void lusty__store_sql_filter(lusty__store_sql_t *q, const cJSON *filter);
/* Appends ORDER BY terms for a sort ([[field, 1|-1], ...]), each followed
 * by ", ". */
void lusty__store_sql_sort(lusty__store_sql_t *q, const cJSON *sort);
/* Binds the parameters to `st`; an SQLite result code. */
int lusty__store_sql_bind(const lusty__store_sql_t *q, sqlite3_stmt *st);

/* ---- store_regexp.c: $regex ---- */

/* Registers lusty_regexp(pattern, options, value) on `db`. */
int lusty__store_regexp_register(sqlite3 *db);
/* NULL when `pattern` compiles with `options` (of "imsx"), else a
 * malloc'd message. */
char *lusty__store_regexp_check(const char *pattern, const char *options);

/* ---- store_sqlite.c: connections and statements ---- */

#define LUSTY__SQLITE_STMT_CACHE 64
#define LUSTY__SQLITE_TABLE_CACHE 64

/* One pool thread's connection, with its prepared statements. */
typedef struct lusty__sqlite_conn {
    sqlite3 *db;
    struct lusty__sqlite_conn *next;
    char *sql[LUSTY__SQLITE_STMT_CACHE];
    sqlite3_stmt *st[LUSTY__SQLITE_STMT_CACHE];
    size_t nst, evict;
    char *tables[LUSTY__SQLITE_TABLE_CACHE]; /* collections known to exist */
    size_t ntables;
} lusty__sqlite_conn_t;

typedef struct {
    lusty__store_backend_t base;
    char *path;
    int busy_ms;
    bool sync_full;
    cJSON *indexes;  /* {collection: [field, ...]} or NULL */
    uv_key_t key;    /* this thread's connection */
    uv_mutex_t lock; /* guards conns */
    lusty__sqlite_conn_t *conns;
} lusty__sqlite_t;

/* What one operation carries through the backend's functions. */
typedef struct {
    lusty__sqlite_t *b;
    lusty__sqlite_conn_t *c;
    const cJSON *op;
    const char *collection;
    lusty__store_status_t status;
    char *error; /* malloc'd */
    lusty_buf_t out;
} lusty__sqlite_run_t;

/* Fails the operation (the first failure wins); returns false. */
bool lusty__sqlite_fail(lusty__sqlite_run_t *r, lusty__store_status_t status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Fails with SQLite's result code and message; returns false. */
bool lusty__sqlite_fail_db(lusty__sqlite_run_t *r, int rc);
/* The connection's prepared statement for `sql` (cached), or NULL with r
 * failed. */
sqlite3_stmt *lusty__sqlite_prepare(lusty__sqlite_run_t *r, const char *sql);
/* Resets a statement and clears its bindings for the next use. */
void lusty__sqlite_done(sqlite3_stmt *st);
bool lusty__sqlite_begin(lusty__sqlite_run_t *r); /* BEGIN IMMEDIATE */
bool lusty__sqlite_commit(lusty__sqlite_run_t *r);
void lusty__sqlite_rollback(lusty__sqlite_run_t *r);
/* Whether the collection's table exists (*exists); made first when
 * `create`. False with r failed on an error. */
bool lusty__sqlite_have_table(lusty__sqlite_run_t *r, bool create, bool *exists);
/* The fields of a collection declared indexed (an array), or NULL. */
const cJSON *lusty__sqlite_scalar_fields(lusty__sqlite_t *b, const char *collection);

/* ---- store_sqlite_ops.c: the methods ---- */

typedef bool (*lusty__sqlite_method_fn)(lusty__sqlite_run_t *r);
/* The method named `name` ("get" ...), or NULL. */
lusty__sqlite_method_fn lusty__sqlite_method(const char *name);

#endif
