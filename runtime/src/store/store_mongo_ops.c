/* The store's six methods on MongoDB, each one canonical operation (JSON)
 * in, one JSON answer out (see store_internal.h for the shapes). */
#include "store_mongo_internal.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

lusty__store_status_t lusty__mongo_invalid(lusty__mongo_call_t *call, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    call->error = bson_strdupv_printf(fmt, ap);
    va_end(ap);
    return LUSTY__STORE_INVALID;
}

lusty__store_status_t lusty__mongo_fail(lusty__mongo_call_t *call, const bson_error_t *error)
{
    lusty__store_status_t status = lusty__mongo_error_status(error);
    char *message = lusty__mongo_scrub(error->message, call->backend->password);
    if (status == LUSTY__STORE_UNAVAILABLE)
        call->error =
            lusty__mongo_printf("cannot reach %s: %s", call->backend->redacted_uri, message);
    else if (error->code == 51091) /* MongoDB's message does not say which operator */
        call->error = lusty__mongo_printf("bad $regex: %s", message);
    else
        call->error = bson_strdup(message);
    bson_free(message);
    return status;
}

static const cJSON *field(const lusty__mongo_call_t *call, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(call->op, name);
}

/* The operation's filter as BSON; false (and call->error) when refused. */
static bool filter_of(lusty__mongo_call_t *call, bson_t *out)
{
    return lusty__mongo_filter(out, field(call, "filter"), &call->error);
}

/* An optional count (offset, limit): an integer >= 0, or absent. */
static bool count_of(lusty__mongo_call_t *call, const char *name, int64_t *out)
{
    const cJSON *n = field(call, name);
    *out = 0;
    if (!n || cJSON_IsNull(n))
        return true;
    if (!cJSON_IsNumber(n) || n->valuedouble < 0 || n->valuedouble != floor(n->valuedouble) ||
        n->valuedouble > 9007199254740992.0) {
        lusty__mongo_invalid(call, "'%s' is not an integer >= 0", name);
        return false;
    }
    *out = (int64_t)n->valuedouble;
    return true;
}

/* The find options of get: sort, offset, limit, fields. */
static bool find_opts(lusty__mongo_call_t *call, bson_t *opts)
{
    int64_t offset, limit;
    bson_t sort, projection;
    if (!count_of(call, "offset", &offset) || !count_of(call, "limit", &limit))
        return false;
    if (offset)
        bson_append_int64(opts, "skip", -1, offset);
    if (limit)
        bson_append_int64(opts, "limit", -1, limit);
    bson_append_document_begin(opts, "sort", -1, &sort);
    bool ok = lusty__mongo_sort(&sort, field(call, "sort"), &call->error);
    bson_append_document_end(opts, &sort);
    if (!ok)
        return false;
    bson_append_document_begin(opts, "projection", -1, &projection);
    ok = lusty__mongo_projection(&projection, field(call, "fields"), &call->error);
    bson_append_document_end(opts, &projection);
    return ok;
}

/* Runs a find and calls `each` on every document; on a driver error the
 * status says which (call->error set). */
static lusty__store_status_t find_each(lusty__mongo_call_t *call, const bson_t *filter,
                                       const bson_t *opts,
                                       void (*each)(lusty__mongo_call_t *, const bson_t *, void *),
                                       void *data)
{
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(call->coll, filter, opts, NULL);
    const bson_t *doc;
    bson_error_t error;
    while (mongoc_cursor_next(cursor, &doc))
        each(call, doc, data);
    lusty__store_status_t status = LUSTY__STORE_OK;
    if (mongoc_cursor_error(cursor, &error))
        status = lusty__mongo_fail(call, &error);
    mongoc_cursor_destroy(cursor);
    return status;
}

/* Appends `doc` to the answer, an array being built. */
static void answer_doc(lusty__mongo_call_t *call, const bson_t *doc, void *first)
{
    if (!*(bool *)first)
        bson_string_append_c(call->answer, ',');
    *(bool *)first = false;
    lusty__mongo_json_from_doc(call->answer, doc, false);
}

