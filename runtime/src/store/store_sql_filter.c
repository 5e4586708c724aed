/* Filters in MongoDB syntax as SQL over documents kept as JSON text.
 *
 * Every value of a filter becomes a bound parameter. Field paths are
 * written into the SQL as string literals, after lusty__store_path_ok()
 * made sure they cannot end the literal; that keeps a path the same text
 * as the expression of an index declared on it, so SQLite can use it.
 *
 * A condition on a field holds when the field's value satisfies it, or
 * (as in MongoDB) when the value is an array and one of its elements
 * does. Each test checks the JSON type first, so numbers compare only
 * with numbers, strings with strings (byte order of UTF-8), booleans
 * with booleans, and a range never matches across types. */
#include "store_sqlite_internal.h"

#include "lusty/alloc.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lusty__store_sql_init(lusty__store_sql_t *q, const cJSON *scalar_fields)
{
    memset(q, 0, sizeof *q);
    lusty_buf_init(&q->sql);
    q->scalar_fields = scalar_fields;
}

void lusty__store_sql_free(lusty__store_sql_t *q)
{
    for (size_t i = 0; i < q->nparams; i++)
        if (q->params[i].owned)
            lusty_free((char *)q->params[i].text);
    lusty_free(q->params);
    lusty_buf_free(&q->sql);
    free(q->error);
}

void lusty__store_sql_fail(lusty__store_sql_t *q, const char *fmt, ...)
{
    if (q->error)
        return;
    va_list ap;
    va_start(ap, fmt);
    char tmp[512];
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    q->error = strdup(tmp);
}

static lusty__store_param_t *add_param(lusty__store_sql_t *q)
{
    q->params = lusty_grow(q->params, &q->cap, q->nparams + 1, sizeof *q->params);
    lusty__store_param_t *p = &q->params[q->nparams++];
    memset(p, 0, sizeof *p);
    lusty_buf_putc(&q->sql, '?');
    return p;
}

void lusty__store_sql_text(lusty__store_sql_t *q, const char *text, size_t len)
{
    lusty__store_param_t *p = add_param(q);
    p->kind = LUSTY__P_TEXT;
    p->text = text;
    p->len = len;
}

void lusty__store_sql_text_owned(lusty__store_sql_t *q, char *text)
{
    lusty__store_param_t *p = add_param(q);
    p->kind = LUSTY__P_TEXT;
    p->text = text;
    p->len = strlen(text);
    p->owned = true;
}

void lusty__store_sql_int(lusty__store_sql_t *q, int64_t i)
{
    lusty__store_param_t *p = add_param(q);
    p->kind = LUSTY__P_INT;
    p->i = i;
}

/* A number: as an integer when it is one (exact up to 2^53). */
static void sql_number(lusty__store_sql_t *q, double d)
{
    if (d == floor(d) && fabs(d) <= 9007199254740992.0) {
        lusty__store_sql_int(q, (int64_t)d);
        return;
    }
    lusty__store_param_t *p = add_param(q);
    p->kind = LUSTY__P_REAL;
    p->d = d;
}

