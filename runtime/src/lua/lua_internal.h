/* Internals shared by the Lua host's source files (lua_*.c); nothing here
 * is public API. Kept apart from internal.h so that the Lua host and the
 * HTTP server do not edit the same header. Names carry a `lusty__` prefix. */
#ifndef LUSTY_LUA_INTERNAL_H
#define LUSTY_LUA_INTERNAL_H

#include "lusty/buf.h"
#include "lusty/lua_host.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct lusty__lua_clock lusty__lua_clock_t;

#define LUSTY__LUA_SPARE_COROUTINES 1024
struct lusty_lua_task;
struct lusty__lua_timer;

/* Per-state data of the host, reached from C closures through an upvalue
 * (a light userdata) or from lusty__lua_state(). */
typedef struct {
    lusty_lua_host_t *host;
    lua_State *L; /* the main thread */
    /* Tasks (lua_task.c): the loop they wait on, the budget of timers and
     * of loading the app, the task being run, those waiting, the timers
     * not yet fired. */
    uv_loop_t *loop;
    uint64_t budget_ms;
    struct lusty_lua_task *current;
    struct lusty_lua_task *tasks;
    size_t waiting;
    struct lusty__lua_timer *timers;
    const char *task_what; /* what the next task started is, for messages */
    /* Coroutines of tasks that returned, kept for the next tasks (a new
     * one costs an allocation and stack growth on every request). As many
     * as a worker may have requests waiting at once: with 300 requests
     * that each wait, a pool of 32 left most of them to make a coroutine
     * and let one go (about 6,000 more instructions per request). A spare
     * holds only its stack, which the GC shrinks while it is unused. */
    lua_State *spare_co[LUSTY__LUA_SPARE_COROUTINES];
    int spare_ref[LUSTY__LUA_SPARE_COROUTINES];
    int nspare;
    /* Tasks whose timers fired beyond the resumes of one turn of the
     * loop, in order (lua_task.c), and the idle handle that resumes them
     * over the next turns; the count and loop time of this turn. */
    struct lusty__lua_wait *ready, *ready_tail;
    uv_idle_t *ready_idle;
    struct lusty__lua_batch *batch; /* batched work not yet sent to the pool */
    uv_idle_t *batch_idle;          /* sends it, in the loop's next idle phase */
    uv_timer_t *batch_timer;        /* or once it has waited long enough */
    struct lusty__lua_batch *spare_batch; /* one that came back, for the next */
    struct lusty__lua_batches_out *batches_out; /* what is in the pool */
    unsigned turn_resumes;
    uint64_t turn_time;
    /* Task structs of ended tasks, kept for the next ones (a list through
     * their `next`, at most LUSTY__LUA_SPARE_COROUTINES long). */
    struct lusty_lua_task *spare_tasks;
    int nspare_tasks;
    /* A task's `done` callback is running: lusty_lua_host_free() called
     * from it (the last request of an old generation) waits until it
     * returns. */
    int in_done;
    bool free_pending;
    /* The time budget (lua_budget.c): the host's clock, and whether a run
     * under a budget is on (runs do not nest their budgets). */
    lusty__lua_clock_t *clock;
    bool clock_busy;
    const char *budget_what; /* "request", "loading the app": for messages */
    uint64_t budget_run_ms;  /* the budget of the timed run */
    int msgh_ref; /* the message handler that records tracebacks (host.msgh) */
    /* The last error a message handler saw and its traceback, so that the
     * request pipeline reports where an error happened even after code in
     * between caught and re-raised it. */
    int last_err_ref, last_trace_ref;
    int rethrowing;      /* host.rethrow() is re-raising last_err */
    char *project_path;  /* the app's own templates, ';'-separated, or NULL */
    char *project_modules; /* renamed rock modules (lusty__lua_project_module), or NULL */
    lusty_buf_t scratch; /* cjson.encode's output, reused across calls */
    int encoding;        /* scratch is in use */
} lusty__lua_t;

/* The shared data of a state set up by the host. */
lusty__lua_t *lusty__lua_state(lua_State *L);

/* ---- lua_embedded.c (generated from runtime/lua/ at build time) ---- */
typedef struct {
    const char *name;      /* "lusty", "lusty-config" */
    const char *chunkname; /* "@<builtin>/lusty/init.lua" */
    const char *source;
    size_t len;
    int first; /* 1: found before files; 0: after the app's own path */
} lusty__lua_embedded_t;

/* NULL-name-terminated. */
extern const lusty__lua_embedded_t lusty__lua_embedded[];
const lusty__lua_embedded_t *lusty__lua_embedded_find(const char *name, int first);

/* ---- lua_host.c ---- */
/* The message handler of Lua code's xpcall (host.msgh): records the error
 * and its traceback (see last_err_ref) and returns the error unchanged. */
int lusty__lua_msgh_record(lua_State *L);
/* Pushes a printable message for the error value at `idx` (its
 * __tostring, or what kind of value it is); may raise from __tostring. */
