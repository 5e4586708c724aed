/* The response of a request: the functions handlers call (send, flush,
 * end), closures over the request's box so that one kept past its request
 * does nothing, and writing the response once the pipeline is done. */
#include "app_internal.h"

#include "lusty/alloc.h"

#include <lauxlib.h>
#include <lua.h>
#include <string.h>
#include <strings.h>

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

/* The request of a response function: NULL once it has ended, and for
 * calls after response.end(). */
static lusty__app_req_t *live_req(lua_State *L)
{
    void **box = lua_touserdata(L, lua_upvalueindex(1));
    lusty__app_req_t *r = box ? *box : NULL;
    return r && r->res && !r->ended ? r : NULL;
}

/* Marks the response table (the box's environment, see bind_response())
 * with `sent = true` on the first send or flush, so that output modules
 * add no second body. */
static void mark_sent(lua_State *L, lusty__app_req_t *r)
{
    if (r->sent)
        return;
    r->sent = true;
    lua_getfenv(L, lua_upvalueindex(1));
    if (lua_istable(L, -1)) {
        lua_pushliteral(L, "sent");
        lua_pushboolean(L, 1);
        lua_rawset(L, -3);
    }
    lua_pop(L, 1);
}

/* response.send(body): appends body and a newline, as the reference
 * server's ngx.say did. send(body, false) appends no newline (ngx.print). */
static int r_send(lua_State *L)
{
    lusty__app_req_t *r = live_req(L);
    if (!r)
        return 0;
    append_value(L, 1, &r->body);
    if (lua_type(L, 2) != LUA_TBOOLEAN || lua_toboolean(L, 2))
        lusty_buf_putc(&r->body, '\n');
    mark_sent(L, r);
    return 0;
}

/* Notes what a response header says of the body: HTML, encoded (for the
 * live reload script, which only goes into plain HTML). */
static void note_content(const char *name, const char *value, bool *html, bool *encoded)
{
    if (strcasecmp(name, "content-type") == 0)
        *html = strncasecmp(value, "text/html", 9) == 0;
    else if (strcasecmp(name, "content-encoding") == 0)
        *encoded = strcasecmp(value, "identity") != 0;
}

/* Sets the status and headers of the response table at `idx` on the HTTP
 * response; returns the status used. */
static int apply_head(lusty__app_req_t *r, lua_State *L, int idx)
{
    int status = 200;
    lua_getfield(L, idx, "status");
    if (lua_isnumber(L, -1))
        status = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (status < 200 || status > 999 || lusty_http_response_set_status(r->res, status) != 0) {
        status = 500;
        lusty_http_response_set_status(r->res, status);
    }
    lua_getfield(L, idx, "headers");
    bool html = false, encoded = false;
    if (lua_istable(L, -1)) {
        int h = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, h)) {
            /* The server frames the body itself. */
            if (lua_type(L, -2) == LUA_TSTRING &&
                strcasecmp(lua_tostring(L, -2), "content-length") != 0) {
                const char *name = lua_tostring(L, -2);
                if (lua_type(L, -1) == LUA_TSTRING && (name[0] | 0x20) == 'c')
                    note_content(name, lua_tostring(L, -1), &html, &encoded);
                if (lua_istable(L, -1)) {
                    int n = (int)lua_objlen(L, -1);
                    for (int i = 1; i <= n; i++) {
                        lua_rawgeti(L, -1, i);
                        if (lua_isstring(L, -1))
                            lusty_http_response_add_header(r->res, name, lua_tostring(L, -1));
                        lua_pop(L, 1);
                    }
                } else if (lua_type(L, -1) == LUA_TSTRING || lua_type(L, -1) == LUA_TNUMBER) {
                    lua_pushvalue(L, -1); /* tostring on a copy: the key must stay a key */
                    lusty_http_response_add_header(r->res, name, lua_tostring(L, -1));
                    lua_pop(L, 1);
                }
            }
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    r->html_body = html && !encoded;
    return status;
}

/* response.flush(body): appends body and writes what was sent so far (the
 * status and headers go out first; later changes to them are ignored). */
static int r_flush(lua_State *L)
{
    lusty__app_req_t *r = live_req(L);
    if (!r)
        return 0;
    append_value(L, 1, &r->body);
    mark_sent(L, r);
    if (!r->flushed) {
        /* The response table is the box's environment (see bind()). */
        lua_getfenv(L, lua_upvalueindex(1));
        if (lua_istable(L, -1))
            apply_head(r, L, lua_gettop(L));
        lua_pop(L, 1);
        r->flushed = true;
    }
    if (r->body.len) {
        lusty_http_response_write(r->res, r->body.data, r->body.len);
        lusty_buf_clear(&r->body);
    }
    return 0;
}

/* response["end"](): the response is complete; later sends are ignored. */
static int r_end(lua_State *L)
{
    lusty__app_req_t *r = live_req(L);
    if (r)
        r->ended = true;
    return 0;
}

