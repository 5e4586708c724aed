/* The SQLite backend driven with canonical operations (JSON text), as the
 * C glue runs them: what the Lua side already refuses must be refused here
 * too (a backend never trusts its caller), names and values never reach
 * the SQL, and the answers' shapes. Table-driven. */
/* clang-format off: cmocka needs these first, in this order */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

#include "../../runtime/src/store/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char dir[64];
    lusty__store_backend_t *be;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/lusty-store-test.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char *err = NULL;
    f->be = lusty__store_sqlite_open("{\"path\": \"sub/store.sqlite3\"}", f->dir, &err);
    assert_null(err);
    assert_non_null(f->be);
    assert_string_equal(f->be->name, "sqlite");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    f->be->free(f->be);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Runs `op`; returns the status and leaves the answer in *answer. */
static lusty__store_status_t run(fixture_t *f, const char *op, char **answer)
{
    *answer = NULL;
    lusty__store_status_t st = f->be->run(f->be, op, strlen(op), answer);
    assert_non_null(*answer);
    return st;
}

static void expect(fixture_t *f, const char *op, lusty__store_status_t want, const char *answer)
{
    char *got = NULL;
    lusty__store_status_t st = run(f, op, &got);
    if (st != want || (answer && strcmp(got, answer) != 0))
        fail_msg("%s\n  status %d (wanted %d), answer %s (wanted %s)", op, st, want, got,
                 answer ? answer : "any");
    free(got);
}

