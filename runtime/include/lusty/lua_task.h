/* Lua tasks: coroutines of a Lua host that can wait without blocking.
 *
 * A task runs one Lua function on a coroutine of its own. Whatever that
 * function reaches (handlers, nested publishes, pcall'd code) may call a
 * waiting function, such as lusty.sleep() or a C function built on
 * lusty_lua_wait_work(): the task is suspended, the host's event loop goes
 * on serving other tasks, and the task resumes on the same loop when what it
 * waits for is done. A host can wait only once it has a loop
 * (lusty_lua_host_set_loop()); everything here runs on that loop's thread.
 *
 * The time budget counts the Lua time of a task over all its runs; time
 * spent waiting does not count. A task over its budget gets one error
 * raised where its code runs (it may answer it, for example with an error
 * page); if it still runs 50 ms later, every budget check raises, so that
 * the task ends. Checks are in the app's own files (the project and
 * lusty_modules/), loaded with one at the top of every loop body and
 * function, so that loops LuaJIT has compiled are stopped too.
 *
 * lusty.timer(delay, fn, ...) runs fn later as a task of its own; the
 * timers of a host end with it (a reload drops the old code's timers). */
#ifndef LUSTY_LUA_TASK_H
#define LUSTY_LUA_TASK_H

#include "lusty/lua_host.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct lusty_lua_task lusty_lua_task_t;

/* Called once when the task's function has returned (status 0, its results
 * on lusty_lua_task_state()) or raised (LUSTY_ERUNTIME, the message and
 * traceback from lusty_lua_task_error()). The task is freed when the
 * callback returns. */
typedef void (*lusty_lua_task_done_cb)(lusty_lua_task_t *task, int status, void *data);

/* Gives the host the loop its tasks wait on, and the Lua time budget of
 * the timers' tasks and of lusty_lua_host_load_app() (0: none). Call once,
 * before any task waits. */
void lusty_lua_host_set_loop(lusty_lua_host_t *host, uv_loop_t *loop, uint64_t budget_ms);

/* Starts a task running the function below `nargs` arguments on top of the
 * host's stack (all popped), with a Lua time budget (0: none), and runs it
 * until it returns or waits. When it returned at once, `done` has already
 * run and *out is NULL; otherwise *out is the waiting task, which the caller
 * may cancel until `done` runs. */
int lusty_lua_task_start(lusty_lua_task_t **out, lusty_lua_host_t *host, int nargs,
                         uint64_t budget_ms, lusty_lua_task_done_cb done, void *data);
/* The task's coroutine (results are on its stack during `done`). */
lua_State *lusty_lua_task_state(const lusty_lua_task_t *task);
/* During `done` after an error: "message\nstack traceback: ...". */
const char *lusty_lua_task_error(const lusty_lua_task_t *task);
/* How many times the budget struck the task: 0 within it, 1 after the
 * error it could answer, 2 when it was stopped for good. */
int lusty_lua_task_strikes(const lusty_lua_task_t *task);
/* Drops a waiting task: `done` never runs, its coroutine is released and
 * what it waited for is ignored (or stopped, for timers) when it ends. */
void lusty_lua_task_cancel(lusty_lua_task_t *task);
/* The tasks of the host now waiting. */
size_t lusty_lua_host_waiting(const lusty_lua_host_t *host);

/* Work a waiting function hands to libuv's thread pool: runs on a pool
 * thread and must not touch Lua. */
typedef void (*lusty_lua_work_cb)(void *data);
/* Back on the loop after the work: pushes what the waiting function
 * returns on L and returns how many values. L is NULL when the task was
 * cancelled meanwhile (free `data`, push nothing). */
typedef int (*lusty_lua_resume_cb)(lua_State *L, void *data);

/* For a lua_CFunction: `return lusty_lua_wait_work(L, work, resume, data);`
 * suspends the calling task until `work` has run on the thread pool, then
 * returns what `resume` pushes. Raises a Lua error (after calling
 * resume(NULL, data)) when L cannot wait: outside a task, or on a
 * coroutine the Lua code made itself. */
int lusty_lua_wait_work(lua_State *L, lusty_lua_work_cb work, lusty_lua_resume_cb resume,
                        void *data);
/* Work of one batch (below): the items' data in the order they were asked
 * for, run on one pool thread. */
typedef void (*lusty_lua_batch_cb)(void **items, unsigned n);
/* As lusty_lua_wait_work(), for short work (a query of a local database):
 * the items of one `run` and `key` that tasks ask for in one turn of the
 * loop go to the pool as one job (up to 32 items), and `run` gets them
 * all, so that it may share what they have in common (a transaction).
 * While a job of the host is in the pool, the next one waits for it to
 * come back (2 ms at most) and gathers what more is asked for meanwhile.
 * Handing each item to a thread of its own costs more than such work (a
 * futex wake-up and a switch each). Not for work that may take long, such
 * as a network round trip: one slow item holds up the others of its job. */
int lusty_lua_wait_work_batched(lua_State *L, lusty_lua_batch_cb run, const void *key,
                                lusty_lua_resume_cb resume, void *data);
/* Suspends the calling task for `ms` milliseconds (0: until the loop's next
 * turn); raises like lusty_lua_wait_work(). */
int lusty_lua_wait_ms(lua_State *L, uint64_t ms);

#endif
