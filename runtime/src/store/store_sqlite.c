/* The SQLite backend: each collection a table of documents kept as JSON
 * text (`seq` for insertion order, `id` the JSON text of `_id` under a
 * unique index, `doc`), queried with SQLite's JSON functions
 * (store_sql_filter.c).
 *
 * Threads: operations run on libuv's pool threads, several at once. Each
 * thread gets its own connection to the file (SQLite's WAL mode lets
 * readers and one writer work side by side), with its own cache of
 * prepared statements keyed by their SQL text, which depends only on the
 * shape of an operation (values are bound parameters).
 *
 * Durability: WAL with synchronous=NORMAL. A transaction that committed
 * is in the log file when the call answers, so killing the process (even
 * with SIGKILL) loses nothing answered; only a power cut or an OS crash
 * may lose the last transactions, unless `store.synchronous` is "full".
 * Writers wait for a lock up to the busy timeout, then fail as LOCKED. */
#include "store_sqlite_internal.h"

#include "lusty/alloc.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#define STMT_CACHE 64
#define TABLE_CACHE 64

typedef struct conn {
    sqlite3 *db;
    struct conn *next;
    char *sql[STMT_CACHE];
    sqlite3_stmt *st[STMT_CACHE];
    size_t nst, evict;
    char *tables[TABLE_CACHE]; /* collections known to exist */
    size_t ntables;
} conn_t;

typedef struct {
    lusty__store_backend_t base;
    char *path;
    int busy_ms;
    bool sync_full;
    cJSON *indexes;  /* {collection: [field, ...]} or NULL */
    uv_key_t key;    /* this thread's conn_t */
    uv_mutex_t lock; /* guards conns */
    conn_t *conns;
} sqlite_backend_t;

/* What one operation carries through the functions below. */
typedef struct {
    sqlite_backend_t *b;
    conn_t *c;
    const cJSON *op;
    const char *collection;
    lusty__store_status_t status;
    char *error; /* malloc'd */
    lusty_buf_t out;
} run_t;

/* ---- errors ---- */

static lusty__store_status_t status_of(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return LUSTY__STORE_LOCKED;
    case SQLITE_FULL:
        return LUSTY__STORE_FULL;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_IOERR:
    case SQLITE_AUTH:
        return LUSTY__STORE_UNAVAILABLE;
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
        return LUSTY__STORE_INVALID;
    default:
        return LUSTY__STORE_FAILED;
    }
}

static bool fail(run_t *r, lusty__store_status_t status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool fail(run_t *r, lusty__store_status_t status, const char *fmt, ...)
{
    if (r->status != LUSTY__STORE_OK)
        return false;
    char tmp[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    r->status = status;
    r->error = strdup(tmp);
    return false;
}

/* Fails with SQLite's code and message. */
static bool fail_db(run_t *r, int rc)
{
    lusty__store_status_t st = status_of(rc);
    const char *why = sqlite3_errmsg(r->c->db);
    if (st == LUSTY__STORE_LOCKED)
        return fail(r, st, "'%s' is locked by another connection past the busy timeout (%d ms)",
                    r->b->path, r->b->busy_ms);
    if (st == LUSTY__STORE_FULL)
        return fail(r, st, "'%s': the disk is full (%s); nothing was written", r->b->path, why);
    return fail(r, st, "'%s': %s", r->b->path, why);
}

/* ---- connections ---- */

static int mkdir_parents(const char *path)
{
    char *dir = lusty_strdup(path);
    int rc = 0;
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
            rc = -1;
            break;
        }
        *p = '/';
    }
    lusty_free(dir);
    return rc;
}

