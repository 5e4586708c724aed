/* Lua tasks (lusty/lua_task.h): a coroutine per task, resumed on the host's
 * loop when what it waits for is done; lusty.sleep and lusty.timer.
 *
 * Only the task being resumed may wait: the C function that waits checks
 * that it runs on that task's own coroutine, because a yield from a
 * coroutine the Lua code made itself would return to that code's
 * coroutine.resume, not to us. */
#include "lua_internal.h"

#include "lusty/alloc.h"
#include "lusty/error.h"
#include "lusty/log.h"
#include "lusty/lua_task.h"

#include <math.h>
#include <string.h>

struct lusty_lua_task {
    lusty__lua_t *S;
    lua_State *co;
    int co_ref; /* anchors the coroutine while the task lives */
    uint64_t budget_ms;
    const char *what; /* "request", "timer": for the budget's message */
    int64_t used_ns;  /* Lua time over all runs */
    int strikes;
    lusty_lua_task_done_cb done;
    void *data;
    char *error;
    struct lusty__lua_wait *wait; /* what it waits for, or NULL */
    lusty_lua_task_t *prev, *next; /* in S->tasks while waiting */
};

typedef enum { WAIT_TIMER, WAIT_WORK } wait_kind_t;

/* At most this many tasks whose timers fired are resumed in one turn of
 * the loop; the others wait in S->ready for the next turns, with I/O
 * polled in between. Waiting requests tend to wake in batches (those that
 * started in the same turn are due in the same millisecond), and a request
 * that does not wait would otherwise queue behind the whole batch. */
#define RESUMES_PER_TURN 16

/* One thing a task waits for. Timers are handles (freed in their close
 * callback); work is a request (freed after its after-work callback). */
typedef struct lusty__lua_wait {
    union {
        uv_timer_t timer;
        uv_work_t work;
    } uv;
    wait_kind_t kind;
    bool queued;                  /* in S->ready: its timer fired */
    struct lusty__lua_wait *next; /* in S->ready */
    lusty_lua_task_t *task;       /* NULL once the task was cancelled */
    lusty_lua_work_cb work;
    lusty_lua_resume_cb resume;
    void *data;
} wait_t;

/* A lusty.timer() not yet fired: the function and its arguments in a
 * registry table. */
typedef struct lusty__lua_timer {
    uv_timer_t handle;
    lusty__lua_t *S; /* NULL once the host is gone */
    int args_ref;
    struct lusty__lua_timer *prev, *next; /* in S->timers */
} timer_t_;

static bool resume_task(lusty_lua_task_t *t, int nargs);
static void wait_timer(lusty_lua_task_t *t, uint64_t ms);

/* ---- the task list ---- */

static void link_task(lusty__lua_t *S, lusty_lua_task_t *t)
{
    t->prev = NULL;
    t->next = S->tasks;
    if (S->tasks)
        S->tasks->prev = t;
    S->tasks = t;
    S->waiting++;
}

static void unlink_task(lusty__lua_t *S, lusty_lua_task_t *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else if (S->tasks == t)
        S->tasks = t->next;
    if (t->next)
        t->next->prev = t->prev;
    t->prev = t->next = NULL;
    S->waiting--;
}

/* A task struct: a spare one when there is one (a request allocates
 * nothing here), else a new one. */
static lusty_lua_task_t *new_task(lusty__lua_t *S)
{
    lusty_lua_task_t *t = S->spare_tasks;
    if (!t)
        return lusty_calloc(1, sizeof *t);
    S->spare_tasks = t->next;
    S->nspare_tasks--;
    memset(t, 0, sizeof *t);
    return t;
}

static void free_task(lusty_lua_task_t *t)
{
    lusty__lua_t *S = t->S;
    if (t->co_ref != LUA_NOREF)
        luaL_unref(S->L, LUA_REGISTRYINDEX, t->co_ref);
    lusty_free(t->error);
    if (S->nspare_tasks < LUSTY__LUA_SPARE_COROUTINES) {
        t->next = S->spare_tasks;
        S->spare_tasks = t;
        S->nspare_tasks++;
    } else {
        lusty_free(t);
    }
}

/* ---- running ---- */

static int error_text(lua_State *L)
{
    lusty__lua_push_message(L, 1);
    return 1;
}

