/* The values of a request context (contract section 4): C decodes the
 * path, the query and form bodies and gathers the header table; the
 * tables with fixed keys are made by runtime/lua/lusty/context_builder.lua
 * inside the request's task. */
#include "app_internal.h"

#include "lusty/alloc.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- decoding ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes `len` bytes of `s` into `out` (cleared first); with
 * `plus`, '+' is a space (form encoding). Bad escapes stay as they are. */
static void decode(lusty_buf_t *out, const char *s, size_t len, bool plus)
{
    lusty_buf_clear(out);
    lusty_buf_reserve(out, len + 1);
    char *d = out->data;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int hi, lo;
        if (c == '%' && i + 2 < len && (hi = hexval(s[i + 1])) >= 0 &&
            (lo = hexval(s[i + 2])) >= 0) {
            c = (char)(hi * 16 + lo);
            i += 2;
        } else if (plus && c == '+') {
            c = ' ';
        }
        d[n++] = c;
    }
    d[n] = '\0';
    out->len = n;
}

/* Whether `len` bytes of `s` need decoding at all. */
static bool needs_decode(const char *s, size_t len, bool plus)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] == '%' || (plus && s[i] == '+'))
            return true;
    return false;
}

static void push_decoded(lua_State *L, lusty_buf_t *tmp, const char *s, size_t len, bool plus)
{
    if (!needs_decode(s, len, plus)) {
        lua_pushlstring(L, s, len);
        return;
    }
    decode(tmp, s, len, plus);
    lua_pushlstring(L, tmp->data, tmp->len);
}

/* Sets t[key] = value (both on top, key below value) where t is at `t`:
 * a repeated key collects its values in an array, as ngx.req.get_uri_args
 * does. Pops both. */
static void set_multi(lua_State *L, int t)
{
    lua_pushvalue(L, -2);
    lua_rawget(L, t);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_rawset(L, t);
        return;
    }
    if (lua_istable(L, -1)) {
        lua_insert(L, -2);
        lua_rawseti(L, -2, (int)lua_objlen(L, -2) + 1);
        lua_pop(L, 2);
        return;
    }
    lua_createtable(L, 2, 0);
    lua_insert(L, -2);
    lua_rawseti(L, -2, 1);
    lua_insert(L, -2);
    lua_rawseti(L, -2, 2);
    lua_rawset(L, t);
}

/* Pushes the table of an application/x-www-form-urlencoded string: decoded
 * names and values, `true` for a name without '=', arrays for repeats. */
static void push_form(lua_State *L, lusty_buf_t *tmp, const char *s, size_t len)
{
    lua_newtable(L);
    int t = lua_gettop(L);
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && s[end] != '&')
            end++;
        const char *eq = memchr(s + i, '=', end - i);
        size_t klen = eq ? (size_t)(eq - (s + i)) : end - i;
        if (klen > 0) {
            push_decoded(L, tmp, s + i, klen, true);
            if (eq)
                push_decoded(L, tmp, eq + 1, (size_t)(s + end - eq - 1), true);
            else
                lua_pushboolean(L, 1);
            set_multi(L, t);
        }
        i = end + 1;
    }
}

/* ---- the context ---- */

void lusty__app_push_context_args(lusty_app_t *app, lua_State *L, const lusty_http_request_t *req,
                                  const lusty_http_response_t *res)
{
    const char *client;
    size_t client_len;
    bool https;
    lusty__app_client(app, req, res, &client, &client_len, &https);
    lusty_buf_t tmp = LUSTY_BUF_INIT;
    lua_checkstack(L, 20);
    /* method, uri, host, port, url, queryString, query, headers, body,
     * params, suffix */
    lua_pushstring(L, req->method);
    const char *path = req->path;
    size_t path_len = strlen(path);
    push_decoded(L, &tmp, path, path_len, false);
    /* host and port: from the Host header, else the listening address. */
    const char *hosth = lusty_http_request_header(req, "host");
    int port = app->port;
    if (hosth && hosth[0]) {
        const char *colon = hosth[0] == '[' ? strchr(hosth, ']') : hosth;
        colon = colon ? strchr(colon, ':') : NULL;
        const char *hend = colon ? colon : hosth + strlen(hosth);
        port = colon ? atoi(colon + 1) : https ? 443 : 80;
        lua_pushlstring(L, hosth, (size_t)(hend - hosth));
    } else {
        lua_pushstring(L, app->host);
    }
    size_t host_len;
    const char *host = lua_tolstring(L, -1, &host_len);
    lua_pushinteger(L, port);
    /* url: http://host[:port]path, put together by hand (lua_pushfstring
     * formats through a slower general path). */
    lusty_buf_clear(&tmp);
    if (https)
        lusty_buf_append(&tmp, "https://", 8);
    else
        lusty_buf_append(&tmp, "http://", 7);
    lusty_buf_append(&tmp, host, host_len);
    if (port != (https ? 443 : 80)) {
        char digits[12];
        size_t n = sizeof digits;
        unsigned v = port > 0 ? (unsigned)port : 0;
        do {
            digits[--n] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        digits[--n] = ':';
        lusty_buf_append(&tmp, digits + n, sizeof digits - n);
    }
    lusty_buf_append(&tmp, path, path_len);
    lua_pushlstring(L, tmp.data, tmp.len);
    lua_pushstring(L, req->query);
    push_form(L, &tmp, req->query, strlen(req->query));
    lua_createtable(L, 0, (int)req->nheaders);
    int hd = lua_gettop(L);
    for (size_t i = 0; i < req->nheaders; i++) {
        lua_pushstring(L, req->headers[i].name);
        lua_pushstring(L, req->headers[i].value);
        set_multi(L, hd);
    }
    if (req->body)
        lua_pushlstring(L, req->body, req->body_len);
    else
        lua_pushnil(L);
    const char *ctype = lusty_http_request_header(req, "content-type");
    if (req->body && ctype &&
        strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0)
        push_form(L, &tmp, req->body, req->body_len);
    else
        lua_createtable(L, 0, 0);

    /* suffix: the path's segments, each decoded, empty ones dropped. */
    lua_createtable(L, 4, 0);
    int n = 0;
    for (size_t i = 0; i < path_len;) {
        size_t end = i;
        while (end < path_len && path[end] != '/')
            end++;
        if (end > i) {
            push_decoded(L, &tmp, path + i, end - i, false);
            lua_rawseti(L, -2, ++n);
        }
        i = end + 1;
    }
    if (https)
        lua_pushliteral(L, "https");
    else
        lua_pushliteral(L, "http");
    if (client)
        lua_pushlstring(L, client, client_len);
    else
        lua_pushnil(L);
    lusty_buf_free(&tmp);
}