static int exec_sql(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static void conn_free(conn_t *c)
{
    for (size_t i = 0; i < c->nst; i++) {
        sqlite3_finalize(c->st[i]);
        lusty_free(c->sql[i]);
    }
    for (size_t i = 0; i < c->ntables; i++)
        lusty_free(c->tables[i]);
    sqlite3_close_v2(c->db);
    lusty_free(c);
}

/* SQLite's process-wide settings, before its first use: no memory
 * statistics, whose global mutex every allocation of every connection
 * would take. */
static uv_once_t sqlite_once = UV_ONCE_INIT;

static void sqlite_setup(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* This thread's connection, opened now when it has none. */
static conn_t *get_conn(sqlite_backend_t *b, char **error, int *rc_out)
{
    conn_t *c = uv_key_get(&b->key);
    if (c)
        return c;
    uv_once(&sqlite_once, sqlite_setup);
    if (mkdir_parents(b->path) != 0) {
        *error = lusty_asprintf("cannot create the folder of '%s': %s", b->path, strerror(errno));
        *rc_out = SQLITE_CANTOPEN;
        return NULL;
    }
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(
        b->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, b->busy_ms);
        sqlite3_extended_result_codes(db, 1);
        rc = exec_sql(db, "PRAGMA journal_mode=WAL");
    }
    if (rc == SQLITE_OK)
        rc = exec_sql(db, b->sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    if (rc == SQLITE_OK)
        rc = lusty__store_regexp_register(db);
    if (rc != SQLITE_OK) {
        *error = lusty_asprintf("cannot open '%s': %s", b->path,
                                db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        *rc_out = rc;
        sqlite3_close_v2(db);
        return NULL;
    }
    c = lusty_calloc(1, sizeof *c);
    c->db = db;
    uv_mutex_lock(&b->lock);
    c->next = b->conns;
    b->conns = c;
    uv_mutex_unlock(&b->lock);
    uv_key_set(&b->key, c);
    return c;
}

/* A prepared statement for `sql` from the connection's cache, reset. */
static sqlite3_stmt *prepare(run_t *r, const char *sql)
{
    conn_t *c = r->c;
    for (size_t i = 0; i < c->nst; i++)
        if (strcmp(c->sql[i], sql) == 0)
            return c->st[i];
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK) {
        fail_db(r, rc);
        return NULL;
    }
    size_t slot = c->nst;
    if (slot == STMT_CACHE) {
        slot = c->evict++ % STMT_CACHE;
        sqlite3_finalize(c->st[slot]);
        lusty_free(c->sql[slot]);
    } else {
        c->nst++;
    }
    c->sql[slot] = lusty_strdup(sql);
    c->st[slot] = st;
    return st;
}

static void done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Runs a statement without parameters or rows. */
static bool run_plain(run_t *r, const char *sql)
{
    sqlite3_stmt *st = prepare(r, sql);
    if (!st)
        return false;
    int rc = sqlite3_step(st);
    done(st);
    if (rc != SQLITE_DONE)
        return fail_db(r, rc);
    return true;
}

static bool begin(run_t *r)
{
    return run_plain(r, "BEGIN IMMEDIATE");
}

static bool commit(run_t *r)
{
    if (run_plain(r, "COMMIT"))
        return true;
    if (!sqlite3_get_autocommit(r->c->db))
        exec_sql(r->c->db, "ROLLBACK");
    return false;
}

static void rollback(run_t *r)
{
    if (!sqlite3_get_autocommit(r->c->db))
        exec_sql(r->c->db, "ROLLBACK");
}

/* ---- tables and indexes ---- */

static const cJSON *scalar_fields(sqlite_backend_t *b, const char *collection)
{
    return b->indexes ? cJSON_GetObjectItemCaseSensitive(b->indexes, collection) : NULL;
}

/* CREATE TABLE and the declared indexes of `collection`. */
static int create_table(sqlite_backend_t *b, sqlite3 *db, const char *collection)
{
    lusty_buf_t sql = LUSTY_BUF_INIT;
    lusty_buf_printf(&sql,
                     "CREATE TABLE IF NOT EXISTS \"%s\" (seq INTEGER PRIMARY KEY, "
                     "id TEXT NOT NULL UNIQUE, doc TEXT NOT NULL);",
                     collection);
    const cJSON *f;
    cJSON_ArrayForEach(f, scalar_fields(b, collection))
    {
        lusty_buf_printf(&sql, "CREATE INDEX IF NOT EXISTS \"%s:%s\" ON \"%s\"(json_extract(doc, ",
                         collection, f->valuestring, collection);
        lusty__store_put_json_path(&sql, f->valuestring);
        lusty_buf_puts(&sql, "));");
    }
    int rc = exec_sql(db, sql.data);
    lusty_buf_free(&sql);
    return rc;
}

/* Whether the collection's table exists; created first when `create`.
 * False with r failed on an error. */
static bool have_table(run_t *r, bool create, bool *exists)
{
    conn_t *c = r->c;
    *exists = false;
    for (size_t i = 0; i < c->ntables; i++)
        if (strcmp(c->tables[i], r->collection) == 0) {
            *exists = true;
            return true;
        }
    sqlite3_stmt *st = prepare(r, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?");
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, r->collection, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    done(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail_db(r, rc);
    if (rc == SQLITE_DONE) {
        if (!create)
            return true;
        rc = create_table(r->b, c->db, r->collection);
        if (rc != SQLITE_OK)
            return fail_db(r, rc);
    }
    if (c->ntables < TABLE_CACHE)
        c->tables[c->ntables++] = lusty_strdup(r->collection);
    *exists = true;
    return true;
}

/* ---- the parts of an operation ---- */

/* "WHERE <filter>" (and ORDER BY when `sorted`) of the operation into q. */
static bool where(run_t *r, lusty__store_sql_t *q, bool sorted)
{
    lusty_buf_puts(&q->sql, " WHERE ");
    lusty__store_sql_filter(q, cJSON_GetObjectItemCaseSensitive(r->op, "filter"));
    if (sorted) {
        lusty_buf_puts(&q->sql, " ORDER BY ");
        lusty__store_sql_sort(q, cJSON_GetObjectItemCaseSensitive(r->op, "sort"));
        lusty_buf_puts(&q->sql, "seq");
    }
    if (q->error) {
        fail(r, LUSTY__STORE_INVALID, "%s", q->error);
        return false;
    }
    return true;
}

/* The statement of q, prepared and bound. */
static sqlite3_stmt *bound(run_t *r, lusty__store_sql_t *q)
{
    sqlite3_stmt *st = prepare(r, q->sql.data);
    if (!st)
        return NULL;
    int rc = lusty__store_sql_bind(q, st);
    if (rc != SQLITE_OK) {
        done(st);
        fail_db(r, rc);
        return NULL;
    }
    return st;
}

/* A non-negative integer member of the operation (0 when absent). */
static bool count_arg(run_t *r, const char *name, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->op, name);
    *out = 0;
    if (!v || cJSON_IsNull(v))
        return true;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > (double)INT64_MAX / 2 ||
        v->valuedouble != (double)(int64_t)v->valuedouble)
        return fail(r, LUSTY__STORE_INVALID, "%s must be an integer, 0 or more", name);
    *out = (int64_t)v->valuedouble;
    return true;
}

static char *print_doc(run_t *r, const cJSON *doc)
{
    char *text = lusty__store_json_print(doc);
    if (!text) {
        fail(r, LUSTY__STORE_INVALID, "the document cannot be written as JSON");
        return NULL;
    }
    if (strlen(text) > LUSTY__STORE_MAX_DOC) {
        free(text);
        fail(r, LUSTY__STORE_INVALID, "the document is larger than 16 MiB");
        return NULL;
    }
    return text;
}

/* The document of the operation: an object whose _id, if any, is not an
 * array. */
static cJSON *op_doc(run_t *r)
{
    cJSON *doc = cJSON_GetObjectItemCaseSensitive(r->op, "doc");
    if (!cJSON_IsObject(doc)) {
        fail(r, LUSTY__STORE_INVALID, "the document must be an object");
        return NULL;
    }
    cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "_id");
    if (id && (cJSON_IsArray(id) || cJSON_IsNull(id))) {
        fail(r, LUSTY__STORE_INVALID, "_id cannot be an array or null");
        return NULL;
    }
    return doc;
}

static void new_id(cJSON *doc)
{
    char oid[25];
    lusty__store_object_id(oid);
    cJSON_AddItemToObject(doc, "_id", cJSON_CreateString(oid));
}

/* INSERT of `doc` (which has its _id). */
static bool insert(run_t *r, cJSON *doc, const char *text)
{
    char *id = lusty__store_json_print(cJSON_GetObjectItemCaseSensitive(doc, "_id"));
    lusty__store_sql_t q;
    lusty__store_sql_init(&q, NULL);
    lusty_buf_printf(&q.sql, "INSERT INTO \"%s\" (id, doc) VALUES (", r->collection);
    lusty__store_sql_text_owned(&q, lusty_strdup(id));
    lusty_buf_puts(&q.sql, ", ");
    lusty__store_sql_text(&q, text, strlen(text));
    lusty_buf_puts(&q.sql, ")");
    sqlite3_stmt *st = bound(r, &q);
    bool ok = false;
    if (st) {
        int rc = sqlite3_step(st);
        done(st);
        if ((rc & 0xff) == SQLITE_CONSTRAINT)
            fail(r, LUSTY__STORE_INVALID, "a document with _id %.100s is already there", id);
        else if (rc != SQLITE_DONE)
            fail_db(r, rc);
        else
            ok = true;
    }
    lusty__store_sql_free(&q);
    free(id);
    return ok;
}

/* ---- methods ---- */

/* For methods that only read or change what is there: false when the
 * collection has no table yet (the answer is then `empty`) or on an error
 * (r failed). */
static bool collection_exists(run_t *r, const char *empty)
{
    bool exists;
    if (!have_table(r, false, &exists))
        return false;
    if (!exists)
        lusty_buf_puts(&r->out, empty);
    return exists;
}

/* Steps `st` and answers its rows' first column (documents) as a JSON
 * array, projected on `fields` when given. Resets st. */
static bool answer_docs(run_t *r, sqlite3_stmt *st, const cJSON *fields)
{
    lusty_buf_putc(&r->out, '[');
    int rc, n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n++)
            lusty_buf_putc(&r->out, ',');
        const char *text = (const char *)sqlite3_column_text(st, 0);
        if (!fields) {
            lusty_buf_append(&r->out, text, (size_t)sqlite3_column_bytes(st, 0));
            continue;
        }
        cJSON *doc = cJSON_Parse(text);
        cJSON *proj = lusty__store_doc_project(doc, fields);
        char *ptext = lusty__store_json_print(proj);
        lusty_buf_puts(&r->out, ptext);
        lusty_free(ptext);
        cJSON_Delete(proj);
        cJSON_Delete(doc);
    }
    done(st);
    lusty_buf_putc(&r->out, ']');
    return rc == SQLITE_DONE || fail_db(r, rc);
}

