/* lusty server: serve a project over HTTP.
 *
 * Reads the project's lusty.json (server.host, server.port, server.static,
 * server.limits, server.lua_budget_ms, app) and hands them to the runtime's
 * lusty/serve.h, which serves the static folders and the app (one Lua host
 * per worker, live reload, time budget). This file prints the start-up
 * block, the access log and what the server reports, stops gracefully on
 * SIGINT/SIGTERM, and restarts on SIGHUP: a new generation of the server
 * (fresh code and lusty.json) takes over the listening sockets while the
 * old one finishes its requests. It runs in lusty-serve when that lean
 * binary is there (see serve_exec.h). */
#include "cmd.h"
#include "error.h"
#include "fs.h"
#include "project.h"
#include "serve_exec.h"
#include "server_conf.h"
#include "term.h"

#include "lusty/alloc.h"
#include "lusty/store.h"
#include "lusty/app.h"
#include "lusty/buf.h"
#include "lusty/error.h"
#include "lusty/http.h"
#include "lusty/log.h"
#include "lusty/serve.h"

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <unistd.h>
#include <uv.h>

enum {
    OPT_HOST = 1,
    OPT_PORT,
    OPT_WORKERS,
    OPT_QUIET,
    OPT_LOG_FORMAT,
    OPT_NO_RELOAD,
    OPT_LUA_BUDGET,
    OPT_ENV,
    OPT_ACCESS_LOG,
};

static const cli_opt_t options[] = {
    {"host", 0, "HOST", "Address to listen on (default: server.host, else 127.0.0.1)", OPT_HOST},
    {"port", 'p', "PORT", "Port (default: server.port, else 8080; 0 picks a free one)", OPT_PORT},
    {"workers", 'w', "N", "Worker threads, each with its own event loop (default: 1)", OPT_WORKERS},
    {"quiet", 'q', NULL, "Print only the URL: no banner, no access log", OPT_QUIET},
    {"log-format", 0, "FORMAT", "Access log format: text or json (default: text)", OPT_LOG_FORMAT,
     "text|json"},
    {"env", 0, "ENV",
     "development (default) or production: no reload, no error details in responses, "
     "a worker per CPU, a JSON access log (default: LUSTY_ENV, else lusty.json env)",
     OPT_ENV, "development|production"},
    {"access-log", 0, "PATH",
     "Write the access log to PATH (appended; reopened on SIGUSR1) instead of stdout",
     OPT_ACCESS_LOG, "file"},
    {"no-reload", 0, NULL, "Do not reload the app, nor open pages in the browser, when files change", OPT_NO_RELOAD},
    {"lua-budget", 0, "MS",
     "Lua time per request before it is stopped with a 500 (default: server.lua_budget_ms, "
     "else 10000; 0: no limit)",
     OPT_LUA_BUDGET},
    {NULL, 0, NULL, NULL, 0},
};

const cli_cmd_info_t cmd_server_info = {
    .name = "server",
    .summary = "Serve a Lusty project over HTTP",
    .usage = "[options] [DIR]",
    .description =
        "Serves the project in DIR (default: the project containing the current folder,\n"
        "found by walking up to the nearest lusty.json). The folders of server.static are\n"
        "served as files; other requests run the app (lusty.json \"app\", default\n"
        "app/config.lua), which is reloaded when files under app/, lusty_modules/ or\n"
        "lusty.json change (see docs/app-serving.md).\n"
        "LUSTY_HOST, LUSTY_PORT and LUSTY_ENV override lusty.json; options override all.\n"
        "--env production (see docs/deploy.md): no reload, 500 pages without error\n"
        "details (the log has them), one worker per CPU, JSON access log lines.\n"
        "SIGUSR1 reopens the --access-log file (for logrotate).\n"
        "Limits are set in lusty.json under server.limits (see docs/server.md).\n"
        "SIGINT/SIGTERM stop gracefully (in-flight requests get 5 s); a second\n"
        "SIGINT exits at once. SIGHUP restarts from fresh code and lusty.json without\n"
        "dropping a request (in development, so does a change of server settings).\n",
    .options = options,
    .args = "dir",
};

typedef struct {
    const char *dir;
    const char *host, *port, *workers, *log_format, *budget, *env, *access_log;
    bool quiet, no_reload;
} server_args_t;

