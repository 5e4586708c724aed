/* The Lua host: creates the LuaJIT state of a project (module path, native
 * modules, the global app object), runs files and the request pipeline,
 * and turns every Lua error into a message with its traceback.
 *
 * Every entry from C into Lua is a lua_pcall with msgh_top as the message
 * handler. Lua code's own xpcall (the request pipeline) uses
 * lusty__lua_msgh_record instead, which only notes the traceback of the
 * error and lets the error value itself travel unchanged. */
#include "lua_builtins.h"
#include "lua_internal.h"

#include "lusty/alloc.h"
#include "lusty/buf.h"
#include "lusty/error.h"
#include "lusty/lua_task.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

struct lusty_lua_host {
    lua_State *L;
    lusty__lua_t S;
    char *root;
    char *app;
    int app_ref; /* the app object */
};

static const char key_state = 0; /* registry -> lusty__lua_t * */

lusty__lua_t *lusty__lua_state(lua_State *L)
{
    lua_pushlightuserdata(L, (void *)&key_state);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lusty__lua_t *S = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return S;
}

/* ---- error handling ---- */

int lusty__lua_msgh_record(lua_State *L)
{
    lusty__lua_t *S = lua_touserdata(L, lua_upvalueindex(1));
    lua_settop(L, 1);
    if (S->rethrowing) {
        S->rethrowing = 0;
        lua_rawgeti(L, LUA_REGISTRYINDEX, S->last_err_ref);
        int same = lua_rawequal(L, 1, 2);
        lua_settop(L, 1);
        if (same)
            return 1; /* keep the traceback of where it was first raised */
    }
    lua_pushvalue(L, 1);
    lua_rawseti(L, LUA_REGISTRYINDEX, S->last_err_ref);
    luaL_traceback(L, L, NULL, 1);
    lua_rawseti(L, LUA_REGISTRYINDEX, S->last_trace_ref);
    return 1;
}

void lusty__lua_push_trace(lua_State *L, lusty__lua_t *S, int idx)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    lua_rawgeti(L, LUA_REGISTRYINDEX, S->last_err_ref);
    int same = lua_rawequal(L, idx, -1);
    lua_pop(L, 1);
    if (same)
        lua_rawgeti(L, LUA_REGISTRYINDEX, S->last_trace_ref);
    else
        luaL_traceback(L, L, NULL, 2);
    S->rethrowing = 0;
}

/* Pushes a printable message for the error value at `idx`. */
void lusty__lua_push_message(lua_State *L, int idx)
{
    int t = lua_type(L, idx);
    if (t == LUA_TSTRING || t == LUA_TNUMBER) {
        lua_pushvalue(L, idx);
        lua_tostring(L, -1);
        return;
    }
    if (luaL_callmeta(L, idx, "__tostring")) {
        if (lua_isstring(L, -1))
            return;
        lua_pop(L, 1);
    }
    if (t == LUA_TNIL)
        lua_pushliteral(L, "nil");
    else
        lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, idx));
}

/* The message handler of calls from C: "message\nstack traceback:...". */
static int msgh_top(lua_State *L)
{
    lusty__lua_t *S = lua_touserdata(L, lua_upvalueindex(1));
    lua_settop(L, 1);
    lusty__lua_push_message(L, 1);
    lua_pushliteral(L, "\n");
    lusty__lua_push_trace(L, S, 1);
    lua_concat(L, 3);
    return 1;
}

/* Calls the function below `nargs` arguments on top through msgh_top.
 * Returns 0, or LUSTY_ERUNTIME with the message in *err_out and nothing
 * left on the stack for the call. */
static int pcall(lusty_lua_host_t *h, int nargs, int nres, char **err_out)
{
    lua_State *L = h->L;
    int fn = lua_gettop(L) - nargs;
    lua_pushlightuserdata(L, &h->S);
    lua_pushcclosure(L, msgh_top, 1);
    lua_insert(L, fn);
    int rc = lua_pcall(L, nargs, nres, fn);
    lua_remove(L, fn);
    if (rc == 0)
        return 0;
    if (err_out)
        *err_out = lusty_strdup(lua_tostring(L, -1) ? lua_tostring(L, -1) : "unknown error");
    lua_pop(L, 1);
    return LUSTY_ERUNTIME;
}

