/* Tests of the event bus: paths, bubbling, stop/continue, results,
 * predicates, priorities, lookup and removal by id, publishing on unknown
 * paths, the re-entrancy rules, errors and freeing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "lusty/alloc.h"
#include "lusty/buf.h"
#include "lusty/bus.h"
#include "lusty/error.h"

#include <stdio.h>
#include <string.h>

#define C LUSTY_BUS_CONTINUE
#define S LUSTY_BUS_STOP

/* The publish arguments of every test: a log of who ran, in order. */
typedef struct {
    lusty_buf_t log;
} ctx_t;

/* A recording subscriber: logs its name, pushes it as a value when asked,
 * and returns `ret`. */
typedef struct {
    const char *name;
    int ret;
    int push;
} rec_t;

static int g_destroyed;

static void log_name(ctx_t *cx, const char *name)
{
    if (cx->log.len)
        lusty_buf_putc(&cx->log, ' ');
    lusty_buf_puts(&cx->log, name);
}

static int rec_cb(lusty_bus_event_t *ev, void *args, void *ud)
{
    rec_t *r = ud;
    log_name(args, r->name);
    if (r->push)
        lusty_bus_event_push(ev, (lusty_bus_value_t){.ptr = (void *)r->name});
    return r->ret;
}

static void count_destroy(void *ud, void *predicate_ud)
{
    (void)ud;
    (void)predicate_ud;
    g_destroyed++;
}

static uint64_t sub_rec(lusty_bus_t *bus, const char *path, rec_t *r, long priority)
{
    lusty_bus_handler_t h = {.cb = rec_cb, .ud = r, .destroy = count_destroy};
    uint64_t id = 0;
    assert_int_equal(lusty_bus_subscribe(&id, bus, path, &h, priority), 0);
    assert_true(id > 0);
    return id;
}

static uint64_t sub_cb(lusty_bus_t *bus, const char *path, lusty_bus_cb cb, void *ud)
{
    lusty_bus_handler_t h = {.cb = cb, .ud = ud, .destroy = count_destroy};
    uint64_t id = 0;
    assert_int_equal(lusty_bus_subscribe(&id, bus, path, &h, 0), 0);
    return id;
}

/* Publishes on `path` with a fresh log and returns the log. */
static const char *run(lusty_bus_t *bus, const char *path, ctx_t *cx)
{
    lusty_buf_clear(&cx->log);
    lusty_buf_puts(&cx->log, "");
    assert_int_equal(lusty_bus_publish(NULL, bus, path, cx), 0);
    return cx->log.data;
}

static char *path_of(const lusty_bus_channel_t *ch)
{
    lusty_buf_t b = LUSTY_BUF_INIT;
    lusty_bus_channel_path(ch, &b);
    return lusty_buf_detach(&b, NULL);
}

/* ---- paths and the channel tree ---- */

static void test_string_and_array_forms(void **state)
{
    (void)state;
    static const struct {
        const char *str;
        const char *parts[4];
        size_t n;
        const char *path;
    } rows[] = {
        {"", {NULL}, 0, ""},
        {"a", {"a"}, 1, "a"},
        {"a:b:c", {"a", "b", "c"}, 3, "a:b:c"},
        {"data:request:user:get", {"data", "request", "user", "get"}, 4, "data:request:user:get"},
        {"a::b:", {"a", "b"}, 2, "a:b"}, /* empty string parts are skipped */
        {":x", {"x"}, 1, "x"},
    };
    lusty_bus_t *bus = lusty_bus_new();
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        lusty_bus_channel_t *a = lusty_bus_get(bus, rows[i].str);
        assert_non_null(a);
        assert_ptr_equal(lusty_bus_getv(bus, rows[i].parts, rows[i].n), a);
        assert_ptr_equal(lusty_bus_find(bus, rows[i].str), a);
        assert_ptr_equal(lusty_bus_findv(bus, rows[i].parts, rows[i].n), a);
        assert_int_equal(lusty_bus_channel_depth(a), rows[i].n);
        char *p = path_of(a);
        assert_string_equal(p, rows[i].path);
        lusty_free(p);
    }
    assert_ptr_equal(lusty_bus_get(bus, ""), lusty_bus_root(bus));
    assert_ptr_equal(lusty_bus_getv(bus, NULL, 0), lusty_bus_root(bus));

    /* In the array form each element is one name, colons included. */
    const char *colon[] = {"a:b"};
    lusty_bus_channel_t *ab = lusty_bus_getv(bus, colon, 1);
    assert_ptr_not_equal(ab, lusty_bus_find(bus, "a:b"));
    assert_int_equal(lusty_bus_channel_depth(ab), 1);
    assert_string_equal(lusty_bus_channel_name(ab, NULL), "a:b");
    lusty_bus_free(bus);
}

static void test_find_creates_nothing(void **state)
{
    (void)state;
    lusty_bus_t *bus = lusty_bus_new();
    assert_int_equal(lusty_bus_channel_total(bus), 1);
    lusty_bus_get(bus, "a:b");
    assert_int_equal(lusty_bus_channel_total(bus), 3);
    const char *parts[] = {"a", "b", "c"};
    assert_null(lusty_bus_find(bus, "a:b:c"));
    assert_null(lusty_bus_findv(bus, parts, 3));
    assert_null(lusty_bus_find(bus, "x"));
    assert_null(lusty_bus_channel_child(lusty_bus_root(bus), "b", 1));
    assert_int_equal(lusty_bus_channel_total(bus), 3);
    lusty_bus_free(bus);
}

static void test_channel_tree(void **state)
{
    (void)state;
    lusty_bus_t *bus = lusty_bus_new();
    lusty_bus_channel_t *root = lusty_bus_root(bus);
    lusty_bus_channel_t *x = lusty_bus_get(bus, "x");
    const char *names[] = {"b", "a", "ab", ""};
    for (size_t i = 0; i < 4; i++)
        lusty_bus_channel_add_child(x, names[i], strlen(names[i]));
    assert_ptr_equal(lusty_bus_channel_add_child(x, "a", 1), lusty_bus_find(bus, "x:a"));

    /* Children come in bytewise name order. */
    static const char *sorted[] = {"", "a", "ab", "b"};
    assert_int_equal(lusty_bus_channel_child_count(x), 4);
    for (size_t i = 0; i < 4; i++) {
        lusty_bus_channel_t *c = lusty_bus_channel_child_at(x, i);
        size_t len = 99;
        assert_string_equal(lusty_bus_channel_name(c, &len), sorted[i]);
        assert_int_equal(len, strlen(sorted[i]));
        assert_ptr_equal(lusty_bus_channel_parent(c), x);
        assert_ptr_equal(lusty_bus_channel_bus(c), bus);
    }
    assert_null(lusty_bus_channel_child_at(x, 4));
    /* Lookup by (pointer, length): no terminator needed. */
    assert_ptr_equal(lusty_bus_channel_child(x, "abc", 2), lusty_bus_channel_child_at(x, 2));
    assert_null(lusty_bus_channel_child(x, "abc", 3));

    assert_null(lusty_bus_channel_parent(root));
    assert_string_equal(lusty_bus_channel_name(root, NULL), "");
    assert_int_equal(lusty_bus_channel_depth(root), 0);
    assert_int_equal(lusty_bus_channel_total(bus), 6);

    lusty_buf_t b = LUSTY_BUF_INIT;
    lusty_buf_puts(&b, "path=");
    lusty_bus_channel_path(lusty_bus_find(bus, "x:ab"), &b);
    assert_string_equal(b.data, "path=x:ab");
    lusty_bus_channel_path(root, &b);
    assert_string_equal(b.data, "path=x:ab");
    lusty_buf_free(&b);
    lusty_bus_free(bus);
}

