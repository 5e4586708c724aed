/* The native side of the `ngx` API (docs/ngx.md); the API itself is Lua,
 * in runtime/lua/ngx.lua and runtime/lua/lusty/ngx/.
 *
 * Installed in every host by lusty__lua_open_ngx():
 *
 *   - the global `ngx`: a stand-in whose first use loads the `ngx` module
 *     and puts it in its place, so that a host whose code never touches
 *     ngx pays nothing for it;
 *   - `print`: inside a request (a coroutine listed in
 *     require('lusty.current').requests) a line of the server's log at
 *     INFO, as OpenResty writes print() to its error log; elsewhere (lusty
 *     exec, timers, specs) Lua's own print;
 *   - `lusty.ngx.native`, internal, may change:
 *       log(level, message)          a line of the server's log ("lua")
 *       encode_base64(s, no_pad), decode_base64(s) (nil when invalid)
 *       crc32(s)                     CRC-32 as zlib computes it
 *       digest(name, s)              "md5" or "sha1": the binary digest
 *       hmac_sha1(key, s)            binary
 *
 * The digests come from libcrypto, opened with dlopen() on first use: the
 * server binary is deliberately linked without OpenSSL (cli/CMakeLists.txt),
 * and only apps that hash pay for loading it. */
#include "lua_internal.h"

#include "lusty/log.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

/* ---- logging ---- */

/* nginx's levels (ngx.STDERR 0 … ngx.DEBUG 8) on the runtime's four. */
static lusty_log_level_t map_level(lua_Integer level)
{
    if (level <= 4)
        return LUSTY_LOG_ERROR;
    if (level == 5)
        return LUSTY_LOG_WARN;
    if (level <= 7)
        return LUSTY_LOG_INFO;
    return LUSTY_LOG_DEBUG;
}

static int l_log(lua_State *L)
{
    lua_Integer level = luaL_checkinteger(L, 1);
    const char *msg = luaL_checkstring(L, 2);
    lusty_log(map_level(level), "lua", "%s", msg);
    return 0;
}

/* Whether the running coroutine is a request's (lusty.current). */
static bool in_request(lua_State *L)
{
    bool yes = false;
    lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
    lua_getfield(L, -1, "lusty.current");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "requests");
        if (lua_istable(L, -1)) {
            lua_pushthread(L);
            lua_rawget(L, -2);
            yes = !lua_isnil(L, -1);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 2);
    return yes;
}

/* print(...): see the top of the file. The line starts with the caller's
 * file and line, as OpenResty's does. */
static int l_print(lua_State *L)
{
    if (!in_request(L)) {
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_insert(L, 1);
        lua_call(L, lua_gettop(L) - 1, 0);
        return 0;
    }
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    /* where(2): print is level 1 as where() counts, its caller level 2. */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "lusty.ngx.base");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "where");
    lua_remove(L, -2);
    lua_pushinteger(L, 2);
    lua_call(L, 1, 1);
    luaL_addvalue(&b);
    for (int i = 1; i <= n; i++) {
        /* The separator first: the buffer must see nothing of ours above
         * it, except the one value luaL_addvalue() takes. */
        if (i > 1)
            luaL_addchar(&b, '\t');
        lua_getglobal(L, "tostring");
        lua_pushvalue(L, i);
        lua_call(L, 1, 1);
        if (!lua_isstring(L, -1))
            return luaL_error(L, "'tostring' must return a string to 'print'");
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    lusty_log(LUSTY_LOG_INFO, "lua", "%s", lua_tostring(L, -1));
    return 0;
}

/* ---- base64 and CRC-32 ---- */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int l_encode_base64(lua_State *L)
{
    size_t len;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
    bool pad = !lua_toboolean(L, 2);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        luaL_addchar(&b, B64[v >> 18 & 63]);
        luaL_addchar(&b, B64[v >> 12 & 63]);
        luaL_addchar(&b, B64[v >> 6 & 63]);
        luaL_addchar(&b, B64[v & 63]);
    }
    if (i < len) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < len ? (uint32_t)s[i + 1] << 8 : 0);
        luaL_addchar(&b, B64[v >> 18 & 63]);
        luaL_addchar(&b, B64[v >> 12 & 63]);
        if (i + 1 < len)
            luaL_addchar(&b, B64[v >> 6 & 63]);
        else if (pad)
            luaL_addchar(&b, '=');
        if (pad)
            luaL_addchar(&b, '=');
    }
    luaL_pushresult(&b);
    return 1;
}

static int b64_value(unsigned char c)
{
    const char *p = c ? strchr(B64, c) : NULL;
    return p ? (int)(p - B64) : -1;
}

/* Accepts text with or without padding, as ngx.decode_base64 does; nil
 * for anything else. */
static int l_decode_base64(lua_State *L)
{
    size_t len;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
    while (len > 0 && s[len - 1] == '=')
        len--;
    if (len % 4 == 1) {
        lua_pushnil(L);
        return 1;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value(s[i]);
        if (v < 0) {
            lua_pushnil(L);
            return 1;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            luaL_addchar(&b, (char)(acc >> bits & 0xff));
        }
    }
    luaL_pushresult(&b);
    return 1;
}

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static int l_crc32(lua_State *L)
{
    size_t len;
    const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
    pthread_once(&crc_once, crc_init);
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < len; i++)
        c = crc_table[(c ^ s[i]) & 0xff] ^ (c >> 8);
    lua_pushnumber(L, (lua_Number)(c ^ 0xffffffffu));
    return 1;
}