static bool m_get(run_t *r)
{
    if (!collection_exists(r, "[]"))
        return r->status == LUSTY__STORE_OK;
    int64_t offset, limit;
    if (!count_arg(r, "offset", &offset) || !count_arg(r, "limit", &limit))
        return false;
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(r->op, "fields");
    if (fields && !cJSON_IsNull(fields) && !cJSON_IsArray(fields))
        return fail(r, LUSTY__STORE_INVALID, "fields must be an array of field names");
    if (!cJSON_IsArray(fields) || cJSON_GetArraySize(fields) == 0)
        fields = NULL;
    lusty__store_sql_t q;
    lusty__store_sql_init(&q, scalar_fields(r->b, r->collection));
    lusty_buf_printf(&q.sql, "SELECT doc FROM \"%s\"", r->collection);
    bool ok = where(r, &q, true);
    if (ok) {
        lusty_buf_puts(&q.sql, " LIMIT ");
        lusty__store_sql_int(&q, limit > 0 ? limit : -1);
        lusty_buf_puts(&q.sql, " OFFSET ");
        lusty__store_sql_int(&q, offset);
    }
    sqlite3_stmt *st = ok ? bound(r, &q) : NULL;
    ok = st && answer_docs(r, st, fields);
    lusty__store_sql_free(&q);
    return ok;
}

