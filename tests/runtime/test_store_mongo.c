/* Tests of the store's MongoDB backend through its one entry point, run():
 * canonical operations (JSON) against the wire-protocol test server
 * (tests/fixtures/mongo_wire_server.py), loaded as lusty servers load it
 * (the plugin, through lusty__store_mongo_open()). Every method, the value
 * conversions, the filter language and what is refused, an unreachable
 * server (its password never shown) and a server that comes back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "../../runtime/src/store/store_internal.h"
#include "lusty/alloc.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- the test server ---- */

typedef struct {
    pid_t pid;
    int port;
} server_t;

/* Starts the wire server (on `port`, or one it picks when 0) with `extra`
 * arguments and waits at most 10 s for it to listen. */
static server_t server_start(int port, const char *extra)
{
    char port_file[] = "/tmp/lusty-test-mongo-XXXXXX";
    int fd = mkstemp(port_file);
    assert_true(fd >= 0);
    close(fd);
    unlink(port_file);
    char port_arg[16];
    snprintf(port_arg, sizeof port_arg, "%d", port);
    char *argv[] = {"/usr/bin/python3", LUSTY_FIXTURES "/mongo_wire_server.py",
                    "--port-file",      port_file,
                    "--port",           port_arg,
                    (char *)extra,      NULL};
    server_t s = {0};
    assert_int_equal(posix_spawn(&s.pid, argv[0], NULL, NULL, argv, environ), 0);
    double deadline = now_ms() + 10000;
    FILE *f = NULL;
    while (!(f = fopen(port_file, "r")) && now_ms() < deadline)
        usleep(10000);
    assert_non_null(f);
    assert_int_equal(fscanf(f, "%d", &s.port), 1);
    fclose(f);
    unlink(port_file);
    return s;
}

