/* The settings of `lusty server` read from a project's lusty.json: one
 * load per server generation (a restart reads them afresh). */
#ifndef LUSTY_CLI_SERVER_CONF_H
#define LUSTY_CLI_SERVER_CONF_H

#include "project.h"

#include "lusty/http.h"
#include "lusty/serve.h"

#include <stdbool.h>
#include <stddef.h>

#define CLI_SERVER_MAX_WORKERS 256

typedef struct {
    cli_project_t *p;
    char *host;           /* server.host, else 127.0.0.1 */
    long port;            /* server.port, else 8080 */
    long budget_ms;       /* server.lua_budget_ms */
    long workers;         /* server.workers; 0: not set */
    const char *app;      /* "app"; NULL: the default */
    const char *env;      /* "env"; NULL: not set */
    const char **trusted; /* server.trusted_proxies */
    size_t ntrusted;
    lusty_http_limits_t limits;  /* server.limits; zero fields: defaults */
    lusty_serve_mount_t *mounts; /* server.static */
    size_t nmounts;
} cli_server_conf_t;

/* Opens the project of `dir`, checks its lusty.json (the validator of
 * doctor) and reads the settings into `c` (strings borrowed from the
 * manifest, which `c` owns). Problems are printed as CLI errors. Returns 0,
 * LUSTY_ENOENT when there is no project (not printed: *err_out says why),
 * or LUSTY_EINVAL. Free with cli_server_conf_free() in every case. */
int cli_server_conf_load(cli_server_conf_t *c, const char *dir, char **err_out);
void cli_server_conf_free(cli_server_conf_t *c);

/* Whether the settings that need a new server generation differ: the
 * manifest's "server", "app" and "env". */
bool cli_server_conf_changed(const cli_server_conf_t *a, const cli_project_t *b);

bool cli_server_env_valid(const char *env);

#endif
