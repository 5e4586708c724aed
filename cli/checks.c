/* MongoDB through mongo-c-driver, nginx/OpenResty on PATH, the project's
 * port, and libgit2's features. */
#include "checks.h"

#include "error.h"
#include "fs.h"
#include "lock.h"
#include "lusty/alloc.h"
#include "lusty/buf.h"
#include "term.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <git2.h>
#include <mongoc/mongoc.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The driver logs to stderr on its own; its reasons reach the user through
 * our messages instead. */
static void quiet_log(mongoc_log_level_t level, const char *domain, const char *message, void *data)
{
    (void)level, (void)domain, (void)message, (void)data;
}

static void check_mongodb(cli_mongo_check_t *m)
{
    mongoc_uri_t *uri = NULL;
    mongoc_client_t *client = NULL;
    bson_t *ping = NULL, *build = NULL;
    bson_t reply = BSON_INITIALIZER; /* every command_simple overwrites it: destroy first */
    bson_error_t error;
    m->shown_uri = cli_url_redact(m->uri);
    if (m->skip) {
        m->status = CLI_MONGO_SKIPPED;
        bson_destroy(&reply);
        return;
    }
    mongoc_init();
    mongoc_log_set_handler(quiet_log, NULL);
    uri = mongoc_uri_new_with_error(m->uri, &error);
    if (!uri) {
        m->status = CLI_MONGO_BAD_URI;
        m->error = lusty_strdup(error.message);
        goto cleanup;
    }
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, m->timeout_ms);
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, m->timeout_ms);
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, m->timeout_ms);
    client = mongoc_client_new_from_uri_with_error(uri, &error);
    if (!client) {
        m->status = CLI_MONGO_BAD_URI;
        m->error = lusty_strdup(error.message);
        goto cleanup;
    }
    mongoc_client_set_appname(client, "lusty");
    ping = BCON_NEW("ping", BCON_INT32(1));
    build = BCON_NEW("buildInfo", BCON_INT32(1));
    /* The first ping selects the server and connects; the second measures
     * the round trip alone. */
    double t0 = 0;
    bool ok = mongoc_client_command_simple(client, "admin", ping, NULL, &reply, &error);
    if (ok) {
        bson_destroy(&reply);
        ok = mongoc_client_command_simple(client, "admin", build, NULL, &reply, &error);
    }
    if (ok) {
        bson_iter_t it;
        if (bson_iter_init_find(&it, &reply, "version") && BSON_ITER_HOLDS_UTF8(&it))
            m->version = lusty_strdup(bson_iter_utf8(&it, NULL));
        bson_destroy(&reply);
        t0 = now_ms();
        ok = mongoc_client_command_simple(client, "admin", ping, NULL, &reply, &error);
        m->rtt_ms = now_ms() - t0;
    }
    if (ok) {
        m->status = CLI_MONGO_OK;
    } else {
        m->status = CLI_MONGO_UNREACHABLE;
        m->error = lusty_strdup(error.message);
    }
cleanup:
    bson_destroy(&reply);
    bson_destroy(ping);
    bson_destroy(build);
    mongoc_client_destroy(client);
    mongoc_uri_destroy(uri);
    mongoc_cleanup();
}

/* Finds `name` on PATH; free with lusty_free(). */
static char *which(const char *name)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        return NULL;
    char *copy = lusty_strdup(path), *save = NULL, *found = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        char *candidate = cli_path_join(dir[0] ? dir : ".", name);
        if (access(candidate, X_OK) == 0 && !cli_is_dir(candidate))
            found = candidate;
        else
            lusty_free(candidate);
    }
    lusty_free(copy);
    return found;
}

/* Runs `path -V` (nginx prints it on stderr) for at most two seconds and
 * returns what it printed; free with lusty_free(). */
