/* Reading the server's settings from lusty.json (see server_conf.h). */
#include "server_conf.h"

#include "error.h"

#include "lusty/alloc.h"
#include "lusty/app.h"
#include "lusty/error.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

bool cli_server_env_valid(const char *env)
{
    return strcmp(env, "development") == 0 || strcmp(env, "production") == 0;
}

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

static bool read_conf(const cli_project_t *p, cli_server_conf_t *c)
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
    if (!manifest_int(p, "server.workers", 1, CLI_SERVER_MAX_WORKERS, &c->workers))
        return false;
    const cJSON *env = cli_project_get(p, "env");
    if (env && (!cJSON_IsString(env) || !cli_server_env_valid(env->valuestring)))
        return bad_manifest(p, "%s must be \"development\" or \"production\"", "env");
    c->env = env ? env->valuestring : NULL;
    const cJSON *proxies = cli_project_get(p, "server.trusted_proxies");
    if (proxies) {
        c->trusted = lusty_calloc((size_t)cJSON_GetArraySize(proxies) + 1, sizeof(char *));
        for (const cJSON *it = proxies->child; it; it = it->next)
            if (cJSON_IsString(it))
                c->trusted[c->ntrusted++] = it->valuestring;
    }
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
        {"server.limits.body_memory_bytes", offsetof(lusty_http_limits_t, body_memory_bytes),
         false},
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
static bool read_static(const cli_project_t *p, cli_server_conf_t *c)
{
    const cJSON *st = cli_project_get(p, "server.static");
    if (!st)
        return true;
    if (!cJSON_IsObject(st))
        return bad_manifest(p, "%s must be an object mapping URL prefixes to folders",
                            "server.static");
    c->mounts = lusty_calloc((size_t)cJSON_GetArraySize(st) + 1, sizeof *c->mounts);
    for (const cJSON *it = st->child; it; it = it->next) {
        if (!cJSON_IsString(it)) {
            char *key = lusty_asprintf("server.static[\"%s\"]", it->string);
            bad_manifest(p, "%s must be a folder name (a string)", key);
            lusty_free(key);
            return false;
        }
        c->mounts[c->nmounts++] =
            (lusty_serve_mount_t){.prefix = it->string, .folder = it->valuestring};
    }
    return true;
}

int cli_server_conf_load(cli_server_conf_t *c, const char *dir, char **err_out)
{
    memset(c, 0, sizeof(*c));
    *err_out = NULL;
    int err = cli_project_open(&c->p, dir, err_out);
    if (err)
        return err;
    if (cli_project_check(c->p) != 0 || !read_conf(c->p, c) || !read_static(c->p, c))
        return LUSTY_EINVAL;
    return 0;
}

void cli_server_conf_free(cli_server_conf_t *c)
{
    lusty_free(c->host);
    lusty_free(c->trusted);
    lusty_free(c->mounts);
    cli_project_free(c->p);
    memset(c, 0, sizeof(*c));
}

bool cli_server_conf_changed(const cli_server_conf_t *a, const cli_project_t *b)
{
    static const char *const keys[] = {"server", "app", "env"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const cJSON *x = cli_project_get(a->p, keys[i]), *y = cli_project_get(b, keys[i]);
        if (!x != !y || (x && !cJSON_Compare(x, y, true)))
            return true;
    }
    return false;
}
