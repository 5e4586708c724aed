/* MongoDB (through lusty-mongo-ping, see libexec.h), nginx on PATH and the project's
 * conf/nginx.conf under `nginx -t`, the project's port and data folder, and libgit2's
 * features. */
#include "checks.h"
#include "deploy.h"

#include "error.h"
#include "fs.h"
#include "libexec.h"
#include "lock.h"
#include "opt.h"
#include "lusty/alloc.h"
#include "lusty/buf.h"
#include "term.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
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

static char *run_capture(char *const argv[], bool with_stderr, double limit_ms);

static void check_mongodb(cli_mongo_check_t *m)
{
    m->shown_uri = cli_url_redact(m->uri);
    if (m->skip) {
        m->status = CLI_MONGO_SKIPPED;
        return;
    }
    m->status = CLI_MONGO_UNREACHABLE;
    char *probe = cli_libexec_find("lusty-mongo-ping");
    if (!probe) {
        m->error = lusty_strdup("lusty-mongo-ping, which makes the check, is not installed beside "
                                "lusty or in libexec/lusty");
        return;
    }
    char timeout[16];
    snprintf(timeout, sizeof(timeout), "%d", m->timeout_ms);
    char *argv[] = {probe, (char *)m->uri, timeout, NULL};
    /* Three round trips at most, each bounded by the timeout; then some
     * slack for the process itself. */
    char *text = run_capture(argv, false, 3.0 * m->timeout_ms + 2000);
    cJSON *result = text ? cJSON_Parse(text) : NULL;
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(result, "status");
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(result, "error");
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(result, "version");
    const cJSON *rtt = cJSON_GetObjectItemCaseSensitive(result, "rtt_ms");
    if (!cJSON_IsString(status)) {
        m->error = lusty_asprintf("'%s' gave no answer", probe);
    } else if (strcmp(status->valuestring, "ok") == 0) {
        m->status = CLI_MONGO_OK;
        if (cJSON_IsString(version))
            m->version = lusty_strdup(version->valuestring);
        if (cJSON_IsNumber(rtt))
            m->rtt_ms = rtt->valuedouble;
    } else {
        if (strcmp(status->valuestring, "bad_uri") == 0)
            m->status = CLI_MONGO_BAD_URI;
        m->error = lusty_strdup(cJSON_IsString(error) ? error->valuestring : "unknown error");
    }
    cJSON_Delete(result);
    lusty_free(text);
    lusty_free(probe);
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

/* Runs argv[0] with `argv` for at most `limit_ms` and returns what it printed
 * on stdout (and stderr too with `with_stderr`); free with lusty_free().
 * The child gets MONGOC_DISABLE_SHM so that mongo-c-driver creates no
 * shared-memory segment it could leave behind. */
static char *run_capture(char *const argv[], bool with_stderr, double limit_ms)
{
    int fds[2];
    if (pipe(fds) != 0)
        return NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    if (with_stderr)
        posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    else
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    size_t nenv = 0;
    while (environ[nenv])
        nenv++;
    char **env = lusty_calloc(nenv + 2, sizeof(char *));
    memcpy(env, environ, nenv * sizeof(char *));
    env[nenv] = "MONGOC_DISABLE_SHM=1";
    pid_t pid;
    int err = posix_spawn(&pid, argv[0], &fa, NULL, argv, env);
    lusty_free(env);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (err) {
        close(fds[0]);
        return NULL;
    }
    lusty_buf_t out = LUSTY_BUF_INIT;
    double deadline = now_ms() + limit_ms;
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

/* The first line of `text` that reports an error ("nginx: [emerg] ..."). */
static char *first_error(const char *text)
{
    const char *e = strstr(text, "[emerg]");
    if (!e)
        e = strstr(text, "[alert]");
    if (!e)
        e = text;
    return lusty_strndup(e, strcspn(e, "\n"));
}

/* conf/nginx.conf: whether it loads (nginx -t with the project as prefix,
 * errors on stderr rather than in a log file), and whether its upstream
 * ports are the ones lusty.json gives now. */
static void check_nginx_conf(cli_nginx_check_t *n, const char *dir, const cJSON *manifest)
{
    char *conf = cli_path_join(dir, "conf/nginx.conf"), *text = NULL;
    size_t len = 0;
    if (cli_read_file(conf, &text, &len) != 0) {
        lusty_free(conf);
        return;
    }
    n->nports = cli_deploy_upstream_ports(text, n->ports, CLI_MAX_UPSTREAMS);
    lusty_free(text);
    cli_deploy_file_t files[CLI_DEPLOY_NFILES];
    cli_deploy_render(manifest, dir, files);
    n->nwant = cli_deploy_upstream_ports(files[0].content, n->want, CLI_MAX_UPSTREAMS);
    cli_deploy_files_free(files);
    n->conf = CLI_NGINX_CONF_UNTESTED;
    if (n->found) {
        char *prefix = lusty_asprintf("%s/", dir);
        char *argv[] = {n->path, "-t", "-q", "-p", prefix, "-c", conf, "-e", "stderr", NULL};
        char *out = run_capture(argv, true, 5000);
        bool failed = !out || strstr(out, "[emerg]") || strstr(out, "test failed");
        n->conf = failed ? CLI_NGINX_CONF_FAILED : CLI_NGINX_CONF_OK;
        if (failed)
            n->conf_error = out ? first_error(out) : lusty_strdup("nginx could not be run");
        lusty_free(out);
        lusty_free(prefix);
    }
    lusty_free(conf);
}

/* "8080, 8081", or "none". Free with lusty_free(). */
static char *port_list(const int *ports, size_t n)
{
    lusty_buf_t b = LUSTY_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        lusty_buf_printf(&b, "%s%d", i ? ", " : "", ports[i]);
    if (!n)
        lusty_buf_puts(&b, "none");
    return lusty_buf_detach(&b, NULL);
}

static bool ports_match(const cli_nginx_check_t *n)
{
    if (n->nports != n->nwant)
        return false;
    for (size_t i = 0; i < n->nports; i++)
        if (n->ports[i] != n->want[i])
            return false;
    return true;
}

static void check_nginx(cli_nginx_check_t *n)
{
    const char *names[] = {"nginx", "openresty"};
    for (size_t i = 0; i < 2 && !n->path; i++)
        n->path = which(names[i]);
    if (!n->path)
        return;
    n->found = true;
    /* nginx prints its version on stderr. */
    char *argv[] = {n->path, "-v", NULL};
    char *text = run_capture(argv, true, 2000);
    if (!text)
        return;
    const char *v = strstr(text, "version: ");
    if (v) {
        v += strlen("version: ");
        n->version = lusty_strndup(v, strcspn(v, " \n"));
    }
    lusty_free(text);
}

/* The data folder: there, and writable by this user (as the service's
 * ReadWritePaths= makes it the only writable place). */
static void check_data(cli_data_check_t *d, const char *dir, const cJSON *manifest)
{
    d->checked = true;
    d->path = cli_deploy_data_dir(manifest);
    char *abs = d->path[0] == '/' ? lusty_strdup(d->path) : cli_path_join(dir, d->path);
    d->exists = cli_is_dir(abs);
    d->writable = d->exists && access(abs, W_OK | X_OK) == 0;
    lusty_free(abs);
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
    if (c->project_dir && c->manifest) {
        check_nginx_conf(&c->nginx, c->project_dir, c->manifest);
        check_data(&c->data, c->project_dir, c->manifest);
    }
    if (host)
        check_port(&c->port, host, port);
    if (c->store.checked)
        cli_store_check_run(&c->store);
}

void cli_checks_clear(cli_checks_t *c)
{
    cli_store_check_clear(&c->store);
    lusty_free(c->mongodb.shown_uri);
    lusty_free(c->mongodb.version);
    lusty_free(c->mongodb.error);
    lusty_free(c->nginx.path);
    lusty_free(c->nginx.version);
    lusty_free(c->nginx.conf_error);
    lusty_free(c->data.path);
    lusty_free(c->port.host);
    lusty_free(c->port.error);
}

bool cli_checks_failed(const cli_checks_t *c)
{
    return (c->store.checked && !c->store.ok) || c->mongodb.status == CLI_MONGO_BAD_URI ||
           (c->mongodb.status == CLI_MONGO_UNREACHABLE && c->mongodb.required);
}

static void print_mongodb_hint(void)
{
    cli_hint("start mongod, set the URI with --mongodb-uri or LUSTY_MONGODB_URI, or pass "
             "--skip-mongodb");
}

static void print_mongodb_problem(const cli_checks_t *c)
{
    const cli_mongo_check_t *m = &c->mongodb;
    if (m->status == CLI_MONGO_BAD_URI) {
        cli_error("invalid MongoDB URI '%s' (from %s): %s", m->shown_uri, m->uri_source, m->error);
        cli_hint("the form is mongodb://[user:password@]host[:port][/database][?options]");
    } else if (m->status == CLI_MONGO_UNREACHABLE) {
        void (*report)(const char *, ...) = m->required ? cli_error : cli_warning;
        report("cannot reach MongoDB at '%s': %s", m->shown_uri, m->error);
        print_mongodb_hint();
    }
}

void cli_checks_print_problems(const cli_checks_t *c)
{
    print_mongodb_problem(c);
    cli_store_check_problem(&c->store);
    if (c->port.checked && !c->port.free)
        cli_warning("port %d on %s is not available%s%s", c->port.port, c->port.host,
                    c->port.error ? ": " : " (in use)", c->port.error ? c->port.error : "");
    const cli_nginx_check_t *n = &c->nginx;
    if (n->conf == CLI_NGINX_CONF_FAILED) {
        cli_warning("conf/nginx.conf does not load: %s", n->conf_error);
        cli_hint("regenerate it with 'lusty deploy-files' (--force to replace an edited one)");
    }
    if (n->conf != CLI_NGINX_CONF_NONE && !ports_match(n)) {
        char *have = port_list(n->ports, n->nports), *want = port_list(n->want, n->nwant);
        cli_warning("conf/nginx.conf proxies to port %s, but lusty.json says %s", have, want);
        cli_hint("run 'lusty deploy-files' to regenerate it from lusty.json");
        lusty_free(have);
        lusty_free(want);
    }
    /* A missing data folder is made on first use in development; only a
     * folder that exists and cannot be written is a problem now. */
    if (c->data.checked && c->data.exists && !c->data.writable) {
        cli_warning("the data folder '%s' is not writable", c->data.path);
        cli_hint("give the server's user write access to it: a production service may write "
                 "only there");
    }
}

static void row(FILE *out, const char *label, const char *color, const char *status,
                const char *rest)
{
    fprintf(out, "  %-8s %s%s%s%s\n", label, color, status, cli_term_reset(out), rest);
}

/* The table; with `reasons`, an unreachable MongoDB's row says why. */
static void print_rows(const cli_checks_t *c, FILE *out, bool reasons)
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
        text = lusty_asprintf(" at %s%s%s%s", m->shown_uri, m->required ? "" : " (not required)",
                              reasons && m->error ? ": " : "", reasons && m->error ? m->error : "");
        row(out, "mongodb", m->required ? cli_term_red(out) : cli_term_yellow(out), "unreachable",
            text);
        break;
    case CLI_MONGO_BAD_URI: row(out, "mongodb", cli_term_red(out), "invalid URI", ""); break;
    }
    lusty_free(text);
    text = NULL;
    const cli_nginx_check_t *n = &c->nginx;
    if (n->found) {
        text = lusty_asprintf(" %s (%s)", n->path, n->version ? n->version : "unknown version");
        row(out, "nginx", cli_term_green(out), "found", text);
    } else {
        row(out, "nginx", cli_term_dim(out), "not found",
            " on PATH (needed only to deploy conf/nginx.conf)");
    }
    lusty_free(text);
    text = NULL;
    if (n->conf != CLI_NGINX_CONF_NONE) {
        char *ports = port_list(n->ports, n->nports);
        bool match = ports_match(n);
        static const char *const states[] = {"", "not tested", "loads", "does not load"};
        text = lusty_asprintf(" (%snginx -t); proxies to port %s%s", n->found ? "" : "no ", ports,
                              match ? " as lusty.json says" : ", not what lusty.json says");
        bool good = n->conf != CLI_NGINX_CONF_FAILED && match;
        char *status = lusty_asprintf("conf/nginx.conf %s", states[n->conf]);
        row(out, "deploy", good ? cli_term_green(out) : cli_term_yellow(out), status, text);
        lusty_free(status);
        lusty_free(ports);
    }
    lusty_free(text);
    text = NULL;
    if (c->data.checked) {
        text = lusty_asprintf("%s %s", c->data.path,
                              c->data.writable ? "is writable"
                              : c->data.exists ? "is not writable"
                                               : "does not exist yet (create it before a "
                                                 "production service starts)");
        row(out, "data",
            c->data.writable ? cli_term_green(out)
            : c->data.exists ? cli_term_yellow(out)
                             : cli_term_dim(out),
            text, "");
    }
    lusty_free(text);
    text = NULL;
    if (c->port.checked) {
        const char *why =
            reasons && !c->port.free ? (c->port.error ? c->port.error : "in use") : NULL;
        text = lusty_asprintf("%s:%d %s%s%s", c->port.host, c->port.port,
                              c->port.free ? "is free" : "is not available", why ? ": " : "",
                              why ? why : "");
        row(out, "port", c->port.free ? cli_term_green(out) : cli_term_yellow(out), text, "");
    }
    lusty_free(text);
    cli_store_check_row(&c->store, out, "  ");
    int features = git_libgit2_features();
    int major, minor, rev;
    git_libgit2_version(&major, &minor, &rev);
    text = lusty_asprintf(" libgit2 %d.%d.%d%s%s; no git settings needed", major, minor, rev,
                          features & GIT_FEATURE_HTTPS ? ", https" : "",
                          features & GIT_FEATURE_SSH ? ", ssh" : "");
    row(out, "git", cli_term_green(out), "built in", text);
    lusty_free(text);
}

