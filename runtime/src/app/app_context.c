/* The request context of contract section 4 (C decodes the values and makes
 * the variable tables, runtime/lua/lusty/context_builder.lua the fixed
 * ones), the response functions handlers call (send, flush, end), and
 * writing the response once the pipeline has run. */
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

/* ---- the response functions ---- */

/* Appends a sent value: strings and numbers, arrays of them (as ngx.say
 * takes), booleans and nil as text. */
static void append_value(lua_State *L, int idx, lusty_buf_t *b)
{
    size_t len;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
    case LUA_TNUMBER: {
        const char *s = lua_tolstring(L, idx, &len);
        lusty_buf_append(b, s, len);
        break;
    }
    case LUA_TTABLE: {
        int n = (int)lua_objlen(L, idx);
        for (int i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, i);
            append_value(L, lua_gettop(L), b);
            lua_pop(L, 1);
        }
        break;
    }
    case LUA_TNONE:
    case LUA_TNIL:
        break;
    case LUA_TBOOLEAN:
        lusty_buf_puts(b, lua_toboolean(L, idx) ? "true" : "false");
        break;
    default:
        lusty_buf_printf(b, "%s: %p", luaL_typename(L, idx), lua_topointer(L, idx));
        break;
    }
}

/* response.send(body): appends body and a newline, as the reference
 * server's ngx.say did. */
static int r_send(lua_State *L)
{
    lusty_app_worker_t *w = lua_touserdata(L, lua_upvalueindex(1));
    if (!w->active || w->ended)
        return 0;
    append_value(L, 1, &w->body);
    lusty_buf_putc(&w->body, '\n');
    w->sent = true;
    return 0;
}

/* Sets the status and headers of the response table at `idx` on the HTTP
 * response; returns the status used. */
static int apply_head(lusty_app_worker_t *w, lua_State *L, int idx)
{
    int status = 200;
    lua_getfield(L, idx, "status");
    if (lua_isnumber(L, -1))
        status = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (status < 200 || status > 999 || lusty_http_response_set_status(w->res, status) != 0) {
        status = 500;
        lusty_http_response_set_status(w->res, status);
    }
    lua_getfield(L, idx, "headers");
    if (lua_istable(L, -1)) {
        int h = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, h)) {
            /* The server frames the body itself. */
            if (lua_type(L, -2) == LUA_TSTRING &&
                strcasecmp(lua_tostring(L, -2), "content-length") != 0) {
                const char *name = lua_tostring(L, -2);
                if (lua_istable(L, -1)) {
                    int n = (int)lua_objlen(L, -1);
                    for (int i = 1; i <= n; i++) {
                        lua_rawgeti(L, -1, i);
                        if (lua_isstring(L, -1))
                            lusty_http_response_add_header(w->res, name, lua_tostring(L, -1));
                        lua_pop(L, 1);
                    }
                } else if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) {
                    lua_pushvalue(L, -1); /* tostring on a copy: the key must stay a key */
                    lusty_http_response_add_header(w->res, name, lua_tostring(L, -1));
                    lua_pop(L, 1);
                }
            }
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    return status;
}

/* response.flush(body): appends body and writes what was sent so far (the
 * status and headers go out first; later changes to them are ignored). */
static int r_flush(lua_State *L)
{
    lusty_app_worker_t *w = lua_touserdata(L, lua_upvalueindex(1));
    if (!w->active || w->ended)
        return 0;
    append_value(L, 1, &w->body);
    w->sent = true;
    if (!w->flushed) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, w->cur->resp_ref);
        if (lua_istable(L, -1))
            apply_head(w, L, lua_gettop(L));
        lua_pop(L, 1);
        w->flushed = true;
    }
    if (w->body.len) {
        lusty_http_response_write(w->res, w->body.data, w->body.len);
        lusty_buf_clear(&w->body);
    }
    return 0;
}

/* response["end"](): the response is complete; later sends are ignored. */
static int r_end(lua_State *L)
{
    lusty_app_worker_t *w = lua_touserdata(L, lua_upvalueindex(1));
    if (w->active)
        w->ended = true;
    return 0;
}

void lusty__app_gen_prepare(lusty__app_gen_t *g, lusty_app_worker_t *w)
{
    lua_State *L = lusty_lua_host_state(g->host);
    /* The read-through to the global context: one metatable for all. */
    lua_createtable(L, 0, 1);
    lua_getglobal(L, "lusty");
    if (lua_istable(L, -1))
        lua_getfield(L, -1, "context");
    else
        lua_pushnil(L);
    lua_setfield(L, -3, "__index");
    lua_pop(L, 1);
    g->mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    /* The context builder (runtime/lua/lusty/context_builder.lua), given
     * the metatable and the response functions. */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "lusty.context_builder");
    lua_call(L, 1, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, g->mt_ref);
    lua_CFunction fns[] = {r_send, r_flush, r_end};
    for (int i = 0; i < 3; i++) {
        lua_pushlightuserdata(L, w);
        lua_pushcclosure(L, fns[i], 1);
    }
    lua_call(L, 4, 1);
    g->build_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushboolean(L, 0);
    g->resp_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* ---- the context ---- */

