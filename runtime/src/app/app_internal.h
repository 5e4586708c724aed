/* Internals shared by the app-serving files (app*.c); nothing here is
 * public API. Names carry a `lusty__app` prefix. */
#ifndef LUSTY_APP_INTERNAL_H
#define LUSTY_APP_INTERNAL_H

#include "lusty/app.h"
#include "lusty/buf.h"
#include "lusty/lua_host.h"
#include "lusty/lua_task.h"

#include <lua.h>
#include <pthread.h>
#include <stdatomic.h>

/* One loaded generation of the app in one worker: a Lua host, or the
 * message of why it failed to load. */
typedef struct lusty__app_gen {
    lusty_lua_host_t *host; /* NULL when the load failed */
    char *error;            /* the load error (NULL when loaded) */
    unsigned gen;           /* the app generation it was loaded from */
    bool no_app;            /* the project has no app file: an empty app */
    int refs;               /* requests running on it, plus one while current */
    /* Registry refs made once per host: the function each request's task
     * runs (runtime/lua/lusty/context_builder.lua, holding the metatable
     * that reads through to the global context) and the app object. */
    int serve_ref, app_ref;
} lusty__app_gen_t;

typedef struct lusty__app_watch lusty__app_watch_t;
typedef struct lusty__app_net lusty__app_net_t;
typedef struct lusty__app_live lusty__app_live_t;

#define LUSTY__APP_MAX_CHANGED 16

struct lusty_app {
    char *root;
    size_t root_len;
    char *app_file; /* relative to root */
    char *host;
    int port;
    bool reload;
    bool hide_errors;
    lusty__app_net_t *trusted; /* proxies whose X-Forwarded-* are believed */
    size_t ntrusted;
    uint64_t budget_ms;
    lusty_app_report_cb report;
    void *report_data;

    atomic_uint gen;      /* bumped by every change of the app's code */
    atomic_uint reported; /* the last generation whose load was reported */

    /* Live reload in the browser (options.live): `live_gen` is bumped by
     * every change (code or static folders), after `gen`; `live_full` is
     * the last live_gen that needs a full page reload (the others only
     * changed stylesheets). `boot` tells this server's pages from those
     * of an earlier one. Only the watcher writes them. */
    bool live;
    atomic_uint live_gen, live_full;
    uint64_t boot;
    char **static_dirs;
    size_t nstatic_dirs;
    bool changed_code, changed_page; /* the watcher's batch: code, static non-CSS */

    /* The watcher, on the caller's loop. */
    uv_loop_t *loop;
    lusty__app_watch_t *watches;
    uv_timer_t *debounce;

    /* The files changed since the last reload (watcher only), and what the
     * last reload was for ("app/x.lua and 2 more", guarded by `lock`). */
    char *changed_files[LUSTY__APP_MAX_CHANGED];
    unsigned nchanged, changed_more;
    char *changed;

    pthread_mutex_t lock; /* guards `workers` and `changed` */
    struct lusty_app_worker *workers;
};

/* One request being served: everything it owns, from the HTTP request
 * until its response ends. Its Lua side is a task (a coroutine) on the
 * generation it started on, which stays loaded until the request is done;
 * the response functions handlers call are closures over a box pointing
 * here, emptied when the request ends. */
typedef struct lusty__app_req {
    lusty_app_worker_t *w;
    lusty__app_gen_t *g;
    const lusty_http_request_t *req;
    lusty_http_response_t *res;
    lusty_lua_task_t *task;             /* while it waits */
    void **box;                         /* the closures' pointer back here */
    lusty_buf_t body;                   /* sent and not yet written */
    bool flushed;                       /* the head went out with a flush */
    bool html_body; /* the handlers' head says text/html, not encoded */
    bool ended;                         /* response.end() was called */
    bool sent;                          /* something was sent (even an empty body) */
    unsigned live_gen;                  /* app->live_gen when the request came */
    struct lusty__app_req *prev, *next; /* in w->reqs, or w->spare */
} lusty__app_req_t;

struct lusty_app_worker {
    lusty_app_t *app;
    uv_loop_t *loop;
    lusty__app_gen_t *cur;
    uv_async_t reload_async; /* the watcher saw a change */
    lusty__app_req_t *reqs;  /* in flight */
    size_t nreqs;
    lusty__app_req_t *spare; /* finished, kept for reuse */
    size_t nspare;
    lusty__app_live_t *live;       /* open live-reload event streams */
    bool stopping;                 /* the server stops: no new streams */
    struct lusty_app_worker *next; /* in app->workers */
};

/* ---- app.c ---- */
/* Loads generation `gen` of the app into a fresh host (or records why it
 * failed); never NULL. */