static void server_stop(server_t *s)
{
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

static lusty__store_backend_t *open_backend(const char *uri)
{
    char *config = lusty_asprintf("{\"uri\": \"%s\", \"database\": \"lusty_test\"}", uri);
    char *error = NULL;
    lusty__store_backend_t *b = lusty__store_mongo_open(config, &error);
    if (!b)
        fail_msg("open: %s", error);
    lusty_free(config);
    return b;
}

/* The group's server and backend. */
static server_t server;
static lusty__store_backend_t *backend;

/* The collections the tests use, emptied before and after them (for a real
 * mongod, whose data outlives the tests). */
static const char *const collections[] = {
    "values", "ids",     "paged",   "nothing_here", "many", "filters",
    "puts",   "patches", "deletes", "threads",      "r",    NULL,
};

static void empty_collections(void)
{
    for (int i = 0; collections[i]; i++) {
        char *op = lusty_asprintf("{\"collection\":\"%s\",\"method\":\"delete\"}", collections[i]);
        char *answer = NULL;
        if (backend->run(backend, op, strlen(op), &answer) != LUSTY__STORE_OK)
            fail_msg("cannot empty '%s': %s", collections[i], answer);
        free(answer);
        lusty_free(op);
    }
}

/* The tests run against the wire server, or a real mongod at
 * LUSTY_TEST_MONGODB_URI (database lusty_test; its collections above are
 * emptied). */
static int group_setup(void **state)
{
    (void)state;
    setenv("LUSTY_STORE_MONGODB_PLUGIN", LUSTY_STORE_MONGODB_PLUGIN_PATH, 1);
    const char *real = getenv("LUSTY_TEST_MONGODB_URI");
    if (real && *real) {
        backend = open_backend(real);
    } else {
        server = server_start(0, NULL);
        char *uri = lusty_asprintf("mongodb://127.0.0.1:%d", server.port);
        backend = open_backend(uri);
        lusty_free(uri);
    }
    empty_collections();
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    empty_collections();
    backend->free(backend);
    if (server.pid)
        server_stop(&server);
    return 0;
}

/* Runs `op` (JSON) and returns the answer (free()); `want` is the status. */
static char *run_as(lusty__store_backend_t *b, lusty__store_status_t want, const char *op)
{
    char *answer = NULL;
    lusty__store_status_t got = b->run(b, op, strlen(op), &answer);
    assert_non_null(answer);
    if (got != want)
        fail_msg("%s: status %d, want %d: %s", op, got, want, answer);
    return answer;
}

/* Runs `op` on the group's backend and checks the answer is `want`. */
static void expect(const char *op, const char *want)
{
    char *answer = run_as(backend, LUSTY__STORE_OK, op);
    assert_string_equal(answer, want);
    free(answer);
}

/* ---- methods and values ---- */

static void test_values_round_trip(void **state)
{
    (void)state;
    /* Integers stay integers (int32 and int64), other numbers doubles;
     * nested documents, arrays, null, booleans, unicode. */
    const char *doc = "{\"_id\":\"v1\",\"i\":3,\"big\":5000000000,\"neg\":-7,\"f\":1.5,"
                      "\"tenth\":0.1,\"huge\":1e+300,\"s\":\"h\\u00e9llo \\u2603 \\ud83d\\ude00\","
                      "\"n\":null,\"t\":true,\"no\":false,\"arr\":[1,\"x\",{\"y\":2},[]],"
                      "\"o\":{\"p\":{\"q\":[null]}},\"esc\":\"a\\\"b\\\\c\\n\\u0001\"}";
    const char *stored = "{\"_id\":\"v1\",\"i\":3,\"big\":5000000000,\"neg\":-7,\"f\":1.5,"
                         "\"tenth\":0.1,\"huge\":1e+300,\"s\":\"h\xc3\xa9llo \xe2\x98\x83 "
                         "\xf0\x9f\x98\x80\",\"n\":null,\"t\":true,\"no\":false,"
                         "\"arr\":[1,\"x\",{\"y\":2},[]],\"o\":{\"p\":{\"q\":[null]}},"
                         "\"esc\":\"a\\\"b\\\\c\\n\\u0001\"}";
    char *op = lusty_asprintf("{\"collection\":\"values\",\"method\":\"post\",\"doc\":%s}", doc);
    expect(op, stored);
    lusty_free(op);
    char *want = lusty_asprintf("[%s]", stored);
    expect("{\"collection\":\"values\",\"method\":\"get\",\"filter\":{\"_id\":\"v1\"}}", want);
    lusty_free(want);
    /* A document given as a value is a value, whatever names it holds. */
    expect("{\"collection\":\"values\",\"method\":\"post\",\"doc\":{\"_id\":\"v2\","
           "\"q\":{\"$ne\":\"x\"},\"nul\":\"a\\u0000b\\\\u0000\"}}",
           "{\"_id\":\"v2\",\"q\":{\"$ne\":\"x\"},\"nul\":\"a\\u0000b\\\\u0000\"}");
    expect("{\"collection\":\"values\",\"method\":\"get\",\"filter\":{\"q\":{\"$eq\":"
           "{\"$ne\":\"x\"}}},\"fields\":[\"q\"]}",
           "[{\"_id\":\"v2\",\"q\":{\"$ne\":\"x\"}}]");
    expect("{\"collection\":\"values\",\"method\":\"options\",\"filter\":{\"q\":{\"$in\":"
           "[{\"$ne\":\"y\"}]}}}",
           "0");
    expect("{\"collection\":\"values\",\"method\":\"options\",\"filter\":{\"nul\":"
           "\"a\\u0000b\\\\u0000\"}}",
           "1");
    expect("{\"collection\":\"values\",\"method\":\"options\",\"filter\":{\"nul\":\"a\"}}", "0");
    /* Integers compare as numbers with doubles, and an int64 is found. */
    expect("{\"collection\":\"values\",\"method\":\"options\",\"filter\":{\"i\":3.0,"
           "\"big\":{\"$gt\":4999999999.5}}}",
           "1");
}

/* The _id of an answer (a document). */
static char *id_of(const char *answer)
{
    cJSON *doc = cJSON_Parse(answer);
    assert_non_null(doc);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(doc, "_id");
    assert_true(cJSON_IsString(id));
    char *out = lusty_strdup(id->valuestring);
    cJSON_Delete(doc);
    return out;
}

static void test_object_ids(void **state)
{
    (void)state;
    char *answer = run_as(backend, LUSTY__STORE_OK,
                          "{\"collection\":\"ids\",\"method\":\"post\",\"doc\":{\"a\":1}}");
    char *id = id_of(answer);
    free(answer);
    /* 24 lower-case hex digits; the first 4 bytes are the time. */
    assert_int_equal(strlen(id), 24);
    assert_int_equal(strspn(id, "0123456789abcdef"), 24);
    unsigned long secs =
        strtoul((char[9]){id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7]}, NULL, 16);
    assert_true(labs((long)secs - (long)time(NULL)) < 60);
    char *op =
        lusty_asprintf("{\"collection\":\"ids\",\"method\":\"get\",\"filter\":{\"_id\":\"%s\"},"
                       "\"fields\":[\"a\"]}",
                       id);
    char *want = lusty_asprintf("[{\"_id\":\"%s\",\"a\":1}]", id);
    expect(op, want);
    lusty_free(op);
    op = lusty_asprintf("{\"collection\":\"ids\",\"method\":\"options\",\"filter\":{\"_id\":"
                        "{\"$in\":[\"%s\",\"nope\"]}}}",
                        id);
    expect(op, "1");
    lusty_free(op);
    lusty_free(want);
    /* Stored as an ObjectId: a $regex (which only matches strings) misses
     * it, while a string _id that is not 24 hex stays a string. */
    expect("{\"collection\":\"ids\",\"method\":\"post\",\"doc\":{\"_id\":\"plain\"}}",
           "{\"_id\":\"plain\"}");
    expect("{\"collection\":\"ids\",\"method\":\"get\",\"filter\":{\"_id\":{\"$regex\":\"^[0-9a-z]"
           "\"}}}",
           "[{\"_id\":\"plain\"}]");
    lusty_free(id);
}

