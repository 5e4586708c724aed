/* The methods of the SQLite backend (store_sqlite.c has the connections
 * and statements they use): each reads the canonical operation in r->op,
 * writes its answer's JSON text to r->out, or fails r. */
#include "store_sqlite_internal.h"

#include "lusty/alloc.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---- the parts of an operation ---- */

/* "WHERE <filter>" (and ORDER BY when `sorted`) of the operation into q. */
static bool where(lusty__sqlite_run_t *r, lusty__store_sql_t *q, bool sorted)
{
    lusty_buf_puts(&q->sql, " WHERE ");
    lusty__store_sql_filter(q, cJSON_GetObjectItemCaseSensitive(r->op, "filter"));
    if (sorted) {
        lusty_buf_puts(&q->sql, " ORDER BY ");
        lusty__store_sql_sort(q, cJSON_GetObjectItemCaseSensitive(r->op, "sort"));
        lusty_buf_puts(&q->sql, "seq");
    }
    if (q->error) {
        lusty__sqlite_fail(r, LUSTY__STORE_INVALID, "%s", q->error);
        return false;
    }
    return true;
}

/* The statement of q, prepared and bound. */
static sqlite3_stmt *bound(lusty__sqlite_run_t *r, lusty__store_sql_t *q)
{
    sqlite3_stmt *st = lusty__sqlite_prepare(r, q->sql.data);
    if (!st)
        return NULL;
    int rc = lusty__store_sql_bind(q, st);
    if (rc != SQLITE_OK) {
        lusty__sqlite_done(st);
        lusty__sqlite_fail_db(r, rc);
        return NULL;
    }
    return st;
}

/* A non-negative integer member of the operation (0 when absent). */
static bool count_arg(lusty__sqlite_run_t *r, const char *name, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->op, name);
    *out = 0;
    if (!v || cJSON_IsNull(v))
        return true;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > (double)INT64_MAX / 2 ||
        v->valuedouble != (double)(int64_t)v->valuedouble)
        return lusty__sqlite_fail(r, LUSTY__STORE_INVALID, "%s must be an integer, 0 or more",
                                  name);
    *out = (int64_t)v->valuedouble;
    return true;
}

static char *print_doc(lusty__sqlite_run_t *r, const cJSON *doc)
{
    char *text = lusty__store_json_print(doc);
    if (!text) {
        lusty__sqlite_fail(r, LUSTY__STORE_INVALID, "the document cannot be written as JSON");
        return NULL;
    }
    if (strlen(text) > LUSTY__STORE_MAX_DOC) {
        free(text);
        lusty__sqlite_fail(r, LUSTY__STORE_INVALID, "the document is larger than 16 MiB");
        return NULL;
    }
    return text;
}

/* The document of the operation: an object whose _id, if any, is not an
 * array. */
