/* The filter language of the store, checked again in C before anything is
 * sent to MongoDB, and the other clauses of an operation (sort, fields).
 *
 * The Lua side validates too, but the backend is the last line: whatever
 * reaches it that is not in the language (a `$where`, `$function`, `$expr`,
 * `$elemMatch` in `$all`) is refused here and never sent. */
#include "store_mongo_internal.h"

#include <string.h>

static const char *const operators[] = {
    "$eq",  "$ne",  "$gt",     "$gte",   "$lt",      "$lte", "$in",
    "$nin", "$all", "$exists", "$regex", "$options", "$not", NULL,
};

static bool is_operator(const char *name)
{
    for (int i = 0; operators[i]; i++)
        if (strcmp(operators[i], name) == 0)
            return true;
    return false;
}

/* A field path: dotted names, none empty or starting with `$`. */
static bool check_path(const char *path, char **error)
{
    const char *p = path;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n == 0 || p[0] == '$') {
            *error = n == 0 ? lusty__mongo_printf("bad field path '%s'", path)
                            : lusty__mongo_printf("unknown operator '%.*s'", (int)n, p);
            return false;
        }
        if (!dot)
            return true;
        p = dot + 1;
    }
}

static bool has_operator_name(const cJSON *object)
{
    for (const cJSON *item = object->child; item; item = item->next)
        if (item->string[0] == '$')
            return true;
    return false;
}

/* A value compared as it is. MongoDB reads operators only at the top of a
 * filter, at the top of a field's condition, and in the documents of $all
 * (`$elemMatch`); those are refused in $all, so that a document given as a
 * value is always a value, whatever names it holds. */
static bool append_literal(bson_t *out, const char *key, const cJSON *value, bool id, bool in_all,
                           char **error)
{
    for (const cJSON *item = value->child; in_all && cJSON_IsObject(value) && item;
         item = item->next)
        if (item->string[0] == '$') {
            *error = lusty__mongo_printf("unknown operator '%s'", item->string);
            return false;
        }
    return lusty__mongo_append_value(out, key, value, id, error);
}

/* An array of literals, as $in, $nin and $all take. */
static bool append_list(bson_t *out, const char *op, const cJSON *value, bool id, char **error)
{
    if (!cJSON_IsArray(value)) {
        *error = lusty__mongo_printf("'%s' takes an array", op);
        return false;
    }
    bson_t child;
    bson_append_array_begin(out, op, -1, &child);
    unsigned i = 0;
    bool ok = true;
    for (const cJSON *item = value->child; item && ok; item = item->next, i++) {
        char buf[16];
        const char *index;
        bson_uint32_to_string(i, &index, buf, sizeof buf);
        ok = append_literal(&child, index, item, id, !strcmp(op, "$all"), error);
    }
    bson_append_array_end(out, &child);
    return ok;
}

/* The operator object `ops` of one field (`id`: the field is `_id`, whose
 * 24-hex strings are ObjectIds). */
static bool append_operators(bson_t *out, const cJSON *ops, bool id, char **error)
{
    const cJSON *regex = cJSON_GetObjectItemCaseSensitive(ops, "$regex");
    for (const cJSON *item = ops->child; item; item = item->next) {
        const char *op = item->string;
        if (!is_operator(op)) {
            *error = op[0] == '$' ? lusty__mongo_printf("unknown operator '%s'", op)
                                  : lusty__mongo_printf("field '%s' mixed with operators", op);
            return false;
        }
        bool ok = true;
        if (!strcmp(op, "$in") || !strcmp(op, "$nin") || !strcmp(op, "$all")) {
            ok = append_list(out, op, item, id, error);
        } else if (!strcmp(op, "$exists")) {
            if (!cJSON_IsBool(item)) {
                *error = lusty__mongo_printf("'$exists' takes true or false");
                return false;
            }
            bson_append_bool(out, op, -1, cJSON_IsTrue(item));
        } else if (!strcmp(op, "$regex")) {
            if (!cJSON_IsString(item)) {
                *error = lusty__mongo_printf("'$regex' takes a string");
                return false;
            }
            ok = lusty__mongo_append_value(out, op, item, false, error);
        } else if (!strcmp(op, "$options")) {
            if (!regex || !cJSON_IsString(item) ||
                strspn(item->valuestring, "imsx") != strlen(item->valuestring)) {
                *error = lusty__mongo_printf("'$options' takes letters of 'imsx', with '$regex'");
                return false;
            }
            bson_append_utf8(out, op, -1, item->valuestring, -1);
        } else if (!strcmp(op, "$not")) {
            if (!cJSON_IsObject(item) || !item->child || !has_operator_name(item)) {
                *error = lusty__mongo_printf("'$not' takes an operator object");
                return false;
            }
            bson_t child;
            bson_append_document_begin(out, op, -1, &child);
            ok = append_operators(&child, item, id, error);
            bson_append_document_end(out, &child);
        } else {
            ok = append_literal(out, op, item, id, false, error);
        }
        if (!ok)
            return false;
    }
    return true;
}