static void post_numbers(const char *coll, int count)
{
    for (int i = 0; i < count; i++) {
        char *op = lusty_asprintf("{\"collection\":\"%s\",\"method\":\"post\",\"doc\":{\"_id\":"
                                  "\"d%03d\",\"n\":%d,\"odd\":%s,\"tag\":\"t%d\"}}",
                                  coll, i, i, i % 2 ? "true" : "false", i % 3);
        free(run_as(backend, LUSTY__STORE_OK, op));
        lusty_free(op);
    }
}

static void test_get_sort_offset_limit_fields(void **state)
{
    (void)state;
    post_numbers("paged", 6);
    expect("{\"collection\":\"paged\",\"method\":\"get\",\"filter\":{},\"sort\":[[\"n\",-1]],"
           "\"offset\":1,\"limit\":2,\"fields\":[\"n\"]}",
           "[{\"_id\":\"d004\",\"n\":4},{\"_id\":\"d003\",\"n\":3}]");
    expect("{\"collection\":\"paged\",\"method\":\"get\",\"filter\":{\"odd\":true},"
           "\"sort\":[[\"tag\",1],[\"n\",-1]],\"fields\":[\"tag\"]}",
           "[{\"_id\":\"d003\",\"tag\":\"t0\"},{\"_id\":\"d001\",\"tag\":\"t1\"},"
           "{\"_id\":\"d005\",\"tag\":\"t2\"}]");
    expect("{\"collection\":\"paged\",\"method\":\"get\",\"filter\":{\"n\":99}}", "[]");
    expect("{\"collection\":\"nothing_here\",\"method\":\"get\"}", "[]");
}

static void test_get_many_uses_get_more(void **state)
{
    (void)state;
    /* More than the first batch (101 documents): the rest come by getMore. */
    post_numbers("many", 250);
    char *answer = run_as(backend, LUSTY__STORE_OK,
                          "{\"collection\":\"many\",\"method\":\"get\",\"sort\":[[\"n\",1]]}");
    cJSON *docs = cJSON_Parse(answer);
    assert_int_equal(cJSON_GetArraySize(docs), 250);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(docs, 249), "n")->valueint, 249);
    cJSON_Delete(docs);
    free(answer);
}

