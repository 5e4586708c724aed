/* JSON values to BSON and back, for the MongoDB backend: the store speaks
 * JSON text (the canonical operation and its answer), MongoDB speaks BSON.
 *
 * The JSON side has one number type; the rules that keep integers integers
 * on both sides are: an integral number becomes an int32, or an int64 when
 * it does not fit, any other number a double; int32 and int64 come back
 * without a fraction. A document's `_id` of 24 lower-case hex digits is an
 * ObjectId in MongoDB and that hex string on the JSON side. */
#include "store_mongo_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *lusty__mongo_printf(const char *fmt, ...)
{
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *text = bson_malloc((size_t)n + 1);
    vsnprintf(text, (size_t)n + 1, fmt, again);
    va_end(again);
    return text;
}

bool lusty__mongo_is_oid_text(const char *text)
{
    size_t n = 0;
    for (; text[n]; n++)
        if (n >= 24 || !((text[n] >= '0' && text[n] <= '9') || (text[n] >= 'a' && text[n] <= 'f')))
            return false;
    return n == 24;
}

/* cJSON ends its strings at their first NUL, so a `\u0000` in a string
 * would cut it short. Before parsing, each one becomes the escape of
 * U+10FFFF (a noncharacter, which no text holds) and back to NUL when the
 * string goes into BSON (which holds NULs in values). */
#define NUL_STANDIN "\xf4\x8f\xbf\xbf"
#define NUL_STANDIN_ESCAPE "\\udbff\\udfff"

char *lusty__mongo_protect_nul(const char *json, size_t len, size_t *out_len)
{
    bson_string_t *out = NULL;
    size_t start = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        if (json[i] == '"') {
            in_string = !in_string;
        } else if (in_string && json[i] == '\\') {
            if (i + 5 < len && memcmp(json + i + 1, "u0000", 5) == 0) {
                if (!out)
                    out = bson_string_new(NULL);
                bson_string_append_printf(out, "%.*s" NUL_STANDIN_ESCAPE, (int)(i - start),
                                          json + start);
                start = i + 6;
            }
            i++; /* the escaped character, never a quote that ends */
        }
    }
    if (!out)
        return NULL;
    bson_string_append_printf(out, "%.*s", (int)(len - start), json + start);
    *out_len = out->len;
    return bson_string_free(out, false);
}

/* The bytes of a parsed JSON string with its NULs back (see above): `s`
 * itself, or a copy in *copy (bson_free()). */
static const char *string_bytes(const char *s, size_t *len, char **copy)
{
    *copy = NULL;
    *len = strlen(s);
    if (!strstr(s, NUL_STANDIN))
        return s;
    char *out = bson_malloc(*len + 1);
    size_t n = 0;
    for (size_t i = 0; i < *len;) {
        if (memcmp(s + i, NUL_STANDIN, 4) == 0) {
            out[n++] = '\0';
            i += 4;
        } else {
            out[n++] = s[i++];
        }
    }
    out[n] = '\0';
    *len = n;
    *copy = out;
    return out;
}

/* The number `d` as BSON: int32, int64 or double. */
static void append_number(bson_t *out, const char *key, double d)
{
    /* 2^63 itself does not fit in an int64: the bound is exclusive. */
    if (isfinite(d) && d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
        if (d >= INT32_MIN && d <= INT32_MAX)
            bson_append_int32(out, key, -1, (int32_t)d);
        else
            bson_append_int64(out, key, -1, (int64_t)d);
    } else {
        bson_append_double(out, key, -1, d);
    }
}

static bool append_array(bson_t *out, const char *key, const cJSON *array, char **error)
{
    bson_t child;
    bson_append_array_begin(out, key, -1, &child);
    unsigned i = 0;
    bool ok = true;
    for (const cJSON *item = array->child; item && ok; item = item->next, i++) {
        char buf[16];
        const char *index;
        bson_uint32_to_string(i, &index, buf, sizeof buf);
        ok = lusty__mongo_append_value(&child, index, item, false, error);
    }
    bson_append_array_end(out, &child);
    return ok;
}

bool lusty__mongo_append_value(bson_t *out, const char *key, const cJSON *value, bool as_id,
                               char **error)
{
    if (cJSON_IsNull(value))
        return bson_append_null(out, key, -1);
    if (cJSON_IsBool(value))
        return bson_append_bool(out, key, -1, cJSON_IsTrue(value));
    if (cJSON_IsNumber(value)) {
        append_number(out, key, value->valuedouble);
        return true;
    }
    if (cJSON_IsString(value)) {
        const char *s = value->valuestring;
        if (as_id && lusty__mongo_is_oid_text(s)) {
            bson_oid_t oid;
            bson_oid_init_from_string(&oid, s);
            return bson_append_oid(out, key, -1, &oid);
        }
        size_t len;
        char *copy;
        s = string_bytes(s, &len, &copy);
        bool ok = bson_utf8_validate(s, len, true);
        if (ok)
            bson_append_utf8(out, key, -1, s, (int)len);
        else
            *error = lusty__mongo_printf("the value of '%s' is not UTF-8", key);
        bson_free(copy);
        return ok;
    }
    if (cJSON_IsArray(value))
        return append_array(out, key, value, error);
    if (cJSON_IsObject(value)) {
        bson_t child;
        bson_append_document_begin(out, key, -1, &child);
        bool ok = lusty__mongo_doc_from_json(&child, value, false, error);
        bson_append_document_end(out, &child);
        return ok;
    }
    *error = lusty__mongo_printf("the value of '%s' is not JSON", key);
    return false;
}