/* ---- digests through libcrypto ---- */

typedef const void *(*evp_md_fn)(void);
typedef int (*evp_digest_fn)(const void *data, size_t count, unsigned char *md, unsigned int *size,
                             const void *type, void *impl);
typedef unsigned char *(*hmac_fn)(const void *md, const void *key, int key_len,
                                  const unsigned char *d, size_t n, unsigned char *out,
                                  unsigned int *out_len);

static struct {
    pthread_once_t once;
    evp_md_fn md5, sha1;
    evp_digest_fn digest;
    hmac_fn hmac;
    char error[160];
} crypto = {.once = PTHREAD_ONCE_INIT};

static void crypto_open(void)
{
    void *lib = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        lib = dlopen("libcrypto.so", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *why = dlerror();
        snprintf(crypto.error, sizeof crypto.error, "%s", why ? why : "libcrypto not found");
        return;
    }
    /* The process keeps the library: it is used until the process ends. */
    *(void **)&crypto.md5 = dlsym(lib, "EVP_md5");
    *(void **)&crypto.sha1 = dlsym(lib, "EVP_sha1");
    *(void **)&crypto.digest = dlsym(lib, "EVP_Digest");
    *(void **)&crypto.hmac = dlsym(lib, "HMAC");
    if (!crypto.md5 || !crypto.sha1 || !crypto.digest || !crypto.hmac)
        snprintf(crypto.error, sizeof crypto.error, "libcrypto lacks EVP_Digest or HMAC");
}

static void crypto_check(lua_State *L, const char *what)
{
    pthread_once(&crypto.once, crypto_open);
    if (crypto.error[0])
        luaL_error(L, "%s needs libcrypto (OpenSSL), which cannot be loaded: %s", what,
                   crypto.error);
}

static int l_digest(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    size_t len;
    const char *s = luaL_checklstring(L, 2, &len);
    bool md5 = strcmp(name, "md5") == 0;
    if (!md5 && strcmp(name, "sha1") != 0)
        return luaL_error(L, "unknown digest '%s'", name);
    crypto_check(L, md5 ? "ngx.md5" : "ngx.sha1_bin");
    unsigned char out[64];
    unsigned int n = 0;
    if (!crypto.digest(s, len, out, &n, md5 ? crypto.md5() : crypto.sha1(), NULL))
        return luaL_error(L, "%s failed", name);
    lua_pushlstring(L, (const char *)out, n);
    return 1;
}

static int l_hmac_sha1(lua_State *L)
{
    size_t klen, len;
    const char *key = luaL_checklstring(L, 1, &klen);
    const char *s = luaL_checklstring(L, 2, &len);
    crypto_check(L, "ngx.hmac_sha1");
    unsigned char out[64];
    unsigned int n = 0;
    if (!crypto.hmac(crypto.sha1(), key, (int)klen, (const unsigned char *)s, len, out, &n))
        return luaL_error(L, "hmac_sha1 failed");
    lua_pushlstring(L, (const char *)out, n);
    return 1;
}

/* ---- installing ---- */

static int open_native(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"log", l_log},
        {"encode_base64", l_encode_base64},
        {"decode_base64", l_decode_base64},
        {"crc32", l_crc32},
        {"digest", l_digest},
        {"hmac_sha1", l_hmac_sha1},
        {NULL, NULL},
    };
    lua_createtable(L, 0, 6);
    for (const luaL_Reg *r = fns; r->name; r++) {
        lua_pushcfunction(L, r->func);
        lua_setfield(L, -2, r->name);
    }
    return 1;
}

/* Pushes the real `ngx` table, loading it on first use, and puts it in
 * the global's place. */
static void push_real_ngx(lua_State *L)
{
    lua_getglobal(L, "require");
    lua_pushliteral(L, "ngx");
    lua_call(L, 1, 1);
    lua_getglobal(L, "ngx");
    if (lua_rawequal(L, -1, lua_upvalueindex(1))) {
        lua_pushvalue(L, -2);
        lua_setglobal(L, "ngx");
    }
    lua_pop(L, 1);
}

/* The stand-in's __index(t, k) and __newindex(t, k, v): forwarded to the
 * real table, so that `local ngx = ngx` taken before the first use works. */
static int standin_index(lua_State *L)
{
    push_real_ngx(L);
    lua_pushvalue(L, 2);
    lua_gettable(L, -2);
    return 1;
}

static int standin_newindex(lua_State *L)
{
    push_real_ngx(L);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_settable(L, -3);
    return 0;
}

void lusty__lua_open_ngx(lua_State *L)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, open_native);
    lua_setfield(L, -2, "lusty.ngx.native");
    lua_pop(L, 2);

    lua_newtable(L); /* the stand-in */
    lua_createtable(L, 0, 3);
    /* ngx.lua replaces a global marked so (require 'ngx' before any use). */
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, "__lusty_standin");
    lua_pushvalue(L, -2);
    lua_pushcclosure(L, standin_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushvalue(L, -2);
    lua_pushcclosure(L, standin_newindex, 1);
    lua_setfield(L, -2, "__newindex");
    lua_setmetatable(L, -2);
    lua_setglobal(L, "ngx");

    lua_getglobal(L, "print");
    lua_pushcclosure(L, l_print, 1);
    lua_setglobal(L, "print");
    lusty__lua_open_shdict(L);
}
