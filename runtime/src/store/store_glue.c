/* The store's C glue: process-wide backends, and running an operation on
 * libuv's thread pool for a waiting Lua task.
 *
 * Workers are threads of one process, so one backend per (name, config)
 * serves them all: an SQLite file keeps one connection per pool thread, a
 * MongoDB client pool is shared. A backend is opened by the first
 * operation that needs it, on a pool thread (opening may touch the disk
 * or the network), and opened again by a later operation when opening
 * failed, so a store that comes back is used without a restart.
 *
 * Outages are said once: the first operation of a backend that fails as
 * unavailable or locked logs a warning, the following failures do not,
 * and the first success after that logs that the store answers again. */
#include "store_glue.h"

#include "store_internal.h"

#include "lusty/alloc.h"
#include "lusty/log.h"
#include "lusty/lua_host.h"
#include "lusty/lua_task.h"
#include "lusty/store.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

typedef struct {
    char *name;      /* "sqlite", "mongodb" */
    char *config;    /* JSON text given to the backend's open function */
    char *root;      /* the project root, for relative paths */
    uv_mutex_t lock; /* guards be and failing */
    lusty__store_backend_t *be;
    int failing; /* an outage was logged and has not ended */
} slot_t;

static uv_once_t registry_once = UV_ONCE_INIT;
static uv_mutex_t registry_lock;
static slot_t **slots;
static size_t nslots, slots_cap;

static void registry_init(void)
{
    if (uv_mutex_init(&registry_lock) != 0)
        abort();
}

static slot_t *slot_at(size_t handle)
{
    slot_t *s = NULL;
    uv_mutex_lock(&registry_lock);
    if (handle >= 1 && handle <= nslots)
        s = slots[handle - 1];
    uv_mutex_unlock(&registry_lock);
    return s;
}

int lusty__store_l_open(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const char *config = luaL_checkstring(L, 2);
    const char *root = luaL_optstring(L, 3, ".");
    if (strcmp(name, "sqlite") != 0 && strcmp(name, "mongodb") != 0)
        return luaL_error(L, "unknown store backend '%s' (known: sqlite, mongodb)", name);
    uv_once(&registry_once, registry_init);
    uv_mutex_lock(&registry_lock);
    size_t i;
    for (i = 0; i < nslots; i++) {
        slot_t *s = slots[i];
        if (strcmp(s->name, name) == 0 && strcmp(s->config, config) == 0 &&
            strcmp(s->root, root) == 0)
            break;
    }
    if (i == nslots) {
        slot_t *s = lusty_calloc(1, sizeof *s);
        s->name = lusty_strdup(name);
        s->config = lusty_strdup(config);
        s->root = lusty_strdup(root);
        if (uv_mutex_init(&s->lock) != 0)
            abort();
        slots = lusty_grow(slots, &slots_cap, nslots + 1, sizeof *slots);
        slots[nslots++] = s;
    }
    uv_mutex_unlock(&registry_lock);
    lua_pushinteger(L, (lua_Integer)(i + 1));
    return 1;
}

/* One operation on its way through the thread pool. */
typedef struct {
    slot_t *slot;
    char *collection;
    char *op;
    size_t op_len;
    bool reads; /* changes nothing: may share a snapshot with other reads */
    lusty__store_status_t status;
    char *answer; /* malloc'd by the backend (or by open) */
} run_t;

static const char *status_name(lusty__store_status_t st)
{
    switch (st) {
    case LUSTY__STORE_OK:
        return "ok";
    case LUSTY__STORE_INVALID:
        return "invalid";
    case LUSTY__STORE_UNAVAILABLE:
        return "unavailable";
    case LUSTY__STORE_LOCKED:
        return "locked";
    case LUSTY__STORE_FULL:
        return "full";
    case LUSTY__STORE_FAILED:
        break;
    }
    return "failed";
}

/* The slot's backend, opened now when it is not yet; NULL with r's status
 * and answer set when it cannot be opened. */
static lusty__store_backend_t *slot_backend(slot_t *s, run_t *r)
{
    lusty__store_backend_t *be = atomic_load_explicit(&s->be, memory_order_acquire);
    if (be)
        return be;
    uv_mutex_lock(&s->lock);
    be = atomic_load_explicit(&s->be, memory_order_acquire);
    if (!be) {
        char *err = NULL;
        if (strcmp(s->name, "sqlite") == 0)
            be = lusty__store_sqlite_open(s->config, s->root, &err);
        else
            be = lusty__store_mongo_open(s->config, &err);
        if (be) {
            atomic_store_explicit(&s->be, be, memory_order_release);
        } else {
            r->status = LUSTY__STORE_UNAVAILABLE;
            r->answer = err ? err : lusty_strdup("cannot open the store");
        }
    }
    uv_mutex_unlock(&s->lock);
    return be;
}