void cli_checks_print(const cli_checks_t *c, FILE *out)
{
    print_rows(c, out, false);
    cli_checks_print_problems(c);
}

void cli_checks_print_once(const cli_checks_t *c, FILE *out)
{
    print_rows(c, out, true);
    if (c->mongodb.status == CLI_MONGO_UNREACHABLE && !c->mongodb.required)
        print_mongodb_hint();
    else
        print_mongodb_problem(c);
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
    static const char *const conf_states[] = {"none", "untested", "ok", "failed"};
    cJSON_AddStringToObject(nj, "config", conf_states[c->nginx.conf]);
    add_string_or_null(nj, "config_error", c->nginx.conf_error);
    cJSON *ports = cJSON_AddArrayToObject(nj, "upstream_ports");
    for (size_t i = 0; i < c->nginx.nports; i++)
        cJSON_AddItemToArray(ports, cJSON_CreateNumber(c->nginx.ports[i]));
    cJSON_AddBoolToObject(nj, "ports_match",
                          c->nginx.conf == CLI_NGINX_CONF_NONE || ports_match(&c->nginx));
    if (c->data.checked) {
        cJSON *dj = cJSON_AddObjectToObject(root, "data");
        cJSON_AddStringToObject(dj, "path", c->data.path);
        cJSON_AddBoolToObject(dj, "exists", c->data.exists);
        cJSON_AddBoolToObject(dj, "writable", c->data.writable);
    } else {
        cJSON_AddNullToObject(root, "data");
    }

    if (c->port.checked) {
        cJSON *pj = cJSON_AddObjectToObject(root, "port");
        cJSON_AddStringToObject(pj, "host", c->port.host);
        cJSON_AddNumberToObject(pj, "port", c->port.port);
        cJSON_AddBoolToObject(pj, "free", c->port.free);
        add_string_or_null(pj, "error", c->port.error);
    } else {
        cJSON_AddNullToObject(root, "port");
    }

    if (c->store.checked)
        cJSON_AddItemToObject(root, "store", cli_store_check_json(&c->store));
    else
        cJSON_AddNullToObject(root, "store");

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

int cli_mongodb_opt(cli_mongodb_opts_t *m, int id, const char *value)
{
    switch (id) {
    case CLI_OPT_MONGODB_URI: m->uri = value; return 1;
    case CLI_OPT_MONGODB_TIMEOUT:
        if (!cli_parse_seconds(value, 600, &m->timeout_ms)) {
            cli_error("invalid --mongodb-timeout '%s': use seconds, more than 0, at most 600",
                      value);
            return -1;
        }
        return 1;
    case CLI_OPT_REQUIRE_MONGODB: m->require = true; return 1;
    case CLI_OPT_SKIP_MONGODB: m->skip = true; return 1;
    default: return 0;
    }
}

void cli_checks_prepare(cli_checks_t *c, const cJSON *manifest, const cli_mongodb_opts_t *opts,
                        const char **host_out, int *port_out)
{
    const cJSON *mongo = cJSON_GetObjectItemCaseSensitive(manifest, "mongodb");
    const cJSON *uri = cJSON_GetObjectItemCaseSensitive(mongo, "uri");
    const cJSON *required = cJSON_GetObjectItemCaseSensitive(mongo, "required");
    const char *env = getenv("LUSTY_MONGODB_URI");
    cli_mongo_check_t *m = &c->mongodb;
    if (opts->uri) {
        m->uri = opts->uri;
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
    m->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : 2000;
    m->required = opts->require || cJSON_IsTrue(required);
    m->skip = opts->skip;
    c->manifest = manifest;

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
    /* Check what `lusty server` would bind: LUSTY_HOST and LUSTY_PORT
     * override lusty.json there too. */
    const char *env_host = getenv("LUSTY_HOST"), *env_port = getenv("LUSTY_PORT");
    long p = 0;
    if (env_host && env_host[0])
        *host_out = env_host;
    if (env_port && cli_parse_int(env_port, 1, 65535, &p))
        *port_out = (int)p;
}
