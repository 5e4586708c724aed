/* Serving a project: static folders first, then the app, on the HTTP
 * server's workers. Each worker gets its own app worker (one Lua host per
 * event loop); the static folders are shared, read-only. */
#include "lusty/serve.h"

#include "lusty/alloc.h"
#include "lusty/error.h"
#include "lusty/static_files.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

struct lusty_serve {
    lusty_serve_options_t opts; /* mounts and strings point into the copies below */
    char *host;                 /* numeric */
    char *url;
    lusty_serve_mount_t *served;
    char **served_dirs; /* their folders, absolute */
    size_t nserved;
    lusty_static_t *files;
    lusty_app_t *app;
    lusty_app_stats_t app_stats;
    char *app_error;
    lusty_http_server_t *http;
    lusty_serve_done_cb done;
    void *done_data;
};

/* The handler data of one worker. */
typedef struct {
    lusty_serve_t *srv;
    lusty_app_worker_t *app;
} serve_worker_t;

static void report(const lusty_serve_t *srv, const lusty_serve_event_t *e)
{
    if (srv->opts.report)
        srv->opts.report(srv->opts.report_data, e);
}

static void app_report(void *data, lusty_app_report_t kind, const char *message)
{
    static const lusty_serve_event_kind_t kinds[] = {
        [LUSTY_APP_LOADED] = LUSTY_SERVE_APP_LOADED,
        [LUSTY_APP_LOAD_FAILED] = LUSTY_SERVE_APP_LOAD_FAILED,
        [LUSTY_APP_ERROR] = LUSTY_SERVE_APP_ERROR,
        [LUSTY_APP_BUDGET] = LUSTY_SERVE_APP_BUDGET,
        [LUSTY_APP_SYNTAX] = LUSTY_SERVE_APP_SYNTAX,
    };
    lusty_serve_event_t e = {.kind = kinds[kind], .message = message};
    report(data, &e);
}

/* Turns a host name into the numeric address the HTTP server binds. */
static char *numeric_host(const char *host)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, NULL, &hints, &ai) != 0 || !ai)
        return NULL;
    char buf[INET6_ADDRSTRLEN] = "";
    if (ai->ai_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, buf, sizeof(buf));
    else if (ai->ai_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, buf, sizeof(buf));
    freeaddrinfo(ai);
    return buf[0] ? lusty_strdup(buf) : NULL;
}

/* Mounts the static folders; ones that cannot be opened are reported and
 * skipped, so that deleting one does not stop the whole app. */
static int mount_static(lusty_serve_t *srv, char **err_out)
{
    const lusty_serve_options_t *o = &srv->opts;
    lusty_static_new(&srv->files);
    srv->served = lusty_calloc(o->nmounts ? o->nmounts : 1, sizeof *srv->served);
    srv->served_dirs = lusty_calloc(o->nmounts ? o->nmounts : 1, sizeof *srv->served_dirs);
    for (size_t i = 0; i < o->nmounts; i++) {
        const lusty_serve_mount_t *m = &o->mounts[i];
        char *path = m->folder[0] == '/' ? lusty_strdup(m->folder)
                                         : lusty_asprintf("%s/%s", o->root, m->folder);
        int err = lusty_static_add(srv->files, m->prefix, path);
        if (err == LUSTY_EINVAL) {
            *err_out =
                lusty_asprintf("server.static prefix '%s' is not a plain URL path", m->prefix);
            lusty_free(path);
            return err;
        }
        if (err) {
            lusty_serve_event_t e = {
                .kind = LUSTY_SERVE_STATIC_SKIPPED, .prefix = m->prefix, .path = path, .err = err};
            report(srv, &e);
        } else {
            srv->served_dirs[srv->nserved] = path;
            srv->served[srv->nserved++] = *m;
            path = NULL; /* kept in served_dirs */
        }
        lusty_free(path);
    }
    return 0;
}

int lusty_serve_new(lusty_serve_t **out, const lusty_serve_options_t *opts, char **err_out)
{
    *out = NULL;
    *err_out = NULL;
    lusty_serve_t *srv = lusty_calloc(1, sizeof *srv);
    srv->opts = *opts;
    if (!srv->opts.workers)
        srv->opts.workers = 1;
    srv->host = numeric_host(opts->host ? opts->host : "127.0.0.1");
    if (!srv->host) {
        lusty_serve_free(srv);
        return LUSTY_ENOENT;
    }
    int err = mount_static(srv, err_out);
    if (err) {
        lusty_serve_free(srv);
        return err;
    }
    lusty_app_options_t app_opts = {
        .root = opts->root,
        .app = opts->app,
        .reload = opts->reload,
        .live = opts->live,
        .static_dirs = (const char *const *)srv->served_dirs,
        .nstatic_dirs = srv->nserved,
        .hide_errors = opts->hide_errors,
        .trusted_proxies = opts->trusted_proxies,
        .ntrusted_proxies = opts->ntrusted_proxies,
        .budget_ms = opts->budget_ms,
        .host = srv->host,
        .report = app_report,
        .report_data = srv,
    };
    if (lusty_app_new(&srv->app, &app_opts) != 0) {
        *err_out = lusty_strdup("server.trusted_proxies must list addresses or networks "
                                "(\"127.0.0.1\", \"10.0.0.0/8\")");
        lusty_serve_free(srv);
        return LUSTY_EINVAL;
    }
    lusty_app_check(srv->app, &srv->app_stats, &srv->app_error);
    *out = srv;
    return 0;
}

