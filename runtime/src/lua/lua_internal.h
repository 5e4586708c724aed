/* Internals shared by the Lua host's source files (lua_*.c); nothing here
 * is public API. Kept apart from internal.h so that the Lua host and the
 * HTTP server do not edit the same header. Names carry a `lusty__` prefix. */
#ifndef LUSTY_LUA_INTERNAL_H
#define LUSTY_LUA_INTERNAL_H

#include "lusty/buf.h"
#include "lusty/lua_host.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stddef.h>

/* Per-state data of the host, reached from C closures through an upvalue
 * (a light userdata) or from lusty__lua_state(). */
typedef struct {
    lusty_lua_host_t *host;
    int msgh_ref; /* the message handler that records tracebacks (host.msgh) */
    /* The last error a message handler saw and its traceback, so that the
     * request pipeline reports where an error happened even after code in
     * between caught and re-raised it. */
    int last_err_ref, last_trace_ref;
    int rethrowing;      /* host.rethrow() is re-raising last_err */
    char *project_path;  /* the app's own templates, ';'-separated, or NULL */
    lusty_buf_t scratch; /* cjson.encode's output, reused across calls */
    int encoding;        /* scratch is in use */
} lusty__lua_t;

/* The shared data of a state set up by the host. */
lusty__lua_t *lusty__lua_state(lua_State *L);

/* ---- lua_embedded.c (generated from runtime/lua/ at build time) ---- */
typedef struct {
    const char *name;      /* "lusty", "lusty-config" */
    const char *chunkname; /* "@<builtin>/lusty/init.lua" */
    const char *source;
    size_t len;
    int first; /* 1: found before files; 0: after the app's own path */
} lusty__lua_embedded_t;

/* NULL-name-terminated. */
extern const lusty__lua_embedded_t lusty__lua_embedded[];
const lusty__lua_embedded_t *lusty__lua_embedded_find(const char *name, int first);

/* ---- lua_host.c ---- */
/* The message handler of Lua code's xpcall (host.msgh): records the error
 * and its traceback (see last_err_ref) and returns the error unchanged. */
int lusty__lua_msgh_record(lua_State *L);
/* Pushes the traceback recorded for the error at `idx`, or a fresh one. */
void lusty__lua_push_trace(lua_State *L, lusty__lua_t *S, int idx);
/* Finds the file of module `name` on a ';'-separated template path; returns
 * a new string (lusty_free()) or NULL, appending the paths tried to `tried`
 * (may be NULL). */
char *lusty__lua_search(const char *path, const char *name, lusty_buf_t *tried);
/* Loads the chunk of module `name` as `require` would find a Lua file:
 * embedded first-tier, the project path, embedded built-ins, package.path.
 * `prefix` (may be NULL) is put before the source on its first line so line
 * numbers stay true. Pushes the function, or an error message, and returns
 * 0, LUSTY_ENOENT or LUSTY_ESYNTAX. */
int lusty__lua_load_module(lua_State *L, lusty__lua_t *S, const char *name, const char *prefix);

/* ---- lua_util.c, lua_cjson.c, lua_app.c ---- */
int lusty__lua_open_util(lua_State *L);
int lusty__lua_open_cjson(lua_State *L);
/* Pushes the light userdata that stands for JSON null (cjson.null). */
void lusty__lua_push_null(lua_State *L);
int lusty__lua_is_null(lua_State *L, int idx);
int lusty__lua_is_empty_array(lua_State *L, int idx);
/* Installs the preload entries of the native modules. */
void lusty__lua_open_app(lua_State *L);

#endif