static char *run_version(const char *path)
{
    int fds[2];
    if (pipe(fds) != 0)
        return NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    char *argv[] = {(char *)path, "-V", NULL};
    pid_t pid;
    int err = posix_spawn(&pid, path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (err) {
        close(fds[0]);
        return NULL;
    }
    lusty_buf_t out = LUSTY_BUF_INIT;
    double deadline = now_ms() + 2000;
    for (;;) {
        int left = (int)(deadline - now_ms());
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        if (left <= 0 || poll(&p, 1, left) <= 0)
            break;
        char chunk[4096];
        ssize_t n = read(fds[0], chunk, sizeof(chunk));
        if (n <= 0 || out.len > 65536)
            break;
        lusty_buf_append(&out, chunk, (size_t)n);
    }
    close(fds[0]);
    kill(pid, SIGKILL); /* harmless when it has exited: we have not reaped it */
    waitpid(pid, NULL, 0);
    return lusty_buf_detach(&out, NULL);
}

/* The value of "--name=value" in nginx's configure arguments. */
static char *configure_arg(const char *text, const char *name)
{
    const char *p = strstr(text, name);
    if (!p)
        return NULL;
    p += strlen(name);
    return lusty_strndup(p, strcspn(p, " \n'\""));
}

static void check_nginx(cli_nginx_check_t *n)
{
    const char *names[] = {"openresty", "nginx"};
    for (size_t i = 0; i < 2 && !n->path; i++)
        n->path = which(names[i]);
    if (!n->path)
        return;
    n->found = true;
    char *text = run_version(n->path);
    if (!text)
        return;
    const char *v = strstr(text, "version: ");
    if (v) {
        v += strlen("version: ");
        n->version = lusty_strndup(v, strcspn(v, " \n"));
    }
    /* Built in (OpenResty, --add-module=…lua-nginx-module) or a dynamic
     * module in the modules folder (Debian's libnginx-mod-http-lua). */
    if (strstr(text, "openresty") || strstr(text, "lua-nginx-module") || strstr(text, "http_lua"))
        n->lua = true;
    char *modules = configure_arg(text, "--modules-path=");
    if (!modules && strstr(text, "nginx/"))
        modules = lusty_strdup("/usr/lib/nginx/modules");
    if (modules && !n->lua) {
        char *so = cli_path_join(modules, "ngx_http_lua_module.so");
        n->lua = cli_exists(so);
        lusty_free(so);
    }
    lusty_free(modules);
    lusty_free(text);
}

static void check_port(cli_port_check_t *pc, const char *host, int port)
{
    pc->checked = true;
    pc->host = lusty_strdup(host);
    pc->port = port;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char service[16];
    snprintf(service, sizeof(service), "%d", port);
    int gai = getaddrinfo(host, service, &hints, &res);
    if (gai != 0) {
        pc->error = lusty_asprintf("cannot resolve '%s': %s", host, gai_strerror(gai));
        return;
    }
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
    int one = 1;
    if (fd < 0) {
        pc->error = lusty_strdup(strerror(errno));
    } else {
        /* As the server does, so TIME_WAIT leftovers do not count as busy. */
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, res->ai_addr, res->ai_addrlen) == 0)
            pc->free = true;
        else if (errno != EADDRINUSE)
            pc->error = lusty_strdup(cli_strerror(errno));
        close(fd);
    }
    freeaddrinfo(res);
}

void cli_checks_run(cli_checks_t *c, const char *host, int port)
{
    check_mongodb(&c->mongodb);
    check_nginx(&c->nginx);
    if (host)
        check_port(&c->port, host, port);
}

void cli_checks_clear(cli_checks_t *c)
{
    lusty_free(c->mongodb.shown_uri);
    lusty_free(c->mongodb.version);
    lusty_free(c->mongodb.error);
    lusty_free(c->nginx.path);
    lusty_free(c->nginx.version);
    lusty_free(c->port.host);
    lusty_free(c->port.error);
}

bool cli_checks_failed(const cli_checks_t *c)
{
    return c->mongodb.status == CLI_MONGO_BAD_URI ||
           (c->mongodb.status == CLI_MONGO_UNREACHABLE && c->mongodb.required);
}

