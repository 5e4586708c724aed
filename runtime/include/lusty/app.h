/* Serving a Lusty app over the HTTP core (contract sections 4 and 7).
 *
 * A lusty_app_t is shared by all the workers of a server: the project, the
 * options, the reload generation and the time-budget watchdog. Each worker
 * thread owns a lusty_app_worker_t, which owns the worker's Lua host (one
 * lua_State with the app loaded) and is the handler data of the HTTP core:
 * lusty_app_worker_handle() is a lusty_http_handler_cb.
 *
 * Per request the worker builds the request context (request, response,
 * input, output, suffix, read-through to the global context) in C, runs the
 * pipeline with one call into Lua, and writes what the handlers sent.
 * Requests nobody answered, handler errors without an app 500 route, apps
 * that fail to load and requests over their Lua time budget get pages from
 * the runtime (HTML, JSON or text after the Accept header).
 *
 * Live reload: lusty_app_start() watches app/, lusty_modules/ and the
 * project root (lusty.json, *.lua) on the caller's loop; a change bumps a
 * generation, and each worker loads the new code into a fresh host before
 * its next request. A change that fails to load makes every request answer
 * the load error until the next change.
 *
 * The runtime never prints: what the console should show arrives through
 * the report callback. See docs/app-serving.md. */
#ifndef LUSTY_APP_H
#define LUSTY_APP_H

#include "lusty/http.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct lusty_app lusty_app_t;
typedef struct lusty_app_worker lusty_app_worker_t;

/* What the report callback is told about. */
typedef enum {
    LUSTY_APP_LOADED,      /* new code loaded after a change: message names what
                              changed ("app/x.lua", "app/x.lua and 2 more") */
    LUSTY_APP_LOAD_FAILED, /* the app failed to load: "file:line: message" */
    LUSTY_APP_ERROR,       /* a request failed and the runtime answered 500:
                              the message and its traceback */
    LUSTY_APP_BUDGET,      /* a request ran over its Lua time budget */
    LUSTY_APP_SYNTAX,      /* a Lua file saved just now does not compile:
                              "file:line: message" (relative paths) */
} lusty_app_report_t;

/* Called from any thread (workers included); must be thread-safe. The
 * message is borrowed for the call. Reports of a generation's load come
 * once, not once per worker. */
typedef void (*lusty_app_report_cb)(void *data, lusty_app_report_t kind, const char *message);

typedef struct {
    const char *root; /* the project folder (absolute), required */
    const char *app;  /* the app config, relative to root; NULL: app/config.lua */
    bool reload;      /* watch the project and reload on change */
    /* Development: open pages reload in the browser after a change (a
     * script added to HTML responses, fed by the event stream at
     * LUSTY_APP_LIVE_PATH); needs `reload`. The static folders (absolute)
     * are watched too: a change there reloads pages, not the app, and a
     * change of .css files only swaps the pages' stylesheets. */
    bool live;
    const char *const *static_dirs;
    size_t nstatic_dirs;
    bool hide_errors;   /* production: the runtime's 5xx pages carry no message,
                           file or traceback (the report still does) */
    uint64_t budget_ms; /* per-request Lua time budget; 0 turns it off */
    /* Addresses or networks ("127.0.0.1", "10.0.0.0/8") of reverse proxies
     * whose X-Forwarded-For and X-Forwarded-Proto make the context's
     * request.remoteAddr and request.scheme; others' are ignored. */
    const char *const *trusted_proxies;
    size_t ntrusted_proxies;
    int port;             /* the listening port, for request.port/url without Host */
    const char *host;     /* the listening address, idem; NULL: 127.0.0.1 */
    lusty_app_report_cb report;
    void *report_data;
} lusty_app_options_t;

#define LUSTY_APP_DEFAULT_BUDGET_MS 10000
/* The reserved path of the live-reload event stream (options.live). */
#define LUSTY_APP_LIVE_PATH "/__lusty/live"

/* Counts shown in the start-up block. */
typedef struct {
    bool has_app;      /* the app file exists */
    bool loaded;       /* and it loaded */
    unsigned channels; /* channels with subscribers, or on the way to one */
    unsigned subscribers;
    unsigned publishers;
} lusty_app_stats_t;

/* Creates the shared app state (copies the options); LUSTY_EINVAL when a
 * trusted proxy is neither an address nor a network. Free with
 * lusty_app_free() after every worker is freed and lusty_app_stop()'s
 * handles are closed. */
int lusty_app_new(lusty_app_t **out, const lusty_app_options_t *opts);
void lusty_app_free(lusty_app_t *app);
/* Sets the port used for requests without a Host header (after binding). */
void lusty_app_set_port(lusty_app_t *app, int port);

/* Loads the app once in a scratch host to count its channels; on a load
 * failure returns LUSTY_ERUNTIME with the message in *err_out (lusty_free
 * it). A project without the app file is no error (stats->has_app false). */
int lusty_app_check(lusty_app_t *app, lusty_app_stats_t *stats, char **err_out);

/* Starts the file watcher (when reload is on) and the time-budget watchdog
 * (when a budget is set) on `loop`, the caller's. lusty_app_stop() closes
 * their handles (the loop must then run once more to finish closing). */
int lusty_app_start(lusty_app_t *app, uv_loop_t *loop);
void lusty_app_stop(lusty_app_t *app);

/* Creates a worker on the calling thread (the worker's thread: call it from
 * the HTTP core's worker_start hook) and loads the app into its host. A
 * load failure is not an error here: it is reported, and requests answer
 * it until the code is fixed. Free on the same thread with
 * lusty_app_worker_free() (from worker_stop). */
int lusty_app_worker_new(lusty_app_worker_t **out, lusty_app_t *app, uv_loop_t *loop);
void lusty_app_worker_free(lusty_app_worker_t *w);

/* The server begins to stop: ends the worker's live-reload event streams
 * (they would otherwise hold the stop until its deadline). Call on the
 * worker's thread (the HTTP core's worker_stopping hook). */
void lusty_app_worker_stopping(lusty_app_worker_t *w);

/* Requests of the worker in flight (running or waiting). */
size_t lusty_app_worker_in_flight(const lusty_app_worker_t *w);

/* Serves one request through the app (a lusty_http_handler_cb with the
 * worker as data). Always ends the response, at once or, when the request
 * waits (lusty.sleep, the store), later on the worker's loop. */
void lusty_app_worker_handle(void *worker, const lusty_http_request_t *req,
                             lusty_http_response_t *res);

#endif