void lusty__lua_push_message(lua_State *L, int idx);
/* Pushes the traceback recorded for the error at `idx`, or a fresh one. */
void lusty__lua_push_trace(lua_State *L, lusty__lua_t *S, int idx);
/* Finds the file of module `name` on a ';'-separated template path; returns
 * a new string (lusty_free()) or NULL, appending the paths tried to `tried`
 * (may be NULL). */
char *lusty__lua_search(const char *path, const char *name, lusty_buf_t *tried);
/* Loads the chunk of module `name` as `require` would find a Lua file:
 * embedded first-tier, the project path, embedded built-ins, package.path.
 * `prefix` (may be NULL) is put before the source on its first line so line
 * numbers stay true. Pushes the function, or an error message, and returns
 * 0, LUSTY_ENOENT or LUSTY_ESYNTAX. */
int lusty__lua_load_module(lua_State *L, lusty__lua_t *S, const char *name, const char *prefix);

/* ---- lua_budget.c ---- */
int64_t lusty__lua_now_ns(void);
/* Creates the host's clock and the global __lusty_budget_check that the
 * checks of lua_checks.c call. */
void lusty__lua_budget_open(lua_State *L, lusty__lua_t *S);
void lusty__lua_clock_free(lusty__lua_clock_t *c);
/* Starts a run with `budget_ns` left, after `strikes` earlier strikes. */
void lusty__lua_clock_arm(lusty__lua_clock_t *c, int64_t budget_ns, int strikes);
/* Ends the run; raises *strikes (may be NULL) to the strikes of the run
 * and, when `timed`, returns its length in ns (else 0: a run that ends
 * its task needs no clock reading). */
int64_t lusty__lua_clock_disarm(lusty__lua_clock_t *c, int *strikes, bool timed);
/* Takes the clock for a run (false when a run is already timed). */
static inline bool lusty__lua_clock_enter(lusty__lua_t *S, const char *what, uint64_t budget_ms)
{
    if (S->clock_busy || !S->clock || !budget_ms)
        return false;
    S->clock_busy = true;
    S->budget_what = what;
    S->budget_run_ms = budget_ms;
    return true;
}
static inline void lusty__lua_clock_leave(lusty__lua_t *S)
{
    S->clock_busy = false;
}

/* ---- lua_checks.c ---- */
/* Appends `src` to `out` with a budget check at the top of every loop body
 * and function and before every goto, on the same lines, after a first
 * line prefix binding the check to a local. */
void lusty__lua_insert_checks(lusty_buf_t *out, const char *src, size_t len);

/* ---- lua_task.c ---- */
lusty__lua_t *lusty__lua_host_data(lusty_lua_host_t *h);
/* Pushes the `lusty.task` module: sleep and timer. */
int lusty__lua_open_task(lua_State *L);
/* Cancels the host's tasks and timers and frees the spare task structs
 * (before its state is closed). */
void lusty__lua_tasks_close(lusty__lua_t *S);

/* ---- lua_util.c, lua_cjson.c, lua_app.c ---- */
int lusty__lua_open_util(lua_State *L);
int lusty__lua_open_cjson(lua_State *L);
/* Pushes the light userdata that stands for JSON null (cjson.null). */
void lusty__lua_push_null(lua_State *L);
/* Pushes the value of JSON text `text` (lua_json_decode.c) and returns 0,
 * or pushes an error message and returns -1. */
int lusty__lua_json_decode(lua_State *L, const char *text, size_t len);
int lusty__lua_is_null(lua_State *L, int idx);
int lusty__lua_is_empty_array(lua_State *L, int idx);
/* Installs the preload entries of the native modules. */
void lusty__lua_open_app(lua_State *L);
/* lua_ngx.c: the global `ngx` (loaded on first use), print() inside
 * requests, and the preload entry of `lusty.ngx.native`. */
void lusty__lua_open_ngx(lua_State *L);
/* lua_shdict.c: the preload entry of `lusty.ngx.shdict` (ngx.shared). */
void lusty__lua_open_shdict(lua_State *L);
/* lua_require.c: pushes the message of a module not found (the places
 * that matter, a hint); replaces the global `require` with the wrapper of
 * runtime/lua/lusty/require.lua. */
void lusty__lua_push_not_found(lua_State *L, lusty__lua_t *S, const char *name);
void lusty__lua_open_require(lua_State *L, lusty__lua_t *S);
/* lua_modpath.c: the project's module path templates (app/, the top
 * folder, each fetched repository with its rockspec's folders or its
 * "path" in lusty.json), ';'-separated; lusty_free() it. *modules_out gets
 * the rockspecs' modules whose file is not named after them (NULL when
 * none; lusty_free() it). */
char *lusty__lua_project_path(const char *root, char **modules_out);
/* The file of module `name` among such `modules` when it exists (a new
 * string, lusty_free()), else NULL. */
char *lusty__lua_project_module(const char *modules, const char *name);

#endif
