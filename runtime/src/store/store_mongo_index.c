/* The indexes a project declares (`store.indexes`: {collection: [field,
 * ...]}), created on MongoDB the first time this process uses each of
 * those collections: createIndexes is idempotent, so a server that starts
 * again, or another process, asking for them again changes nothing. */
#include "store_mongo_internal.h"

#include <string.h>

char *lusty__mongo_indexes_check(const cJSON *indexes)
{
    if (!indexes || cJSON_IsNull(indexes))
        return NULL;
    if (!cJSON_IsObject(indexes))
        return bson_strdup("store.indexes must map collections to lists of fields");
    for (const cJSON *coll = indexes->child; coll; coll = coll->next) {
        if (!cJSON_IsArray(coll))
            return lusty__mongo_printf("store.indexes.%s must be a list of fields", coll->string);
        for (const cJSON *f = coll->child; f; f = f->next)
            if (!cJSON_IsString(f) || !f->valuestring[0] || f->valuestring[0] == '$')
                return lusty__mongo_printf("store.indexes.%s: bad field name", coll->string);
    }
    return NULL;
}

/* Whether the indexes of `name` are already made (or failed for good). */
static bool indexed(lusty__mongo_t *m, const char *name, bool mark)
{
    pthread_mutex_lock(&m->lock);
    bool done = cJSON_HasObjectItem(m->indexed, name);
    if (!done && mark)
        cJSON_AddTrueToObject(m->indexed, name);
    pthread_mutex_unlock(&m->lock);
    return done;
}

void lusty__mongo_indexes_ensure(lusty__mongo_t *m, mongoc_collection_t *coll, const char *name)
{
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(m->indexes, name);
    if (!cJSON_IsArray(fields) || !fields->child || indexed(m, name, false))
        return;
    bson_t cmd = BSON_INITIALIZER, list, index, key;
    BSON_APPEND_UTF8(&cmd, "createIndexes", name);
    BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &list);
    unsigned i = 0;
    for (const cJSON *f = fields->child; f; f = f->next, i++) {
        char buf[16];
        const char *at;
        bson_uint32_to_string(i, &at, buf, sizeof buf);
        bson_append_document_begin(&list, at, -1, &index);
        BSON_APPEND_DOCUMENT_BEGIN(&index, "key", &key);
        BSON_APPEND_INT32(&key, f->valuestring, 1);
        bson_append_document_end(&index, &key);
        char *index_name = lusty__mongo_printf("%s_1", f->valuestring);
        BSON_APPEND_UTF8(&index, "name", index_name);
        bson_free(index_name);
        bson_append_document_end(&list, &index);
    }
    bson_append_array_end(&cmd, &list);
    bson_error_t error;
    /* Tried again on the next call only when the server was away; an index
     * MongoDB refuses (a conflicting one already there) is not retried on
     * every call. The operation itself goes on either way. */
    if (mongoc_collection_write_command_with_opts(coll, &cmd, NULL, NULL, &error) ||
        lusty__mongo_error_status(&error) != LUSTY__STORE_UNAVAILABLE)
        indexed(m, name, true);
    bson_destroy(&cmd);
}