/* Sets t->error from the error value on top of the dead coroutine: its
 * message (through a protected call: __tostring may raise) and where the
 * coroutine stopped. */
static void take_error(lusty_lua_task_t *t)
{
    lua_State *L = t->S->L;
    lua_State *co = t->co;
    lua_pushcfunction(L, error_text);
    lua_pushvalue(co, -1);
    lua_xmove(co, L, 1);
    const char *msg = lua_pcall(L, 1, 1, 0) == 0 ? lua_tostring(L, -1) : NULL;
    luaL_traceback(L, co, msg ? msg : "(an error object whose __tostring failed)", 0);
    t->error = lusty_strdup(lua_tostring(L, -1));
    lua_pop(L, 2);
}

static void finish(lusty_lua_task_t *t, int status)
{
    if (status)
        take_error(t);
    /* `done` may end the last use of the host (a request on an old
     * generation frees it): the free waits until `done` returns. */
    lusty__lua_t *S = t->S;
    S->in_done++;
    if (t->done)
        t->done(t, status ? LUSTY_ERUNTIME : 0, t->data);
    S->in_done--;
    if (S->free_pending && S->in_done == 0) {
        lusty_free(t->error);
        lusty_free(t);
        S->free_pending = false;
        lusty_lua_host_free(S->host);
        return;
    }
    /* A coroutine that returned can start the next task. */
    if (status == 0 && S->nspare < LUSTY__LUA_SPARE_COROUTINES) {
        lua_settop(t->co, 0);
        S->spare_co[S->nspare] = t->co;
        S->spare_ref[S->nspare] = t->co_ref;
        S->nspare++;
        t->co_ref = LUA_NOREF;
    }
    free_task(t);
}

/* Resumes the task's coroutine with the `nargs` values on top of it, under
 * its budget, and handles how the run ended. Returns true when the task
 * waits again, false when it ended (and is freed). */
static bool resume_task(lusty_lua_task_t *t, int nargs)
{
    lusty__lua_t *S = t->S;
    lusty_lua_task_t *outer = S->current;
    S->current = t;
    bool timed = lusty__lua_clock_enter(S, t->what, t->budget_ms);
    if (timed)
        lusty__lua_clock_arm(S->clock, (int64_t)t->budget_ms * 1000000 - t->used_ns, t->strikes);
    int rc = lua_resume(t->co, nargs);
    if (timed) {
        t->used_ns += lusty__lua_clock_disarm(S->clock, &t->strikes, rc == LUA_YIELD);
        lusty__lua_clock_leave(S);
    }
    S->current = outer;
    if (rc == LUA_YIELD) {
        if (!t->wait) {
            /* A bare coroutine.yield() from the task's own code: let the
             * loop turn, then go on, as lusty.sleep(0) would. */
            lua_settop(t->co, 0);
            wait_timer(t, 0);
        }
        return true;
    }
    finish(t, rc);
    return false;
}

void lusty_lua_host_set_loop(lusty_lua_host_t *h, uv_loop_t *loop, uint64_t budget_ms)
{
    lusty__lua_t *S = lusty__lua_host_data(h);
    S->loop = loop;
    S->budget_ms = budget_ms;
}

