/* The app served over HTTP: the shared state, the generations of loaded
 * code of each worker, and the request handler that hands each request to
 * app_request.c (its task, context and response) or answers with the
 * runtime's pages (app_errors.c); live reload is app_reload.c. */
#include "app_internal.h"

#include "lusty/alloc.h"
#include "lusty/error.h"

#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <lua.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void lusty__app_report(lusty_app_t *app, lusty_app_report_t kind, const char *message)
{
    if (app->report)
        app->report(app->report_data, kind, message);
}

char *lusty__app_relative(const lusty_app_t *app, const char *msg)
{
    lusty_buf_t out = LUSTY_BUF_INIT;
    const char *p = msg ? msg : "";
    for (;;) {
        const char *hit = app->root_len ? strstr(p, app->root) : NULL;
        if (!hit || hit[app->root_len] != '/') {
            if (hit) {
                lusty_buf_append(&out, p, (size_t)(hit - p) + app->root_len);
                p = hit + app->root_len;
                continue;
            }
            lusty_buf_puts(&out, p);
            break;
        }
        lusty_buf_append(&out, p, (size_t)(hit - p));
        p = hit + app->root_len + 1;
    }
    return lusty_buf_detach(&out, NULL);
}

int lusty_app_new(lusty_app_t **out, const lusty_app_options_t *opts)
{
    *out = NULL;
    if (!opts || !opts->root)
        return LUSTY_EINVAL;
    lusty_app_t *app = lusty_calloc(1, sizeof *app);
    app->root = lusty_strdup(opts->root);
    app->root_len = strlen(app->root);
    atomic_init(&app->gen, 0);
    atomic_init(&app->reported, 0);
    atomic_init(&app->live_gen, 0);
    atomic_init(&app->live_full, 0);
    pthread_mutex_init(&app->lock, NULL);
    while (app->root_len > 1 && app->root[app->root_len - 1] == '/')
        app->root[--app->root_len] = '\0';
    app->app_file = lusty_strdup(opts->app && opts->app[0] ? opts->app : "app/config.lua");
    app->host = lusty_strdup(opts->host ? opts->host : "127.0.0.1");
    app->port = opts->port;
    app->reload = opts->reload;
    app->live = opts->reload && opts->live;
    if (app->live) {
        /* Tells this server's pages from an earlier one's (a restart). */
        app->boot = uv_hrtime() ^ ((uint64_t)getpid() << 40);
        app->static_dirs = lusty_calloc(opts->nstatic_dirs + 1, sizeof(char *));
        for (size_t i = 0; i < opts->nstatic_dirs; i++)
            app->static_dirs[app->nstatic_dirs++] = lusty_strdup(opts->static_dirs[i]);
    }
    app->hide_errors = opts->hide_errors;
    if (lusty__app_set_trusted(app, opts->trusted_proxies, opts->ntrusted_proxies) != 0) {
        lusty_app_free(app);
        return LUSTY_EINVAL;
    }
    app->budget_ms = opts->budget_ms;
    app->report = opts->report;
    app->report_data = opts->report_data;
    *out = app;
    return 0;
}

void lusty_app_free(lusty_app_t *app)
{
    if (!app)
        return;
    pthread_mutex_destroy(&app->lock);
    lusty_free(app->trusted);
    for (size_t i = 0; i < app->nstatic_dirs; i++)
        lusty_free(app->static_dirs[i]);
    lusty_free(app->static_dirs);
    for (unsigned i = 0; i < app->nchanged; i++)
        lusty_free(app->changed_files[i]);
    lusty_free(app->changed);
    lusty_free(app->root);
    lusty_free(app->app_file);
    lusty_free(app->host);
    lusty_free(app);
}

void lusty_app_set_port(lusty_app_t *app, int port)
{
    app->port = port;
}

/* The app file as an absolute path. */
static char *app_path(const lusty_app_t *app)
{
    if (app->app_file[0] == '/')
        return lusty_strdup(app->app_file);
    return lusty_asprintf("%s/%s", app->root, app->app_file);
}

