/* lusty server: serve a project over HTTP.
 *
 * Reads the project's lusty.json (server.host, server.port, server.static,
 * server.limits, server.lua_budget_ms, app) and hands them to the runtime's
 * lusty/serve.h, which serves the static folders and the app (one Lua host
 * per worker, live reload, time budget). This file prints the start-up
 * block, the access log and what the server reports, and stops gracefully
 * on SIGINT/SIGTERM. It runs in lusty-serve when that lean
 * binary is there (see serve_exec.h). */
#include "cmd.h"
#include "error.h"
#include "fs.h"
#include "project.h"
#include "serve_exec.h"
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
};

static const cli_opt_t options[] = {
    {"host", 0, "HOST", "Address to listen on (default: server.host, else 127.0.0.1)", OPT_HOST},
    {"port", 'p', "PORT", "Port (default: server.port, else 8080; 0 picks a free one)", OPT_PORT},
    {"workers", 'w', "N", "Worker threads, each with its own event loop (default: 1)", OPT_WORKERS},
    {"quiet", 'q', NULL, "Print only the URL: no banner, no access log", OPT_QUIET},
    {"log-format", 0, "FORMAT", "Access log format: text or json (default: text)", OPT_LOG_FORMAT,
     "text|json"},
    {"no-reload", 0, NULL, "Do not reload the app when its files change", OPT_NO_RELOAD},
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
        "LUSTY_HOST and LUSTY_PORT override lusty.json; options override both.\n"
        "Limits are set in lusty.json under server.limits (see docs/server.md).\n"
        "SIGINT/SIGTERM stop gracefully (in-flight requests get 5 s); a second\n"
        "SIGINT exits at once.\n",
    .options = options,
    .args = "dir",
};

#define MAX_WORKERS 256

typedef struct {
    const char *dir;
    const char *host, *port, *workers, *log_format, *budget;
    bool quiet, no_reload;
} server_args_t;

typedef struct {
    bool json;
    bool quiet;
    pthread_mutex_t log_lock;
    lusty_serve_t *srv;
    uv_signal_t sigint, sigterm;
    int signals;
    int status;
    char *last_error; /* the last request error printed in full (log_lock) */
} server_ctx_t;

/* ---- configuration from lusty.json ---- */

typedef struct {
    char *host;
    long port;
    long budget_ms;
    const char *app;
    lusty_http_limits_t limits;
} server_conf_t;

static bool bad_manifest(const cli_project_t *p, const char *fmt, const char *key)
{
    char *what = lusty_asprintf(fmt, key);
    cli_error("invalid '%s': %s", p->manifest_path, what);
    lusty_free(what);
    return false;
}

/* Reads a whole number in [min, max] at `key`; absent keys keep `*out`. */
static bool manifest_int(const cli_project_t *p, const char *key, long min, long max, long *out)
{
    const cJSON *v = cli_project_get(p, key);
    if (!v)
        return true;
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(long)v->valuedouble ||
        v->valuedouble < (double)min || v->valuedouble > (double)max) {
        char *msg = lusty_asprintf("%%s must be a whole number from %ld to %ld", min, max);
        bad_manifest(p, msg, key);
        lusty_free(msg);
        return false;
    }
    *out = (long)v->valuedouble;
    return true;
}

static bool read_conf(const cli_project_t *p, server_conf_t *c)
{
    const cJSON *server = cli_project_get(p, "server");
    if (server && !cJSON_IsObject(server))
        return bad_manifest(p, "%s must be an object", "server");
    const cJSON *host = cli_project_get(p, "server.host");
    if (host && !cJSON_IsString(host))
        return bad_manifest(p, "%s must be a string", "server.host");
    c->host = lusty_strdup(host ? host->valuestring : "127.0.0.1");
    c->port = 8080;
    if (!manifest_int(p, "server.port", 0, 65535, &c->port))
        return false;
    c->budget_ms = LUSTY_APP_DEFAULT_BUDGET_MS;
    if (!manifest_int(p, "server.lua_budget_ms", 0, 86400000, &c->budget_ms))
        return false;
    const cJSON *app = cli_project_get(p, "app");
    if (app && !cJSON_IsString(app))
        return bad_manifest(p, "%s must be a file name (a string)", "app");
    c->app = app ? app->valuestring : NULL;
    const cJSON *limits = cli_project_get(p, "server.limits");
    if (limits && !cJSON_IsObject(limits))
        return bad_manifest(p, "%s must be an object", "server.limits");
    static const struct {
        const char *key;
        size_t offset;
        bool is_u64;
    } keys[] = {
        {"server.limits.header_bytes", offsetof(lusty_http_limits_t, header_bytes), false},
        {"server.limits.url_bytes", offsetof(lusty_http_limits_t, url_bytes), false},
        {"server.limits.body_bytes", offsetof(lusty_http_limits_t, body_bytes), false},
        {"server.limits.header_timeout_ms", offsetof(lusty_http_limits_t, header_timeout_ms), true},
        {"server.limits.idle_timeout_ms", offsetof(lusty_http_limits_t, idle_timeout_ms), true},
        {"server.limits.max_connections", offsetof(lusty_http_limits_t, max_connections), false},
        {"server.limits.max_connections_per_address",
         offsetof(lusty_http_limits_t, max_connections_per_address), false},
        {"server.limits.body_memory_bytes", offsetof(lusty_http_limits_t, body_memory_bytes), false},
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        long v = 0;
        /* http-parser refuses heads over 80 KiB whatever we allow. */
        long max = strstr(keys[i].key, "header_bytes") ? 80 * 1024 : 1L << 40;
        if (!manifest_int(p, keys[i].key, 1, max, &v))
            return false;
        char *field = (char *)&c->limits + keys[i].offset;
        if (keys[i].is_u64)
            *(uint64_t *)field = (uint64_t)v;
        else
            *(size_t *)field = (size_t)v;
    }
    return true;
}