static void test_filters(void **state)
{
    (void)state;
    const char *docs[] = {
        "{\"_id\":\"f1\",\"n\":1,\"s\":\"apple\",\"tags\":[\"a\",\"b\"],\"o\":{\"x\":1},\"z\":"
        "null}",
        "{\"_id\":\"f2\",\"n\":2.5,\"s\":\"Banana\",\"tags\":[\"b\",\"c\"],\"o\":{\"x\":2}}",
        "{\"_id\":\"f3\",\"n\":\"3\",\"s\":\"cherry\",\"tags\":[],\"o\":{\"x\":[3,4]}}",
        "{\"_id\":\"f4\",\"s\":\"date\",\"list\":[{\"k\":1},{\"k\":2}]}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        char *op =
            lusty_asprintf("{\"collection\":\"filters\",\"method\":\"post\",\"doc\":%s}", docs[i]);
        free(run_as(backend, LUSTY__STORE_OK, op));
        lusty_free(op);
    }
    static const struct {
        const char *filter, *ids;
    } rows[] = {
        {"{}", "f1 f2 f3 f4"},
        {"{\"n\":1}", "f1"},
        {"{\"n\":{\"$gt\":1}}", "f2"}, /* "3" is a string: never above a number */
        {"{\"n\":{\"$gte\":\"0\"}}", "f3"},
        {"{\"n\":{\"$lt\":3,\"$ne\":1}}", "f2"},
        {"{\"n\":{\"$lte\":2.5}}", "f1 f2"},
        {"{\"n\":{\"$in\":[1,\"3\"]}}", "f1 f3"},
        {"{\"n\":{\"$nin\":[1,\"3\"]}}", "f2 f4"},
        {"{\"tags\":\"b\"}", "f1 f2"},
        {"{\"tags\":{\"$ne\":\"b\"}}", "f3 f4"},
        {"{\"tags\":{\"$all\":[\"b\",\"c\"]}}", "f2"},
        {"{\"tags\":[]}", "f3"},
        {"{\"o.x\":2}", "f2"},
        {"{\"o.x\":4}", "f3"},
        {"{\"o\":{\"x\":1}}", "f1"},
        {"{\"list.k\":2}", "f4"},
        {"{\"z\":null}", "f1 f2 f3 f4"},
        {"{\"z\":{\"$exists\":true}}", "f1"},
        {"{\"n\":{\"$exists\":false}}", "f4"},
        {"{\"s\":{\"$regex\":\"^b\"}}", ""},
        {"{\"s\":{\"$regex\":\"^b\",\"$options\":\"i\"}}", "f2"},
        {"{\"s\":{\"$not\":{\"$regex\":\"e\"}}}", "f2"},
        {"{\"$or\":[{\"n\":1},{\"s\":\"date\"}]}", "f1 f4"},
        {"{\"$and\":[{\"tags\":\"b\"},{\"$or\":[{\"n\":2.5},{\"n\":\"3\"}]}]}", "f2"},
        {"{\"_id\":{\"$in\":[\"f2\",\"f3\"]},\"n\":{\"$ne\":null}}", "f2 f3"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char *op = lusty_asprintf("{\"collection\":\"filters\",\"method\":\"get\",\"filter\":%s,"
                                  "\"fields\":[\"_id\"],\"sort\":[[\"_id\",1]]}",
                                  rows[i].filter);
        char *answer = run_as(backend, LUSTY__STORE_OK, op);
        cJSON *list = cJSON_Parse(answer);
        char ids[64] = "";
        const cJSON *doc;
        cJSON_ArrayForEach(doc, list)
        {
            if (ids[0])
                strcat(ids, " ");
            strcat(ids, cJSON_GetObjectItem(doc, "_id")->valuestring);
        }
        if (strcmp(ids, rows[i].ids) != 0)
            fail_msg("filter %s: got '%s', want '%s'", rows[i].filter, ids, rows[i].ids);
        cJSON_Delete(list);
        free(answer);
        lusty_free(op);
    }
}

static void test_put_replaces_or_inserts(void **state)
{
    (void)state;
    expect("{\"collection\":\"puts\",\"method\":\"post\",\"doc\":{\"_id\":\"p1\",\"a\":1,\"b\":2}}",
           "{\"_id\":\"p1\",\"a\":1,\"b\":2}");
    /* Replaced whole, keeping the match's _id over the document's. */
    expect("{\"collection\":\"puts\",\"method\":\"put\",\"filter\":{\"a\":1},"
           "\"doc\":{\"_id\":\"other\",\"c\":3}}",
           "{\"_id\":\"p1\",\"c\":3}");
    expect("{\"collection\":\"puts\",\"method\":\"get\",\"filter\":{\"_id\":\"p1\"}}",
           "[{\"_id\":\"p1\",\"c\":3}]");
    /* No match: inserted under the filter's _id. */
    expect("{\"collection\":\"puts\",\"method\":\"put\",\"filter\":{\"_id\":\"p2\"},"
           "\"doc\":{\"d\":4}}",
           "{\"_id\":\"p2\",\"d\":4}");
    /* No match and no _id anywhere: a new ObjectId. */
    char *answer = run_as(backend, LUSTY__STORE_OK,
                          "{\"collection\":\"puts\",\"method\":\"put\",\"filter\":{\"e\":5},"
                          "\"doc\":{\"e\":5}}");
    char *id = id_of(answer);
    assert_int_equal(strspn(id, "0123456789abcdef"), 24);
    lusty_free(id);
    free(answer);
    expect("{\"collection\":\"puts\",\"method\":\"options\"}", "3");
    /* Two matches: the first takes the document, the other goes (one
     * document is left, as on SQLite). */
    expect("{\"collection\":\"puts\",\"method\":\"put\",\"filter\":{\"_id\":{\"$in\":"
           "[\"p1\",\"p2\"]}},\"doc\":{\"f\":6}}",
           "{\"_id\":\"p1\",\"f\":6}");
    expect("{\"collection\":\"puts\",\"method\":\"get\",\"filter\":{\"_id\":{\"$in\":"
           "[\"p1\",\"p2\"]}}}",
           "[{\"_id\":\"p1\",\"f\":6}]");
}

static void test_patch_sets_and_increments(void **state)
{
    (void)state;
    post_numbers("patches", 4);
    /* Dotted paths make nested documents; the answer counts changes. */
    expect("{\"collection\":\"patches\",\"method\":\"patch\",\"filter\":{\"odd\":true},"
           "\"doc\":{\"deep.er\":\"x\",\"tag\":\"set\"},\"inc\":{\"n\":10}}",
           "2");
    expect("{\"collection\":\"patches\",\"method\":\"get\",\"filter\":{\"_id\":\"d001\"}}",
           "[{\"_id\":\"d001\",\"n\":11,\"odd\":true,\"tag\":\"set\",\"deep\":{\"er\":\"x\"}}]");
    /* An increment by a fraction makes a double. */
    expect("{\"collection\":\"patches\",\"method\":\"patch\",\"filter\":{\"_id\":\"d000\"},"
           "\"inc\":{\"n\":0.5}}",
           "1");
    expect("{\"collection\":\"patches\",\"method\":\"get\",\"filter\":{\"_id\":\"d000\"},"
           "\"fields\":[\"n\"]}",
           "[{\"_id\":\"d000\",\"n\":0.5}]");
    expect("{\"collection\":\"patches\",\"method\":\"patch\",\"filter\":{\"n\":1000},"
           "\"doc\":{\"a\":1}}",
           "0");
    /* What the server refuses is the caller's mistake, as on SQLite. */
    free(run_as(backend, LUSTY__STORE_INVALID,
                "{\"collection\":\"patches\",\"method\":\"patch\",\"filter\":{\"_id\":"
                "\"d002\"},\"doc\":{\"n.deeper\":1}}"));
    free(run_as(backend, LUSTY__STORE_INVALID,
                "{\"collection\":\"patches\",\"method\":\"patch\",\"filter\":{\"_id\":"
                "\"d002\"},\"inc\":{\"tag\":1}}"));
    free(run_as(backend, LUSTY__STORE_INVALID,
                "{\"collection\":\"patches\",\"method\":\"post\",\"doc\":{\"_id\":\"d002\"}}"));
}

static void test_delete_answers_what_it_removed(void **state)
{
    (void)state;
    post_numbers("deletes", 4);
    expect("{\"collection\":\"deletes\",\"method\":\"delete\",\"filter\":{\"odd\":false}}",
           "[{\"_id\":\"d000\",\"n\":0,\"odd\":false,\"tag\":\"t0\"},"
           "{\"_id\":\"d002\",\"n\":2,\"odd\":false,\"tag\":\"t2\"}]");
    expect("{\"collection\":\"deletes\",\"method\":\"options\",\"filter\":{}}", "2");
    /* As on SQLite, a limit does not narrow a delete. */
    expect("{\"collection\":\"deletes\",\"method\":\"delete\",\"filter\":{\"n\":{\"$gt\":0}},"
           "\"limit\":1,\"fields\":[\"n\"]}",
           "[{\"_id\":\"d001\",\"n\":1,\"odd\":true,\"tag\":\"t1\"},"
           "{\"_id\":\"d003\",\"n\":3,\"odd\":true,\"tag\":\"t0\"}]");
    expect("{\"collection\":\"deletes\",\"method\":\"options\",\"filter\":{}}", "0");
    expect("{\"collection\":\"deletes\",\"method\":\"delete\",\"filter\":{\"n\":7}}", "[]");
}

/* ---- refused ---- */

static void test_refused_operations(void **state)
{
    (void)state;
    static const struct {
        const char *op, *says;
    } rows[] = {
        {"{\"collection\":\"r\",\"method\":\"get\",\"filter\":{\"$where\":\"1\"}}", "'$where'"},
        {"{\"collection\":\"r\",\"method\":\"get\",\"filter\":{\"a\":{\"$where\":\"1\"}}}",
         "'$where'"},
        {"{\"collection\":\"r\",\"method\":\"get\",\"filter\":{\"$expr\":{}}}", "'$expr'"},
        {"{\"collection\":\"r\",\"method\":\"get\",\"filter\":{\"$nor\":[{}]}}", "'$nor'"},
        {"{\"collection\":\"r\",\"method\":\"get\",\"filter\":{\"a\":{\"$gt\":1,\"b\":2}}}", "'b'"},
        /* MongoDB reads the documents of $all as operators ($elemMatch). */
        {"{\"collection\":\"r\",\"method\":\"get\",\"filter\":{\"a\":{\"$all\":"
         "[{\"$elemMatch\":{}}]}}}",
         "'$elemMatch'"},
        {"{\"collection\":\"r\",\"method\":\"get\",\"filter\":{\"a\":{\"$regex\":\"(\"}}}",
         "bad $regex"},
        {"{\"collection\":\"r\",\"method\":\"get\",\"filter\":{\"a.$x\":1}}", "'$x'"},
        {"{\"collection\":\"r\",\"method\":\"get\",\"filter\":{\"a\":{\"$in\":1}}}", "'$in'"},
        {"{\"collection\":\"r\",\"method\":\"get\",\"filter\":{\"a\":{\"$regex\":\"x\","
         "\"$options\":\"g\"}}}",
         "'$options'"},
        {"{\"collection\":\"r\",\"method\":\"get\",\"filter\":{\"a\":{\"$not\":1}}}", "'$not'"},
        {"{\"collection\":\"r\",\"method\":\"get\",\"filter\":{\"$or\":[]}}", "'$or'"},
        {"{\"collection\":\"r\",\"method\":\"get\",\"sort\":[[\"a\",2]]}", "'sort'"},
        {"{\"collection\":\"r\",\"method\":\"get\",\"limit\":-1}", "'limit'"},
        {"{\"collection\":\"r\",\"method\":\"get\",\"offset\":1.5}", "'offset'"},
        {"{\"collection\":\"r\",\"method\":\"get\",\"fields\":[1]}", "'fields'"},
        {"{\"collection\":\"r\",\"method\":\"post\",\"doc\":{\"$set\":{\"a\":1}}}", "'$set'"},
        {"{\"collection\":\"r\",\"method\":\"post\",\"doc\":[1]}", "not an object"},
        {"{\"collection\":\"r\",\"method\":\"patch\",\"doc\":{\"$inc\":{}}}", "'$inc'"},
        {"{\"collection\":\"r\",\"method\":\"patch\",\"inc\":{\"a\":\"1\"}}", "'a'"},
        {"{\"collection\":\"r\",\"method\":\"drop\"}", "'drop'"},
        {"{\"collection\":\"system.users\",\"method\":\"get\"}", "collection"},
        {"{\"collection\":\"a b\",\"method\":\"get\"}", "collection"},
        {"[1]", "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char *answer = run_as(backend, LUSTY__STORE_INVALID, rows[i].op);
        if (!strstr(answer, rows[i].says))
            fail_msg("%s: '%s' does not say %s", rows[i].op, answer, rows[i].says);
        free(answer);
    }
}

/* ---- several threads at once ---- */

static void *post_from_thread(void *arg)
{
    for (int i = 0; i < 20; i++) {
        char *answer = NULL;
        const char *op = "{\"collection\":\"threads\",\"method\":\"post\",\"doc\":{\"t\":1}}";
        lusty__store_status_t st = backend->run(backend, op, strlen(op), &answer);
        free(answer);
        if (st != LUSTY__STORE_OK)
            return arg;
    }
    return NULL;
}

static void test_threads_share_the_pool(void **state)
{
    (void)state;
    pthread_t threads[8];
    int ids[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, post_from_thread, &ids[i]), 0);
    for (int i = 0; i < 8; i++) {
        void *failed = NULL;
        pthread_join(threads[i], &failed);
        assert_null(failed);
    }
    expect("{\"collection\":\"threads\",\"method\":\"options\"}", "160");
}

static void *get_from_thread(void *arg)
{
    lusty__store_backend_t *b = arg;
    char *answer = NULL;
    const char *op = "{\"collection\":\"slow\",\"method\":\"get\"}";
    lusty__store_status_t st = b->run(b, op, strlen(op), &answer);
    free(answer);
    return st == LUSTY__STORE_OK ? NULL : arg;
}

static void test_calls_wait_side_by_side(void **state)
{
    (void)state;
    /* Each command takes 200 ms: 8 calls one after the other would take
     * 1.6 s; on 8 threads they take about 0.2 s. */
    server_t s = server_start(0, "--delay-ms=200");
    char *uri = lusty_asprintf("mongodb://127.0.0.1:%d", s.port);
    lusty__store_backend_t *b = open_backend(uri);
    free(run_as(b, LUSTY__STORE_OK, "{\"collection\":\"slow\",\"method\":\"get\"}"));
    pthread_t threads[8];
    double t0 = now_ms();
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, get_from_thread, b), 0);
    for (int i = 0; i < 8; i++) {
        void *failed = NULL;
        pthread_join(threads[i], &failed);
        assert_null(failed);
    }
    double ms = now_ms() - t0;
    if (ms >= 1000)
        fail_msg("8 calls of 200 ms took %.0f ms: they waited one after the other", ms);
    b->free(b);
    server_stop(&s);
    lusty_free(uri);
}