static void test_channel_remove(void **state)
{
    (void)state;
    lusty_bus_t *bus = lusty_bus_new();
    rec_t r = {"r", S, 0};
    sub_rec(bus, "a:s", &r, 0);
    lusty_bus_channel_t *e = lusty_bus_get(bus, "a:e");
    assert_int_equal(lusty_bus_channel_total(bus), 4);

    assert_int_equal(lusty_bus_channel_remove(lusty_bus_root(bus)), LUSTY_EINVAL);
    assert_int_equal(lusty_bus_channel_remove(lusty_bus_find(bus, "a")), LUSTY_EINVAL);
    assert_int_equal(lusty_bus_channel_remove(lusty_bus_find(bus, "a:s")), LUSTY_EINVAL);
    assert_int_equal(lusty_bus_channel_remove(e), 0);
    assert_null(lusty_bus_find(bus, "a:e"));
    assert_int_equal(lusty_bus_channel_total(bus), 3);
    assert_int_equal(lusty_bus_channel_child_count(lusty_bus_find(bus, "a")), 1);
    assert_non_null(lusty_bus_get(bus, "a:e"));
    assert_int_equal(lusty_bus_channel_total(bus), 4);
    lusty_bus_free(bus);
}

/* ---- publishing ---- */

static void test_bubbling_order(void **state)
{
    (void)state;
    lusty_bus_t *bus = lusty_bus_new();
    ctx_t cx = {LUSTY_BUF_INIT};
    rec_t root = {"root", C, 0}, a = {"a", C, 0}, ab = {"ab", C, 0};
    rec_t c1 = {"c1", C, 0}, c2 = {"c2", C, 0}, other = {"other", C, 0};
    sub_rec(bus, "", &root, 0);
    sub_rec(bus, "a", &a, 0);
    sub_rec(bus, "a:b", &ab, 0);
    sub_rec(bus, "a:b:c", &c1, 0);
    sub_rec(bus, "a:b:c", &c2, 0);
    sub_rec(bus, "a:x", &other, 0);

    static const struct {
        const char *path;
        const char *want;
    } rows[] = {
        {"a:b:c", "c1 c2 ab a root"}, {"a:b", "ab a root"}, {"a", "a root"}, {"", "root"},
        {"a:x", "other a root"},      {"b", "root"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        assert_string_equal(run(bus, rows[i].path, &cx), rows[i].want);

    const char *parts[] = {"a", "b", "c"};
    lusty_buf_clear(&cx.log);
    assert_int_equal(lusty_bus_publishv(NULL, bus, parts, 3, &cx), 0);
    assert_string_equal(cx.log.data, "c1 c2 ab a root");
    lusty_buf_clear(&cx.log);
    assert_int_equal(lusty_bus_channel_publish(NULL, lusty_bus_find(bus, "a:b"), &cx), 0);
    assert_string_equal(cx.log.data, "ab a root");

    lusty_buf_free(&cx.log);
    lusty_bus_free(bus);
}

static void test_stop_and_continue(void **state)
{
    (void)state;
    static const struct {
        int x, y, z;
        const char *want;
    } rows[] = {
        {C, C, C, "x y z"}, {S, C, C, "x"}, {C, S, C, "x y"},
        {C, C, S, "x y z"}, {S, S, S, "x"}, {2, C, C, "x y z"}, /* positive: continue */
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        lusty_bus_t *bus = lusty_bus_new();
        ctx_t cx = {LUSTY_BUF_INIT};
        rec_t x = {"x", rows[i].x, 0}, y = {"y", rows[i].y, 0}, z = {"z", rows[i].z, 0};
        sub_rec(bus, "a:b", &x, 0);
        sub_rec(bus, "a:b", &y, 0);
        sub_rec(bus, "a", &z, 0);
        assert_string_equal(run(bus, "a:b", &cx), rows[i].want);
        lusty_buf_free(&cx.log);
        lusty_bus_free(bus);
    }
}

static int silent_cb(lusty_bus_event_t *ev, void *args, void *ud)
{
    (void)ev;
    (void)ud;
    log_name(args, "silent");
    return 0; /* says nothing */
}

static void test_default_is_stop(void **state)
{
    (void)state;
    lusty_bus_t *bus = lusty_bus_new();
    ctx_t cx = {LUSTY_BUF_INIT};
    rec_t a = {"a", C, 0};
    sub_rec(bus, "a", &a, 0);
    sub_cb(bus, "a:b", silent_cb, NULL);
    assert_string_equal(run(bus, "a:b", &cx), "silent");
    lusty_buf_free(&cx.log);
    lusty_bus_free(bus);
}

static void test_results_accumulate(void **state)
{
    (void)state;
    lusty_bus_t *bus = lusty_bus_new();
    ctx_t cx = {LUSTY_BUF_INIT};
    rec_t x = {"x", C, 1}, quiet = {"quiet", C, 0}, y = {"y", C, 1}, z = {"z", S, 1};
    rec_t never = {"never", C, 1};
    sub_rec(bus, "a:b", &x, 0);
    sub_rec(bus, "a:b", &quiet, 0);
    sub_rec(bus, "a:b", &y, 0);
    sub_rec(bus, "a", &z, 0);
    sub_rec(bus, "", &never, 0);

    lusty_bus_result_t res = LUSTY_BUS_RESULT_INIT;
    assert_int_equal(lusty_bus_publish(&res, bus, "a:b", &cx), 0);
    assert_int_equal(res.len, 3);
    assert_string_equal(res.values[0].ptr, "x");
    assert_string_equal(res.values[1].ptr, "y");
    assert_string_equal(res.values[2].ptr, "z");
    assert_null(res.error);

    /* A publish appends: one list can collect several publishes. */
    assert_int_equal(lusty_bus_publish(&res, bus, "a", &cx), 0);
    assert_int_equal(res.len, 4);
    assert_string_equal(res.values[3].ptr, "z");

    assert_string_equal(cx.log.data, "x quiet y z z");

    /* Nothing pushed: an empty list. */
    rec_t q = {"q", S, 0};
    sub_rec(bus, "q", &q, 0);
    lusty_bus_result_clear(&res);
    assert_int_equal(lusty_bus_publish(&res, bus, "q:x", &cx), 0);
    assert_int_equal(res.len, 0);

    /* Values pushed with no list are dropped. */
    assert_int_equal(lusty_bus_publish(NULL, bus, "a:b", &cx), 0);

    lusty_bus_result_t many;
    lusty_bus_result_init(&many);
    for (int i = 0; i < 1000; i++)
        lusty_bus_result_push(&many, (lusty_bus_value_t){.i = i});
    assert_int_equal(many.len, 1000);
    assert_int_equal(many.values[999].i, 999);
    lusty_bus_result_free(&many);
    lusty_bus_result_free(NULL);

    lusty_bus_result_free(&res);
    lusty_buf_free(&cx.log);
    lusty_bus_free(bus);
}

/* A failing subscriber: pushes a value, then fails with `code` and `msg`. */
typedef struct {
    int code;
    const char *msg; /* NULL: no message */
} fail_t;

static int fail_cb(lusty_bus_event_t *ev, void *args, void *ud)
{
    fail_t *f = ud;
    log_name(args, "fail");
    lusty_bus_event_push(ev, (lusty_bus_value_t){.ptr = "partial"});
    if (f->msg)
        return lusty_bus_event_error(ev, f->code, "%s (%d)", f->msg, f->code);
    return f->code;
}

/* ---- predicates ---- */

typedef struct {
    void *want_args;
    int answer;
    int calls;
} pred_t;

static int pred_cb(lusty_bus_event_t *ev, void *args, void *predicate_ud)
{
    pred_t *p = predicate_ud;
    assert_ptr_equal(args, p->want_args);
    p->calls++;
    if (p->answer == 0) /* a message without a failure is dropped */
        return lusty_bus_event_error(ev, 0, "not for me");
    if (p->answer < 0)
        return lusty_bus_event_error(ev, p->answer, "predicate says %d", p->answer);
    return p->answer;
}

static void test_predicates(void **state)
{
    (void)state;
    lusty_bus_t *bus = lusty_bus_new();
    ctx_t cx = {LUSTY_BUF_INIT};
    rec_t yes = {"yes", C, 0}, no = {"no", S, 0}, last = {"last", C, 0};
    pred_t pyes = {&cx, 1, 0}, pno = {&cx, 0, 0};
    lusty_bus_handler_t h1 = {rec_cb, &yes, pred_cb, &pyes, count_destroy};
    lusty_bus_handler_t h2 = {rec_cb, &no, pred_cb, &pno, count_destroy};
    assert_int_equal(lusty_bus_subscribe(NULL, bus, "p", &h1, 0), 0);
    assert_int_equal(lusty_bus_subscribe(NULL, bus, "p", &h2, 0), 0);
    sub_rec(bus, "p", &last, 0);

    /* A false predicate skips its subscriber (which would have stopped) and
     * the publish goes on. */
    assert_string_equal(run(bus, "p", &cx), "yes last");
    assert_int_equal(pyes.calls, 1);
    assert_int_equal(pno.calls, 1);

    /* The skipping predicate's message does not leak into a later failure. */
    fail_t f = {LUSTY_EIO, NULL};
    lusty_bus_handler_t hf = {.cb = fail_cb, .ud = &f};
    assert_int_equal(lusty_bus_subscribe(NULL, bus, "p", &hf, 3), 0);
    lusty_bus_result_t res = LUSTY_BUS_RESULT_INIT;
    assert_int_equal(lusty_bus_publish(&res, bus, "p", &cx), LUSTY_EIO);
    assert_string_equal(res.error, "input/output error");
    lusty_bus_result_clear(&res);

    /* A failing predicate aborts the publish. */
    pno.answer = LUSTY_EINVAL;
    lusty_buf_clear(&cx.log);
    assert_int_equal(lusty_bus_publish(&res, bus, "p", &cx), LUSTY_EINVAL);
    assert_string_equal(res.error, "predicate says -1");
    assert_string_equal(cx.log.data, "yes");

    lusty_bus_result_free(&res);
    lusty_buf_free(&cx.log);
    lusty_bus_free(bus);
}

/* ---- priorities ---- */

static void order_of(lusty_bus_channel_t *ch, lusty_buf_t *out)
{
    lusty_buf_clear(out);
    lusty_buf_puts(out, "");
    for (size_t i = 0; i < lusty_bus_channel_count(ch); i++) {
        lusty_bus_subscriber_t s;
        assert_int_equal(lusty_bus_channel_at(&s, ch, i), 0);
        assert_int_equal(s.priority, i + 1);
        assert_ptr_equal(s.channel, ch);
        if (out->len)
            lusty_buf_putc(out, ' ');
        lusty_buf_puts(out, ((rec_t *)s.handler.ud)->name);
    }
}

static void test_priority_insert(void **state)
{
    (void)state;
    static const struct {
        long prio[4];
        size_t n;
        const char *want;
    } rows[] = {
        {{0, 0, 0}, 3, "s1 s2 s3"},
        {{0, 0, 1}, 3, "s3 s1 s2"},
        {{0, 0, 2}, 3, "s1 s3 s2"},
        {{0, 0, 3}, 3, "s1 s2 s3"}, /* 3 > count 2: last */
        {{0, 0, -1}, 3, "s1 s2 s3"},
        {{1, 1, 1}, 3, "s3 s2 s1"}, /* the first one: 1 > count 0, last */
        {{5}, 1, "s1"},
        {{0, 0, 0, 2}, 4, "s1 s4 s2 s3"},
        {{0, 0, 0, 4}, 4, "s1 s2 s3 s4"},
    };
    static const char *names[] = {"s1", "s2", "s3", "s4"};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        lusty_bus_t *bus = lusty_bus_new();
        ctx_t cx = {LUSTY_BUF_INIT};
        lusty_buf_t order = LUSTY_BUF_INIT;
        rec_t r[4];
        for (size_t k = 0; k < rows[i].n; k++) {
            r[k] = (rec_t){names[k], C, 0};
            sub_rec(bus, "ch", &r[k], rows[i].prio[k]);
        }
        order_of(lusty_bus_find(bus, "ch"), &order);
        assert_string_equal(order.data, rows[i].want);
        assert_string_equal(run(bus, "ch", &cx), rows[i].want);
        lusty_buf_free(&order);
        lusty_buf_free(&cx.log);
        lusty_bus_free(bus);
    }
}

static void test_set_priority(void **state)
{
    (void)state;
    static const struct {
        size_t who; /* 0-based insertion index */
        long prio;
        const char *want;
    } rows[] = {
        {3, 1, "s4 s1 s2 s3"},  {0, 4, "s2 s3 s4 s1"},  {0, 2, "s2 s1 s3 s4"},
        {2, 2, "s1 s3 s2 s4"},  {1, 2, "s1 s2 s3 s4"},  {1, 0, "s2 s1 s3 s4"},
        {2, -5, "s3 s1 s2 s4"}, {0, 99, "s2 s3 s4 s1"},
    };
    static const char *names[] = {"s1", "s2", "s3", "s4"};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        lusty_bus_t *bus = lusty_bus_new();
        ctx_t cx = {LUSTY_BUF_INIT};
        lusty_buf_t order = LUSTY_BUF_INIT;
        rec_t r[4];
        uint64_t ids[4];
        for (size_t k = 0; k < 4; k++) {
            r[k] = (rec_t){names[k], C, 0};
            ids[k] = sub_rec(bus, "a:ch", &r[k], 0);
        }
        /* Found from an ancestor, moved within its own channel. */
        assert_int_equal(
            lusty_bus_channel_set_priority(lusty_bus_root(bus), ids[rows[i].who], rows[i].prio), 0);
        order_of(lusty_bus_find(bus, "a:ch"), &order);
        assert_string_equal(order.data, rows[i].want);
        assert_string_equal(run(bus, "a:ch", &cx), rows[i].want);
        assert_int_equal(lusty_bus_channel_set_priority(lusty_bus_root(bus), 999, 1), LUSTY_ENOENT);
        lusty_buf_free(&order);
        lusty_buf_free(&cx.log);
        lusty_bus_free(bus);
    }
}

