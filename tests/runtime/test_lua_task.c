/* Tests of Lua tasks and the time budget: the checks inserted into source,
 * tasks that sleep and wait on the thread pool, cancelling, the budget
 * stopping a compiled loop and a loop in the app's config; every test ends
 * with uv_loop_close() returning 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "../../runtime/src/lua/lua_internal.h"
#include "lusty/alloc.h"
#include "lusty/error.h"
#include "lusty/lua_task.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the inserted checks ---- */

static void check_rewrite(const char *src, const char *want)
{
    lusty_buf_t out = LUSTY_BUF_INIT;
    lusty__lua_insert_checks(&out, src, strlen(src));
    const char *prefix = "local __lusty_check = __lusty_budget_check;";
    assert_int_equal(strncmp(out.data, prefix, strlen(prefix)), 0);
    assert_string_equal(out.data + strlen(prefix), want);
    lusty_buf_free(&out);
}

static void test_checks_rewrite(void **state)
{
    (void)state;
    static const struct {
        const char *src, *want;
    } rows[] = {
        {"while true do end", "while true do __lusty_check(); end"},
        {"for i = 1, 2 do x() end", "for i = 1, 2 do __lusty_check(); x() end"},
        {"repeat until x", "repeat __lusty_check(); until x"},
        {"local function f(a, b) return a end",
         "local function f(a, b) __lusty_check(); return a end"},
        {"t.f = function(...) end", "t.f = function(...) __lusty_check(); end"},
        {"function a.b:c() end", "function a.b:c() __lusty_check(); end"},
        {"::top:: goto top", "::top::  __lusty_check(); goto top"},
        /* Nothing inside strings, long strings or comments. */
        {"s = 'do repeat' -- while do\n", "s = 'do repeat' -- while do\n"},
        {"s = [==[ do ]] do ]==]", "s = [==[ do ]] do ]==]"},
        {"--[[ do\nrepeat ]] x = \"\\\" do\"", "--[[ do\nrepeat ]] x = \"\\\" do\""},
        /* Names that contain keywords, and numbers with signs. */
        {"undo = redo + 0x1e-1 + 1e-2", "undo = redo + 0x1e-1 + 1e-2"},
        /* A call after `do` cannot be read as a call of the line before. */
        {"do\n(f)()\nend", "do __lusty_check();\n(f)()\nend"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        check_rewrite(rows[i].src, rows[i].want);
}

/* ---- tasks ---- */

typedef struct {
    int calls;
    int status;
    char result[256];
} done_t;

static void on_done(lusty_lua_task_t *task, int status, void *data)
{
    done_t *d = data;
    d->calls++;
    d->status = status;
    lua_State *co = lusty_lua_task_state(task);
    const char *s = status ? lusty_lua_task_error(task) : lua_tostring(co, 1);
    snprintf(d->result, sizeof d->result, "%s", s ? s : "(nil)");
}

/* A host on `loop` with `budget_ms` for its timers and app loading. */
static lusty_lua_host_t *new_host(uv_loop_t *loop, const char *root, uint64_t budget_ms)
{
    lusty_lua_host_t *h = NULL;
    char *err = NULL;
    lusty_lua_options_t opts = {.root = root};
    assert_int_equal(lusty_lua_host_new(&h, &opts, &err), 0);
    lusty_lua_host_set_loop(h, loop, budget_ms);
    return h;
}

/* Starts `code` as a task (loaded as a file of the app when `file`). */
static lusty_lua_task_t *start(lusty_lua_host_t *h, const char *code, uint64_t budget_ms,
                               done_t *d)
{
    lua_State *L = lusty_lua_host_state(h);
    assert_int_equal(luaL_loadstring(L, code), 0);
    lusty_lua_task_t *t = NULL;
    assert_int_equal(lusty_lua_task_start(&t, h, 0, budget_ms, on_done, d), 0);
    return t;
}

static void close_loop(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(loop), 0);
}

static void test_sleep_and_return(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    lusty_lua_host_t *h = new_host(&loop, NULL, 0);
    done_t a = {0}, b = {0}, c = {0};
    /* Two tasks wait at once; a third returns without waiting. */
    assert_non_null(start(h, "lusty.sleep(0.05) return 'a'", 0, &a));
    assert_non_null(start(h, "local t = {} for i = 1, 3 do lusty.sleep(0) t[i] = i end "
                             "return table.concat(t)",
                          0, &b));
    assert_null(start(h, "return 'c'", 0, &c));
    assert_int_equal(c.calls, 1);
    assert_string_equal(c.result, "c");
    assert_int_equal(lusty_lua_host_waiting(h), 2);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(a.calls, 1);
    assert_string_equal(a.result, "a");
    assert_string_equal(b.result, "123");
    assert_int_equal(lusty_lua_host_waiting(h), 0);
    /* Waiting inside a coroutine the code made itself is an error. */
    done_t d = {0};
    assert_null(start(h, "return coroutine.wrap(function() lusty.sleep(0) end)()", 0, &d));
    assert_int_equal(d.status, LUSTY_ERUNTIME);
    assert_non_null(strstr(d.result, "cannot wait inside a coroutine"));
    lusty_lua_host_free(h);
    close_loop(&loop);
}

static void test_cancel_and_free_while_waiting(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    lusty_lua_host_t *h = new_host(&loop, NULL, 0);
    done_t a = {0}, b = {0};
    lusty_lua_task_t *t = start(h, "lusty.sleep(10) return 'never'", 0, &a);
    assert_non_null(t);
    lusty_lua_task_cancel(t);
    /* A task and a timer still pending when the host goes. */
    assert_non_null(start(h, "lusty.timer(10, function() end) lusty.sleep(10)", 0, &b));
    lusty_lua_host_free(h);
    close_loop(&loop);
    assert_int_equal(a.calls, 0);
    assert_int_equal(b.calls, 0);
}

/* Many timers due at once: their tasks resume over several turns of the
 * loop (a few per turn, I/O polled in between), all of them in the end;
 * the host goes with some of them still waiting for their turn. */
static void test_wake_ups_spread_over_turns(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    lusty_lua_host_t *h = new_host(&loop, NULL, 0);
    done_t d = {0};
    for (int i = 0; i < 100; i++)
        assert_non_null(start(h, "lusty.sleep(0.01) return 'woke'", 0, &d));
    usleep(30 * 1000); /* all of them due at the first turn */
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_true(d.calls > 0 && d.calls <= 40);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(d.calls, 100);
    assert_string_equal(d.result, "woke");
    /* Some left in their queue, one cancelled there, when the host goes
     * (equal due times fire in the order they were set: the last waits). */
    done_t e = {0};
    lusty_lua_task_t *last = NULL;
    for (int i = 0; i < 100; i++)
        assert_non_null(last = start(h, "lusty.sleep(0.01) return 'woke'", 0, &e));
    usleep(30 * 1000);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_true(e.calls > 0 && e.calls <= 40);
    lusty_lua_task_cancel(last);
    lusty_lua_host_free(h);
    close_loop(&loop);
    assert_true(e.calls <= 40);
}

/* ---- waiting on the thread pool ---- */

typedef struct {
    long n, sum;
} work_t;

static void sum_work(void *data)
{
    work_t *w = data;
    for (long i = 1; i <= w->n; i++)
        w->sum += i;
}

static int sum_resume(lua_State *L, void *data)
{
    work_t *w = data;
    int n = 0;
    if (L) {
        lua_pushinteger(L, (lua_Integer)w->sum);
        n = 1;
    }
    lusty_free(w);
    return n;
}

static int l_sum(lua_State *L)
{
    work_t *w = lusty_calloc(1, sizeof *w);
    w->n = (long)luaL_checkinteger(L, 1);
    return lusty_lua_wait_work(L, sum_work, sum_resume, w);
}

static void test_wait_work(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    lusty_lua_host_t *h = new_host(&loop, NULL, 0);
    lua_State *L = lusty_lua_host_state(h);
    lua_pushcfunction(L, l_sum);
    lua_setglobal(L, "sum");
    done_t a = {0}, b = {0};
    assert_non_null(start(h, "return tostring(sum(100) + sum(10))", 0, &a));
    /* Cancelled while the pool works: the result is dropped, not leaked. */
    lusty_lua_task_t *t = start(h, "return sum(1000)", 0, &b);
    lusty_lua_task_cancel(t);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_string_equal(a.result, "5105");
    assert_int_equal(b.calls, 0);
    /* Outside a task it raises (and frees the work's data). */
    assert_int_equal(luaL_dostring(L, "return sum(1)"), 1);
    assert_non_null(strstr(lua_tostring(L, -1), "can only wait inside a request or a timer"));
    lua_pop(L, 1);
    lusty_lua_host_free(h);
    close_loop(&loop);
}

/* Batched work records the pool thread it ran on and its place in the
 * order of all batched work. */
typedef struct {
    long n, sum;
    pthread_t thread;
    int order;
} batched_t;

static atomic_int batched_order;

static void batched_work(void *data)
{
    batched_t *w = data;
    w->thread = pthread_self();
    w->order = atomic_fetch_add(&batched_order, 1);
    for (long i = 1; i <= w->n; i++)
        w->sum += i;
}

/* The batch runner: each item in turn; the batch sizes it saw. */
static unsigned batch_sizes[8];
static int nbatches;

static void batched_run(void **items, unsigned n)
{
    if (nbatches < 8)
        batch_sizes[nbatches++] = n;
    for (unsigned i = 0; i < n; i++)
        batched_work(items[i]);
}

static batched_t *batched_seen[8];
static int nbatched_seen;

static int batched_resume(lua_State *L, void *data)
{
    batched_t *w = data;
    int n = 0;
    if (L) {
        lua_pushinteger(L, (lua_Integer)w->sum);
        n = 1;
        batched_seen[nbatched_seen++] = w; /* freed by the test */
    } else {
        lusty_free(w);
    }
    return n;
}

static int l_batched_sum(lua_State *L)
{
    batched_t *w = lusty_calloc(1, sizeof *w);
    w->n = (long)luaL_checkinteger(L, 1);
    /* The key: which batch the work may share. */
    return lusty_lua_wait_work_batched(L, batched_run,
                                       (const void *)(intptr_t)luaL_checkinteger(L, 2),
                                       batched_resume, w);
}

/* Work of one key asked for in one turn runs as one job: on one pool
 * thread, in the order asked; another key is a job of its own; a task
 * cancelled while its work waits to be sent, and a host freed with work
 * not sent, free the work's data (ASan). */
static void test_wait_work_batched(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    lusty_lua_host_t *h = new_host(&loop, NULL, 0);
    lua_State *L = lusty_lua_host_state(h);
    lua_pushcfunction(L, l_batched_sum);
    lua_setglobal(L, "bsum");
    done_t d[4] = {{0}};
    assert_non_null(start(h, "return tostring(bsum(10, 1))", 0, &d[0]));
    assert_non_null(start(h, "return tostring(bsum(100, 1))", 0, &d[1]));
    assert_non_null(start(h, "return tostring(bsum(1000, 1))", 0, &d[2]));
    lusty_lua_task_t *gone = start(h, "return tostring(bsum(5, 1))", 0, &d[3]);
    lusty_lua_task_cancel(gone);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_string_equal(d[0].result, "55");
    assert_string_equal(d[1].result, "5050");
    assert_string_equal(d[2].result, "500500");
    assert_int_equal(d[3].calls, 0);
    assert_int_equal(nbatched_seen, 3);
    /* One job of four items (the cancelled task's work runs too). */
    assert_int_equal(nbatches, 1);
    assert_int_equal(batch_sizes[0], 4);
    for (int i = 0; i < 3; i++) {
        assert_true(pthread_equal(batched_seen[i]->thread, batched_seen[0]->thread));
        assert_int_equal(batched_seen[i]->order, batched_seen[0]->order + i);
    }
    for (int i = 0; i < 3; i++)
        lusty_free(batched_seen[i]);
    /* Work asked for with two keys, then a host freed before it is sent. */
    nbatched_seen = 0;
    done_t e[2] = {{0}};
    assert_non_null(start(h, "return tostring(bsum(3, 1))", 0, &e[0]));
    assert_non_null(start(h, "return tostring(bsum(4, 2))", 0, &e[1]));
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_string_equal(e[0].result, "6");
    assert_string_equal(e[1].result, "10");
    assert_int_equal(nbatches, 3); /* a job per key */
    for (int i = 0; i < nbatched_seen; i++)
        lusty_free(batched_seen[i]);
    nbatched_seen = 0;
    done_t f = {0};
    assert_non_null(start(h, "return tostring(bsum(3, 1))", 0, &f));
    lusty_lua_host_free(h);
    close_loop(&loop);
    assert_int_equal(f.calls, 0);
}

/* Gated work: an item with a gate waits at it before it runs; each item
 * notes when it ran among all gated work, and says it ran. */
typedef struct {
    uv_sem_t *gate, *ran;
    int order;
} gated_t;

static atomic_int gated_order;
static unsigned gated_sizes[8];
static int ngated;

static void gated_run(void **items, unsigned n)
{
    if (ngated < 8)
        gated_sizes[ngated++] = n;
    for (unsigned i = 0; i < n; i++) {
        gated_t *g = items[i];
        if (g->gate)
            uv_sem_wait(g->gate);
        g->order = atomic_fetch_add(&gated_order, 1);
        if (g->ran)
            uv_sem_post(g->ran);
    }
}

static int gated_resume(lua_State *L, void *data)
{
    (void)L;
    (void)data; /* the test owns it */
    return 0;
}

static gated_t gated_items[4];

static int l_gated(lua_State *L)
{
    gated_t *g = &gated_items[luaL_checkinteger(L, 1)];
    return lusty_lua_wait_work_batched(L, gated_run, NULL, gated_resume, g);
}

/* A host on `loop` with `gated` as a global, and no gated work seen yet. */
static lusty_lua_host_t *gated_host(uv_loop_t *loop)
{
    lusty_lua_host_t *h = new_host(loop, NULL, 0);
    lua_State *L = lusty_lua_host_state(h);
    lua_pushcfunction(L, l_gated);
    lua_setglobal(L, "gated");
    memset(gated_items, 0, sizeof gated_items);
    ngated = 0;
    return h;
}

/* While a batch is in the pool, the next one waits for it to come back
 * (gathering what more is asked for meanwhile), and is sent as it comes
 * back; but it waits 2 ms at most, so that slow work does not hold it up:
 * here the first batch is held until the second has run, which would
 * never happen if the second waited for it. */
static void test_batch_waits_for_the_one_in_the_pool(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    lusty_lua_host_t *h = gated_host(&loop);
    uv_sem_t gate, ran;
    uv_sem_init(&gate, 0);
    uv_sem_init(&ran, 0);

    /* 1. What is asked for while a batch is in the pool waits (the loop's
     * clock says less than 2 ms passed: checked when the test was not
     * held up itself), gathers more, and goes as one batch. */
    lusty__lua_t *S = lusty__lua_state(lusty_lua_host_state(h));
    gated_items[0] = (gated_t){.gate = &gate, .ran = &ran};
    done_t d[3] = {{0}};
    start(h, "gated(0) return 'a'", 0, &d[0]);
    uv_run(&loop, UV_RUN_NOWAIT); /* sent, held at the gate */
    uint64_t t0 = uv_hrtime();
    start(h, "gated(1) return 'b'", 0, &d[1]);
    uv_run(&loop, UV_RUN_NOWAIT);
    bool in_time = uv_hrtime() - t0 < 1000000;
    if (in_time)
        assert_non_null(S->batch); /* b waits */
    start(h, "gated(2) return 'c'", 0, &d[2]);
    uv_sem_post(&gate);
    uv_sem_wait(&ran);
    while (d[0].calls + d[1].calls + d[2].calls < 3)
        uv_run(&loop, UV_RUN_ONCE);
    if (in_time) {
        assert_int_equal(ngated, 2);
        assert_int_equal(gated_sizes[1], 2); /* b and c */
    }

    /* 2. The first batch is held in the pool until the next has run: that
     * one goes after 2 ms. */
    ngated = 0;
    gated_items[0] = (gated_t){.gate = &gate};
    gated_items[1] = (gated_t){.ran = &ran};
    done_t e[2] = {{0}};
    start(h, "gated(0) return 'a'", 0, &e[0]);
    uv_run(&loop, UV_RUN_NOWAIT); /* sent, held at the gate */
    start(h, "gated(1) return 'b'", 0, &e[1]);
    while (!e[1].calls)
        uv_run(&loop, UV_RUN_ONCE);
    assert_int_equal(e[0].calls, 0);
    uv_sem_post(&gate);
    while (!e[0].calls)
        uv_run(&loop, UV_RUN_ONCE);
    assert_true(gated_items[1].order < gated_items[0].order);

    lusty_lua_host_free(h);
    close_loop(&loop);
    uv_sem_destroy(&gate);
    uv_sem_destroy(&ran);
}

/* A host freed while one batch is in the pool and the next waits for it:
 * the one in the pool comes back to no host, its tasks were cancelled (no
 * done call), and nothing leaks or is used after it is freed (ASan). */
static void test_host_freed_with_a_batch_in_the_pool(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    lusty_lua_host_t *h = gated_host(&loop);
    uv_sem_t gate;
    uv_sem_init(&gate, 0);
    gated_items[0].gate = &gate;
    done_t d[2] = {{0}};
    start(h, "gated(0) return 'a'", 0, &d[0]);
    uv_run(&loop, UV_RUN_NOWAIT); /* sent, held at the gate */
    start(h, "gated(1) return 'b'", 0, &d[1]);
    uv_run(&loop, UV_RUN_NOWAIT); /* b waits for a */
    lusty_lua_host_free(h);
    uv_sem_post(&gate);
    close_loop(&loop); /* a comes back */
    assert_int_equal(d[0].calls, 0);
    assert_int_equal(d[1].calls, 0);
    uv_sem_destroy(&gate);
}

/* ---- the budget ---- */

static char *write_project(const char *config, const char *handler)
{
    char *root = lusty_strdup("/tmp/lusty-test-task-XXXXXX");
    assert_non_null(mkdtemp(root));
    char *dir = lusty_asprintf("%s/app", root);
    mkdir(dir, 0700);
    char *file = lusty_asprintf("%s/config.lua", dir);
    FILE *f = fopen(file, "w");
    fputs(config, f);
    fclose(f);
    lusty_free(file);
    file = lusty_asprintf("%s/spin.lua", dir);
    f = fopen(file, "w");
    fputs(handler, f);
    fclose(f);
    lusty_free(file);
    lusty_free(dir);
    return root;
}

static void remove_project(char *root)
{
    char *cmd = lusty_asprintf("rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
    lusty_free(cmd);
    lusty_free(root);
}

static void test_budget_stops_compiled_loop(void **state)
{
    (void)state;
    char *root = write_project("return {}", "return function() local n = 0 "
                                            "while true do n = n + 1 end end\n");
    uv_loop_t loop;
    uv_loop_init(&loop);
    lusty_lua_host_t *h = new_host(&loop, root, 0);
    done_t a = {0};
    /* The loop runs long enough for LuaJIT to compile it. */
    assert_null(start(h, "return require('spin')()", 100, &a));
    assert_int_equal(a.status, LUSTY_ERUNTIME);
    assert_non_null(strstr(a.result, "spin.lua:1: request exceeded its Lua time budget of 100 ms"));
    /* The state is whole: it runs the next task. */
    done_t b = {0};
    assert_null(start(h, "return 'after'", 100, &b));
    assert_string_equal(b.result, "after");
    lusty_lua_host_free(h);
    close_loop(&loop);
    remove_project(root);
}

static void test_budget_stops_loading(void **state)
{
    (void)state;
    char *root = write_project("while true do end", "return 1");
    uv_loop_t loop;
    uv_loop_init(&loop);
    lusty_lua_host_t *h = new_host(&loop, root, 100);
    char *err = NULL;
    assert_int_equal(lusty_lua_host_load_app(h, &err), LUSTY_ERUNTIME);
    assert_non_null(strstr(err, "config.lua:1: loading the app exceeded its Lua time budget"));
    lusty_free(err);
    lusty_lua_host_free(h);
    close_loop(&loop);
    remove_project(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checks_rewrite),
        cmocka_unit_test(test_sleep_and_return),
        cmocka_unit_test(test_cancel_and_free_while_waiting),
        cmocka_unit_test(test_wake_ups_spread_over_turns),
        cmocka_unit_test(test_wait_work),
        cmocka_unit_test(test_wait_work_batched),
        cmocka_unit_test(test_batch_waits_for_the_one_in_the_pool),
        cmocka_unit_test(test_host_freed_with_a_batch_in_the_pool),
        cmocka_unit_test(test_budget_stops_compiled_loop),
        cmocka_unit_test(test_budget_stops_loading),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