/* ---- the driver's shared memory ---- */

static void test_no_shared_memory_segment(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof path, "/dev/shm/mongoc-%d", (int)getpid());
    assert_int_equal(access(path, F_OK), -1);
}

/* ---- MongoDB away ---- */

/* A port nothing listens on: one the wire server had, after it stopped. */
static void test_unreachable_is_unavailable_without_password(void **state)
{
    (void)state;
    server_t gone = server_start(0, NULL);
    server_stop(&gone);
    char *uri = lusty_asprintf("mongodb://alice:s3cr%%40t@127.0.0.1:%d/shop?"
                               "serverSelectionTimeoutMS=300",
                               gone.port);
    lusty__store_backend_t *b = open_backend(uri);
    double t0 = now_ms();
    char *answer = run_as(b, LUSTY__STORE_UNAVAILABLE, "{\"collection\":\"x\",\"method\":\"get\"}");
    assert_true(now_ms() - t0 < 5000);
    char *where = lusty_asprintf("mongodb://alice:***@127.0.0.1:%d/shop", gone.port);
    if (!strstr(answer, where) || strstr(answer, "s3cr"))
        fail_msg("'%s' should name %s and not the password", answer, where);
    /* Calls right after that answer at once, with the same reason, rather
     * than each holding a thread for the server selection timeout. */
    t0 = now_ms();
    for (int i = 0; i < 5; i++) {
        char *again =
            run_as(b, LUSTY__STORE_UNAVAILABLE, "{\"collection\":\"x\",\"method\":\"get\"}");
        assert_string_equal(again, answer);
        free(again);
    }
    assert_true(now_ms() - t0 < 200);
    free(answer);
    lusty_free(where);
    lusty_free(uri);
    b->free(b);
}

