/* The `mediator` module: the mediator API of the original pure-Lua library,
 * backed by lusty_bus_t.
 *
 * Lua objects:
 *  - a bus userdata (metatable "lusty.bus") owns or borrows a lusty_bus_t.
 *    Its environment table holds [1] the subscriber tables by id and [2] the
 *    channel objects by channel pointer. Nothing in the registry points at
 *    them, so a mediator nobody references is collected with its bus.
 *  - a channel object is a table with `namespace`, `parent` and `stopped`,
 *    the channel pointer and the bus userdata under private light-userdata
 *    keys, and a metatable whose __index computes `callbacks` (the
 *    subscriber tables in order) and `channels` (children by name) from the
 *    bus on each read, and gives the methods.
 *  - a subscriber is a plain table {id, fn, options, channel, update}; the
 *    bus calls `fn` and `options.predicate` as they are when it runs, so
 *    assigning them works as it did in the original.
 *  - a mediator object is a table {channel = root channel object} with the
 *    bus userdata and the Lua publish loop's state under private keys, and
 *    the mediator methods.
 *
 * mediator:publish is the Lua function of runtime/lua/lusty/bus_ffi.lua,
 * so that LuaJIT compiles it: it reaches the C bus through FFI calls (the
 * functions of ffi_api below, handed over as a light userdata) and runs
 * the Lua subscribers itself. The C publish here (publish()) remains for
 * channel:publish, lusty__lua_publish(), channels with C subscribers and
 * states without FFI: the C bus walks the channels and calls each Lua
 * subscriber with lua_pcall, its results going straight into the Lua
 * result table. */
#include "lua_internal.h"

#include "lusty/alloc.h"
#include "lusty/error.h"

#include <string.h>

#define BUS_MT "lusty.bus"
#define CHANNEL_MT "lusty.channel"
#define MEDIATOR_MT "lusty.mediator"

/* Addresses used as private table keys. */
static const char key_ptr = 0;      /* channel object -> lusty_bus_channel_t * */
static const char key_bus = 0;      /* channel or mediator object -> bus userdata */
static const char key_update = 0;   /* registry -> the subscriber `update` function */
static const char key_register = 0; /* registry -> bus_ffi's register(mediator, bus, subs) */
static const char key_loop = 0;     /* mediator object -> its state in bus_ffi.lua */

typedef struct {
    lusty_bus_t *bus;
    int owned; /* freed by __gc */
} lbus_t;

/* The most parts a channel may have before its array is heap-allocated. */
#define MAX_STACK_PARTS 32

