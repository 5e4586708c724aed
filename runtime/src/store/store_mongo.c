/* The MongoDB backend of the store: one client pool per server process,
 * shared by every worker; each operation borrows a client from the pool on
 * the thread-pool thread that runs it and gives it back.
 *
 * The server may be down when lusty starts and may go away and come back:
 * opening never connects, and every operation waits at most the server
 * selection timeout (2 s unless the URI says otherwise) before it fails as
 * UNAVAILABLE; the pool's monitor finds the server again on its own. */
#include "store_mongo_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Timeouts (ms) set unless the URI sets them: a request should hear that
 * MongoDB is down within seconds, not after the driver's 30 s. */
#define SERVER_SELECTION_TIMEOUT_MS 2000
#define CONNECT_TIMEOUT_MS 2000
#define SOCKET_TIMEOUT_MS 10000

#define DEFAULT_URI "mongodb://127.0.0.1:27017"
#define DEFAULT_DATABASE "lusty"

/* The driver logs to stderr on its own; what matters reaches the app as the
 * error of the store call instead. */
static void quiet_log(mongoc_log_level_t level, const char *domain, const char *message, void *data)
{
    (void)level, (void)domain, (void)message, (void)data;
}

static void init_driver(void)
{
    mongoc_init();
    mongoc_log_set_handler(quiet_log, NULL);
#ifdef MONGOC_NO_AUTOMATIC_GLOBALS
    /* A driver built without its own constructor and destructor. */
    atexit(mongoc_cleanup);
#endif
}

typedef lusty__store_status_t (*method_fn)(lusty__mongo_call_t *);

static const struct {
    const char *name;
    method_fn run;
} methods[] = {
    {"get", lusty__mongo_get},       {"post", lusty__mongo_post},
    {"put", lusty__mongo_put},       {"patch", lusty__mongo_patch},
    {"delete", lusty__mongo_delete}, {"options", lusty__mongo_options},
};

static method_fn method_named(const char *name)
{
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (strcmp(methods[i].name, name) == 0)
            return methods[i].run;
    return NULL;
}

/* A collection name as the store allows them ([A-Za-z0-9_.-], 1 to 120),
 * minus MongoDB's own "system." collections. */
static bool collection_ok(const char *name)
{
    size_t n = strlen(name);
    return n >= 1 && n <= 120 &&
           strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n &&
           strncmp(name, "system.", 7) != 0;
}

static lusty__store_status_t run(lusty__store_backend_t *self, const char *op_json, size_t op_len,
                                 char **answer)
{
    lusty__mongo_call_t call = {.backend = (lusty__mongo_t *)self};
    lusty__store_status_t status = LUSTY__STORE_INVALID;
    bool probe = false;
    size_t safe_len = 0;
    char *safe = lusty__mongo_protect_nul(op_json, op_len, &safe_len);
    cJSON *op =
        safe ? cJSON_ParseWithLength(safe, safe_len) : cJSON_ParseWithLength(op_json, op_len);
    bson_free(safe);
    const cJSON *coll = cJSON_GetObjectItemCaseSensitive(op, "collection");
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(op, "method");
    method_fn fn = cJSON_IsString(method) ? method_named(method->valuestring) : NULL;
    call.op = op;
    call.answer = bson_string_new(NULL);
    if (!cJSON_IsObject(op)) {
        lusty__mongo_invalid(&call, "the operation is not a JSON object");
    } else if (!cJSON_IsString(coll) || !collection_ok(coll->valuestring)) {
        lusty__mongo_invalid(&call, "bad collection name '%.60s' (letters, digits, _ . -)",
                             cJSON_IsString(coll) ? coll->valuestring : "");
    } else if (!fn) {
        lusty__mongo_invalid(&call,
                             "unknown method '%.60s' (known: get, post, put, patch, delete, "
                             "options)",
                             cJSON_IsString(method) ? method->valuestring : "");
    } else if (lusty__mongo_outage_check(&call.backend->outage, &call.error, &probe)) {
        status = LUSTY__STORE_UNAVAILABLE;
    } else {
        call.client = mongoc_client_pool_pop(call.backend->pool);
        call.coll =
            mongoc_client_get_collection(call.client, call.backend->database, coll->valuestring);
        lusty__mongo_indexes_ensure(call.backend, call.coll, coll->valuestring);
        status = fn(&call);
        mongoc_collection_destroy(call.coll);
        mongoc_client_pool_push(call.backend->pool, call.client);
        lusty__mongo_outage_note(&call.backend->outage, status, call.error, probe);
    }
    cJSON_Delete(op);
    if (status == LUSTY__STORE_OK) {
        /* bson_malloc is malloc (lusty sets no other allocator in libbson). */
        *answer = bson_string_free(call.answer, false);
    } else {
        bson_string_free(call.answer, true);
        *answer = call.error ? call.error : bson_strdup("the operation failed");
    }
    return status;
}