static void test_server_comes_back(void **state)
{
    (void)state;
    server_t s = server_start(0, NULL);
    char *uri = lusty_asprintf("mongodb://127.0.0.1:%d/?serverSelectionTimeoutMS=500", s.port);
    lusty__store_backend_t *b = open_backend(uri);
    const char *post = "{\"collection\":\"back\",\"method\":\"post\",\"doc\":{\"_id\":1}}";
    free(run_as(b, LUSTY__STORE_OK, post));
    int port = s.port;
    server_stop(&s);
    char *answer = run_as(b, LUSTY__STORE_UNAVAILABLE, post);
    free(answer);
    s = server_start(port, NULL);
    /* The same backend, never reopened, works again within seconds. */
    double deadline = now_ms() + 10000;
    lusty__store_status_t st;
    do {
        answer = NULL;
        st = b->run(b, post, strlen(post), &answer);
        free(answer);
    } while (st != LUSTY__STORE_OK && now_ms() < deadline);
    assert_int_equal(st, LUSTY__STORE_OK);
    b->free(b);
    server_stop(&s);
    lusty_free(uri);
}

/* How many lines of the file at `path` start with `prefix`. */
static int lines_starting(const char *path, const char *prefix)
{
    FILE *f = fopen(path, "r");
    int n = 0;
    char line[256];
    while (f && fgets(line, sizeof line, f))
        n += strncmp(line, prefix, strlen(prefix)) == 0;
    if (f)
        fclose(f);
    return n;
}

