/* The project's part of the module path (docs/lua-host.md, "Module
 * path"): app/, the project's top folder, then each fetched repository
 * under lusty_modules/ in name order, with the folders its modules are in:
 *
 *   1. the handler's "path" in lusty.json when it has one: a folder
 *      ("src") or templates ("src/?.lua"), relative to the repository,
 *      and nothing else;
 *   2. otherwise the repository's top folder, then the folders its
 *      rockspec's build.modules puts modules in (`lustache =
 *      "src/lustache.lua"` gives src/), or, with no such rockspec, a src/
 *      folder when there is one.
 *
 * A build.modules entry whose file is not named after its module
 * (`["lusty-json.input.json"] = "src/input/json.lua"`) fits no template:
 * luarocks installs that file under the module's name, so such entries
 * are kept aside as a list of exact names (lusty__lua_project_module()). */
#include "lua_internal.h"

#include "lusty/alloc.h"
#include "lusty/rockspec.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The "handlers" object of <root>/lusty.json, or NULL (the caller
 * deletes *doc). */
static const cJSON *manifest_handlers(const char *root, cJSON **doc)
{
    *doc = NULL;
    char *path = lusty_asprintf("%s/lusty.json", root);
    FILE *f = fopen(path, "rb");
    lusty_free(path);
    if (!f)
        return NULL;
    lusty_buf_t b = LUSTY_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < (1u << 20))
        lusty_buf_append(&b, chunk, n);
    fclose(f);
    if (b.len)
        *doc = cJSON_ParseWithLength(b.data, b.len);
    lusty_buf_free(&b);
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(*doc, "handlers");
    return cJSON_IsObject(h) ? h : NULL;
}

/* One template relative to `dir`: a folder gets ?.lua and ?/init.lua. */
static void add_template(lusty_buf_t *p, const char *dir, const char *t)
{
    if (strchr(t, '?')) {
        lusty_buf_printf(p, ";%s/%s", dir, t);
        return;
    }
    size_t n = strlen(t);
    while (n > 0 && t[n - 1] == '/')
        n--;
    if (n == 0 || (n == 1 && t[0] == '.'))
        lusty_buf_printf(p, ";%s/?.lua;%s/?/init.lua", dir, dir);
    else
        lusty_buf_printf(p, ";%s/%.*s/?.lua;%s/%.*s/?/init.lua", dir, (int)n, t, dir, (int)n, t);
}

/* The folder (with its final '/') a build.modules entry says its module
 * is in: "src/" for lustache.context = "src/lustache/context.lua"; NULL
 * when the file is not named after the module. */
static char *module_folder(const char *module, const char *file)
{
    lusty_buf_t rel = LUSTY_BUF_INIT;
    for (const char *m = module; *m; m++)
        lusty_buf_putc(&rel, *m == '.' ? '/' : *m);
    char *result = NULL;
    const char *suffixes[] = {".lua", "/init.lua"};
    for (int i = 0; i < 2 && !result; i++) {
        size_t fl = strlen(file), rl = rel.len, sl = strlen(suffixes[i]);
        if (fl < rl + sl || strcmp(file + fl - sl, suffixes[i]) != 0 ||
            strncmp(file + fl - sl - rl, rel.data, rl) != 0)
            continue;
        size_t prefix = fl - sl - rl;
        if (prefix == 0 || file[prefix - 1] == '/')
            result = lusty_strndup(file, prefix);
    }
    lusty_buf_free(&rel);
    return result;
}

/* Whether a build.modules file may be loaded by its module's name: a Lua
 * file inside the repository. */
static bool mappable(const char *file)
{
    size_t n = strlen(file);
    if (file[0] == '/' || n < 5 || strcmp(file + n - 4, ".lua") != 0)
        return false;
    for (const char *c = file; c; c = strchr(c, '/')) {
        c += *c == '/';
        if (c[0] == '.' && c[1] == '.' && (c[2] == '/' || c[2] == '\0'))
            return false;
    }
    return true;
}

/* The templates of repository `name` at `dir`, and its renamed modules as
 * "module\tfile\n" lines in `map`. */
