/* Opening the Lua host of the current project (see host.h). */
#include "host.h"

#include "error.h"
#include "lusty/alloc.h"
#include "lusty/error.h"
#include "project.h"

#include <cjson/cJSON.h>

int cli_host_open(lusty_lua_host_t **out, const char *start, bool require_project)
{
    *out = NULL;
    cli_project_t *p = NULL;
    char *err = NULL;
    lusty_lua_host_t *host = NULL;
    int status = CLI_EXIT_FAILURE;

    int rc = cli_project_open(&p, start, &err);
    if (rc != 0 && (rc != LUSTY_ENOENT || require_project)) {
        cli_error("%s", err);
        if (rc == LUSTY_ENOENT)
            cli_hint("run it inside a project, or give the project's folder");
        goto cleanup;
    }
    lusty_free(err);
    err = NULL;

    const cJSON *app = p ? cli_project_get(p, "app") : NULL;
    lusty_lua_options_t opts = {
        .root = p ? p->dir : NULL,
        .app = cJSON_IsString(app) ? app->valuestring : NULL,
    };
    if (lusty_lua_host_new(&host, &opts, &err) != 0) {
        cli_error("cannot start Lua: %s", err ? err : "unknown error");
        goto cleanup;
    }
    if (p) {
        rc = lusty_lua_host_load_app(host, &err);
        if (rc == LUSTY_ENOENT) {
            cli_error("cannot load the app: %s", err);
            cli_hint("set \"app\" in '%s' to the app's config file", p->manifest_path);
            goto cleanup;
        }
        if (rc != 0) {
            cli_error("cannot load the app: %s", err);
            goto cleanup;
        }
    }
    *out = host;
    host = NULL;
    status = 0;

cleanup:
    lusty_lua_host_free(host);
    lusty_free(err);
    cli_project_free(p);
    return status;
}

int cli_host_open_listing(lusty_lua_host_t **out, bool *json, const cli_cmd_info_t *info, int argc,
                          char **argv)
{
    *out = NULL;
    *json = false;
    cli_opt_parser_t p;
    cli_opt_init(&p, info, argc, argv);
    int opt;
    while ((opt = cli_opt_next(&p)) != CLI_OPT_END) {
        if (opt == CLI_OPT_HELP || opt == CLI_OPT_ERROR) {
            cli_opt_free(&p);
            return opt == CLI_OPT_HELP ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        }
        if (opt == CLI_HOST_OPT_JSON)
            *json = true;
    }
    if (p.nargs > 1) {
        cli_error("'lusty %s' takes at most one folder", info->name);
        cli_opt_free(&p);
        return CLI_EXIT_USAGE;
    }
    int rc = cli_host_open(out, p.nargs ? p.args[0] : ".", true);
    cli_opt_free(&p);
    return rc != 0 ? CLI_EXIT_FAILURE : -1;
}
