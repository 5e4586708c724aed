/* libFuzzer target: arbitrary text into cjson.decode's parser
 * (runtime/src/lua/lua_json_decode.c), checked against cJSON. Whatever
 * comes in, it does not crash or leave the Lua stack unbalanced; what it
 * accepts, cJSON (more lenient: any byte up to space is whitespace to it,
 * numbers as strtod reads them) accepts too, with the same values. cJSON
 * ends a string at a NUL byte, so a string is compared up to its first
 * NUL, and the members of objects are not compared when the text has one
 * (keys that differ after a NUL are one key to cJSON). */
#define _GNU_SOURCE /* memmem */

#include "lua_internal.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <stdint.h>
#include <string.h>

static const char null_token;
static int text_has_nul;

void lusty__lua_push_null(lua_State *L)
{
    lua_pushlightuserdata(L, (void *)&null_token);
}

static void check_same(lua_State *L, int idx, const cJSON *j);

/* Whether a later member of j's object has the same key: that one wins. */
static int overridden(const cJSON *j)
{
    for (const cJSON *c = j->next; c; c = c->next)
        if (strcmp(c->string, j->string) == 0)
            return 1;
    return 0;
}

static void check_same(lua_State *L, int idx, const cJSON *j)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    if (cJSON_IsNull(j)) {
        assert(lua_touserdata(L, idx) == &null_token);
    } else if (cJSON_IsBool(j)) {
        assert(lua_isboolean(L, idx) && lua_toboolean(L, idx) == cJSON_IsTrue(j));
    } else if (cJSON_IsNumber(j)) {
        assert(lua_type(L, idx) == LUA_TNUMBER);
        double a = lua_tonumber(L, idx), b = j->valuedouble;
        assert(a == b || (a != a && b != b));
    } else if (cJSON_IsString(j)) {
        assert(lua_type(L, idx) == LUA_TSTRING);
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        size_t upto = strnlen(s, len);
        assert(strlen(j->valuestring) == upto && memcmp(s, j->valuestring, upto) == 0);
    } else if (cJSON_IsArray(j)) {
        assert(lua_istable(L, idx));
        int n = 0;
        for (const cJSON *c = j->child; c; c = c->next) {
            lua_rawgeti(L, idx, ++n);
            check_same(L, -1, c);
            lua_pop(L, 1);
        }
        lua_rawgeti(L, idx, n + 1);
        assert(lua_isnil(L, -1));
        lua_pop(L, 1);
    } else {
        assert(cJSON_IsObject(j) && lua_istable(L, idx));
        for (const cJSON *c = j->child; c && !text_has_nul; c = c->next) {
            if (overridden(c))
                continue;
            lua_getfield(L, idx, c->string);
            check_same(L, -1, c);
            lua_pop(L, 1);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static lua_State *L;
    if (!L)
        L = luaL_newstate();
    const char *text = (const char *)data;
    text_has_nul = memchr(text, 0, size) || memmem(text, size, "\\u0000", 6);
    int top = lua_gettop(L);
    int rc = lusty__lua_json_decode(L, text, size);
    assert(lua_gettop(L) == top + 1);
    if (rc == 0) {
        const char *end = NULL;
        cJSON *j = cJSON_ParseWithLengthOpts(text, size, &end, 0);
        assert(j != NULL);
        check_same(L, -1, j);
        cJSON_Delete(j);
    } else {
        assert(lua_type(L, -1) == LUA_TSTRING);
    }
    lua_settop(L, top);
    return 0;
}
