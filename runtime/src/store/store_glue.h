/* The Lua side of the store's C glue (store_glue.c): the two functions of
 * `lusty.native` that runtime/lua/lusty/store/backend.lua calls. */
#ifndef LUSTY_STORE_GLUE_H
#define LUSTY_STORE_GLUE_H

typedef struct lua_State lua_State;

/* native.store_open(backend, config_json, root) -> handle
 * A handle (a small integer) of the process-wide backend for this backend
 * name ("sqlite", "mongodb") and configuration; equal arguments give the
 * same handle in every thread. Nothing is opened yet. */
int lusty__store_l_open(lua_State *L);

/* native.store_run(handle, collection, op_json, reads) -> true, answer
 *                                                     | false, status, message
 * `answer` is the backend's JSON answer decoded; `reads`: the operation
 * changes nothing (get, options), so it may share a snapshot with others.
 * Waits (the calling task only) while the operation runs on the thread
 * pool, opening the backend first when it is not open. `status` is
 * "invalid", "unavailable", "locked", "full" or "failed". */
int lusty__store_l_run(lua_State *L);

#endif
