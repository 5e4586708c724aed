/* What the rockspecs of the fetched handlers depend on, and which of those
 * dependencies nothing in the project provides (docs/bootstrap.md). */
#ifndef CLI_ROCK_DEPS_H
#define CLI_ROCK_DEPS_H

#include "lock.h"

/* Warns, for each handler under <dir>/lusty_modules/ with a rockspec,
 * about each dependency that is neither Lua itself, nor provided by the
 * runtime, nor a handler of `handlers` (by its name or its rockspec's
 * package): "'lusty-mustache' needs 'lustache': add it to \"handlers\" in
 * lusty.json". Never fails; returns how many it reported. */
size_t cli_rock_deps_report(const char *dir, const cli_source_list_t *handlers);

#endif
