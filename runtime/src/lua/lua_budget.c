/* The Lua time budget: a watchdog thread and the check the app's code
 * calls (inserted by lua_checks.c).
 *
 * Each host has one clock. Running Lua under a budget arms it with a
 * deadline; the watchdog thread, which wakes every few milliseconds while
 * any clock is armed, raises the host's flag once the deadline has passed:
 * first to 1 (a soft strike: the next check raises one error, which the
 * app may answer with its error route), then, a grace period later, to 2
 * (a hard strike: every check raises until the run ends). The flag is a
 * volatile int the check reads through LuaJIT's FFI, so compiled loops
 * see it too. Nothing here uses signals or jumps: the Lua state stays
 * whole and is reused. */
#include "lua_internal.h"

#include "lusty/alloc.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#define TICK_NS (5 * 1000000LL)
#define GRACE_NS (50 * 1000000LL)

struct lusty__lua_clock {
    volatile int32_t flag;         /* read by the check; 0, 1 or 2 */
    int strikes;                   /* of this run, guarded by the lock */
    int64_t deadline;              /* monotonic ns; 0 when not armed; the lock */
    int64_t started;               /* when the run was armed */
    struct lusty__lua_clock *next; /* in the watchdog's list */
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    bool running;
    bool idle; /* waiting for a clock to be armed */
    int armed; /* clocks armed now */
    lusty__lua_clock_t *clocks;
} dog = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

int64_t lusty__lua_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *watchdog(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&dog.lock);
    for (;;) {
        while (dog.running && dog.armed == 0) {
            dog.idle = true;
            pthread_cond_wait(&dog.wake, &dog.lock);
            dog.idle = false;
        }
        if (!dog.running)
            break;
        int64_t now = lusty__lua_now_ns();
        for (lusty__lua_clock_t *c = dog.clocks; c; c = c->next) {
            if (c->deadline == 0 || now < c->deadline || c->strikes >= 2)
                continue;
            /* After the soft strike, the hard one comes a grace period
             * later. */
            c->strikes++;
            c->deadline = now + GRACE_NS;
            c->flag = c->strikes >= 2 ? 2 : 1;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += TICK_NS;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&dog.wake, &dog.lock, &until);
    }
    pthread_mutex_unlock(&dog.lock);
    return NULL;
}

lusty__lua_clock_t *lusty__lua_clock_new(void)
{
    lusty__lua_clock_t *c = lusty_calloc(1, sizeof *c);
    pthread_mutex_lock(&dog.lock);
    c->next = dog.clocks;
    dog.clocks = c;
    pthread_mutex_unlock(&dog.lock);
    return c;
}

void lusty__lua_clock_free(lusty__lua_clock_t *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&dog.lock);
    for (lusty__lua_clock_t **p = &dog.clocks; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    if (c->deadline)
        dog.armed--;
    pthread_mutex_unlock(&dog.lock);
    lusty_free(c);
}

void lusty__lua_clock_arm(lusty__lua_clock_t *c, int64_t budget_ns, int strikes)
{
    int64_t now = lusty__lua_now_ns();
    pthread_mutex_lock(&dog.lock);
    if (!dog.running) {
        dog.running = true;
        pthread_create(&dog.thread, NULL, watchdog, NULL);
    }
    if (c->deadline == 0)
        dog.armed++;
    c->started = now;
    c->strikes = strikes;
    c->flag = strikes >= 2 ? 2 : 0;
    /* A run that already used its budget is struck at the next tick. */
    c->deadline = now + (budget_ns > 0 ? budget_ns : 1);
    /* Wake the watchdog only when it sleeps for want of clocks: under load
     * it is ticking anyway, and a wake-up per request would cost a
     * system call each. */
    if (dog.idle)
        pthread_cond_signal(&dog.wake);
    pthread_mutex_unlock(&dog.lock);
}

