/* Reading and writing lusty.lock, and reading the handlers of lusty.json. */
#include "lock.h"

#include "fs.h"
#include "lusty/alloc.h"
#include "lusty/buf.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char *dup_or_null(const char *s)
{
    return s ? lusty_strdup(s) : NULL;
}

void cli_source_copy(cli_source_t *dst, const cli_source_t *src)
{
    dst->name = dup_or_null(src->name);
    dst->kind = src->kind;
    dst->url = dup_or_null(src->url);
    dst->ref = dup_or_null(src->ref);
    dst->commit = dup_or_null(src->commit);
    dst->sha256 = dup_or_null(src->sha256);
}

void cli_source_clear(cli_source_t *src)
{
    lusty_free(src->name);
    lusty_free(src->url);
    lusty_free(src->ref);
    lusty_free(src->commit);
    lusty_free(src->sha256);
    memset(src, 0, sizeof(*src));
}

void cli_source_list_free(cli_source_list_t *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        cli_source_clear(&list->items[i]);
    lusty_free(list->items);
    list->items = NULL;
    list->count = 0;
}

const cli_source_t *cli_source_find(const cli_source_list_t *list, const char *name)
{
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->items[i].name, name) == 0)
            return &list->items[i];
    return NULL;
}

void cli_source_list_put(cli_source_list_t *list, const cli_source_t *src)
{
    size_t at = 0;
    while (at < list->count && strcmp(list->items[at].name, src->name) < 0)
        at++;
    if (at < list->count && strcmp(list->items[at].name, src->name) == 0) {
        cli_source_clear(&list->items[at]);
        cli_source_copy(&list->items[at], src);
        return;
    }
    list->items = lusty_realloc(list->items, (list->count + 1) * sizeof(*list->items));
    memmove(&list->items[at + 1], &list->items[at], (list->count - at) * sizeof(*list->items));
    list->count++;
    cli_source_copy(&list->items[at], src);
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool same_source(const cli_source_t *a, const cli_source_t *b)
{
    return same_str(a->name, b->name) && a->kind == b->kind && same_str(a->url, b->url) &&
           same_str(a->ref, b->ref) && same_str(a->commit, b->commit) &&
           same_str(a->sha256, b->sha256);
}

bool cli_source_list_equal(const cli_source_list_t *a, const cli_source_list_t *b)
{
    if (a->count != b->count)
        return false;
    for (size_t i = 0; i < a->count; i++)
        if (!same_source(&a->items[i], &b->items[i]))
            return false;
    return true;
}

bool cli_source_matches(const cli_source_t *decl, const cli_source_t *locked)
{
    if (!locked || decl->kind != locked->kind || !same_str(decl->url, locked->url))
        return false;
    if (decl->kind == CLI_SOURCE_GIT)
        return same_str(decl->ref, locked->ref) && locked->commit;
    return locked->sha256 && (!decl->sha256 || strcmp(decl->sha256, locked->sha256) == 0);
}

static bool is_hex(const char *s, size_t len)
{
    if (strlen(s) != len)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

static bool valid_handler_name(const char *name)
{
    if (!name[0] || name[0] == '.' || name[0] == '-' || strlen(name) > 100)
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static const char *get_string(const cJSON *obj, const char *key, bool *bad)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return NULL;
    if (!cJSON_IsString(v) || !v->valuestring[0]) {
        *bad = true;
        return NULL;
    }
    return v->valuestring;
}

/* A handler's "path" (where the runtime looks for its modules, see
 * runtime/src/lua/lua_modpath.c): absent, or a relative folder or
 * template that stays inside the repository, or an array of them. */
static bool valid_template(const cJSON *v)
{
    if (!cJSON_IsString(v) || !v->valuestring[0] || v->valuestring[0] == '/' ||
        strchr(v->valuestring, ';'))
        return false;
    for (const char *p = v->valuestring; *p; p++)
        if (p[0] == '.' && p[1] == '.' && (p == v->valuestring || p[-1] == '/') &&
            (p[2] == '/' || p[2] == '\0'))
            return false;
    return true;
}

static bool valid_path(const cJSON *v)
{
    if (!v)
        return true;
    if (!cJSON_IsArray(v))
        return valid_template(v);
    for (const cJSON *t = v->child; t; t = t->next)
        if (!valid_template(t))
            return false;
    return v->child != NULL;
}

/* Reads one handler entry; `what` is "lusty.json" or "lusty.lock" for
 * messages; `lock` asks for the commit/sha256 a lock must have. */
static int read_entry(cli_source_t *out, const cJSON *item, const char *what, bool lock,
                      char **err_out)
{
    const char *name = item->string;
    bool bad = false;
    memset(out, 0, sizeof(*out));
    if (!valid_handler_name(name)) {
        *err_out = lusty_asprintf("%s: invalid handler name '%s': use letters, digits, '-', '_' "
                                  "and '.'",
                                  what, name);
        return -1;
    }
    if (!cJSON_IsObject(item)) {
        *err_out = lusty_asprintf("%s: handler '%s' must be an object with \"git\" or \"url\"",
                                  what, name);
        return -1;
    }
    const char *git = get_string(item, "git", &bad);
    const char *url = get_string(item, "url", &bad);
    const char *ref = get_string(item, "ref", &bad);
    const char *commit = get_string(item, "commit", &bad);
    const char *sha = get_string(item, "sha256", &bad);
    if (bad) {
        *err_out = lusty_asprintf("%s: handler '%s': \"git\", \"url\", \"ref\", \"commit\" and "
                                  "\"sha256\" must be non-empty strings",
                                  what, name);
        return -1;
    }
    if ((git != NULL) == (url != NULL)) {
        *err_out = lusty_asprintf("%s: handler '%s' needs exactly one of \"git\" and \"url\"",
                                  what, name);
        return -1;
    }
    if (git && sha) {
        *err_out = lusty_asprintf("%s: handler '%s': \"sha256\" goes with \"url\", not \"git\"",
                                  what, name);
        return -1;
    }
    if (url && (ref || commit)) {
        *err_out = lusty_asprintf("%s: handler '%s': \"ref\" goes with \"git\", not \"url\"", what,
                                  name);
        return -1;
    }
    if (sha && !is_hex(sha, 64)) {
        *err_out = lusty_asprintf("%s: handler '%s': \"sha256\" must be 64 lower-case hex digits",
                                  what, name);
        return -1;
    }
    if (commit && !is_hex(commit, 40)) {
        *err_out = lusty_asprintf("%s: handler '%s': \"commit\" must be 40 lower-case hex digits",
                                  what, name);
        return -1;
    }
    if (lock && ((git && !commit) || (url && !sha))) {
        *err_out = lusty_asprintf("%s: handler '%s' has no %s", what, name,
                                  git ? "\"commit\"" : "\"sha256\"");
        return -1;
    }
    if (!lock && !valid_path(cJSON_GetObjectItemCaseSensitive(item, "path"))) {
        *err_out = lusty_asprintf("%s: handler '%s': \"path\" must be a folder or a template "
                                  "such as \"src/?.lua\" inside the repository (or an array of "
                                  "them)",
                                  what, name);
        return -1;
    }
    out->name = lusty_strdup(name);
    out->kind = git ? CLI_SOURCE_GIT : CLI_SOURCE_ARCHIVE;
    out->url = lusty_strdup(git ? git : url);
    out->ref = dup_or_null(ref);
    out->commit = lock ? dup_or_null(commit) : NULL;
    out->sha256 = dup_or_null(sha);
    return 0;
}

static int read_handlers(cli_source_list_t *out, const cJSON *handlers, const char *what, bool lock,
                         char **err_out)
{
    *err_out = NULL;
    memset(out, 0, sizeof(*out));
    if (!handlers || cJSON_IsNull(handlers))
        return 0;
    if (!cJSON_IsObject(handlers)) {
        *err_out = lusty_asprintf("%s: \"handlers\" must be an object", what);
        return -1;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, handlers)
    {
        cli_source_t src;
        if (read_entry(&src, item, what, lock, err_out) != 0) {
            cli_source_list_free(out);
            return -1;
        }
        if (cli_source_find(out, src.name)) {
            *err_out = lusty_asprintf("%s: handler '%s' is listed twice", what, src.name);
            cli_source_clear(&src);
            cli_source_list_free(out);
            return -1;
        }
        cli_source_list_put(out, &src);
        cli_source_clear(&src);
    }
    return 0;
}

int cli_sources_from_manifest(cli_source_list_t *out, const cJSON *handlers, char **err_out)
{
    return read_handlers(out, handlers, "lusty.json", false, err_out);
}

int cli_lock_read(cli_source_list_t *out, const char *path, char **err_out)
{
    char *text = NULL;
    int rc = -1;
    cJSON *root = NULL;
    memset(out, 0, sizeof(*out));
    *err_out = NULL;
    int err = cli_read_file(path, &text, NULL);
    if (err == ENOENT)
        return 1;
    if (err) {
        *err_out = lusty_asprintf("cannot read '%s': %s", path, strerror(err));
        return -1;
    }
    root = cJSON_Parse(text);
    if (!cJSON_IsObject(root)) {
        *err_out = lusty_asprintf("'%s' is not valid JSON", path);
        goto cleanup;
    }
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "lockfileVersion");
    if (!cJSON_IsNumber(version) || version->valuedouble != 1) {
        *err_out = lusty_asprintf("'%s' has an unknown \"lockfileVersion\" (this lusty reads 1)",
                                  path);
        goto cleanup;
    }
    rc = read_handlers(out, cJSON_GetObjectItemCaseSensitive(root, "handlers"), "lusty.lock", true,
                       err_out);
cleanup:
    cJSON_Delete(root);
    lusty_free(text);
    return rc;
}

static void put_json_string(lusty_buf_t *b, const char *s)
{
    cJSON *str = cJSON_CreateString(s);
    char *text = cJSON_PrintUnformatted(str);
    lusty_buf_puts(b, text);
    cJSON_free(text);
    cJSON_Delete(str);
}

static void put_field(lusty_buf_t *b, const char *key, const char *value, bool *first)
{
    if (!value)
        return;
    lusty_buf_printf(b, "%s\"%s\": ", *first ? "" : ", ", key);
    put_json_string(b, value);
    *first = false;
}

int cli_lock_write(const char *path, const cli_source_list_t *lock)
{
    lusty_buf_t b = LUSTY_BUF_INIT;
    lusty_buf_puts(&b, "{\n  \"lockfileVersion\": 1,\n  \"handlers\": {");
    for (size_t i = 0; i < lock->count; i++) {
        const cli_source_t *s = &lock->items[i];
        bool first = true;
        lusty_buf_printf(&b, "%s\n    ", i ? "," : "");
        put_json_string(&b, s->name);
        lusty_buf_puts(&b, ": { ");
        if (s->kind == CLI_SOURCE_GIT) {
            put_field(&b, "git", s->url, &first);
            put_field(&b, "ref", s->ref, &first);
            put_field(&b, "commit", s->commit, &first);
        } else {
            put_field(&b, "url", s->url, &first);
            put_field(&b, "sha256", s->sha256, &first);
        }
        lusty_buf_puts(&b, " }");
    }
    lusty_buf_puts(&b, lock->count ? "\n  }\n}\n" : "}\n}\n");
    char *tmp = NULL;
    int err = cli_write_temp(path, b.data, b.len, 0644, &tmp);
    if (!err && rename(tmp, path) != 0) {
        err = errno;
        unlink(tmp);
    }
    lusty_free(tmp);
    lusty_buf_free(&b);
    return err;
}

char *cli_url_redact(const char *url)
{
    /* Only "scheme://user:password@host…" carries a password; scp-like
     * "user@host:path" and paths do not. */
    const char *scheme = strstr(url, "://");
    if (!scheme)
        return lusty_strdup(url);
    const char *auth = scheme + 3;
    size_t host_end = strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < auth + host_end; p++)
        if (*p == '@')
            at = p;
    if (!at)
        return lusty_strdup(url);
    const char *colon = memchr(auth, ':', (size_t)(at - auth));
    if (!colon)
        return lusty_strdup(url);
    return lusty_asprintf("%.*s%s", (int)(colon - url), url, at);
}
