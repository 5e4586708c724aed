/* `cjson`: the subset of lua-cjson that apps use (encode, decode, null,
 * empty_array), on top of cJSON, so an app that requires it runs with
 * nothing installed.
 *
 * Encoding follows lua-cjson: a table whose keys are all positive integers
 * is an array (nil holes become null; an array sparser than half empty with
 * more than 10 slots is an error), any other table is an object whose
 * number keys become strings; an empty table is an object, cjson.empty_array
 * an empty array, cjson.null null. Functions and other userdata cannot be
 * encoded. Decoding gives tables, with cjson.null for null. */
#include "lua_internal.h"

#include <cjson/cJSON.h>
#include <math.h>

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

/* Converts the value at `idx` (absolute); returns NULL with an error
 * message pushed on failure. */
static cJSON *to_json(lua_State *L, int idx, int depth)
{
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return cJSON_CreateNull();
    case LUA_TBOOLEAN:
        return cJSON_CreateBool(lua_toboolean(L, idx));
    case LUA_TNUMBER: {
        double n = lua_tonumber(L, idx);
        if (isnan(n) || isinf(n)) {
            lua_pushliteral(L, "Cannot serialise number: must not be NaN or Infinity");
            return NULL;
        }
        return cJSON_CreateNumber(n);
    }
    case LUA_TSTRING:
        return cJSON_CreateString(lua_tostring(L, idx));
    case LUA_TLIGHTUSERDATA:
        if (lusty__lua_is_null(L, idx))
            return cJSON_CreateNull();
        if (lusty__lua_is_empty_array(L, idx))
            return cJSON_CreateArray();
        break;
    case LUA_TTABLE:
        break;
    default:
        lua_pushfstring(L, "Cannot serialise %s: type not supported", luaL_typename(L, idx));
        return NULL;
    }
    if (lua_type(L, idx) != LUA_TTABLE) {
        lua_pushliteral(L, "Cannot serialise userdata: type not supported");
        return NULL;
    }
    if (depth >= MAX_DEPTH) {
        lua_pushliteral(L, "Cannot serialise, excessive nesting");
        return NULL;
    }
    lua_checkstack(L, 6);

    /* An array when every key is a positive integer. */
    double max = 0;
    size_t count = 0;
    int is_array = 1;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        double k = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
        if (k < 1 || floor(k) != k) {
            is_array = 0;
            lua_pop(L, 1);
            break;
        }
        if (k > max)
            max = k;
        count++;
    }
    if (is_array && count == 0)
        is_array = 0; /* {} is an object, as in lua-cjson */
    if (is_array && max > 10 && max > 2.0 * (double)count) {
        lua_pushliteral(L, "Cannot serialise table: excessively sparse array");
        return NULL;
    }

    cJSON *out;
    if (is_array) {
        out = cJSON_CreateArray();
        for (int i = 1; i <= (int)max; i++) {
            lua_rawgeti(L, idx, i);
            cJSON *item = to_json(L, lua_gettop(L), depth + 1);
            if (!item) {
                lua_remove(L, -2);
                cJSON_Delete(out);
                return NULL;
            }
            lua_pop(L, 1);
            cJSON_AddItemToArray(out, item);
        }
        return out;
    }
    out = cJSON_CreateObject();
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int kt = lua_type(L, -2);
        if (kt != LUA_TSTRING && kt != LUA_TNUMBER) {
            lua_pop(L, 2);
            cJSON_Delete(out);
            lua_pushfstring(L, "Cannot serialise %s key: table key must be a number or string",
                            lua_typename(L, kt));
            return NULL;
        }
        cJSON *item = to_json(L, lua_gettop(L), depth + 1);
        if (!item) {
            lua_replace(L, -3); /* keep the message, drop key and value */
            lua_pop(L, 1);
            cJSON_Delete(out);
            return NULL;
        }
        lua_pushvalue(L, -2); /* convert a copy: lua_next needs the key as is */
        cJSON_AddItemToObject(out, lua_tostring(L, -1), item);
        lua_pop(L, 2);
    }
    return out;
}

static int json_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    cJSON *json = to_json(L, 1, 0);
    if (!json)
        return lua_error(L);
    char *text = cJSON_PrintUnformatted(json);
    cJSON_Delete(json);
    if (!text)
        return luaL_error(L, "Cannot serialise: out of memory");
    lua_pushstring(L, text);
    cJSON_free(text);
    return 1;
}

static void push_json(lua_State *L, const cJSON *j, int depth)
{
    /* cJSON refuses documents nested deeper than CJSON_NESTING_LIMIT, so the
     * recursion is bounded. */
    (void)depth;
    lua_checkstack(L, 4);
    if (cJSON_IsNull(j)) {
        lusty__lua_push_null(L);
    } else if (cJSON_IsBool(j)) {
        lua_pushboolean(L, cJSON_IsTrue(j));
    } else if (cJSON_IsNumber(j)) {
        lua_pushnumber(L, j->valuedouble);
    } else if (cJSON_IsString(j)) {
        lua_pushstring(L, j->valuestring);
    } else if (cJSON_IsArray(j)) {
        lua_createtable(L, cJSON_GetArraySize(j), 0);
        int i = 1;
        for (const cJSON *c = j->child; c; c = c->next) {
            push_json(L, c, depth + 1);
            lua_rawseti(L, -2, i++);
        }
    } else {
        lua_newtable(L);
        for (const cJSON *c = j->child; c; c = c->next) {
            lua_pushstring(L, c->string);
            push_json(L, c, depth + 1);
            lua_rawset(L, -3);
        }
    }
}

static int json_decode(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    const char *end = NULL;
    cJSON *json = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (json && end) {
        /* Only whitespace may follow the value. */
        while (end < text + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
            end++;
        if (end != text + len) {
            cJSON_Delete(json);
            json = NULL;
        }
    }
    if (!json) {
        size_t at = end && end >= text ? (size_t)(end - text) + 1 : 1;
        return luaL_error(L, "Expected value but found invalid token at character %d", (int)at);
    }
    push_json(L, json, 0);
    cJSON_Delete(json);
    return 1;
}

int lusty__lua_open_cjson(lua_State *L)
{
    lua_createtable(L, 0, 4);
    lua_pushcfunction(L, json_encode);
    lua_setfield(L, -2, "encode");
    lua_pushcfunction(L, json_decode);
    lua_setfield(L, -2, "decode");
    lusty__lua_push_null(L);
    lua_setfield(L, -2, "null");
    lua_pushlightuserdata(L, (void *)&empty_array_token);
    lua_setfield(L, -2, "empty_array");
    return 1;
}
