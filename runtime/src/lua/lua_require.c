/* Errors of loading modules that say what matters (issue "no silent
 * errors"):
 *
 *   - a module that is not found is reported in a few lines: the places
 *     searched that matter (the app, each handler repository by name, the
 *     built-in modules, Lua's path) instead of every file tried, with a
 *     hint when the name's first part is no handler repository;
 *   - `require` (runtime/lua/lusty/require.lua) adds who asked (file:line)
 *     and reports a module that failed to load with its first cause on
 *     every later attempt, where Lua says only "loop or previous error".
 *
 * lusty__lua_open_require() replaces the global `require` with the wrapper
 * once the loaders are in place. */
#include "lua_internal.h"

#include "lusty/alloc.h"

#include <string.h>
#include <sys/stat.h>

/* The names of the handler repositories in the project path (entries
 * under ".../lusty_modules/<name>/"), each once, as "a, b and c" into
 * `out`; returns how many. */
static size_t repo_names(const char *path, lusty_buf_t *out, const char *want, bool *has_want)
{
    static const char marker[] = "/lusty_modules/";
    char last[256] = "";
    size_t n = 0;
    lusty_buf_t names = LUSTY_BUF_INIT;
    for (const char *p = path ? strstr(path, marker) : NULL; p; p = strstr(p, marker)) {
        p += sizeof marker - 1;
        size_t len = strcspn(p, "/;");
        if (len == 0 || len >= sizeof last || (strlen(last) == len && !strncmp(last, p, len)))
            continue;
        memcpy(last, p, len);
        last[len] = '\0';
        if (want && strlen(want) == len && !strncmp(want, p, len))
            *has_want = true;
        lusty_buf_printf(&names, "%s%s", n ? ", " : "", last);
        n++;
    }
    if (n)
        lusty_buf_append(out, names.data, names.len);
    lusty_buf_free(&names);
    return n;
}

void lusty__lua_push_not_found(lua_State *L, lusty__lua_t *S, const char *name)
{
    lusty_buf_t b = LUSTY_BUF_INIT;
    lusty_buf_printf(&b, "module '%s' not found; looked in ", name);
    /* The first part of the name, which is often a repository's name
     * (lusty-nginx.log). */
    char first[256];
    size_t flen = strcspn(name, ".");
    if (flen >= sizeof first)
        flen = sizeof first - 1;
    memcpy(first, name, flen);
    first[flen] = '\0';
    bool has_repo = false;
    if (S->project_path) {
        lusty_buf_puts(&b, "the app (app/ and the project's top folder), ");
        lusty_buf_t repos = LUSTY_BUF_INIT;
        size_t n = repo_names(S->project_path, &repos, first, &has_repo);
        if (n)
            lusty_buf_printf(&b, "the handler repositor%s %.*s, ", n == 1 ? "y" : "ies",
                             (int)repos.len, repos.data);
        else
            lusty_buf_puts(&b, "no handler repository (lusty_modules/ is empty), ");
        lusty_buf_free(&repos);
    }
    lusty_buf_puts(&b, "the runtime's built-in modules and Lua's package.path");
    if (S->project_path && !has_repo && (strchr(name, '.') || strchr(name, '-')))
        lusty_buf_printf(&b,
                         "\n\thint: if '%s' is a handler repository, add it to \"handlers\" in "
                         "lusty.json and run `lusty bootstrap`",
                         first);
    else if (has_repo)
        lusty_buf_printf(&b,
                         "\n\thint: lusty_modules/%s has no such file; check the module's name, "
                         "or its rockspec's layout (see docs/bootstrap.md)",
                         first);
    lua_pushlstring(L, b.data, b.len);
    lusty_buf_free(&b);
}

/* notFound(name) for the Lua side. */
static int l_not_found(lua_State *L)
{
    lusty__lua_t *S = lua_touserdata(L, lua_upvalueindex(1));
    lusty__lua_push_not_found(L, S, luaL_checkstring(L, 1));
    return 1;
}

void lusty__lua_open_require(lua_State *L, lusty__lua_t *S)
{
    /* require('lusty.require')(require, notFound) returns the wrapper. */
    lua_getglobal(L, "require");
    lua_pushliteral(L, "lusty.require");
    lua_call(L, 1, 1);
    lua_getglobal(L, "require");
    lua_pushlightuserdata(L, S);
    lua_pushcclosure(L, l_not_found, 1);
    lua_call(L, 2, 1);
    lua_setglobal(L, "require");
}
