/* Project templates: lookup, template.json, rendering. */
#include "template.h"

#include "lusty/alloc.h"
#include "lusty/buf.h"
#include "lusty/error.h"
#include "lusty/mustache.h"
#include "version.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MANIFEST "template.json"

static void push_if_new(cli_path_list_t *list, const char *dir)
{
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->paths[i], dir) == 0)
            return;
    cli_path_list_push(list, dir);
}

void cli_template_search_path(cli_path_list_t *out)
{
    memset(out, 0, sizeof(*out));
    const char *env = getenv("LUSTY_TEMPLATES");
    if (env && *env) {
        char *copy = lusty_strdup(env);
        char *save = NULL;
        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save))
            push_if_new(out, d);
        lusty_free(copy);
    }
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    char *user = NULL;
    if (xdg && *xdg)
        user = lusty_asprintf("%s/lusty/templates", xdg);
    else if (home && *home)
        user = lusty_asprintf("%s/.config/lusty/templates", home);
    if (user) {
        push_if_new(out, user);
        lusty_free(user);
    }
    /* An installed tree can be moved as a whole: look beside the binary
     * before the configured prefix. The binary is lusty-cli, in
     * libexec/lusty/ (libexec/lusty/../../share/lusty/templates), or in a
     * build tree. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            const char *const layouts[] = {"%s/../../share/lusty/templates",
                                           "%s/../share/lusty/templates"};
            for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
                char *rel = lusty_asprintf(layouts[i], exe);
                char resolved[PATH_MAX];
                if (realpath(rel, resolved))
                    push_if_new(out, resolved);
                lusty_free(rel);
            }
        }
    }
    push_if_new(out, LUSTY_INSTALL_TEMPLATES_DIR);
    push_if_new(out, LUSTY_SOURCE_TEMPLATES_DIR);
}

/* 1-based line of `at` within `text`, for JSON error messages. */
static int line_of(const char *text, const char *at)
{
    int line = 1;
    for (const char *p = text; p < at && *p; p++)
        if (*p == '\n')
            line++;
    return line;
}

static int check_manifest(const cJSON *m, const char *file, char **err_out)
{
    static const struct {
        const char *key;
        int (*is)(const cJSON *);
        const char *what;
    } fields[] = {
        {"description", cJSON_IsString, "a string"},
        {"message", cJSON_IsString, "a string"},
        {"variables", cJSON_IsObject, "an object"},
        {"raw", cJSON_IsArray, "an array of glob strings"},
    };
    if (!cJSON_IsObject(m)) {
        *err_out = lusty_asprintf("invalid '%s': the top level must be an object", file);
        return -1;
    }
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, fields[i].key);
        if (v && !fields[i].is(v)) {
            *err_out = lusty_asprintf("invalid '%s': \"%s\" must be %s", file, fields[i].key,
                                      fields[i].what);
            return -1;
        }
    }
    const cJSON *raw = cJSON_GetObjectItemCaseSensitive(m, "raw");
    const cJSON *glob = NULL;
    cJSON_ArrayForEach(glob, raw)
    {
        if (!cJSON_IsString(glob)) {
            *err_out = lusty_asprintf("invalid '%s': \"raw\" must be an array of glob strings", file);
            return -1;
        }
    }
    const cJSON *var = NULL;
    cJSON_ArrayForEach(var, cJSON_GetObjectItemCaseSensitive(m, "variables"))
    {
        if (!cJSON_IsString(var) && !cJSON_IsNumber(var) && !cJSON_IsBool(var)) {
            *err_out = lusty_asprintf("invalid '%s': variable \"%s\" must have a string, number "
                                      "or boolean default",
                                      file, var->string);
            return -1;
        }
    }
    return 0;
}

static int load(cli_template_t **out, const char *dir, const char *name, char **err_out)
{
    *out = NULL;
    char *file = cli_path_join(dir, MANIFEST);
    char *text = NULL;
    cJSON *manifest = NULL;
    int rc = -1;
    int err = cli_read_file(file, &text, NULL);
    if (err == ENOENT) {
        *err_out = cli_is_dir(dir)
                       ? lusty_asprintf("'%s' is not a template: it has no %s", dir, MANIFEST)
                       : lusty_asprintf("template folder '%s' does not exist", dir);
        goto cleanup;
    }
    if (err) {
        *err_out = lusty_asprintf("cannot read '%s': %s", file, strerror(err));
        goto cleanup;
    }
    const char *end = NULL;
    manifest = cJSON_ParseWithOpts(text, &end, 1);
    if (!manifest) {
        *err_out = lusty_asprintf("cannot parse '%s': invalid JSON at line %d", file,
                                  line_of(text, end ? end : cJSON_GetErrorPtr()));
        goto cleanup;
    }
    if (check_manifest(manifest, file, err_out) != 0)
        goto cleanup;
    cli_template_t *t = lusty_calloc(1, sizeof(*t));
    t->name = lusty_strdup(name);
    t->dir = lusty_strdup(dir);
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(manifest, "description");
    t->description = lusty_strdup(cJSON_IsString(desc) ? desc->valuestring : "");
    t->manifest = manifest;
    manifest = NULL;
    *out = t;
    rc = 0;
cleanup:
    cJSON_Delete(manifest);
    lusty_free(text);
    lusty_free(file);
    return rc;
}

