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

#endif