lusty__app_gen_t *lusty__app_gen_load(lusty_app_t *app, unsigned gen, uv_loop_t *loop);
void lusty__app_gen_release(lusty__app_gen_t *g);
/* Calls the report callback. */
void lusty__app_report(lusty_app_t *app, lusty_app_report_t kind, const char *message);
/* A copy of `msg` with "<root>/" removed wherever it appears. */
char *lusty__app_relative(const lusty_app_t *app, const char *msg);

/* ---- app_request.c ---- */
/* Creates the registry refs of a freshly loaded generation; false (with
 * the message in g->error) when the runtime's modules fail. */
bool lusty__app_gen_prepare(lusty__app_gen_t *g);
/* Starts serving `req` on generation `g` (the worker's current one);
 * `live_gen`: app->live_gen as the request came (for the live script). */
void lusty__app_request_start(lusty_app_worker_t *w, lusty__app_gen_t *g,
                              const lusty_http_request_t *req, lusty_http_response_t *res,
                              unsigned live_gen);
/* Ends every request in flight (the server stops): their tasks are
 * cancelled and their responses ended. */
void lusty__app_requests_drop(lusty_app_worker_t *w);
void lusty__app_requests_free(lusty_app_worker_t *w);

/* ---- app_response.c ---- */
/* The response functions of a request's context (send, flush, end),
 * pushed as three closures over the request's box. */
void lusty__app_push_response_fns(lua_State *L, lusty__app_req_t *r);
/* peer(send, response) -> the client's address of the request whose
 * response functions these are, or nil (for ngx.var.remote_addr; made
 * once per host, asked only when a handler reads it). */
int lusty__app_peer(lua_State *L);
/* Writes the response once the pipeline is done: from the context and the
 * response table on top of L (popped), or the runtime's page when nobody
 * answered or an error went unanswered (`pipeline_err`). Runs Lua
 * metamethods only inside a protected call. */
void lusty__app_finish(lusty__app_req_t *r, lua_State *L, const char *pipeline_err);

/* ---- app_context.c ---- */
/* Pushes the arguments of the context builder for `req`: method, uri,
 * host, port, url, queryString, query, headers, body, params, suffix,
 * scheme, remoteAddr. */
#define LUSTY__APP_CONTEXT_ARGS 13
void lusty__app_push_context_args(lusty_app_t *app, lua_State *L, const lusty_http_request_t *req,
                                  const lusty_http_response_t *res);

/* ---- app_proxy.c ---- */
/* Parses the trusted proxies (addresses or networks, "10.0.0.0/8");
 * LUSTY_EINVAL for one that is neither. */
int lusty__app_set_trusted(lusty_app_t *app, const char *const *nets, size_t n);
/* The client's address (not NUL-terminated: *addr_len bytes; NULL when
 * unknown) and whether it asked for https: the connection's, or what a
 * trusted proxy says in X-Forwarded-For and X-Forwarded-Proto. */
void lusty__app_client(const lusty_app_t *app, const lusty_http_request_t *req,
                       const lusty_http_response_t *res, const char **addr, size_t *addr_len,
                       bool *https);

/* ---- app_errors.c ---- */
typedef enum { LUSTY__APP_TEXT, LUSTY__APP_HTML, LUSTY__APP_JSON } lusty__app_format_t;
lusty__app_format_t lusty__app_format(const lusty_http_request_t *req);
/* Ends `res` with a runtime page: `status`, a title, and optional details
 * (a message, then a traceback) in the format the client prefers. */
/* `script`: the live-reload script for HTML pages, or NULL. */
void lusty__app_page(lusty_http_response_t *res, const lusty_http_request_t *req, int status,
                     const char *title, const char *message, const char *trace, const char *script);

/* ---- app_live.c ---- */
/* Serves the event stream at LUSTY_APP_LIVE_PATH (kept open until the
 * client leaves or the server stops). */
void lusty__app_live_serve(lusty_app_worker_t *w, const lusty_http_request_t *req,
                           lusty_http_response_t *res);
/* Tells the worker's streams about changes they have not seen. */
void lusty__app_live_notify(lusty_app_worker_t *w);
/* Ends every stream of the worker. */
void lusty__app_live_close_all(lusty_app_worker_t *w);
/* The script pages get (NUL-terminated, lusty_free it); NULL when live
 * reload is off. `live_gen`: the change the page is as of. */
char *lusty__app_live_script(const lusty_app_t *app, unsigned live_gen);
/* Puts `script` into an HTML body: before its last </body>, else at the end. */
void lusty__app_live_inject(lusty_buf_t *body, const char *script);

/* ---- app_reload.c ---- */
int lusty__app_watch_start(lusty_app_t *app);
void lusty__app_watch_stop(lusty_app_t *app);

#endif