/* Logs the start and the end of an outage, once each. */
static void note_outcome(slot_t *s, const run_t *r)
{
    int outage = r->status == LUSTY__STORE_UNAVAILABLE || r->status == LUSTY__STORE_LOCKED;
    int was;
    if (outage)
        was = atomic_exchange(&s->failing, 1);
    else if (r->status == LUSTY__STORE_OK &&
             atomic_load_explicit(&s->failing, memory_order_relaxed))
        was = atomic_exchange(&s->failing, 0);
    else
        return;
    if (outage && !was)
        lusty_log(LUSTY_LOG_WARN, "store",
                  "%s '%s': %s (calls fail with status 503 until it answers again; "
                  "further failures are not logged)",
                  s->name, r->collection, r->answer ? r->answer : status_name(r->status));
    else if (was && r->status == LUSTY__STORE_OK)
        lusty_log(LUSTY_LOG_INFO, "store", "%s answers again", s->name);
}

static void run_work(void *data)
{
    run_t *r = data;
    lusty__store_backend_t *be = slot_backend(r->slot, r);
    if (be)
        r->status = be->run(be, r->op, r->op_len, &r->answer);
    note_outcome(r->slot, r);
}

/* The operations of one loop turn on one SQLite backend, in order. Reads
 * next to each other share one read transaction. */
static void run_batch(void **items, unsigned n)
{
    const run_t *locked = NULL; /* the write that found the store locked */
    for (unsigned i = 0; i < n;) {
        run_t *r = items[i];
        /* A write after one that waited out the busy timeout fails as it
         * did: waiting again, once per write of the batch, would make the
         * last of 32 wait 32 timeouts. (Reads are not held up by a writer:
         * SQLite's write-ahead log.) */
        if (locked && !r->reads) {
            r->status = locked->status;
            r->answer = lusty_strdup(locked->answer ? locked->answer : "locked");
            i++;
            continue;
        }
        unsigned end = i + 1;
        while (r->reads && end < n && ((run_t *)items[end])->reads)
            end++;
        /* Only a backend already open: opening is run_work's (and its
         * failure is each item's answer). */
        lusty__store_backend_t *be =
            end - i > 1 ? atomic_load_explicit(&r->slot->be, memory_order_acquire) : NULL;
        bool held = be && be->hold_reads && be->hold_reads(be, true);
        for (unsigned j = i; j < end; j++)
            run_work(items[j]);
        if (held)
            be->hold_reads(be, false);
        if (!r->reads && r->status == LUSTY__STORE_LOCKED)
            locked = r;
        i = end;
    }
}

static void run_free(run_t *r)
{
    free(r->answer); /* malloc'd by a backend */
    lusty_free(r->collection);
    lusty_free(r->op);
    lusty_free(r);
}

static int run_resume(lua_State *L, void *data)
{
    run_t *r = data;
    int n = 0;
    if (L) {
        const char *answer = r->answer ? r->answer : "null";
        if (r->status == LUSTY__STORE_OK && lusty_lua_push_json(L, answer, strlen(answer)) == 0) {
            /* The answer decoded here: no Lua string made of its text. */
            lua_pushboolean(L, 1);
            lua_insert(L, -2);
            n = 2;
        } else if (r->status == LUSTY__STORE_OK) {
            lua_pushboolean(L, 0);
            lua_pushliteral(L, "failed");
            lua_pushfstring(L, "the answer is not JSON: %s", lua_tostring(L, -3));
            lua_remove(L, -4);
            n = 3;
        } else {
            lua_pushboolean(L, 0);
            lua_pushstring(L, status_name(r->status));
            lua_pushstring(L, r->answer ? r->answer : "unknown error");
            n = 3;
        }
    }
    run_free(r);
    return n;
}

int lusty__store_l_run(lua_State *L)
{
    lua_Integer handle = luaL_checkinteger(L, 1);
    const char *collection = luaL_checkstring(L, 2);
    size_t len;
    const char *op = luaL_checklstring(L, 3, &len);
    slot_t *s = handle > 0 ? slot_at((size_t)handle) : NULL;
    if (!s)
        return luaL_error(L, "store_run: bad backend handle");
    run_t *r = lusty_calloc(1, sizeof *r);
    r->slot = s;
    r->collection = lusty_strdup(collection);
    r->op = lusty_strndup(op, len);
    r->op_len = len;
    r->reads = lua_toboolean(L, 4);
    /* SQLite's calls are short and local: those of one turn go to the
     * pool as one job. MongoDB's wait on the network: one thread each. */
    if (strcmp(s->name, "sqlite") == 0)
        return lusty_lua_wait_work_batched(L, run_batch, s, run_resume, r);
    return lusty_lua_wait_work(L, run_work, run_resume, r);
}

void lusty_store_close_all(void)
{
    uv_once(&registry_once, registry_init);
    uv_mutex_lock(&registry_lock);
    for (size_t i = 0; i < nslots; i++) {
        slot_t *s = slots[i];
        lusty__store_backend_t *be = atomic_load(&s->be);
        if (be)
            be->free(be);
        uv_mutex_destroy(&s->lock);
        lusty_free(s->name);
        lusty_free(s->config);
        lusty_free(s->root);
        lusty_free(s);
    }
    lusty_free(slots);
    slots = NULL;
    nslots = slots_cap = 0;
    uv_mutex_unlock(&registry_lock);
}