/* ---- lookup and removal by id ---- */

static void test_lookup_by_id(void **state)
{
    (void)state;
    lusty_bus_t *bus = lusty_bus_new();
    rec_t a = {"a", C, 0}, b1 = {"b1", C, 0}, b2 = {"b2", C, 0}, c = {"c", C, 0};
    rec_t x = {"x", C, 0};
    uint64_t ida = sub_rec(bus, "a", &a, 0);
    uint64_t idb1 = sub_rec(bus, "a:b", &b1, 0);
    uint64_t idb2 = sub_rec(bus, "a:b", &b2, 0);
    uint64_t idc = sub_rec(bus, "a:b:c", &c, 0);
    uint64_t idx = sub_rec(bus, "x", &x, 0);
    assert_true(ida < idb1 && idb1 < idb2 && idb2 < idc && idc < idx);

    static const struct {
        const char *from;
        int which; /* index into the ids below, or -1 */
        int rc;
        const char *channel;
        size_t priority;
    } rows[] = {
        {"", 3, 0, "a:b:c", 1},
        {"a", 3, 0, "a:b:c", 1},
        {"a:b", 2, 0, "a:b", 2},
        {"a:b:c", 3, 0, "a:b:c", 1},
        {"a:b:c", 0, LUSTY_ENOENT, NULL, 0},
        {"x", 1, LUSTY_ENOENT, NULL, 0},
        {"", 4, 0, "x", 1},
        {"nope", 0, LUSTY_ENOENT, NULL, 0},
        {"a", -1, LUSTY_ENOENT, NULL, 0},
    };
    uint64_t ids[] = {ida, idb1, idb2, idc, idx};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        uint64_t id = rows[i].which < 0 ? 12345 : ids[rows[i].which];
        lusty_bus_subscriber_t s;
        assert_int_equal(lusty_bus_lookup(&s, bus, rows[i].from, id), rows[i].rc);
        if (rows[i].rc)
            continue;
        assert_int_equal(s.id, id);
        assert_int_equal(s.priority, rows[i].priority);
        char *p = path_of(s.channel);
        assert_string_equal(p, rows[i].channel);
        lusty_free(p);
        assert_ptr_equal(s.handler.cb, rec_cb);
        assert_ptr_equal(s.handler.destroy, count_destroy);
    }
    const char *parts[] = {"a"};
    lusty_bus_subscriber_t s;
    assert_int_equal(lusty_bus_lookupv(&s, bus, parts, 1, idb2), 0);
    assert_ptr_equal(s.handler.ud, &b2);
    /* Looking up under a missing path created nothing. */
    assert_null(lusty_bus_find(bus, "nope"));
    lusty_bus_free(bus);
}

