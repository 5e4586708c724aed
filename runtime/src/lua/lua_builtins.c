/* `lusty.native`: the few native helpers the built-in handler modules of
 * runtime/lua/lusty/ need (contract section 8). Internal, may change:
 *
 *   render(path, partials, data, base)
 *       Renders the Mustache file `path` with the Lua value `data` (see
 *       lusty_lua_mustache_render()) and returns the text. `partials` (a
 *       table or nil) maps partial names to file paths; a partial it does not
 *       name is looked for as `<base>/<name>.mustache` when `base` is given,
 *       and renders as nothing when there is no such file. A file that
 *       cannot be read or compiled, or a failed render, raises the message
 *       ("path:line:col: what" for template errors).
 *   clear()       forgets every compiled template.
 *   compiles()    how many files were compiled so far (for tests).
 *   root()        the project root of the host, or nil.
 *   isatty(fd)    whether file descriptor `fd` is a terminal.
 *   now()         the wall-clock time in seconds, with sub-second digits.
 *   store_open(), store_run()
 *                 the store's backends (runtime/src/store/store_glue.h).
 *
 * Compiled templates are cached per Lua state by path. Each render checks,
 * once per file it uses, the file's size, modification time and inode with
 * stat(), and compiles it again when one of them changed; so an edited view
 * shows on the next request without any file watcher. A template used by a
 * render stays alive until that render ends, even when it is replaced in the
 * cache meanwhile (the render's `seen` table anchors it). */
#include "lua_builtins.h"

#include "lua_internal.h"
#include "store/store_glue.h"

#include "lusty/alloc.h"
#include "lusty/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TEMPLATE_MT "lusty.native.template"

/* One compiled file: a full userdata, freed by __gc. */
typedef struct {
    lusty_mustache_t *tpl;
    struct timespec mtime;
    off_t size;
    ino_t ino;
} entry_t;

/* Per-state counters, the first upvalue of render/clear/compiles. */
typedef struct {
    unsigned long compiles;
} nstate_t;

/* What the partials provider needs during one render; indexes are
 * absolute stack slots of native.render's frame. */
typedef struct {
    lua_State *L;
    nstate_t *ns;
    int cache;    /* path -> entry userdata */
    int seen;     /* path -> entry userdata, for this render */
    int partials; /* the partials argument (nil or a table) */
    const char *base;
} render_t;

static int entry_gc(lua_State *L)
{
    entry_t *e = luaL_checkudata(L, 1, TEMPLATE_MT);
    lusty_mustache_free(e->tpl);
    e->tpl = NULL;
    return 0;
}

/* Reads the whole file; returns a new buffer (lusty_free()) or NULL with
 * errno set. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    lusty_buf_t b = LUSTY_BUF_INIT;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        lusty_buf_append(&b, chunk, n);
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        lusty_buf_free(&b);
        errno = EIO;
        return NULL;
    }
    return lusty_buf_detach(&b, len);
}

static int same_file(const entry_t *e, const struct stat *st)
{
    return e->size == st->st_size && e->ino == st->st_ino &&
           e->mtime.tv_sec == st->st_mtim.tv_sec && e->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* The compiled template of `path`: from this render's `seen` table, else
 * from the cache when the file has not changed, else compiled afresh.
 * Returns NULL with *err_out set (owned by the caller) when the file cannot
 * be read or does not compile. The Lua stack is left as it was. */
