/* Reading rockspecs (lusty/rockspec.h): the file runs in a bare Lua state
 * of its own, and its `package`, `dependencies` and `build.modules` are
 * copied out. */
#include "lusty/rockspec.h"

#include "lusty/alloc.h"
#include "lusty/error.h"

#include <dirent.h>
#include <lauxlib.h>
#include <lua.h>
#include <luajit.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Instructions a rockspec may run (they are literal tables, in practice a
 * few hundred). */
#define ROCKSPEC_MAX_INSTRUCTIONS 1000000
#define ROCKSPEC_MAX_BYTES (1 << 20)

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The last *.rockspec of `dir` in name order, or NULL. */
static char *last_rockspec(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char *best = NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !ends_with(de->d_name, ".rockspec"))
            continue;
        if (!best || strcmp(de->d_name, best) > 0) {
            lusty_free(best);
            best = lusty_strdup(de->d_name);
        }
    }
    closedir(d);
    if (!best)
        return NULL;
    char *path = lusty_asprintf("%s/%s", dir, best);
    lusty_free(best);
    return path;
}

char *lusty_rockspec_find(const char *dir)
{
    char *path = last_rockspec(dir);
    if (path)
        return path;
    char *sub = lusty_asprintf("%s/rockspecs", dir);
    path = last_rockspec(sub);
    lusty_free(sub);
    return path;
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    luaL_error(L, "runs too long (a rockspec is a table of settings)");
}

static char *dup_string(lua_State *L, int idx)
{
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    return lusty_strndup(s, len);
}

/* Copies the array of strings at the top into *list (other values are
 * skipped). */
static void copy_strings(lua_State *L, char ***list, size_t *n)
{
    size_t cap = 0;
    int len = lua_istable(L, -1) ? (int)lua_objlen(L, -1) : 0;
    for (int i = 1; i <= len; i++) {
        lua_rawgeti(L, -1, i);
        if (lua_type(L, -1) == LUA_TSTRING) {
            *list = lusty_grow(*list, &cap, *n + 1, sizeof **list);
            (*list)[(*n)++] = dup_string(L, -1);
        }
        lua_pop(L, 1);
    }
}

/* build.modules entries whose value is a file (C modules, tables, are
 * not Lua files we could load), sorted by name. */
static void copy_modules(lua_State *L, lusty_rockspec_t *r)
{
    size_t capm = 0, capf = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING &&
            ends_with(lua_tostring(L, -1), ".lua")) {
            size_t k = r->nmodules;
            r->modules = lusty_grow(r->modules, &capm, k + 1, sizeof *r->modules);
            r->files = lusty_grow(r->files, &capf, k + 1, sizeof *r->files);
            r->modules[k] = dup_string(L, -2);
            r->files[k] = dup_string(L, -1);
            r->nmodules++;
        }
        lua_pop(L, 1);
    }
}

int lusty_rockspec_read(lusty_rockspec_t **out, const char *path, char **err_out)
{
    *out = NULL;
    *err_out = NULL;
    struct stat st;
    if (stat(path, &st) != 0) {
        *err_out = lusty_asprintf("cannot read '%s'", path);
        return LUSTY_ENOENT;
    }
    if (st.st_size > ROCKSPEC_MAX_BYTES) {
        *err_out = lusty_asprintf("'%s' is over 1 MiB", path);
        return LUSTY_ETOOBIG;
    }
    lua_State *L = luaL_newstate();
    if (!L) {
        *err_out = lusty_strdup("out of memory");
        return LUSTY_ENOMEM;
    }
    /* Interpreted only, so that the count hook sees every loop. */
    luaJIT_setmode(L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
    int rc = 0;
    if (luaL_loadfile(L, path) != 0) {
        *err_out = dup_string(L, -1);
        rc = LUSTY_ESYNTAX;
        goto cleanup;
    }
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_insert(L, -3); /* env, chunk, env */
    lua_setfenv(L, -2);
    lua_sethook(L, count_hook, LUA_MASKCOUNT, ROCKSPEC_MAX_INSTRUCTIONS);
    if (lua_pcall(L, 0, 0, 0) != 0) {
        *err_out = lusty_asprintf("%s", lua_tostring(L, -1));
        rc = LUSTY_ERUNTIME;
        goto cleanup;
    }
    lua_sethook(L, NULL, 0, 0);
    lusty_rockspec_t *r = lusty_calloc(1, sizeof *r);
    lua_getfield(L, -1, "package");
    if (lua_type(L, -1) == LUA_TSTRING)
        r->package = dup_string(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, -1, "dependencies");
    copy_strings(L, &r->dependencies, &r->ndependencies);
    lua_pop(L, 1);
    lua_getfield(L, -1, "build");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "modules");
        if (lua_istable(L, -1))
            copy_modules(L, r);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    /* Sorted by name, so that templates come out in the same order. */
    for (size_t i = 1; i < r->nmodules; i++)
        for (size_t j = i; j > 0 && cmp_str(&r->modules[j - 1], &r->modules[j]) > 0; j--) {
            char *m = r->modules[j], *f = r->files[j];
            r->modules[j] = r->modules[j - 1];
            r->files[j] = r->files[j - 1];
            r->modules[j - 1] = m;
            r->files[j - 1] = f;
        }
    *out = r;
cleanup:
    lua_close(L);
    return rc;
}

void lusty_rockspec_free(lusty_rockspec_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->ndependencies; i++)
        lusty_free(r->dependencies[i]);
    for (size_t i = 0; i < r->nmodules; i++) {
        lusty_free(r->modules[i]);
        lusty_free(r->files[i]);
    }
    lusty_free(r->dependencies);
    lusty_free(r->modules);
    lusty_free(r->files);
    lusty_free(r->package);
    lusty_free(r);
}

char *lusty_rockspec_dependency_name(const char *entry)
{
    while (*entry == ' ' || *entry == '\t')
        entry++;
    size_t n = strcspn(entry, " \t<>=~!");
    return lusty_strndup(entry, n);
}