lusty__store_status_t lusty__mongo_get(lusty__mongo_call_t *call)
{
    bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
    lusty__store_status_t status = LUSTY__STORE_INVALID;
    if (!filter_of(call, &filter) || !find_opts(call, &opts))
        goto cleanup;
    bool first = true;
    bson_string_append_c(call->answer, '[');
    status = find_each(call, &filter, &opts, answer_doc, &first);
    bson_string_append_c(call->answer, ']');
cleanup:
    bson_destroy(&filter);
    bson_destroy(&opts);
    return status;
}

/* The document of post and put, an object; false (call->error) if not. */
static const cJSON *doc_of(lusty__mongo_call_t *call)
{
    const cJSON *doc = field(call, "doc");
    if (!cJSON_IsObject(doc))
        lusty__mongo_invalid(call, "the document is not an object");
    return cJSON_IsObject(doc) ? doc : NULL;
}

lusty__store_status_t lusty__mongo_post(lusty__mongo_call_t *call)
{
    const cJSON *json = doc_of(call);
    if (!json)
        return LUSTY__STORE_INVALID;
    bson_t doc = BSON_INITIALIZER;
    lusty__store_status_t status = LUSTY__STORE_INVALID;
    /* The driver would add an ObjectId too, but the answer needs it. */
    if (!cJSON_GetObjectItemCaseSensitive(json, "_id")) {
        bson_oid_t oid;
        bson_oid_init(&oid, NULL);
        bson_append_oid(&doc, "_id", 3, &oid);
    }
    if (!lusty__mongo_doc_from_json(&doc, json, true, &call->error))
        goto cleanup;
    bson_error_t error;
    if (!mongoc_collection_insert_one(call->coll, &doc, NULL, NULL, &error)) {
        status = lusty__mongo_fail(call, &error);
        goto cleanup;
    }
    lusty__mongo_json_from_doc(call->answer, &doc, false);
    status = LUSTY__STORE_OK;
cleanup:
    bson_destroy(&doc);
    return status;
}

/* The _ids a find returns, in order. */
typedef struct {
    bson_value_t *ids;
    size_t n, cap;
} id_list_t;

static void collect_id(lusty__mongo_call_t *call, const bson_t *doc, void *data)
{
    (void)call;
    id_list_t *list = data;
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, "_id"))
        return;
    if (list->n == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 8;
        list->ids = bson_realloc(list->ids, list->cap * sizeof *list->ids);
    }
    bson_value_copy(bson_iter_value(&it), &list->ids[list->n++]);
}

static void free_ids(id_list_t *list)
{
    for (size_t i = 0; i < list->n; i++)
        bson_value_destroy(&list->ids[i]);
    bson_free(list->ids);
}

/* Deletes the documents whose _ids are ids[from..]. */
static lusty__store_status_t delete_ids(lusty__mongo_call_t *call, const id_list_t *ids,
                                        size_t from)
{
    if (from >= ids->n)
        return LUSTY__STORE_OK;
    bson_t selector = BSON_INITIALIZER, in, list;
    BSON_APPEND_DOCUMENT_BEGIN(&selector, "_id", &in);
    BSON_APPEND_ARRAY_BEGIN(&in, "$in", &list);
    for (size_t i = from; i < ids->n; i++) {
        char buf[16];
        const char *index;
        bson_uint32_to_string((uint32_t)(i - from), &index, buf, sizeof buf);
        bson_append_value(&list, index, -1, &ids->ids[i]);
    }
    bson_append_array_end(&in, &list);
    bson_append_document_end(&selector, &in);
    bson_error_t error;
    lusty__store_status_t status = LUSTY__STORE_OK;
    if (!mongoc_collection_delete_many(call->coll, &selector, NULL, NULL, &error))
        status = lusty__mongo_fail(call, &error);
    bson_destroy(&selector);
    return status;
}

/* A document with `id` as its _id and the fields of `json` but its _id. */
static bool doc_with_id(lusty__mongo_call_t *call, bson_t *out, const bson_value_t *id,
                        const cJSON *json)
{
    bson_append_value(out, "_id", 3, id);
    cJSON *copy = cJSON_Duplicate(json, true);
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "_id");
    bool ok = lusty__mongo_doc_from_json(out, copy, true, &call->error);
    cJSON_Delete(copy);
    return ok;
}

