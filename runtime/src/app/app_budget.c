/* The per-request Lua time budget.
 *
 * A count hook that checks a clock costs every request (it puts LuaJIT's
 * interpreter in its slow hooked mode) and still misses loops the JIT has
 * compiled: machine code never calls hooks. So nothing runs per request
 * but two atomic stores, and a watchdog timer on the main loop looks at the
 * workers:
 *
 * 1. When a request has been in Lua for its budget, the watchdog signals
 *    the worker's thread. The signal handler sets a count hook
 *    (lua_sethook is safe from a signal handler, as luajit.c's Ctrl-C
 *    handling relies on), and the hook raises "request exceeded its Lua time
 *    budget" at the handler's file and line. The pipeline catches it like
 *    any handler error: the app's 500 route, or the runtime's 500 page.
 * 2. When the request is still running a grace period later, the code is in
 *    a compiled loop (or keeps catching the error). The watchdog notes the
 *    process's anonymous executable mappings (LuaJIT's machine code) and
 *    signals again: if the thread is inside them, or when the hook next
 *    runs, the worker jumps back to its request handler (siglongjmp), which
 *    abandons that Lua state (it is never touched again), answers 500 and
 *    loads fresh code for the next request. Jumping only from machine code
 *    or from the hook means no C code (malloc, the bus) is cut in half. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* REG_RIP */
#endif
#include "app_internal.h"

#include "lusty/alloc.h"

#include <errno.h>
#include <inttypes.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>

#define BUDGET_SIGNAL SIGURG

static _Thread_local lusty_app_worker_t *tls_worker;

/* Whether strike `level` is meant for the request the worker runs now. */
static bool struck(lusty_app_worker_t *w, int level)
{
    return atomic_load(&w->busy) && atomic_load(&w->strike) >= level &&
           atomic_load(&w->strike_seq) == atomic_load(&w->seq);
}

static void budget_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    lusty_app_worker_t *w = tls_worker;
    if (!w || !struck(w, 1)) {
        lua_sethook(L, NULL, 0, 0);
        return;
    }
    if (atomic_load(&w->strike) >= 2 && w->jmp_armed) {
        w->jmp_armed = 0;
        siglongjmp(w->jmp, 1);
    }
    unsigned seq = atomic_load(&w->seq);
    if (w->raised_seq == seq) {
        /* Raised once already and caught: wait for the hard strike. */
        lua_sethook(L, NULL, 0, 0);
        return;
    }
    w->raised_seq = seq;
    lua_sethook(L, NULL, 0, 0);
    /* Where the app's code was: the innermost frame of a file that is not
     * one of the runtime's own modules. */
    lua_Debug d;
    for (int level = 0; lua_getstack(L, level, &d); level++) {
        if (lua_getinfo(L, "Sl", &d) && d.currentline > 0 && d.source[0] == '@' &&
            strncmp(d.source, "@<builtin>", 10) != 0) {
            lua_pushfstring(L, "%s:%d: request exceeded its Lua time budget of %d ms",
                            d.source + 1, d.currentline, (int)w->app->budget_ms);
            lua_error(L);
        }
    }
    luaL_error(L, "request exceeded its Lua time budget of %d ms", (int)w->app->budget_ms);
}

static uintptr_t signal_pc(void *uc)
{
#if defined(__x86_64__)
    return (uintptr_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uintptr_t)((ucontext_t *)uc)->uc_mcontext.pc;
#else
    (void)uc;
    return 0;
#endif
}

static void on_signal(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)si;
    lusty_app_worker_t *w = tls_worker;
    if (!w || !struck(w, 1))
        return;
    int saved = errno;
    if (atomic_load(&w->strike) >= 2 && w->jmp_armed) {
        uintptr_t pc = signal_pc(uc);
        int n = atomic_load(&w->nranges);
        for (int i = 0; pc && i < n; i++) {
            if (pc >= w->ranges[i][0] && pc < w->ranges[i][1]) {
                w->jmp_armed = 0;
                siglongjmp(w->jmp, 1);
            }
        }
    }
    lua_State *L = atomic_load(&w->L);
    if (L)
        lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
    errno = saved;
}