static bool m_options(run_t *r)
{
    if (!collection_exists(r, "0"))
        return r->status == LUSTY__STORE_OK;
    lusty__store_sql_t q;
    lusty__store_sql_init(&q, scalar_fields(r->b, r->collection));
    lusty_buf_printf(&q.sql, "SELECT count(*) FROM \"%s\"", r->collection);
    sqlite3_stmt *st = where(r, &q, false) ? bound(r, &q) : NULL;
    bool ok = false;
    if (st) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            lusty_buf_printf(&r->out, "%lld", (long long)sqlite3_column_int64(st, 0));
            ok = true;
        } else {
            fail_db(r, rc);
        }
        done(st);
    }
    lusty__store_sql_free(&q);
    return ok;
}

static bool m_post(run_t *r)
{
    cJSON *doc = op_doc(r);
    bool exists;
    if (!doc || !have_table(r, true, &exists))
        return false;
    if (!cJSON_GetObjectItemCaseSensitive(doc, "_id"))
        new_id(doc);
    char *text = print_doc(r, doc);
    if (!text)
        return false;
    bool ok = insert(r, doc, text);
    if (ok)
        lusty_buf_puts(&r->out, text);
    free(text);
    return ok;
}

/* A row read for a write: its seq and its text (or id) copied. */
typedef struct {
    int64_t seq;
    char *text;
} row_t;

