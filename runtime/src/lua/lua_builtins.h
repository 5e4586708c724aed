/* The native helpers of the built-in handler modules (the Lua files under runtime/lua/lusty/,
 * contract section 8), in lua_builtins.c. Internal: kept apart from
 * lua_internal.h so that the two can change independently. */
#ifndef LUSTY_LUA_BUILTINS_H
#define LUSTY_LUA_BUILTINS_H

typedef struct lua_State lua_State;

/* Installs package.preload['lusty.native']. */
void lusty__lua_open_builtins(lua_State *L);

#endif
