/* lusty routes: the app's routes in match order (method, path, file), for a
 * person or (--json) for scripts, with routes that can never match flagged.
 * The listing is Lua (runtime/lua/lusty/routes.lua), run in the app's host. */
#include "cmd.h"
#include "error.h"
#include "host.h"
#include "lusty/alloc.h"
#include "lusty/error.h"

#include <stdio.h>

static const cli_opt_t options[] = {
    {"json", 0, NULL,
     "Print JSON: an array of {channel, path, pattern, methods, module, file, error, "
     "shadowedBy}",
     CLI_HOST_OPT_JSON},
    {NULL, 0, NULL, NULL, 0},
};

const cli_cmd_info_t cmd_routes_info = {
    .name = "routes",
    .summary = "Show the app's routes: method, path and file, in match order",
    .usage = "[--json] [DIR]",
    .description = "Loads the app of the project in DIR (default: the current folder, walking\n"
                   "up to the nearest lusty.json) and lists the patterns of every lusty.router\n"
                   "in the order they are tried: the methods (* for any; GET also answers\n"
                   "HEAD), the URL path and the route file. A route that an earlier one of\n"
                   "the same router always takes first is marked, with a warning on stderr.\n",
    .options = options,
    .args = "dir",
};

int cmd_routes(int argc, char **argv)
{
    bool json;
    lusty_lua_host_t *host = NULL;
    int early = cli_host_open_listing(&host, &json, &cmd_routes_info, argc, argv);
    if (early >= 0)
        return early;

    char *args[] = {(char *)lusty_lua_host_root(host), json ? "json" : ""};
    int status = 1;
    char *err = NULL;
    fflush(stdout);
    int rc = lusty_lua_host_run_string(host,
                                       "local root, json = ...\n"
                                       "return require('lusty.routes').main(lusty, root, json == "
                                       "'json')\n",
                                       "routes", 2, args, &status, &err);
    fflush(stdout);
    if (rc != 0) {
        cli_error("cannot list the routes: %s", err ? err : lusty_strerror(rc));
        status = CLI_EXIT_FAILURE;
    }
    lusty_free(err);
    lusty_lua_host_free(host);
    return status;
}
