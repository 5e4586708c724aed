/* Mustache over cJSON: the data source for cJSON values and a partials
 * provider over a cJSON object of template sources. */
#include "lusty/alloc.h"
#include "lusty/buf.h"
#include "lusty/mustache.h"

#include <cjson/cJSON.h>
#include <math.h> /* isfinite, a macro: no libm needed */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lusty_mustache_kind_t cj_kind(void *ud, const void *value)
{
    (void)ud;
    const cJSON *v = value;
    if (!v || cJSON_IsInvalid(v))
        return LUSTY_MUSTACHE_MISSING;
    if (cJSON_IsNull(v))
        return LUSTY_MUSTACHE_NULL;
    if (cJSON_IsFalse(v))
        return LUSTY_MUSTACHE_FALSE;
    if (cJSON_IsTrue(v))
        return LUSTY_MUSTACHE_TRUE;
    if (cJSON_IsNumber(v))
        return LUSTY_MUSTACHE_NUMBER;
    if (cJSON_IsString(v))
        return LUSTY_MUSTACHE_STRING;
    if (cJSON_IsArray(v))
        return LUSTY_MUSTACHE_LIST;
    if (cJSON_IsObject(v))
        return LUSTY_MUSTACHE_OBJECT;
    /* cJSON_Raw: pre-rendered JSON text, printed as it is. */
    return LUSTY_MUSTACHE_STRING;
}

/* Whether the C string `s` equals key[0, len): names from templates are not
 * NUL-terminated. */
static int name_is(const char *s, const char *key, size_t len)
{
    return strlen(s) == len && memcmp(s, key, len) == 0;
}

/* The member `key` of `obj`; the first of duplicate keys wins, as in cJSON. */
static const cJSON *member(const cJSON *obj, const char *key, size_t key_len)
{
    for (const cJSON *c = obj->child; c; c = c->next) {
        if (c->string && name_is(c->string, key, key_len))
            return c;
    }
    return NULL;
}

static int cj_lookup(void *ud, const void *value, const char *key, size_t key_len, const void **out)
{
    (void)ud;
    const cJSON *v = value;
    if (!cJSON_IsObject(v))
        return 0;
    const cJSON *m = member(v, key, key_len);
    if (!m)
        return 0;
    *out = m;
    return 1;
}

/* cJSON arrays are linked lists: reaching item i walks i links, which would
 * make iterating a list quadratic. Each thread keeps a few cursors instead,
 * one per list being iterated (nested loops use several), so that in-order
 * access costs one step. A cursor is (re)set by list_len(), which the
 * renderer calls before it iterates a list (see mustache.h), so a cursor
 * never outlives the render that made it. */
#define CURSORS 8

typedef struct {
    const cJSON *list;
    const cJSON *item; /* item `index` of `list`, NULL before the first get */
    size_t index;
    unsigned long used; /* for evicting the least recently used */
} cursor_t;

static _Thread_local cursor_t cursors[CURSORS];
static _Thread_local unsigned long cursor_clock;

static cursor_t *find_cursor(const cJSON *list)
{
    for (int i = 0; i < CURSORS; i++) {
        if (cursors[i].list == list)
            return &cursors[i];
    }
    return NULL;
}

static size_t cj_list_len(void *ud, const void *value)
{
    (void)ud;
    const cJSON *list = value;
    if (!cJSON_IsArray(list))
        return 0;
    cursor_t *c = find_cursor(list);
    if (!c) {
        c = &cursors[0];
        for (int i = 1; i < CURSORS; i++) {
            if (cursors[i].used < c->used)
                c = &cursors[i];
        }
    }
    c->list = list;
    c->item = NULL;
    c->index = 0;
    c->used = ++cursor_clock;
    size_t n = 0;
    for (const cJSON *it = list->child; it; it = it->next)
        n++;
    return n;
}

static const void *cj_list_get(void *ud, const void *value, size_t index)
{
    (void)ud;
    const cJSON *list = value;
    cursor_t *c = find_cursor(list);
    const cJSON *item;
    if (c && c->item && index == c->index + 1) {
        item = c->item->next;
    } else if (c && c->item && index == c->index) {
        item = c->item;
    } else {
        item = list->child;
        for (size_t i = 0; item && i < index; i++)
            item = item->next;
    }
    if (c && item) {
        c->item = item;
        c->index = index;
        c->used = ++cursor_clock;
    }
    return item;
}

/* Prints a number as JSON would: integers without a fraction, other values
 * with the fewest digits that read back as the same double (1.21, not
 * 1.2099999999999999645). */