typedef struct server_ctx server_ctx_t;

/* One generation of the server: the settings read from lusty.json at one
 * time and the runtime's server made of them. A restart makes a new one
 * (sharing the listening sockets when the address stays the same), then
 * stops the old one, which finishes its requests and is freed. */
typedef struct generation {
    server_ctx_t *ctx;
    struct generation *next; /* older generations still finishing */
    unsigned id;
    cli_server_conf_t conf;
    lusty_serve_t *srv;
    long port, workers, budget;
    bool production, reload;
    bool done;
    uv_timer_t reaper; /* frees it once its server is done */
} generation_t;

struct server_ctx {
    const server_args_t *args;
    bool json;        /* the start-up block and events as JSON */
    bool json_access; /* access log lines as JSON */
    bool quiet;
    pthread_mutex_t log_lock;
    FILE *log; /* the access log: stdout, or --access-log (log_lock) */
    const char *log_path;
    uv_loop_t *loop;
    generation_t *cur;
    generation_t *old; /* stopped, finishing */
    unsigned generations;
    uv_signal_t sigint, sigterm, sigusr1, sighup;
    uv_fs_event_t manifest_watch; /* development: lusty.json's folder */
    uv_timer_t manifest_debounce;
    bool watching;
    int signals;
    int status;
    char *last_error; /* the last request error printed in full (log_lock) */
};

/* ---- logging ---- */

static void json_string(lusty_buf_t *b, const char *s)
{
    lusty_buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            lusty_buf_printf(b, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f)
            lusty_buf_printf(b, "\\u%04x", *p);
        else
            lusty_buf_putc(b, (char)*p);
    }
    lusty_buf_putc(b, '"');
}

static const char *status_color(FILE *o, int status)
{
    if (status >= 500)
        return cli_term_red(o);
    if (status >= 400)
        return cli_term_yellow(o);
    if (status >= 300)
        return cli_term_dim(o);
    return cli_term_green(o);
}

/* One line per response. Runs on worker threads: the line is built first
 * and written under a lock, so lines of different workers never mix. */
static void access_log(void *data, const lusty_http_access_t *e)
{
    server_ctx_t *ctx = data;
    /* The browser's live-reload stream ends at every page reload: its
     * lines would bury the app's. */
    if (strncmp(e->target, LUSTY_APP_LIVE_PATH, sizeof LUSTY_APP_LIVE_PATH - 1) == 0)
        return;
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    lusty_buf_t line = LUSTY_BUF_INIT;
    /* A log file gets no colour; stdout gets it on a terminal only. */
    bool colour = !ctx->log_path;
    if (ctx->json_access) {
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
        lusty_buf_printf(&line, "{\"time\":\"%s\",\"method\":", stamp);
        json_string(&line, e->method);
        lusty_buf_puts(&line, ",\"path\":");
        json_string(&line, e->target);
        lusty_buf_printf(&line, ",\"status\":%d,\"bytes\":%llu,\"ms\":%.3f,\"worker\":%u}\n",
                         e->status, (unsigned long long)e->bytes, e->ms, e->worker);
    } else {
        localtime_r(&now, &tm);
        strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
        const char *dim = colour ? cli_term_dim(stdout) : "";
        const char *reset = colour ? cli_term_reset(stdout) : "";
        const char *st = colour ? status_color(stdout, e->status) : "";
        lusty_buf_printf(&line, "%s%s%s %s %s %s%d%s %llu %.1fms\n", dim, stamp, reset, e->method,
                         e->target, st, e->status, reset, (unsigned long long)e->bytes, e->ms);
    }
    pthread_mutex_lock(&ctx->log_lock);
    fwrite(line.data, 1, line.len, ctx->log);
    fflush(ctx->log);
    pthread_mutex_unlock(&ctx->log_lock);
    lusty_buf_free(&line);
}

static void log_sink(void *data, lusty_log_level_t level, const char *module, const char *message)
{
    (void)data;
    fprintf(stderr, "%s %s: %s\n", lusty_log_level_name(level), module, message);
}

/* What the server reports: load errors and unanswered request errors go
 * to stderr (also with --quiet), reloads to stdout. */
