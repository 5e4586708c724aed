/* The MongoDB backend's cross-file internals. These files build the plugin
 * lusty-store-mongodb.so (see store_mongo_load.c for why it is a plugin),
 * the only code of lusty that includes mongo-c-driver. */
#ifndef LUSTY_STORE_MONGO_INTERNAL_H
#define LUSTY_STORE_MONGO_INTERNAL_H

#include "store_internal.h"
#include "store_mongo_plugin.h"

#include <cjson/cJSON.h>
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdbool.h>

/* store_bson.c: JSON values (cJSON) to BSON and BSON to JSON text.
 *
 * Integral numbers become int32 (or int64 when they do not fit), others
 * doubles; int32 and int64 come back as integers. At the top level of a
 * document (`top` true) an `_id` of 24 lower-case hex digits becomes an
 * ObjectId. On failure the functions return false with *error a malloc'd
 * message (free()). */
bool lusty__mongo_append_value(bson_t *out, const char *key, const cJSON *value, bool as_id,
                               char **error);
bool lusty__mongo_doc_from_json(bson_t *out, const cJSON *object, bool top, char **error);
/* The operation's JSON text made safe for cJSON when a string in it holds
 * `\u0000` (malloc'd, its length in *out_len); NULL when there is none. */
char *lusty__mongo_protect_nul(const char *json, size_t len, size_t *out_len);
/* Whether `text` is an ObjectId as the store writes it: 24 lower-case hex. */
bool lusty__mongo_is_oid_text(const char *text);
/* Appends `doc` (a document or an array when `array`) as JSON text. */
void lusty__mongo_json_from_doc(bson_string_t *out, const bson_t *doc, bool array);

/* store_mongo_filter.c: the operation's filter (and other clauses) checked
 * against the filter language the store accepts, and converted to BSON.
 * Anything else, above all an unknown `$` operator, is refused with *error
 * naming it, so that it never reaches the server. */
bool lusty__mongo_filter(bson_t *out, const cJSON *filter, char **error);
bool lusty__mongo_sort(bson_t *out, const cJSON *sort, char **error);
bool lusty__mongo_projection(bson_t *out, const cJSON *fields, char **error);

/* store_mongo_uri.c: the URI without its password, for every message, and
 * how a driver error maps to a store status. */
char *lusty__mongo_redacted_uri(const char *uri_text, const mongoc_uri_t *uri);
/* A malloc'd copy of `message` with every occurrence of `secret` (when not
 * empty) replaced by "***". */
char *lusty__mongo_scrub(const char *message, const char *secret);
lusty__store_status_t lusty__mongo_error_status(const bson_error_t *error);

/* store_mongo_outage.c: failing fast while the server is unreachable. */
typedef struct {
    pthread_mutex_t lock;
    char *reason;     /* the last "unreachable" message; NULL: no outage */
    double failed_at; /* when it was noted (monotonic ms) */
    bool probing;     /* a call is finding out whether the server is back */
} lusty__mongo_outage_t;

/* Before a call: true (and *reason, bson_free()) when it should answer
 * UNAVAILABLE without trying; *probe tells the call it is the one trying
 * during an outage. */
bool lusty__mongo_outage_check(lusty__mongo_outage_t *o, char **reason, bool *probe);
/* After a call that tried: its status and message (the answer). */
void lusty__mongo_outage_note(lusty__mongo_outage_t *o, lusty__store_status_t status,
                              const char *message, bool probe);

/* One backend instance: the client pool and what messages need. */
typedef struct {
    lusty__store_backend_t base;
    mongoc_uri_t *uri;
    mongoc_client_pool_t *pool;
    char *database;
    char *redacted_uri;   /* for messages */
    char *password;       /* to scrub from driver messages; NULL when none */
    cJSON *indexes;       /* store.indexes: {collection: [field, ...]}, or NULL */
    cJSON *indexed;       /* {collection: true} once its indexes are made */
    pthread_mutex_t lock; /* guards indexed */
    lusty__mongo_outage_t outage;
} lusty__mongo_t;

/* store_mongo_index.c: the declared indexes. The check returns a message
 * (bson_free()) when `indexes` is not {collection: [field, ...]}. */
char *lusty__mongo_indexes_check(const cJSON *indexes);
/* Creates the declared indexes of collection `name` unless done before. */
void lusty__mongo_indexes_ensure(lusty__mongo_t *m, mongoc_collection_t *coll, const char *name);

/* What one operation needs while it runs on a thread-pool thread. */
typedef struct {
    lusty__mongo_t *backend;
    mongoc_client_t *client;
    mongoc_collection_t *coll;
    const cJSON *op;
    bson_string_t *answer; /* the JSON answer, built by the method */
    char *error;           /* malloc'd message when the method fails */
} lusty__mongo_call_t;

/* store_mongo_ops.c: the six methods. Each returns the status and fills
 * call->answer, or call->error. */
lusty__store_status_t lusty__mongo_get(lusty__mongo_call_t *call);
lusty__store_status_t lusty__mongo_post(lusty__mongo_call_t *call);
lusty__store_status_t lusty__mongo_put(lusty__mongo_call_t *call);
lusty__store_status_t lusty__mongo_patch(lusty__mongo_call_t *call);
lusty__store_status_t lusty__mongo_delete(lusty__mongo_call_t *call);
lusty__store_status_t lusty__mongo_options(lusty__mongo_call_t *call);
/* Sets call->error from a driver error and returns its status. */
lusty__store_status_t lusty__mongo_fail(lusty__mongo_call_t *call, const bson_error_t *error);
/* Sets call->error to a printf-formatted message and returns INVALID. */
lusty__store_status_t lusty__mongo_invalid(lusty__mongo_call_t *call, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A malloc'd printf (the plugin does not link the runtime's allocators). */
char *lusty__mongo_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