static void test_remove_by_id(void **state)
{
    (void)state;
    lusty_bus_t *bus = lusty_bus_new();
    ctx_t cx = {LUSTY_BUF_INIT};
    rec_t a = {"a", C, 0}, b = {"b", C, 0}, c = {"c", C, 0}, x = {"x", C, 0};
    g_destroyed = 0;
    uint64_t ida = sub_rec(bus, "a", &a, 0);
    uint64_t idb = sub_rec(bus, "a:b", &b, 0);
    uint64_t idc = sub_rec(bus, "a:b:c", &c, 0);
    sub_rec(bus, "x", &x, 0);

    assert_int_equal(lusty_bus_unsubscribe(bus, "x", idc), LUSTY_ENOENT);     /* a sibling */
    assert_int_equal(lusty_bus_unsubscribe(bus, "a:b:c", idb), LUSTY_ENOENT); /* a child */
    assert_int_equal(lusty_bus_unsubscribe(bus, "nope", idc), LUSTY_ENOENT);
    assert_null(lusty_bus_find(bus, "nope"));
    assert_int_equal(g_destroyed, 0);

    assert_int_equal(lusty_bus_unsubscribe(bus, "", idc), 0); /* from the root */
    assert_int_equal(g_destroyed, 1);
    assert_int_equal(lusty_bus_unsubscribe(bus, "", idc), LUSTY_ENOENT);
    const char *parts[] = {"a"};
    assert_int_equal(lusty_bus_unsubscribev(bus, parts, 1, idb), 0);
    assert_int_equal(lusty_bus_channel_unsubscribe(lusty_bus_find(bus, "a"), ida), 0);
    assert_int_equal(g_destroyed, 3);
    assert_string_equal(run(bus, "a:b:c", &cx), "");

    /* Ids are never reused. */
    uint64_t again = sub_rec(bus, "a:b:c", &c, 0);
    assert_true(again > idc);
    assert_string_equal(run(bus, "a:b:c", &cx), "c");

    lusty_buf_free(&cx.log);
    lusty_bus_free(bus);
    assert_int_equal(g_destroyed, 5);
}

/* ---- unknown paths ---- */

static void test_publish_unknown_path_creates_nothing(void **state)
{
    (void)state;
    lusty_bus_t *bus = lusty_bus_new();
    ctx_t cx = {LUSTY_BUF_INIT};
    rec_t req = {"request", C, 0}, root = {"root", C, 0};
    sub_rec(bus, "request", &req, 0);
    sub_rec(bus, "", &root, 0);
    size_t total = lusty_bus_channel_total(bus);
    assert_int_equal(total, 2);

    assert_string_equal(run(bus, "request:users:1", &cx), "request root");
    assert_string_equal(run(bus, "nothere:x", &cx), "root");
    const char *parts[] = {"request", "users", "2"};
    lusty_buf_clear(&cx.log);
    assert_int_equal(lusty_bus_publishv(NULL, bus, parts, 3, &cx), 0);
    assert_string_equal(cx.log.data, "request root");

    char path[64];
    for (int i = 0; i < 10000; i++) {
        snprintf(path, sizeof path, "request:u%d:p%d", i, i * 7);
        assert_int_equal(lusty_bus_publish(NULL, bus, path, &cx), 0);
    }
    assert_int_equal(lusty_bus_channel_total(bus), total);
    assert_int_equal(lusty_bus_channel_child_count(lusty_bus_find(bus, "request")), 0);
    lusty_buf_free(&cx.log);
    lusty_bus_free(bus);
}

/* ---- re-entrancy ---- */

/* State shared by the re-entrant callbacks of one test. */
typedef struct {
    lusty_bus_t *bus;
    uint64_t ids[4];
    int once;
    int seen_destroyed;
    int lookup_rc;
    rec_t recs[4];
    lusty_bus_result_t inner;
    int inner_rc;
} re_t;