static void serve_report(void *data, const lusty_serve_event_t *e)
{
    server_ctx_t *ctx = data;
    if (e->kind == LUSTY_SERVE_STATIC_SKIPPED) {
        cli_warning("static folder '%s' (for '%s') cannot be opened: %s; not serving it", e->path,
                    e->prefix, e->err == LUSTY_ENOENT ? "no such folder" : lusty_strerror(e->err));
        return;
    }
    const char *message = e->message;
    char stamp[16];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
    pthread_mutex_lock(&ctx->log_lock);
    switch (e->kind) {
    case LUSTY_SERVE_STATIC_SKIPPED:
        break;
    case LUSTY_SERVE_APP_LOADED:
        lusty_free(ctx->last_error);
        ctx->last_error = NULL;
        if (!ctx->quiet && !ctx->json) {
            printf("%s%s%s reloaded %s\n", cli_term_dim(stdout), stamp, cli_term_reset(stdout),
                   message);
            fflush(stdout);
        }
        break;
    case LUSTY_SERVE_APP_SYNTAX:
        fprintf(stderr, "%s%s%s %ssyntax error:%s %s\n", cli_term_dim(stderr), stamp,
                cli_term_reset(stderr), cli_term_red(stderr), cli_term_reset(stderr), message);
        break;
    case LUSTY_SERVE_APP_LOAD_FAILED:
        fprintf(stderr, "%s%s%s %sthe app failed to load:%s %s\n", cli_term_dim(stderr), stamp,
                cli_term_reset(stderr), cli_term_red(stderr), cli_term_reset(stderr), message);
        break;
    case LUSTY_SERVE_APP_ERROR:
    case LUSTY_SERVE_APP_BUDGET: {
        /* "METHOD TARGET: message\ntraceback": the same message and
         * traceback as the last one (a broken file hit by every request)
         * is printed as one line, not in full again. */
        const char *what = strstr(message, ": ");
        what = what ? what + 2 : message;
        if (ctx->last_error && strcmp(ctx->last_error, what) == 0) {
            const char *nl = strchr(message, '\n');
            int len = nl ? (int)(nl - message) : (int)strlen(message);
            fprintf(stderr, "%s%s%s %serror:%s %.*s (the same error again)\n",
                    cli_term_dim(stderr), stamp, cli_term_reset(stderr), cli_term_red(stderr),
                    cli_term_reset(stderr), len, message);
            break;
        }
        lusty_free(ctx->last_error);
        ctx->last_error = lusty_strdup(what);
        fprintf(stderr, "%s%s%s %serror:%s %s\n", cli_term_dim(stderr), stamp,
                cli_term_reset(stderr), cli_term_red(stderr), cli_term_reset(stderr), message);
        break;
    }
    }
    fflush(stderr);
    pthread_mutex_unlock(&ctx->log_lock);
}

/* SIGUSR1: logrotate has moved the access log away; open PATH anew. A
 * failure keeps writing to the old file and says why. */
static void on_reopen(uv_signal_t *h, int signum)
{
    (void)signum;
    server_ctx_t *ctx = h->data;
    if (!ctx->log_path)
        return;
    FILE *f = fopen(ctx->log_path, "a");
    if (!f) {
        cli_warning("cannot reopen the access log '%s': %s; still writing to the old file",
                    ctx->log_path, strerror(errno));
        return;
    }
    pthread_mutex_lock(&ctx->log_lock);
    FILE *old = ctx->log;
    ctx->log = f;
    pthread_mutex_unlock(&ctx->log_lock);
    fclose(old);
}