/* The filters of $and / $or: a non-empty array of filter objects. */
static bool append_filters(bson_t *out, const char *op, const cJSON *list, char **error)
{
    if (!cJSON_IsArray(list) || !list->child) {
        *error = lusty__mongo_printf("'%s' takes a non-empty array of filters", op);
        return false;
    }
    bson_t array;
    bson_append_array_begin(out, op, -1, &array);
    unsigned i = 0;
    bool ok = true;
    for (const cJSON *item = list->child; item && ok; item = item->next, i++) {
        char buf[16];
        const char *index;
        bson_uint32_to_string(i, &index, buf, sizeof buf);
        if (!cJSON_IsObject(item)) {
            *error = lusty__mongo_printf("'%s' takes a non-empty array of filters", op);
            ok = false;
            break;
        }
        bson_t child;
        bson_append_document_begin(&array, index, -1, &child);
        ok = lusty__mongo_filter(&child, item, error);
        bson_append_document_end(&array, &child);
    }
    bson_append_array_end(out, &array);
    return ok;
}

bool lusty__mongo_filter(bson_t *out, const cJSON *filter, char **error)
{
    if (!filter || cJSON_IsNull(filter))
        return true;
    if (!cJSON_IsObject(filter)) {
        *error = lusty__mongo_printf("the filter is not an object");
        return false;
    }
    for (const cJSON *item = filter->child; item; item = item->next) {
        const char *key = item->string;
        bool ok;
        if (!strcmp(key, "$and") || !strcmp(key, "$or")) {
            ok = append_filters(out, key, item, error);
        } else if (!check_path(key, error)) {
            return false;
        } else if (cJSON_IsObject(item) && has_operator_name(item)) {
            bson_t child;
            bson_append_document_begin(out, key, -1, &child);
            ok = append_operators(&child, item, !strcmp(key, "_id"), error);
            bson_append_document_end(out, &child);
        } else {
            ok = append_literal(out, key, item, !strcmp(key, "_id"), false, error);
        }
        if (!ok)
            return false;
    }
    return true;
}

bool lusty__mongo_sort(bson_t *out, const cJSON *sort, char **error)
{
    if (!sort || cJSON_IsNull(sort))
        return true;
    if (!cJSON_IsArray(sort)) {
        *error = lusty__mongo_printf("'sort' is not an array of [field, 1 | -1] pairs");
        return false;
    }
    for (const cJSON *pair = sort->child; pair; pair = pair->next) {
        const cJSON *field = cJSON_GetArrayItem(pair, 0), *dir = cJSON_GetArrayItem(pair, 1);
        if (!cJSON_IsArray(pair) || cJSON_GetArraySize(pair) != 2 || !cJSON_IsString(field) ||
            !cJSON_IsNumber(dir) || (dir->valuedouble != 1 && dir->valuedouble != -1)) {
            *error = lusty__mongo_printf("'sort' is not an array of [field, 1 | -1] pairs");
            return false;
        }
        if (!check_path(field->valuestring, error))
            return false;
        bson_append_int32(out, field->valuestring, -1, (int32_t)dir->valuedouble);
    }
    return true;
}

/* Whether `path` is `prefix` or lies under it ("a.b" under "a"). */
static bool path_under(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '.');
}

bool lusty__mongo_projection(bson_t *out, const cJSON *fields, char **error)
{
    if (!fields || cJSON_IsNull(fields))
        return true;
    if (!cJSON_IsArray(fields)) {
        *error = lusty__mongo_printf("'fields' is not an array of field names");
        return false;
    }
    for (const cJSON *f = fields->child; f; f = f->next) {
        if (!cJSON_IsString(f)) {
            *error = lusty__mongo_printf("'fields' is not an array of field names");
            return false;
        }
        if (!check_path(f->valuestring, error))
            return false;
    }
    /* MongoDB refuses a projection naming both "a" and "a.b" (a path
     * collision); "a" alone already returns "a.b". */
    for (const cJSON *f = fields->child; f; f = f->next) {
        bool covered = false, before = true;
        for (const cJSON *g = fields->child; g && !covered; g = g->next) {
            if (g == f)
                before = false;
            else if (path_under(f->valuestring, g->valuestring))
                covered = before || strcmp(f->valuestring, g->valuestring) != 0;
        }
        if (!covered)
            bson_append_int32(out, f->valuestring, -1, 1);
    }
    return true;
}