/* Reads server.static into mounts (borrowing the manifest's strings). */
static bool read_static(const cli_project_t *p, lusty_serve_mount_t **out, size_t *n)
{
    const cJSON *st = cli_project_get(p, "server.static");
    if (!st)
        return true;
    if (!cJSON_IsObject(st))
        return bad_manifest(p, "%s must be an object mapping URL prefixes to folders",
                            "server.static");
    *out = lusty_calloc((size_t)cJSON_GetArraySize(st) + 1, sizeof **out);
    for (const cJSON *it = st->child; it; it = it->next) {
        if (!cJSON_IsString(it)) {
            char *key = lusty_asprintf("server.static[\"%s\"]", it->string);
            bad_manifest(p, "%s must be a folder name (a string)", key);
            lusty_free(key);
            return false;
        }
        (*out)[(*n)++] = (lusty_serve_mount_t){.prefix = it->string, .folder = it->valuestring};
    }
    return true;
}

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

static const char *status_color(int status)
{
    if (status >= 500)
        return cli_term_red(stdout);
    if (status >= 400)
        return cli_term_yellow(stdout);
    if (status >= 300)
        return cli_term_dim(stdout);
    return cli_term_green(stdout);
}

/* One line per response. Runs on worker threads: the line is built first
 * and written under a lock, so lines of different workers never mix. */