static cJSON *op_doc(lusty__sqlite_run_t *r)
{
    cJSON *doc = cJSON_GetObjectItemCaseSensitive(r->op, "doc");
    if (!cJSON_IsObject(doc)) {
        lusty__sqlite_fail(r, LUSTY__STORE_INVALID, "the document must be an object");
        return NULL;
    }
    cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "_id");
    if (id && (cJSON_IsArray(id) || cJSON_IsNull(id))) {
        lusty__sqlite_fail(r, LUSTY__STORE_INVALID, "_id cannot be an array or null");
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
static bool insert(lusty__sqlite_run_t *r, cJSON *doc, const char *text)
{
    char *id = lusty__store_json_print(cJSON_GetObjectItemCaseSensitive(doc, "_id"));
    lusty__store_sql_t q;
    lusty__store_sql_init(&q, NULL);
    lusty_buf_printf(&q.sql, "INSERT INTO \"%s\" (id, doc) VALUES (", r->collection);
    lusty__store_sql_text(&q, id, strlen(id)); /* freed after q */
    lusty_buf_puts(&q.sql, ", ");
    lusty__store_sql_text(&q, text, strlen(text));
    lusty_buf_puts(&q.sql, ")");
    sqlite3_stmt *st = bound(r, &q);
    bool ok = false;
    if (st) {
        int rc = sqlite3_step(st);
        lusty__sqlite_done(st);
        if ((rc & 0xff) == SQLITE_CONSTRAINT)
            lusty__sqlite_fail(r, LUSTY__STORE_INVALID,
                               "a document with _id %.100s is already there", id);
        else if (rc != SQLITE_DONE)
            lusty__sqlite_fail_db(r, rc);
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
static bool collection_exists(lusty__sqlite_run_t *r, const char *empty)
{
    bool exists;
    if (!lusty__sqlite_have_table(r, false, &exists))
        return false;
    if (!exists)
        lusty_buf_puts(&r->out, empty);
    return exists;
}

/* Steps `st` and answers its rows' first column (documents) as a JSON
 * array, projected on `fields` when given. Resets st. */
static bool answer_docs(lusty__sqlite_run_t *r, sqlite3_stmt *st, const cJSON *fields)
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
    lusty__sqlite_done(st);
    lusty_buf_putc(&r->out, ']');
    return rc == SQLITE_DONE || lusty__sqlite_fail_db(r, rc);
}

static bool m_get(lusty__sqlite_run_t *r)
{
    if (!collection_exists(r, "[]"))
        return r->status == LUSTY__STORE_OK;
    int64_t offset, limit;
    if (!count_arg(r, "offset", &offset) || !count_arg(r, "limit", &limit))
        return false;
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(r->op, "fields");
    if (fields && !cJSON_IsNull(fields) && !cJSON_IsArray(fields))
        return lusty__sqlite_fail(r, LUSTY__STORE_INVALID,
                                  "fields must be an array of field names");
    if (!cJSON_IsArray(fields) || cJSON_GetArraySize(fields) == 0)
        fields = NULL;
    lusty__store_sql_t q;
    lusty__store_sql_init(&q, lusty__sqlite_scalar_fields(r->b, r->collection));
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

static bool m_options(lusty__sqlite_run_t *r)
{
    if (!collection_exists(r, "0"))
        return r->status == LUSTY__STORE_OK;
    lusty__store_sql_t q;
    lusty__store_sql_init(&q, lusty__sqlite_scalar_fields(r->b, r->collection));
    lusty_buf_printf(&q.sql, "SELECT count(*) FROM \"%s\"", r->collection);
    sqlite3_stmt *st = where(r, &q, false) ? bound(r, &q) : NULL;
    bool ok = false;
    if (st) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            lusty_buf_printf(&r->out, "%lld", (long long)sqlite3_column_int64(st, 0));
            ok = true;
        } else {
            lusty__sqlite_fail_db(r, rc);
        }
        lusty__sqlite_done(st);
    }
    lusty__store_sql_free(&q);
    return ok;
}

static bool m_post(lusty__sqlite_run_t *r)
{
    cJSON *doc = op_doc(r);
    bool exists;
    if (!doc || !lusty__sqlite_have_table(r, true, &exists))
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
static bool select_rows(lusty__sqlite_run_t *r, const char *col, row_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    lusty__store_sql_t q;
    lusty__store_sql_init(&q, lusty__sqlite_scalar_fields(r->b, r->collection));
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
        lusty__sqlite_done(st);
        ok = rc == SQLITE_DONE || lusty__sqlite_fail_db(r, rc);
    }
    lusty__store_sql_free(&q);
    return ok;
}

/* UPDATE (id and doc, or doc only when id is NULL) or DELETE of one row. */
static bool write_row(lusty__sqlite_run_t *r, int64_t seq, const char *id, const char *text)
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
        lusty__sqlite_done(st);
        ok = rc == SQLITE_DONE || lusty__sqlite_fail_db(r, rc);
    }
    lusty__store_sql_free(&q);
    return ok;
}

/* The _id a put gives a new document: the filter's _id when it asks for
 * one value ({_id: v} or {_id: {$eq: v}}), else the document's own, else
 * a new one. */
static void put_new_id(lusty__sqlite_run_t *r, cJSON *doc)
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

static bool m_put(lusty__sqlite_run_t *r)
{
    cJSON *doc = op_doc(r);
    bool exists;
    if (!doc || !lusty__sqlite_have_table(r, true, &exists) || !lusty__sqlite_begin(r))
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
    ok = ok && lusty__sqlite_commit(r);
    if (ok)
        lusty_buf_puts(&r->out, text);
    else
        lusty__sqlite_rollback(r);
    free(text);
    rows_free(rows, n);
    return ok;
}