void cli_template_free(cli_template_t *t)
{
    if (!t)
        return;
    lusty_free(t->name);
    lusty_free(t->dir);
    lusty_free(t->description);
    cJSON_Delete(t->manifest);
    lusty_free(t);
}

int cli_template_find(cli_template_t **out, const char *name_or_path, char **err_out)
{
    *out = NULL;
    *err_out = NULL;
    if (strchr(name_or_path, '/')) {
        /* A path: the template's name is its folder's base name. */
        char *copy = lusty_strdup(name_or_path);
        size_t len = strlen(copy);
        while (len > 1 && copy[len - 1] == '/')
            copy[--len] = '\0';
        const char *base = strrchr(copy, '/');
        int rc = load(out, copy, base && base[1] ? base + 1 : copy, err_out);
        lusty_free(copy);
        return rc;
    }
    cli_path_list_t path;
    cli_template_search_path(&path);
    int rc = -1;
    for (size_t i = 0; i < path.count && rc != 0; i++) {
        char *dir = cli_path_join(path.paths[i], name_or_path);
        char *manifest = cli_path_join(dir, MANIFEST);
        if (cli_exists(manifest))
            rc = load(out, dir, name_or_path, err_out);
        lusty_free(manifest);
        lusty_free(dir);
        if (rc != 0 && *err_out)
            break; /* found but broken: say why rather than look further */
    }
    cli_path_list_free(&path);
    if (rc != 0 && !*err_out) {
        char *names = cli_template_names();
        *err_out = lusty_asprintf("unknown template '%s' (available: %s)", name_or_path, names);
        lusty_free(names);
        return LUSTY_ENOENT;
    }
    return rc;
}

static int compare_templates(const void *a, const void *b)
{
    const cli_template_t *ta = *(cli_template_t *const *)a, *tb = *(cli_template_t *const *)b;
    return strcmp(ta->name, tb->name);
}

int cli_template_list(cli_template_t ***out, size_t *count_out)
{
    cli_template_t **list = NULL;
    size_t count = 0, cap = 0;
    cli_path_list_t path;
    cli_template_search_path(&path);
    for (size_t i = 0; i < path.count; i++) {
        cli_file_entry_t *files = NULL;
        size_t nfiles = 0;
        char *failed = NULL;
        /* Only the direct children with a template.json are templates. */
        if (cli_list_files(path.paths[i], &files, &nfiles, &failed) != 0) {
            lusty_free(failed);
            continue;
        }
        for (size_t f = 0; f < nfiles; f++) {
            const char *slash = strchr(files[f].path, '/');
            if (!slash || strcmp(slash + 1, MANIFEST) != 0)
                continue;
            char *name = lusty_strndup(files[f].path, (size_t)(slash - files[f].path));
            bool seen = false;
            for (size_t k = 0; k < count && !seen; k++)
                seen = strcmp(list[k]->name, name) == 0;
            cli_template_t *t = NULL;
            char *err = NULL;
            char *dir = cli_path_join(path.paths[i], name);
            if (!seen && load(&t, dir, name, &err) == 0) {
                list = lusty_grow(list, &cap, count + 1, sizeof(*list));
                list[count++] = t;
            }
            lusty_free(err);
            lusty_free(dir);
            lusty_free(name);
        }
        cli_file_entries_free(files, nfiles);
    }
    cli_path_list_free(&path);
    if (count)
        qsort(list, count, sizeof(*list), compare_templates);
    *out = list;
    *count_out = count;
    return 0;
}

void cli_template_list_free(cli_template_t **list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        cli_template_free(list[i]);
    lusty_free(list);
}

char *cli_template_names(void)
{
    cli_template_t **list = NULL;
    size_t count = 0;
    cli_template_list(&list, &count);
    lusty_buf_t buf = LUSTY_BUF_INIT;
    for (size_t i = 0; i < count; i++)
        lusty_buf_printf(&buf, "%s%s", i ? ", " : "", list[i]->name);
    if (count == 0)
        lusty_buf_puts(&buf, "none found");
    cli_template_list_free(list, count);
    return lusty_buf_detach(&buf, NULL);
}