static void rows_free(row_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lusty_free(rows[i].text);
    lusty_free(rows);
}

/* The matching rows' seq and column `col` ("id" or "doc"), in order. */
static bool select_rows(run_t *r, const char *col, row_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    lusty__store_sql_t q;
    lusty__store_sql_init(&q, scalar_fields(r->b, r->collection));
    lusty_buf_printf(&q.sql, "SELECT seq, %s FROM \"%s\"", col, r->collection);
    sqlite3_stmt *st = where(r, &q, true) ? bound(r, &q) : NULL;
    bool ok = false;
    if (st) {
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            *out = lusty_grow(*out, &cap, *n + 1, sizeof **out);
            (*out)[*n].seq = sqlite3_column_int64(st, 0);
            (*out)[(*n)++].text = lusty_strdup((const char *)sqlite3_column_text(st, 1));
        }
        done(st);
        ok = rc == SQLITE_DONE || fail_db(r, rc);
    }
    lusty__store_sql_free(&q);
    return ok;
}

/* UPDATE (id and doc, or doc only when id is NULL) or DELETE of one row. */
static bool write_row(run_t *r, int64_t seq, const char *id, const char *text)
{
    lusty__store_sql_t q;
    lusty__store_sql_init(&q, NULL);
    if (!text) {
        lusty_buf_printf(&q.sql, "DELETE FROM \"%s\" WHERE seq = ", r->collection);
    } else {
        lusty_buf_printf(&q.sql, "UPDATE \"%s\" SET ", r->collection);
        if (id) {
            lusty_buf_puts(&q.sql, "id = ");
            lusty__store_sql_text(&q, id, strlen(id));
            lusty_buf_puts(&q.sql, ", ");
        }
        lusty_buf_puts(&q.sql, "doc = ");
        lusty__store_sql_text(&q, text, strlen(text));
        lusty_buf_puts(&q.sql, " WHERE seq = ");
    }
    lusty__store_sql_int(&q, seq);
    sqlite3_stmt *st = bound(r, &q);
    bool ok = false;
    if (st) {
        int rc = sqlite3_step(st);
        done(st);
        ok = rc == SQLITE_DONE || fail_db(r, rc);
    }
    lusty__store_sql_free(&q);
    return ok;
}

/* The _id a put gives a new document: the filter's _id when it asks for
 * one value ({_id: v} or {_id: {$eq: v}}), else the document's own, else
 * a new one. */
static void put_new_id(run_t *r, cJSON *doc)
{
    cJSON *f =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r->op, "filter"), "_id");
    if (cJSON_IsObject(f) && f->child && !f->child->next && strcmp(f->child->string, "$eq") == 0)
        f = f->child;
    bool plain = f && !cJSON_IsNull(f) && !cJSON_IsArray(f) &&
                 !(cJSON_IsObject(f) && f->child && f->child->string[0] == '$');
    if (plain) {
        cJSON_DeleteItemFromObjectCaseSensitive(doc, "_id");
        cJSON_AddItemToObject(doc, "_id", cJSON_Duplicate(f, 1));
    } else if (!cJSON_GetObjectItemCaseSensitive(doc, "_id")) {
        new_id(doc);
    }
}