static lusty__lua_t *upstate(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

/* ---- the bus userdata ---- */

static int bus_gc(lua_State *L)
{
    lbus_t *b = lua_touserdata(L, 1);
    if (b->owned)
        lusty_bus_free(b->bus);
    b->bus = NULL;
    return 0;
}

/* Pushes a new bus userdata over `bus`. */
static lbus_t *push_lbus(lua_State *L, lusty_bus_t *bus, int owned)
{
    lbus_t *b = lua_newuserdata(L, sizeof *b);
    b->bus = bus;
    b->owned = owned;
    luaL_getmetatable(L, BUS_MT);
    lua_setmetatable(L, -2);
    lua_createtable(L, 2, 0);
    lua_newtable(L);
    lua_rawseti(L, -2, 1);
    lua_newtable(L);
    lua_rawseti(L, -2, 2);
    lua_setfenv(L, -2);
    return b;
}

/* Pushes the bus userdata stored in the object at `idx`; returns its bus or
 * raises an error when `idx` is not one of our objects. */
static lusty_bus_t *push_owner(lua_State *L, int idx)
{
    if (lua_type(L, idx) == LUA_TTABLE) {
        lua_pushlightuserdata(L, (void *)&key_bus);
        lua_rawget(L, idx);
        lbus_t *b = lua_touserdata(L, -1);
        if (b && b->bus)
            return b->bus;
    }
    luaL_error(L, "bad self: expected a mediator or a channel (call it with ':')");
    return NULL;
}

/* Pushes env[slot] of the bus userdata at `idx` (1: subscribers, 2: channels). */
static void push_env(lua_State *L, int idx, int slot)
{
    lua_getfenv(L, idx);
    lua_rawgeti(L, -1, slot);
    lua_remove(L, -2);
}

/* ---- channel objects ---- */

/* Pushes the channel object of `ch` (bus userdata at `busidx`), creating it
 * and its ancestors' objects when needed. A root made here is named "root",
 * as the original named the mediator's root. */
static void push_channel(lua_State *L, int busidx, lusty_bus_channel_t *ch, const char *root_name)
{
    busidx = busidx < 0 ? lua_gettop(L) + busidx + 1 : busidx;
    push_env(L, busidx, 2);
    lua_pushlightuserdata(L, ch);
    lua_rawget(L, -2);
    if (!lua_isnil(L, -1)) {
        lua_remove(L, -2);
        return;
    }
    lua_pop(L, 1);
    int chans = lua_gettop(L);

    lua_createtable(L, 0, 6);
    int obj = lua_gettop(L);
    lusty_bus_channel_t *parent = lusty_bus_channel_parent(ch);
    if (parent) {
        lua_pushstring(L, lusty_bus_channel_name(ch, NULL));
        lua_setfield(L, obj, "namespace");
        push_channel(L, busidx, parent, "root");
        lua_setfield(L, obj, "parent");
    } else {
        lua_pushstring(L, root_name ? root_name : "root");
        lua_setfield(L, obj, "namespace");
    }
    lua_pushboolean(L, 0);
    lua_setfield(L, obj, "stopped");
    lua_pushlightuserdata(L, (void *)&key_ptr);
    lua_pushlightuserdata(L, ch);
    lua_rawset(L, obj);
    lua_pushlightuserdata(L, (void *)&key_bus);
    lua_pushvalue(L, busidx);
    lua_rawset(L, obj);
    luaL_getmetatable(L, CHANNEL_MT);
    lua_setmetatable(L, obj);

    lua_pushlightuserdata(L, ch);
    lua_pushvalue(L, obj);
    lua_rawset(L, chans);
    lua_remove(L, chans);
}

/* The channel of the channel object at `idx`; pushes its bus userdata. */
static lusty_bus_channel_t *check_channel(lua_State *L, int idx)
{
    push_owner(L, idx);
    lua_pushlightuserdata(L, (void *)&key_ptr);
    lua_rawget(L, idx);
    lusty_bus_channel_t *ch = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (!ch)
        luaL_error(L, "bad self: expected a channel (call it with ':')");
    return ch;
}

/* ---- channel paths ---- */

/* A channel argument: nil (the root), a string "a:b" or an array of parts
 * (strings or numbers). For an array, the parts are collected into
 * `parts` (or a heap array when there are more than MAX_STACK_PARTS, which
 * the caller frees with release_parts()); number parts are converted on
 * the stack and stay there until the caller's function returns. */
typedef struct {
    const char *str;
    const char **parts;
    size_t n;
    const char *stack[MAX_STACK_PARTS];
} path_arg_t;

static void read_path(lua_State *L, int idx, path_arg_t *p)
{
    p->str = NULL;
    p->parts = p->stack;
    p->n = 0;
    int t = lua_type(L, idx);
    if (t == LUA_TNONE || t == LUA_TNIL) {
        p->str = "";
        return;
    }
    if (t == LUA_TSTRING) {
        p->str = lua_tostring(L, idx);
        return;
    }
    if (t != LUA_TTABLE)
        luaL_error(L, "bad channel: expected a string or an array of names, got %s",
                   luaL_typename(L, idx));
    size_t n = lua_objlen(L, idx);
    if (n > MAX_STACK_PARTS)
        p->parts = lusty_malloc(n * sizeof *p->parts);
    lua_checkstack(L, (int)n + 4);
    for (size_t i = 0; i < n; i++) {
        lua_rawgeti(L, idx, (int)i + 1);
        const char *s = lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER
                            ? lua_tostring(L, -1)
                            : NULL;
        if (!s) {
            if (p->parts != p->stack)
                lusty_free(p->parts);
            luaL_error(L, "bad channel: part %d is a %s, not a string", (int)i + 1,
                       luaL_typename(L, -1));
        }
        if (lua_type(L, -1) == LUA_TSTRING)
            lua_pop(L, 1); /* the table keeps the string alive */
        p->parts[i] = s;
    }
    p->n = n;
}

static void release_parts(path_arg_t *p)
{
    if (p->parts != p->stack)
        lusty_free(p->parts);
    p->parts = p->stack;
}

static lusty_bus_channel_t *path_get(lusty_bus_t *bus, path_arg_t *p)
{
    lusty_bus_channel_t *ch =
        p->str ? lusty_bus_get(bus, p->str) : lusty_bus_getv(bus, p->parts, p->n);
    release_parts(p);
    return ch;
}

static lusty_bus_channel_t *path_find(lusty_bus_t *bus, path_arg_t *p)
{
    lusty_bus_channel_t *ch =
        p->str ? lusty_bus_find(bus, p->str) : lusty_bus_findv(bus, p->parts, p->n);
    release_parts(p);
    return ch;
}

/* ---- subscribing ---- */

/* Calls one Lua subscriber for the bus: its predicate, then its function,
 * both with every published value, through lua_pcall with the publish's
 * message handler. A raised value is kept in a registry ref so that the
 * publisher re-raises the very same value. */
static int lua_sub_cb(lusty_bus_event_t *bev, void *args, void *ud)
{
    lusty_lua_event_t *ev = args;
    lusty__lua_t *S = ud;
    lua_State *L = ev->L;
    int top = lua_gettop(L);

    lua_rawgeti(L, ev->subs, (int)lusty_bus_event_id(bev));
    int sub = top + 1;
    if (!lua_istable(L, sub)) {
        lua_settop(L, top);
        return LUSTY_BUS_CONTINUE;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, S->key_options);
    lua_rawget(L, sub);
    if (lua_istable(L, -1)) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, S->key_predicate);
        lua_rawget(L, -2);
        if (!lua_isnil(L, -1)) {
            for (int i = 0; i < ev->nargs; i++)
                lua_pushvalue(L, ev->base + i);
            if (lua_pcall(L, ev->nargs, 1, ev->msgh))
                goto fail;
            if (!lua_toboolean(L, -1)) {
                lua_settop(L, top);
                return LUSTY_BUS_CONTINUE;
            }
        }
    }
    lua_settop(L, sub);
    lua_rawgeti(L, LUA_REGISTRYINDEX, S->key_fn);
    lua_rawget(L, sub);
    for (int i = 0; i < ev->nargs; i++)
        lua_pushvalue(L, ev->base + i);
    if (lua_pcall(L, ev->nargs, 2, ev->msgh))
        goto fail;
    if (!lua_isnil(L, -2)) {
        lua_pushvalue(L, -2);
        lua_rawseti(L, ev->results, (int)lua_objlen(L, ev->results) + 1);
    }
    int cont = lua_toboolean(L, -1);
    lua_settop(L, top);
    return cont ? LUSTY_BUS_CONTINUE : LUSTY_BUS_STOP;