cJSON *cli_template_default_vars(const cli_template_t *t)
{
    const cJSON *vars = cJSON_GetObjectItemCaseSensitive(t->manifest, "variables");
    return vars ? cJSON_Duplicate(vars, 1) : cJSON_CreateObject();
}

static bool is_raw(const cli_template_t *t, const char *path)
{
    const cJSON *glob = NULL;
    cJSON_ArrayForEach(glob, cJSON_GetObjectItemCaseSensitive(t->manifest, "raw"))
    {
        if (fnmatch(glob->valuestring, path, 0) == 0)
            return true;
    }
    return false;
}

/* Renders `src` as a Mustache template named `name`. */
static int render_text(const char *name, const char *src, size_t len, const cJSON *vars,
                       lusty_buf_t *out, char **err_out)
{
    lusty_mustache_t *tpl = NULL;
    lusty_mustache_error_t err = {0};
    int rc = lusty_mustache_compile(&tpl, name, src, len, &err);
    if (rc == 0)
        rc = lusty_mustache_render(tpl, lusty_mustache_cjson_data(), vars, NULL, out, &err);
    if (rc != 0)
        *err_out = lusty_strdup(err.message ? err.message : "template error");
    lusty_mustache_error_free(&err);
    lusty_mustache_free(tpl);
    return rc == 0 ? 0 : -1;
}

/* A rendered path must stay inside the project, and be printable: no
 * control characters in a file name the plan will show. */
static bool safe_relative_path(const char *path)
{
    if (path[0] == '\0' || path[0] == '/')
        return false;
    for (const unsigned char *c = (const unsigned char *)path; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            return false;
    const char *p = path;
    while (*p) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.') ||
            (n == 4 && strncasecmp(p, ".git", 4) == 0))
            return false;
        p += n;
        if (*p == '/')
            p++;
    }
    return true;
}

/* A template is data. Its files are listed without following anything out
 * of it: a `.git` (a repository's hooks and config would run the author's
 * commands in the new project) is never part of it, a symbolic link is
 * copied as the file it points to only when that file is inside the
 * template, and anything else (links leaving it or naming folders, fifos,
 * devices) refuses the template. */
typedef struct {
    const char *root;
    char *real_root;
    cli_file_entry_t *items;
    size_t count, cap;
} tpl_walk_t;

static bool is_git_dir_name(const char *name)
{
    return strcasecmp(name, ".git") == 0;
}

static int compare_names(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static void add_entry(tpl_walk_t *w, const char *rel, mode_t mode)
{
    w->items = lusty_grow(w->items, &w->cap, w->count + 1, sizeof(*w->items));
    w->items[w->count].path = lusty_strdup(rel);
    w->items[w->count].mode = mode & 07777;
    w->count++;
}

/* Checks one symbolic link: 0 and the mode of the regular file inside the
 * template it points to, or -1 with *err_out set. */
static int check_link(const tpl_walk_t *w, const char *path, const char *rel, mode_t *mode_out,
                      char **err_out)
{
    char target[PATH_MAX], real[PATH_MAX];
    ssize_t n = readlink(path, target, sizeof(target) - 1);
    target[n > 0 ? n : 0] = '\0';
    struct stat st;
    size_t root_len = strlen(w->real_root);
    bool inside =
        realpath(path, real) && strncmp(real, w->real_root, root_len) == 0 && real[root_len] == '/';
    if (!inside) {
        *err_out = lusty_asprintf("template file '%s' is a symbolic link to '%s', outside the "
                                  "template: refused (a template may link only to its own files)",
                                  rel, target);
        return -1;
    }
    if (stat(real, &st) != 0 || !S_ISREG(st.st_mode)) {
        *err_out = lusty_asprintf("template file '%s' is a symbolic link to '%s', which is not a "
                                  "file: refused (a template may link only to its own files)",
                                  rel, target);
        return -1;
    }
    *mode_out = st.st_mode;
    return 0;
}

static int walk_template(tpl_walk_t *w, const char *rel, char **err_out)
{
    char *dir = rel[0] ? cli_path_join(w->root, rel) : lusty_strdup(w->root);
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, compare_names);
    if (n < 0) {
        *err_out = lusty_asprintf("cannot read template folder '%s': %s", dir, strerror(errno));
        lusty_free(dir);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        if (rc == 0 && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 &&
            !is_git_dir_name(name)) {
            char *child_rel = rel[0] ? cli_path_join(rel, name) : lusty_strdup(name);
            char *child = cli_path_join(w->root, child_rel);
            struct stat st;
            mode_t mode = 0;
            if (lstat(child, &st) != 0) {
                *err_out = lusty_asprintf("cannot read '%s': %s", child, strerror(errno));
                rc = -1;
            } else if (S_ISDIR(st.st_mode)) {
                rc = walk_template(w, child_rel, err_out);
            } else if (S_ISREG(st.st_mode)) {
                add_entry(w, child_rel, st.st_mode);
            } else if (S_ISLNK(st.st_mode)) {
                rc = check_link(w, child, child_rel, &mode, err_out);
                if (rc == 0)
                    add_entry(w, child_rel, mode);
            } else {
                *err_out =
                    lusty_asprintf("template file '%s' is not a regular file: refused", child_rel);
                rc = -1;
            }
            lusty_free(child);
            lusty_free(child_rel);
        }
        free(names[i]);
    }
    free(names);
    lusty_free(dir);
    return rc;
}

