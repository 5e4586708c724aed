/* ngx.shared.DICT (docs/ngx.md): dictionaries shared by every worker
 * thread of the process, as nginx's shared memory zones are shared by its
 * workers.
 *
 * A dictionary is found by name in a process-wide list, made by the first
 * host that opens it (with the size lusty.json gives) and kept until the
 * process ends, so reloads keep their contents as nginx's do. Each has a
 * mutex held for every operation, a hash table of entries, and a list in
 * order of use: when a new value does not fit in the size, the least
 * recently used entries are evicted (expired ones first), and `set` says
 * so with its third result (`forcible`).
 *
 * Values are strings, numbers, booleans or nil, copied in and out. The
 * size counts each entry's key, value and bookkeeping. Times come from the
 * monotonic clock; expiry is checked when an entry is read. */
#include "lua_internal.h"

#include "lusty/alloc.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#define DICT_MT "lusty.shdict"
#define ENTRY_OVERHEAD 64

typedef enum { V_STRING, V_NUMBER, V_BOOLEAN } vtype_t;

typedef struct entry {
    struct entry *hnext;       /* in its hash bucket */
    struct entry *prev, *next; /* in use order, most recent first */
    uint64_t hash;
    double expires; /* monotonic seconds, 0: never */
    uint32_t flags;
    vtype_t type;
    double number;
    size_t klen, vlen;
    char *key, *value; /* key and (for strings) value, in one block */
} entry_t;

typedef struct dict {
    char *name;
    size_t capacity, used, count;
    entry_t **buckets;
    size_t nbuckets;
    entry_t *head, *tail;
    pthread_mutex_t lock;
    struct dict *next;
} dict_t;