static void set_err(char **err_out, const char *msg)
{
    if (err_out)
        *err_out = lusty_strdup(msg);
}

/* ---- the module path ---- */

char *lusty__lua_search(const char *path, const char *name, lusty_buf_t *tried)
{
    lusty_buf_t file = LUSTY_BUF_INIT;
    const char *p = path;
    while (p && *p) {
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        lusty_buf_clear(&file);
        for (size_t i = 0; i < len; i++) {
            if (p[i] == '?') {
                for (const char *n = name; *n; n++)
                    lusty_buf_putc(&file, *n == '.' ? '/' : *n);
            } else {
                lusty_buf_putc(&file, p[i]);
            }
        }
        if (len) {
            /* stat, not fopen: with the process out of descriptors a file
             * that exists must still be found (opening it then says what
             * is wrong), not reported as missing. */
            struct stat st;
            if (stat(file.data, &st) == 0 && S_ISREG(st.st_mode))
                return lusty_buf_detach(&file, NULL);
            if (tried)
                lusty_buf_printf(tried, "\n\tno file '%s'", file.data);
        }
        p = end ? end + 1 : NULL;
    }
    lusty_buf_free(&file);
    return NULL;
}

/* Loads `len` bytes of `src` as a chunk named `chunkname`, with `prefix`
 * put before it on the first line; a leading "#!" line is blanked so line
 * numbers stay those of the file. With `checks`, the source gets the time
 * budget's checks (lua_checks.c); bytecode is loaded as it is. */
static int load_source_checked(lua_State *L, const char *prefix, const char *src, size_t len,
                               const char *chunkname, bool checks)
{
    lusty_buf_t buf = LUSTY_BUF_INIT;
    if (prefix)
        lusty_buf_puts(&buf, prefix);
    if (len && src[0] == '#') {
        const char *nl = memchr(src, '\n', len);
        size_t skip = nl ? (size_t)(nl - src) : len;
        src += skip;
        len -= skip;
    }
    if (checks && !(len && src[0] == LUA_SIGNATURE[0]))
        lusty__lua_insert_checks(&buf, src, len);
    else
        lusty_buf_append(&buf, src, len);
    int rc = luaL_loadbuffer(L, buf.data ? buf.data : "", buf.len, chunkname);
    lusty_buf_free(&buf);
    return rc == 0 ? 0 : LUSTY_ESYNTAX;
}

static int load_source(lua_State *L, const char *prefix, const char *src, size_t len,
                       const char *chunkname)
{
    return load_source_checked(L, prefix, src, len, chunkname, false);
}

/* An editor or a shell's `>` saves by truncating, then writing: for a
 * moment the file is empty. Loading it then would give the app a module
 * that is nothing (a route answering 404) until the next reload. So an
 * empty file modified in the last 500 ms is given up to 200 ms to get its
 * content. This blocks the worker, but only in that rare moment, and a
 * loader cannot suspend (require is a C function). */
static void wait_while_truncated(FILE *f)
{
    struct stat st;
    for (int tries = 0; tries < 40; tries++) {
        struct timespec now;
        if (fstat(fileno(f), &st) != 0 || st.st_size > 0 ||
            clock_gettime(CLOCK_REALTIME, &now) != 0)
            return;
        int64_t age_ms = (int64_t)(now.tv_sec - st.st_mtim.tv_sec) * 1000 +
                         (now.tv_nsec - st.st_mtim.tv_nsec) / 1000000;
        if (age_ms > 500)
            return;
        nanosleep(&(struct timespec){.tv_nsec = 5 * 1000 * 1000}, NULL);
    }
}

