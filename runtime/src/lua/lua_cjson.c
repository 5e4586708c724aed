/* `cjson`: the subset of lua-cjson that apps use (encode, decode, null,
 * empty_array), made here, so an app that requires it runs with
 * nothing installed.
 *
 * Encoding follows lua-cjson: a table whose keys are all positive integers
 * is an array (nil holes become null; an array sparser than half empty with
 * more than 10 slots is an error), any other table is an object whose
 * number keys become strings; an empty table is an object, cjson.empty_array
 * an empty array, cjson.null null. Functions and other userdata cannot be
 * encoded. Decoding gives tables, with cjson.null for null. */
#include "lua_internal.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The values that stand for null and [] (their addresses are unique). */
static const char null_token = 0;
static const char empty_array_token = 0;

#define MAX_DEPTH 1000

void lusty__lua_push_null(lua_State *L)
{
    lua_pushlightuserdata(L, (void *)&null_token);
}

int lusty__lua_is_null(lua_State *L, int idx)
{
    return lua_touserdata(L, idx) == &null_token;
}

int lusty__lua_is_empty_array(lua_State *L, int idx)
{
    return lua_touserdata(L, idx) == &empty_array_token;
}

/* Encoding writes JSON text straight into a buffer, one pass over the Lua
 * value. Building a cJSON tree first (a malloc per value) and printing it
 * (numbers through snprintf and a sscanf round-trip check) was the largest
 * single cost of a JSON response: about 40% of the default template's
 * pipeline. The text is the same as cJSON's: integers as digits, other
 * numbers with 15 significant digits unless 17 are needed to read back the
 * same double, strings escaped as cJSON does. Decoding is
 * lua_json_decode.c's.
 *
 * Each function returns 0, or -1 with the error message pushed. */
static int encode_value(lua_State *L, int idx, int depth, lusty_buf_t *b);

/* Room for `n` more bytes (and the NUL) without a call when it is there. */
static inline char *room(lusty_buf_t *b, size_t n)
{
    if (b->len + n >= b->cap)
        lusty_buf_reserve(b, n);
    return b->data + b->len;
}

static inline void put_char(lusty_buf_t *b, char c)
{
    room(b, 1)[0] = c;
    b->len++;
}


