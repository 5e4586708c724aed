/* Serving a project: the runtime's HTTP server with static folders in
 * front of the app (lusty/app.h), assembled from one set of options.
 *
 * The caller (the CLI) reads the project's configuration, fills
 * lusty_serve_options_t, and prints: this module never writes to stdout
 * or stderr. What happens while serving (static folders skipped, app
 * reloads and errors) reaches the caller as structured events. */
#ifndef LUSTY_SERVE_H
#define LUSTY_SERVE_H

#include "lusty/app.h"
#include "lusty/http.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct lusty_serve lusty_serve_t;

/* A URL prefix served from a folder (relative to the project root, or
 * absolute). */
typedef struct {
    const char *prefix;
    const char *folder;
} lusty_serve_mount_t;

typedef enum {
    LUSTY_SERVE_STATIC_SKIPPED,  /* a static folder cannot be opened and is
                                    not served: prefix, path, err */
    LUSTY_SERVE_APP_LOADED,      /* new app code loaded after a change: message */
    LUSTY_SERVE_APP_LOAD_FAILED, /* the app failed to load: message */
    LUSTY_SERVE_APP_ERROR,       /* a request failed, answered 500: message */
    LUSTY_SERVE_APP_BUDGET,      /* a request ran over its Lua budget: message */
    LUSTY_SERVE_APP_SYNTAX,      /* a Lua file saved just now does not compile */
} lusty_serve_event_kind_t;

/* Borrowed for the call. */
typedef struct {
    lusty_serve_event_kind_t kind;
    const char *message; /* APP_* events */
    const char *prefix;  /* STATIC_SKIPPED: the URL prefix */
    const char *path;    /* STATIC_SKIPPED: the folder as resolved */
    int err;             /* STATIC_SKIPPED: why (LUSTY_ENOENT: no such folder) */
} lusty_serve_event_t;

/* Called from any thread (workers included): must be thread-safe. */
typedef void (*lusty_serve_report_cb)(void *data, const lusty_serve_event_t *event);

/* Strings and mounts are borrowed: they must outlive the server. */
typedef struct {
    const char *root;                  /* the project folder (absolute), required */
    const char *host;                  /* a name or address; resolved to an address */
    int port;                          /* 0 picks a free one */
    unsigned workers;                  /* threads, each with its own loop; 0 means 1 */
    const lusty_serve_mount_t *mounts; /* static folders; the longest matching prefix serves */
    size_t nmounts;
    const char *app;                    /* the app config relative to root; NULL: app/config.lua */
    bool reload;                        /* reload the app when its files change */
    bool live;                          /* and open pages in the browser (see
                                           lusty_app_options_t.live) */
    bool hide_errors;                   /* production: 5xx pages without details */
    const char *const *trusted_proxies; /* see lusty_app_options_t */
    size_t ntrusted_proxies;
    uint64_t budget_ms;              /* Lua time per request; 0: no limit */
    lusty_http_limits_t limits;      /* zero fields take the defaults */
    lusty_http_access_cb access_log; /* optional; called on worker threads */
    void *access_log_data;
    lusty_serve_report_cb report; /* optional */
    void *report_data;
    /* A restart: the running server this one replaces. On the same host
     * and port it listens on the same sockets (nothing is refused while
     * they overlap); start this one, then stop the old one. */
    struct lusty_serve *inherit;
} lusty_serve_options_t;

/* What the start-up block shows. Borrowed from the server. */
typedef struct {
    const char *host;                  /* the numeric address listened on */
    const char *url;                   /* http://host:port/ once listening, else NULL */
    int port;                          /* the bound port once listening, else -1 */
    const char *app_file;              /* the app config, relative to root */
    lusty_app_stats_t app;             /* what the first load found */
    const char *app_error;             /* why it failed to load, or NULL */
    const lusty_serve_mount_t *served; /* the mounts being served (as given) */
    size_t nserved;
} lusty_serve_stats_t;

/* Resolves the host, mounts the static folders (reporting the ones that
 * cannot be opened, which are skipped) and loads the app once to check it
 * (app code never fails this: a load error is in the stats, and served
 * as the error page until fixed). Errors: LUSTY_ENOENT, the host is
 * unknown; LUSTY_EINVAL, a mount's prefix is not a plain URL path or a
 * trusted proxy is not an address, with a message in *err_out (free
 * with lusty_free). */
int lusty_serve_new(lusty_serve_t **out, const lusty_serve_options_t *opts, char **err_out);

/* Binds the listening socket. Returns 0 or the error (libuv's, e.g.
 * UV_EADDRINUSE, UV_EACCES; LUSTY_EINVAL for an address it cannot use). */
int lusty_serve_listen(lusty_serve_t *srv);

/* The bound port once listening, else -1. */
int lusty_serve_port(const lusty_serve_t *srv);

void lusty_serve_stats(const lusty_serve_t *srv, lusty_serve_stats_t *out);

/* Called on the loop's thread when the server has stopped (status 0) or
 * failed; the app is stopped by then. */
typedef void (*lusty_serve_done_cb)(lusty_serve_t *srv, int status, void *data);

/* Starts the app (reloading) and the workers on a listening server. On
 * error nothing is left running on `loop`. */
int lusty_serve_start(lusty_serve_t *srv, uv_loop_t *loop, lusty_serve_done_cb done, void *data);

/* Stops gracefully: in-flight requests get a grace period; then done. */
void lusty_serve_stop(lusty_serve_t *srv);

/* Frees a server that never started or whose done callback has run. */
void lusty_serve_free(lusty_serve_t *srv);

#endif