static int unsub_cb(lusty_bus_event_t *ev, void *args, void *ud)
{
    re_t *re = ud;
    log_name(args, "x");
    /* Removes itself and z, which comes later in this publish. */
    lusty_bus_channel_t *ch = lusty_bus_event_channel(ev);
    assert_int_equal(lusty_bus_channel_unsubscribe(ch, lusty_bus_event_id(ev)), 0);
    assert_int_equal(lusty_bus_channel_unsubscribe(ch, re->ids[2]), 0);
    return C;
}

static int observe_cb(lusty_bus_event_t *ev, void *args, void *ud)
{
    (void)ev;
    re_t *re = ud;
    log_name(args, "y");
    re->seen_destroyed = g_destroyed;
    lusty_bus_subscriber_t s;
    re->lookup_rc = lusty_bus_lookup(&s, re->bus, "", re->ids[0]);
    return C;
}

static void test_reentrant_unsubscribe(void **state)
{
    (void)state;
    lusty_bus_t *bus = lusty_bus_new();
    ctx_t cx = {LUSTY_BUF_INIT};
    re_t re = {.bus = bus};
    re.recs[0] = (rec_t){"z", C, 0};
    re.recs[1] = (rec_t){"parent", C, 0};
    g_destroyed = 0;
    re.ids[0] = sub_cb(bus, "a", unsub_cb, &re);
    re.ids[1] = sub_cb(bus, "a", observe_cb, &re);
    re.ids[2] = sub_rec(bus, "a", &re.recs[0], 0);
    sub_rec(bus, "", &re.recs[1], 0);

    /* z is skipped; nothing is freed before the publish ends; lookups no
     * longer find the removed ones. */
    assert_string_equal(run(bus, "a", &cx), "x y parent");
    assert_int_equal(re.seen_destroyed, 0);
    assert_int_equal(re.lookup_rc, LUSTY_ENOENT);
    assert_int_equal(g_destroyed, 2);
    assert_int_equal(lusty_bus_channel_count(lusty_bus_find(bus, "a")), 1);
    assert_string_equal(run(bus, "a", &cx), "y parent");

    lusty_buf_free(&cx.log);
    lusty_bus_free(bus);
    assert_int_equal(g_destroyed, 4);
}

static int adder_cb(lusty_bus_event_t *ev, void *args, void *ud)
{
    (void)ev;
    re_t *re = ud;
    log_name(args, "x");
    if (!re->once++) {
        lusty_bus_handler_t h = {.cb = rec_cb, .destroy = count_destroy};
        h.ud = &re->recs[0];
        assert_int_equal(lusty_bus_subscribe(&re->ids[0], re->bus, "a:b", &h, 1), 0);
        h.ud = &re->recs[1];
        assert_int_equal(lusty_bus_subscribe(&re->ids[1], re->bus, "a:b", &h, 0), 0);
        h.ud = &re->recs[2];
        assert_int_equal(lusty_bus_subscribe(&re->ids[2], re->bus, "a", &h, 0), 0);
        h.ud = &re->recs[3];
        assert_int_equal(lusty_bus_subscribe(&re->ids[3], re->bus, "a:b:new", &h, 0), 0);
    }
    return C;
}

static void test_reentrant_subscribe(void **state)
{
    (void)state;
    lusty_bus_t *bus = lusty_bus_new();
    ctx_t cx = {LUSTY_BUF_INIT};
    re_t re = {.bus = bus};
    re.recs[0] = (rec_t){"first", C, 0};
    re.recs[1] = (rec_t){"last", C, 0};
    re.recs[2] = (rec_t){"up", C, 0};
    re.recs[3] = (rec_t){"new", C, 0};
    rec_t y = {"y", C, 0}, a = {"a", C, 0};
    sub_cb(bus, "a:b", adder_cb, &re);
    sub_rec(bus, "a:b", &y, 0);
    sub_rec(bus, "a", &a, 0);

    /* Added during the publish: not seen by it, on any channel. */
    assert_string_equal(run(bus, "a:b", &cx), "x y a");
    assert_string_equal(run(bus, "a:b", &cx), "first x y last a up");
    assert_string_equal(run(bus, "a:b:new", &cx), "new first x y last a up");

    lusty_buf_free(&cx.log);
    lusty_bus_free(bus);
}

static int mover_cb(lusty_bus_event_t *ev, void *args, void *ud)
{
    re_t *re = ud;
    log_name(args, "x");
    if (!re->once++) {
        lusty_bus_channel_t *ch = lusty_bus_event_channel(ev);
        assert_int_equal(lusty_bus_channel_set_priority(ch, re->ids[2], 1), 0);
        assert_int_equal(lusty_bus_channel_set_priority(ch, lusty_bus_event_id(ev), 3), 0);
    }
    return C;
}

static void test_reentrant_priority(void **state)
{
    (void)state;
    lusty_bus_t *bus = lusty_bus_new();
    ctx_t cx = {LUSTY_BUF_INIT};
    re_t re = {.bus = bus};
    re.recs[0] = (rec_t){"y", C, 0};
    re.recs[1] = (rec_t){"z", C, 0};
    re.ids[0] = sub_cb(bus, "a", mover_cb, &re);
    re.ids[1] = sub_rec(bus, "a", &re.recs[0], 0);
    re.ids[2] = sub_rec(bus, "a", &re.recs[1], 0);

    /* The publish in flight keeps its order: nobody runs twice or is lost. */
    assert_string_equal(run(bus, "a", &cx), "x y z");
    lusty_bus_subscriber_t s;
    assert_int_equal(lusty_bus_lookup(&s, bus, "a", re.ids[2]), 0);
    assert_int_equal(s.priority, 1);
    assert_string_equal(run(bus, "a", &cx), "z y x");

    lusty_buf_free(&cx.log);
    lusty_bus_free(bus);
}

/* On "a": subscribes a new one on "b", then publishes on "b" from inside. */
static int nester_cb(lusty_bus_event_t *ev, void *args, void *ud)
{
    (void)ev;
    re_t *re = ud;
    log_name(args, "outer");
    lusty_bus_handler_t h = {.cb = rec_cb, .ud = &re->recs[1], .destroy = count_destroy};
    assert_int_equal(lusty_bus_subscribe(&re->ids[1], re->bus, "b", &h, 0), 0);
    re->inner_rc = lusty_bus_publish(&re->inner, re->bus, "b", args);
    /* Removed by the nested publish, but still alive while we run. */
    re->seen_destroyed = g_destroyed;
    lusty_bus_event_push(ev, (lusty_bus_value_t){.ptr = "outer"});
    return C;
}

/* On "b": removes the outer subscriber. */
static int killer_cb(lusty_bus_event_t *ev, void *args, void *ud)
{
    re_t *re = ud;
    log_name(args, "killer");
    assert_int_equal(lusty_bus_unsubscribe(re->bus, "", re->ids[0]), 0);
    lusty_bus_event_push(ev, (lusty_bus_value_t){.ptr = "inner"});
    return C;
}