static bool m_put(run_t *r)
{
    cJSON *doc = op_doc(r);
    bool exists;
    if (!doc || !have_table(r, true, &exists) || !begin(r))
        return false;
    row_t *rows = NULL;
    size_t n = 0;
    char *text = NULL;
    bool ok = select_rows(r, "id", &rows, &n);
    if (ok && n > 0) {
        /* The first match keeps its _id and takes the document; the other
         * matches are replaced by it too, which leaves one document. */
        cJSON_DeleteItemFromObjectCaseSensitive(doc, "_id");
        cJSON_AddItemToObject(doc, "_id", cJSON_Parse(rows[0].text));
        text = print_doc(r, doc);
        ok = text && write_row(r, rows[0].seq, NULL, text);
        for (size_t i = 1; ok && i < n; i++)
            ok = write_row(r, rows[i].seq, NULL, NULL);
    } else if (ok) {
        put_new_id(r, doc);
        text = print_doc(r, doc);
        ok = text && insert(r, doc, text);
    }
    ok = ok && commit(r);
    if (ok)
        lusty_buf_puts(&r->out, text);
    else
        rollback(r);
    free(text);
    rows_free(rows, n);
    return ok;
}

/* Applies the operation's doc (dotted keys) and inc to one document. */
static bool patch_doc(run_t *r, cJSON *doc, const cJSON *set, const cJSON *inc)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, set)
    {
        if (!lusty__store_doc_set(doc, v->string, cJSON_Duplicate(v, 1)))
            return fail(r, LUSTY__STORE_INVALID,
                        "cannot set '%.100s': a part of it is not an object", v->string);
    }
    cJSON_ArrayForEach(v, inc)
    {
        cJSON *now = lusty__store_doc_get(doc, v->string);
        if (now && !cJSON_IsNumber(now))
            return fail(r, LUSTY__STORE_INVALID, "cannot add to '%.100s': it is not a number",
                        v->string);
        double sum = (now ? now->valuedouble : 0) + v->valuedouble;
        if (!lusty__store_doc_set(doc, v->string, cJSON_CreateNumber(sum)))
            return fail(r, LUSTY__STORE_INVALID,
                        "cannot set '%.100s': a part of it is not an object", v->string);
    }
    return true;
}

/* The keys of patch's doc and inc: field paths, never _id, inc numbers. */
static bool patch_args(run_t *r, const cJSON **set, const cJSON **inc)
{
    *set = cJSON_GetObjectItemCaseSensitive(r->op, "doc");
    *inc = cJSON_GetObjectItemCaseSensitive(r->op, "inc");
    if (*set && !cJSON_IsNull(*set) && !cJSON_IsObject(*set))
        return fail(r, LUSTY__STORE_INVALID, "the fields to set must be an object");
    if (*inc && !cJSON_IsNull(*inc) && !cJSON_IsObject(*inc))
        return fail(r, LUSTY__STORE_INVALID, "inc must be an object of numbers");
    const cJSON *lists[2] = {*set, *inc};
    for (int l = 0; l < 2; l++) {
        const cJSON *v;
        cJSON_ArrayForEach(v, (cJSON_IsObject(lists[l]) ? lists[l] : NULL))
        {
            if (!lusty__store_path_ok(v->string))
                return fail(r, LUSTY__STORE_INVALID, "bad field name '%.100s'", v->string);
            if (strcmp(v->string, "_id") == 0 || strncmp(v->string, "_id.", 4) == 0)
                return fail(r, LUSTY__STORE_INVALID, "_id cannot be changed");
            if (l == 1 && !cJSON_IsNumber(v))
                return fail(r, LUSTY__STORE_INVALID, "inc '%.100s' must be a number", v->string);
        }
    }
    return true;
}