static pthread_mutex_t dicts_lock = PTHREAD_MUTEX_INITIALIZER;
static dict_t *dicts;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t hash_of(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static size_t entry_size(const entry_t *e)
{
    return ENTRY_OVERHEAD + e->klen + e->vlen;
}

/* ---- the list in order of use ---- */

static void unlink_use(dict_t *d, entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        d->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        d->tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(dict_t *d, entry_t *e)
{
    e->prev = NULL;
    e->next = d->head;
    if (d->head)
        d->head->prev = e;
    d->head = e;
    if (!d->tail)
        d->tail = e;
}

/* ---- the hash table ---- */

static entry_t **slot_of(dict_t *d, const char *key, size_t klen, uint64_t h)
{
    entry_t **p = &d->buckets[h & (d->nbuckets - 1)];
    while (*p && !((*p)->hash == h && (*p)->klen == klen && !memcmp((*p)->key, key, klen)))
        p = &(*p)->hnext;
    return p;
}

static void grow(dict_t *d)
{
    size_t n = d->nbuckets * 2;
    entry_t **b = lusty_calloc(n, sizeof *b);
    for (size_t i = 0; i < d->nbuckets; i++)
        for (entry_t *e = d->buckets[i], *next; e; e = next) {
            next = e->hnext;
            e->hnext = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    lusty_free(d->buckets);
    d->buckets = b;
    d->nbuckets = n;
}

static void remove_entry(dict_t *d, entry_t *e)
{
    entry_t **p = slot_of(d, e->key, e->klen, e->hash);
    *p = e->hnext;
    unlink_use(d, e);
    d->used -= entry_size(e);
    d->count--;
    lusty_free(e->key);
    lusty_free(e);
}

/* The live entry of `key`, or NULL (an expired one is removed). */
static entry_t *find(dict_t *d, const char *key, size_t klen, double now)
{
    entry_t *e = *slot_of(d, key, klen, hash_of(key, klen));
    if (e && e->expires && e->expires <= now) {
        remove_entry(d, e);
        return NULL;
    }
    return e;
}

/* Makes room for `need` bytes: expired entries first, then the least
 * recently used. Returns false when it cannot (or may not, `safe`);
 * *forcible tells whether live entries were evicted. */
static bool make_room(dict_t *d, size_t need, double now, bool safe, bool *forcible)
{
    if (need > d->capacity)
        return false;
    for (entry_t *e = d->tail, *prev; e && d->used + need > d->capacity; e = prev) {
        prev = e->prev;
        if (e->expires && e->expires <= now)
            remove_entry(d, e);
    }
    while (d->used + need > d->capacity && d->tail) {
        if (safe)
            return false;
        *forcible = true;
        remove_entry(d, d->tail);
    }
    return true;
}

/* ---- the process-wide list ---- */

static dict_t *dict_open(const char *name, size_t capacity)
{
    pthread_mutex_lock(&dicts_lock);
    dict_t *d = dicts;
    while (d && strcmp(d->name, name) != 0)
        d = d->next;
    if (!d) {
        d = lusty_calloc(1, sizeof *d);
        d->name = lusty_strdup(name);
        d->capacity = capacity;
        d->nbuckets = 64;
        d->buckets = lusty_calloc(d->nbuckets, sizeof *d->buckets);
        pthread_mutex_init(&d->lock, NULL);
        d->next = dicts;
        dicts = d;
    }
    pthread_mutex_unlock(&dicts_lock);
    return d;
}

/* ---- Lua ---- */

/* The dictionary the method was called on. Every method has the
 * dictionaries' metatable as its upvalue: comparing with it is cheaper
 * than luaL_checkudata's registry lookup by name. */
static dict_t *check_dict(lua_State *L)
{
    dict_t **p = lua_touserdata(L, 1);
    if (p && lua_getmetatable(L, 1)) {
        bool ours = lua_rawequal(L, -1, lua_upvalueindex(1));
        lua_pop(L, 1);
        if (ours)
            return *p;
    }
    luaL_typerror(L, 1, "shared dictionary (call its methods with ':')");
    return NULL;
}

static const char *check_key(lua_State *L, size_t *klen)
{
    if (lua_type(L, 2) != LUA_TSTRING && lua_type(L, 2) != LUA_TNUMBER)
        luaL_argerror(L, 2, "a string key expected");
    const char *key = lua_tolstring(L, 2, klen);
    if (*klen == 0)
        luaL_argerror(L, 2, "the key is empty");
    if (*klen > 65535)
        luaL_argerror(L, 2, "the key is over 65535 bytes");
    return key;
}

/* Pushes the value of `e` (and its flags when set); returns how many. */
static int push_entry(lua_State *L, const entry_t *e)
{
    switch (e->type) {
    case V_STRING:
        lua_pushlstring(L, e->value, e->vlen);
        break;
    case V_NUMBER:
        lua_pushnumber(L, e->number);
        break;
    default:
        lua_pushboolean(L, e->number != 0);
        break;
    }
    if (!e->flags)
        return 1;
    lua_pushinteger(L, (lua_Integer)e->flags);
    return 2;
}

static int d_get(lua_State *L)
{
    dict_t *d = check_dict(L);
    size_t klen;
    const char *key = check_key(L, &klen);
    pthread_mutex_lock(&d->lock);
    entry_t *e = find(d, key, klen, now_s());
    int n;
    if (e) {
        unlink_use(d, e);
        push_front(d, e);
        n = push_entry(L, e);
    } else {
        lua_pushnil(L);
        n = 1;
    }
    pthread_mutex_unlock(&d->lock);
    return n;
}

typedef enum { OP_SET, OP_ADD, OP_REPLACE } op_t;

/* set/add/replace and their safe_ forms: (key, value, exptime, flags) ->
 * ok, err, forcible. */
static int store(lua_State *L, op_t op, bool safe)
{
    dict_t *d = check_dict(L);
    size_t klen, vlen = 0;
    const char *key = check_key(L, &klen);
    int vt = lua_type(L, 3);
    if (vt != LUA_TSTRING && vt != LUA_TNUMBER && vt != LUA_TBOOLEAN && vt != LUA_TNIL)
        return luaL_argerror(L, 3, "a string, number, boolean or nil expected");
    const char *value = vt == LUA_TSTRING ? lua_tolstring(L, 3, &vlen) : NULL;
    double exptime = luaL_optnumber(L, 4, 0);
    if (exptime < 0)
        return luaL_argerror(L, 4, "exptime must not be negative");
    lua_Integer flags = luaL_optinteger(L, 5, 0);
    double now = now_s();
    bool forcible = false;
    const char *err = NULL;

    pthread_mutex_lock(&d->lock);
    entry_t *old = find(d, key, klen, now);
    if (op == OP_ADD && old)
        err = "exists";
    else if (op == OP_REPLACE && !old)
        err = "not found";
    else if (vt == LUA_TNIL) {
        if (old)
            remove_entry(d, old);
    } else {
        if (old)
            remove_entry(d, old);
        entry_t *e = lusty_calloc(1, sizeof *e);
        e->klen = klen;
        e->vlen = vlen;
        if (!make_room(d, entry_size(e), now, safe, &forcible)) {
            lusty_free(e);
            err = "no memory";
        } else {
            e->key = lusty_malloc(klen + vlen + 1);
            memcpy(e->key, key, klen);
            e->value = e->key + klen;
            if (vlen)
                memcpy(e->value, value, vlen);
            e->type = vt == LUA_TSTRING ? V_STRING : vt == LUA_TNUMBER ? V_NUMBER : V_BOOLEAN;
            e->number = vt == LUA_TNUMBER ? lua_tonumber(L, 3) : lua_toboolean(L, 3);
            e->flags = (uint32_t)flags;
            e->expires = exptime > 0 ? now + exptime : 0;
            e->hash = hash_of(key, klen);
            if (d->count + 1 > d->nbuckets)
                grow(d);
            entry_t **slot = slot_of(d, key, klen, e->hash);
            e->hnext = *slot;
            *slot = e;
            push_front(d, e);
            d->used += entry_size(e);
            d->count++;
        }
    }
    pthread_mutex_unlock(&d->lock);
    if (err) {
        lua_pushboolean(L, 0);
        lua_pushstring(L, err);
    } else {
        lua_pushboolean(L, 1);
        lua_pushnil(L);
    }
    lua_pushboolean(L, forcible);
    return 3;
}

static int d_set(lua_State *L)
{
    return store(L, OP_SET, false);
}
static int d_safe_set(lua_State *L)
{
    return store(L, OP_SET, true);
}
static int d_add(lua_State *L)
{
    return store(L, OP_ADD, false);
}
static int d_safe_add(lua_State *L)
{
    return store(L, OP_ADD, true);
}
static int d_replace(lua_State *L)
{
    return store(L, OP_REPLACE, false);
}

static int d_delete(lua_State *L)
{
    lua_settop(L, 2);
    lua_pushnil(L);
    store(L, OP_SET, false);
    lua_pushboolean(L, 1);
    return 1;
}

/* incr(key, value, init, init_ttl) -> new value, or nil and an error. The
 * update happens under the lock, so concurrent workers lose none. */
static int d_incr(lua_State *L)
{
    dict_t *d = check_dict(L);
    size_t klen;
    const char *key = check_key(L, &klen);
    double by = luaL_checknumber(L, 3);
    bool has_init = !lua_isnoneornil(L, 4);
    double init = has_init ? luaL_checknumber(L, 4) : 0;
    double ttl = luaL_optnumber(L, 5, 0);
    double now = now_s();
    pthread_mutex_lock(&d->lock);
    entry_t *e = find(d, key, klen, now);
    const char *err = NULL;
    double result = 0;
    bool forcible = false;
    if (e && e->type != V_NUMBER) {
        err = "not a number";
    } else if (e) {
        e->number += by;
        result = e->number;
        unlink_use(d, e);
        push_front(d, e);
    } else if (!has_init) {
        err = "not found";
    } else {
        pthread_mutex_unlock(&d->lock);
        /* Not there: set it to init + by, unless another worker did. */
        lua_settop(L, 2);
        lua_pushnumber(L, init + by);
        if (ttl > 0)
            lua_pushnumber(L, ttl);
        else
            lua_pushnil(L);
        store(L, OP_ADD, false);
        if (lua_toboolean(L, -3)) {
            lua_pushnumber(L, init + by);
            lua_pushnil(L);
            lua_pushboolean(L, lua_toboolean(L, -3));
            return 3;
        }
        lua_settop(L, 2);
        lua_pushnumber(L, by);
        return d_incr(L);
    }
    pthread_mutex_unlock(&d->lock);
    if (err) {
        lua_pushnil(L);
        lua_pushstring(L, err);
        return 2;
    }
    lua_pushnumber(L, result);
    lua_pushnil(L);
    lua_pushboolean(L, forcible);
    return 3;
}

static int d_flush_all(lua_State *L)
{
    dict_t *d = check_dict(L);
    pthread_mutex_lock(&d->lock);
    while (d->head)
        remove_entry(d, d->head);
    pthread_mutex_unlock(&d->lock);
    return 0;
}

static int d_flush_expired(lua_State *L)
{
    dict_t *d = check_dict(L);
    lua_Integer max = luaL_optinteger(L, 2, 0);
    double now = now_s();
    lua_Integer n = 0;
    pthread_mutex_lock(&d->lock);
    for (entry_t *e = d->tail, *prev; e && (max <= 0 || n < max); e = prev) {
        prev = e->prev;
        if (e->expires && e->expires <= now) {
            remove_entry(d, e);
            n++;
        }
    }
    pthread_mutex_unlock(&d->lock);
    lua_pushinteger(L, n);
    return 1;
}

/* get_keys(max): the live keys, most recently used first; max 1024 by
 * default, 0 for all. */
static int d_get_keys(lua_State *L)
{
    dict_t *d = check_dict(L);
    lua_Integer max = luaL_optinteger(L, 2, 1024);
    double now = now_s();
    lua_newtable(L);
    int n = 0;
    pthread_mutex_lock(&d->lock);
    for (entry_t *e = d->head; e && (max <= 0 || n < max); e = e->next) {
        if (e->expires && e->expires <= now)
            continue;
        lua_pushlstring(L, e->key, e->klen);
        lua_rawseti(L, -2, ++n);
    }
    pthread_mutex_unlock(&d->lock);
    return 1;
}

static int d_ttl(lua_State *L)
{
    dict_t *d = check_dict(L);
    size_t klen;
    const char *key = check_key(L, &klen);
    double now = now_s();
    pthread_mutex_lock(&d->lock);
    entry_t *e = find(d, key, klen, now);
    double ttl = e ? (e->expires ? e->expires - now : 0) : -1;
    pthread_mutex_unlock(&d->lock);
    if (ttl < 0) {
        lua_pushnil(L);
        lua_pushliteral(L, "not found");
        return 2;
    }
    lua_pushnumber(L, ttl);
    return 1;
}

static int d_expire(lua_State *L)
{
    dict_t *d = check_dict(L);
    size_t klen;
    const char *key = check_key(L, &klen);
    double exptime = luaL_checknumber(L, 3);
    double now = now_s();
    pthread_mutex_lock(&d->lock);
    entry_t *e = find(d, key, klen, now);
    if (e)
        e->expires = exptime > 0 ? now + exptime : 0;
    pthread_mutex_unlock(&d->lock);
    lua_pushboolean(L, e != NULL);
    if (!e)
        lua_pushliteral(L, "not found");
    return e ? 1 : 2;
}

static int d_capacity(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)check_dict(L)->capacity);
    return 1;
}

static int d_free_space(lua_State *L)
{
    dict_t *d = check_dict(L);
    pthread_mutex_lock(&d->lock);
    size_t free_bytes = d->capacity - d->used;
    pthread_mutex_unlock(&d->lock);
    lua_pushnumber(L, (lua_Number)free_bytes);
    return 1;
}

/* A method that is not provided (the methods table's __index): the same
 * error as the rest of ngx. */
static int d_missing(lua_State *L)
{
    return luaL_error(L, "ngx.shared.DICT:%s is not provided by lusty server (see docs/ngx.md)",
                      lua_tostring(L, 2));
}

/* open(name, capacity) -> the dictionary (the same one in every host). */
static int l_open(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    lua_Number cap = luaL_checknumber(L, 2);
    if (!(cap >= 1) || cap > 1e15)
        return luaL_argerror(L, 2, "a size in bytes expected");
    dict_t **p = lua_newuserdata(L, sizeof *p);
    *p = dict_open(name, (size_t)cap);
    luaL_getmetatable(L, DICT_MT);
    lua_setmetatable(L, -2);
    return 1;
}

static int open_shdict(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"get", d_get},
        {"set", d_set},
        {"safe_set", d_safe_set},
        {"add", d_add},
        {"safe_add", d_safe_add},
        {"replace", d_replace},
        {"delete", d_delete},
        {"incr", d_incr},
        {"flush_all", d_flush_all},
        {"flush_expired", d_flush_expired},
        {"get_keys", d_get_keys},
        {"ttl", d_ttl},
        {"expire", d_expire},
        {"capacity", d_capacity},
        {"free_space", d_free_space},
        {NULL, NULL},
    };
    if (luaL_newmetatable(L, DICT_MT)) {
        /* __index is a table, so that LuaJIT compiles the method lookup. */
        lua_newtable(L);
        for (const luaL_Reg *r = methods; r->name; r++) {
            lua_pushvalue(L, -2);
            lua_pushcclosure(L, r->func, 1);
            lua_setfield(L, -2, r->name);
        }
        lua_createtable(L, 0, 1);
        lua_pushcfunction(L, d_missing);
        lua_setfield(L, -2, "__index");
        lua_setmetatable(L, -2);
        lua_setfield(L, -2, "__index");
    }
    lua_pop(L, 1);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, l_open);
    lua_setfield(L, -2, "open");
    return 1;
}

void lusty__lua_open_shdict(lua_State *L)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, open_shdict);
    lua_setfield(L, -2, "lusty.ngx.shdict");
    lua_pop(L, 2);
}
