/* Opening the Lua host of the project the user is in, for the commands that
 * run Lua (exec, channels). */
#ifndef LUSTY_CLI_HOST_H
#define LUSTY_CLI_HOST_H

#include "cmd.h"
#include "lusty/lua_host.h"

#include <stdbool.h>

/* Creates a host for the project found from `start` (walking up to the
 * nearest lusty.json) and loads its app (the manifest's "app", default
 * app/config.lua). With `require_project` false, no project is fine: the
 * host then has no app. Prints the error (and a hint) and returns
 * CLI_EXIT_FAILURE on failure, else 0 with *out to free with
 * lusty_lua_host_free(). */
int cli_host_open(lusty_lua_host_t **out, const char *start, bool require_project);

/* The option id of `--json` in the tables of the listing commands. */
enum { CLI_HOST_OPT_JSON = 1 };

/* The start of a listing command (`lusty channels`, `lusty routes`): parses
 * `[--json] [DIR]` with the command's option table and opens the host of
 * the project in DIR. Returns -1 with *out to free with
 * lusty_lua_host_free() and *json set, or the exit status to return (help
 * printed, usage error or failure reported). */
int cli_host_open_listing(lusty_lua_host_t **out, bool *json, const cli_cmd_info_t *info, int argc,
                          char **argv);

#endif
