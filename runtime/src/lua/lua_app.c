/* The native modules of the app layer: the package.preload entries of
 * `lusty.util`, `cjson` and `lusty.init`, and `lusty.host`, the
 * host's helpers for the embedded Lua modules (runtime/lua/lusty/init.lua,
 * the app object and the request pipeline, and runtime/lua/lusty-config.lua).
 *
 * lusty.host (internal, may change):
 *   results()        the result table of the publish running the current
 *                    subscriber, so that a seed-style callback(result)
 *                    appends to it (mediator/publish.lua's results);
 *   pcall(f, ...)    true, ... or false, err, traceback, where the traceback
 *                    is the one taken where the error was first raised, even
 *                    when publishes in between caught and re-raised it;
 *   msgh             the message handler pcall uses: xpcall(f, host.msgh, ...)
 *                    records the traceback as pcall does, and LuaJIT can
 *                    compile a loop around xpcall (not around a C function);
 *   trace(err)       after xpcall(f, host.msgh, ...) failed with `err`: the
 *                    traceback pcall would have returned;
 *   rethrow(err)     raises `err` again after xpcall(f, host.msgh, ...)
 *                    caught it, keeping the traceback of where it was first
 *                    raised for whoever reports it (host.trace, pcall). */
#include "lua_internal.h"

static int host_pcall(lua_State *L)
{
    lusty__lua_t *S = lua_touserdata(L, lua_upvalueindex(1));
    luaL_checkany(L, 1);
    int n = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, S->msgh_ref);
    lua_insert(L, 1);
    if (lua_pcall(L, n - 1, LUA_MULTRET, 1) == 0) {
        lua_pushboolean(L, 1);
        lua_replace(L, 1);
        return lua_gettop(L);
    }
    lua_pushboolean(L, 0);
    lua_replace(L, 1);
    lusty__lua_push_trace(L, S, 2);
    return 3;
}

static int host_trace(lua_State *L)
{
    lusty__lua_t *S = lua_touserdata(L, lua_upvalueindex(1));
    lua_settop(L, 1);
    lusty__lua_push_trace(L, S, 1);
    return 1;
}

static int host_rethrow(lua_State *L)
{
    lusty__lua_t *S = lua_touserdata(L, lua_upvalueindex(1));
    lua_settop(L, 1);
    S->rethrowing = 1;
    return lua_error(L);
}

static int open_host(lua_State *L)
{
    lusty__lua_t *S = lusty__lua_state(L);
    lua_createtable(L, 0, 5);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "mediator.publish");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "results");
    lua_setfield(L, -3, "results");
    lua_pop(L, 1);
    lua_pushlightuserdata(L, S);
    lua_pushcclosure(L, host_pcall, 1);
    lua_setfield(L, -2, "pcall");
    lua_pushlightuserdata(L, S);
    lua_pushcclosure(L, host_trace, 1);
    lua_setfield(L, -2, "trace");
    lua_pushlightuserdata(L, S);
    lua_pushcclosure(L, host_rethrow, 1);
    lua_setfield(L, -2, "rethrow");
    lua_rawgeti(L, LUA_REGISTRYINDEX, S->msgh_ref);
    lua_setfield(L, -2, "msgh");
    return 1;
}

static int open_lusty_init(lua_State *L)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "lusty");
    lua_call(L, 1, 1);
    return 1;
}

void lusty__lua_open_app(lua_State *L)
{
    static const luaL_Reg natives[] = {
        {"lusty.util", lusty__lua_open_util},
        {"cjson", lusty__lua_open_cjson},
        {"lusty.host", open_host},
        {"lusty.init", open_lusty_init},
        {"lusty.task", lusty__lua_open_task},
        {NULL, NULL},
    };
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    for (const luaL_Reg *r = natives; r->name; r++) {
        lua_pushcfunction(L, r->func);
        lua_setfield(L, -2, r->name);
    }
    lua_pop(L, 2);
}