void lusty__app_push_response_fns(lua_State *L, lusty__app_req_t *r)
{
    r->box = lua_newuserdata(L, sizeof(void *));
    *r->box = r;
    int box = lua_gettop(L);
    lua_CFunction fns[] = {r_send, r_flush, r_end};
    for (int i = 0; i < 3; i++) {
        lua_pushvalue(L, box);
        lua_pushcclosure(L, fns[i], 1);
    }
}

int lusty__app_peer(lua_State *L)
{
    lua_settop(L, 2);
    if (lua_iscfunction(L, 1) && lua_getupvalue(L, 1, 1)) {
        void **box = lua_touserdata(L, -1);
        if (box) {
            /* Ours only when the box's environment is this response. */
            lua_getfenv(L, -1);
            lusty__app_req_t *r = lua_rawequal(L, -1, 2) ? *box : NULL;
            const char *addr = r && r->res ? lusty_http_response_peer(r->res) : NULL;
            if (addr) {
                lua_pushstring(L, addr);
                return 1;
            }
        }
    }
    lua_pushnil(L);
    return 1;
}

/* Error `i` (1-based) of context.error (at `ctx`): fills *message and
 * *trace (borrowed from the stack: pops nothing; the caller restores the
 * top), and *logged when the error raised says its cause was logged
 * already (`logged = true`: a store outage is said once, not per request).
 * A context.error that is a string or a non-array value counts as one
 * error. Returns false when there is no such error. */
static bool error_at(lua_State *L, int ctx, int i, const char **message, const char **trace,
                     bool *logged)
{
    *logged = false;
    lua_pushliteral(L, "error");
    lua_rawget(L, ctx);
    if (lua_isnil(L, -1) || (lua_isboolean(L, -1) && !lua_toboolean(L, -1)))
        return false;
    *message = *trace = NULL;
    if (lua_istable(L, -1)) {
        lua_rawgeti(L, -1, i);
        if (lua_isnil(L, -1) && i > 1)
            return false;
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "message");
            *message = lua_tostring(L, -1);
            lua_getfield(L, -2, "trace");
            *trace = lua_tostring(L, -1);
            lua_getfield(L, -3, "error");
            if (lua_istable(L, -1)) {
                lua_getfield(L, -1, "logged");
                *logged = lua_toboolean(L, -1);
            }
        } else if (lua_isstring(L, -1)) {
            *message = lua_tostring(L, -1);
        } else {
            lua_getfield(L, -2, "message");
            *message = lua_tostring(L, -1);
        }
    } else if (i > 1) {
        return false;
    } else if (lua_isstring(L, -1)) {
        *message = lua_tostring(L, -1);
    }
    if (!*message)
        *message = "(an error without a message)";
    return true;
}

/* Development: an HTML page the handlers sent in one piece to a browser
 * (Accept lists text/html) gets the live reload script; a streamed one
 * does not (its end may be out already), nor one for curl or a script. */
static void add_live_script(lusty__app_req_t *r, int rs)
{
    if (!r->w->app->live || r->flushed || !rs || !r->html_body ||
        lusty__app_format(r->req) != LUSTY__APP_HTML)
        return;
    char *script = lusty__app_live_script(r->w->app, r->live_gen);
    lusty__app_live_inject(&r->body, script);
    lusty_free(script);
}

/* Ends the response with what the handlers sent. */
static void end_sent(lusty__app_req_t *r)
{
    lusty_http_response_end(r->res, r->body.data, r->body.len);
    r->res = NULL;
}

static void end_page(lusty__app_req_t *r, int status, const char *title, const char *message,
                     const char *trace)
{
    /* In production the details stay in the log: a message or a traceback
     * tells a client about files, paths and code it should not see. */
    if (r->w->app->hide_errors && status >= 500)
        message = trace = NULL;
    char *script = lusty__app_live_script(r->w->app, r->live_gen);
    lusty__app_page(r->res, r->req, status, title, message, trace, script);
    lusty_free(script);
    r->res = NULL;
}

/* What the client got, said after an error when it was not the
 * runtime's 500 page. */
static const char *const GOT_APP_ANSWER = " (the client got what the app sent)";
static const char *const GOT_DEV_PAGE =
    " (the client got the development error page; in production, what the app sent)";

/* Reports an error of the pipeline with its traceback (paths relative to
 * the project); `got`: what the client got (NULL: the runtime's page). */
static void report_error(lusty__app_req_t *r, const char *message, const char *trace,
                         const char *got)
{
    lusty_app_t *app = r->w->app;
    char *m = lusty__app_relative(app, message);
    char *t = trace ? lusty__app_relative(app, trace) : NULL;
    char *line = lusty_asprintf("%s %s: %s%s%s%s", r->req->method, r->req->target, m,
                                got ? got : "", t ? "\n" : "", t ? t : "");
    lusty__app_report(app, LUSTY_APP_ERROR, line);
    lusty_free(line);
    lusty_free(m);
    lusty_free(t);
}

/* Ends the response with the runtime's 500 page showing `message` and
 * `trace` (paths relative to the project). */
