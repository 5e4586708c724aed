/* The app served over HTTP: the shared state, the generations of loaded
 * code of each worker, and the request handler that ties the context
 * (app_context.c), the runtime's pages (app_errors.c), live reload
 * (app_reload.c) and the time budget (app_budget.c) together. */
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

/* Generations whose Lua state was abandoned in the middle of a call (a
 * runaway loop in compiled code, see app_budget.c). Their state cannot be
 * closed safely, so they are kept, reachable, for the life of the process. */
static lusty__app_gen_t *graveyard;
static pthread_mutex_t graveyard_lock = PTHREAD_MUTEX_INITIALIZER;

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
    while (app->root_len > 1 && app->root[app->root_len - 1] == '/')
        app->root[--app->root_len] = '\0';
    app->app_file = lusty_strdup(opts->app && opts->app[0] ? opts->app : "app/config.lua");
    app->host = lusty_strdup(opts->host ? opts->host : "127.0.0.1");
    app->port = opts->port;
    app->reload = opts->reload;
    app->budget_ms = opts->budget_ms;
    app->report = opts->report;
    app->report_data = opts->report_data;
    atomic_init(&app->gen, 0);
    atomic_init(&app->reported, 0);
    pthread_mutex_init(&app->lock, NULL);
    *out = app;
    return 0;
}

void lusty_app_free(lusty_app_t *app)
{
    if (!app)
        return;
    pthread_mutex_destroy(&app->lock);
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
 * when it fails. A missing app file leaves the host with an empty app. */
static int load_host(lusty_app_t *app, lusty_lua_host_t **out, bool *has_app, char **err_out)
{
    char *err = NULL;
    lusty_lua_options_t o = {.root = app->root, .app = app->app_file};
    *out = NULL;
    *err_out = NULL;
    *has_app = app_exists(app);
    int rc = lusty_lua_host_new(out, &o, &err);
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
    int rc = load_host(app, &host, &stats->has_app, err_out);
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
    lua_State *L = lusty_lua_host_state(host);
    lua_getglobal(L, "lusty");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "publishers");
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
    int err = 0;
    if (app->reload && (err = lusty__app_watch_start(app)))
        return err;
    if (app->budget_ms && (err = lusty__app_budget_start(app)))
        return err;
    return 0;
}

void lusty_app_stop(lusty_app_t *app)
{
    if (!app || !app->loop)
        return;
    lusty__app_watch_stop(app);
    lusty__app_budget_stop(app);
}

/* ---- generations ---- */