static int encode_number(lua_State *L, double n, lusty_buf_t *b)
{
    if (isnan(n) || isinf(n)) {
        lua_pushliteral(L, "Cannot serialise number: must not be NaN or Infinity");
        return -1;
    }
    char *out = room(b, 32);
    if (n > -1e15 && n < 1e15 && n == (double)(long long)n) {
        /* The common case: digits by hand, no printf. */
        long long v = (long long)n;
        unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
        char tmp[24];
        int k = 0;
        do {
            tmp[k++] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        size_t len = 0;
        if (v < 0)
            out[len++] = '-';
        while (k)
            out[len++] = tmp[--k];
        b->len += len;
    } else {
        int len = snprintf(out, 32, "%.15g", n);
        if (strtod(out, NULL) != n)
            len = snprintf(out, 32, "%.17g", n);
        b->len += (size_t)len;
    }
    return 0;
}

/* Bytes that JSON strings must escape: controls, '"' and '\'. */
static const unsigned char escaped[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
};

static void encode_string(lusty_buf_t *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    /* Worst case: every byte as \u00XX. */
    char *out = room(b, len * 6 + 2);
    out[0] = '"';
    /* Most strings are short keys and values with nothing to escape:
     * copied as they are scanned, without a memcpy call per string (long
     * ones are left to memcpy below). */
    size_t i = 0;
    if (len <= 64) {
        while (i < len && !escaped[(unsigned char)s[i]]) {
            out[i + 1] = s[i];
            i++;
        }
        if (i == len) {
            out[len + 1] = '"';
            b->len += len + 2;
            return;
        }
    }
    size_t o = i + 1;
    size_t run = i; /* start of the bytes not copied yet */
    for (; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!escaped[c])
            continue;
        memcpy(out + o, s + run, i - run);
        o += i - run;
        run = i + 1;
        out[o++] = '\\';
        switch (c) {
        case '"': out[o++] = '"'; break;
        case '\\': out[o++] = '\\'; break;
        case '\b': out[o++] = 'b'; break;
        case '\f': out[o++] = 'f'; break;
        case '\n': out[o++] = 'n'; break;
        case '\r': out[o++] = 'r'; break;
        case '\t': out[o++] = 't'; break;
        default:
            out[o++] = 'u';
            out[o++] = '0';
            out[o++] = '0';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    memcpy(out + o, s + run, len - run);
    o += len - run;
    out[o++] = '"';
    b->len += o;
}

/* The table at `idx` as an array: returns its length, 0 when it is not
 * one (some key is not a positive integer, or it is empty: {} is an object
 * as in lua-cjson), -1 with a message pushed when it is too sparse. */
static double array_length(lua_State *L, int idx)
{
    double max = 0;
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        double k = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
        if (k < 1 || floor(k) != k) {
            lua_pop(L, 1);
            return 0;
        }
        if (k > max)
            max = k;
        count++;
    }
    if (max > 10 && max > 2.0 * (double)count) {
        lua_pushliteral(L, "Cannot serialise table: excessively sparse array");
        return -1;
    }
    return max;
}

static int encode_table(lua_State *L, int idx, int depth, lusty_buf_t *b)
{
    if (depth >= MAX_DEPTH) {
        lua_pushliteral(L, "Cannot serialise, excessive nesting");
        return -1;
    }
    lua_checkstack(L, 6);
    double n = array_length(L, idx);
    if (n < 0)
        return -1;
    if (n > 0) {
        put_char(b, '[');
        for (int i = 1; i <= (int)n; i++) {
            if (i > 1)
                put_char(b, ',');
            lua_rawgeti(L, idx, i);
            if (encode_value(L, lua_gettop(L), depth + 1, b))
                return -1;
            lua_pop(L, 1);
        }
        put_char(b, ']');
        return 0;
    }
    put_char(b, '{');
    bool first = true;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int kt = lua_type(L, -2);
        if (kt != LUA_TSTRING && kt != LUA_TNUMBER) {
            lua_pushfstring(L, "Cannot serialise %s key: table key must be a number or string",
                            lua_typename(L, kt));
            return -1;
        }
        if (!first)
            put_char(b, ',');
        first = false;
        size_t klen;
        if (kt == LUA_TSTRING) {
            const char *key = lua_tolstring(L, -2, &klen);
            encode_string(b, key, klen);
        } else {
            /* Converted on a copy: lua_next needs the key as it is. */
            lua_pushvalue(L, -2);
            const char *key = lua_tolstring(L, -1, &klen);
            encode_string(b, key, klen);
            lua_pop(L, 1);
        }
        put_char(b, ':');
        if (encode_value(L, lua_gettop(L), depth + 1, b))
            return -1;
        lua_pop(L, 1);
    }
    put_char(b, '}');
    return 0;
}
static int encode_value(lua_State *L, int idx, int depth, lusty_buf_t *b)
{
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        lusty_buf_append(b, "null", 4);
        return 0;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx))
            lusty_buf_append(b, "true", 4);
        else
            lusty_buf_append(b, "false", 5);
        return 0;
    case LUA_TNUMBER:
        return encode_number(L, lua_tonumber(L, idx), b);
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        encode_string(b, s, len);
        return 0;
    }
    case LUA_TTABLE:
        return encode_table(L, idx, depth, b);
    case LUA_TLIGHTUSERDATA:
        if (lusty__lua_is_null(L, idx)) {
            lusty_buf_append(b, "null", 4);
            return 0;
        }
        if (lusty__lua_is_empty_array(L, idx)) {
            lusty_buf_append(b, "[]", 2);
            return 0;
        }
        lua_pushliteral(L, "Cannot serialise userdata: type not supported");
        return -1;
    default:
        lua_pushfstring(L, "Cannot serialise %s: type not supported", luaL_typename(L, idx));
        return -1;
    }
}

/* The text is built in the state's scratch buffer (no allocation per call
 * once it has grown), or in a local one when that is in use: a finalizer
 * run by an allocation below may itself encode. A Lua error (only out of
 * memory can raise here) leaves the scratch buffer to be reused. */
static int json_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    lusty__lua_t *S = lua_touserdata(L, lua_upvalueindex(1));
    lusty_buf_t local = LUSTY_BUF_INIT;
    lusty_buf_t *b = &local;
    if (S && !S->encoding) {
        b = &S->scratch;
        S->encoding = 1;
    }
    lusty_buf_clear(b);
    int rc = encode_value(L, 1, 0, b);
    if (rc == 0)
        lua_pushlstring(L, b->data, b->len);
    if (b == &local)
        lusty_buf_free(&local);
    else
        S->encoding = 0;
    return rc ? lua_error(L) : 1;
}

int lusty_lua_push_json(lua_State *L, const char *text, size_t len)
{
    return lusty__lua_json_decode(L, text, len);
}

static int json_decode(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    if (lusty__lua_json_decode(L, text, len) != 0)
        return lua_error(L);
    return 1;
}

int lusty__lua_open_cjson(lua_State *L)
{
    lua_createtable(L, 0, 4);
    lua_pushlightuserdata(L, lusty__lua_state(L));
    lua_pushcclosure(L, json_encode, 1);
    lua_setfield(L, -2, "encode");
    lua_pushcfunction(L, json_decode);
    lua_setfield(L, -2, "decode");
    lusty__lua_push_null(L);
    lua_setfield(L, -2, "null");
    lua_pushlightuserdata(L, (void *)&empty_array_token);
    lua_setfield(L, -2, "empty_array");
    return 1;
}