static void test_refuses_what_lua_refuses(void **state)
{
    fixture_t *f = *state;
    expect(f, "{\"collection\":\"c\",\"method\":\"post\",\"doc\":{\"a\":1,\"_id\":\"x\"}}",
           LUSTY__STORE_OK, "{\"a\":1,\"_id\":\"x\"}");
    static const struct {
        const char *op;
        const char *says;
    } bad[] = {
        {"not json", "not a JSON object"},
        {"{\"collection\":\"c\",\"method\":\"fetch\"}", "unknown method 'fetch'"},
        {"{\"collection\":\"a\\\"; DROP TABLE c; --\",\"method\":\"get\"}", "bad collection"},
        {"{\"collection\":\"sqlite_master\",\"method\":\"get\"}", "bad collection"},
        {"{\"collection\":\"c\",\"method\":\"get\",\"filter\":{\"$where\":\"1\"}}",
         "unknown operator '$where'"},
        {"{\"collection\":\"c\",\"method\":\"get\",\"filter\":{\"a\":{\"$expr\":1}}}",
         "unknown operator '$expr'"},
        {"{\"collection\":\"c\",\"method\":\"get\",\"filter\":{\"a\":{\"$gt\":1,\"b\":2}}}",
         "mixes operators and fields"},
        {"{\"collection\":\"c\",\"method\":\"get\",\"filter\":{\"a\":{\"$in\":1}}}",
         "$in on 'a' takes an array"},
        {"{\"collection\":\"c\",\"method\":\"get\",\"filter\":{\"a\":{\"$regex\":\"(\"}}}",
         "$regex on 'a'"},
        {"{\"collection\":\"c\",\"method\":\"get\",\"filter\":{\"a\":{\"$options\":\"i\"}}}",
         "$options on 'a' without $regex"},
        {"{\"collection\":\"c\",\"method\":\"get\",\"filter\":{\"a\":{\"$gt\":{\"b\":1}}}}",
         "range operator"},
        {"{\"collection\":\"c\",\"method\":\"get\",\"filter\":{\"a'b\":1}}", "bad field name"},
        {"{\"collection\":\"c\",\"method\":\"get\",\"filter\":{\"$or\":[]}}", "$or takes"},
        {"{\"collection\":\"c\",\"method\":\"get\",\"filter\":[1]}", "a filter is an object"},
        {"{\"collection\":\"c\",\"method\":\"get\",\"sort\":[[\"a\",2]]}", "sort is an array"},
        {"{\"collection\":\"c\",\"method\":\"get\",\"limit\":-1}", "limit must be"},
        {"{\"collection\":\"c\",\"method\":\"get\",\"fields\":\"a\"}", "fields must be"},
        {"{\"collection\":\"c\",\"method\":\"post\",\"doc\":[1]}", "must be an object"},
        {"{\"collection\":\"c\",\"method\":\"post\",\"doc\":{\"_id\":\"x\"}}", "already there"},
        {"{\"collection\":\"c\",\"method\":\"patch\",\"filter\":{},\"doc\":{\"_id\":1}}",
         "_id cannot be changed"},
        {"{\"collection\":\"c\",\"method\":\"patch\",\"filter\":{},\"inc\":{\"a\":\"1\"}}",
         "must be a number"},
        {"{\"collection\":\"c\",\"method\":\"patch\",\"filter\":{},\"doc\":{\"a.b\":1}}",
         "cannot set 'a.b'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *got = NULL;
        lusty__store_status_t st = run(f, bad[i].op, &got);
        if (st != LUSTY__STORE_INVALID || !strstr(got, bad[i].says))
            fail_msg("%s: status %d, '%s' (wanted INVALID, '%s')", bad[i].op, st, got, bad[i].says);
        free(got);
    }
    /* Nothing above changed the data. */
    expect(f, "{\"collection\":\"c\",\"method\":\"get\"}", LUSTY__STORE_OK,
           "[{\"a\":1,\"_id\":\"x\"}]");
}

static void test_values_are_values(void **state)
{
    fixture_t *f = *state;
    expect(f,
           "{\"collection\":\"v\",\"method\":\"post\",\"doc\":{\"_id\":1,\"s\":\"x' OR 1=1 --\"}}",
           LUSTY__STORE_OK, NULL);
    expect(f, "{\"collection\":\"v\",\"method\":\"post\",\"doc\":{\"_id\":2,\"s\":{\"$gt\":\"\"}}}",
           LUSTY__STORE_OK, NULL);
    /* An operator object inside $eq is a value: only the document holding
     * that very object matches. */
    expect(
        f,
        "{\"collection\":\"v\",\"method\":\"options\",\"filter\":{\"s\":{\"$eq\":{\"$gt\":\"\"}}}}",
        LUSTY__STORE_OK, "1");
    expect(f,
           "{\"collection\":\"v\",\"method\":\"options\",\"filter\":{\"s\":{\"$eq\":\"x' OR 1=1 "
           "--\"}}}",
           LUSTY__STORE_OK, "1");
    expect(f, "{\"collection\":\"v\",\"method\":\"options\",\"filter\":{\"s\":\"' OR ''='\"}}",
           LUSTY__STORE_OK, "0");
}

static void test_answers(void **state)
{
    fixture_t *f = *state;
    /* A collection never written: empty answers, nothing created. */
    expect(f, "{\"collection\":\"none\",\"method\":\"get\"}", LUSTY__STORE_OK, "[]");
    expect(f, "{\"collection\":\"none\",\"method\":\"options\"}", LUSTY__STORE_OK, "0");
    expect(f, "{\"collection\":\"none\",\"method\":\"delete\",\"filter\":{}}", LUSTY__STORE_OK,
           "[]");
    expect(f, "{\"collection\":\"none\",\"method\":\"patch\",\"filter\":{},\"doc\":{\"a\":1}}",
           LUSTY__STORE_OK, "0");
    /* Numbers keep their exact value; integers have no fraction. */
    expect(
        f,
        "{\"collection\":\"n\",\"method\":\"post\",\"doc\":{\"_id\":\"n\",\"i\":9007199254740991,"
        "\"f\":0.30000000000000004,\"e\":1e300,\"neg\":-0.5}}",
        LUSTY__STORE_OK,
        "{\"_id\":\"n\",\"i\":9007199254740991,\"f\":0.30000000000000004,\"e\":1e+300,"
        "\"neg\":-0.5}");
    /* put: upsert with the filter's _id, then a replacement keeping it. */
    expect(f,
           "{\"collection\":\"p\",\"method\":\"put\",\"filter\":{\"_id\":{\"$eq\":\"k\"}},"
           "\"doc\":{\"v\":1}}",
           LUSTY__STORE_OK, "{\"v\":1,\"_id\":\"k\"}");
    expect(f, "{\"collection\":\"p\",\"method\":\"put\",\"filter\":{\"v\":1},\"doc\":{\"v\":2}}",
           LUSTY__STORE_OK, "{\"v\":2,\"_id\":\"k\"}");
    /* patch: dotted paths create objects; inc adds; unchanged is not counted. */
    expect(f,
           "{\"collection\":\"p\",\"method\":\"patch\",\"filter\":{},\"doc\":{\"a.b.c\":1},"
           "\"inc\":{\"v\":3}}",
           LUSTY__STORE_OK, "1");
    expect(f, "{\"collection\":\"p\",\"method\":\"patch\",\"filter\":{},\"doc\":{\"a.b.c\":1}}",
           LUSTY__STORE_OK, "0");
    expect(f, "{\"collection\":\"p\",\"method\":\"get\",\"fields\":[\"a.b\"]}", LUSTY__STORE_OK,
           "[{\"_id\":\"k\",\"a\":{\"b\":{\"c\":1}}}]");
    /* A new _id is ObjectId-shaped. */
    char *got = NULL;
    assert_int_equal(run(f, "{\"collection\":\"o\",\"method\":\"post\",\"doc\":{}}", &got),
                     LUSTY__STORE_OK);
    assert_int_equal(strlen(got), strlen("{\"_id\":\"\"}") + 24);
    assert_int_equal(strspn(got + 8, "0123456789abcdef"), 24);
    free(got);
}

/* How many documents `get` on collection c answers. */
static int count_docs(lusty__store_backend_t *be)
{
    const char *op = "{\"collection\":\"c\",\"method\":\"get\"}";
    char *answer = NULL;
    assert_int_equal(be->run(be, op, strlen(op), &answer), LUSTY__STORE_OK);
    int n = 0;
    for (const char *p = answer; (p = strstr(p, "\"_id\"")); p++)
        n++;
    free(answer);
    return n;
}

static void post(lusty__store_backend_t *be, const char *id)
{
    char op[128], *answer = NULL;
    snprintf(op, sizeof op, "{\"collection\":\"c\",\"method\":\"post\",\"doc\":{\"_id\":\"%s\"}}", id);
    assert_int_equal(be->run(be, op, strlen(op), &answer), LUSTY__STORE_OK);
    free(answer);
}

/* Reads between hold_reads(true) and hold_reads(false) see one snapshot
 * (they are one read transaction); a write in between ends it first and
 * is committed, as any write. Another process is played by a second
 * backend on the same file (its own connection). */
static void test_held_reads_share_a_snapshot(void **state)
{
    fixture_t *f = *state;
    char *err = NULL;
    lusty__store_backend_t *other =
        lusty__store_sqlite_open("{\"path\": \"sub/store.sqlite3\"}", f->dir, &err);
    assert_non_null(other);
    post(f->be, "1");
    assert_true(f->be->hold_reads(f->be, true));
    assert_int_equal(count_docs(f->be), 1);
    post(other, "2");
    assert_int_equal(count_docs(f->be), 1); /* the snapshot of the first read */
    f->be->hold_reads(f->be, false);
    assert_int_equal(count_docs(f->be), 2);

    assert_true(f->be->hold_reads(f->be, true));
    assert_int_equal(count_docs(f->be), 2);
    post(f->be, "3"); /* ends the read transaction, commits on its own */
    assert_int_equal(count_docs(other), 3);
    assert_int_equal(count_docs(f->be), 3);
    f->be->hold_reads(f->be, false);
    post(other, "4");
    assert_int_equal(count_docs(f->be), 4); /* nothing held any more */
    other->free(other);
}

static void test_open_fails_cleanly(void **state)
{
    (void)state;
    char *err = NULL;
    lusty__store_backend_t *be =
        lusty__store_sqlite_open("{\"path\": \"/proc/no/such/store.sqlite3\"}", "/", &err);
    assert_null(be);
    assert_non_null(strstr(err, "/proc/no/such"));
    free(err);
    err = NULL;
    be = lusty__store_sqlite_open("{\"indexes\": {\"c\": [\"a'b\"]}}", "/tmp", &err);
    assert_null(be);
    assert_non_null(strstr(err, "bad field name"));
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refuses_what_lua_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_values_are_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_held_reads_share_a_snapshot, setup, teardown),
        cmocka_unit_test(test_open_fails_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