static int load_file(lua_State *L, const char *file, const char *prefix)
{
    FILE *f = fopen(file, "rb");
    if (!f) {
        /* Messages are lower case ("no such file or directory"). */
        char why[128];
        snprintf(why, sizeof why, "%s", strerror(errno));
        why[0] = (char)tolower((unsigned char)why[0]);
        lua_pushfstring(L, "cannot open '%s': %s", file, why);
        return LUSTY_EIO;
    }
    wait_while_truncated(f);
    lusty_buf_t src = LUSTY_BUF_INIT;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        lusty_buf_append(&src, chunk, n);
    fclose(f);
    char *name = lusty_asprintf("@%s", file);
    /* Files are the app's code (or libraries it loads): budget checks. */
    int rc = load_source_checked(L, prefix, src.data ? src.data : "", src.len, name, true);
    lusty_free(name);
    lusty_buf_free(&src);
    return rc;
}

const lusty__lua_embedded_t *lusty__lua_embedded_find(const char *name, int first)
{
    for (const lusty__lua_embedded_t *e = lusty__lua_embedded; e->name; e++)
        if (e->first == first && strcmp(e->name, name) == 0)
            return e;
    return NULL;
}

int lusty__lua_load_module(lua_State *L, lusty__lua_t *S, const char *name, const char *prefix)
{
    const lusty__lua_embedded_t *e = lusty__lua_embedded_find(name, 1);
    if (e)
        return load_source(L, prefix, e->source, e->len, e->chunkname);
    lusty_buf_t tried = LUSTY_BUF_INIT;
    char *file = S->project_path ? lusty__lua_search(S->project_path, name, &tried) : NULL;
    if (!file && S->project_modules)
        file = lusty__lua_project_module(S->project_modules, name);
    if (!file && (e = lusty__lua_embedded_find(name, 0))) {
        lusty_buf_free(&tried);
        return load_source(L, prefix, e->source, e->len, e->chunkname);
    }
    if (!file) {
        lua_getglobal(L, "package");
        lua_getfield(L, -1, "path");
        const char *path = lua_tostring(L, -1);
        file = lusty__lua_search(path ? path : "", name, &tried);
        lua_pop(L, 2);
    }
    if (!file) {
        lusty__lua_push_not_found(L, S, name);
        lusty_buf_free(&tried);
        return LUSTY_ENOENT;
    }
    lusty_buf_free(&tried);
    int rc = load_file(L, file, prefix);
    lusty_free(file);
    return rc;
}

/* package.loaders entry for the app's own path: app/, the project root and
 * the fetched handler repositories. */
static int loader_project(lua_State *L)
{
    lusty__lua_t *S = lua_touserdata(L, lua_upvalueindex(1));
    const char *name = luaL_checkstring(L, 1);
    lusty_buf_t tried = LUSTY_BUF_INIT;
    char *file = S->project_path ? lusty__lua_search(S->project_path, name, &tried) : NULL;
    if (!file && S->project_modules)
        file = lusty__lua_project_module(S->project_modules, name);
    if (!file) {
        lua_pushstring(L, tried.data ? tried.data : "");
        lusty_buf_free(&tried);
        return 1;
    }
    lusty_buf_free(&tried);
    int rc = load_file(L, file, NULL);
    lusty_free(file);
    if (rc)
        return luaL_error(L, "error loading module '%s':\n\t%s", name, lua_tostring(L, -1));
    return 1;
}

/* package.loaders entry for the runtime's built-in Lua modules. */
static int loader_builtin(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const lusty__lua_embedded_t *e = lusty__lua_embedded_find(name, 0);
    if (!e) {
        lua_pushfstring(L, "\n\tno built-in module '%s'", name);
        return 1;
    }
    if (load_source(L, NULL, e->source, e->len, e->chunkname))
        return lua_error(L);
    return 1;
}

/* package.preload entry of an embedded first-tier module. */
static int preload_embedded(lua_State *L)
{
    const lusty__lua_embedded_t *e = lua_touserdata(L, lua_upvalueindex(1));
    if (load_source(L, NULL, e->source, e->len, e->chunkname))
        return lua_error(L);
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    return 1;
}