fail:;
    int rc = lusty_bus_event_error(
        bev, LUSTY_ERUNTIME, "%s",
        lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(error object is not a string)");
    if (ev->err_ref != LUA_NOREF)
        luaL_unref(L, LUA_REGISTRYINDEX, ev->err_ref);
    ev->err_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_settop(L, top);
    return rc;
}

int lusty__lua_is_lua_subscriber(const lusty_bus_handler_t *h)
{
    return h->cb == lua_sub_cb;
}

/* Subscribes the function at `fnidx` with the options at `optidx` on `ch`
 * (bus userdata at `busidx`) and pushes the new subscriber table. */
static void subscribe(lua_State *L, lusty__lua_t *S, int busidx, lusty_bus_channel_t *ch, int fnidx,
                      int optidx)
{
    if (lua_isnoneornil(L, fnidx))
        luaL_error(L, "bad subscriber: expected a function, got nil");
    long priority = 0;
    if (lua_istable(L, optidx)) {
        lua_getfield(L, optidx, "priority");
        if (lua_isnumber(L, -1))
            priority = (long)lua_tonumber(L, -1);
        lua_pop(L, 1);
    }
    lusty_bus_handler_t h = {.cb = lua_sub_cb, .ud = S};
    uint64_t id = 0;
    lusty_bus_channel_subscribe(&id, ch, &h, priority);

    lua_createtable(L, 0, 5);
    int sub = lua_gettop(L);
    lua_pushnumber(L, (lua_Number)id);
    lua_setfield(L, sub, "id");
    lua_pushvalue(L, fnidx);
    lua_setfield(L, sub, "fn");
    if (lua_istable(L, optidx))
        lua_pushvalue(L, optidx);
    else
        lua_newtable(L);
    lua_setfield(L, sub, "options");
    push_channel(L, busidx, ch, NULL);
    lua_setfield(L, sub, "channel");
    lua_pushlightuserdata(L, (void *)&key_update);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_setfield(L, sub, "update");

    push_env(L, busidx, 1);
    lua_pushvalue(L, sub);
    lua_rawseti(L, -2, (int)id);
    lua_pop(L, 1);
}

