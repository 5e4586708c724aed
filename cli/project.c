/* Finding a project and reading its lusty.json. */
#include "project.h"

#include "error.h"
#include "fs.h"
#include "lusty/alloc.h"
#include "lusty/error.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

int cli_project_find(const char *start, char **dir_out)
{
    *dir_out = NULL;
    char real[PATH_MAX];
    if (!realpath(start, real))
        return LUSTY_ENOENT;
    for (;;) {
        char *manifest = cli_path_join(real, CLI_PROJECT_MANIFEST);
        bool found = cli_exists(manifest) && !cli_is_dir(manifest);
        lusty_free(manifest);
        if (found) {
            *dir_out = lusty_strdup(real);
            return 0;
        }
        char *slash = strrchr(real, '/');
        if (!slash || slash == real) {
            if (strcmp(real, "/") == 0)
                return LUSTY_ENOENT;
            real[1] = '\0'; /* try the root itself last */
            continue;
        }
        *slash = '\0';
    }
}

/* "line 3, column 7" of a position in `text`. */
static char *position(const char *text, const char *at)
{
    int line = 1, col = 1;
    for (const char *p = text; p < at && *p; p++) {
        if (*p == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    return lusty_asprintf("line %d, column %d", line, col);
}

int cli_project_open(cli_project_t **out, const char *start, char **err_out)
{
    *out = NULL;
    *err_out = NULL;
    char *dir = NULL, *text = NULL;
    size_t len = 0;
    int rc = cli_project_find(start, &dir);
    if (rc != 0 && !cli_is_dir(start)) {
        *err_out = lusty_asprintf("cannot open '%s': no such folder", start);
        return LUSTY_ENOENT;
    }
    if (rc != 0) {
        *err_out =
            lusty_asprintf("no %s in '%s' or any folder above it", CLI_PROJECT_MANIFEST, start);
        return LUSTY_ENOENT;
    }
    cli_project_t *p = lusty_calloc(1, sizeof(*p));
    p->dir = dir;
    p->manifest_path = cli_path_join(dir, CLI_PROJECT_MANIFEST);
    int err = cli_read_file(p->manifest_path, &text, &len);
    if (err) {
        *err_out = lusty_asprintf("cannot read '%s': %s", p->manifest_path, cli_strerror(err));
        rc = LUSTY_EIO;
        goto cleanup;
    }
    const char *end = NULL;
    p->manifest = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!p->manifest) {
        char *where = position(text, end ? end : text + len);
        *err_out =
            lusty_asprintf("'%s' is not valid JSON: syntax error near %s", p->manifest_path, where);
        lusty_free(where);
        rc = LUSTY_ESYNTAX;
        goto cleanup;
    }
    if (!cJSON_IsObject(p->manifest)) {
        *err_out = lusty_asprintf("'%s' must hold a JSON object", p->manifest_path);
        rc = LUSTY_ESYNTAX;
        goto cleanup;
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(p->manifest, "name");
    if (name && !cJSON_IsString(name)) {
        *err_out = lusty_asprintf("'%s': \"name\" must be a string", p->manifest_path);
        rc = LUSTY_ESYNTAX;
        goto cleanup;
    }
    const char *base = strrchr(p->dir, '/');
    p->name = name ? name->valuestring : (base && base[1] ? base + 1 : p->dir);
    *out = p;
    p = NULL;
    rc = 0;
cleanup:
    lusty_free(text);
    cli_project_free(p);
    return rc;
}

void cli_project_free(cli_project_t *p)
{
    if (!p)
        return;
    cJSON_Delete(p->manifest);
    lusty_free(p->manifest_path);
    lusty_free(p->dir);
    lusty_free(p);
}

const cJSON *cli_project_get(const cli_project_t *p, const char *dotted_key)
{
    const cJSON *node = p->manifest;
    const char *key = dotted_key;
    while (node && *key) {
        const char *dot = strchr(key, '.');
        size_t n = dot ? (size_t)(dot - key) : strlen(key);
        char *part = lusty_strndup(key, n);
        node = cJSON_IsObject(node) ? cJSON_GetObjectItemCaseSensitive(node, part) : NULL;
        lusty_free(part);
        key = dot ? dot + 1 : key + n;
    }
    return node;
}

char *cli_project_path(const cli_project_t *p, const char *path)
{
    return path[0] == '/' ? lusty_strdup(path) : cli_path_join(p->dir, path);
}