static void print_banner(const server_ctx_t *ctx, const cli_project_t *p, const char *url,
                         unsigned workers, const char *statics, const char *app_file,
                         const lusty_app_stats_t *st, bool reload, long budget_ms, bool production)
{
    const char *env = production ? "production" : "development";
    if (ctx->json) {
        lusty_buf_t b = LUSTY_BUF_INIT;
        lusty_buf_puts(&b, "{\"event\":\"listening\",\"url\":");
        json_string(&b, url);
        lusty_buf_puts(&b, ",\"app\":");
        json_string(&b, p->name);
        lusty_buf_printf(&b, ",\"env\":\"%s\",\"workers\":%u", env, workers);
        if (st->has_app) {
            lusty_buf_puts(&b, ",\"app_file\":");
            json_string(&b, app_file);
            lusty_buf_printf(&b,
                             ",\"loaded\":%s,\"channels\":%u,\"subscribers\":%u,"
                             "\"publishers\":%u,\"reload\":%s,\"lua_budget_ms\":%ld",
                             st->loaded ? "true" : "false", st->channels, st->subscribers,
                             st->publishers, reload ? "true" : "false", budget_ms);
        }
        lusty_buf_puts(&b, "}\n");
        fputs(b.data, stdout);
        lusty_buf_free(&b);
    } else if (ctx->quiet) {
        printf("%s\n", url);
    } else {
        FILE *o = stdout;
        printf("Serving %s'%s'%s from %s\n", cli_term_bold(o), p->name, cli_term_reset(o), p->dir);
        printf("  url      %s%s%s\n", cli_term_green(o), url, cli_term_reset(o));
        if (production)
            printf("  mode     %sproduction%s: no reload, error details only in the log\n",
                   cli_term_bold(o), cli_term_reset(o));
        else
            printf("  mode     development (lusty server --env production to deploy)\n");
        if (ctx->log_path)
            printf("  log      %s (reopened on SIGUSR1)\n", ctx->log_path);
        printf("  workers  %u\n", workers);
        printf("  static   %s\n", statics[0] ? statics : "(none)");
        if (!st->has_app)
            printf("  app      (none: no %s)\n", app_file);
        else if (!st->loaded)
            printf("  app      %s %sfailed to load%s (see below)\n", app_file, cli_term_red(o),
                   cli_term_reset(o));
        else
            printf("  app      %s: %u channels, %u subscribers, %u publishers\n", app_file,
                   st->channels, st->subscribers, st->publishers);
        printf("  reload   %s\n", reload ? "on (app/, lusty_modules/, lusty.json)" : "off");
        if (budget_ms)
            printf("  budget   %ld ms of Lua per request\n", budget_ms);
        else
            printf("  budget   none\n");
        printf("Press Ctrl-C to stop.\n");
    }
    fflush(stdout);
}

/* "/ -> public, /x -> y" for the start-up block. */
static void list_static(const lusty_serve_stats_t *st, lusty_buf_t *out)
{
    for (size_t i = 0; i < st->nserved; i++)
        lusty_buf_printf(out, "%s%s -> %s", i ? ", " : "", st->served[i].prefix,
                         st->served[i].folder);
}

static void on_handle_closed(uv_handle_t *h)
{
    (void)h;
}

static void generation_free(generation_t *g)
{
    if (!g)
        return;
    lusty_serve_free(g->srv);
    cli_server_conf_free(&g->conf);
    lusty_free(g);
}

/* Reads lusty.json and resolves the settings of a new generation, options
 * and environment first (checked once, in run_server()). Problems are
 * printed; returns NULL with *rc the exit status then. */
static generation_t *generation_load(server_ctx_t *ctx, int *rc)
{
    const server_args_t *a = ctx->args;
    generation_t *g = lusty_calloc(1, sizeof(*g));
    g->ctx = ctx;
    char *err = NULL;
    *rc = CLI_EXIT_FAILURE;
    int perr = cli_server_conf_load(&g->conf, a->dir, &err);
    if (perr == LUSTY_ENOENT || (perr && err)) {
        cli_error("%s", err);
        if (perr == LUSTY_ENOENT)
            cli_hint("run 'lusty init' to create a project, or give its folder: lusty server DIR");
    }
    lusty_free(err);
    if (perr)
        goto fail;
    g->budget = g->conf.budget_ms;
    if (a->budget && !cli_parse_int(a->budget, 0, 86400000, &g->budget)) {
        cli_error("invalid --lua-budget '%s': use a number of milliseconds (0: no limit)",
                  a->budget);
        *rc = CLI_EXIT_USAGE;
        goto fail;
    }
    const char *env = a->env ? a->env : getenv("LUSTY_ENV");
    if (!env || !env[0])
        env = g->conf.env;
    g->production = env && strcmp(env, "production") == 0;
    g->reload = !a->no_reload && !g->production;
    g->workers = 0;
    if (a->workers)
        cli_parse_int(a->workers, 1, CLI_SERVER_MAX_WORKERS, &g->workers);
    if (!g->workers)
        g->workers = g->conf.workers;
    if (!g->workers)
        g->workers = g->production ? (long)uv_available_parallelism() : 1;
    if (g->workers > CLI_SERVER_MAX_WORKERS)
        g->workers = CLI_SERVER_MAX_WORKERS;
    const char *port = a->port ? a->port : getenv("LUSTY_PORT");
    g->port = g->conf.port;
    if (port && port[0])
        cli_parse_int(port, 0, 65535, &g->port);
    g->id = ctx->generations + 1;
    return g;
fail:
    generation_free(g);
    return NULL;
}