static void end_page_for(lusty__app_req_t *r, const char *message, const char *trace)
{
    char *m = lusty__app_relative(r->w->app, message);
    char *t = trace ? lusty__app_relative(r->w->app, trace) : NULL;
    end_page(r, 500, "Internal Server Error", m, t);
    lusty_free(m);
    lusty_free(t);
}

/* In development, when the app answered an error with its own page (an
 * HTML client, nothing written yet), the body becomes the development
 * error page (lusty.error.dev_page): file, line, source, traceback and
 * request, whatever the app's templates show. The app's status stays. */
static void use_dev_page(lusty__app_req_t *r, lua_State *L, int ctx, int rs)
{
    int top = lua_gettop(L);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "lusty.error.dev_page");
    if (lua_pcall(L, 1, 1, 0) == 0 && lua_istable(L, -1)) {
        lua_getfield(L, -1, "respond");
        lua_pushvalue(L, ctx);
        lua_pushvalue(L, rs);
        size_t len;
        const char *html;
        if (lua_pcall(L, 2, 1, 0) == 0 && (html = lua_tolstring(L, -1, &len)) != NULL) {
            lusty_buf_clear(&r->body);
            lusty_buf_append(&r->body, html, len);
        }
    }
    lua_settop(L, top);
}

/* The body of lusty__app_finish(), in a protected call: (r, context,
 * response, error) on the stack. */
static int finish_protected(lua_State *L)
{
    lusty__app_req_t *r = lua_touserdata(L, 1);
    int ctx = 2;
    int rs = lua_istable(L, 3) ? 3 : 0;
    const char *message = lua_tostring(L, 4), *trace = NULL;
    bool failed = message != NULL, logged = false;
    if (!failed && lua_istable(L, ctx))
        failed = error_at(L, ctx, 1, &message, &trace, &logged);
    bool answered = r->flushed || r->sent || r->ended;
    if (failed) {
        /* Every error is reported, whatever answered the client, so that
         * none goes unseen; nobody answered: the runtime's 500 with the
         * details of the first. */
        int top = lua_gettop(L); /* the first error's strings stay below */
        /* (An error whose cause the console has already said, such as a
         * store outage, keeps the app's own page.) */
        bool dev_page = answered && !r->w->app->hide_errors && !r->flushed && rs &&
                        lua_istable(L, ctx) && !logged &&
                        lusty__app_format(r->req) == LUSTY__APP_HTML;
        const char *got = !answered ? NULL : dev_page ? GOT_DEV_PAGE : GOT_APP_ANSWER;
        if (!(answered && logged))
            report_error(r, message, trace, got);
        const char *more, *more_trace;
        for (int i = 2; i <= 16 && lua_istable(L, ctx); i++) {
            lua_settop(L, top);
            if (!error_at(L, ctx, i, &more, &more_trace, &logged))
                break;
            if (!(answered && logged))
                report_error(r, more, more_trace, got);
        }
        lua_settop(L, top);
        if (!answered) {
            end_page_for(r, message, trace);
            return 0;
        }
        if (dev_page)
            use_dev_page(r, L, ctx, rs);
    }
    if (answered) {
        if (rs && !r->flushed) {
            apply_head(r, L, rs);
            add_live_script(r, rs);
        }
        end_sent(r);
        return 0;
    }
    int status = 200;
    if (rs) {
        lua_getfield(L, rs, "status");
        if (lua_isnumber(L, -1))
            status = (int)lua_tointeger(L, -1);
        lua_pop(L, 1);
    }
    if (status == 200 || status == 404 || status < 200 || status > 999) {
        end_page(r, 404, "Not Found", NULL, NULL);
        return 0;
    }
    /* A status with nothing sent (a redirect, 204 ...): the handlers'
     * headers and a small page for statuses that have a body. */
    apply_head(r, L, rs);
    if (status == 204 || status == 304) {
        lusty_http_response_end(r->res, NULL, 0);
        r->res = NULL;
    } else {
        end_page(r, status, lusty_http_status_reason(status), NULL, NULL);
    }
    return 0;
}

void lusty__app_finish(lusty__app_req_t *r, lua_State *L, const char *pipeline_err)
{
    int resp = lua_gettop(L);
    lua_pushcfunction(L, finish_protected);
    lua_pushlightuserdata(L, r);
    lua_pushvalue(L, resp - 1);
    lua_pushvalue(L, resp);
    if (pipeline_err)
        lua_pushstring(L, pipeline_err);
    else
        lua_pushnil(L);
    if (lua_pcall(L, 4, 0, 0) != 0 && r->res) {
        /* A metamethod of the app's tables raised while the response was
         * read: say so rather than crash. */
        char *m = lusty__app_relative(r->w->app, lua_tostring(L, -1));
        lusty__app_report(r->w->app, LUSTY_APP_ERROR, m ? m : "error while writing the response");
        end_page(r, 500, "Internal Server Error", m, NULL);
        lusty_free(m);
    }
    lua_settop(L, resp - 2);
    lusty_buf_clear(&r->body);
}
