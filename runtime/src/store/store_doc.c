/* Documents as cJSON trees: names and paths the SQL may contain, dotted
 * paths into documents, projections and ObjectId-shaped ids. */
#include "store_sqlite_internal.h"

#include "lusty/alloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

bool lusty__store_collection_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 120 || strncasecmp(name, "sqlite_", 7) == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

bool lusty__store_path_ok(const char *path)
{
    size_t n = strlen(path);
    if (n == 0 || n > 1024 || path[0] == '$')
        return false;
    char prev = '.';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\'' || c == '\\')
            return false;
        if (c == '.' && prev == '.')
            return false;
        prev = (char)c;
    }
    return prev != '.';
}

static bool all_digits(const char *s, size_t n)
{
    if (n == 0 || n > 9)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

void lusty__store_put_json_path(lusty_buf_t *b, const char *path)
{
    lusty_buf_puts(b, "'$");
    const char *p = path;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        /* A segment of digits indexes an array (tags.0), as in MongoDB. */
        if (all_digits(p, n))
            lusty_buf_printf(b, "[%.*s]", (int)n, p);
        else
            lusty_buf_printf(b, ".\"%.*s\"", (int)n, p);
        p += n;
        if (*p == '.')
            p++;
    }
    lusty_buf_putc(b, '\'');
}

/* The child of `node` named by the segment s[0..n). */
static cJSON *child(cJSON *node, const char *s, size_t n)
{
    if (cJSON_IsArray(node) && all_digits(s, n))
        return cJSON_GetArrayItem(node, atoi(s));
    if (!cJSON_IsObject(node))
        return NULL;
    cJSON *c;
    cJSON_ArrayForEach(c, node)
    {
        if (c->string && strlen(c->string) == n && memcmp(c->string, s, n) == 0)
            return c;
    }
    return NULL;
}

cJSON *lusty__store_doc_get(cJSON *doc, const char *path)
{
    cJSON *node = doc;
    const char *p = path;
    while (node && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        node = child(node, p, n);
        p += n;
        if (*p == '.')
            p++;
    }
    return node;
}

bool lusty__store_doc_set(cJSON *doc, const char *path, cJSON *value)
{
    cJSON *node = doc;
    const char *p = path;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        char *name = lusty_strndup(p, n);
        if (!dot) {
            bool ok = true;
            if (cJSON_IsObject(node)) {
                if (cJSON_GetObjectItemCaseSensitive(node, name))
                    cJSON_ReplaceItemInObjectCaseSensitive(node, name, value);
                else
                    cJSON_AddItemToObject(node, name, value);
            } else if (cJSON_IsArray(node) && all_digits(name, n) &&
                       atoi(name) < cJSON_GetArraySize(node)) {
                cJSON_ReplaceItemInArray(node, atoi(name), value);
            } else {
                cJSON_Delete(value);
                ok = false;
            }
            lusty_free(name);
            return ok;
        }
        cJSON *next = child(node, p, n);
        if (!next && cJSON_IsObject(node)) {
            next = cJSON_CreateObject();
            cJSON_AddItemToObject(node, name, next);
        }
        lusty_free(name);
        if (!next || !(cJSON_IsObject(next) || cJSON_IsArray(next))) {
            cJSON_Delete(value);
            return false;
        }
        node = next;
        p = dot + 1;
    }
}

cJSON *lusty__store_doc_project(cJSON *doc, const cJSON *fields)
{
    cJSON *out = cJSON_CreateObject();
    cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "_id");
    if (id)
        cJSON_AddItemToObject(out, "_id", cJSON_Duplicate(id, 1));
    const cJSON *f;
    cJSON_ArrayForEach(f, fields)
    {
        if (!cJSON_IsString(f) || strcmp(f->valuestring, "_id") == 0)
            continue;
        cJSON *v = lusty__store_doc_get(doc, f->valuestring);
        if (v)
            lusty__store_doc_set(out, f->valuestring, cJSON_Duplicate(v, 1));
    }
    return out;
}