static void on_generation_done(lusty_serve_t *srv, int status, void *data);

/* Makes the server of generation `g` (sharing the sockets of `from`, the
 * running one, on a restart), binds and starts it. Problems are printed;
 * returns false then. */
static bool generation_start(generation_t *g, generation_t *from)
{
    server_ctx_t *ctx = g->ctx;
    const server_args_t *a = ctx->args;
    const char *host = a->host ? a->host : getenv("LUSTY_HOST");
    if (!host || !host[0])
        host = g->conf.host;
    lusty_serve_options_t opts = {
        .root = g->conf.p->dir,
        .host = host,
        .port = (int)g->port,
        .workers = (unsigned)g->workers,
        .mounts = g->conf.mounts,
        .nmounts = g->conf.nmounts,
        .app = g->conf.app,
        .reload = g->reload,
        .live = g->reload,
        .hide_errors = g->production,
        .trusted_proxies = g->conf.trusted,
        .ntrusted_proxies = g->conf.ntrusted,
        .budget_ms = (uint64_t)g->budget,
        .limits = g->conf.limits,
        .access_log = a->quiet ? NULL : access_log,
        .access_log_data = ctx,
        .report = serve_report,
        .report_data = ctx,
        .inherit = from ? from->srv : NULL,
    };
    char *err = NULL;
    int serr = lusty_serve_new(&g->srv, &opts, &err);
    if (serr == LUSTY_ENOENT) {
        cli_error("cannot listen on '%s': unknown host", host);
        cli_hint("use an address such as 127.0.0.1, 0.0.0.0 or ::1");
    } else if (serr) {
        cli_error("invalid '%s': %s", g->conf.p->manifest_path, err ? err : lusty_strerror(serr));
    }
    lusty_free(err);
    if (serr)
        return false;
    serr = lusty_serve_listen(g->srv);
    if (serr == UV_EADDRINUSE) {
        cli_error("port %ld is in use (try --port 0 or --port N)", g->port);
        return false;
    }
    if (serr) {
        lusty_serve_stats_t st;
        lusty_serve_stats(g->srv, &st);
        cli_error("cannot listen on %s port %ld: %s", st.host, g->port,
                  serr == LUSTY_EINVAL ? "invalid address" : lusty_strerror(serr));
        if (serr == UV_EACCES)
            cli_hint("ports below 1024 need privileges; try --port 8080");
        return false;
    }
    serr = lusty_serve_start(g->srv, ctx->loop, on_generation_done, g);
    if (serr) {
        cli_error("cannot start the server: %s", lusty_strerror(serr));
        return false;
    }
    ctx->generations = g->id;
    return true;
}

/* The block printed when a generation starts: the whole banner for the
 * first, one line for a restart. */
static void announce(const generation_t *g, bool restart)
{
    server_ctx_t *ctx = g->ctx;
    lusty_serve_stats_t stats;
    lusty_serve_stats(g->srv, &stats);
    if (!restart) {
        lusty_buf_t statics = LUSTY_BUF_INIT;
        list_static(&stats, &statics);
        print_banner(ctx, g->conf.p, stats.url, (unsigned)g->workers,
                     statics.data ? statics.data : "", stats.app_file, &stats.app, g->reload,
                     g->budget, g->production);
        lusty_buf_free(&statics);
    } else if (ctx->json) {
        lusty_buf_t b = LUSTY_BUF_INIT;
        lusty_buf_printf(&b, "{\"event\":\"restarted\",\"generation\":%u,\"url\":", g->id);
        json_string(&b, stats.url);
        lusty_buf_printf(&b, ",\"env\":\"%s\",\"workers\":%ld}\n",
                         g->production ? "production" : "development", g->workers);
        pthread_mutex_lock(&ctx->log_lock);
        fputs(b.data, stdout);
        fflush(stdout);
        pthread_mutex_unlock(&ctx->log_lock);
        lusty_buf_free(&b);
    } else if (!ctx->quiet) {
        pthread_mutex_lock(&ctx->log_lock);
        printf("restarted: generation %u on %s (%ld worker%s); the previous one finishes its "
               "requests\n",
               g->id, stats.url, g->workers, g->workers == 1 ? "" : "s");
        fflush(stdout);
        pthread_mutex_unlock(&ctx->log_lock);
    }
    if (stats.app_error) {
        lusty_serve_event_t e = {.kind = LUSTY_SERVE_APP_LOAD_FAILED, .message = stats.app_error};
        serve_report(ctx, &e);
    }
}