static void test_reentrant_nested_publish(void **state)
{
    (void)state;
    lusty_bus_t *bus = lusty_bus_new();
    ctx_t cx = {LUSTY_BUF_INIT};
    re_t re = {.bus = bus};
    re.recs[0] = (rec_t){"after", C, 0};
    re.recs[1] = (rec_t){"fresh", C, 1};
    lusty_bus_result_init(&re.inner);
    g_destroyed = 0;
    re.ids[0] = sub_cb(bus, "a", nester_cb, &re);
    sub_rec(bus, "a", &re.recs[0], 0);
    sub_cb(bus, "b", killer_cb, &re);

    lusty_bus_result_t res = LUSTY_BUS_RESULT_INIT;
    lusty_buf_puts(&cx.log, "");
    assert_int_equal(lusty_bus_publish(&res, bus, "a", &cx), 0);
    /* The nested publish started after "fresh" was added, so it sees it. */
    assert_string_equal(cx.log.data, "outer killer fresh after");
    assert_int_equal(re.inner_rc, 0);
    assert_int_equal(re.inner.len, 2);
    assert_string_equal(re.inner.values[0].ptr, "inner");
    assert_string_equal(re.inner.values[1].ptr, "fresh");
    assert_int_equal(res.len, 1);
    assert_string_equal(res.values[0].ptr, "outer");
    /* Freed only when the outermost publish ended. */
    assert_int_equal(re.seen_destroyed, 0);
    assert_int_equal(g_destroyed, 1);
    assert_int_equal(lusty_bus_channel_count(lusty_bus_find(bus, "a")), 1);

    lusty_bus_result_free(&res);
    lusty_bus_result_free(&re.inner);
    lusty_buf_free(&cx.log);
    lusty_bus_free(bus);
}

/* On "a:b:c": removes itself, then the now empty channels c and b. */
static int pruner_cb(lusty_bus_event_t *ev, void *args, void *ud)
{
    re_t *re = ud;
    log_name(args, "pruner");
    lusty_bus_channel_t *c = lusty_bus_event_channel(ev);
    lusty_bus_channel_t *b = lusty_bus_channel_parent(c);
    assert_int_equal(lusty_bus_channel_unsubscribe(c, lusty_bus_event_id(ev)), 0);
    assert_int_equal(lusty_bus_channel_remove(c), 0);
    assert_int_equal(lusty_bus_channel_remove(b), 0);
    re->seen_destroyed = g_destroyed;
    return C;
}

static void test_reentrant_remove_channel(void **state)
{
    (void)state;
    lusty_bus_t *bus = lusty_bus_new();
    ctx_t cx = {LUSTY_BUF_INIT};
    re_t re = {.bus = bus};
    rec_t a = {"a", C, 0};
    g_destroyed = 0;
    sub_cb(bus, "a:b:c", pruner_cb, &re);
    sub_rec(bus, "a", &a, 0);
    assert_int_equal(lusty_bus_channel_total(bus), 4);

    /* The publish still bubbles from the detached channels up to "a". */
    assert_string_equal(run(bus, "a:b:c", &cx), "pruner a");
    assert_int_equal(re.seen_destroyed, 0);
    assert_int_equal(g_destroyed, 1);
    assert_int_equal(lusty_bus_channel_total(bus), 2);
    assert_null(lusty_bus_find(bus, "a:b"));
    assert_string_equal(run(bus, "a:b:c", &cx), "a");

    lusty_buf_free(&cx.log);
    lusty_bus_free(bus);
}

/* ---- publish plans, nearest, enter/leave ---- */

/* Plans are cached per channel: every change between publishes shows. */
static void test_plan_follows_changes(void **state)
{
    (void)state;
    lusty_bus_t *bus = lusty_bus_new();
    ctx_t cx = {LUSTY_BUF_INIT};
    rec_t c = {"c", C, 0}, b = {"b", C, 0}, a = {"a", C, 0}, a0 = {"a0", C, 0};
    uint64_t m0 = lusty_bus_mutations(bus);
    uint64_t idc = sub_rec(bus, "a:b:c", &c, 0);
    sub_rec(bus, "a:b", &b, 0);
    uint64_t ida = sub_rec(bus, "a", &a, 0);
    assert_true(lusty_bus_mutations(bus) == m0 + 3);
    assert_string_equal(run(bus, "a:b:c:x", &cx), "c b a");
    assert_string_equal(run(bus, "a:b:c", &cx), "c b a");

    uint64_t ida0 = sub_rec(bus, "a", &a0, 1);
    assert_string_equal(run(bus, "a:b:c", &cx), "c b a0 a");
    assert_int_equal(lusty_bus_channel_set_priority(lusty_bus_find(bus, "a"), ida0, 2), 0);
    assert_string_equal(run(bus, "a:b:c", &cx), "c b a a0");
    assert_int_equal(lusty_bus_unsubscribe(bus, "", ida), 0);
    assert_string_equal(run(bus, "a:b:c", &cx), "c b a0");
    assert_int_equal(lusty_bus_unsubscribe(bus, "", idc), 0);
    assert_string_equal(run(bus, "a:b:c", &cx), "b a0");

    /* A removed channel: the publish starts at its parent. */
    uint64_t m1 = lusty_bus_mutations(bus);
    assert_int_equal(lusty_bus_channel_remove(lusty_bus_find(bus, "a:b:c")), 0);
    assert_true(lusty_bus_mutations(bus) > m1);
    assert_string_equal(run(bus, "a:b:c", &cx), "b a0");
    /* Creating a channel is no mutation, and a new channel gets its plan. */
    m1 = lusty_bus_mutations(bus);
    lusty_bus_get(bus, "a:b:c");
    assert_true(lusty_bus_mutations(bus) == m1);
    assert_string_equal(run(bus, "a:b:c", &cx), "b a0");

    lusty_buf_free(&cx.log);
    lusty_bus_free(bus);
}

/* On "a:b": moves "z" to the front of "a" and removes "b2", its own
 * channel's next subscriber. */
static int ancestor_mover_cb(lusty_bus_event_t *ev, void *args, void *ud)
{
    (void)ev;
    re_t *re = ud;
    log_name(args, "x");
    if (!re->once++) {
        assert_int_equal(
            lusty_bus_channel_set_priority(lusty_bus_find(re->bus, "a"), re->ids[1], 1), 0);
        assert_int_equal(lusty_bus_unsubscribe(re->bus, "", re->ids[0]), 0);
    }
    return C;
}

/* A change made by a callback while a publish runs from a (warm) plan: the
 * rest of the publish follows the re-entrancy rules, not the plan. */
static void test_reentrant_change_during_plan(void **state)
{
    (void)state;
    lusty_bus_t *bus = lusty_bus_new();
    ctx_t cx = {LUSTY_BUF_INIT};
    re_t re = {.bus = bus};
    re.recs[0] = (rec_t){"b2", C, 0};
    re.recs[1] = (rec_t){"z", C, 0};
    re.recs[2] = (rec_t){"y", C, 0};
    re.once = 1; /* the first publish only warms the plan */
    sub_cb(bus, "a:b", ancestor_mover_cb, &re);
    re.ids[0] = sub_rec(bus, "a:b", &re.recs[0], 0);
    sub_rec(bus, "a", &re.recs[2], 0);
    re.ids[1] = sub_rec(bus, "a", &re.recs[1], 0);
    assert_string_equal(run(bus, "a:b", &cx), "x b2 y z");

    /* b2 is skipped at once; "a" is reached after the move, so its new
     * order applies. */
    re.once = 0;
    assert_string_equal(run(bus, "a:b", &cx), "x z y");
    assert_string_equal(run(bus, "a:b", &cx), "x z y");

    lusty_buf_free(&cx.log);
    lusty_bus_free(bus);
}