static void test_declared_indexes_made_once(void **state)
{
    (void)state;
    char log[] = "/tmp/lusty-test-mongo-log-XXXXXX";
    int fd = mkstemp(log);
    assert_true(fd >= 0);
    close(fd);
    char *arg = lusty_asprintf("--command-log=%s", log);
    server_t s = server_start(0, arg);
    char *config = lusty_asprintf("{\"uri\": \"mongodb://127.0.0.1:%d\", \"database\": \"ix\","
                                  "\"indexes\": {\"indexed\": [\"email\", \"a.b\"]}}",
                                  s.port);
    char *error = NULL;
    lusty__store_backend_t *b = lusty__store_mongo_open(config, &error);
    assert_non_null(b);
    free(run_as(b, LUSTY__STORE_OK, "{\"collection\":\"indexed\",\"method\":\"get\"}"));
    free(run_as(b, LUSTY__STORE_OK, "{\"collection\":\"indexed\",\"method\":\"options\"}"));
    free(run_as(b, LUSTY__STORE_OK, "{\"collection\":\"plain\",\"method\":\"get\"}"));
    assert_int_equal(lines_starting(log, "createIndexes indexed"), 1);
    assert_int_equal(lines_starting(log, "createIndexes"), 1);
    assert_int_equal(lines_starting(log, "find indexed"), 1);
    b->free(b);
    server_stop(&s);
    unlink(log);
    lusty_free(arg);
    lusty_free(config);
    /* A declaration that is not {collection: [field, ...]} stops the open. */
    b = lusty__store_mongo_open("{\"indexes\": {\"users\": \"email\"}}", &error);
    assert_null(b);
    assert_non_null(strstr(error, "store.indexes.users"));
    free(error);
}