static void add_repo(lusty_buf_t *p, lusty_buf_t *map, const char *dir, const char *name,
                     const cJSON *handlers)
{
    const cJSON *entry = cJSON_GetObjectItemCaseSensitive(handlers, name);
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(entry, "path");
    if (cJSON_IsString(path)) {
        add_template(p, dir, path->valuestring);
        return;
    }
    if (cJSON_IsArray(path)) {
        const cJSON *t;
        cJSON_ArrayForEach(t, path)
        {
            if (cJSON_IsString(t))
                add_template(p, dir, t->valuestring);
        }
        return;
    }
    add_template(p, dir, ".");
    lusty_rockspec_t *rock = NULL;
    char *spec = lusty_rockspec_find(dir), *err = NULL;
    if (spec)
        lusty_rockspec_read(&rock, spec, &err);
    lusty_free(spec);
    lusty_free(err);
    bool any = false;
    char *seen[16];
    size_t nseen = 0;
    for (size_t i = 0; rock && i < rock->nmodules; i++) {
        char *folder = module_folder(rock->modules[i], rock->files[i]);
        if (!folder) {
            if (mappable(rock->files[i]))
                lusty_buf_printf(map, "%s\t%s/%s\n", rock->modules[i], dir, rock->files[i]);
            continue;
        }
        any = true;
        bool dup = folder[0] == '\0';
        for (size_t k = 0; k < nseen && !dup; k++)
            dup = strcmp(seen[k], folder) == 0;
        if (dup || nseen == sizeof seen / sizeof *seen) {
            lusty_free(folder);
            continue;
        }
        add_template(p, dir, folder);
        seen[nseen++] = folder;
    }
    for (size_t k = 0; k < nseen; k++)
        lusty_free(seen[k]);
    if (!any) {
        char *src = lusty_asprintf("%s/src", dir);
        if (is_dir(src))
            add_template(p, dir, "src");
        lusty_free(src);
    }
    lusty_rockspec_free(rock);
}

char *lusty__lua_project_path(const char *root, char **modules_out)
{
    lusty_buf_t p = LUSTY_BUF_INIT, map = LUSTY_BUF_INIT;
    lusty_buf_printf(&p, "%s/app/?.lua;%s/app/?/init.lua;%s/?.lua;%s/?/init.lua", root, root, root,
                     root);
    char *mods = lusty_asprintf("%s/lusty_modules", root);
    DIR *d = opendir(mods);
    if (d) {
        char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            char *dir = lusty_asprintf("%s/%s", mods, de->d_name);
            if (is_dir(dir)) {
                names = lusty_grow(names, &cap, n + 1, sizeof *names);
                names[n++] = lusty_strdup(de->d_name);
            }
            lusty_free(dir);
        }
        closedir(d);
        qsort(names, n, sizeof *names, cmp_str);
        cJSON *doc;
        const cJSON *handlers = n ? manifest_handlers(root, &doc) : (doc = NULL);
        for (size_t i = 0; i < n; i++) {
            char *dir = lusty_asprintf("%s/%s", mods, names[i]);
            add_repo(&p, &map, dir, names[i], handlers);
            lusty_free(dir);
            lusty_free(names[i]);
        }
        cJSON_Delete(doc);
        lusty_free(names);
    }
    lusty_free(mods);
    *modules_out = map.len ? lusty_buf_detach(&map, NULL) : NULL;
    lusty_buf_free(&map);
    return lusty_buf_detach(&p, NULL);
}

char *lusty__lua_project_module(const char *modules, const char *name)
{
    size_t n = strlen(name);
    for (const char *l = modules; l && *l;) {
        const char *tab = strchr(l, '\t'), *end = strchr(l, '\n');
        if (!tab || !end)
            break;
        if ((size_t)(tab - l) == n && strncmp(l, name, n) == 0) {
            char *file = lusty_strndup(tab + 1, (size_t)(end - tab - 1));
            if (is_dir(file) || access(file, F_OK) != 0) {
                lusty_free(file);
                return NULL;
            }
            return file;
        }
        l = end + 1;
    }
    return NULL;
}