/* A new generation from fresh code and a fresh lusty.json takes over; the
 * running one stops accepting, finishes its requests and exits. When the
 * new one cannot start, the running one goes on and the reason is
 * printed. */
static void restart(server_ctx_t *ctx, const char *why)
{
    if (ctx->signals || !ctx->cur)
        return;
    int rc;
    generation_t *g = generation_load(ctx, &rc);
    if (!g || !generation_start(g, ctx->cur)) {
        cli_warning("%s: the restart failed; generation %u goes on serving", why, ctx->cur->id);
        /* Nothing of it runs (a server that failed to start left nothing
         * on the loop). */
        generation_free(g);
        return;
    }
    generation_t *old = ctx->cur;
    old->next = ctx->old;
    ctx->old = old;
    ctx->cur = g;
    lusty_serve_stop(old->srv);
    announce(g, true);
}

static void on_reaper_closed(uv_handle_t *h)
{
    generation_free(h->data);
}

/* An old generation is done: it leaves the list and is freed (from a
 * timer, outside its server's own callback). */
static void on_reap(uv_timer_t *t)
{
    generation_t *g = t->data;
    server_ctx_t *ctx = g->ctx;
    for (generation_t **p = &ctx->old; *p; p = &(*p)->next)
        if (*p == g) {
            *p = g->next;
            break;
        }
    uv_close((uv_handle_t *)t, on_reaper_closed);
}

/* The process's own handles go once no generation serves. */
static void close_handles(server_ctx_t *ctx)
{
    uv_close((uv_handle_t *)&ctx->sigint, on_handle_closed);
    uv_close((uv_handle_t *)&ctx->sigterm, on_handle_closed);
    uv_close((uv_handle_t *)&ctx->sigusr1, on_handle_closed);
    uv_close((uv_handle_t *)&ctx->sighup, on_handle_closed);
    if (ctx->watching) {
        uv_close((uv_handle_t *)&ctx->manifest_watch, on_handle_closed);
        uv_close((uv_handle_t *)&ctx->manifest_debounce, on_handle_closed);
    }
}

static void on_generation_done(lusty_serve_t *srv, int status, void *data)
{
    (void)srv;
    generation_t *g = data;
    server_ctx_t *ctx = g->ctx;
    g->done = true;
    if (g == ctx->cur) {
        /* Stopped by a signal, or failed: the process ends. */
        ctx->status = status;
        for (generation_t *o = ctx->old; o; o = o->next)
            lusty_serve_stop(o->srv);
        close_handles(ctx);
        return;
    }
    uv_timer_init(ctx->loop, &g->reaper);
    g->reaper.data = g;
    uv_timer_start(&g->reaper, on_reap, 0, 0);
}

static void on_signal(uv_signal_t *h, int signum)
{
    server_ctx_t *ctx = h->data;
    if (ctx->signals++ > 0) {
        if (signum == SIGINT) {
            /* The user insists: no more waiting for in-flight requests. */
            fflush(stdout);
            _exit(130);
        }
        return;
    }
    if (!ctx->quiet && !ctx->json) {
        printf("Stopping: finishing in-flight requests (Ctrl-C again to quit now)\n");
        fflush(stdout);
    }
    lusty_serve_stop(ctx->cur->srv);
}

static void on_sighup(uv_signal_t *h, int signum)
{
    (void)signum;
    restart(h->data, "SIGHUP");
}

