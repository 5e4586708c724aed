/* Opening the Lua host of the project the user is in, for the commands that
 * run Lua (exec, channels). */
#ifndef LUSTY_CLI_HOST_H
#define LUSTY_CLI_HOST_H

#include "lusty/lua_host.h"

#include <stdbool.h>

/* Creates a host for the project found from `start` (walking up to the
 * nearest lusty.json) and loads its app (the manifest's "app", default
 * app/config.lua). With `require_project` false, no project is fine: the
 * host then has no app. Prints the error (and a hint) and returns
 * CLI_EXIT_FAILURE on failure, else 0 with *out to free with
 * lusty_lua_host_free(). */
int cli_host_open(lusty_lua_host_t **out, const char *start, bool require_project);

#endif