/* The _id a put stores when nothing matches: the filter's plain `_id`
 * (`{"_id": v}` or `{"_id": {"$eq": v}}`), else the document's, else a new
 * ObjectId. Written into `out` under "_id". */
static bool new_id(lusty__mongo_call_t *call, const cJSON *doc, bson_t *out)
{
    const cJSON *filter = field(call, "filter");
    const cJSON *id =
        cJSON_IsObject(filter) ? cJSON_GetObjectItemCaseSensitive(filter, "_id") : NULL;
    if (cJSON_IsObject(id) && id->child && id->child->string[0] == '$')
        id = cJSON_GetObjectItemCaseSensitive(id, "$eq");
    if (!id || cJSON_IsObject(id) || cJSON_IsArray(id))
        id = cJSON_GetObjectItemCaseSensitive(doc, "_id");
    if (id)
        return lusty__mongo_append_value(out, "_id", id, true, &call->error);
    bson_oid_t oid;
    bson_oid_init(&oid, NULL);
    return bson_append_oid(out, "_id", 3, &oid);
}

/* Replaces the document whose _id is `id` by `doc`, inserting it if it is
 * gone. */
static lusty__store_status_t replace_by_id(lusty__mongo_call_t *call, const bson_value_t *id,
                                           const bson_t *doc)
{
    bson_t selector = BSON_INITIALIZER, opts = BSON_INITIALIZER;
    bson_error_t error;
    lusty__store_status_t status = LUSTY__STORE_OK;
    bson_append_value(&selector, "_id", 3, id);
    BSON_APPEND_BOOL(&opts, "upsert", true);
    if (!mongoc_collection_replace_one(call->coll, &selector, doc, &opts, NULL, &error))
        status = lusty__mongo_fail(call, &error);
    bson_destroy(&selector);
    bson_destroy(&opts);
    return status;
}

/* put: the first match takes the document and keeps its _id; the other
 * matches are replaced by it too, which leaves one document (as on
 * SQLite). With no match the document is inserted (upsert). */
lusty__store_status_t lusty__mongo_put(lusty__mongo_call_t *call)
{
    const cJSON *json = doc_of(call);
    if (!json)
        return LUSTY__STORE_INVALID;
    bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, first = BSON_INITIALIZER;
    bson_t id_doc = BSON_INITIALIZER, projection;
    id_list_t ids = {0};
    lusty__store_status_t status = LUSTY__STORE_INVALID;
    if (!filter_of(call, &filter))
        goto cleanup;
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &projection);
    BSON_APPEND_INT32(&projection, "_id", 1);
    bson_append_document_end(&opts, &projection);
    status = find_each(call, &filter, &opts, collect_id, &ids);
    if (status != LUSTY__STORE_OK)
        goto cleanup;
    if (ids.n == 0) {
        if (!new_id(call, json, &id_doc)) {
            status = LUSTY__STORE_INVALID;
            goto cleanup;
        }
        collect_id(call, &id_doc, &ids);
    }
    status = doc_with_id(call, &first, &ids.ids[0], json) ? replace_by_id(call, &ids.ids[0], &first)
                                                          : LUSTY__STORE_INVALID;
    if (status == LUSTY__STORE_OK)
        status = delete_ids(call, &ids, 1);
    if (status == LUSTY__STORE_OK)
        lusty__mongo_json_from_doc(call->answer, &first, false);
cleanup:
    free_ids(&ids);
    bson_destroy(&filter);
    bson_destroy(&opts);
    bson_destroy(&first);
    bson_destroy(&id_doc);
    return status;
}

/* The update document of a patch: $set of `doc` (dotted paths reach into
 * nested documents) and $inc of `inc`. */