/* subscriber:update({fn = …, options = …}) */
static int sub_update(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "fn");
        if (!lua_isnil(L, -1))
            lua_setfield(L, 1, "fn");
        lua_getfield(L, 2, "options");
        if (!lua_isnil(L, -1))
            lua_setfield(L, 1, "options");
    }
    return 0;
}

/* Pushes {index = priority, value = subscriber} for `id` under `ch`, or nil. */
static int push_lookup(lua_State *L, int busidx, lusty_bus_channel_t *ch, uint64_t id)
{
    lusty_bus_subscriber_t info;
    if (!ch || lusty_bus_channel_lookup(&info, ch, id) != 0) {
        lua_pushnil(L);
        return 1;
    }
    lua_createtable(L, 0, 2);
    lua_pushnumber(L, (lua_Number)info.priority);
    lua_setfield(L, -2, "index");
    lusty__lua_push_subscriber(L, busidx, id);
    lua_setfield(L, -2, "value");
    return 1;
}

/* Removes `id` from under `ch` and pushes its subscriber table (or nil). */
static int remove_sub(lua_State *L, int busidx, lusty_bus_channel_t *ch, uint64_t id)
{
    lusty_bus_subscriber_t info;
    if (!ch || lusty_bus_channel_lookup(&info, ch, id) != 0)
        return 0;
    lusty__lua_push_subscriber(L, busidx, id);
    int sub = lua_gettop(L);
    lusty_bus_channel_unsubscribe(ch, id);
    push_env(L, busidx, 1);
    lua_pushnil(L);
    lua_rawseti(L, -2, (int)id);
    lua_settop(L, sub);
    return 1;
}

static uint64_t check_id(lua_State *L, int idx)
{
    lua_Number n = luaL_checknumber(L, idx);
    return n >= 1 ? (uint64_t)n : 0;
}

/* ---- publishing ---- */

/* Publishes values base..base+nargs-1 starting at `start` (or at the path
 * `p`) of the bus userdata at `busidx`, appending results to the table at
 * `results`. Lua errors raised by subscribers are re-raised as they were. */
static void publish(lua_State *L, lusty__lua_t *S, int busidx, lusty_bus_channel_t *start,
                    path_arg_t *p, int results, int base, int nargs)
{
    lua_checkstack(L, nargs + 16);
    lbus_t *b = lua_touserdata(L, busidx);
    lusty_lua_event_t ev = {L, base, nargs, results, 0, 0, LUA_NOREF};
    push_env(L, busidx, 1);
    ev.subs = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, S->msgh_ref);
    ev.msgh = lua_gettop(L);

    lusty_bus_result_t res = LUSTY_BUS_RESULT_INIT;
    lua_rawgeti(L, LUA_REGISTRYINDEX, S->results_ref);
    int stack = lua_gettop(L);
    int depth = lusty__lua_results_push(L, stack, results);
    int rc;
    if (start)
        rc = lusty_bus_channel_publish(&res, start, &ev);
    else if (p->str)
        rc = lusty_bus_publish(&res, b->bus, p->str, &ev);
    else
        rc = lusty_bus_publishv(&res, b->bus, p->parts, p->n, &ev);
    lusty__lua_results_pop(L, stack, depth);
    if (p)
        release_parts(p);
    lua_settop(L, ev.subs - 1);
    if (rc < 0) {
        if (ev.err_ref != LUA_NOREF) {
            lusty_bus_result_free(&res);
            lua_rawgeti(L, LUA_REGISTRYINDEX, ev.err_ref);
            luaL_unref(L, LUA_REGISTRYINDEX, ev.err_ref);
            S->rethrowing = 1;
            lua_error(L);
        }
        lua_pushstring(L, res.error ? res.error : lusty_strerror(rc));
        lusty_bus_result_free(&res);
        lua_error(L);
    }
    lusty_bus_result_free(&res);
}

/* mediator:publish(channel, ...) -> results */
static int med_publish(lua_State *L)
{
    lusty__lua_t *S = upstate(L);
    int nargs = lua_gettop(L) - 2;
    if (nargs < 0)
        nargs = 0;
    lua_settop(L, nargs + 2);
    push_owner(L, 1);
    int busidx = lua_gettop(L);
    lua_createtable(L, 4, 0);
    int results = lua_gettop(L);
    path_arg_t p;
    read_path(L, 2, &p);
    publish(L, S, busidx, NULL, &p, results, 3, nargs);
    lua_pushvalue(L, results);
    return 1;
}

