/* The Lua host: one LuaJIT state set up for a Lusty project.
 *
 * A host owns a lua_State. Creating it from a project root sets the module
 * path (app/?.lua, app/?/init.lua, the project root,
 * lusty_modules/<name>/?.lua and ?/init.lua, the runtime's built-in
 * modules, then the standard path) and installs the modules the runtime
 * implements itself, found before any file of the same name: `mediator`
 * (the event bus, in Lua: docs/bus.md), `lusty` and `lusty.init` (the app
 * object), `lusty.util` (inline), `lusty-config` and `cjson`. The global
 * `lusty` is the host's app object, whose `event` is the app's bus; C code
 * publishes on it with lusty_lua_host_publish().
 *
 * Every call into Lua goes through lua_pcall with a traceback handler; the
 * functions here never raise Lua errors and never print. Error messages
 * (with tracebacks) come back in an `err_out` string owned by the caller
 * (free with lusty_free()). A host is single-threaded: one per event loop.
 * See docs/lua-host.md for the Lua side. */
#ifndef LUSTY_LUA_HOST_H
#define LUSTY_LUA_HOST_H

#include "lusty/mustache.h"

#include <stddef.h>

typedef struct lua_State lua_State;
typedef struct lusty_lua_host lusty_lua_host_t;

typedef struct {
    /* The project root (borrowed); NULL for a host without a project, which
     * still has every built-in module and an empty app. */
    const char *root;
    /* The app config file, relative to `root` or absolute; NULL or "" means
     * app/config.lua. It is loaded by lusty_lua_host_load_app(), not by
     * lusty_lua_host_new(). */
    const char *app;
} lusty_lua_options_t;

/* Creates a host. On success *out is the host (free with
 * lusty_lua_host_free()); on failure *out is NULL, *err_out (may be NULL)
 * says why and a negative LUSTY_E* code is returned. */
int lusty_lua_host_new(lusty_lua_host_t **out, const lusty_lua_options_t *opts, char **err_out);
/* Closes the Lua state; accepts NULL. */
void lusty_lua_host_free(lusty_lua_host_t *host);

/* Borrowed: the state (the main thread). */
lua_State *lusty_lua_host_state(lusty_lua_host_t *host);
/* The project root given at creation (NULL without one). */
const char *lusty_lua_host_root(const lusty_lua_host_t *host);

/* Evaluates the app config file and applies it to the global app object
 * (section 3 of the contract): subscribers, publishers, context modules,
 * `global`, seed-style `modules`. Returns 0, LUSTY_ENOENT when the file does
 * not exist, or LUSTY_ERUNTIME with the Lua error (file:line: message and a
 * traceback) in *err_out. */
int lusty_lua_host_load_app(lusty_lua_host_t *host, char **err_out);

/* Runs a Lua file (or, with lusty_lua_host_run_string(), a chunk) with the
 * global `arg` set as a standalone interpreter does (arg[0] = `name`,
 * arg[1..argc] = argv) and argv passed as the chunk's `...`. *status gets the
 * script's exit status: the number it returns, 0 otherwise. Returns 0, or
 * LUSTY_ERUNTIME / LUSTY_ESYNTAX / LUSTY_ENOENT with the message and
 * traceback in *err_out. */
int lusty_lua_host_run_file(lusty_lua_host_t *host, const char *path, int argc, char **argv,
                            int *status, char **err_out);
int lusty_lua_host_run_string(lusty_lua_host_t *host, const char *code, const char *name,
                              int argc, char **argv, int *status, char **err_out);

/* Runs the request pipeline (section 4 of the contract, without HTTP) on
 * the table on top of the stack, which is left there: context functions,
 * then each publisher extended by `context.suffix`; errors go to
 * `context.error`. Returns 0, or LUSTY_ERUNTIME when the pipeline itself
 * could not run (message in *err_out). */
int lusty_lua_host_request(lusty_lua_host_t *host, char **err_out);

/* Publishes the `nargs` values on top of the stack on the app bus at `path`
 * (':'-separated), exactly as `lusty.event:publish(path, ...)` would, and
 * replaces them with the result table. Returns 0, or LUSTY_ERUNTIME when a
 * subscriber failed (the arguments are popped; message in *err_out). */
int lusty_lua_host_publish(lusty_lua_host_t *host, const char *path, int nargs, char **err_out);

/* The app bus as a JSON array, for `lusty channels`: one object per
 * channel, depth first with children in name order, each
 * {"channel": "a:b", "depth": 2, "subscribers": [{"id", "priority",
 * "module", "predicate"}]}; `module` is the handler module's name, else
 * "(function: file:line)". The root is listed only when it has
 * subscribers. Free *out with cJSON_Delete(). Returns 0. */
struct cJSON;
int lusty_lua_host_channels(lusty_lua_host_t *host, struct cJSON **out);

/* The Mustache data source over Lua values: tables are objects, or lists
 * when they have no keys but 1..n and no metatable (an empty table is an
 * empty list),
 * functions are lambdas, `cjson.null` is null. lusty_lua_mustache_render()
 * renders `tpl` with the value at stack index `idx` as the root. Lambdas are
 * called with the section text (nothing for an interpolation) and what they
 * return (tostring'd) is rendered as a template; a lambda that raises fails
 * the render with its message. */
int lusty_lua_mustache_render(lua_State *L, int idx, const lusty_mustache_t *tpl,
                              const lusty_mustache_partials_t *partials, lusty_buf_t *out,
                              lusty_mustache_error_t *err);

/* Pushes the value of the JSON text `text` (`len` bytes) as cjson.decode
 * gives it (tables, cjson.null for null) and returns 0; or pushes an
 * error message saying where the text is wrong and returns -1. For C
 * that has JSON text for Lua, without making a Lua string of it first. */
int lusty_lua_push_json(lua_State *L, const char *text, size_t len);

#endif
