/* The dependency report of bootstrap (rock_deps.h). */
#include "rock_deps.h"

#include "error.h"

#include "lusty/alloc.h"
#include "lusty/rockspec.h"

#include <string.h>

/* Rocks the runtime itself stands in for: Lua and LuaJIT, the Lusty core
 * and its bus, cjson. */
static const char *const PROVIDED[] = {
    "lua", "luajit", "lusty", "mediator_lua", "lua-cjson", "lua-cjson2", "luabitop", NULL,
};

static bool provided(const char *dep)
{
    for (const char *const *p = PROVIDED; *p; p++)
        if (strcmp(*p, dep) == 0)
            return true;
    return false;
}

size_t cli_rock_deps_report(const char *dir, const cli_source_list_t *handlers)
{
    size_t n = handlers->count, reported = 0;
    lusty_rockspec_t **rocks = lusty_calloc(n ? n : 1, sizeof *rocks);
    for (size_t i = 0; i < n; i++) {
        char *repo = lusty_asprintf("%s/lusty_modules/%s", dir, handlers->items[i].name);
        char *spec = lusty_rockspec_find(repo), *err = NULL;
        if (spec && lusty_rockspec_read(&rocks[i], spec, &err) != 0)
            cli_warning("cannot read the rockspec of '%s': %s", handlers->items[i].name, err);
        lusty_free(err);
        lusty_free(spec);
        lusty_free(repo);
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t d = 0; rocks[i] && d < rocks[i]->ndependencies; d++) {
            char *dep = lusty_rockspec_dependency_name(rocks[i]->dependencies[d]);
            bool ok = !dep[0] || provided(dep);
            for (size_t k = 0; k < n && !ok; k++)
                ok = strcmp(handlers->items[k].name, dep) == 0 ||
                     (rocks[k] && rocks[k]->package && strcmp(rocks[k]->package, dep) == 0);
            if (!ok) {
                cli_warning("'%s' needs '%s': add it to \"handlers\" in lusty.json",
                            handlers->items[i].name, dep);
                reported++;
            }
            lusty_free(dep);
        }
    }
    for (size_t i = 0; i < n; i++)
        lusty_rockspec_free(rocks[i]);
    lusty_free(rocks);
    return reported;
}
