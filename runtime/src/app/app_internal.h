/* Internals shared by the app-serving files (app*.c); nothing here is
 * public API. Names carry a `lusty__app` prefix. */
#ifndef LUSTY_APP_INTERNAL_H
#define LUSTY_APP_INTERNAL_H

#include "lusty/app.h"
#include "lusty/buf.h"
#include "lusty/lua_host.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>

/* One loaded generation of the app in one worker: a Lua host, or the
 * message of why it failed to load. */
typedef struct lusty__app_gen {
    lusty_lua_host_t *host; /* NULL when the load failed */
    char *error;            /* the load error (NULL when loaded) */
    unsigned gen;           /* the app generation it was loaded from */
    bool no_app;            /* the project has no app file: an empty app */
    int refs;               /* requests running on it, plus one while current */
    /* Registry refs made once per host so that a request allocates no
     * closures: the metatable reading through to the global context, the
     * context builder (holding it and the response functions) and the slot
     * of the response in flight. */
    int mt_ref, build_ref, resp_ref;
    struct lusty__app_gen *next; /* in the graveyard */
} lusty__app_gen_t;

typedef struct lusty__app_watch lusty__app_watch_t;

struct lusty_app {
    char *root;
    size_t root_len;
    char *app_file; /* relative to root */
    char *host;
    int port;
    bool reload;
    uint64_t budget_ms;
    lusty_app_report_cb report;
    void *report_data;

    atomic_uint gen;      /* bumped by every change on disk */
    atomic_uint reported; /* the last generation whose load was reported */

    /* The watcher and the watchdog, on the caller's loop. */
    uv_loop_t *loop;
    lusty__app_watch_t *watches;
    uv_timer_t *debounce;
    uv_timer_t *watchdog;

    pthread_mutex_t lock; /* guards `workers` */
    struct lusty_app_worker *workers;
};

#define LUSTY__APP_MAX_RANGES 32

struct lusty_app_worker {
    lusty_app_t *app;
    uv_loop_t *loop;
    lusty__app_gen_t *cur;
    pthread_t thread;
    struct lusty_app_worker *next; /* in app->workers */
    uv_async_t reload_async;       /* the watcher saw a change */

    /* The request in flight. */
    const lusty_http_request_t *req;
    lusty_http_response_t *res;
    lusty_buf_t body;  /* sent and not yet written */
    bool active;       /* send/flush/end apply to this request */
    bool flushed;      /* the head went out with a flush */
    bool ended;        /* response.end() was called */
    bool sent;         /* something was sent (even an empty body) */

    /* The time budget (app_budget.c). `seq` counts requests, `busy` says
     * one is in Lua; the watchdog sets `strike` for request `strike_seq`:
     * 1 asks the count hook to raise an error, 2 abandons the Lua state. */
    atomic_uint seq;
    atomic_bool busy;
    atomic_uint strike_seq;
    atomic_int strike;
    unsigned raised_seq; /* the request the hook already raised in */
    lua_State *_Atomic L;
    sigjmp_buf jmp;
    volatile sig_atomic_t jmp_armed;
    /* Anonymous executable mappings (LuaJIT's machine code), filled by the
     * watchdog before a hard strike. */
    uintptr_t ranges[LUSTY__APP_MAX_RANGES][2];
    atomic_int nranges;
    /* The watchdog's view (main loop only). */
    unsigned seen_seq;
    uint64_t seen_at;
};

/* ---- app.c ---- */
/* Loads generation `gen` of the app into a fresh host (or records why it
 * failed); never NULL. */
lusty__app_gen_t *lusty__app_gen_load(lusty_app_t *app, unsigned gen);
void lusty__app_gen_release(lusty__app_gen_t *g);
/* Drops a generation whose Lua state was abandoned mid-call. */
void lusty__app_gen_abandon(lusty__app_gen_t *g);
/* Calls the report callback. */
void lusty__app_report(lusty_app_t *app, lusty_app_report_t kind, const char *message);
/* A copy of `msg` with "<root>/" removed wherever it appears. */
char *lusty__app_relative(const lusty_app_t *app, const char *msg);

/* ---- app_context.c ---- */
/* Creates the registry refs of a freshly loaded generation. */
void lusty__app_gen_prepare(lusty__app_gen_t *g, lusty_app_worker_t *w);
/* Pushes the request context of `req` on the host's stack. */
void lusty__app_push_context(lusty_app_worker_t *w, lusty__app_gen_t *g,
                             const lusty_http_request_t *req);
/* After the pipeline: writes the response from the context on top of the
 * stack (popping it), or the runtime's page when nobody answered or an
 * error went unanswered. */
void lusty__app_finish(lusty_app_worker_t *w, lusty__app_gen_t *g, const char *pipeline_err);

/* ---- app_errors.c ---- */
typedef enum { LUSTY__APP_TEXT, LUSTY__APP_HTML, LUSTY__APP_JSON } lusty__app_format_t;
lusty__app_format_t lusty__app_format(const lusty_http_request_t *req);
/* Ends `res` with a runtime page: `status`, a title, and optional details
 * (a message, then a traceback) in the format the client prefers. */
void lusty__app_page(lusty_http_response_t *res, const lusty_http_request_t *req, int status,
                     const char *title, const char *message, const char *trace);

/* ---- app_reload.c ---- */
int lusty__app_watch_start(lusty_app_t *app);
void lusty__app_watch_stop(lusty_app_t *app);

/* ---- app_budget.c ---- */
int lusty__app_budget_start(lusty_app_t *app);
void lusty__app_budget_stop(lusty_app_t *app);
/* Registers the calling thread's worker for the watchdog and the signal. */
void lusty__app_budget_attach(lusty_app_worker_t *w);
void lusty__app_budget_detach(lusty_app_worker_t *w);
/* Marks the start and end of a request's Lua run. */
void lusty__app_budget_enter(lusty_app_worker_t *w, lua_State *L);
void lusty__app_budget_leave(lusty_app_worker_t *w);

#endif