/* On "a": the first time, subscribes "fresh" on "a" and publishes on "a"
 * again, which rebuilds the plan the outer publish is walking. */
static int replanner_cb(lusty_bus_event_t *ev, void *args, void *ud)
{
    (void)ev;
    re_t *re = ud;
    log_name(args, "x");
    if (!re->once++) {
        lusty_bus_handler_t h = {.cb = rec_cb, .ud = &re->recs[1], .destroy = count_destroy};
        assert_int_equal(lusty_bus_subscribe(&re->ids[1], re->bus, "a", &h, 0), 0);
        lusty_buf_puts(&((ctx_t *)args)->log, " [");
        re->inner_rc = lusty_bus_publish(NULL, re->bus, "a:b", args);
        lusty_buf_puts(&((ctx_t *)args)->log, " ]");
    }
    return C;
}

static void test_reentrant_plan_rebuilt_by_nested_publish(void **state)
{
    (void)state;
    lusty_bus_t *bus = lusty_bus_new();
    ctx_t cx = {LUSTY_BUF_INIT};
    re_t re = {.bus = bus};
    re.recs[0] = (rec_t){"y", C, 0};
    re.recs[1] = (rec_t){"fresh", C, 0};
    re.recs[2] = (rec_t){"root", C, 0};
    re.once = 1;
    sub_cb(bus, "a", replanner_cb, &re);
    sub_rec(bus, "a", &re.recs[0], 0);
    sub_rec(bus, "", &re.recs[2], 0);
    assert_string_equal(run(bus, "a:b", &cx), "x y root");

    /* The nested publish sees "fresh" (it started after it was added); the
     * outer one goes on from its old plan (kept alive: ASan would see a use
     * after free) and does not. */
    re.once = 0;
    assert_string_equal(run(bus, "a:b", &cx), "x [ x y fresh root ] y root");
    assert_int_equal(re.inner_rc, 0);
    assert_string_equal(run(bus, "a:b", &cx), "x y fresh root");

    lusty_buf_free(&cx.log);
    lusty_bus_free(bus);
}

static void test_nearest(void **state)
{
    (void)state;
    lusty_bus_t *bus = lusty_bus_new();
    lusty_bus_channel_t *ab = lusty_bus_get(bus, "a:b");
    size_t before = lusty_bus_channel_total(bus);
    assert_ptr_equal(lusty_bus_nearest(bus, "a:b:c:d"), ab);
    assert_ptr_equal(lusty_bus_nearest(bus, "a::b"), ab);
    assert_ptr_equal(lusty_bus_nearest(bus, "x"), lusty_bus_root(bus));
    assert_ptr_equal(lusty_bus_nearest(bus, ""), lusty_bus_root(bus));
    /* With lengths, parts need not be NUL-terminated. */
    const char *parts[] = {"apple", "bee", "c"};
    const size_t lens[] = {1, 1, 1};
    assert_ptr_equal(lusty_bus_nearestv(bus, parts, lens, 3), ab);
    assert_ptr_equal(lusty_bus_nearestv(bus, parts, NULL, 3), lusty_bus_root(bus));
    assert_ptr_equal(lusty_bus_nearestv(bus, parts, lens, 0), lusty_bus_root(bus));
    const char *ab_parts[] = {"a", "b", "zz"};
    assert_ptr_equal(lusty_bus_nearestv(bus, ab_parts, NULL, 3), ab);
    assert_int_equal(lusty_bus_channel_total(bus), before);

    /* Many children: the binary search gives the same answers. */
    char names[20][4];
    for (int i = 0; i < 20; i++) {
        snprintf(names[i], sizeof names[i], "%c", 'c' + i);
        lusty_bus_channel_add_child(ab, names[i], 1);
    }
    for (int i = 0; i < 20; i++) {
        const char *p[] = {"a", "b", names[i], "zz"};
        size_t l[] = {1, 1, 1, 2};
        lusty_bus_channel_t *ch = lusty_bus_nearestv(bus, p, l, 4);
        assert_ptr_equal(ch, lusty_bus_nearestv(bus, p, NULL, 4));
        assert_string_equal(lusty_bus_channel_name(ch, NULL), names[i]);
    }
    lusty_bus_free(bus);
}

/* lusty_bus_enter()/leave(): removals wait for the outermost leave. */
static void test_enter_leave(void **state)
{
    (void)state;
    lusty_bus_t *bus = lusty_bus_new();
    rec_t a = {"a", C, 0};
    g_destroyed = 0;
    uint64_t id = sub_rec(bus, "x:y", &a, 0);
    uint64_t next = lusty_bus_next_id(bus);
    assert_true(next == id + 1);
    assert_true(*lusty_bus_mutations_ptr(bus) == lusty_bus_mutations(bus));

    lusty_bus_enter(bus);
    lusty_bus_enter(bus);
    assert_int_equal(lusty_bus_unsubscribe(bus, "", id), 0);
    lusty_bus_channel_t *y = lusty_bus_find(bus, "x:y");
    assert_int_equal(lusty_bus_channel_remove(y), 0);
    assert_null(lusty_bus_find(bus, "x:y"));
    /* Still allocated: its parent can be read. */
    assert_ptr_equal(lusty_bus_channel_parent(y), lusty_bus_find(bus, "x"));
    lusty_bus_leave(bus);
    assert_int_equal(g_destroyed, 0);
    lusty_bus_leave(bus);
    assert_int_equal(g_destroyed, 1);
    lusty_bus_free(bus);
}

/* ---- errors ---- */