/* Sets package.path, package.preload and package.loaders (see the header). */
static void setup_modules(lusty_lua_host_t *h)
{
    lua_State *L = h->L;
    lua_getglobal(L, "package");
    int pkg = lua_gettop(L);
    if (h->S.project_path) {
        lua_getfield(L, pkg, "path");
        lua_pushfstring(L, "%s;%s", h->S.project_path, lua_tostring(L, -1));
        lua_setfield(L, pkg, "path");
        lua_pop(L, 1);
    }

    lua_getfield(L, pkg, "preload");
    int preload = lua_gettop(L);
    for (const lusty__lua_embedded_t *e = lusty__lua_embedded; e->name; e++) {
        if (!e->first)
            continue;
        lua_pushlightuserdata(L, (void *)e);
        lua_pushcclosure(L, preload_embedded, 1);
        lua_setfield(L, preload, e->name);
    }
    lua_pop(L, 1);
    lusty__lua_open_app(L);
    lusty__lua_open_builtins(L);
    lusty__lua_open_ngx(L);

    /* loaders: preload, the project, the built-ins, then Lua's own. */
    lua_getfield(L, pkg, "loaders");
    int loaders = lua_gettop(L);
    int n = (int)lua_objlen(L, loaders);
    for (int i = n; i >= 2; i--) {
        lua_rawgeti(L, loaders, i);
        lua_rawseti(L, loaders, i + 2);
    }
    lua_pushlightuserdata(L, &h->S);
    lua_pushcclosure(L, loader_project, 1);
    lua_rawseti(L, loaders, 2);
    lua_pushcfunction(L, loader_builtin);
    lua_rawseti(L, loaders, 3);
    lua_settop(L, pkg - 1);
    lusty__lua_open_require(L, &h->S);
}

/* ---- the host ---- */

/* Creates the default app object, with a fresh bus: the global `lusty`. */
static int make_app(lusty_lua_host_t *h, char **err_out)
{
    lua_State *L = h->L;
    lua_getglobal(L, "require");
    lua_pushliteral(L, "lusty");
    if (pcall(h, 1, 1, err_out))
        return LUSTY_ERUNTIME;
    if (pcall(h, 0, 1, err_out))
        return LUSTY_ERUNTIME;
    lua_pushvalue(L, -1);
    lua_setglobal(L, "lusty");
    h->app_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

int lusty_lua_host_new(lusty_lua_host_t **out, const lusty_lua_options_t *opts, char **err_out)
{
    *out = NULL;
    if (err_out)
        *err_out = NULL;
    lusty_lua_host_t *h = lusty_calloc(1, sizeof *h);
    h->app_ref = LUA_NOREF;
    /* LuaJIT on x86-64 needs its own allocator: luaL_newstate, not
     * lua_newstate. */
    h->L = luaL_newstate();
    if (!h->L) {
        set_err(err_out, "cannot create a Lua state: out of memory");
        lusty_free(h);
        return LUSTY_ENOMEM;
    }
    if (opts && opts->root) {
        h->root = lusty_strdup(opts->root);
        h->S.project_path = lusty__lua_project_path(h->root, &h->S.project_modules);
    }
    h->app = lusty_strdup(opts && opts->app && opts->app[0] ? opts->app : "app/config.lua");
    h->S.host = h;

    lua_State *L = h->L;
    h->S.L = L;
    luaL_openlibs(L);
    lusty__lua_budget_open(L, &h->S);
    lua_pushlightuserdata(L, (void *)&key_state);
    lua_pushlightuserdata(L, &h->S);
    lua_rawset(L, LUA_REGISTRYINDEX);

    lua_pushlightuserdata(L, &h->S);
    lua_pushcclosure(L, lusty__lua_msgh_record, 1);
    h->S.msgh_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushboolean(L, 0);
    h->S.last_err_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushboolean(L, 0);
    h->S.last_trace_ref = luaL_ref(L, LUA_REGISTRYINDEX);

    setup_modules(h);
    int rc = make_app(h, err_out);
    if (rc) {
        lusty_lua_host_free(h);
        return rc;
    }
    *out = h;
    return 0;
}

void lusty_lua_host_free(lusty_lua_host_t *h)
{
    if (!h)
        return;
    if (h->S.in_done) {
        /* Freed from a task's done callback: lua_task.c finishes the job
         * once the callback has returned. */
        h->S.free_pending = true;
        return;
    }
    /* Tasks and timers hold references into the state. */
    lusty__lua_tasks_close(&h->S);
    lua_close(h->L);
    lusty__lua_clock_free(h->S.clock);
    lusty_free(h->S.project_path);
    lusty_free(h->S.project_modules);
    lusty_buf_free(&h->S.scratch);
    lusty_free(h->root);
    lusty_free(h->app);
    lusty_free(h);
}

lusty__lua_t *lusty__lua_host_data(lusty_lua_host_t *h)
{
    return &h->S;
}

lua_State *lusty_lua_host_state(lusty_lua_host_t *h)
{
    return h->L;
}

const char *lusty_lua_host_root(const lusty_lua_host_t *h)
{
    return h->root;
}

/* Pushes t[key] for the table at `idx` without running a metamethod: a
 * raw lookup, then one in its metatable's __index when that is a table
 * (how methods are found on objects such as the app and the bus). */
static void push_method_raw(lua_State *L, int idx, const char *key)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    lua_pushstring(L, key);
    lua_rawget(L, idx);
    if (!lua_isnil(L, -1) || !lua_getmetatable(L, idx))
        return;
    lua_pushliteral(L, "__index");
    lua_rawget(L, -2);
    if (lua_istable(L, -1)) {
        lua_pushstring(L, key);
        lua_rawget(L, -2);
    } else {
        lua_pushnil(L);
    }
    lua_replace(L, -4);
    lua_pop(L, 2);
}

