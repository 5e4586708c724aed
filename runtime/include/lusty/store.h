/* The store of contract section 9: documents kept by a backend (SQLite in
 * a file of the project, or MongoDB) and reached from Lua through the bus
 * (`context.store.<collection>.<method>(query, data)`, runtime/lua/lusty/
 * store/). Backends are opened on first use, one per process and setting,
 * and shared by every worker thread; their calls run on libuv's thread
 * pool while only the calling task waits (see docs/store.md).
 *
 * The one thing an embedding program does with it: free the backends at
 * exit, once no task runs any more. */
#ifndef LUSTY_STORE_H
#define LUSTY_STORE_H

/* Closes every backend opened so far (connections, files, pools). Call
 * after every host that used the store has stopped: when the server has
 * stopped, or after `lusty exec` ran its script. Safe when none was
 * opened; the store may be used again afterwards (backends reopen). */
void lusty_store_close_all(void);

#endif