int64_t lusty__lua_clock_disarm(lusty__lua_clock_t *c, int *strikes)
{
    pthread_mutex_lock(&dog.lock);
    if (c->deadline != 0)
        dog.armed--;
    c->deadline = 0;
    if (strikes && c->strikes > *strikes)
        *strikes = c->strikes;
    c->strikes = 0;
    c->flag = 0;
    int64_t ran = lusty__lua_now_ns() - c->started;
    pthread_mutex_unlock(&dog.lock);
    return ran;
}

/* Stops the watchdog thread at exit, so that leak checkers and a clean
 * exit do not see it running. */
__attribute__((destructor)) static void stop_watchdog(void)
{
    pthread_mutex_lock(&dog.lock);
    bool was = dog.running;
    dog.running = false;
    pthread_cond_signal(&dog.wake);
    pthread_mutex_unlock(&dog.lock);
    if (was)
        pthread_join(dog.thread, NULL);
}

/* The check's slow path, called when the flag is up: raises the budget
 * error at the app's line. A soft strike raises once (the flag goes back
 * down so the app's error route can run); a hard one raises every time. */
static int budget_exceeded(lua_State *L)
{
    lusty__lua_t *S = lua_touserdata(L, lua_upvalueindex(1));
    lusty__lua_clock_t *c = S->clock;
    /* Under the lock: the watchdog may be raising a soft strike to a hard
     * one right now, which must not be lost. */
    pthread_mutex_lock(&dog.lock);
    int flag = c->flag;
    if (flag == 1)
        c->flag = 0;
    pthread_mutex_unlock(&dog.lock);
    if (flag == 0)
        return 0;
    lua_Debug d;
    for (int level = 1; lua_getstack(L, level, &d); level++) {
        if (lua_getinfo(L, "Sl", &d) && d.currentline > 0 && d.source[0] == '@' &&
            strncmp(d.source, "@<builtin>", 10) != 0) {
            lua_pushfstring(L, "%s:%d: %s exceeded its Lua time budget of %d ms", d.source + 1,
                            d.currentline, S->budget_what, (int)S->budget_run_ms);
            return lua_error(L);
        }
    }
    lua_pushfstring(L, "%s exceeded its Lua time budget of %d ms", S->budget_what,
                    (int)S->budget_run_ms);
    return lua_error(L);
}

/* Reads the flag for compiled code. LuaJIT hoists a plain FFI load (even
 * of a volatile) out of a loop that does not store to memory, so the check
 * reads through this function: an FFI call stays in every iteration. */
static int32_t read_flag(const volatile int32_t *flag)
{
    return *flag;
}

/* The check itself is Lua so that LuaJIT inlines it into the caller's
 * trace: a call to read_flag and a guard. */
static const char check_source[] =
    "local ffi, read, flag, exceeded = ...\n"
    "read = ffi.cast('int32_t (*)(const volatile int32_t *)', read)\n"
    "flag = ffi.cast('const volatile int32_t *', flag)\n"
    "return function() if read(flag) ~= 0 then exceeded() end end\n";

void lusty__lua_budget_open(lua_State *L, lusty__lua_t *S)
{
    S->clock = lusty__lua_clock_new();
    int top = lua_gettop(L);
    if (luaL_loadbuffer(L, check_source, sizeof check_source - 1, "=<budget check>") != 0)
        goto done;
    lua_getglobal(L, "require");
    lua_pushliteral(L, "ffi");
    if (lua_pcall(L, 1, 1, 0) != 0)
        goto done;
    lua_pushlightuserdata(L, (void *)(uintptr_t)read_flag);
    lua_pushlightuserdata(L, (void *)&S->clock->flag);
    lua_pushlightuserdata(L, S);
    lua_pushcclosure(L, budget_exceeded, 1);
    if (lua_pcall(L, 4, 1, 0) != 0)
        goto done;
    lua_setglobal(L, "__lusty_budget_check");
done:
    lua_settop(L, top);
}