/* An app object: a table with an `event` bus (a table with a `publish`
 * method) and a `request` method. Read raw: a config's metamethods are not
 * ours to run outside a pcall. */
static int is_app(lua_State *L, int idx)
{
    if (!lua_istable(L, idx))
        return 0;
    int top = lua_gettop(L);
    push_method_raw(L, idx, "event");
    int ok = lua_istable(L, -1);
    if (ok) {
        push_method_raw(L, -1, "publish");
        ok = lua_isfunction(L, -1);
    }
    push_method_raw(L, idx, "request");
    ok = ok && lua_isfunction(L, -1);
    lua_settop(L, top);
    return ok;
}

int lusty_lua_host_load_app(lusty_lua_host_t *h, char **err_out)
{
    lua_State *L = h->L;
    int top = lua_gettop(L);
    if (err_out)
        *err_out = NULL;
    char *file = h->app[0] == '/' || !h->root ? lusty_strdup(h->app)
                                              : lusty_asprintf("%s/%s", h->root, h->app);
    int rc = 0;
    bool timed = false;
    struct stat st;
    if (stat(file, &st) != 0) {
        if (err_out)
            *err_out = lusty_asprintf("cannot open '%s': %s", file, strerror(errno));
        rc = LUSTY_ENOENT;
        goto cleanup;
    }
    rc = load_file(L, file, NULL);
    if (rc) {
        set_err(err_out, lua_tostring(L, -1));
        goto cleanup;
    }
    /* Loading runs the app's code: under the budget, so that a loop in
     * app/config.lua cannot hold the worker for good. */
    timed = lusty__lua_clock_enter(&h->S, "loading the app", h->S.budget_ms);
    if (timed)
        lusty__lua_clock_arm(h->S.clock, (int64_t)h->S.budget_ms * 1000000, 0);
    if ((rc = pcall(h, 0, 1, err_out)))
        goto cleanup;
    int conf = lua_gettop(L);
    if (is_app(L, conf)) {
        /* A reference-layout app.lua that built its own app object. */
        luaL_unref(L, LUA_REGISTRYINDEX, h->app_ref);
        lua_pushvalue(L, conf);
        lua_setglobal(L, "lusty");
        lua_pushvalue(L, conf);
        h->app_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        goto cleanup;
    }
    if (!lua_istable(L, conf)) {
        if (err_out)
            *err_out = lusty_asprintf("'%s' returned %s, not a table", file,
                                      luaL_typename(L, conf));
        rc = LUSTY_ERUNTIME;
        goto cleanup;
    }
    lua_getglobal(L, "require");
    lua_pushliteral(L, "lusty-config");
    if ((rc = pcall(h, 1, 1, err_out)))
        goto cleanup;
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->app_ref);
    lua_pushvalue(L, conf);
    rc = pcall(h, 2, 0, err_out);