static void backend_free(lusty__store_backend_t *self)
{
    lusty__mongo_t *m = (lusty__mongo_t *)self;
    if (!m)
        return;
    mongoc_client_pool_destroy(m->pool);
    cJSON_Delete(m->indexes);
    cJSON_Delete(m->indexed);
    pthread_mutex_destroy(&m->lock);
    pthread_mutex_destroy(&m->outage.lock);
    bson_free(m->outage.reason);
    mongoc_uri_destroy(m->uri);
    bson_free(m->database);
    bson_free(m->redacted_uri);
    bson_free(m->password);
    bson_free(m);
}

static void default_timeout(mongoc_uri_t *uri, const char *option, int32_t ms)
{
    if (mongoc_uri_get_option_as_int32(uri, option, -1) == -1)
        mongoc_uri_set_option_as_int32(uri, option, ms);
}

/* A database name MongoDB accepts. */
static bool database_ok(const char *name)
{
    size_t n = strlen(name);
    return n >= 1 && n < 64 && strcspn(name, "/\\. \"$*<>:|?") == n;
}

lusty__store_backend_t *lusty__store_mongo_plugin_open(const char *config_json, char **error)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_driver);
    *error = NULL;
    lusty__mongo_t *m = bson_malloc0(sizeof *m);
    m->base.name = "mongodb";
    m->base.run = run;
    m->base.free = backend_free;
    pthread_mutex_init(&m->lock, NULL);
    pthread_mutex_init(&m->outage.lock, NULL);
    m->indexed = cJSON_CreateObject();
    cJSON *config = cJSON_Parse(config_json ? config_json : "{}");
    const cJSON *uri_item = cJSON_GetObjectItemCaseSensitive(config, "uri");
    const cJSON *db_item = cJSON_GetObjectItemCaseSensitive(config, "database");
    const char *uri_text =
        cJSON_IsString(uri_item) && *uri_item->valuestring ? uri_item->valuestring : DEFAULT_URI;
    bson_error_t err;
    if (!cJSON_IsObject(config)) {
        *error = bson_strdup("the MongoDB settings are not a JSON object");
        goto fail;
    }
    if ((uri_item && !cJSON_IsNull(uri_item) && !cJSON_IsString(uri_item)) ||
        (db_item && !cJSON_IsNull(db_item) && !cJSON_IsString(db_item))) {
        *error = bson_strdup("the MongoDB uri and database must be strings");
        goto fail;
    }
    m->uri = mongoc_uri_new_with_error(uri_text, &err);
    if (!m->uri) {
        char *shown = lusty__mongo_redacted_uri(uri_text, NULL);
        *error = lusty__mongo_printf("bad MongoDB URI '%s': %s", shown, err.message);
        bson_free(shown);
        goto fail;
    }
    m->redacted_uri = lusty__mongo_redacted_uri(uri_text, m->uri);
    if (mongoc_uri_get_password(m->uri))
        m->password = bson_strdup(mongoc_uri_get_password(m->uri));
    const char *db = cJSON_IsString(db_item) && *db_item->valuestring ? db_item->valuestring
                     : mongoc_uri_get_database(m->uri) ? mongoc_uri_get_database(m->uri)
                                                       : DEFAULT_DATABASE;
    if (!database_ok(db)) {
        *error = lusty__mongo_printf("bad MongoDB database name '%s'", db);
        goto fail;
    }
    m->database = bson_strdup(db);
    const cJSON *indexes = cJSON_GetObjectItemCaseSensitive(config, "indexes");
    if ((*error = lusty__mongo_indexes_check(indexes)))
        goto fail;
    m->indexes = cJSON_IsObject(indexes) ? cJSON_Duplicate(indexes, true) : NULL;
    default_timeout(m->uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, SERVER_SELECTION_TIMEOUT_MS);
    default_timeout(m->uri, MONGOC_URI_CONNECTTIMEOUTMS, CONNECT_TIMEOUT_MS);
    default_timeout(m->uri, MONGOC_URI_SOCKETTIMEOUTMS, SOCKET_TIMEOUT_MS);
    m->pool = mongoc_client_pool_new_with_error(m->uri, &err);
    if (!m->pool) {
        char *why = lusty__mongo_scrub(err.message, m->password);
        *error = lusty__mongo_printf("cannot use MongoDB at %s: %s", m->redacted_uri, why);
        bson_free(why);
        goto fail;
    }
    mongoc_client_pool_set_error_api(m->pool, MONGOC_ERROR_API_VERSION_2);
    mongoc_client_pool_set_appname(m->pool, "lusty");
    cJSON_Delete(config);
    return &m->base;
fail:
    cJSON_Delete(config);
    backend_free(&m->base);
    return NULL;
}