int lusty__store_sql_bind(const lusty__store_sql_t *q, sqlite3_stmt *st)
{
    for (size_t i = 0; i < q->nparams; i++) {
        const lusty__store_param_t *p = &q->params[i];
        int col = (int)i + 1, rc;
        if (p->kind == LUSTY__P_TEXT)
            rc = sqlite3_bind_text(st, col, p->text, (int)p->len, SQLITE_STATIC);
        else if (p->kind == LUSTY__P_INT)
            rc = sqlite3_bind_int64(st, col, p->i);
        else
            rc = sqlite3_bind_double(st, col, p->d);
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

static void put(lusty__store_sql_t *q, const char *s)
{
    lusty_buf_puts(&q->sql, s);
}

/* ---- one field ---- */

/* Where a condition reads a value: the field itself, or an element of
 * the array it holds (a row of json_each). */
typedef struct {
    const char *path;
    bool element;
} at_t;

static void put_type(lusty__store_sql_t *q, const at_t *at)
{
    if (at->element) {
        put(q, "e.type");
        return;
    }
    /* 'missing' rather than NULL, so that NOT (...) of a test on a
     * missing field is true instead of NULL. */
    put(q, "coalesce(json_type(doc, ");
    lusty__store_put_json_path(&q->sql, at->path);
    put(q, "), 'missing')");
}

static void put_value(lusty__store_sql_t *q, const at_t *at)
{
    if (at->element) {
        put(q, "e.value");
        return;
    }
    put(q, "json_extract(doc, ");
    lusty__store_put_json_path(&q->sql, at->path);
    put(q, ")");
}

/* A value's JSON text, as the documents hold it (for whole objects and
 * arrays, compared as text). */
static char *json_text(const cJSON *v)
{
    return lusty__store_json_print(v);
}

/* The test of one operator against one value at `at`. */
typedef enum { OP_EQ, OP_GT, OP_GTE, OP_LT, OP_LTE, OP_REGEX } test_t;

typedef struct {
    test_t test;
    const cJSON *value;
    const char *options; /* OP_REGEX */
} cond_t;

static const char *cmp_sql(test_t t)
{
    switch (t) {
    case OP_GT:
        return " > ";
    case OP_GTE:
        return " >= ";
    case OP_LT:
        return " < ";
    case OP_LTE:
        return " <= ";
    default:
        return " = ";
    }
}

/* "<type at `at`><type_test> AND <value at `at`><comparison>": a
 * comparison with a value of one JSON type, up to the value's parameter,
 * which the caller adds. */
static void put_typed_cmp(lusty__store_sql_t *q, const at_t *at, const char *type_test, test_t t)
{
    put_type(q, at);
    put(q, type_test);
    put(q, " AND ");
    put_value(q, at);
    put(q, cmp_sql(t));
}

static void put_cond(lusty__store_sql_t *q, const at_t *at, const cond_t *c)
{
    const cJSON *v = c->value;
    put(q, "(");
    if (c->test == OP_REGEX) {
        put_type(q, at);
        put(q, " = 'text' AND lusty_regexp(");
        lusty__store_sql_text(q, v->valuestring, strlen(v->valuestring));
        put(q, ", ");
        lusty__store_sql_text(q, c->options, strlen(c->options));
        put(q, ", ");
        put_value(q, at);
        put(q, "))");
        return;
    }
    if (cJSON_IsString(v)) {
        put_typed_cmp(q, at, " = 'text'", c->test);
        lusty__store_sql_text(q, v->valuestring, strlen(v->valuestring));
    } else if (cJSON_IsNumber(v)) {
        put_typed_cmp(q, at, " IN ('integer', 'real')", c->test);
        sql_number(q, v->valuedouble);
    } else if (cJSON_IsBool(v)) {
        put_typed_cmp(q, at, " IN ('true', 'false')", c->test);
        lusty__store_sql_int(q, cJSON_IsTrue(v) ? 1 : 0);
    } else if (cJSON_IsNull(v)) {
        /* null is only equal to null: $gte/$lte null match it, $gt/$lt
         * match nothing (as in MongoDB). */
        if (c->test == OP_EQ || c->test == OP_GTE || c->test == OP_LTE) {
            put_type(q, at);
            put(q, " = 'null'");
        } else {
            put(q, "0");
        }
    } else if (c->test == OP_EQ) {
        put_typed_cmp(q, at, cJSON_IsArray(v) ? " = 'array'" : " = 'object'", OP_EQ);
        lusty__store_sql_text_owned(q, json_text(v));
    } else {
        lusty__store_sql_fail(q, "a range operator compares numbers, strings or booleans, "
                                 "not objects or arrays");
        put(q, "0");
    }
    put(q, ")");
}

static bool is_scalar_field(const lusty__store_sql_t *q, const char *path)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, q->scalar_fields)
    {
        if (cJSON_IsString(f) && strcmp(f->valuestring, path) == 0)
            return true;
    }
    return false;
}

/* The field's value satisfies c, or one element of the array it holds
 * does. A field declared indexed is tested as a single value. */
static void put_any(lusty__store_sql_t *q, const char *path, const cond_t *c)
{
    at_t field = {path, false};
    put(q, "(");
    put_cond(q, &field, c);
    if (!is_scalar_field(q, path)) {
        at_t elem = {path, true};
        put(q, " OR (");
        put_type(q, &field);
        put(q, " = 'array' AND EXISTS (SELECT 1 FROM json_each(doc, ");
        lusty__store_put_json_path(&q->sql, path);
        put(q, ") AS e WHERE ");
        put_cond(q, &elem, c);
        put(q, "))");
    }
    put(q, ")");
}

/* Equality, where a missing field equals null. */
static void put_eq(lusty__store_sql_t *q, const char *path, const cJSON *v)
{
    cond_t c = {OP_EQ, v, NULL};
    if (strcmp(path, "_id") == 0 && !cJSON_IsNull(v)) {
        /* The id column holds _id's JSON text, under a unique index. */
        put(q, "(id = ");
        lusty__store_sql_text_owned(q, json_text(v));
        put(q, ")");
        return;
    }
    if (cJSON_IsNull(v)) {
        at_t field = {path, false};
        put(q, "(");
        put_type(q, &field);
        put(q, " = 'missing' OR ");
        put_any(q, path, &c);
        put(q, ")");
        return;
    }
    put_any(q, path, &c);
}