static bool app_exists(const lusty_app_t *app)
{
    char *file = app_path(app);
    struct stat st;
    bool ok = stat(file, &st) == 0;
    lusty_free(file);
    return ok;
}

/* Loads a host with the app; *err_out gets the message (relative paths)
 * when it fails. A missing app file leaves the host with an empty app.
 * Loading runs under the time budget; the host's tasks wait on `loop`. */
static int load_host(lusty_app_t *app, uv_loop_t *loop, lusty_lua_host_t **out, bool *has_app,
                     char **err_out)
{
    char *err = NULL;
    lusty_lua_options_t o = {.root = app->root, .app = app->app_file};
    *out = NULL;
    *err_out = NULL;
    *has_app = app_exists(app);
    int rc = lusty_lua_host_new(out, &o, &err);
    if (rc == 0)
        lusty_lua_host_set_loop(*out, loop, app->budget_ms);
    if (rc == 0 && *has_app)
        rc = lusty_lua_host_load_app(*out, &err);
    if (rc) {
        *err_out = lusty__app_relative(app, err ? err : lusty_strerror(rc));
        lusty_lua_host_free(*out);
        *out = NULL;
    }
    lusty_free(err);
    return rc;
}

int lusty_app_check(lusty_app_t *app, lusty_app_stats_t *stats, char **err_out)
{
    memset(stats, 0, sizeof *stats);
    lusty_lua_host_t *host = NULL;
    int rc = load_host(app, NULL, &host, &stats->has_app, err_out);
    if (rc)
        return LUSTY_ERUNTIME;
    stats->loaded = stats->has_app;
    cJSON *arr = NULL;
    lusty_lua_host_channels(host, &arr);
    const cJSON *ch;
    cJSON_ArrayForEach(ch, arr)
    {
        stats->channels++;
        stats->subscribers += (unsigned)cJSON_GetArraySize(cJSON_GetObjectItem(ch, "subscribers"));
    }
    cJSON_Delete(arr);
    /* Raw reads: the app's own metamethods are not run from here, where
     * an error could not be caught. */
    lua_State *L = lusty_lua_host_state(host);
    lua_pushliteral(L, "lusty");
    lua_rawget(L, LUA_GLOBALSINDEX);
    if (lua_istable(L, -1)) {
        lua_pushliteral(L, "publishers");
        lua_rawget(L, -2);
        if (lua_istable(L, -1))
            stats->publishers = (unsigned)lua_objlen(L, -1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lusty_lua_host_free(host);
    return 0;
}

int lusty_app_start(lusty_app_t *app, uv_loop_t *loop)
{
    app->loop = loop;
    if (app->reload)
        return lusty__app_watch_start(app);
    return 0;
}

void lusty_app_stop(lusty_app_t *app)
{
    if (!app || !app->loop)
        return;
    lusty__app_watch_stop(app);
}

/* ---- generations ---- */

lusty__app_gen_t *lusty__app_gen_load(lusty_app_t *app, unsigned gen, uv_loop_t *loop)
{
    lusty__app_gen_t *g = lusty_calloc(1, sizeof *g);
    g->gen = gen;
    g->refs = 1;
    g->serve_ref = g->app_ref = LUA_NOREF;
    bool has_app = false;
    load_host(app, loop, &g->host, &has_app, &g->error);
    g->no_app = !has_app;
    if (g->host && !lusty__app_gen_prepare(g)) {
        lusty_lua_host_free(g->host);
        g->host = NULL;
    }
    return g;
}

void lusty__app_gen_release(lusty__app_gen_t *g)
{
    if (!g || --g->refs > 0)
        return;
    lusty_lua_host_free(g->host);
    lusty_free(g->error);
    lusty_free(g);
}

/* Whether this worker is the first to load generation `gen` (reports of a
 * generation come once, whatever the number of workers). */
static bool first_to_report(lusty_app_t *app, unsigned gen)
{
    unsigned seen = atomic_load(&app->reported);
    while ((int)(gen - seen) > 0) {
        if (atomic_compare_exchange_weak(&app->reported, &seen, gen))
            return true;
    }
    return false;
}

/* Replaces the worker's generation by a fresh load of `gen`. The old one
 * is released: freed now unless a request still runs on it. */
static void switch_gen(lusty_app_worker_t *w, unsigned gen)
{
    lusty_app_t *app = w->app;
    lusty__app_gen_t *g = lusty__app_gen_load(app, gen, w->loop);
    lusty__app_gen_t *old = w->cur;
    w->cur = g;
    lusty__app_gen_release(old);
    if (gen != 0 && first_to_report(app, gen)) {
        if (g->error) {
            lusty__app_report(app, LUSTY_APP_LOAD_FAILED, g->error);
        } else {
            pthread_mutex_lock(&app->lock);
            char *what = lusty_strdup(app->changed ? app->changed : app->app_file);
            pthread_mutex_unlock(&app->lock);
            lusty__app_report(app, LUSTY_APP_LOADED, what);
            lusty_free(what);
        }
    }
}

static void on_reload_async(uv_async_t *h)
{
    lusty_app_worker_t *w = h->data;
    unsigned gen = atomic_load(&w->app->gen);
    if (!w->cur || w->cur->gen != gen)
        switch_gen(w, gen);
    /* After the new code is loaded: a page reloading now gets it. */
    lusty__app_live_notify(w);
}

static void on_async_closed(uv_handle_t *h)
{
    lusty_app_worker_t *w = h->data;
    lusty_free(w);
}

int lusty_app_worker_new(lusty_app_worker_t **out, lusty_app_t *app, uv_loop_t *loop)
{
    lusty_app_worker_t *w = lusty_calloc(1, sizeof *w);
    w->app = app;
    w->loop = loop;
    uv_async_init(loop, &w->reload_async, on_reload_async);
    w->reload_async.data = w;
    switch_gen(w, atomic_load(&app->gen));
    pthread_mutex_lock(&app->lock);
    w->next = app->workers;
    app->workers = w;
    pthread_mutex_unlock(&app->lock);
    *out = w;
    return 0;
}

void lusty_app_worker_free(lusty_app_worker_t *w)
{
    if (!w)
        return;
    lusty_app_t *app = w->app;
    pthread_mutex_lock(&app->lock);
    for (lusty_app_worker_t **p = &app->workers; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    pthread_mutex_unlock(&app->lock);
    lusty__app_live_close_all(w);
    lusty__app_requests_free(w);
    lusty__app_gen_release(w->cur);
    w->cur = NULL;
    /* Freed in the close callback: the HTTP core runs the loop after its
     * worker_stop hook. */
    uv_close((uv_handle_t *)&w->reload_async, on_async_closed);
}

size_t lusty_app_worker_in_flight(const lusty_app_worker_t *w)
{
    return w->nreqs;
}

void lusty_app_worker_handle(void *data, const lusty_http_request_t *req,
                             lusty_http_response_t *res)
{
    lusty_app_worker_t *w = data;
    lusty_app_t *app = w->app;
    if (app->live && strcmp(req->path, LUSTY_APP_LIVE_PATH) == 0) {
        lusty__app_live_serve(w, req, res);
        return;
    }
    /* Before the code's generation: the watcher bumps that one first, so
     * a page never claims a change older than its code. */
    unsigned live_gen = atomic_load(&app->live_gen);
    unsigned gen = atomic_load(&app->gen);
    if (!w->cur || w->cur->gen != gen)
        switch_gen(w, gen);
    lusty__app_gen_t *g = w->cur;
    if (!g->host) {
        /* Live reload shows the fixed app once the file is saved again. */
        char *script = lusty__app_live_script(app, live_gen);
        lusty__app_page(res, req, 500,
                        app->hide_errors ? "Internal Server Error" : "The app failed to load",
                        app->hide_errors ? NULL : g->error, NULL, script);
        lusty_free(script);
        return;
    }
    if (g->no_app) {
        lusty_http_response_send_status(res, 404, NULL, NULL);
        return;
    }
    lusty__app_request_start(w, g, req, res, live_gen);
}