static bool m_patch(run_t *r)
{
    const cJSON *set, *inc;
    if (!patch_args(r, &set, &inc))
        return false;
    if (!collection_exists(r, "0"))
        return r->status == LUSTY__STORE_OK;
    if (!begin(r))
        return false;
    row_t *rows = NULL;
    size_t n = 0, changed = 0;
    bool ok = select_rows(r, "doc", &rows, &n);
    for (size_t i = 0; ok && i < n; i++) {
        cJSON *doc = cJSON_Parse(rows[i].text);
        ok = doc && patch_doc(r, doc, set, inc);
        char *text = ok ? print_doc(r, doc) : NULL;
        ok = ok && text;
        if (ok && strcmp(text, rows[i].text) != 0) {
            ok = write_row(r, rows[i].seq, NULL, text);
            changed++;
        }
        free(text);
        cJSON_Delete(doc);
    }
    ok = ok && commit(r);
    if (ok)
        lusty_buf_printf(&r->out, "%zu", changed);
    else
        rollback(r);
    rows_free(rows, n);
    return ok;
}

static bool m_delete(run_t *r)
{
    if (!collection_exists(r, "[]"))
        return r->status == LUSTY__STORE_OK;
    /* One statement, so one transaction: what it returns is what it
     * removed. */
    lusty__store_sql_t q;
    lusty__store_sql_init(&q, scalar_fields(r->b, r->collection));
    lusty_buf_printf(&q.sql, "DELETE FROM \"%s\"", r->collection);
    bool ok = where(r, &q, false);
    if (ok)
        lusty_buf_puts(&q.sql, " RETURNING doc");
    sqlite3_stmt *st = ok ? bound(r, &q) : NULL;
    ok = st && answer_docs(r, st, NULL);
    lusty__store_sql_free(&q);
    return ok;
}

static const struct {
    const char *name;
    bool (*fn)(run_t *r);
} METHODS[] = {
    {"get", m_get},     {"post", m_post},     {"put", m_put},
    {"patch", m_patch}, {"delete", m_delete}, {"options", m_options},
};

static lusty__store_status_t sqlite_run(lusty__store_backend_t *self, const char *op_json,
                                        size_t op_len, char **answer)
{
    sqlite_backend_t *b = (sqlite_backend_t *)self;
    run_t r = {.b = b, .status = LUSTY__STORE_OK};
    lusty_buf_init(&r.out);
    cJSON *op = cJSON_ParseWithLength(op_json, op_len);
    r.op = op;
    const cJSON *coll = cJSON_GetObjectItemCaseSensitive(op, "collection");
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(op, "method");
    bool (*fn)(run_t *) = NULL;
    if (!cJSON_IsObject(op)) {
        fail(&r, LUSTY__STORE_INVALID, "the operation is not a JSON object");
    } else if (!cJSON_IsString(coll) || !lusty__store_collection_ok(coll->valuestring)) {
        fail(&r, LUSTY__STORE_INVALID, "bad collection name");
    } else {
        r.collection = coll->valuestring;
        for (size_t i = 0; i < sizeof METHODS / sizeof METHODS[0]; i++)
            if (cJSON_IsString(method) && strcmp(method->valuestring, METHODS[i].name) == 0)
                fn = METHODS[i].fn;
        if (!fn)
            fail(&r, LUSTY__STORE_INVALID,
                 "unknown method '%.60s' (known: get, post, put, patch, delete, options)",
                 cJSON_IsString(method) ? method->valuestring : "");
    }
    if (fn) {
        char *err = NULL;
        int rc = SQLITE_OK;
        r.c = get_conn(b, &err, &rc);
        if (!r.c) {
            r.status = status_of(rc);
            r.error = strdup(err);
            lusty_free(err);
        } else {
            fn(&r);
        }
    }
    cJSON_Delete(op);
    if (r.status != LUSTY__STORE_OK) {
        lusty_buf_free(&r.out);
        *answer = r.error;
        return r.status;
    }
    *answer = strdup(r.out.data ? r.out.data : "null");
    lusty_buf_free(&r.out);
    return LUSTY__STORE_OK;
}

static void sqlite_free(lusty__store_backend_t *self)
{
    sqlite_backend_t *b = (sqlite_backend_t *)self;
    if (!b)
        return;
    conn_t *c = b->conns;
    while (c) {
        conn_t *next = c->next;
        conn_free(c);
        c = next;
    }
    uv_key_delete(&b->key);
    uv_mutex_destroy(&b->lock);
    cJSON_Delete(b->indexes);
    lusty_free(b->path);
    lusty_free(b);
}