bool lusty__mongo_doc_from_json(bson_t *out, const cJSON *object, bool top, char **error)
{
    for (const cJSON *item = object->child; item; item = item->next) {
        const char *key = item->string;
        if (!bson_utf8_validate(key, strlen(key), false) || strstr(key, NUL_STANDIN)) {
            *error = lusty__mongo_printf("a field name is not UTF-8 text without NUL");
            return false;
        }
        /* MongoDB would read a top-level `$` name as an operator, and a
         * stored document has none. */
        if (top && key[0] == '$') {
            *error = lusty__mongo_printf("field name '%s' starts with '$'", key);
            return false;
        }
        if (!lusty__mongo_append_value(out, key, item, top && strcmp(key, "_id") == 0, error))
            return false;
    }
    return true;
}

/* JSON string escapes for `s` (`len` bytes). UTF-8 passes through as it is. */
static void append_string(bson_string_t *out, const char *s, size_t len)
{
    bson_string_append_c(out, '"');
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        /* The run of plain bytes before this one. */
        bson_string_append_printf(out, "%.*s", (int)(i - start), s + start);
        start = i + 1;
        switch (c) {
        case '"':
            bson_string_append(out, "\\\"");
            break;
        case '\\':
            bson_string_append(out, "\\\\");
            break;
        case '\n':
            bson_string_append(out, "\\n");
            break;
        case '\r':
            bson_string_append(out, "\\r");
            break;
        case '\t':
            bson_string_append(out, "\\t");
            break;
        default:
            bson_string_append_printf(out, "\\u%04x", c);
        }
    }
    bson_string_append_printf(out, "%.*s", (int)(len - start), s + start);
    bson_string_append_c(out, '"');
}

/* The shortest of %.15g, %.16g and %.17g that reads back as `d`. */
static void append_double(bson_string_t *out, double d)
{
    if (!isfinite(d)) {
        bson_string_append(out, "null");
        return;
    }
    char buf[32];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    bson_string_append(out, buf);
}

static void append_json(bson_string_t *out, const bson_iter_t *it);

/* The members of a document or array as JSON; `it` is before the first
 * (NULL: none). */
static void append_members(bson_string_t *out, bson_iter_t *it, bool array)
{
    bson_string_append_c(out, array ? '[' : '{');
    for (bool first = true; it && bson_iter_next(it); first = false) {
        if (!first)
            bson_string_append_c(out, ',');
        if (!array) {
            append_string(out, bson_iter_key(it), bson_iter_key_len(it));
            bson_string_append_c(out, ':');
        }
        append_json(out, it);
    }
    bson_string_append_c(out, array ? ']' : '}');
}

static void append_container(bson_string_t *out, const bson_iter_t *it, bool array)
{
    bson_iter_t child;
    append_members(out, bson_iter_recurse(it, &child) ? &child : NULL, array);
}

/* One BSON value as JSON. The types a store never writes (other tools may)
 * get the nearest JSON: dates as ISO 8601 text, Decimal128 as text,
 * timestamps as their seconds, the rest null. */
static void append_json(bson_string_t *out, const bson_iter_t *it)
{
    switch (bson_iter_type(it)) {
    case BSON_TYPE_DOUBLE:
        append_double(out, bson_iter_double(it));
        break;
    case BSON_TYPE_INT32:
        bson_string_append_printf(out, "%d", bson_iter_int32(it));
        break;
    case BSON_TYPE_INT64:
        bson_string_append_printf(out, "%lld", (long long)bson_iter_int64(it));
        break;
    case BSON_TYPE_BOOL:
        bson_string_append(out, bson_iter_bool(it) ? "true" : "false");
        break;
    case BSON_TYPE_UTF8: {
        uint32_t len = 0;
        const char *s = bson_iter_utf8(it, &len);
        append_string(out, s, len);
        break;
    }
    case BSON_TYPE_OID: {
        char hex[25];
        bson_oid_to_string(bson_iter_oid(it), hex);
        append_string(out, hex, 24);
        break;
    }
    case BSON_TYPE_DOCUMENT:
        append_container(out, it, false);
        break;
    case BSON_TYPE_ARRAY:
        append_container(out, it, true);
        break;
    case BSON_TYPE_DATE_TIME: {
        int64_t ms = bson_iter_date_time(it);
        time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
        struct tm tm;
        char buf[64];
        gmtime_r(&secs, &tm);
        size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf + n, sizeof buf - n, ".%03dZ", (int)(ms - (int64_t)secs * 1000));
        append_string(out, buf, strlen(buf));
        break;
    }
    case BSON_TYPE_DECIMAL128: {
        bson_decimal128_t dec;
        char buf[BSON_DECIMAL128_STRING];
        bson_iter_decimal128(it, &dec);
        bson_decimal128_to_string(&dec, buf);
        append_string(out, buf, strlen(buf));
        break;
    }
    case BSON_TYPE_TIMESTAMP: {
        uint32_t t = 0, i = 0;
        bson_iter_timestamp(it, &t, &i);
        bson_string_append_printf(out, "%u", t);
        break;
    }
    default:
        bson_string_append(out, "null");
        break;
    }
}

void lusty__mongo_json_from_doc(bson_string_t *out, const bson_t *doc, bool array)
{
    bson_iter_t it;
    append_members(out, bson_iter_init(&it, doc) ? &it : NULL, array);
}