/* A list of equalities joined by `join` (" OR ", " AND "); `empty` when
 * the list is empty. */
static void put_eq_list(lusty__store_sql_t *q, const char *path, const char *op, const cJSON *list,
                        const char *join, const char *empty)
{
    if (!cJSON_IsArray(list)) {
        lusty__store_sql_fail(q, "%s on '%s' takes an array", op, path);
        put(q, "0");
        return;
    }
    if (cJSON_GetArraySize(list) == 0) {
        put(q, empty);
        return;
    }
    put(q, "(");
    const cJSON *v;
    bool first = true;
    cJSON_ArrayForEach(v, list)
    {
        if (!first)
            put(q, join);
        first = false;
        put_eq(q, path, v);
    }
    put(q, ")");
}

static const char KNOWN_OPERATORS[] = "$eq $ne $gt $gte $lt $lte $in $nin $all $exists $regex "
                                      "$options $not $and $or";

static void put_ops(lusty__store_sql_t *q, const char *path, const cJSON *ops);

/* One operator of a field's operator object. */
static void put_op(lusty__store_sql_t *q, const char *path, const cJSON *op, const cJSON *ops)
{
    const char *name = op->string;
    static const struct {
        const char *name;
        test_t test;
    } ranges[] = {{"$gt", OP_GT}, {"$gte", OP_GTE}, {"$lt", OP_LT}, {"$lte", OP_LTE}};
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
        if (strcmp(name, ranges[i].name) == 0) {
            cond_t c = {ranges[i].test, op, NULL};
            put_any(q, path, &c);
            return;
        }
    }
    if (strcmp(name, "$eq") == 0) {
        put_eq(q, path, op);
    } else if (strcmp(name, "$ne") == 0) {
        put(q, "NOT ");
        put_eq(q, path, op);
    } else if (strcmp(name, "$in") == 0) {
        put_eq_list(q, path, name, op, " OR ", "0");
    } else if (strcmp(name, "$nin") == 0) {
        put(q, "NOT ");
        put_eq_list(q, path, name, op, " OR ", "0");
    } else if (strcmp(name, "$all") == 0) {
        put_eq_list(q, path, name, op, " AND ", "0");
    } else if (strcmp(name, "$exists") == 0) {
        if (!cJSON_IsBool(op)) {
            lusty__store_sql_fail(q, "$exists on '%s' takes true or false", path);
            put(q, "0");
            return;
        }
        at_t field = {path, false};
        put(q, "(");
        put_type(q, &field);
        put(q, cJSON_IsTrue(op) ? " <> 'missing')" : " = 'missing')");
    } else if (strcmp(name, "$regex") == 0) {
        const cJSON *opt = cJSON_GetObjectItemCaseSensitive(ops, "$options");
        const char *options = cJSON_IsString(opt) ? opt->valuestring : "";
        if (!cJSON_IsString(op) || (opt && !cJSON_IsString(opt))) {
            lusty__store_sql_fail(q, "$regex on '%s' takes a string (and $options a string)", path);
            put(q, "0");
            return;
        }
        char *err = lusty__store_regexp_check(op->valuestring, options);
        if (err) {
            lusty__store_sql_fail(q, "$regex on '%s': %s", path, err);
            free(err);
            put(q, "0");
            return;
        }
        cond_t c = {OP_REGEX, op, options};
        put_any(q, path, &c);
    } else if (strcmp(name, "$options") == 0) {
        if (!cJSON_GetObjectItemCaseSensitive(ops, "$regex"))
            lusty__store_sql_fail(q, "$options on '%s' without $regex", path);
        put(q, "1");
    } else if (strcmp(name, "$not") == 0) {
        if (!cJSON_IsObject(op) || !op->child) {
            lusty__store_sql_fail(q, "$not on '%s' takes an operator object", path);
            put(q, "0");
            return;
        }
        put(q, "NOT ");
        put_ops(q, path, op);
    } else {
        lusty__store_sql_fail(q, "unknown operator '%s' (known: %s)", name, KNOWN_OPERATORS);
        put(q, "0");
    }
}

static bool is_operator_object(const cJSON *v)
{
    return cJSON_IsObject(v) && v->child && v->child->string && v->child->string[0] == '$';
}