cleanup:
    if (timed) {
        lusty__lua_clock_disarm(h->S.clock, NULL, false);
        lusty__lua_clock_leave(&h->S);
    }
    lua_settop(L, top);
    lusty_free(file);
    return rc;
}

/* Sets the global `arg` and pushes argv as the chunk's arguments. */
static void push_args(lua_State *L, const char *name, int argc, char **argv)
{
    lua_createtable(L, argc, 2);
    lua_pushliteral(L, "lusty");
    lua_rawseti(L, -2, -1);
    lua_pushstring(L, name);
    lua_rawseti(L, -2, 0);
    for (int i = 0; i < argc; i++) {
        lua_pushstring(L, argv[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setglobal(L, "arg");
    lua_checkstack(L, argc + 4);
    for (int i = 0; i < argc; i++)
        lua_pushstring(L, argv[i]);
}

typedef struct {
    lusty_lua_host_t *h;
    int *status;
    char **err_out;
    int rc;
} run_t;

/* The end of a script's task: its exit status is its numeric result. */
static void run_done(lusty_lua_task_t *task, int status, void *data)
{
    run_t *r = data;
    lua_State *co = lusty_lua_task_state(task);
    if (status) {
        *r->status = 1;
        set_err(r->err_out, lusty_lua_task_error(task));
        r->rc = LUSTY_ERUNTIME;
        return;
    }
    r->rc = 0;
    *r->status = 0;
    if (lua_gettop(co) >= 1) {
        if (lua_type(co, 1) == LUA_TNUMBER)
            *r->status = (int)lua_tointeger(co, 1);
        else if (lua_type(co, 1) == LUA_TBOOLEAN)
            *r->status = lua_toboolean(co, 1) ? 0 : 1;
    }
}

/* Runs the chunk on top with argv, as a task so that it may wait
 * (lusty.sleep, the store): on the host's loop when it has one, else on a
 * loop of its own run until the script and its timers are done. */
static int run_chunk(lusty_lua_host_t *h, const char *name, int argc, char **argv, int *status,
                     char **err_out)
{
    lua_State *L = h->L;
    *status = 0;
    uv_loop_t own;
    bool own_loop = h->S.loop == NULL;
    if (own_loop) {
        uv_loop_init(&own);
        h->S.loop = &own;
    }
    push_args(L, name, argc, argv);
    run_t r = {.h = h, .status = status, .err_out = err_out, .rc = LUSTY_ERUNTIME};
    lusty_lua_task_t *task;
    h->S.task_what = "script";
    lusty_lua_task_start(&task, h, argc, 0, run_done, &r);
    h->S.task_what = NULL;
    if (own_loop) {
        uv_run(&own, UV_RUN_DEFAULT);
        lusty__lua_tasks_close(&h->S);
        uv_run(&own, UV_RUN_DEFAULT);
        uv_loop_close(&own);
        h->S.loop = NULL;
    } else if (task) {
        /* A loop that is not ours runs later: the script cannot wait. */
        lusty_lua_task_cancel(task);
        set_err(err_out, "the script waited, which it cannot do here");
        *status = 1;
    }
    return r.rc;
}

int lusty_lua_host_run_file(lusty_lua_host_t *h, const char *path, int argc, char **argv,
                            int *status, char **err_out)
{
    if (err_out)
        *err_out = NULL;
    *status = 1;
    int rc = load_file(h->L, path, NULL);
    if (rc) {
        set_err(err_out, lua_tostring(h->L, -1));
        lua_pop(h->L, 1);
        return rc;
    }
    return run_chunk(h, path, argc, argv, status, err_out);
}

int lusty_lua_host_run_string(lusty_lua_host_t *h, const char *code, const char *name, int argc,
                              char **argv, int *status, char **err_out)
{
    if (err_out)
        *err_out = NULL;
    *status = 1;
    char *chunk = lusty_asprintf("=%s", name ? name : "(command line)");
    int rc = load_source(h->L, NULL, code, strlen(code), chunk);
    lusty_free(chunk);
    if (rc) {
        set_err(err_out, lua_tostring(h->L, -1));
        lua_pop(h->L, 1);
        return rc;
    }
    return run_chunk(h, name ? name : "-e", argc, argv, status, err_out);
}

int lusty_lua_host_request(lusty_lua_host_t *h, char **err_out)
{
    lua_State *L = h->L;
    if (err_out)
        *err_out = NULL;
    int ctx = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->app_ref);
    lua_getfield(L, -1, "request");
    lua_insert(L, -2);
    lua_pushvalue(L, ctx);
    int rc = pcall(h, 2, 0, err_out);
    lua_settop(L, ctx);
    return rc;
}

int lusty_lua_host_publish(lusty_lua_host_t *h, const char *path, int nargs, char **err_out)
{
    lua_State *L = h->L;
    if (err_out)
        *err_out = NULL;
    int base = lua_gettop(L) - nargs;
    /* lusty.event:publish(path, ...), the same call Lua code makes. */
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->app_ref);
    lua_getfield(L, -1, "event");
    lua_getfield(L, -1, "publish");
    lua_replace(L, -3);
    lua_pushstring(L, path);
    lua_insert(L, base + 1);
    lua_insert(L, base + 1);
    lua_insert(L, base + 1);
    int rc = pcall(h, nargs + 2, 1, err_out);
    if (rc)
        lua_settop(L, base);
    return rc;
}

/* ---- lusty channels ---- */

/* Copies field `key` of the table on top into `obj` as a number, string
 * or boolean. */
static void copy_field(lua_State *L, cJSON *obj, const char *key)
{
    lua_getfield(L, -1, key);
    switch (lua_type(L, -1)) {
    case LUA_TNUMBER:
        cJSON_AddNumberToObject(obj, key, lua_tonumber(L, -1));
        break;
    case LUA_TSTRING:
        cJSON_AddStringToObject(obj, key, lua_tostring(L, -1));
        break;
    default:
        cJSON_AddBoolToObject(obj, key, lua_toboolean(L, -1));
    }
    lua_pop(L, 1);
}

/* Turns the list made by lusty/channels.lua (on top, popped) into JSON. */
static cJSON *channels_json(lua_State *L)
{
    cJSON *arr = cJSON_CreateArray();
    int n = lua_istable(L, -1) ? (int)lua_objlen(L, -1) : 0;
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        cJSON *obj = cJSON_CreateObject();
        copy_field(L, obj, "channel");
        copy_field(L, obj, "depth");
        cJSON *subs = cJSON_AddArrayToObject(obj, "subscribers");
        lua_getfield(L, -1, "subscribers");
        int m = (int)lua_objlen(L, -1);
        for (int k = 1; k <= m; k++) {
            lua_rawgeti(L, -1, k);
            cJSON *s = cJSON_CreateObject();
            copy_field(L, s, "id");
            copy_field(L, s, "priority");
            copy_field(L, s, "module");
            copy_field(L, s, "predicate");
            cJSON_AddItemToArray(subs, s);
            lua_pop(L, 1);
        }
        lua_pop(L, 2);
        cJSON_AddItemToArray(arr, obj);
    }
    lua_pop(L, 1);
    return arr;
}

int lusty_lua_host_channels(lusty_lua_host_t *h, struct cJSON **out)
{
    lua_State *L = h->L;
    int top = lua_gettop(L);
    /* require('lusty.channels')(lusty.event) */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "lusty.channels");
    int rc = pcall(h, 1, 1, NULL);
    if (rc == 0) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, h->app_ref);
        lua_getfield(L, -1, "event");
        lua_remove(L, -2);
        rc = pcall(h, 1, 1, NULL);
    }
    *out = rc == 0 ? channels_json(L) : cJSON_CreateArray();
    lua_settop(L, top);
    return 0;
}
