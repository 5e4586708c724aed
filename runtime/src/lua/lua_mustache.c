/* The Mustache data source over Lua values (lusty_mustache_data_t).
 *
 * The renderer holds values as opaque pointers that must stay valid for the
 * whole render, while Lua values have no stable address. So every value the
 * renderer is handed is first stored in an anchor table on the stack, and
 * the "pointer" is its index there (never 0). The anchor table goes away
 * with the render. */
#include "lua_internal.h"

#include "lusty/alloc.h"
#include "lusty/error.h"

#include <stdint.h>
#include <string.h>

typedef struct {
    lua_State *L;
    int anchor; /* stack index of the anchor table */
    int n;      /* values anchored */
} lctx_t;

static void push_value(lctx_t *c, const void *v)
{
    lua_rawgeti(c->L, c->anchor, (int)(intptr_t)v);
}

/* Anchors the value on top of the stack (popped) and returns its handle. */
static const void *anchor(lctx_t *c)
{
    lua_rawseti(c->L, c->anchor, ++c->n);
    return (const void *)(intptr_t)c->n;
}

/* Whether the table on top has no keys but 1..n and no metatable (a table
 * with one reads through to something: an object). */
static int is_list(lua_State *L)
{
    int t = lua_gettop(L);
    if (lua_getmetatable(L, t)) {
        lua_pop(L, 1);
        return 0;
    }
    size_t n = lua_objlen(L, t);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TNUMBER) {
            lua_pop(L, 1);
            return 0;
        }
        lua_Number k = lua_tonumber(L, -1);
        if (k < 1 || k > (lua_Number)n || k != (lua_Number)(long)k) {
            lua_pop(L, 1);
            return 0;
        }
    }
    return 1;
}

static lusty_mustache_kind_t kind(void *ud, const void *v)
{
    lctx_t *c = ud;
    lua_State *L = c->L;
    push_value(c, v);
    lusty_mustache_kind_t k;
    switch (lua_type(L, -1)) {
    case LUA_TNIL:
        k = LUSTY_MUSTACHE_MISSING;
        break;
    case LUA_TBOOLEAN:
        k = lua_toboolean(L, -1) ? LUSTY_MUSTACHE_TRUE : LUSTY_MUSTACHE_FALSE;
        break;
    case LUA_TNUMBER:
        k = LUSTY_MUSTACHE_NUMBER;
        break;
    case LUA_TSTRING:
        k = LUSTY_MUSTACHE_STRING;
        break;
    case LUA_TFUNCTION:
        k = LUSTY_MUSTACHE_LAMBDA;
        break;
    case LUA_TTABLE:
        k = is_list(L) ? LUSTY_MUSTACHE_LIST : LUSTY_MUSTACHE_OBJECT;
        break;
    case LUA_TLIGHTUSERDATA:
        if (lusty__lua_is_null(L, -1)) {
            k = LUSTY_MUSTACHE_NULL;
            break;
        }
        if (lusty__lua_is_empty_array(L, -1)) {
            k = LUSTY_MUSTACHE_LIST;
            break;
        }
        /* fall through */
    default:
        k = LUSTY_MUSTACHE_STRING; /* rendered with tostring() */
        break;
    }
    lua_pop(L, 1);
    return k;
}

/* Looks `key` up in the table on top, following __index tables (not
 * functions: a render must not run arbitrary code to read data). Replaces
 * the table with the value. */
static void get_key(lua_State *L, const char *key, size_t len)
{
    for (int depth = 0; depth < 16; depth++) {
        lua_pushlstring(L, key, len);
        lua_rawget(L, -2);
        if (!lua_isnil(L, -1) || !lua_getmetatable(L, -2)) {
            lua_remove(L, -2);
            return;
        }
        /* stack: table, nil, metatable */
        lua_getfield(L, -1, "__index");
        if (!lua_istable(L, -1)) {
            lua_pop(L, 2);
            lua_remove(L, -2);
            return;
        }
        lua_replace(L, -4);
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
    lua_pushnil(L);
}

static int lookup(void *ud, const void *v, const char *key, size_t len, const void **out)
{
    lctx_t *c = ud;
    lua_State *L = c->L;
    push_value(c, v);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    get_key(L, key, len);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    *out = anchor(c);
    return 1;
}

static size_t list_len(void *ud, const void *v)
{
    lctx_t *c = ud;
    push_value(c, v);
    size_t n = lua_istable(c->L, -1) ? lua_objlen(c->L, -1) : 0;
    lua_pop(c->L, 1);
    return n;
}

static const void *list_get(void *ud, const void *v, size_t index)
{
    lctx_t *c = ud;
    push_value(c, v);
    lua_rawgeti(c->L, -1, (int)index + 1);
    lua_remove(c->L, -2);
    return anchor(c);
}

static void to_string(void *ud, const void *v, lusty_buf_t *out)
{
    lctx_t *c = ud;
    lua_State *L = c->L;
    push_value(c, v);
    int t = lua_type(L, -1);
    if (t == LUA_TSTRING || t == LUA_TNUMBER) {
        size_t len;
        const char *s = lua_tolstring(L, -1, &len);
        lusty_buf_append(out, s, len);
    } else if (t == LUA_TBOOLEAN) {
        lusty_buf_puts(out, lua_toboolean(L, -1) ? "true" : "false");
    } else if (t != LUA_TNIL && !(t == LUA_TLIGHTUSERDATA && lusty__lua_is_null(L, -1))) {
        lua_getglobal(L, "tostring");
        lua_pushvalue(L, -2);
        if (lua_pcall(L, 1, 1, 0) == 0 && lua_isstring(L, -1))
            lusty_buf_puts(out, lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static int call_lambda(void *ud, const void *v, const char *text, size_t len, lusty_buf_t *out,
                       char **err_out)
{
    lctx_t *c = ud;
    lua_State *L = c->L;
    push_value(c, v);
    int nargs = 0;
    if (text) {
        lua_pushlstring(L, text, len);
        nargs = 1;
    }
    if (lua_pcall(L, nargs, 1, 0)) {
        const char *msg = lua_tostring(L, -1);
        *err_out = lusty_asprintf("lambda failed: %s", msg ? msg : "(error object is not a string)");
        lua_pop(L, 1);
        return LUSTY_ERUNTIME;
    }
    int t = lua_type(L, -1);
    if (t == LUA_TSTRING || t == LUA_TNUMBER) {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        lusty_buf_append(out, s, n);
    }
    lua_pop(L, 1);
    return 0;
}

int lusty_lua_mustache_render(lua_State *L, int idx, const lusty_mustache_t *tpl,
                              const lusty_mustache_partials_t *partials, lusty_buf_t *out,
                              lusty_mustache_error_t *err)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    lua_checkstack(L, 20);
    lua_newtable(L);
    lctx_t c = {L, lua_gettop(L), 0};
    lua_pushvalue(L, idx);
    const void *root = anchor(&c);
    lusty_mustache_data_t data = {
        .kind = kind,
        .lookup = lookup,
        .list_len = list_len,
        .list_get = list_get,
        .to_string = to_string,
        .call_lambda = call_lambda,
        .ud = &c,
    };
    int rc = lusty_mustache_render(tpl, &data, root, partials, out, err);
    lua_settop(L, c.anchor - 1);
    return rc;
}