/* channel:publish(result, ...) -> result */
static int ch_publish(lua_State *L)
{
    lusty__lua_t *S = upstate(L);
    int nargs = lua_gettop(L) - 2;
    if (nargs < 0)
        nargs = 0;
    lua_settop(L, nargs + 2);
    if (!lua_istable(L, 2)) {
        lua_newtable(L);
        lua_replace(L, 2);
    }
    lusty_bus_channel_t *ch = check_channel(L, 1);
    publish(L, S, lua_gettop(L), ch, NULL, 2, 3, nargs);
    lua_pushvalue(L, 2);
    return 1;
}

void lusty__lua_publish(lua_State *L, int idx, const char *path, int nargs)
{
    lusty__lua_t *S = lusty__lua_state(L);
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    int base = lua_gettop(L) - nargs + 1;
    push_owner(L, idx);
    int busidx = lua_gettop(L);
    lua_newtable(L);
    int results = lua_gettop(L);
    path_arg_t p = {.str = path, .parts = NULL, .n = 0};
    p.parts = p.stack;
    publish(L, S, busidx, NULL, &p, results, base, nargs);
    lua_replace(L, base);
    lua_settop(L, base);
}

/* ---- the Lua publish loop (runtime/lua/lusty/bus_ffi.lua) ---- */

/* What the Lua loop calls through LuaJIT's FFI; bus_ffi.lua declares the
 * same layout (lusty__lua_bus_ffi_t). Handed over as a light userdata, so
 * nothing depends on the executable exporting its symbols. */
typedef struct {
    lusty_bus_channel_t *(*nearest)(lusty_bus_t *, const char *);
    lusty_bus_channel_t *(*nearestv)(lusty_bus_t *, const char *const *, const size_t *, size_t);
    const uint64_t *(*mutations)(const lusty_bus_t *);
    uint64_t (*next_id)(const lusty_bus_t *);
    void (*enter)(lusty_bus_t *);
    void (*leave)(lusty_bus_t *);
    lusty_bus_channel_t *(*parent)(const lusty_bus_channel_t *);
    size_t (*count)(const lusty_bus_channel_t *);
    double (*sub_at)(lusty_bus_channel_t *, size_t);
    int (*alive)(lusty_bus_t *, double);
} ffi_api_t;

/* The id of the subscriber at `index` of `ch`, negated for one that is not
 * a Lua subscriber (the Lua loop leaves those channels to the C publish). */
static double ffi_sub_at(lusty_bus_channel_t *ch, size_t index)
{
    lusty_bus_subscriber_t info;
    if (lusty_bus_channel_at(&info, ch, index) != 0)
        return 0;
    return lusty__lua_is_lua_subscriber(&info.handler) ? (double)info.id : -(double)info.id;
}

/* Whether subscriber `id` is still on the bus (not removed). */
static int ffi_alive(lusty_bus_t *bus, double id)
{
    lusty_bus_subscriber_t info;
    return id >= 1 && lusty_bus_channel_lookup(&info, lusty_bus_root(bus), (uint64_t)id) == 0;
}

static const ffi_api_t ffi_api = {
    lusty_bus_nearest, lusty_bus_nearestv, lusty_bus_mutations_ptr,  lusty_bus_next_id,
    lusty_bus_enter,   lusty_bus_leave,    lusty_bus_channel_parent, lusty_bus_channel_count,
    ffi_sub_at,        ffi_alive,
};

/* call(f, ...): f(...) with two results, through lua_call, so that calling
 * a value that is not a function fails as the C publish's lua_pcall does. */
static int ffi_call(lua_State *L)
{
    lua_call(L, lua_gettop(L) - 1, 2);
    return 2;
}

/* Loads bus_ffi.lua and installs its publish as mediator:publish (the
 * mediator methods table is at `methods`). Without FFI the C one stays. */