void lusty__app_push_context(lusty_app_worker_t *w, lusty__app_gen_t *g,
                             const lusty_http_request_t *req)
{
    lusty_app_t *app = w->app;
    lua_State *L = lusty_lua_host_state(g->host);
    lusty_buf_t tmp = LUSTY_BUF_INIT;
    lua_checkstack(L, 20);
    lua_rawgeti(L, LUA_REGISTRYINDEX, g->build_ref);

    /* build(method, uri, host, port, url, queryString, query, headers,
     *       body, params, suffix) */
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
        port = colon ? atoi(colon + 1) : 80;
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
    lusty_buf_append(&tmp, "http://", 7);
    lusty_buf_append(&tmp, host, host_len);
    if (port != 80) {
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
    lusty_buf_free(&tmp);

    /* -> context, response; the response is kept for flush(). */
    lua_call(L, 11, 2);
    lua_rawseti(L, LUA_REGISTRYINDEX, g->resp_ref);
}

/* The first error of context.error (at `ctx`): pushes nothing, fills
 * *message and *trace (borrowed from the stack: pops nothing; the caller
 * restores the top). Returns false when there is none. */
static bool first_error(lua_State *L, int ctx, const char **message, const char **trace)
{
    lua_pushliteral(L, "error");
    lua_rawget(L, ctx);
    if (lua_isnil(L, -1) || (lua_isboolean(L, -1) && !lua_toboolean(L, -1)))
        return false;
    *message = *trace = NULL;
    if (lua_istable(L, -1)) {
        lua_rawgeti(L, -1, 1);
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "message");
            *message = lua_tostring(L, -1);
            lua_getfield(L, -2, "trace");
            *trace = lua_tostring(L, -1);
        } else if (lua_isstring(L, -1)) {
            *message = lua_tostring(L, -1);
        } else {
            lua_getfield(L, -2, "message");
            *message = lua_tostring(L, -1);
        }
    } else if (lua_isstring(L, -1)) {
        *message = lua_tostring(L, -1);
    }
    if (!*message)
        *message = "(an error without a message)";
    return true;
}

void lusty__app_finish(lusty_app_worker_t *w, lusty__app_gen_t *g, const char *pipeline_err)
{
    lusty_app_t *app = w->app;
    lua_State *L = lusty_lua_host_state(g->host);
    int ctx = lua_gettop(L);
    int top = ctx;
    w->active = false;
    if (w->flushed) {
        lusty_http_response_end(w->res, w->body.data, w->body.len);
        goto done;
    }
    lua_getfield(L, ctx, "response");
    int rs = lua_istable(L, -1) ? lua_gettop(L) : 0;
    const char *message = NULL, *trace = NULL;
    bool failed = pipeline_err != NULL;
    if (failed)
        message = pipeline_err;
    else if (lua_istable(L, ctx))
        failed = first_error(L, ctx, &message, &trace);
    if (w->sent || w->ended) {
        if (rs)
            apply_head(w, L, rs);
        lusty_http_response_end(w->res, w->body.data, w->body.len);
        goto done;
    }
    if (failed) {
        /* Nobody answered an error: the runtime's 500 with the details. */
        char *m = lusty__app_relative(app, message);
        char *t = trace ? lusty__app_relative(app, trace) : NULL;
        char *line = lusty_asprintf("%s %s: %s%s%s", w->req->method, w->req->target, m,
                                    t ? "\n" : "", t ? t : "");
        lusty__app_report(app, LUSTY_APP_ERROR, line);
        lusty__app_page(w->res, w->req, 500, "Internal Server Error", m, t);
        lusty_free(line);
        lusty_free(m);
        lusty_free(t);
        goto done;
    }
    int status = 200;
    if (rs) {
        lua_getfield(L, rs, "status");
        if (lua_isnumber(L, -1))
            status = (int)lua_tointeger(L, -1);
        lua_pop(L, 1);
    }
    if (status == 200 || status == 404 || status < 200 || status > 999) {
        lusty__app_page(w->res, w->req, 404, "Not Found", NULL, NULL);
        goto done;
    }
    /* A status with nothing sent (a redirect, 204 ...): the handlers'
     * headers and a small page for statuses that have a body. */
    apply_head(w, L, rs);
    if (status == 204 || status == 304)
        lusty_http_response_end(w->res, NULL, 0);
    else
        lusty__app_page(w->res, w->req, status, lusty_http_status_reason(status), NULL, NULL);
done:
    lusty_buf_clear(&w->body);
    lua_settop(L, top);
}