int lusty_lua_task_start(lusty_lua_task_t **out, lusty_lua_host_t *h, int nargs,
                         uint64_t budget_ms, lusty_lua_task_done_cb done, void *data)
{
    lusty__lua_t *S = lusty__lua_host_data(h);
    lua_State *L = S->L;
    *out = NULL;
    lusty_lua_task_t *t = new_task(S);
    t->S = S;
    t->budget_ms = budget_ms;
    t->what = S->task_what ? S->task_what : "request";
    t->done = done;
    t->data = data;
    if (S->nspare > 0) {
        S->nspare--;
        t->co = S->spare_co[S->nspare];
        t->co_ref = S->spare_ref[S->nspare];
    } else {
        t->co = lua_newthread(L);
        t->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    /* The function and its arguments move to the coroutine. */
    lua_xmove(L, t->co, nargs + 1);
    if (resume_task(t, nargs))
        *out = t;
    return 0;
}

lua_State *lusty_lua_task_state(const lusty_lua_task_t *t)
{
    return t->co;
}

const char *lusty_lua_task_error(const lusty_lua_task_t *t)
{
    return t->error;
}

int lusty_lua_task_strikes(const lusty_lua_task_t *t)
{
    return t->strikes;
}

size_t lusty_lua_host_waiting(const lusty_lua_host_t *h)
{
    return lusty__lua_host_data((lusty_lua_host_t *)h)->waiting;
}

/* ---- waiting ---- */

static void wait_free(uv_handle_t *h)
{
    lusty_free(h->data);
}

/* The wait `w` is over: resumes its task with what `resume` pushes, or lets
 * `resume` free its data when the task is gone. */
static void wait_done(wait_t *w)
{
    lusty_lua_task_t *t = w->task;
    if (!t) {
        if (w->resume)
            w->resume(NULL, w->data);
        return;
    }
    t->wait = NULL;
    unlink_task(t->S, t);
    int n = 0;
    if (w->resume) {
        int top = lua_gettop(t->co);
        n = w->resume(t->co, w->data);
        n = lua_gettop(t->co) - top < n ? lua_gettop(t->co) - top : n;
    }
    resume_task(t, n);
}

/* Ends the wait of a fired timer: its handle goes, its task resumes. */
static void timer_done(wait_t *w)
{
    uv_close((uv_handle_t *)&w->uv.timer, wait_free);
    wait_done(w);
}

static void free_handle(uv_handle_t *h)
{
    lusty_free(h);
}

/* Resumes the tasks in S->ready, RESUMES_PER_TURN per turn of the loop.
 * A task's done callback may free the host: that waits until the loop
 * here is left. */
static void on_ready(uv_idle_t *h)
{
    lusty__lua_t *S = h->data;
    S->turn_time = uv_now(S->loop);
    S->turn_resumes = 0;
    S->in_done++;
    while (S->ready && S->turn_resumes < RESUMES_PER_TURN && !S->free_pending) {
        wait_t *w = S->ready;
        S->ready = w->next;
        if (!S->ready)
            S->ready_tail = NULL;
        w->queued = false;
        if (w->task)
            S->turn_resumes++;
        timer_done(w);
    }
    S->in_done--;
    if (S->free_pending && S->in_done == 0) {
        S->free_pending = false;
        lusty_lua_host_free(S->host);
        return;
    }
    if (!S->ready)
        uv_idle_stop(h);
}

static void on_timer(uv_timer_t *h)
{
    wait_t *w = h->data;
    lusty__lua_t *S = w->task->S;
    uint64_t now = uv_now(S->loop);
    if (now != S->turn_time) {
        S->turn_time = now;
        S->turn_resumes = 0;
    }
    if (!S->ready && S->turn_resumes < RESUMES_PER_TURN) {
        S->turn_resumes++;
        timer_done(w);
        return;
    }
    /* This turn has had its share: after the others already waiting. */
    w->queued = true;
    w->next = NULL;
    if (S->ready_tail)
        S->ready_tail->next = w;
    else
        S->ready = w;
    S->ready_tail = w;
    if (!S->ready_idle) {
        S->ready_idle = lusty_malloc(sizeof *S->ready_idle);
        uv_idle_init(S->loop, S->ready_idle);
        S->ready_idle->data = S;
    }
    uv_idle_start(S->ready_idle, on_ready);
}

static wait_t *new_wait(lusty_lua_task_t *t, wait_kind_t kind)
{
    wait_t *w = lusty_calloc(1, sizeof *w);
    w->kind = kind;
    w->task = t;
    t->wait = w;
    link_task(t->S, t);
    return w;
}

static void wait_timer(lusty_lua_task_t *t, uint64_t ms)
{
    wait_t *w = new_wait(t, WAIT_TIMER);
    uv_timer_init(t->S->loop, &w->uv.timer);
    w->uv.timer.data = w;
    uv_timer_start(&w->uv.timer, on_timer, ms, 0);
}

static void on_work(uv_work_t *req)
{
    wait_t *w = req->data;
    w->work(w->data);
}

static void on_after_work(uv_work_t *req, int status)
{
    (void)status; /* never cancelled: see lusty_lua_task_cancel() */
    wait_t *w = req->data;
    wait_done(w);
    lusty_free(w);
}

/* ---- batched work ---- */

#define BATCH_MAX 32
/* How long a batch waits for the one in the pool to come back. */
#define BATCH_HOLD_MS 2

/* The batches of a host in the pool: shared with them, so that one coming
 * back after the host is gone finds S NULL. */
typedef struct lusty__lua_batches_out {
    lusty__lua_t *S;
    unsigned refs; /* the host's, and each batch's in the pool */
    unsigned n;    /* batches in the pool */
    uint64_t sent_at;
} out_t;

/* Work items of one key asked for in one turn of the loop, run as one job
 * of the pool (see lusty_lua_wait_work_batched()). */
typedef struct lusty__lua_batch {
    uv_work_t work;
    lusty_lua_batch_cb run;
    const void *key;
    out_t *out;
    unsigned n;
    wait_t *items[BATCH_MAX];
} batch_t;

static void out_release(out_t *out)
{
    if (--out->refs == 0)
        lusty_free(out);
}

static void on_batch_work(uv_work_t *req)
{
    batch_t *b = req->data;
    void *data[BATCH_MAX];
    for (unsigned i = 0; i < b->n; i++)
        data[i] = b->items[i]->data;
    b->run(data, b->n);
}

static void send_batch(lusty__lua_t *S);

/* The next batch is sent as this one comes back, before its tasks resume
 * (the pool works on it meanwhile). A task resumed here may free the
 * host; the other items' tasks are then cancelled (their wait's task is
 * NULL), and wait_done() only lets their resume callbacks free their
 * data. */
static void on_batch_after_work(uv_work_t *req, int status)
{
    (void)status; /* never cancelled */
    batch_t *b = req->data;
    out_t *out = b->out;
    out->n--;
    if (out->S && out->S->batch)
        send_batch(out->S);
    for (unsigned i = 0; i < b->n; i++) {
        wait_done(b->items[i]);
        lusty_free(b->items[i]);
    }
    if (out->S && !out->S->spare_batch)
        out->S->spare_batch = b; /* kept for the next batch */
    else
        lusty_free(b);
    out_release(out);
}

static void send_batch(lusty__lua_t *S)
{
    batch_t *b = S->batch;
    if (!b)
        return;
    S->batch = NULL;
    if (S->batch_timer)
        uv_timer_stop(S->batch_timer);
    out_t *out = S->batches_out;
    out->n++;
    out->refs++;
    out->sent_at = uv_now(S->loop);
    b->out = out;
    b->work.data = b;
    uv_queue_work(S->loop, &b->work, on_batch_work, on_batch_after_work);
}

static void on_batch_timer(uv_timer_t *h)
{
    send_batch(h->data);
}

/* Runs in the idle phase, before the loop polls: work asked for by the
 * I/O callbacks of the last poll (the common case: requests that came
 * in together) goes as one job. The idle handle keeps that poll from
 * blocking. While a batch is in the pool, this one waits for it to come
 * back (BATCH_HOLD_MS at most, in case its work is slow) and gathers
 * what more is asked for meanwhile: one thread of the pool serves the
 * host's batches one after the other without sleeping in between, where
 * sending at once woke another thread for each (a futex wake-up and a
 * switch), and batches grow. */
static void on_batch_idle(uv_idle_t *h)
{
    lusty__lua_t *S = h->data;
    uv_idle_stop(h);
    out_t *out = S->batches_out;
    uint64_t waited = uv_now(S->loop) - out->sent_at;
    if (!S->batch || out->n == 0 || waited >= BATCH_HOLD_MS) {
        send_batch(S);
        return;
    }
    if (!S->batch_timer) {
        S->batch_timer = lusty_malloc(sizeof *S->batch_timer);
        uv_timer_init(S->loop, S->batch_timer);
        S->batch_timer->data = S;
    }
    uv_timer_start(S->batch_timer, on_batch_timer, BATCH_HOLD_MS - waited, 0);
}

/* The task that L may suspend, or NULL after pushing why not. */
static lusty_lua_task_t *waiter(lua_State *L, const char *what)
{
    lusty__lua_t *S = lusty__lua_state(L);
    lusty_lua_task_t *t = S ? S->current : NULL;
    if (!t || !S->loop) {
        lua_pushfstring(L, "%s can only wait inside a request or a timer", what);
        return NULL;
    }
    if (t->co != L) {
        lua_pushfstring(L, "%s cannot wait inside a coroutine the code made itself", what);
        return NULL;
    }
    if (t->wait) {
        lua_pushfstring(L, "%s: the task already waits", what);
        return NULL;
    }
    return t;
}

int lusty_lua_wait_work(lua_State *L, lusty_lua_work_cb work, lusty_lua_resume_cb resume,
                        void *data)
{
    lusty_lua_task_t *t = waiter(L, "this call");
    if (!t) {
        if (resume)
            resume(NULL, data);
        return lua_error(L);
    }
    wait_t *w = new_wait(t, WAIT_WORK);
    w->work = work;
    w->resume = resume;
    w->data = data;
    w->uv.work.data = w;
    uv_queue_work(t->S->loop, &w->uv.work, on_work, on_after_work);
    return lua_yield(L, 0);
}

int lusty_lua_wait_work_batched(lua_State *L, lusty_lua_batch_cb run, const void *key,
                                lusty_lua_resume_cb resume, void *data)
{
    lusty_lua_task_t *t = waiter(L, "this call");
    if (!t) {
        if (resume)
            resume(NULL, data);
        return lua_error(L);
    }
    lusty__lua_t *S = t->S;
    batch_t *b = S->batch;
    if (b && (b->run != run || b->key != key || b->n == BATCH_MAX))
        send_batch(S);
    if (!S->batch) {
        S->batch = S->spare_batch ? S->spare_batch : lusty_malloc(sizeof *S->batch);
        S->spare_batch = NULL;
        S->batch->n = 0;
        S->batch->run = run;
        S->batch->key = key;
        if (!S->batches_out) {
            S->batches_out = lusty_calloc(1, sizeof *S->batches_out);
            S->batches_out->S = S;
            S->batches_out->refs = 1;
        }
        if (!S->batch_idle) {
            S->batch_idle = lusty_malloc(sizeof *S->batch_idle);
            uv_idle_init(S->loop, S->batch_idle);
            S->batch_idle->data = S;
        }
        uv_idle_start(S->batch_idle, on_batch_idle);
    }
    wait_t *w = new_wait(t, WAIT_WORK);
    w->resume = resume;
    w->data = data;
    S->batch->items[S->batch->n++] = w;
    return lua_yield(L, 0);
}

int lusty_lua_wait_ms(lua_State *L, uint64_t ms)
{
    lusty_lua_task_t *t = waiter(L, "lusty.sleep");
    if (!t)
        return lua_error(L);
    wait_timer(t, ms);
    return lua_yield(L, 0);
}

void lusty_lua_task_cancel(lusty_lua_task_t *t)
{
    if (!t)
        return;
    wait_t *w = t->wait;
    if (w) {
        unlink_task(t->S, t);
        w->task = NULL;
        /* A timer stops now; work already queued cannot be taken back
         * safely once a pool thread may have started it, so its
         * after-work callback only frees it. A timer that fired and waits
         * its turn in S->ready is closed when its turn comes. */
        if (w->kind == WAIT_TIMER && !w->queued) {
            uv_timer_stop(&w->uv.timer);
            uv_close((uv_handle_t *)&w->uv.timer, wait_free);
        }
    }
    free_task(t);
}

/* ---- lusty.sleep, lusty.timer ---- */

/* Seconds as milliseconds, rounded up so that a short sleep still waits. */
static uint64_t seconds_arg(lua_State *L, int idx, const char *fn)
{
    double s = luaL_checknumber(L, idx);
    if (!(s >= 0) || s > 1e9)
        luaL_error(L, "%s: bad delay %f (seconds, 0 or more)", fn, s);
    return (uint64_t)ceil(s * 1000.0);
}

/* lusty.sleep(seconds), also callable as lusty:sleep(seconds). */
static int l_sleep(lua_State *L)
{
    int idx = lua_istable(L, 1) ? 2 : 1;
    return lusty_lua_wait_ms(L, seconds_arg(L, idx, "lusty.sleep"));
}

static void timer_unlink(lusty__lua_t *S, timer_t_ *tm)
{
    if (tm->prev)
        tm->prev->next = tm->next;
    else if (S->timers == tm)
        S->timers = tm->next;
    if (tm->next)
        tm->next->prev = tm->prev;
    tm->prev = tm->next = NULL;
}

static void timer_free(uv_handle_t *h)
{
    lusty_free(h->data);
}

static void timer_task_done(lusty_lua_task_t *task, int status, void *data)
{
    (void)data;
    if (status)
        lusty_log(LUSTY_LOG_ERROR, "lua", "timer: %s", lusty_lua_task_error(task));
}

static void on_lua_timer(uv_timer_t *h)
{
    timer_t_ *tm = h->data;
    lusty__lua_t *S = tm->S;
    timer_unlink(S, tm);
    lua_State *L = S->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, tm->args_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, tm->args_ref);
    int n = (int)lua_objlen(L, -1);
    lua_checkstack(L, n + 2);
    for (int i = 1; i <= n; i++)
        lua_rawgeti(L, -i, i);
    lua_remove(L, -n - 1);
    uv_close((uv_handle_t *)h, timer_free);
    lusty_lua_task_t *task;
    S->task_what = "timer";
    lusty_lua_task_start(&task, S->host, n - 1, S->budget_ms, timer_task_done, NULL);
    S->task_what = NULL;
}