static void setup_lua_loop(lua_State *L, lusty__lua_t *S, int methods)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "lusty.bus_ffi");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "setup");
    lua_remove(L, -2);
    lua_createtable(L, 0, 11);
    lua_pushlightuserdata(L, (void *)&ffi_api);
    lua_setfield(L, -2, "api");
    lua_pushlightuserdata(L, (void *)&key_loop);
    lua_setfield(L, -2, "key");
    lua_pushlightuserdata(L, &S->rethrowing);
    lua_setfield(L, -2, "rethrowing");
    lua_rawgeti(L, LUA_REGISTRYINDEX, S->results_ref);
    lua_setfield(L, -2, "results");
    lua_rawgeti(L, LUA_REGISTRYINDEX, S->msgh_ref);
    lua_setfield(L, -2, "msgh");
    lua_pushlightuserdata(L, S);
    lua_pushcclosure(L, med_publish, 1);
    lua_setfield(L, -2, "cpublish");
    lua_pushcfunction(L, ffi_call);
    lua_setfield(L, -2, "call");
    lua_call(L, 1, 3);
    if (lua_isfunction(L, -3) && lua_isfunction(L, -2) && lua_isfunction(L, -1)) {
        lua_setfield(L, methods, "publishSuffixed");
        lua_pushlightuserdata(L, (void *)&key_register);
        lua_insert(L, -2);
        lua_rawset(L, LUA_REGISTRYINDEX);
        lua_setfield(L, methods, "publish");
    } else {
        lua_pop(L, 3);
    }
}

/* ---- mediator methods ---- */

static int med_get_channel(lua_State *L)
{
    lusty_bus_t *bus = push_owner(L, 1);
    int busidx = lua_gettop(L);
    path_arg_t p;
    read_path(L, 2, &p);
    push_channel(L, busidx, path_get(bus, &p), NULL);
    return 1;
}

static int med_subscribe(lua_State *L)
{
    lua_settop(L, 4);
    lusty_bus_t *bus = push_owner(L, 1);
    int busidx = lua_gettop(L);
    path_arg_t p;
    read_path(L, 2, &p);
    subscribe(L, upstate(L), busidx, path_get(bus, &p), 3, 4);
    return 1;
}

static int med_get_subscriber(lua_State *L)
{
    lua_settop(L, 3);
    uint64_t id = check_id(L, 2);
    lusty_bus_t *bus = push_owner(L, 1);
    int busidx = lua_gettop(L);
    path_arg_t p;
    read_path(L, 3, &p);
    return push_lookup(L, busidx, path_find(bus, &p), id);
}

static int med_remove_subscriber(lua_State *L)
{
    lua_settop(L, 3);
    uint64_t id = check_id(L, 2);
    lusty_bus_t *bus = push_owner(L, 1);
    int busidx = lua_gettop(L);
    path_arg_t p;
    read_path(L, 3, &p);
    return remove_sub(L, busidx, path_find(bus, &p), id);
}

/* ---- channel methods ---- */

static int ch_add_subscriber(lua_State *L)
{
    lua_settop(L, 3);
    lusty_bus_channel_t *ch = check_channel(L, 1);
    subscribe(L, upstate(L), lua_gettop(L), ch, 2, 3);
    return 1;
}

static int ch_get_subscriber(lua_State *L)
{
    uint64_t id = check_id(L, 2);
    lusty_bus_channel_t *ch = check_channel(L, 1);
    return push_lookup(L, lua_gettop(L), ch, id);
}

static int ch_set_priority(lua_State *L)
{
    uint64_t id = check_id(L, 2);
    long priority = (long)luaL_checknumber(L, 3);
    lusty_bus_channel_t *ch = check_channel(L, 1);
    lusty_bus_channel_set_priority(ch, id, priority);
    return 0;
}

static int ch_get_channel(lua_State *L)
{
    size_t len;
    lusty_bus_channel_t *ch = check_channel(L, 1);
    int busidx = lua_gettop(L);
    const char *name = luaL_checklstring(L, 2, &len);
    push_channel(L, busidx, lusty_bus_channel_add_child(ch, name, len), NULL);
    return 1;
}

static int ch_has_channel(lua_State *L)
{
    size_t len;
    lusty_bus_channel_t *ch = check_channel(L, 1);
    const char *name = lua_tolstring(L, 2, &len);
    if (name && lusty_bus_channel_child(ch, name, len))
        lua_pushboolean(L, 1);
    else
        lua_pushnil(L);
    return 1;
}

static int ch_remove_subscriber(lua_State *L)
{
    uint64_t id = check_id(L, 2);
    lusty_bus_channel_t *ch = check_channel(L, 1);
    return remove_sub(L, lua_gettop(L), ch, id);
}

