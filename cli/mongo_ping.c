/* lusty-mongo-ping URI TIMEOUT_MS: the MongoDB check of bootstrap and doctor,
 * as a program of its own so that only it loads mongo-c-driver (see
 * libexec.h). It pings the server, reads its version with buildInfo, and
 * prints one JSON object on stdout:
 *   {"status": "ok", "version": "7.0.2", "rtt_ms": 0.4}
 *   {"status": "unreachable", "error": "…"}
 *   {"status": "bad_uri", "error": "…"}
 * Exits 0 when it could say one of those, 2 on bad arguments. */
#include <cjson/cJSON.h>
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The driver logs to stderr on its own; its reasons reach the user through
 * lusty's messages instead. */
static void quiet_log(mongoc_log_level_t level, const char *domain, const char *message, void *data)
{
    (void)level, (void)domain, (void)message, (void)data;
}

/* Fills `result` with the outcome of pinging `uri_text`. */
static void ping(const char *uri_text, int timeout_ms, cJSON *result)
{
    mongoc_uri_t *uri = NULL;
    mongoc_client_t *client = NULL;
    bson_t *ping_cmd = NULL, *build_cmd = NULL;
    bson_t reply = BSON_INITIALIZER; /* every command_simple overwrites it: destroy first */
    bson_error_t error;
    uri = mongoc_uri_new_with_error(uri_text, &error);
    if (!uri) {
        cJSON_AddStringToObject(result, "status", "bad_uri");
        cJSON_AddStringToObject(result, "error", error.message);
        goto cleanup;
    }
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, timeout_ms);
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, timeout_ms);
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, timeout_ms);
    client = mongoc_client_new_from_uri_with_error(uri, &error);
    if (!client) {
        cJSON_AddStringToObject(result, "status", "bad_uri");
        cJSON_AddStringToObject(result, "error", error.message);
        goto cleanup;
    }
    mongoc_client_set_appname(client, "lusty");
    ping_cmd = BCON_NEW("ping", BCON_INT32(1));
    build_cmd = BCON_NEW("buildInfo", BCON_INT32(1));
    /* The first ping selects the server and connects; the last one measures
     * the round trip alone. */
    bool ok = mongoc_client_command_simple(client, "admin", ping_cmd, NULL, &reply, &error);
    if (ok) {
        bson_destroy(&reply);
        ok = mongoc_client_command_simple(client, "admin", build_cmd, NULL, &reply, &error);
    }
    if (ok) {
        bson_iter_t it;
        if (bson_iter_init_find(&it, &reply, "version") && BSON_ITER_HOLDS_UTF8(&it))
            cJSON_AddStringToObject(result, "version", bson_iter_utf8(&it, NULL));
        bson_destroy(&reply);
        double t0 = now_ms();
        ok = mongoc_client_command_simple(client, "admin", ping_cmd, NULL, &reply, &error);
        cJSON_AddNumberToObject(result, "rtt_ms", now_ms() - t0);
    }
    if (ok) {
        cJSON_AddStringToObject(result, "status", "ok");
    } else {
        cJSON_AddStringToObject(result, "status", "unreachable");
        cJSON_AddStringToObject(result, "error", error.message);
    }
cleanup:
    bson_destroy(&reply);
    bson_destroy(ping_cmd);
    bson_destroy(build_cmd);
    mongoc_client_destroy(client);
    mongoc_uri_destroy(uri);
}

int main(int argc, char **argv)
{
    char *end = NULL;
    long timeout_ms = argc == 3 ? strtol(argv[2], &end, 10) : 0;
    if (argc != 3 || *end || timeout_ms <= 0 || timeout_ms > 600000) {
        fprintf(stderr, "usage: lusty-mongo-ping URI TIMEOUT_MS (run by lusty doctor and bootstrap)\n");
        return 2;
    }
    mongoc_init();
    mongoc_log_set_handler(quiet_log, NULL);
    cJSON *result = cJSON_CreateObject();
    ping(argv[1], (int)timeout_ms, result);
    char *text = cJSON_PrintUnformatted(result);
    puts(text);
    cJSON_free(text);
    cJSON_Delete(result);
    mongoc_cleanup();
    return 0;
}