static void access_log(void *data, const lusty_http_access_t *e)
{
    server_ctx_t *ctx = data;
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    lusty_buf_t line = LUSTY_BUF_INIT;
    if (ctx->json) {
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
        lusty_buf_printf(&line, "%s%s%s %s %s %s%d%s %llu %.1fms\n", cli_term_dim(stdout), stamp,
                         cli_term_reset(stdout), e->method, e->target, status_color(e->status),
                         e->status, cli_term_reset(stdout), (unsigned long long)e->bytes, e->ms);
    }
    pthread_mutex_lock(&ctx->log_lock);
    fwrite(line.data, 1, line.len, stdout);
    fflush(stdout);
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

static void on_signal_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_done(lusty_serve_t *srv, int status, void *data)
{
    (void)srv;
    server_ctx_t *ctx = data;
    ctx->status = status;
    uv_close((uv_handle_t *)&ctx->sigint, on_signal_closed);
    uv_close((uv_handle_t *)&ctx->sigterm, on_signal_closed);
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
    lusty_serve_stop(ctx->srv);
}

static void print_banner(const server_ctx_t *ctx, const cli_project_t *p, const char *url,
                         unsigned workers, const char *statics, const char *app_file,
                         const lusty_app_stats_t *st, bool reload, long budget_ms)
{
    if (ctx->json) {
        lusty_buf_t b = LUSTY_BUF_INIT;
        lusty_buf_puts(&b, "{\"event\":\"listening\",\"url\":");
        json_string(&b, url);
        lusty_buf_puts(&b, ",\"app\":");
        json_string(&b, p->name);
        lusty_buf_printf(&b, ",\"workers\":%u", workers);
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

static int run_server(const server_args_t *a)
{
    int rc = CLI_EXIT_FAILURE;
    cli_project_t *p = NULL;
    char *err = NULL;
    server_conf_t conf = {0};
    lusty_serve_mount_t *mounts = NULL;
    size_t nmounts = 0;
    lusty_buf_t statics = LUSTY_BUF_INIT;
    server_ctx_t ctx = {.quiet = a->quiet};
    pthread_mutex_init(&ctx.log_lock, NULL);
    uv_loop_t loop;
    bool loop_ready = false;

    if (a->log_format && strcmp(a->log_format, "text") != 0 && strcmp(a->log_format, "json") != 0) {
        cli_error("invalid --log-format '%s': use text or json", a->log_format);
        rc = CLI_EXIT_USAGE;
        goto cleanup;
    }
    ctx.json = a->log_format && strcmp(a->log_format, "json") == 0;
    long workers = 1;
    if (a->workers && !cli_parse_int(a->workers, 1, MAX_WORKERS, &workers)) {
        cli_error("invalid --workers '%s': use a number from 1 to %d", a->workers, MAX_WORKERS);
        rc = CLI_EXIT_USAGE;
        goto cleanup;
    }
    /* The port is checked before the project so that a typo in it is a
     * usage error whatever the folder. */
    long port = -1;
    const char *port_text = a->port ? a->port : getenv("LUSTY_PORT");
    if (port_text && port_text[0] && !cli_parse_int(port_text, 0, 65535, &port)) {
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
    int perr = cli_project_open(&p, a->dir, &err);
    if (perr != 0) {
        cli_error("%s", err);
        if (perr == LUSTY_ENOENT)
            cli_hint("run 'lusty init' to create a project, or give its folder: lusty server DIR");
        goto cleanup;
    }
    if (cli_project_check(p) != 0 || !read_conf(p, &conf) || !read_static(p, &mounts, &nmounts))
        goto cleanup;
    /* Handlers open files relative to the project (io.open('data/x.json')),
     * wherever the server was started from. */
    if (chdir(p->dir) != 0) {
        cli_error("cannot enter '%s': %s", p->dir, strerror(errno));
        goto cleanup;
    }
    long budget = conf.budget_ms;
    if (a->budget && !cli_parse_int(a->budget, 0, 86400000, &budget)) {
        cli_error("invalid --lua-budget '%s': use a number of milliseconds (0: no limit)",
                  a->budget);
        rc = CLI_EXIT_USAGE;
        goto cleanup;
    }
    if (port < 0)
        port = conf.port;
    const char *host_text = a->host ? a->host : getenv("LUSTY_HOST");
    if (!host_text || !host_text[0])
        host_text = conf.host;
    lusty_serve_options_t opts = {
        .root = p->dir,
        .host = host_text,
        .port = (int)port,
        .workers = (unsigned)workers,
        .mounts = mounts,
        .nmounts = nmounts,
        .app = conf.app,
        .reload = !a->no_reload,
        .budget_ms = (uint64_t)budget,
        .limits = conf.limits,
        .access_log = a->quiet ? NULL : access_log,
        .access_log_data = &ctx,
        .report = serve_report,
        .report_data = &ctx,
    };
    int serr = lusty_serve_new(&ctx.srv, &opts, &err);
    if (serr == LUSTY_ENOENT) {
        cli_error("cannot listen on '%s': unknown host", host_text);
        cli_hint("use an address such as 127.0.0.1, 0.0.0.0 or ::1");
        goto cleanup;
    }
    if (serr) {
        cli_error("invalid '%s': %s", p->manifest_path, err ? err : lusty_strerror(serr));
        goto cleanup;
    }
    lusty_serve_stats_t stats;
    lusty_serve_stats(ctx.srv, &stats);

    lusty_log_set_sink(log_sink, NULL);
    serr = lusty_serve_listen(ctx.srv);
    if (serr == UV_EADDRINUSE) {
        cli_error("port %ld is in use (try --port 0 or --port N)", port);
        goto cleanup;
    }
    if (serr) {
        cli_error("cannot listen on %s port %ld: %s", stats.host, port,
                  serr == LUSTY_EINVAL ? "invalid address" : lusty_strerror(serr));
        if (serr == UV_EACCES)
            cli_hint("ports below 1024 need privileges; try --port 8080");
        goto cleanup;
    }
    lusty_serve_stats(ctx.srv, &stats);
    /* Writing to a socket the client closed must be an error, not death. */
    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&loop);
    loop_ready = true;
    uv_signal_init(&loop, &ctx.sigint);
    uv_signal_init(&loop, &ctx.sigterm);
    ctx.sigint.data = ctx.sigterm.data = &ctx;
    uv_signal_start(&ctx.sigint, on_signal, SIGINT);
    uv_signal_start(&ctx.sigterm, on_signal, SIGTERM);

    list_static(&stats, &statics);
    print_banner(&ctx, p, stats.url, (unsigned)workers, statics.data ? statics.data : "",
                 stats.app_file, &stats.app, !a->no_reload, budget);
    if (stats.app_error) {
        lusty_serve_event_t e = {.kind = LUSTY_SERVE_APP_LOAD_FAILED, .message = stats.app_error};
        serve_report(&ctx, &e);
    }
    serr = lusty_serve_start(ctx.srv, &loop, on_done, &ctx);
    if (serr) {
        cli_error("cannot start the server: %s", lusty_strerror(serr));
        uv_close((uv_handle_t *)&ctx.sigint, NULL);
        uv_close((uv_handle_t *)&ctx.sigterm, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
        goto cleanup;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    if (ctx.status) {
        cli_error("the server failed: %s", lusty_strerror(ctx.status));
        goto cleanup;
    }
    rc = CLI_EXIT_OK;
cleanup:
    lusty_serve_free(ctx.srv);
    /* The workers are gone: no store call runs any more. */
    lusty_store_close_all();
    if (loop_ready)
        uv_loop_close(&loop);
    lusty_log_set_sink(NULL, NULL);
    pthread_mutex_destroy(&ctx.log_lock);
    lusty_free(ctx.last_error);
    lusty_buf_free(&statics);
    lusty_free(mounts);
    lusty_free(conf.host);
    lusty_free(err);
    cli_project_free(p);
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