/* Pushes the `callbacks` array of the channel at 1 (bus userdata at busidx). */
static void push_callbacks(lua_State *L, lusty_bus_channel_t *ch, int busidx)
{
    size_t n = lusty_bus_channel_count(ch);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lusty_bus_subscriber_t info;
        lusty_bus_channel_at(&info, ch, i);
        if (lusty__lua_is_lua_subscriber(&info.handler)) {
            lusty__lua_push_subscriber(L, busidx, info.id);
        } else {
            /* A C subscriber: described, not callable from Lua. */
            lua_createtable(L, 0, 2);
            lua_pushnumber(L, (lua_Number)info.id);
            lua_setfield(L, -2, "id");
            lua_newtable(L);
            lua_setfield(L, -2, "options");
        }
        lua_rawseti(L, -2, (int)i + 1);
    }
}

static void push_children(lua_State *L, lusty_bus_channel_t *ch, int busidx)
{
    size_t n = lusty_bus_channel_child_count(ch);
    lua_createtable(L, 0, (int)n);
    for (size_t i = 0; i < n; i++) {
        lusty_bus_channel_t *c = lusty_bus_channel_child_at(ch, i);
        size_t len;
        const char *name = lusty_bus_channel_name(c, &len);
        lua_pushlstring(L, name, len);
        push_channel(L, busidx, c, NULL);
        lua_rawset(L, -3);
    }
}

/* __index of channel objects: `callbacks`, `channels`, then the methods. */
static int ch_index(lua_State *L)
{
    const char *k = lua_tostring(L, 2);
    if (k && lua_type(L, 2) == LUA_TSTRING) {
        if (strcmp(k, "callbacks") == 0 || strcmp(k, "channels") == 0) {
            lusty_bus_channel_t *ch = check_channel(L, 1);
            if (k[1] == 'a')
                push_callbacks(L, ch, lua_gettop(L));
            else
                push_children(L, ch, lua_gettop(L));
            return 1;
        }
    }
    lua_pushvalue(L, 2);
    lua_rawget(L, lua_upvalueindex(2));
    return 1;
}

/* ---- constructors ---- */

/* Pushes a mediator object over the bus userdata on top (popped). */
static void make_mediator(lua_State *L)
{
    int busidx = lua_gettop(L);
    lbus_t *b = lua_touserdata(L, busidx);
    lua_createtable(L, 0, 2);
    int obj = lua_gettop(L);
    push_channel(L, busidx, lusty_bus_root(b->bus), "root");
    lua_setfield(L, obj, "channel");
    lua_pushlightuserdata(L, (void *)&key_bus);
    lua_pushvalue(L, busidx);
    lua_rawset(L, obj);
    luaL_getmetatable(L, MEDIATOR_MT);
    lua_setmetatable(L, obj);
    /* Tell the Lua publish loop about it. */
    lua_pushlightuserdata(L, (void *)&key_register);
    lua_rawget(L, LUA_REGISTRYINDEX);
    if (lua_isfunction(L, -1)) {
        lua_pushvalue(L, obj);
        lua_pushlightuserdata(L, b->bus);
        push_env(L, busidx, 1);
        lua_call(L, 3, 0);
    } else {
        lua_pop(L, 1);
    }
    lua_remove(L, busidx);
}

/* Mediator(): a fresh bus. */
static int mediator_call(lua_State *L)
{
    push_lbus(L, lusty_bus_new(), 1);
    make_mediator(L);
    return 1;
}

/* Mediator.Channel(namespace[, parent]): a detached channel, the root of a
 * bus of its own. */
static int mediator_channel(lua_State *L)
{
    const char *name = luaL_optstring(L, 1, "root");
    lua_settop(L, 2);
    lbus_t *b = push_lbus(L, lusty_bus_new(), 1);
    push_channel(L, lua_gettop(L), lusty_bus_root(b->bus), name);
    if (!lua_isnoneornil(L, 2)) {
        lua_pushvalue(L, 2);
        lua_setfield(L, -2, "parent");
    }
    return 1;
}