/* The 5 random bytes of this process and the counter, as MongoDB's
 * drivers make ObjectIds: 4 bytes of time, 5 random, 3 of a counter. */
static pthread_once_t oid_once = PTHREAD_ONCE_INIT;
static unsigned char oid_random[5];
static atomic_uint oid_counter;

static void oid_init(void)
{
    unsigned char seed[8] = {0};
    if (getrandom(seed, sizeof seed, 0) != (ssize_t)sizeof seed) {
        unsigned long t = (unsigned long)time(NULL) ^ (unsigned long)getpid();
        memcpy(seed, &t, sizeof t < sizeof seed ? sizeof t : sizeof seed);
    }
    memcpy(oid_random, seed, 5);
    atomic_store(&oid_counter, (unsigned)seed[5] << 16 | (unsigned)seed[6] << 8 | seed[7]);
}

void lusty__store_object_id(char out[25])
{
    pthread_once(&oid_once, oid_init);
    uint32_t t = (uint32_t)time(NULL);
    unsigned c = atomic_fetch_add(&oid_counter, 1) & 0xffffffu;
    unsigned char b[12] = {
        (unsigned char)(t >> 24),
        (unsigned char)(t >> 16),
        (unsigned char)(t >> 8),
        (unsigned char)t,
        oid_random[0],
        oid_random[1],
        oid_random[2],
        oid_random[3],
        oid_random[4],
        (unsigned char)(c >> 16),
        (unsigned char)(c >> 8),
        (unsigned char)c,
    };
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 12; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[24] = '\0';
}

/* A number as the shortest text that reads back as the same double;
 * integers without a fraction or exponent. (cJSON's own printer rounds
 * to 15 digits when they read back "close enough", which would change
 * 2^53 - 1.) */
static void print_number(lusty_buf_t *b, double d)
{
    if (d != d || d - d != 0) { /* NaN, infinities: JSON has no such number */
        lusty_buf_puts(b, "null");
        return;
    }
    if (d == (double)(long long)d && d > -1e18 && d < 1e18) {
        lusty_buf_printf(b, "%lld", (long long)d);
        return;
    }
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    lusty_buf_puts(b, tmp);
}

static void print_string(lusty_buf_t *b, const char *s)
{
    lusty_buf_putc(b, '"');
    const char *run = s;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        const char *esc = NULL;
        char u[8];
        switch (*p) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        default:
            if (*p < 0x20) {
                snprintf(u, sizeof u, "\\u%04x", *p);
                esc = u;
            }
        }
        if (esc) {
            lusty_buf_append(b, run, (size_t)((const char *)p - run));
            lusty_buf_puts(b, esc);
            run = (const char *)p + 1;
        }
    }
    lusty_buf_puts(b, run);
    lusty_buf_putc(b, '"');
}

static void print_value(lusty_buf_t *b, const cJSON *v)
{
    if (cJSON_IsString(v)) {
        print_string(b, v->valuestring);
    } else if (cJSON_IsNumber(v)) {
        print_number(b, v->valuedouble);
    } else if (cJSON_IsTrue(v)) {
        lusty_buf_puts(b, "true");
    } else if (cJSON_IsFalse(v)) {
        lusty_buf_puts(b, "false");
    } else if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
        bool obj = cJSON_IsObject(v);
        lusty_buf_putc(b, obj ? '{' : '[');
        for (const cJSON *c = v->child; c; c = c->next) {
            if (c != v->child)
                lusty_buf_putc(b, ',');
            if (obj) {
                print_string(b, c->string ? c->string : "");
                lusty_buf_putc(b, ':');
            }
            print_value(b, c);
        }
        lusty_buf_putc(b, obj ? '}' : ']');
    } else {
        lusty_buf_puts(b, "null");
    }
}

char *lusty__store_json_print(const cJSON *v)
{
    lusty_buf_t b = LUSTY_BUF_INIT;
    print_value(&b, v);
    return lusty_buf_detach(&b, NULL);
}