static void handle(void *data, const lusty_http_request_t *req, lusty_http_response_t *res)
{
    serve_worker_t *w = data;
    if (lusty_static_serve(w->srv->files, req, res))
        return;
    lusty_app_worker_handle(w->app, req, res);
}

static int worker_start(void *data, unsigned worker, uv_loop_t *loop, void **handler_data)
{
    (void)worker;
    serve_worker_t *w = lusty_calloc(1, sizeof *w);
    w->srv = data;
    int err = lusty_app_worker_new(&w->app, w->srv->app, loop);
    if (err) {
        lusty_free(w);
        return err;
    }
    *handler_data = w;
    return 0;
}

static void worker_stop(void *data, unsigned worker, uv_loop_t *loop, void *handler_data)
{
    (void)data;
    (void)worker;
    (void)loop;
    serve_worker_t *w = handler_data;
    if (!w)
        return;
    lusty_app_worker_free(w->app);
    lusty_free(w);
}

static void worker_stopping(void *data, unsigned worker, uv_loop_t *loop, void *handler_data)
{
    (void)data;
    (void)worker;
    (void)loop;
    serve_worker_t *w = handler_data;
    lusty_app_worker_stopping(w->app);
}

int lusty_serve_listen(lusty_serve_t *srv)
{
    lusty_http_config_t cfg = {
        .host = srv->host,
        .port = srv->opts.port,
        .workers = srv->opts.workers,
        .limits = srv->opts.limits,
        .handler = handle,
        .worker_start = worker_start,
        .worker_stop = worker_stop,
        .worker_stopping = worker_stopping,
        .worker_data = srv,
        .access_log = srv->opts.access_log,
        .access_log_data = srv->opts.access_log_data,
        .inherit = srv->opts.inherit ? srv->opts.inherit->http : NULL,
    };
    int err = lusty_http_server_new(&srv->http, &cfg);
    if (err)
        return err;
    int port = lusty_http_server_port(srv->http);
    bool v6 = strchr(srv->host, ':') != NULL;
    srv->url = lusty_asprintf("http://%s%s%s:%d/", v6 ? "[" : "", srv->host, v6 ? "]" : "", port);
    lusty_app_set_port(srv->app, port);
    return 0;
}

int lusty_serve_port(const lusty_serve_t *srv)
{
    return srv->http ? lusty_http_server_port(srv->http) : -1;
}

void lusty_serve_stats(const lusty_serve_t *srv, lusty_serve_stats_t *out)
{
    *out = (lusty_serve_stats_t){
        .host = srv->host,
        .url = srv->url,
        .port = lusty_serve_port(srv),
        .app_file = srv->opts.app ? srv->opts.app : "app/config.lua",
        .app = srv->app_stats,
        .app_error = srv->app_error,
        .served = srv->served,
        .nserved = srv->nserved,
    };
}

static void on_http_done(lusty_http_server_t *http, int status, void *data)
{
    (void)http;
    lusty_serve_t *srv = data;
    lusty_app_stop(srv->app);
    if (srv->done)
        srv->done(srv, status, srv->done_data);
}

int lusty_serve_start(lusty_serve_t *srv, uv_loop_t *loop, lusty_serve_done_cb done, void *data)
{
    if (!srv->http)
        return LUSTY_EINVAL;
    srv->done = done;
    srv->done_data = data;
    lusty_app_start(srv->app, loop);
    int err = lusty_http_server_start(srv->http, loop, on_http_done, srv);
    if (err)
        lusty_app_stop(srv->app);
    return err;
}

void lusty_serve_stop(lusty_serve_t *srv)
{
    if (srv->http)
        lusty_http_server_stop(srv->http);
}

void lusty_serve_free(lusty_serve_t *srv)
{
    if (!srv)
        return;
    lusty_http_server_free(srv->http);
    lusty_static_free(srv->files);
    lusty_app_free(srv->app);
    lusty_free(srv->app_error);
    for (size_t i = 0; i < srv->nserved; i++)
        lusty_free(srv->served_dirs[i]);
    lusty_free(srv->served_dirs);
    lusty_free(srv->served);
    lusty_free(srv->url);
    lusty_free(srv->host);
    lusty_free(srv);
}