/* Lists the template's files as described above. Returns 0, or -1 with
 * *err_out set. */
static int list_template_files(const char *root, cli_file_entry_t **out, size_t *count_out,
                               char **err_out)
{
    tpl_walk_t w = {.root = root};
    char real[PATH_MAX];
    *out = NULL;
    *count_out = 0;
    if (!realpath(root, real)) {
        *err_out = lusty_asprintf("cannot read template folder '%s': %s", root, strerror(errno));
        return -1;
    }
    w.real_root = lusty_strdup(real);
    int rc = walk_template(&w, "", err_out);
    lusty_free(w.real_root);
    if (rc != 0) {
        cli_file_entries_free(w.items, w.count);
        return -1;
    }
    *out = w.items;
    *count_out = w.count;
    return 0;
}

/* The mode a new file gets: the template's permission bits (never setuid,
 * setgid or sticky) as the umask allows, as cp would make them. */
static mode_t file_mode(mode_t template_mode)
{
    mode_t mask = umask(022);
    umask(mask);
    return template_mode & 0777 & ~mask;
}

int cli_template_render(const cli_template_t *t, const cJSON *vars, cli_rendered_file_t **out,
                        size_t *count_out, char **err_out)
{
    cli_file_entry_t *files = NULL;
    size_t nfiles = 0;
    cli_rendered_file_t *result = NULL;
    size_t count = 0;
    int rc = -1;
    *out = NULL;
    *count_out = 0;
    if (list_template_files(t->dir, &files, &nfiles, err_out) != 0)
        return -1;
    result = lusty_calloc(nfiles ? nfiles : 1, sizeof(*result));
    for (size_t i = 0; i < nfiles; i++) {
        const char *rel = files[i].path;
        if (strcmp(rel, MANIFEST) == 0)
            continue;
        char *src_path = cli_path_join(t->dir, rel);
        char *text = NULL;
        size_t len = 0;
        int rerr = cli_read_file(src_path, &text, &len);
        lusty_buf_t name = LUSTY_BUF_INIT, content = LUSTY_BUF_INIT;
        int ok = -1;
        if (rerr) {
            *err_out = lusty_asprintf("cannot read '%s': %s", src_path, strerror(rerr));
        } else if (render_text(src_path, rel, strlen(rel), vars, &name, err_out) == 0) {
            if (!safe_relative_path(name.data)) {
                *err_out = lusty_asprintf("template file '%s' renders to the unsafe path '%s'",
                                          src_path, name.data);
            } else if (is_raw(t, rel)) {
                lusty_buf_append(&content, text, len);
                ok = 0;
            } else {
                ok = render_text(src_path, text, len, vars, &content, err_out);
            }
        }
        lusty_free(text);
        lusty_free(src_path);
        if (ok != 0) {
            lusty_buf_free(&name);
            lusty_buf_free(&content);
            goto cleanup;
        }
        cli_rendered_file_t *f = &result[count++];
        f->path = lusty_buf_detach(&name, NULL);
        f->content = lusty_buf_detach(&content, &f->len);
        f->mode = file_mode(files[i].mode);
    }
    *out = result;
    *count_out = count;
    result = NULL;
    count = 0;
    rc = 0;
cleanup:
    cli_rendered_files_free(result, count);
    cli_file_entries_free(files, nfiles);
    return rc;
}

char *cli_template_printable(const char *text)
{
    lusty_buf_t out = LUSTY_BUF_INIT;
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        bool c1 = c[0] == 0xc2 && c[1] >= 0x80 && c[1] <= 0x9f; /* U+0080-U+009F */
        if ((*c < 0x20 && *c != '\n' && *c != '\t') || *c == 0x7f) {
            lusty_buf_printf(&out, "\\x%02x", *c);
        } else if (c1) {
            lusty_buf_printf(&out, "\\u%04x", c[1]);
            c++;
        } else {
            lusty_buf_putc(&out, (char)*c);
        }
    }
    return lusty_buf_detach(&out, NULL);
}

void cli_rendered_files_free(cli_rendered_file_t *files, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        lusty_free(files[i].path);
        lusty_free(files[i].content);
    }
    lusty_free(files);
}
