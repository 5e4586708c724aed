/* The Lua time budget: a watchdog thread and the check the app's code
 * calls (inserted by lua_checks.c).
 *
 * Each host has one clock. Running Lua under a budget arms it with a
 * deadline; the watchdog thread sleeps until the earliest deadline of any
 * armed clock and then strikes the clocks whose deadline has passed: first
 * a soft strike (the next check raises one error, which the app may answer
 * with its error route), then, a grace period later, a hard one (every
 * check raises until the run ends). A strike raises the host's flag, a
 * volatile int the check reads through LuaJIT's FFI, so compiled loops see
 * it too. Nothing here uses signals or jumps: the Lua state stays whole and
 * is reused.
 *
 * Arming and disarming happen around every run of every request, so they
 * take no lock and wake nobody: the clock's state is one atomic word (the
 * deadline and the strikes of the run) that the watchdog changes only with
 * a compare-and-swap, so a strike always lands on the run it was meant
 * for. A run's deadline is rarely earlier than the watchdog's next wake-up
 * (it sleeps up to one budget ahead, and lingers that long after the last
 * run before it waits for good), so the loop thread signals it only then.
 * The flag is only a hint that sends the check to its slow path, which
 * reads the word: a hint left over from a run that has ended raises
 * nothing. */
#define _GNU_SOURCE /* pthread_cond_clockwait */
#include "lua_internal.h"

#include "lusty/alloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#define GRACE_NS (50 * 1000000LL)
/* The clock's word: 0 when not armed, else the deadline (monotonic ns)
 * shifted left by two, and the strikes of the run (0, 1 or 2). */
#define WORD(deadline, strikes) (((deadline) << 2) | (int64_t)(strikes))
#define DEADLINE(word) ((word) >> 2)
#define STRIKES(word) ((int)((word)&3))
#define NEVER INT64_MAX

struct lusty__lua_clock {
    atomic_int_least32_t flag;     /* read by the check; 0, 1 or 2 */
    atomic_int_least64_t word;     /* see WORD() */
    atomic_int_least64_t runs;     /* runs armed so far (the loop thread's) */
    atomic_int_least64_t budget;   /* the budget of the last run, ns */
    int64_t started;               /* when the run was armed (loop thread) */
    bool soft_raised;              /* the check raised the soft strike */
    int64_t seen_runs;             /* `runs` at the watchdog's last look */
    struct lusty__lua_clock *next; /* in the watchdog's list */
};

static struct {
    pthread_mutex_t lock; /* the list of clocks, the start, the stop */
    pthread_cond_t wake;
    pthread_t thread;
    atomic_bool running;
    /* When the watchdog wakes next (monotonic ns; NEVER while it waits
     * for a run to be armed). */
    atomic_int_least64_t next_wake;
    lusty__lua_clock_t *clocks;
} dog = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .next_wake = NEVER};

int64_t lusty__lua_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Strikes `c` when its deadline has passed (at `now`); returns when the
 * watchdog must look at it again (NEVER when it is not armed or struck for
 * good). */
static int64_t strike(lusty__lua_clock_t *c, int64_t now)
{
    int64_t w = atomic_load(&c->word);
    for (;;) {
        if (w == 0 || STRIKES(w) >= 2)
            return NEVER;
        if (now < DEADLINE(w))
            return DEADLINE(w);
        /* After the soft strike, the hard one comes a grace period later. */
        int s = STRIKES(w) + 1;
        if (atomic_compare_exchange_weak(&c->word, &w, WORD(now + GRACE_NS, s))) {
            atomic_store(&c->flag, s);
            return s >= 2 ? NEVER : now + GRACE_NS;
        }
    }
}

/* The earliest deadline of the armed clocks, and whether any clock ran
 * since the last look (the lock is held). */