/* Mediator.Subscriber(fn, options): a subscriber table not on any channel. */
static int mediator_subscriber(lua_State *L)
{
    lusty__lua_t *S = upstate(L);
    lua_settop(L, 2);
    lua_createtable(L, 0, 5);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "fn");
    if (lua_istable(L, 2))
        lua_pushvalue(L, 2);
    else
        lua_newtable(L);
    lua_setfield(L, -2, "options");
    /* Negative ids never collide with the ids of a bus. */
    lua_pushnumber(L, (lua_Number)(-(double)++S->detached_ids));
    lua_setfield(L, -2, "id");
    lua_pushlightuserdata(L, (void *)&key_update);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_setfield(L, -2, "update");
    return 1;
}

void lusty__lua_push_mediator(lua_State *L, lusty_bus_t *bus)
{
    push_lbus(L, bus, 0);
    make_mediator(L);
}

lusty_bus_t *lusty__lua_mediator_bus(lua_State *L, int idx)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    if (lua_type(L, idx) != LUA_TTABLE)
        return NULL;
    lua_pushlightuserdata(L, (void *)&key_bus);
    lua_rawget(L, idx);
    lbus_t *b = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return b ? b->bus : NULL;
}

void lusty__lua_push_subscriber(lua_State *L, int idx, uint64_t id)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    if (lua_type(L, idx) == LUA_TTABLE) {
        lua_pushlightuserdata(L, (void *)&key_bus);
        lua_rawget(L, idx);
    } else {
        lua_pushvalue(L, idx);
    }
    if (lua_type(L, -1) != LUA_TUSERDATA) {
        lua_pop(L, 1);
        lua_pushnil(L);
        return;
    }
    push_env(L, -1, 1);
    lua_rawgeti(L, -1, (int)id);
    lua_replace(L, -3);
    lua_pop(L, 1);
}

int lusty__lua_open_mediator(lua_State *L)
{
    lusty__lua_t *S = lusty__lua_state(L);

    if (luaL_newmetatable(L, BUS_MT)) {
        lua_pushcfunction(L, bus_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushliteral(L, "lusty.bus");
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);

    lua_pushlightuserdata(L, (void *)&key_update);
    lua_pushcfunction(L, sub_update);
    lua_rawset(L, LUA_REGISTRYINDEX);

    static const luaL_Reg channel_methods[] = {
        {"addSubscriber", ch_add_subscriber},
        {"getSubscriber", ch_get_subscriber},
        {"setPriority", ch_set_priority},
        {"addChannel", ch_get_channel},
        {"getChannel", ch_get_channel},
        {"hasChannel", ch_has_channel},
        {"removeSubscriber", ch_remove_subscriber},
        {"publish", ch_publish},
        {NULL, NULL},
    };
    if (luaL_newmetatable(L, CHANNEL_MT)) {
        lua_pushlightuserdata(L, S);
        lua_newtable(L);
        lua_pushlightuserdata(L, S);
        luaL_setfuncs(L, channel_methods, 1);
        lua_pushcclosure(L, ch_index, 2);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);

    static const luaL_Reg mediator_methods[] = {
        {"getChannel", med_get_channel},
        {"subscribe", med_subscribe},
        {"getSubscriber", med_get_subscriber},
        {"removeSubscriber", med_remove_subscriber},
        {"publish", med_publish},
        {NULL, NULL},
    };
    if (luaL_newmetatable(L, MEDIATOR_MT)) {
        lua_newtable(L);
        lua_pushlightuserdata(L, S);
        luaL_setfuncs(L, mediator_methods, 1);
        setup_lua_loop(L, S, lua_gettop(L));
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);

    /* The module: a table callable as the constructor. */
    lua_createtable(L, 0, 2);
    lua_pushlightuserdata(L, S);
    lua_pushcclosure(L, mediator_channel, 1);
    lua_setfield(L, -2, "Channel");
    lua_pushlightuserdata(L, S);
    lua_pushcclosure(L, mediator_subscriber, 1);
    lua_setfield(L, -2, "Subscriber");
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, mediator_call);
    lua_setfield(L, -2, "__call");
    lua_setmetatable(L, -2);
    return 1;
}

/* ---- the public event accessors for C subscribers ---- */

lua_State *lusty_lua_event_state(const lusty_lua_event_t *ev)
{
    return ev->L;
}

int lusty_lua_event_base(const lusty_lua_event_t *ev)
{
    return ev->base;
}

int lusty_lua_event_count(const lusty_lua_event_t *ev)
{
    return ev->nargs;
}

void lusty_lua_event_push_result(lusty_lua_event_t *ev)
{
    lua_State *L = ev->L;
    lua_rawseti(L, ev->results, (int)lua_objlen(L, ev->results) + 1);
}