/* Development: lusty.json changed (debounced). A file that does not parse
 * is reported with its line; server settings that changed restart the
 * server; anything else is the app's reload. */
static void on_manifest_settled(uv_timer_t *t)
{
    server_ctx_t *ctx = t->data;
    cli_project_t *p = NULL;
    char *err = NULL;
    if (cli_project_open(&p, ctx->cur->conf.p->dir, &err) != 0) {
        cli_warning("%s; the server keeps its last good settings", err);
        lusty_free(err);
        return;
    }
    bool changed = cli_server_conf_changed(&ctx->cur->conf, p);
    cli_project_free(p);
    if (changed)
        restart(ctx, "lusty.json changed");
}

static void on_manifest_event(uv_fs_event_t *h, const char *file, int events, int status)
{
    (void)events;
    server_ctx_t *ctx = h->data;
    if (status == 0 && file && strcmp(file, "lusty.json") == 0)
        uv_timer_start(&ctx->manifest_debounce, on_manifest_settled, 50, 0);
}

static int run_server(const server_args_t *a)
{
    int rc = CLI_EXIT_FAILURE;
    server_ctx_t ctx = {.args = a, .quiet = a->quiet};
    pthread_mutex_init(&ctx.log_lock, NULL);
    uv_loop_t loop;
    bool loop_ready = false;
    char *log_path = NULL;
    generation_t *g = NULL;

    if (a->log_format && strcmp(a->log_format, "text") != 0 && strcmp(a->log_format, "json") != 0) {
        cli_error("invalid --log-format '%s': use text or json", a->log_format);
        rc = CLI_EXIT_USAGE;
        goto cleanup;
    }
    ctx.json = a->log_format && strcmp(a->log_format, "json") == 0;
    const char *env_text = a->env ? a->env : getenv("LUSTY_ENV");
    if (env_text && env_text[0] && !cli_server_env_valid(env_text)) {
        cli_error("invalid %s '%s': use development or production", a->env ? "--env" : "LUSTY_ENV",
                  env_text);
        rc = CLI_EXIT_USAGE;
        goto cleanup;
    }
    long n;
    if (a->workers && !cli_parse_int(a->workers, 1, CLI_SERVER_MAX_WORKERS, &n)) {
        cli_error("invalid --workers '%s': use a number from 1 to %d", a->workers,
                  CLI_SERVER_MAX_WORKERS);
        rc = CLI_EXIT_USAGE;
        goto cleanup;
    }
    /* The port is checked before the project so that a typo in it is a
     * usage error whatever the folder. */
    const char *port_text = a->port ? a->port : getenv("LUSTY_PORT");
    if (port_text && port_text[0] && !cli_parse_int(port_text, 0, 65535, &n)) {
        cli_error("invalid %s '%s': use a number from 0 to 65535",
                  a->port ? "--port" : "LUSTY_PORT", port_text);
        rc = CLI_EXIT_USAGE;
        goto cleanup;
    }
    if (cli_is_dir(a->dir) == false) {
        cli_error("cannot serve '%s': no such folder", a->dir);
        rc = CLI_EXIT_USAGE;
        goto cleanup;
    }
    /* The server moves into the project: a relative log path is taken
     * from where it was started, now and when SIGUSR1 reopens it. */
    if (a->access_log) {
        char cwd[4096];
        log_path = a->access_log[0] == '/' || !getcwd(cwd, sizeof(cwd))
                       ? lusty_strdup(a->access_log)
                       : lusty_asprintf("%s/%s", cwd, a->access_log);
    }
    g = generation_load(&ctx, &rc);
    if (!g)
        goto cleanup;
    rc = CLI_EXIT_FAILURE;
    /* Handlers open files relative to the project (io.open('data/x.json')),
     * wherever the server was started from. */
    if (chdir(g->conf.p->dir) != 0) {
        cli_error("cannot enter '%s': %s", g->conf.p->dir, strerror(errno));
        goto cleanup;
    }
    /* Production's access log is for programs (JSON lines), unless asked. */
    ctx.json_access = a->log_format ? ctx.json : g->production;
    ctx.log = stdout;
    if (log_path) {
        ctx.log = fopen(log_path, "a");
        if (!ctx.log) {
            cli_error("cannot open the access log '%s': %s", a->access_log, strerror(errno));
            goto cleanup;
        }
        ctx.log_path = log_path;
    }
    lusty_log_set_sink(log_sink, NULL);
    /* Writing to a socket the client closed must be an error, not death. */
    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&loop);
    loop_ready = true;
    ctx.loop = &loop;
    if (!generation_start(g, NULL)) {
        uv_run(&loop, UV_RUN_DEFAULT); /* handles the failed start closed */
        goto cleanup;
    }
    ctx.cur = g;
    g = NULL;
    uv_signal_init(&loop, &ctx.sigint);
    uv_signal_init(&loop, &ctx.sigterm);
    uv_signal_init(&loop, &ctx.sigusr1);
    uv_signal_init(&loop, &ctx.sighup);
    ctx.sigint.data = ctx.sigterm.data = ctx.sigusr1.data = ctx.sighup.data = &ctx;
    uv_signal_start(&ctx.sigint, on_signal, SIGINT);
    uv_signal_start(&ctx.sigterm, on_signal, SIGTERM);
    uv_signal_start(&ctx.sigusr1, on_reopen, SIGUSR1);
    uv_signal_start(&ctx.sighup, on_sighup, SIGHUP);
    /* Development restarts by itself when server settings change in
     * lusty.json; production watches nothing (SIGHUP restarts). */
    if (ctx.cur->reload && uv_fs_event_init(&loop, &ctx.manifest_watch) == 0) {
        uv_timer_init(&loop, &ctx.manifest_debounce);
        ctx.manifest_watch.data = ctx.manifest_debounce.data = &ctx;
        uv_fs_event_start(&ctx.manifest_watch, on_manifest_event, ctx.cur->conf.p->dir, 0);
        ctx.watching = true;
    }
    announce(ctx.cur, false);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (ctx.status) {
        cli_error("the server failed: %s", lusty_strerror(ctx.status));
        goto cleanup;
    }
    rc = CLI_EXIT_OK;