static void test_error_propagation(void **state)
{
    (void)state;
    static const struct {
        fail_t fail;
        int rc;
        const char *error;
        const char *log;
    } rows[] = {
        {{LUSTY_ERUNTIME, "boom"}, LUSTY_ERUNTIME, "boom (-9)", "x fail"},
        {{LUSTY_EIO, NULL}, LUSTY_EIO, "input/output error", "x fail"},
        /* A message without a failure is dropped. */
        {{C, "ignored"}, 0, NULL, "x fail y root"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        lusty_bus_t *bus = lusty_bus_new();
        ctx_t cx = {LUSTY_BUF_INIT};
        rec_t x = {"x", C, 1}, y = {"y", C, 0}, root = {"root", C, 0};
        fail_t f = rows[i].fail;
        sub_rec(bus, "a", &x, 0);
        sub_cb(bus, "a", fail_cb, &f);
        sub_rec(bus, "a", &y, 0);
        sub_rec(bus, "", &root, 0);

        lusty_bus_result_t res = LUSTY_BUS_RESULT_INIT;
        res.error = lusty_strdup("stale");
        lusty_bus_result_clear(&res);
        lusty_buf_puts(&cx.log, "");
        assert_int_equal(lusty_bus_publish(&res, bus, "a", &cx), rows[i].rc);
        assert_string_equal(cx.log.data, rows[i].log);
        if (rows[i].error)
            assert_string_equal(res.error, rows[i].error);
        else
            assert_null(res.error);
        /* Values pushed before the failure stay, for the caller to release. */
        assert_int_equal(res.len, 2);
        assert_string_equal(res.values[1].ptr, "partial");

        /* Without a result list the code still comes back. */
        assert_int_equal(lusty_bus_publish(NULL, bus, "a", &cx), rows[i].rc);
        lusty_bus_result_free(&res);
        lusty_buf_free(&cx.log);
        lusty_bus_free(bus);
    }
}

static int relay_cb(lusty_bus_event_t *ev, void *args, void *ud)
{
    lusty_bus_t *bus = ud;
    lusty_bus_result_t inner = LUSTY_BUS_RESULT_INIT;
    int rc = lusty_bus_publish(&inner, bus, "deep", args);
    if (rc < 0)
        rc = lusty_bus_event_error(ev, rc, "relay: %s", inner.error);
    lusty_bus_result_free(&inner);
    return rc < 0 ? rc : C;
}

static void test_nested_error_propagation(void **state)
{
    (void)state;
    lusty_bus_t *bus = lusty_bus_new();
    ctx_t cx = {LUSTY_BUF_INIT};
    fail_t f = {LUSTY_ENOENT, "gone"};
    rec_t after = {"after", C, 0};
    sub_cb(bus, "top", relay_cb, bus);
    sub_rec(bus, "top", &after, 0);
    sub_cb(bus, "deep", fail_cb, &f);

    lusty_bus_result_t res = LUSTY_BUS_RESULT_INIT;
    lusty_buf_puts(&cx.log, "");
    assert_int_equal(lusty_bus_publish(&res, bus, "top", &cx), LUSTY_ENOENT);
    assert_string_equal(res.error, "relay: gone (-4)");
    assert_string_equal(cx.log.data, "fail");
    lusty_bus_result_free(&res);
    lusty_buf_free(&cx.log);
    lusty_bus_free(bus);
}

/* ---- events, lifecycle ---- */

typedef struct {
    lusty_buf_t seen;
} where_t;

static int where_cb(lusty_bus_event_t *ev, void *args, void *ud)
{
    (void)args;
    where_t *w = ud;
    lusty_bus_subscriber_t s;
    lusty_bus_channel_t *ch = lusty_bus_event_channel(ev);
    assert_int_equal(lusty_bus_channel_lookup(&s, ch, lusty_bus_event_id(ev)), 0);
    assert_ptr_equal(s.channel, ch);
    lusty_buf_puts(&w->seen, "[");
    lusty_bus_channel_path(ch, &w->seen);
    lusty_buf_puts(&w->seen, "]");
    return C;
}

static void test_event_channel_and_id(void **state)
{
    (void)state;
    lusty_bus_t *bus = lusty_bus_new();
    where_t w = {LUSTY_BUF_INIT};
    lusty_bus_handler_t h = {.cb = where_cb, .ud = &w};
    const char *parts[] = {"a", "b"};
    assert_int_equal(lusty_bus_subscribev(NULL, bus, parts, 2, &h, 0), 0);
    assert_int_equal(lusty_bus_subscribe(NULL, bus, "a", &h, 0), 0);
    assert_int_equal(lusty_bus_subscribe(NULL, bus, "", &h, 0), 0);
    assert_int_equal(lusty_bus_publish(NULL, bus, "a:b:zzz", NULL), 0);
    assert_string_equal(w.seen.data, "[a:b][a][]");
    lusty_buf_free(&w.seen);
    lusty_bus_free(bus);
}

static void test_subscribe_without_callback_fails(void **state)
{
    (void)state;
    lusty_bus_t *bus = lusty_bus_new();
    lusty_bus_handler_t h = {.destroy = count_destroy};
    uint64_t id = 77;
    const char *parts[] = {"x"};
    g_destroyed = 0;
    assert_int_equal(lusty_bus_subscribe(&id, bus, "x:y", &h, 0), LUSTY_EINVAL);
    assert_int_equal(id, 0);
    id = 77;
    assert_int_equal(lusty_bus_subscribev(&id, bus, parts, 1, &h, 0), LUSTY_EINVAL);
    assert_int_equal(id, 0);
    assert_int_equal(lusty_bus_channel_subscribe(&id, lusty_bus_root(bus), NULL, 0), LUSTY_EINVAL);
    assert_int_equal(lusty_bus_channel_total(bus), 1);
    assert_int_equal(g_destroyed, 0);
    lusty_bus_free(bus);
}

static void test_free_releases_everything(void **state)
{
    (void)state;
    lusty_bus_t *bus = lusty_bus_new();
    rec_t r = {"r", C, 0};
    pred_t p = {NULL, 1, 0};
    g_destroyed = 0;
    char path[32];
    for (int i = 0; i < 50; i++) {
        snprintf(path, sizeof path, "t%d:u%d:v", i % 5, i);
        sub_rec(bus, path, &r, i % 3);
    }
    lusty_bus_handler_t h = {rec_cb, &r, pred_cb, &p, count_destroy};
    assert_int_equal(lusty_bus_subscribe(NULL, bus, "", &h, 0), 0);
    lusty_bus_get(bus, "empty:channels:only");
    lusty_bus_free(bus);
    assert_int_equal(g_destroyed, 51);
    lusty_bus_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_and_array_forms),
        cmocka_unit_test(test_find_creates_nothing),
        cmocka_unit_test(test_channel_tree),
        cmocka_unit_test(test_channel_remove),
        cmocka_unit_test(test_bubbling_order),
        cmocka_unit_test(test_stop_and_continue),
        cmocka_unit_test(test_default_is_stop),
        cmocka_unit_test(test_results_accumulate),
        cmocka_unit_test(test_predicates),
        cmocka_unit_test(test_priority_insert),
        cmocka_unit_test(test_set_priority),
        cmocka_unit_test(test_lookup_by_id),
        cmocka_unit_test(test_remove_by_id),
        cmocka_unit_test(test_publish_unknown_path_creates_nothing),
        cmocka_unit_test(test_reentrant_unsubscribe),
        cmocka_unit_test(test_reentrant_subscribe),
        cmocka_unit_test(test_reentrant_priority),
        cmocka_unit_test(test_reentrant_nested_publish),
        cmocka_unit_test(test_reentrant_remove_channel),
        cmocka_unit_test(test_plan_follows_changes),
        cmocka_unit_test(test_reentrant_change_during_plan),
        cmocka_unit_test(test_reentrant_plan_rebuilt_by_nested_publish),
        cmocka_unit_test(test_nearest),
        cmocka_unit_test(test_enter_leave),
        cmocka_unit_test(test_error_propagation),
        cmocka_unit_test(test_nested_error_propagation),
        cmocka_unit_test(test_event_channel_and_id),
        cmocka_unit_test(test_subscribe_without_callback_fails),
        cmocka_unit_test(test_free_releases_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