static const lusty_mustache_t *get_template(render_t *r, const char *path, char **err_out)
{
    lua_State *L = r->L;
    lua_getfield(L, r->seen, path);
    if (!lua_isnil(L, -1)) {
        entry_t *e = lua_touserdata(L, -1);
        lua_pop(L, 1);
        return e->tpl;
    }
    lua_pop(L, 1);

    struct stat st;
    if (stat(path, &st) != 0) {
        *err_out = lusty_asprintf("cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    lua_getfield(L, r->cache, path);
    entry_t *e = lua_touserdata(L, -1);
    if (e && e->tpl && same_file(e, &st)) {
        lua_setfield(L, r->seen, path);
        return e->tpl;
    }
    lua_pop(L, 1);

    size_t len = 0;
    char *src = read_file(path, &len);
    if (!src) {
        *err_out = lusty_asprintf("cannot read '%s': %s", path, strerror(errno));
        return NULL;
    }
    lusty_mustache_t *tpl = NULL;
    lusty_mustache_error_t merr = {0};
    int rc = lusty_mustache_compile(&tpl, path, src, len, &merr);
    lusty_free(src);
    if (rc != 0) {
        *err_out = merr.message ? merr.message : lusty_asprintf("cannot compile '%s'", path);
        merr.message = NULL;
        lusty_mustache_error_free(&merr);
        return NULL;
    }
    r->ns->compiles++;
    e = lua_newuserdata(L, sizeof *e);
    e->tpl = tpl;
    e->mtime = st.st_mtim;
    e->size = st.st_size;
    e->ino = st.st_ino;
    luaL_getmetatable(L, TEMPLATE_MT);
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, r->cache, path);
    lua_setfield(L, r->seen, path);
    return tpl;
}

/* The partials provider: the file the partials table names, else
 * <base>/<name>.mustache when it exists, else nothing. */
static const lusty_mustache_t *get_partial(void *ud, const char *name, size_t name_len,
                                           char **err_out)
{
    render_t *r = ud;
    lua_State *L = r->L;
    const lusty_mustache_t *tpl = NULL;
    if (lua_istable(L, r->partials)) {
        lua_pushlstring(L, name, name_len);
        lua_rawget(L, r->partials);
        if (lua_type(L, -1) == LUA_TSTRING) {
            tpl = get_template(r, lua_tostring(L, -1), err_out);
            lua_pop(L, 1);
            return tpl;
        }
        lua_pop(L, 1);
    }
    if (!r->base)
        return NULL;
    char *path = lusty_asprintf("%s/%.*s.mustache", r->base, (int)name_len, name);
    struct stat st;
    if (stat(path, &st) == 0)
        tpl = get_template(r, path, err_out);
    lusty_free(path);
    return tpl;
}

static int l_render(lua_State *L)
{
    luaL_checkstring(L, 1);
    if (!lua_isnoneornil(L, 2))
        luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 4);
    render_t r = {
        .L = L,
        .ns = lua_touserdata(L, lua_upvalueindex(1)),
        .partials = 2,
        .base = lua_isstring(L, 4) ? lua_tostring(L, 4) : NULL,
    };
    lua_pushvalue(L, lua_upvalueindex(2));
    r.cache = lua_gettop(L);
    lua_newtable(L);
    r.seen = lua_gettop(L);

    char *err = NULL;
    const lusty_mustache_t *tpl = get_template(&r, lua_tostring(L, 1), &err);
    if (!tpl) {
        lua_pushstring(L, err);
        lusty_free(err);
        return lua_error(L);
    }
    lusty_mustache_partials_t partials = {get_partial, &r};
    lusty_buf_t out = LUSTY_BUF_INIT;
    lusty_mustache_error_t merr = {0};
    if (lusty_lua_mustache_render(L, 3, tpl, &partials, &out, &merr) != 0) {
        lua_pushstring(L, merr.message ? merr.message : "cannot render the template");
        lusty_mustache_error_free(&merr);
        lusty_buf_free(&out);
        return lua_error(L);
    }
    lua_pushlstring(L, out.data ? out.data : "", out.len);
    lusty_buf_free(&out);
    return 1;
}

static int l_clear(lua_State *L)
{
    int cache = lua_upvalueindex(2);
    lua_pushnil(L);
    while (lua_next(L, cache)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_pushnil(L);
        lua_rawset(L, cache);
    }
    return 0;
}

static int l_compiles(lua_State *L)
{
    nstate_t *ns = lua_touserdata(L, lua_upvalueindex(1));
    lua_pushnumber(L, (lua_Number)ns->compiles);
    return 1;
}

static int l_root(lua_State *L)
{
    lusty__lua_t *S = lusty__lua_state(L);
    const char *root = S && S->host ? lusty_lua_host_root(S->host) : NULL;
    if (root)
        lua_pushstring(L, root);
    else
        lua_pushnil(L);
    return 1;
}

static int l_isatty(lua_State *L)
{
    int fd = (int)luaL_optinteger(L, 1, 2);
    lua_pushboolean(L, isatty(fd) == 1);
    return 1;
}

static int l_now(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

static int open_native(lua_State *L)
{
    if (luaL_newmetatable(L, TEMPLATE_MT)) {
        lua_pushcfunction(L, entry_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);

    lua_createtable(L, 0, 6);
    int mod = lua_gettop(L);
    nstate_t *ns = lua_newuserdata(L, sizeof *ns);
    ns->compiles = 0;
    int nsidx = lua_gettop(L);
    lua_newtable(L); /* the cache */
    int cache = lua_gettop(L);
    static const struct {
        const char *name;
        lua_CFunction fn;
    } shared[] = {{"render", l_render}, {"clear", l_clear}, {"compiles", l_compiles}};
    for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++) {
        lua_pushvalue(L, nsidx);
        lua_pushvalue(L, cache);
        lua_pushcclosure(L, shared[i].fn, 2);
        lua_setfield(L, mod, shared[i].name);
    }
    lua_settop(L, mod);
    lua_pushcfunction(L, l_root);
    lua_setfield(L, mod, "root");
    lua_pushcfunction(L, l_isatty);
    lua_setfield(L, mod, "isatty");
    lua_pushcfunction(L, l_now);
    lua_setfield(L, mod, "now");
    lua_pushcfunction(L, lusty__store_l_open);
    lua_setfield(L, mod, "store_open");
    lua_pushcfunction(L, lusty__store_l_run);
    lua_setfield(L, mod, "store_run");
    return 1;
}

void lusty__lua_open_builtins(lua_State *L)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, open_native);
    lua_setfield(L, -2, "lusty.native");
    lua_pop(L, 2);
}