cleanup:
    if (ctx.cur)
        generation_free(ctx.cur);
    while (ctx.old) {
        generation_t *o = ctx.old;
        ctx.old = o->next;
        generation_free(o);
    }
    generation_free(g);
    /* The workers are gone: no store call runs any more. */
    lusty_store_close_all();
    if (loop_ready)
        uv_loop_close(&loop);
    /* Joins libuv's pool threads now: threads still alive at exit keep
     * OpenSSL's per-thread state (made by mongo-c-driver), a leak. */
    uv_library_shutdown();
    lusty_log_set_sink(NULL, NULL);
    pthread_mutex_destroy(&ctx.log_lock);
    if (ctx.log_path)
        fclose(ctx.log);
    lusty_free(ctx.last_error);
    lusty_free(log_path);
    return rc;
}

int cmd_server(int argc, char **argv)
{
    /* Serve from the lean binary when there is one; returns if not. */
    cli_serve_exec_lean(argc, argv);
    server_args_t a = {.dir = "."};
    cli_opt_parser_t p;
    int rc = CLI_EXIT_OK;
    cli_opt_init(&p, &cmd_server_info, argc, argv);
    for (int id; (id = cli_opt_next(&p)) != CLI_OPT_END;) {
        switch (id) {
        case CLI_OPT_HELP:
            goto done;
        case CLI_OPT_ERROR:
            rc = CLI_EXIT_USAGE;
            goto done;
        case OPT_HOST:
            a.host = p.value;
            break;
        case OPT_PORT:
            a.port = p.value;
            break;
        case OPT_WORKERS:
            a.workers = p.value;
            break;
        case OPT_QUIET:
            a.quiet = true;
            break;
        case OPT_LOG_FORMAT:
            a.log_format = p.value;
            break;
        case OPT_NO_RELOAD:
            a.no_reload = true;
            break;
        case OPT_LUA_BUDGET:
            a.budget = p.value;
            break;
        case OPT_ENV:
            a.env = p.value;
            break;
        case OPT_ACCESS_LOG:
            a.access_log = p.value;
            break;
        }
    }
    if (p.nargs > 1) {
        cli_error("'lusty server' takes one DIR, got %d arguments", p.nargs);
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    if (p.nargs == 1)
        a.dir = p.args[0];
    rc = run_server(&a);
done:
    cli_opt_free(&p);
    return rc;
}