static int64_t scan(int64_t now, bool *active)
{
    int64_t next = NEVER;
    for (lusty__lua_clock_t *c = dog.clocks; c; c = c->next) {
        int64_t at = strike(c, now);
        if (at < next)
            next = at;
        int64_t runs = atomic_load(&c->runs);
        if (runs != c->seen_runs) {
            c->seen_runs = runs;
            *active = true;
            /* A clock that is not armed now will be armed again with about
             * its last budget: look again by then, not sooner. */
            int64_t budget = atomic_load(&c->budget);
            int64_t again = now + (budget > GRACE_NS ? budget : GRACE_NS);
            if (at == NEVER && again < next)
                next = again;
        }
    }
    return next;
}

static void *watchdog(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&dog.lock);
    while (atomic_load(&dog.running)) {
        int64_t now = lusty__lua_now_ns();
        bool active = false;
        int64_t next = scan(now, &active);
        atomic_store(&dog.next_wake, next);
        /* A clock armed during the scan with an earlier deadline than the
         * one stored saw the old value, which may have been later: look
         * once more now that the new value is visible to every arm. */
        bool again = false;
        int64_t next2 = scan(now, &again);
        if (next2 < next) {
            next = next2;
            atomic_store(&dog.next_wake, next);
        }
        if (next == NEVER) {
            pthread_cond_wait(&dog.wake, &dog.lock);
        } else {
            struct timespec until = {.tv_sec = next / 1000000000LL, .tv_nsec = next % 1000000000LL};
            pthread_cond_clockwait(&dog.wake, &dog.lock, CLOCK_MONOTONIC, &until);
        }
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
    pthread_mutex_unlock(&dog.lock);
    lusty_free(c);
}

/* Wakes the watchdog (starting it the first time) so that it sees a
 * deadline earlier than its next wake-up. */
static void wake_watchdog(void)
{
    pthread_mutex_lock(&dog.lock);
    if (!atomic_load(&dog.running)) {
        atomic_store(&dog.running, true);
        pthread_create(&dog.thread, NULL, watchdog, NULL);
    }
    pthread_cond_signal(&dog.wake);
    pthread_mutex_unlock(&dog.lock);
}

void lusty__lua_clock_arm(lusty__lua_clock_t *c, int64_t budget_ns, int strikes)
{
    int64_t now = lusty__lua_now_ns();
    c->started = now;
    c->soft_raised = strikes >= 1;
    atomic_store_explicit(&c->flag, strikes >= 2 ? 2 : 0, memory_order_relaxed);
    atomic_store_explicit(&c->budget, budget_ns, memory_order_relaxed);
    atomic_store_explicit(&c->runs, atomic_load_explicit(&c->runs, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    /* A run that already used its budget is struck at once. */
    int64_t deadline = now + (budget_ns > 0 ? budget_ns : 1);
    atomic_store(&c->word, WORD(deadline, strikes >= 2 ? 2 : strikes));
    if (deadline < atomic_load(&dog.next_wake) ||
        !atomic_load_explicit(&dog.running, memory_order_relaxed))
        wake_watchdog();
}

int64_t lusty__lua_clock_disarm(lusty__lua_clock_t *c, int *strikes, bool timed)
{
    int64_t w = atomic_exchange(&c->word, 0);
    atomic_store_explicit(&c->flag, 0, memory_order_relaxed);
    if (strikes && STRIKES(w) > *strikes)
        *strikes = STRIKES(w);
    return timed ? lusty__lua_now_ns() - c->started : 0;
}

/* Stops the watchdog thread at exit, so that leak checkers and a clean
 * exit do not see it running. */
__attribute__((destructor)) static void stop_watchdog(void)
{
    pthread_mutex_lock(&dog.lock);
    bool was = atomic_exchange(&dog.running, false);
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
    int hint = atomic_load(&c->flag);
    int strikes = STRIKES(atomic_load(&c->word));
    bool raise = strikes >= 2 || (strikes == 1 && !c->soft_raised);
    if (strikes == 1)
        c->soft_raised = true;
    /* Lower the hint unless it is a hard strike, and only if the watchdog
     * has not raised it since it was read: a hard strike must not be
     * lost. */
    if (strikes < 2)
        atomic_compare_exchange_strong(&c->flag, &hint, 0);
    if (!raise)
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
static int32_t read_flag(const atomic_int_least32_t *flag)
{
    return atomic_load_explicit(flag, memory_order_relaxed);
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