/* Notes the anonymous executable mappings of the process. */
static void read_ranges(lusty_app_worker_t *w)
{
    FILE *f = fopen("/proc/self/maps", "r");
    int n = 0;
    if (f) {
        char line[512];
        while (n < LUSTY__APP_MAX_RANGES && fgets(line, sizeof line, f)) {
            uintptr_t lo, hi;
            char perms[8];
            unsigned long long off, inode;
            int name = 0;
            if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %7s %llx %*s %llu %n", &lo, &hi, perms,
                       &off, &inode, &name) < 5)
                continue;
            if (perms[2] != 'x' || inode != 0 || (name && line[name] && line[name] != '\n'))
                continue;
            w->ranges[n][0] = lo;
            w->ranges[n][1] = hi;
            n++;
        }
        fclose(f);
    }
    atomic_store(&w->nranges, n);
}

static uint64_t grace_ms(const lusty_app_t *app)
{
    uint64_t g = app->budget_ms / 4;
    return g < 200 ? 200 : g > 2000 ? 2000 : g;
}

static void on_tick(uv_timer_t *t)
{
    lusty_app_t *app = t->data;
    uint64_t now = uv_now(t->loop);
    pthread_mutex_lock(&app->lock);
    for (lusty_app_worker_t *w = app->workers; w; w = w->next) {
        unsigned seq = atomic_load(&w->seq);
        if (!atomic_load(&w->busy)) {
            w->seen_seq = seq - 1;
            continue;
        }
        if (seq != w->seen_seq) {
            w->seen_seq = seq;
            w->seen_at = now;
            continue;
        }
        uint64_t ran = now - w->seen_at;
        int level = 0;
        if (ran >= app->budget_ms + grace_ms(app))
            level = 2;
        else if (ran >= app->budget_ms)
            level = 1;
        if (!level || (level == 1 && atomic_load(&w->strike) >= 1 &&
                       atomic_load(&w->strike_seq) == seq))
            continue;
        if (level == 2)
            read_ranges(w);
        atomic_store(&w->strike_seq, seq);
        atomic_store(&w->strike, level);
        pthread_kill(w->thread, BUDGET_SIGNAL);
    }
    pthread_mutex_unlock(&app->lock);
}

static void on_timer_closed(uv_handle_t *h)
{
    lusty_free(h);
}

int lusty__app_budget_start(lusty_app_t *app)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(BUDGET_SIGNAL, &sa, NULL);
    uint64_t tick = app->budget_ms / 10;
    tick = tick < 10 ? 10 : tick > 100 ? 100 : tick;
    app->watchdog = lusty_calloc(1, sizeof *app->watchdog);
    uv_timer_init(app->loop, app->watchdog);
    app->watchdog->data = app;
    uv_timer_start(app->watchdog, on_tick, tick, tick);
    return 0;
}

void lusty__app_budget_stop(lusty_app_t *app)
{
    if (app->watchdog) {
        uv_close((uv_handle_t *)app->watchdog, on_timer_closed);
        app->watchdog = NULL;
    }
}

void lusty__app_budget_attach(lusty_app_worker_t *w)
{
    tls_worker = w;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, BUDGET_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    pthread_mutex_lock(&w->app->lock);
    w->next = w->app->workers;
    w->app->workers = w;
    pthread_mutex_unlock(&w->app->lock);
}

void lusty__app_budget_detach(lusty_app_worker_t *w)
{
    pthread_mutex_lock(&w->app->lock);
    for (lusty_app_worker_t **p = &w->app->workers; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    pthread_mutex_unlock(&w->app->lock);
    tls_worker = NULL;
}

void lusty__app_budget_enter(lusty_app_worker_t *w, lua_State *L)
{
    atomic_store(&w->L, L);
    atomic_fetch_add(&w->seq, 1);
    atomic_store(&w->strike, 0);
    atomic_store(&w->busy, true);
}

void lusty__app_budget_leave(lusty_app_worker_t *w)
{
    atomic_store(&w->busy, false);
    lua_State *L = atomic_load(&w->L);
    if (L && atomic_load(&w->strike) > 0)
        lua_sethook(L, NULL, 0, 0);
    atomic_store(&w->L, NULL);
}