/* An operator object: every key an operator, all of them holding. */
static void put_ops(lusty__store_sql_t *q, const char *path, const cJSON *ops)
{
    put(q, "(");
    const cJSON *op;
    bool first = true;
    cJSON_ArrayForEach(op, ops)
    {
        if (!op->string || op->string[0] != '$') {
            lusty__store_sql_fail(q, "'%s' mixes operators and fields ('%s')", path,
                                  op->string ? op->string : "");
            put(q, "0)");
            return;
        }
        if (!first)
            put(q, " AND ");
        first = false;
        put_op(q, path, op, ops);
    }
    put(q, ")");
}

static void put_filter(lusty__store_sql_t *q, const cJSON *filter, int depth);

/* $and / $or: a non-empty array of filters. */
static void put_logic(lusty__store_sql_t *q, const cJSON *item, int depth)
{
    const char *join = strcmp(item->string, "$and") == 0 ? " AND " : " OR ";
    if (!cJSON_IsArray(item) || cJSON_GetArraySize(item) == 0) {
        lusty__store_sql_fail(q, "%s takes a non-empty array of filters", item->string);
        put(q, "0");
        return;
    }
    put(q, "(");
    const cJSON *sub;
    bool first = true;
    cJSON_ArrayForEach(sub, item)
    {
        if (!first)
            put(q, join);
        first = false;
        put_filter(q, sub, depth + 1);
    }
    put(q, ")");
}

static void put_filter(lusty__store_sql_t *q, const cJSON *filter, int depth)
{
    if (!cJSON_IsObject(filter)) {
        lusty__store_sql_fail(q, "a filter is an object");
        put(q, "0");
        return;
    }
    if (depth > 32) {
        lusty__store_sql_fail(q, "the filter nests too deep");
        put(q, "0");
        return;
    }
    if (!filter->child) {
        put(q, "1");
        return;
    }
    put(q, "(");
    const cJSON *item;
    bool first = true;
    cJSON_ArrayForEach(item, filter)
    {
        if (!first)
            put(q, " AND ");
        first = false;
        const char *key = item->string ? item->string : "";
        if (strcmp(key, "$and") == 0 || strcmp(key, "$or") == 0) {
            put_logic(q, item, depth);
        } else if (key[0] == '$') {
            lusty__store_sql_fail(q, "unknown operator '%s' (known: %s)", key, KNOWN_OPERATORS);
            put(q, "0");
        } else if (!lusty__store_path_ok(key)) {
            lusty__store_sql_fail(q, "bad field name '%.100s'", key);
            put(q, "0");
        } else if (is_operator_object(item)) {
            put_ops(q, key, item);
        } else {
            put_eq(q, key, item);
        }
    }
    put(q, ")");
}

void lusty__store_sql_filter(lusty__store_sql_t *q, const cJSON *filter)
{
    if (!filter || cJSON_IsNull(filter)) {
        put(q, "1");
        return;
    }
    put_filter(q, filter, 0);
}

/* MongoDB's order of types: missing and null, numbers, strings, objects,
 * arrays, booleans. */
void lusty__store_sql_sort(lusty__store_sql_t *q, const cJSON *sort)
{
    if (!sort || cJSON_IsNull(sort))
        return;
    if (!cJSON_IsArray(sort)) {
        lusty__store_sql_fail(q, "sort is an array of [field, 1 or -1]");
        return;
    }
    const cJSON *pair;
    cJSON_ArrayForEach(pair, sort)
    {
        const cJSON *f = cJSON_GetArrayItem(pair, 0), *d = cJSON_GetArrayItem(pair, 1);
        if (!cJSON_IsArray(pair) || !cJSON_IsString(f) || !cJSON_IsNumber(d) ||
            (d->valuedouble != 1 && d->valuedouble != -1)) {
            lusty__store_sql_fail(q, "sort is an array of [field, 1 or -1]");
            return;
        }
        if (!lusty__store_path_ok(f->valuestring)) {
            lusty__store_sql_fail(q, "bad field name '%.100s'", f->valuestring);
            return;
        }
        const char *dir = d->valuedouble > 0 ? " ASC, " : " DESC, ";
        at_t at = {f->valuestring, false};
        put(q, "CASE ");
        put_type(q, &at);
        put(q, " WHEN 'integer' THEN 2 WHEN 'real' THEN 2 WHEN 'text' THEN 3 "
               "WHEN 'object' THEN 4 WHEN 'array' THEN 5 WHEN 'false' THEN 8 "
               "WHEN 'true' THEN 8 ELSE 1 END");
        put(q, dir);
        put_value(q, &at);
        put(q, dir);
    }
}