/* lusty.timer(delay, fn, ...): runs fn(...) after delay seconds, as a task
 * of its own; returns true, or nil and a message. */
static int l_timer(lua_State *L)
{
    int base = lua_istable(L, 1) && !lua_isfunction(L, 2) ? 2 : 1;
    uint64_t ms = seconds_arg(L, base, "lusty.timer");
    luaL_checktype(L, base + 1, LUA_TFUNCTION);
    lusty__lua_t *S = lusty__lua_state(L);
    if (!S || !S->loop) {
        lua_pushnil(L);
        lua_pushliteral(L, "lusty.timer: no event loop here (timers run in `lusty server` "
                           "and `lusty exec`)");
        return 2;
    }
    int n = lua_gettop(L) - base;
    lua_createtable(L, n, 0);
    for (int i = 1; i <= n; i++) {
        lua_pushvalue(L, base + i);
        lua_rawseti(L, -2, i);
    }
    timer_t_ *tm = lusty_calloc(1, sizeof *tm);
    tm->S = S;
    tm->args_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    tm->next = S->timers;
    if (S->timers)
        S->timers->prev = tm;
    S->timers = tm;
    uv_timer_init(S->loop, &tm->handle);
    tm->handle.data = tm;
    uv_timer_start(&tm->handle, on_lua_timer, ms, 0);
    lua_pushboolean(L, 1);
    return 1;
}

