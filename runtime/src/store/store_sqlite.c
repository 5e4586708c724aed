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

bool lusty__sqlite_fail(lusty__sqlite_run_t *r, lusty__store_status_t status, const char *fmt, ...)
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
bool lusty__sqlite_fail_db(lusty__sqlite_run_t *r, int rc)
{
    lusty__store_status_t st = status_of(rc);
    const char *why = sqlite3_errmsg(r->c->db);
    if (st == LUSTY__STORE_LOCKED)
        return lusty__sqlite_fail(
            r, st, "'%s' is locked by another connection past the busy timeout (%d ms)", r->b->path,
            r->b->busy_ms);
    if (st == LUSTY__STORE_FULL)
        return lusty__sqlite_fail(r, st, "'%s': the disk is full (%s); nothing was written",
                                  r->b->path, why);
    return lusty__sqlite_fail(r, st, "'%s': %s", r->b->path, why);
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

static void conn_free(lusty__sqlite_conn_t *c)
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
static lusty__sqlite_conn_t *get_conn(lusty__sqlite_t *b, char **error, int *rc_out)
{
    lusty__sqlite_conn_t *c = uv_key_get(&b->key);
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
sqlite3_stmt *lusty__sqlite_prepare(lusty__sqlite_run_t *r, const char *sql)
{
    lusty__sqlite_conn_t *c = r->c;
    for (size_t i = 0; i < c->nst; i++)
        if (strcmp(c->sql[i], sql) == 0)
            return c->st[i];
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (rc != SQLITE_OK) {
        lusty__sqlite_fail_db(r, rc);
        return NULL;
    }
    size_t slot = c->nst;
    if (slot == LUSTY__SQLITE_STMT_CACHE) {
        slot = c->evict++ % LUSTY__SQLITE_STMT_CACHE;
        sqlite3_finalize(c->st[slot]);
        lusty_free(c->sql[slot]);
    } else {
        c->nst++;
    }
    c->sql[slot] = lusty_strdup(sql);
    c->st[slot] = st;
    return st;
}

void lusty__sqlite_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

/* Runs a statement without parameters or rows. */
static bool run_plain(lusty__sqlite_run_t *r, const char *sql)
{
    sqlite3_stmt *st = lusty__sqlite_prepare(r, sql);
    if (!st)
        return false;
    int rc = sqlite3_step(st);
    lusty__sqlite_done(st);
    if (rc != SQLITE_DONE)
        return lusty__sqlite_fail_db(r, rc);
    return true;
}

bool lusty__sqlite_begin(lusty__sqlite_run_t *r)
{
    return run_plain(r, "BEGIN IMMEDIATE");
}

bool lusty__sqlite_commit(lusty__sqlite_run_t *r)
{
    if (run_plain(r, "COMMIT"))
        return true;
    if (!sqlite3_get_autocommit(r->c->db))
        exec_sql(r->c->db, "ROLLBACK");
    return false;
}

void lusty__sqlite_rollback(lusty__sqlite_run_t *r)
{
    if (!sqlite3_get_autocommit(r->c->db))
        exec_sql(r->c->db, "ROLLBACK");
}

/* ---- tables and indexes ---- */

const cJSON *lusty__sqlite_scalar_fields(lusty__sqlite_t *b, const char *collection)
{
    return b->indexes ? cJSON_GetObjectItemCaseSensitive(b->indexes, collection) : NULL;
}

/* CREATE TABLE and the declared indexes of `collection`. */
static int create_table(lusty__sqlite_t *b, sqlite3 *db, const char *collection)
{
    lusty_buf_t sql = LUSTY_BUF_INIT;
    lusty_buf_printf(&sql,
                     "CREATE TABLE IF NOT EXISTS \"%s\" (seq INTEGER PRIMARY KEY, "
                     "id TEXT NOT NULL UNIQUE, doc TEXT NOT NULL);",
                     collection);
    const cJSON *f;
    cJSON_ArrayForEach(f, lusty__sqlite_scalar_fields(b, collection))
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
bool lusty__sqlite_have_table(lusty__sqlite_run_t *r, bool create, bool *exists)
{
    lusty__sqlite_conn_t *c = r->c;
    *exists = false;
    for (size_t i = 0; i < c->ntables; i++)
        if (strcmp(c->tables[i], r->collection) == 0) {
            *exists = true;
            return true;
        }
    sqlite3_stmt *st =
        lusty__sqlite_prepare(r, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?");
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, r->collection, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    lusty__sqlite_done(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return lusty__sqlite_fail_db(r, rc);
    if (rc == SQLITE_DONE) {
        if (!create)
            return true;
        rc = create_table(r->b, c->db, r->collection);
        if (rc != SQLITE_OK)
            return lusty__sqlite_fail_db(r, rc);
    }
    if (c->ntables < LUSTY__SQLITE_TABLE_CACHE)
        c->tables[c->ntables++] = lusty_strdup(r->collection);
    *exists = true;
    return true;
}

/* Whether JSON text holds a \u0000 escape: a NUL byte in a string. This
 * backend reads operations and documents with cJSON, whose strings end at
 * a NUL, so such a string would be cut short: stored shorter, or matched
 * as another value. It is refused. (MongoDB's backend keeps NULs: see
 * store_bson.c.) */
static bool has_nul_escape(const char *s, size_t len)
{
    const char *end = s + len;
    for (const char *p = s; (p = memchr(p, '\\', (size_t)(end - p))) != NULL; p += 2) {
        if (end - p >= 6 && memcmp(p + 1, "u0000", 5) == 0)
            return true;
        if (end - p < 2)
            break;
    }
    return false;
}

/* Reads asked for together run in one read transaction: BEGIN is
 * deferred, so the first read takes the snapshot and the locks, once for
 * all. Only on a thread whose connection is open (the first operation
 * opens it). */
static bool sqlite_hold_reads(lusty__store_backend_t *self, bool hold)
{
    lusty__sqlite_t *b = (lusty__sqlite_t *)self;
    lusty__sqlite_conn_t *c = uv_key_get(&b->key);
    if (!c)
        return false;
    if (hold)
        return sqlite3_get_autocommit(c->db) && exec_sql(c->db, "BEGIN") == SQLITE_OK;
    if (!sqlite3_get_autocommit(c->db) && exec_sql(c->db, "COMMIT") != SQLITE_OK &&
        !sqlite3_get_autocommit(c->db))
        exec_sql(c->db, "ROLLBACK");
    return true;
}

static lusty__store_status_t sqlite_run(lusty__store_backend_t *self, const char *op_json,
                                        size_t op_len, char **answer)
{
    lusty__sqlite_t *b = (lusty__sqlite_t *)self;
    lusty__sqlite_run_t r = {.b = b, .status = LUSTY__STORE_OK};
    lusty_buf_init(&r.out);
    cJSON *op = cJSON_ParseWithLength(op_json, op_len);
    r.op = op;
    const cJSON *coll = cJSON_GetObjectItemCaseSensitive(op, "collection");
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(op, "method");
    lusty__sqlite_method_fn fn = NULL;
    if (!cJSON_IsObject(op)) {
        lusty__sqlite_fail(&r, LUSTY__STORE_INVALID, "the operation is not a JSON object");
    } else if (has_nul_escape(op_json, op_len)) {
        lusty__sqlite_fail(&r, LUSTY__STORE_INVALID,
                           "a string with a NUL byte (\\0) cannot be stored or searched for on SQLite");
    } else if (!cJSON_IsString(coll) || !lusty__store_collection_ok(coll->valuestring)) {
        lusty__sqlite_fail(&r, LUSTY__STORE_INVALID, "bad collection name");
    } else {
        r.collection = coll->valuestring;
        if (cJSON_IsString(method))
            fn = lusty__sqlite_method(method->valuestring);
        if (!fn)
            lusty__sqlite_fail(
                &r, LUSTY__STORE_INVALID,
                "unknown method '%.60s' (known: get, post, put, patch, delete, options)",
                cJSON_IsString(method) ? method->valuestring : "");
    }
    if (fn) {
        char *err = NULL;
        int rc = SQLITE_OK;
        r.c = get_conn(b, &err, &rc);
        if (!r.c) {
            r.status = status_of(rc);
            r.error = err;
        } else {
            /* A write never joins a held read transaction: that ends
             * first (see sqlite_hold_reads). */
            bool reads = strcmp(method->valuestring, "get") == 0 ||
                         strcmp(method->valuestring, "options") == 0;
            if (!reads && !sqlite3_get_autocommit(r.c->db))
                sqlite_hold_reads(self, false);
            fn(&r);
        }
    }
    cJSON_Delete(op);
    if (r.status != LUSTY__STORE_OK) {
        lusty_buf_free(&r.out);
        *answer = r.error;
        return r.status;
    }
    if (!r.out.data)
        lusty_buf_puts(&r.out, "null");
    *answer = lusty_buf_detach(&r.out, NULL); /* the text as built, not a copy */
    return LUSTY__STORE_OK;
}

static void sqlite_free(lusty__store_backend_t *self)
{
    lusty__sqlite_t *b = (lusty__sqlite_t *)self;
    if (!b)
        return;
    lusty__sqlite_conn_t *c = b->conns;
    while (c) {
        lusty__sqlite_conn_t *next = c->next;
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
    lusty__sqlite_t *b = lusty_calloc(1, sizeof *b);
    b->base.name = "sqlite";
    b->base.run = sqlite_run;
    b->base.hold_reads = sqlite_hold_reads;
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
    lusty__sqlite_conn_t *c = get_conn(b, &err, &rc);
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
