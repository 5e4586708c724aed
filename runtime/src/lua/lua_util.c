/* `lusty.util`: inline() runs a handler module with named values injected
 * as locals of the whole chunk (contract section 2).
 *
 * The module's source is compiled once per module name and set of injected
 * names, with "local a, b = ..." put in front of its first line (so line
 * numbers and the file name in errors stay the module's own), and the
 * compiled function is called again for each use with the values. Names
 * that are not injected stay ordinary globals.
 *
 * compile() gives the same cached chunk without running it, with its key in
 * `cache[1]` (the cache table itself, replaced by clearCache()), so that Lua
 * callers run by the request (lusty.router) can keep the key and find the
 * chunk with a table lookup: LuaJIT does not compile through a C function. */
#include "lua_internal.h"

#include "lusty/alloc.h"
#include "lusty/buf.h"

#include <stdlib.h>
#include <string.h>

/* The most names one call may inject. */
#define MAX_NAMES 64

static const char *const keywords[] = {
    "and",   "break", "do",  "else", "elseif", "end",    "false", "for",  "function", "if",
    "in",    "local", "nil", "not",  "or",     "repeat", "return", "then", "true",     "until",
    "while", NULL,
};

static int is_name(const char *s, size_t len)
{
    if (len == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        return 0;
    for (size_t i = 1; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return 0;
    }
    for (const char *const *k = keywords; *k; k++)
        if (strcmp(*k, s) == 0)
            return 0;
    return 1;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Pushes the compiled chunk of module 1 for the names of env 2 (taken from
 * the cache, or compiled and cached) and the cache key; fills names (sorted)
 * and *count. The stack must hold exactly the two arguments. */
static void prepare(lua_State *L, const char **names, size_t *count)
{
    lusty__lua_t *S = lua_touserdata(L, lua_upvalueindex(1));
    const char *module = luaL_checkstring(L, 1);
    size_t n = 0;
    if (!lua_isnil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_pushnil(L);
        while (lua_next(L, 2)) {
            lua_pop(L, 1);
            if (lua_type(L, -1) != LUA_TSTRING)
                continue;
            size_t len;
            const char *k = lua_tolstring(L, -1, &len);
            if (!is_name(k, len))
                luaL_error(L, "cannot inject '%s' into '%s': not a Lua name", k, module);
            if (n == MAX_NAMES)
                luaL_error(L, "cannot inject more than %d names into '%s'", MAX_NAMES, module);
            names[n++] = k; /* kept alive as a key of env */
        }
    }
    qsort(names, n, sizeof *names, cmp_name);
    *count = n;

    /* The cache key: the module name and the sorted injected names. */
    lusty_buf_t key = LUSTY_BUF_INIT;
    lusty_buf_puts(&key, module);
    for (size_t i = 0; i < n; i++) {
        lusty_buf_putc(&key, i ? ',' : '\n');
        lusty_buf_puts(&key, names[i]);
    }
    lua_rawgeti(L, lua_upvalueindex(2), 1); /* the cache */
    int cache = lua_gettop(L);
    lua_pushlstring(L, key.data, key.len);
    lusty_buf_free(&key);
    lua_pushvalue(L, -1);
    lua_rawget(L, cache);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lusty_buf_t prefix = LUSTY_BUF_INIT;
        for (size_t i = 0; i < n; i++)
            lusty_buf_printf(&prefix, "%s%s", i ? ", " : "local ", names[i]);
        if (n)
            lusty_buf_puts(&prefix, " = ...; ");
        int rc = lusty__lua_load_module(L, S, module, prefix.data);
        lusty_buf_free(&prefix);
        if (rc) {
            /* A module that fails to load fails the same way until the
             * code changes (a reload makes a new host, and a new cache):
             * the file is not read again on every request. */
            lua_createtable(L, 0, 1);
            lua_pushvalue(L, -2);
            lua_setfield(L, -2, "error");
            lua_pushvalue(L, -3);
            lua_insert(L, -2);
            lua_rawset(L, cache);
            lua_error(L);
        }
        lua_pushvalue(L, -2);
        lua_pushvalue(L, -2);
        lua_rawset(L, cache);
    } else if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "error");
        lua_error(L);
    }
    lua_remove(L, cache); /* key, fn */
    lua_insert(L, -2);    /* fn, key */
}

/* inline(moduleName[, env]) -> what the module's chunk returns. Lua, not
 * C, so that the module's chunk runs with no C call below it and may wait
 * (lusty.sleep) like any code of a request. */
static const char inline_source[] =
    "local compile, unpack = ...\n"
    "return function(name, env)\n"
    "  local fn, _, names = compile(name, env)\n"
    "  local n = #names\n"
    "  if n == 0 then return fn() end\n"
    "  local values = {}\n"
    "  for i = 1, n do values[i] = env[names[i]] end\n"
    "  return fn(unpack(values, 1, n))\n"
    "end\n";

/* compile(moduleName[, env]) -> fn, key, names: what inline() would run,
 * without running it: the compiled chunk (from the same cache), its key in
 * the cache table cache[1], and the injected names in the order the chunk
 * takes their values. For callers (lusty.router) that keep the key and look
 * the chunk up in Lua, so that LuaJIT compiles the call. */
static int util_compile(lua_State *L)
{
    const char *names[MAX_NAMES];
    size_t n;
    lua_settop(L, 2);
    prepare(L, names, &n);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, names[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 3;
}

static int util_clear_cache(lua_State *L)
{
    lua_newtable(L);
    lua_rawseti(L, lua_upvalueindex(1), 1);
    return 0;
}

int lusty__lua_open_util(lua_State *L)
{
    lusty__lua_t *S = lusty__lua_state(L);
    lua_createtable(L, 0, 4);
    /* One holder table shared by the functions: holder[1] is the cache. */
    lua_createtable(L, 1, 0);
    lua_newtable(L);
    lua_rawseti(L, -2, 1);
    lua_pushlightuserdata(L, S);
    lua_pushvalue(L, -2);
    lua_pushcclosure(L, util_compile, 2);
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, "compile");
    if (luaL_loadbuffer(L, inline_source, sizeof inline_source - 1, "=<lusty.util.inline>") != 0)
        return lua_error(L);
    lua_insert(L, -2);
    lua_getglobal(L, "unpack");
    lua_call(L, 2, 1);
    lua_setfield(L, -3, "inline");
    /* The holder itself, as `cache`: cache[1] is the current cache table
     * (clearCache replaces it). */
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "cache");
    lua_pushcclosure(L, util_clear_cache, 1);
    lua_setfield(L, -2, "clearCache");
    return 1;
}