/* Applies the operation's doc (dotted keys) and inc to one document. */
static bool patch_doc(lusty__sqlite_run_t *r, cJSON *doc, const cJSON *set, const cJSON *inc)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, set)
    {
        if (!lusty__store_doc_set(doc, v->string, cJSON_Duplicate(v, 1)))
            return lusty__sqlite_fail(r, LUSTY__STORE_INVALID,
                                      "cannot set '%.100s': a part of it is not an object",
                                      v->string);
    }
    cJSON_ArrayForEach(v, inc)
    {
        cJSON *now = lusty__store_doc_get(doc, v->string);
        if (now && !cJSON_IsNumber(now))
            return lusty__sqlite_fail(r, LUSTY__STORE_INVALID,
                                      "cannot add to '%.100s': it is not a number", v->string);
        double sum = (now ? now->valuedouble : 0) + v->valuedouble;
        if (!lusty__store_doc_set(doc, v->string, cJSON_CreateNumber(sum)))
            return lusty__sqlite_fail(r, LUSTY__STORE_INVALID,
                                      "cannot set '%.100s': a part of it is not an object",
                                      v->string);
    }
    return true;
}

/* The keys of patch's doc and inc: field paths, never _id, inc numbers. */
static bool patch_args(lusty__sqlite_run_t *r, const cJSON **set, const cJSON **inc)
{
    *set = cJSON_GetObjectItemCaseSensitive(r->op, "doc");
    *inc = cJSON_GetObjectItemCaseSensitive(r->op, "inc");
    if (*set && !cJSON_IsNull(*set) && !cJSON_IsObject(*set))
        return lusty__sqlite_fail(r, LUSTY__STORE_INVALID, "the fields to set must be an object");
    if (*inc && !cJSON_IsNull(*inc) && !cJSON_IsObject(*inc))
        return lusty__sqlite_fail(r, LUSTY__STORE_INVALID, "inc must be an object of numbers");
    const cJSON *lists[2] = {*set, *inc};
    for (int l = 0; l < 2; l++) {
        const cJSON *v;
        cJSON_ArrayForEach(v, (cJSON_IsObject(lists[l]) ? lists[l] : NULL))
        {
            if (!lusty__store_path_ok(v->string))
                return lusty__sqlite_fail(r, LUSTY__STORE_INVALID, "bad field name '%.100s'",
                                          v->string);
            if (strcmp(v->string, "_id") == 0 || strncmp(v->string, "_id.", 4) == 0)
                return lusty__sqlite_fail(r, LUSTY__STORE_INVALID, "_id cannot be changed");
            if (l == 1 && !cJSON_IsNumber(v))
                return lusty__sqlite_fail(r, LUSTY__STORE_INVALID, "inc '%.100s' must be a number",
                                          v->string);
        }
    }
    return true;
}

static bool m_patch(lusty__sqlite_run_t *r)
{
    const cJSON *set, *inc;
    if (!patch_args(r, &set, &inc))
        return false;
    if (!collection_exists(r, "0"))
        return r->status == LUSTY__STORE_OK;
    if (!lusty__sqlite_begin(r))
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
    ok = ok && lusty__sqlite_commit(r);
    if (ok)
        lusty_buf_printf(&r->out, "%zu", changed);
    else
        lusty__sqlite_rollback(r);
    rows_free(rows, n);
    return ok;
}

static bool m_delete(lusty__sqlite_run_t *r)
{
    if (!collection_exists(r, "[]"))
        return r->status == LUSTY__STORE_OK;
    /* One statement, so one transaction: what it returns is what it
     * removed. */
    lusty__store_sql_t q;
    lusty__store_sql_init(&q, lusty__sqlite_scalar_fields(r->b, r->collection));
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
    bool (*fn)(lusty__sqlite_run_t *r);
} METHODS[] = {
    {"get", m_get},     {"post", m_post},     {"put", m_put},
    {"patch", m_patch}, {"delete", m_delete}, {"options", m_options},
};

lusty__sqlite_method_fn lusty__sqlite_method(const char *name)
{
    for (size_t i = 0; i < sizeof METHODS / sizeof METHODS[0]; i++)
        if (strcmp(name, METHODS[i].name) == 0)
            return METHODS[i].fn;
    return NULL;
}