void cli_checks_print_problems(const cli_checks_t *c)
{
    const cli_mongo_check_t *m = &c->mongodb;
    if (m->status == CLI_MONGO_BAD_URI) {
        cli_error("invalid MongoDB URI '%s' (from %s): %s", m->shown_uri, m->uri_source, m->error);
        cli_hint("the form is mongodb://[user:password@]host[:port][/database][?options]");
    } else if (m->status == CLI_MONGO_UNREACHABLE) {
        void (*report)(const char *, ...) = m->required ? cli_error : cli_warning;
        report("cannot reach MongoDB at '%s': %s", m->shown_uri, m->error);
        cli_hint("start mongod, set the URI with --mongodb-uri or LUSTY_MONGODB_URI, or pass "
                 "--skip-mongodb");
    }
    if (c->port.checked && !c->port.free)
        cli_warning("port %d on %s is not available%s%s", c->port.port, c->port.host,
                    c->port.error ? ": " : " (in use)", c->port.error ? c->port.error : "");
}

static void row(FILE *out, const char *label, const char *color, const char *status,
                const char *rest)
{
    fprintf(out, "  %-8s %s%s%s%s\n", label, color, status, cli_term_reset(out), rest);
}

void cli_checks_print(const cli_checks_t *c, FILE *out)
{
    const cli_mongo_check_t *m = &c->mongodb;
    char *text = NULL;
    fprintf(out, "checks:\n");
    switch (m->status) {
    case CLI_MONGO_SKIPPED: row(out, "mongodb", cli_term_dim(out), "skipped", ""); break;
    case CLI_MONGO_OK:
        text = lusty_asprintf(" at %s (MongoDB %s, %.1f ms)", m->shown_uri,
                              m->version ? m->version : "of unknown version", m->rtt_ms);
        row(out, "mongodb", cli_term_green(out), "reachable", text);
        break;
    case CLI_MONGO_UNREACHABLE:
        text = lusty_asprintf(" at %s%s", m->shown_uri, m->required ? "" : " (not required)");
        row(out, "mongodb", m->required ? cli_term_red(out) : cli_term_yellow(out), "unreachable",
            text);
        break;
    case CLI_MONGO_BAD_URI: row(out, "mongodb", cli_term_red(out), "invalid URI", ""); break;
    }
    lusty_free(text);
    text = NULL;
    if (c->nginx.found) {
        text = lusty_asprintf(" %s (%s)%s", c->nginx.path,
                              c->nginx.version ? c->nginx.version : "unknown version",
                              c->nginx.lua ? " with the Lua module" : ", without the Lua module");
        row(out, "nginx", c->nginx.lua ? cli_term_green(out) : cli_term_yellow(out), "found",
            text);
    } else {
        row(out, "nginx", cli_term_dim(out), "not found",
            " on PATH (needed only to deploy conf/nginx.conf)");
    }
    lusty_free(text);
    text = NULL;
    if (c->port.checked) {
        text = lusty_asprintf("%s:%d %s", c->port.host, c->port.port,
                              c->port.free ? "is free" : "is not available");
        row(out, "port", c->port.free ? cli_term_green(out) : cli_term_yellow(out), text, "");
    }
    lusty_free(text);
    int features = git_libgit2_features();
    int major, minor, rev;
    git_libgit2_version(&major, &minor, &rev);
    text = lusty_asprintf(" libgit2 %d.%d.%d%s%s; no git settings needed", major, minor, rev,
                          features & GIT_FEATURE_HTTPS ? ", https" : "",
                          features & GIT_FEATURE_SSH ? ", ssh" : "");
    row(out, "git", cli_term_green(out), "built in", text);
    lusty_free(text);
    cli_checks_print_problems(c);
}

static void add_string_or_null(cJSON *obj, const char *key, const char *value)
{
    if (value)
        cJSON_AddStringToObject(obj, key, value);
    else
        cJSON_AddNullToObject(obj, key);
}