static bool patch_update(lusty__mongo_call_t *call, bson_t *update)
{
    const cJSON *doc = field(call, "doc"), *inc = field(call, "inc");
    if ((doc && !cJSON_IsNull(doc) && !cJSON_IsObject(doc)) ||
        (inc && !cJSON_IsNull(inc) && !cJSON_IsObject(inc))) {
        lusty__mongo_invalid(call, "patch takes objects of fields to set and to increment");
        return false;
    }
    for (const cJSON *f = doc ? doc->child : NULL; f; f = f->next)
        if (f->string[0] == '$' || strcmp(f->string, "_id") == 0 || !f->string[0]) {
            lusty__mongo_invalid(call, "patch cannot set '%s'", f->string);
            return false;
        }
    for (const cJSON *f = inc ? inc->child : NULL; f; f = f->next)
        if (!cJSON_IsNumber(f) || f->string[0] == '$' || !f->string[0]) {
            lusty__mongo_invalid(call, "'inc' of '%s' is not a number", f->string);
            return false;
        }
    bool ok = true;
    bson_t child;
    if (doc && doc->child) {
        bson_append_document_begin(update, "$set", 4, &child);
        ok = lusty__mongo_doc_from_json(&child, doc, false, &call->error);
        bson_append_document_end(update, &child);
    }
    if (ok && inc && inc->child) {
        bson_append_document_begin(update, "$inc", 4, &child);
        ok = lusty__mongo_doc_from_json(&child, inc, false, &call->error);
        bson_append_document_end(update, &child);
    }
    return ok;
}

lusty__store_status_t lusty__mongo_patch(lusty__mongo_call_t *call)
{
    bson_t filter = BSON_INITIALIZER, update = BSON_INITIALIZER, reply = BSON_INITIALIZER;
    lusty__store_status_t status = LUSTY__STORE_INVALID;
    if (!filter_of(call, &filter) || !patch_update(call, &update))
        goto cleanup;
    status = LUSTY__STORE_OK;
    if (bson_empty(&update)) {
        bson_string_append(call->answer, "0");
        goto cleanup;
    }
    bson_error_t error;
    bson_destroy(&reply); /* update_many initialises it again */
    if (!mongoc_collection_update_many(call->coll, &filter, &update, NULL, &reply, &error)) {
        status = lusty__mongo_fail(call, &error);
        goto cleanup;
    }
    bson_iter_t it;
    int64_t changed = 0;
    if (bson_iter_init_find(&it, &reply, "modifiedCount") && BSON_ITER_HOLDS_NUMBER(&it))
        changed = bson_iter_as_int64(&it);
    bson_string_append_printf(call->answer, "%lld", (long long)changed);
cleanup:
    bson_destroy(&filter);
    bson_destroy(&update);
    bson_destroy(&reply);
    return status;
}

/* A delete remembers the documents it answers and their _ids. */
static void answer_and_collect(lusty__mongo_call_t *call, const bson_t *doc, void *data)
{
    id_list_t *list = data;
    bool first = list->n == 0;
    size_t before = list->n;
    collect_id(call, doc, list);
    if (list->n == before)
        return; /* a document without _id cannot be deleted by it */
    answer_doc(call, doc, &first);
}

/* delete: the matching documents are read, then removed by their _ids, so
 * that the answer holds exactly what was removed. Like SQLite's, it takes
 * only the filter: sort, offset and limit do not narrow a delete. */
lusty__store_status_t lusty__mongo_delete(lusty__mongo_call_t *call)
{
    bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER;
    id_list_t found = {0};
    lusty__store_status_t status = LUSTY__STORE_INVALID;
    if (!filter_of(call, &filter))
        goto cleanup;
    bson_string_append_c(call->answer, '[');
    status = find_each(call, &filter, &opts, answer_and_collect, &found);
    bson_string_append_c(call->answer, ']');
    if (status == LUSTY__STORE_OK)
        status = delete_ids(call, &found, 0);
cleanup:
    free_ids(&found);
    bson_destroy(&filter);
    bson_destroy(&opts);
    return status;
}

lusty__store_status_t lusty__mongo_options(lusty__mongo_call_t *call)
{
    bson_t filter = BSON_INITIALIZER;
    lusty__store_status_t status = LUSTY__STORE_INVALID;
    if (!filter_of(call, &filter))
        goto cleanup;
    bson_error_t error;
    int64_t n = mongoc_collection_count_documents(call->coll, &filter, NULL, NULL, NULL, &error);
    if (n < 0) {
        status = lusty__mongo_fail(call, &error);
        goto cleanup;
    }
    bson_string_append_printf(call->answer, "%lld", (long long)n);
    status = LUSTY__STORE_OK;
cleanup:
    bson_destroy(&filter);
    return status;
}