lusty__app_gen_t *lusty__app_gen_load(lusty_app_t *app, unsigned gen)
{
    lusty__app_gen_t *g = lusty_calloc(1, sizeof *g);
    g->gen = gen;
    g->refs = 1;
    g->mt_ref = g->build_ref = g->resp_ref = LUA_NOREF;
    bool has_app = false;
    load_host(app, &g->host, &has_app, &g->error);
    g->no_app = !has_app;
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

void lusty__app_gen_abandon(lusty__app_gen_t *g)
{
    pthread_mutex_lock(&graveyard_lock);
    g->next = graveyard;
    graveyard = g;
    pthread_mutex_unlock(&graveyard_lock);
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
    lusty__app_gen_t *g = lusty__app_gen_load(app, gen);
    if (g->host)
        lusty__app_gen_prepare(g, w);
    lusty__app_gen_t *old = w->cur;
    w->cur = g;
    lusty__app_gen_release(old);
    if (gen != 0 && first_to_report(app, gen)) {
        if (g->error)
            lusty__app_report(app, LUSTY_APP_LOAD_FAILED, g->error);
        else
            lusty__app_report(app, LUSTY_APP_LOADED, app->app_file);
    }
}

static void on_reload_async(uv_async_t *h)
{
    lusty_app_worker_t *w = h->data;
    unsigned gen = atomic_load(&w->app->gen);
    if (!w->cur || w->cur->gen != gen)
        switch_gen(w, gen);
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
    w->thread = pthread_self();
    atomic_init(&w->seq, 0);
    atomic_init(&w->busy, false);
    atomic_init(&w->strike, 0);
    atomic_init(&w->strike_seq, 0);
    atomic_init(&w->nranges, 0);
    w->L = NULL;
    uv_async_init(loop, &w->reload_async, on_reload_async);
    w->reload_async.data = w;
    switch_gen(w, atomic_load(&app->gen));
    lusty__app_budget_attach(w);
    *out = w;
    return 0;
}

void lusty_app_worker_free(lusty_app_worker_t *w)
{
    if (!w)
        return;
    lusty__app_budget_detach(w);
    lusty__app_gen_release(w->cur);
    w->cur = NULL;
    lusty_buf_free(&w->body);
    /* Freed in the close callback: the HTTP core runs the loop after its
     * worker_stop hook. */
    uv_close((uv_handle_t *)&w->reload_async, on_async_closed);
}

/* ---- requests ---- */

/* The request's Lua state was abandoned by the watchdog (a loop that did
 * not stop): answer 500 and start the next request on fresh code. */
static void abandoned(lusty_app_worker_t *w)
{
    lusty_app_t *app = w->app;
    lusty__app_gen_t *dead = w->cur;
    w->cur = NULL;
    lusty__app_gen_abandon(dead);
    char *msg = lusty_asprintf("%s %s: the request ran over its Lua time budget of %llu ms "
                               "in compiled code and was stopped; its Lua state was discarded",
                               w->req->method, w->req->target,
                               (unsigned long long)app->budget_ms);
    lusty__app_report(app, LUSTY_APP_BUDGET, msg);
    if (w->flushed)
        lusty_http_response_end(w->res, NULL, 0);
    else
        lusty__app_page(w->res, w->req, 500, "Time budget exceeded", msg, NULL);
    lusty_free(msg);
    lusty_buf_clear(&w->body);
    w->active = false;
    w->req = NULL;
    w->res = NULL;
    /* A fresh host for the next request. */
    switch_gen(w, atomic_load(&app->gen));
}

void lusty_app_worker_handle(void *data, const lusty_http_request_t *req,
                             lusty_http_response_t *res)
{
    lusty_app_worker_t *w = data;
    lusty_app_t *app = w->app;
    unsigned gen = atomic_load_explicit(&app->gen, memory_order_relaxed);
    if (!w->cur || w->cur->gen != gen)
        switch_gen(w, gen);
    lusty__app_gen_t *g = w->cur;
    if (!g->host) {
        lusty__app_page(res, req, 500, "The app failed to load", g->error, NULL);
        return;
    }
    if (g->no_app) {
        lusty_http_response_send_status(res, 404, NULL, NULL);
        return;
    }
    g->refs++;
    w->req = req;
    w->res = res;
    w->active = true;
    w->flushed = w->ended = w->sent = false;
    lusty_buf_clear(&w->body);

    lua_State *L = lusty_lua_host_state(g->host);
    int top = lua_gettop(L);
    lusty__app_push_context(w, g, req);
    /* The signal mask is saved once per thread, not by sigsetjmp on every
     * request (a system call each time): the jump comes from the budget
     * signal's handler, which leaves that signal blocked, so the mask is
     * put back by hand on that rare path. */
    static _Thread_local sigset_t mask;
    static _Thread_local bool have_mask;
    if (!have_mask) {
        pthread_sigmask(SIG_SETMASK, NULL, &mask);
        have_mask = true;
    }
    lusty__app_budget_enter(w, L);
    if (sigsetjmp(w->jmp, 0) != 0) {
        /* Back from app_budget.c: the state is unusable, do not touch it. */
        pthread_sigmask(SIG_SETMASK, &mask, NULL);
        w->jmp_armed = 0;
        atomic_store(&w->L, NULL);
        lusty__app_budget_leave(w);
        abandoned(w);
        return;
    }
    w->jmp_armed = 1;
    char *err = NULL;
    int rc = lusty_lua_host_request(g->host, &err);
    w->jmp_armed = 0;
    lusty__app_budget_leave(w);
    lusty__app_finish(w, g, rc ? err : NULL);
    lusty_free(err);
    lua_settop(L, top);
    w->active = false;
    w->req = NULL;
    w->res = NULL;
    lusty__app_gen_release(g);
}