cJSON *cli_checks_to_json(const cli_checks_t *c)
{
    static const char *const mongo_status[] = {"skipped", "reachable", "unreachable", "invalid-uri"};
    const cli_mongo_check_t *m = &c->mongodb;
    cJSON *root = cJSON_CreateObject();
    cJSON *mj = cJSON_AddObjectToObject(root, "mongodb");
    cJSON_AddStringToObject(mj, "status", mongo_status[m->status]);
    cJSON_AddStringToObject(mj, "uri", m->shown_uri ? m->shown_uri : "");
    cJSON_AddStringToObject(mj, "uri_source", m->uri_source);
    cJSON_AddBoolToObject(mj, "required", m->required);
    add_string_or_null(mj, "version", m->version);
    if (m->status == CLI_MONGO_OK)
        cJSON_AddNumberToObject(mj, "rtt_ms", (double)(long)(m->rtt_ms * 100) / 100);
    else
        cJSON_AddNullToObject(mj, "rtt_ms");
    add_string_or_null(mj, "error", m->error);

    cJSON *nj = cJSON_AddObjectToObject(root, "nginx");
    cJSON_AddBoolToObject(nj, "found", c->nginx.found);
    add_string_or_null(nj, "path", c->nginx.path);
    add_string_or_null(nj, "version", c->nginx.version);
    cJSON_AddBoolToObject(nj, "lua", c->nginx.lua);

    if (c->port.checked) {
        cJSON *pj = cJSON_AddObjectToObject(root, "port");
        cJSON_AddStringToObject(pj, "host", c->port.host);
        cJSON_AddNumberToObject(pj, "port", c->port.port);
        cJSON_AddBoolToObject(pj, "free", c->port.free);
        add_string_or_null(pj, "error", c->port.error);
    } else {
        cJSON_AddNullToObject(root, "port");
    }

    int major, minor, rev, features = git_libgit2_features();
    git_libgit2_version(&major, &minor, &rev);
    cJSON *gj = cJSON_AddObjectToObject(root, "git");
    char version[32];
    snprintf(version, sizeof(version), "%d.%d.%d", major, minor, rev);
    cJSON_AddStringToObject(gj, "libgit2", version);
    cJSON_AddBoolToObject(gj, "https", (features & GIT_FEATURE_HTTPS) != 0);
    cJSON_AddBoolToObject(gj, "ssh", (features & GIT_FEATURE_SSH) != 0);
    return root;
}

void cli_checks_prepare(cli_checks_t *c, const cJSON *manifest, const char *uri_opt,
                        int timeout_ms, bool require, bool skip, const char **host_out,
                        int *port_out)
{
    const cJSON *mongo = cJSON_GetObjectItemCaseSensitive(manifest, "mongodb");
    const cJSON *uri = cJSON_GetObjectItemCaseSensitive(mongo, "uri");
    const cJSON *required = cJSON_GetObjectItemCaseSensitive(mongo, "required");
    const char *env = getenv("LUSTY_MONGODB_URI");
    cli_mongo_check_t *m = &c->mongodb;
    if (uri_opt) {
        m->uri = uri_opt;
        m->uri_source = "--mongodb-uri";
    } else if (env && env[0]) {
        m->uri = env;
        m->uri_source = "LUSTY_MONGODB_URI";
    } else if (cJSON_IsString(uri) && uri->valuestring[0]) {
        m->uri = uri->valuestring;
        m->uri_source = "lusty.json";
    } else {
        m->uri = "mongodb://127.0.0.1:27017";
        m->uri_source = "default";
    }
    m->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
    m->required = require || cJSON_IsTrue(required);
    m->skip = skip;

    *host_out = NULL;
    *port_out = 0;
    if (!manifest)
        return;
    const cJSON *server = cJSON_GetObjectItemCaseSensitive(manifest, "server");
    const cJSON *host = cJSON_GetObjectItemCaseSensitive(server, "host");
    const cJSON *port = cJSON_GetObjectItemCaseSensitive(server, "port");
    *host_out = cJSON_IsString(host) && host->valuestring[0] ? host->valuestring : "127.0.0.1";
    *port_out = cJSON_IsNumber(port) && port->valueint > 0 && port->valueint < 65536
                    ? port->valueint
                    : 8080;
}