static void test_bad_uri_is_refused_at_open(void **state)
{
    (void)state;
    char *error = NULL;
    lusty__store_backend_t *b =
        lusty__store_mongo_open("{\"uri\": \"mongodb://bob:hunter2@\"}", &error);
    assert_null(b);
    assert_non_null(error);
    if (strstr(error, "hunter2") || !strstr(error, "bob:***@"))
        fail_msg("'%s' should name the URI without its password", error);
    free(error);
    static const char *const bad[] = {
        "{\"uri\": 27017}",
        "{\"database\": [\"x\"]}",
        "{\"database\": \"a.b\"}",
        "[]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        error = NULL;
        assert_null(lusty__store_mongo_open(bad[i], &error));
        assert_non_null(error);
        free(error);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_round_trip),
        cmocka_unit_test(test_object_ids),
        cmocka_unit_test(test_get_sort_offset_limit_fields),
        cmocka_unit_test(test_get_many_uses_get_more),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_put_replaces_or_inserts),
        cmocka_unit_test(test_patch_sets_and_increments),
        cmocka_unit_test(test_delete_answers_what_it_removed),
        cmocka_unit_test(test_refused_operations),
        cmocka_unit_test(test_threads_share_the_pool),
        cmocka_unit_test(test_calls_wait_side_by_side),
        cmocka_unit_test(test_no_shared_memory_segment),
        cmocka_unit_test(test_unreachable_is_unavailable_without_password),
        cmocka_unit_test(test_server_comes_back),
        cmocka_unit_test(test_declared_indexes_made_once),
        cmocka_unit_test(test_bad_uri_is_refused_at_open),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