static void format_number(double d, lusty_buf_t *out)
{
    char tmp[40];
    /* Integers below 2^53, the common case, without printf and strtod. */
    if (d > -9007199254740992.0 && d < 9007199254740992.0 && d == (double)(long long)d) {
        long long v = (long long)d; /* -0 becomes 0 */
        unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
        char *p = tmp + sizeof(tmp);
        do {
            *--p = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (v < 0)
            *--p = '-';
        lusty_buf_append(out, p, (size_t)(tmp + sizeof(tmp) - p));
        return;
    }
    /* Like JavaScript, integral values print in full below 1e21. */
    if (isfinite(d) && d > -1e21 && d < 1e21) {
        snprintf(tmp, sizeof(tmp), "%.0f", d);
        if (strtod(tmp, NULL) == d) {
            lusty_buf_puts(out, tmp);
            return;
        }
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    lusty_buf_puts(out, tmp);
}

static void cj_to_string(void *ud, const void *value, lusty_buf_t *out)
{
    (void)ud;
    const cJSON *v = value;
    if (cJSON_IsString(v) || cJSON_IsRaw(v)) {
        if (v->valuestring)
            lusty_buf_puts(out, v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        format_number(v->valuedouble, out);
    } else if (cJSON_IsTrue(v)) {
        lusty_buf_puts(out, "true");
    } else if (cJSON_IsFalse(v)) {
        lusty_buf_puts(out, "false");
    }
    /* null, lists and objects print nothing. */
}

const lusty_mustache_data_t *lusty_mustache_cjson_data(void)
{
    /* JSON has no functions, so no lambdas. */
    static const lusty_mustache_data_t source = {
        .kind = cj_kind,
        .lookup = cj_lookup,
        .list_len = cj_list_len,
        .list_get = cj_list_get,
        .to_string = cj_to_string,
        .call_lambda = NULL,
        .ud = NULL,
    };
    return &source;
}

typedef struct {
    char *name;
    lusty_mustache_t *tpl;
} cached_t;

struct lusty_mustache_cjson_partials {
    const cJSON *sources;
    cached_t *cache;
    size_t ncache, cap;
};

lusty_mustache_cjson_partials_t *lusty_mustache_cjson_partials_new(const void *sources)
{
    lusty_mustache_cjson_partials_t *p = lusty_calloc(1, sizeof(*p));
    p->sources = sources;
    return p;
}

void lusty_mustache_cjson_partials_free(lusty_mustache_cjson_partials_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->ncache; i++) {
        lusty_free(p->cache[i].name);
        lusty_mustache_free(p->cache[i].tpl);
    }
    lusty_free(p->cache);
    lusty_free(p);
}

/* Returns the compiled partial `name`, compiling and caching it on first
 * use. A name missing from the sources (or not a string) gives NULL. */
static const lusty_mustache_t *cj_partial_get(void *ud, const char *name, size_t name_len,
                                              char **err_out)
{
    lusty_mustache_cjson_partials_t *p = ud;
    lusty_mustache_error_t err = {NULL, 0, 0};
    lusty_mustache_t *tpl = NULL;
    char *key = NULL;
    const lusty_mustache_t *found = NULL;

    for (size_t i = 0; i < p->ncache; i++) {
        const cached_t *c = &p->cache[i];
        if (name_is(c->name, name, name_len))
            return c->tpl;
    }
    const cJSON *src = cJSON_IsObject(p->sources) ? member(p->sources, name, name_len) : NULL;
    if (!cJSON_IsString(src) || !src->valuestring)
        goto cleanup;

    key = lusty_strndup(name, name_len);
    if (lusty_mustache_compile(&tpl, key, src->valuestring, strlen(src->valuestring), &err) < 0) {
        if (err_out) {
            *err_out = err.message;
            err.message = NULL;
        }
        goto cleanup;
    }
    p->cache = lusty_grow(p->cache, &p->cap, p->ncache + 1, sizeof(*p->cache));
    p->cache[p->ncache].name = key;
    p->cache[p->ncache].tpl = tpl;
    p->ncache++;
    found = tpl;
    key = NULL;
    tpl = NULL;

cleanup:
    lusty_mustache_error_free(&err);
    lusty_mustache_free(tpl);
    lusty_free(key);
    return found;
}

lusty_mustache_partials_t lusty_mustache_cjson_partials(lusty_mustache_cjson_partials_t *p)
{
    lusty_mustache_partials_t partials = {cj_partial_get, p};
    return partials;
}