/* Checks the declared indexes: {collection: [field, ...]}. */
static char *check_indexes(const cJSON *indexes)
{
    if (!indexes || cJSON_IsNull(indexes))
        return NULL;
    if (!cJSON_IsObject(indexes))
        return lusty_asprintf("store.indexes must map collections to lists of fields");
    const cJSON *coll;
    cJSON_ArrayForEach(coll, indexes)
    {
        if (!lusty__store_collection_ok(coll->string))
            return lusty_asprintf("store.indexes: bad collection name '%.100s'", coll->string);
        if (!cJSON_IsArray(coll))
            return lusty_asprintf("store.indexes.%s must be a list of fields", coll->string);
        const cJSON *f;
        cJSON_ArrayForEach(f, coll)
        {
            if (!cJSON_IsString(f) || !lusty__store_path_ok(f->valuestring))
                return lusty_asprintf("store.indexes.%s: bad field name", coll->string);
        }
    }
    return NULL;
}

lusty__store_backend_t *lusty__store_sqlite_open(const char *config_json, const char *project_root,
                                                 char **error)
{
    cJSON *cfg = cJSON_Parse(config_json ? config_json : "{}");
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(cfg, "path");
    const cJSON *busy = cJSON_GetObjectItemCaseSensitive(cfg, "busy_timeout_ms");
    const cJSON *sync = cJSON_GetObjectItemCaseSensitive(cfg, "synchronous");
    const cJSON *indexes = cJSON_GetObjectItemCaseSensitive(cfg, "indexes");
    char *msg = check_indexes(indexes);
    if (!msg && path && !cJSON_IsString(path))
        msg = lusty_asprintf("store.path must be a string");
    if (!msg && busy && !(cJSON_IsNumber(busy) && busy->valuedouble >= 0))
        msg = lusty_asprintf("store.busy_timeout_ms must be a number of milliseconds");
    if (!msg && sync &&
        !(cJSON_IsString(sync) &&
          (strcmp(sync->valuestring, "normal") == 0 || strcmp(sync->valuestring, "full") == 0)))
        msg = lusty_asprintf("store.synchronous must be \"normal\" or \"full\"");
    if (msg) {
        cJSON_Delete(cfg);
        if (error)
            *error = msg;
        else
            lusty_free(msg);
        return NULL;
    }
    sqlite_backend_t *b = lusty_calloc(1, sizeof *b);
    b->base.name = "sqlite";
    b->base.run = sqlite_run;
    b->base.free = sqlite_free;
    const char *p = cJSON_IsString(path) ? path->valuestring : "data/store.sqlite3";
    b->path =
        p[0] == '/' || !project_root ? lusty_strdup(p) : lusty_asprintf("%s/%s", project_root, p);
    b->busy_ms = busy ? (int)(busy->valuedouble > 600000 ? 600000 : busy->valuedouble) : 5000;
    b->sync_full = cJSON_IsString(sync) && strcmp(sync->valuestring, "full") == 0;
    b->indexes = indexes && cJSON_IsObject(indexes) ? cJSON_Duplicate(indexes, 1) : NULL;
    cJSON_Delete(cfg);
    if (uv_key_create(&b->key) != 0 || uv_mutex_init(&b->lock) != 0)
        abort();

    /* Open this thread's connection now, so that a file that cannot be
     * opened fails the open; and make the declared indexes. */
    char *err = NULL;
    int rc = SQLITE_OK;
    conn_t *c = get_conn(b, &err, &rc);
    const cJSON *coll;
    cJSON_ArrayForEach(coll, (c ? b->indexes : NULL))
    {
        rc = create_table(b, c->db, coll->string);
        if (rc != SQLITE_OK) {
            err = lusty_asprintf("cannot create the indexes of '%s' in '%s': %s", coll->string,
                                 b->path, sqlite3_errmsg(c->db));
            break;
        }
    }
    if (err) {
        if (error)
            *error = err;
        else
            lusty_free(err);
        sqlite_free(&b->base);
        return NULL;
    }
    return &b->base;
}