int lusty__lua_open_task(lua_State *L)
{
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, l_sleep);
    lua_setfield(L, -2, "sleep");
    lua_pushcfunction(L, l_timer);
    lua_setfield(L, -2, "timer");
    return 1;
}

void lusty__lua_tasks_close(lusty__lua_t *S)
{
    while (S->tasks)
        lusty_lua_task_cancel(S->tasks);
    /* Fired timers of tasks cancelled above. */
    while (S->ready) {
        wait_t *w = S->ready;
        S->ready = w->next;
        uv_close((uv_handle_t *)&w->uv.timer, wait_free);
    }
    S->ready_tail = NULL;
    /* Batched work not sent yet: its tasks were cancelled above, so the
     * work need not run; its data is freed as for a cancelled wait. */
    if (S->batch) {
        for (unsigned i = 0; i < S->batch->n; i++) {
            wait_done(S->batch->items[i]);
            lusty_free(S->batch->items[i]);
        }
        lusty_free(S->batch);
        S->batch = NULL;
    }
    if (S->batch_idle) {
        uv_close((uv_handle_t *)S->batch_idle, free_handle);
        S->batch_idle = NULL;
    }
    if (S->batch_timer) {
        uv_close((uv_handle_t *)S->batch_timer, free_handle);
        S->batch_timer = NULL;
    }
    lusty_free(S->spare_batch);
    S->spare_batch = NULL;
    if (S->batches_out) {
        S->batches_out->S = NULL;
        out_release(S->batches_out);
        S->batches_out = NULL;
    }
    if (S->ready_idle) {
        uv_close((uv_handle_t *)S->ready_idle, free_handle);
        S->ready_idle = NULL;
    }
    while (S->spare_tasks) {
        lusty_lua_task_t *t = S->spare_tasks;
        S->spare_tasks = t->next;
        lusty_free(t);
    }
    S->nspare_tasks = 0;
    while (S->timers) {
        timer_t_ *tm = S->timers;
        timer_unlink(S, tm);
        luaL_unref(S->L, LUA_REGISTRYINDEX, tm->args_ref);
        uv_timer_stop(&tm->handle);
        uv_close((uv_handle_t *)&tm->handle, timer_free);
    }
}
