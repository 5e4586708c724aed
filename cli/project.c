/* Finding a project and reading its lusty.json. */
#include "project.h"

#include "error.h"
#include "fs.h"
#include "lusty/alloc.h"
#include "lusty/buf.h"
#include "lusty/error.h"

#include "opt.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
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

/* The number of continuation bytes after lead byte `c`, or -1 when `c`
 * cannot start a UTF-8 sequence. */
static int utf8_tail(unsigned char c)
{
    if (c < 0x80)
        return 0;
    if (c >= 0xc2 && c <= 0xdf)
        return 1;
    if ((c & 0xf0) == 0xe0)
        return 2;
    if (c >= 0xf0 && c <= 0xf4)
        return 3;
    return -1;
}

/* The offset of the first byte of `text` that is not valid UTF-8, or -1. */
static long bad_utf8(const unsigned char *text, size_t len)
{
    for (size_t i = 0; i < len;) {
        unsigned char c = text[i];
        int n = utf8_tail(c);
        if (n < 0 || i + (size_t)n >= len)
            return (long)i;
        for (int k = 1; k <= n; k++)
            if ((text[i + k] & 0xc0) != 0x80)
                return (long)i;
        /* Overlong forms, surrogates and code points past U+10FFFF. */
        if ((c == 0xe0 && text[i + 1] < 0xa0) || (c == 0xed && text[i + 1] > 0x9f) ||
            (c == 0xf0 && text[i + 1] < 0x90) || (c == 0xf4 && text[i + 1] > 0x8f))
            return (long)i;
        i += (size_t)n + 1;
    }
    return -1;
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
    if (len > CLI_PROJECT_MANIFEST_MAX) {
        *err_out = lusty_asprintf("'%s' is too big: %zu bytes, more than the %d KiB a project "
                                  "file may have",
                                  p->manifest_path, len, CLI_PROJECT_MANIFEST_MAX / 1024);
        rc = LUSTY_ESYNTAX;
        goto cleanup;
    }
    long bad = bad_utf8((const unsigned char *)text, len);
    if (bad >= 0) {
        char *where = position(text, text + bad);
        *err_out = lusty_asprintf("'%s' is not valid UTF-8 at %s", p->manifest_path, where);
        lusty_free(where);
        rc = LUSTY_ESYNTAX;
        goto cleanup;
    }
    const char *end = NULL;
    p->manifest = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (p->manifest && end) {
        /* cJSON stops after the value: anything but blanks after it is an error. */
        const char *rest = end;
        while (rest < text + len && strchr(" \t\r\n", *rest) && *rest)
            rest++;
        if (rest < text + len) {
            char *where = position(text, rest);
            *err_out = lusty_asprintf("'%s' is not valid JSON: unexpected text after the "
                                      "object at %s",
                                      p->manifest_path, where);
            lusty_free(where);
            rc = LUSTY_ESYNTAX;
            goto cleanup;
        }
    }
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

/* ---- Checking a manifest's keys and values ---- */

/* What a key holds. Objects list their keys in `keys`; KIND_MAP is an
 * object whose keys are the user's own (handler names, URL prefixes), and
 * whose values, when `keys` is given, are all checked against keys[0].
 * KIND_CHOICE is one of the strings of `choices`; KIND_STRINGS an array
 * of strings. */
typedef enum {
    KIND_STRING,
    KIND_BOOL,
    KIND_INT,
    KIND_OBJECT,
    KIND_MAP,
    KIND_CHOICE,
    KIND_STRINGS
} kind_t;

typedef struct key_spec {
    const char *name;
    kind_t kind;
    long min, max; /* KIND_INT */
    const struct key_spec *keys;
    const char *const *choices; /* KIND_CHOICE, NULL-terminated */
} key_spec_t;

static const key_spec_t limit_keys[] = {
    {"header_bytes", KIND_INT, 1, 80 * 1024, NULL}, /* http-parser's own ceiling */
    {"url_bytes", KIND_INT, 1, 1L << 40, NULL},
    {"body_bytes", KIND_INT, 1, 1L << 40, NULL},
    {"header_timeout_ms", KIND_INT, 1, 1L << 40, NULL},
    {"idle_timeout_ms", KIND_INT, 1, 1L << 40, NULL},
    {"max_connections", KIND_INT, 1, 1L << 40, NULL},
    {"max_connections_per_address", KIND_INT, 1, 1L << 40, NULL},
    {"body_memory_bytes", KIND_INT, 1, 1L << 40, NULL},
    {NULL, 0, 0, 0, NULL},
};

static const key_spec_t bootstrap_keys[] = {
    {"archive_max_bytes", KIND_INT, 1, 1L << 50, NULL},
    {"archive_max_entries", KIND_INT, 1, 1L << 40, NULL},
    {NULL, 0, 0, 0, NULL},
};

/* What conf/nginx.conf and conf/lusty.service are made with (deploy.h). */
static const key_spec_t deploy_keys[] = {
    {"host", KIND_STRING, 0, 0, NULL},
    {"listen", KIND_INT, 1, 65535, NULL},
    {"server_name", KIND_STRING, 0, 0, NULL},
    {"upstreams", KIND_STRINGS, 0, 0, NULL},
    {"dir", KIND_STRING, 0, 0, NULL},
    {"user", KIND_STRING, 0, 0, NULL},
    {NULL, 0, 0, 0, NULL},
};

static const key_spec_t server_keys[] = {
    {"host", KIND_STRING, 0, 0, NULL},
    {"port", KIND_INT, 0, 65535, NULL},
    {"lua_budget_ms", KIND_INT, 0, 86400000, NULL},
    {"workers", KIND_INT, 1, 256, NULL},
    {"trusted_proxies", KIND_STRINGS, 0, 0, NULL},
    {"static", KIND_MAP, 0, 0, NULL},
    {"limits", KIND_OBJECT, 0, 0, limit_keys},
    {NULL, 0, 0, 0, NULL},
};

static const key_spec_t mongodb_keys[] = {
    {"uri", KIND_STRING, 0, 0, NULL},
    {"database", KIND_STRING, 0, 0, NULL},
    {"required", KIND_BOOL, 0, 0, NULL},
    {NULL, 0, 0, 0, NULL},
};

/* The store (docs/store.md): a backend for all collections, one per
 * collection, SQLite's file and settings, the fields to index. */
static const char *const store_backends[] = {"sqlite", "mongodb", NULL};
static const char *const store_syncs[] = {"normal", "full", NULL};

static const key_spec_t store_collection_keys[] = {
    {"backend", KIND_CHOICE, 0, 0, NULL, store_backends},
    {"path", KIND_STRING, 0, 0, NULL},
    {"database", KIND_STRING, 0, 0, NULL},
    {NULL, 0, 0, 0, NULL},
};

static const key_spec_t store_collection = {"", KIND_OBJECT, 0, 0, store_collection_keys};
static const key_spec_t store_index_fields = {"", KIND_STRINGS, 0, 0, NULL};

static const key_spec_t store_keys[] = {
    {"backend", KIND_CHOICE, 0, 0, NULL, store_backends},
    {"path", KIND_STRING, 0, 0, NULL},
    {"database", KIND_STRING, 0, 0, NULL},
    {"busy_timeout_ms", KIND_INT, 0, 600000, NULL},
    {"synchronous", KIND_CHOICE, 0, 0, NULL, store_syncs},
    {"indexes", KIND_MAP, 0, 0, &store_index_fields},
    {"collections", KIND_MAP, 0, 0, &store_collection},
    {NULL, 0, 0, 0, NULL},
};

static const key_spec_t top_keys[] = {
    {"name", KIND_STRING, 0, 0, NULL},
    {"description", KIND_STRING, 0, 0, NULL},
    {"version", KIND_STRING, 0, 0, NULL},
    {"app", KIND_STRING, 0, 0, NULL},
    {"env", KIND_STRING, 0, 0, NULL},
    {"deploy", KIND_OBJECT, 0, 0, deploy_keys},
    {"server", KIND_OBJECT, 0, 0, server_keys},
    {"handlers", KIND_MAP, 0, 0, NULL},
    {"shared_dict", KIND_MAP, 0, 0, NULL},
    {"mongodb", KIND_OBJECT, 0, 0, mongodb_keys},
    {"store", KIND_OBJECT, 0, 0, store_keys},
    {"bootstrap", KIND_OBJECT, 0, 0, bootstrap_keys},
    {NULL, 0, 0, 0, NULL},
};

static const key_spec_t top_spec = {"", KIND_OBJECT, 0, 0, top_keys};

static const char *kind_text(const key_spec_t *k)
{
    switch (k->kind) {
    case KIND_STRING:
        return "a string";
    case KIND_BOOL:
        return "true or false";
    case KIND_INT:
        return "a whole number";
    case KIND_STRINGS:
        return "an array of strings";
    default:
        return "an object";
    }
}

/* Every key the spec tree knows, as last names and dotted paths, so that
 * a key put at the wrong level can be told where it belongs ("statik" at
 * the top is "server.static"). */
typedef struct {
    const char *names[128];
    char *paths[128];
    size_t n;
} known_keys_t;

static void collect_keys(known_keys_t *all, const key_spec_t *spec, const char *prefix)
{
    for (const key_spec_t *k = spec->keys; k && k->name && all->n < 127; k++) {
        char *path = prefix[0] ? lusty_asprintf("%s.%s", prefix, k->name) : lusty_strdup(k->name);
        all->names[all->n] = k->name;
        all->paths[all->n++] = path;
        if (k->kind == KIND_OBJECT)
            collect_keys(all, k, path);
    }
    all->names[all->n] = NULL;
}

/* The dotted path of a known key elsewhere in the tree that `name` may
 * have meant, or NULL; free with lusty_free(). */
static char *guess_elsewhere(const char *name)
{
    known_keys_t all = {.n = 0};
    collect_keys(&all, &top_spec, "");
    const char *guess = cli_suggest(name, all.names);
    char *found = NULL;
    for (size_t i = 0; i < all.n; i++) {
        if (!found && all.names[i] == guess)
            found = lusty_strdup(all.paths[i]);
        lusty_free(all.paths[i]);
    }
    return found;
}

/* Checks `v` (at dotted `path`) against `spec`; returns the number of errors. */
static int check_value(const cli_project_t *p, const cJSON *v, const char *path,
                       const key_spec_t *spec)
{
    bool ok;
    switch (spec->kind) {
    case KIND_STRING:
        ok = cJSON_IsString(v);
        break;
    case KIND_BOOL:
        ok = cJSON_IsBool(v);
        break;
    case KIND_STRINGS:
        ok = cJSON_IsArray(v);
        for (const cJSON *it = ok ? v->child : NULL; it; it = it->next)
            ok = ok && cJSON_IsString(it);
        break;
    case KIND_INT:
        ok = cJSON_IsNumber(v) && v->valuedouble == (double)(long)v->valuedouble &&
             v->valuedouble >= (double)spec->min && v->valuedouble <= (double)spec->max;
        if (!ok) {
            cli_error("invalid '%s': %s must be a whole number from %ld to %ld", p->manifest_path,
                      path, spec->min, spec->max);
            return 1;
        }
        break;
    case KIND_CHOICE:
        ok = cJSON_IsString(v);
        for (const char *const *c = spec->choices; ok && *c; c++)
            if (strcmp(*c, v->valuestring) == 0)
                return 0;
        if (ok) {
            lusty_buf_t list = LUSTY_BUF_INIT;
            for (const char *const *c = spec->choices; *c; c++)
                lusty_buf_printf(&list, "%s\"%s\"", c == spec->choices ? "" : " or ", *c);
            cli_error("invalid '%s': %s must be %s", p->manifest_path, path, list.data);
            lusty_buf_free(&list);
            return 1;
        }
        break;
    default:
        ok = cJSON_IsObject(v);
        break;
    }
    if (!ok) {
        cli_error("invalid '%s': %s must be %s", p->manifest_path, path, kind_text(spec));
        return 1;
    }
    if (spec->kind != KIND_OBJECT && spec->kind != KIND_MAP)
        return 0;
    int errors = 0;
    for (const cJSON *it = v->child; it; it = it->next) {
        char *key = path[0] ? lusty_asprintf("%s.%s", path, it->string) : lusty_strdup(it->string);
        /* cJSON keeps every copy of a repeated key and reads the first. */
        for (const cJSON *before = v->child; before != it; before = before->next)
            if (strcmp(before->string, it->string) == 0) {
                cli_warning("'%s': duplicate key '%s': only the first one is used",
                            p->manifest_path, key);
                break;
            }
        if (spec->kind == KIND_OBJECT) {
            const key_spec_t *known = NULL;
            const char *names[32];
            size_t n = 0;
            for (const key_spec_t *k = spec->keys; k->name; k++) {
                if (strcmp(k->name, it->string) == 0)
                    known = k;
                if (n < 31)
                    names[n++] = k->name;
            }
            names[n] = NULL;
            if (known) {
                errors += check_value(p, it, key, known);
            } else {
                cli_warning("'%s': unknown key '%s' (ignored)", p->manifest_path, key);
                const char *guess = cli_suggest(it->string, names);
                char *elsewhere = guess ? NULL : guess_elsewhere(it->string);
                if (guess)
                    cli_hint("did you mean '%s%s%s'?", path, path[0] ? "." : "", guess);
                else if (elsewhere)
                    cli_hint("did you mean '%s'?", elsewhere);
                lusty_free(elsewhere);
            }
        } else if (spec->keys) {
            errors += check_value(p, it, key, spec->keys);
        }
        lusty_free(key);
    }
    return errors;
}

int cli_project_check(const cli_project_t *p)
{
    return check_value(p, p->manifest, "", &top_spec) ? LUSTY_EINVAL : 0;
}
