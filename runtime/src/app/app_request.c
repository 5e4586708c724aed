/* A request's life: it gets a task (a coroutine) on the worker's current
 * generation, which builds the context, runs the pipeline and may wait any
 * number of times; when the task is done the response is written and the
 * request's memory goes back to the worker. Any number of requests are in
 * flight on a worker at once. */
#include "app_internal.h"

#include "lusty/alloc.h"

#include <lauxlib.h>
#include <lua.h>
#include <string.h>

/* Finished requests kept per worker for reuse (their body buffers keep
 * their memory), so that a request allocates nothing in C. */
#define SPARE_MAX 64

/* bind(box, response): makes the response table the box's environment,
 * where response.flush() finds it. */
static int bind_response(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TUSERDATA);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    lua_setfenv(L, 1);
    return 0;
}

/* The part of lusty__app_gen_prepare() that calls Lua, protected. */
static int prepare_protected(lua_State *L)
{
    lusty__app_gen_t *g = lua_touserdata(L, 1);
    /* The read-through to the global context: one metatable for all. */
    lua_createtable(L, 0, 1);
    lua_getglobal(L, "lusty");
    lua_pushvalue(L, -1);
    g->app_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (lua_istable(L, -1))
        lua_getfield(L, -1, "context");
    else
        lua_pushnil(L);
    lua_setfield(L, -3, "__index");
    lua_pop(L, 1);
    int mt = lua_gettop(L);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "lusty.context_builder");
    lua_call(L, 1, 1);
    lua_pushvalue(L, mt);
    lua_pushcfunction(L, bind_response);
    lua_pushcfunction(L, lusty__app_peer);
    lua_call(L, 3, 1);
    g->serve_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

bool lusty__app_gen_prepare(lusty__app_gen_t *g)
{
    lua_State *L = lusty_lua_host_state(g->host);
    lua_pushcfunction(L, prepare_protected);
    lua_pushlightuserdata(L, g);
    if (lua_pcall(L, 1, 0, 0) == 0)
        return true;
    /* A global `lusty` whose metatable raises, for one. */
    g->error = lusty_asprintf("cannot prepare the app for requests: %s", lua_tostring(L, -1));
    lua_pop(L, 1);
    return false;
}

static void link_req(lusty_app_worker_t *w, lusty__app_req_t *r)
{
    r->prev = NULL;
    r->next = w->reqs;
    if (w->reqs)
        w->reqs->prev = r;
    w->reqs = r;
    w->nreqs++;
}

static void unlink_req(lusty_app_worker_t *w, lusty__app_req_t *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        w->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    w->nreqs--;
}

static lusty__app_req_t *new_req(lusty_app_worker_t *w)
{
    lusty__app_req_t *r = w->spare;
    if (r) {
        w->spare = r->next;
        w->nspare--;
        lusty_buf_t body = r->body;
        memset(r, 0, sizeof *r);
        r->body = body;
        lusty_buf_clear(&r->body);
    } else {
        r = lusty_calloc(1, sizeof *r);
    }
    r->w = w;
    link_req(w, r);
    return r;
}

/* The request is over: its closures go dead, its generation is released
 * and its memory kept for the next one. */
static void release_req(lusty__app_req_t *r)
{
    lusty_app_worker_t *w = r->w;
    unlink_req(w, r);
    if (r->box)
        *r->box = NULL;
    lusty__app_gen_release(r->g);
    if (w->nspare < SPARE_MAX) {
        r->next = w->spare;
        w->spare = r;
        w->nspare++;
    } else {
        lusty_buf_free(&r->body);
        lusty_free(r);
    }
}

static void on_task_done(lusty_lua_task_t *task, int status, void *data)
{
    lusty__app_req_t *r = data;
    lusty_app_t *app = r->w->app;
    r->task = NULL;
    lua_State *L = lusty_lua_host_state(r->g->host);
    if (lusty_lua_task_strikes(task) >= 2) {
        char *msg = lusty_asprintf("%s %s: the request ran over its Lua time budget of %llu ms "
                                   "and was stopped",
                                   r->req->method, r->req->target,
                                   (unsigned long long)app->budget_ms);
        lusty__app_report(app, LUSTY_APP_BUDGET, msg);
        lusty_free(msg);
    }
    if (status == 0) {
        lua_State *co = lusty_lua_task_state(task);
        lua_settop(co, 2); /* context, response */
        lua_xmove(co, L, 2);
        lusty__app_finish(r, L, NULL);
    } else {
        lua_pushnil(L);
        lua_pushnil(L);
        lusty__app_finish(r, L, lusty_lua_task_error(task));
    }
    release_req(r);
}

/* The client went away: a request that waits is cancelled (its coroutine
 * and memory released, nothing written); one running finishes quietly. */
static void on_client_closed(void *data, lusty_http_response_t *res)
{
    lusty__app_req_t *r = data;
    if (!r->task || r->res != res)
        return;
    lusty_lua_task_cancel(r->task);
    r->task = NULL;
    lusty_http_response_end(r->res, NULL, 0);
    r->res = NULL;
    release_req(r);
}

void lusty__app_request_start(lusty_app_worker_t *w, lusty__app_gen_t *g,
                              const lusty_http_request_t *req, lusty_http_response_t *res,
                              unsigned live_gen)
{
    lusty_app_t *app = w->app;
    lusty__app_req_t *r = new_req(w);
    r->live_gen = live_gen;
    r->g = g;
    g->refs++;
    r->req = req;
    r->res = res;
    lua_State *L = lusty_lua_host_state(g->host);
    lua_checkstack(L, 24);
    /* serve(app, box, send, flush, end, <context args>) */
    lua_rawgeti(L, LUA_REGISTRYINDEX, g->serve_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, g->app_ref);
    lusty__app_push_response_fns(L, r);
    lusty__app_push_context_args(app, L, req, res);
    lusty_lua_task_t *task;
    lusty_lua_task_start(&task, g->host, 5 + LUSTY__APP_CONTEXT_ARGS, app->budget_ms,
                         on_task_done, r);
    /* NULL when it is already done (and `r` gone). */
    if (task) {
        r->task = task;
        lusty_http_response_on_close(res, on_client_closed, r);
    }
}

void lusty__app_requests_drop(lusty_app_worker_t *w)
{
    while (w->reqs) {
        lusty__app_req_t *r = w->reqs;
        lusty_lua_task_cancel(r->task);
        r->task = NULL;
        if (r->res && r->flushed)
            lusty_http_response_end(r->res, NULL, 0);
        else if (r->res)
            lusty_http_response_send_status(r->res, 503, NULL, NULL);
        r->res = NULL;
        release_req(r);
    }
}

void lusty__app_requests_free(lusty_app_worker_t *w)
{
    lusty__app_requests_drop(w);
    while (w->spare) {
        lusty__app_req_t *r = w->spare;
        w->spare = r->next;
        lusty_buf_free(&r->body);
        lusty_free(r);
    }
    w->nspare = 0;
}
