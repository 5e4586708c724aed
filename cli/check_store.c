/* The store check of `lusty doctor` and `lusty bootstrap`: the backend
 * lusty.json chooses, and for SQLite whether its file opens as a database
 * and can be written (or, when missing, created: the nearest existing
 * folder above it is writable). It never writes: a missing file stays
 * missing until the app's first store call creates it. MongoDB is the
 * mongodb check's business. */
#include "checks.h"
#include "error.h"
#include "fs.h"
#include "lusty/alloc.h"
#include "term.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void cli_checks_prepare_store(cli_checks_t *c, const char *project_dir, const cJSON *manifest)
{
    cli_store_check_t *s = &c->store;
    const cJSON *store = cJSON_GetObjectItemCaseSensitive(manifest, "store");
    const cJSON *backend = cJSON_GetObjectItemCaseSensitive(store, "backend");
    const cJSON *path = cJSON_GetObjectItemCaseSensitive(store, "path");
    s->checked = true;
    s->backend = lusty_strdup(cJSON_IsString(backend) ? backend->valuestring : "sqlite");
    s->shown = lusty_strdup(cJSON_IsString(path) ? path->valuestring : "data/store.sqlite3");
    s->path = s->shown[0] == '/' ? lusty_strdup(s->shown) : cli_path_join(project_dir, s->shown);
}

/* The folder part of `path` (a new string). */
static char *parent_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return lusty_strdup(".");
    if (slash == path)
        return lusty_strdup("/");
    return lusty_strndup(path, (size_t)(slash - path));
}

/* An existing file: it must open as an SQLite database, and it and its
 * folder (where the write-ahead log goes) must be writable. */
static void check_file(cli_store_check_t *s)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'", -1,
                                &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st) == SQLITE_ROW ? SQLITE_OK : sqlite3_errcode(db);
    if (rc == SQLITE_OK)
        s->tables = (long)sqlite3_column_int64(st, 0);
    else
        s->error = lusty_asprintf("cannot read it as an SQLite database: %s",
                                  db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_finalize(st);
    sqlite3_close(db);
    if (s->error)
        return;
    char *dir = parent_of(s->path);
    if (access(s->path, W_OK) != 0 || access(dir, W_OK | X_OK) != 0)
        s->error = lusty_asprintf("it or its folder is not writable: %s", strerror(errno));
    lusty_free(dir);
}

void cli_store_check_run(cli_store_check_t *s)
{
    if (strcmp(s->backend, "sqlite") != 0) {
        s->ok = true;
        return;
    }
    struct stat st;
    if (stat(s->path, &st) == 0) {
        s->exists = true;
        if (S_ISDIR(st.st_mode))
            s->error = lusty_strdup("it is a folder");
        else
            check_file(s);
        s->ok = !s->error;
        return;
    }
    /* Missing: the first store call creates it and the folders above it,
     * so the nearest folder that exists must let us write. */
    char *dir = parent_of(s->path);
    while (stat(dir, &st) != 0 && strcmp(dir, "/") != 0 && strcmp(dir, ".") != 0) {
        char *up = parent_of(dir);
        lusty_free(dir);
        dir = up;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        s->error = lusty_asprintf("'%s' is not a folder", dir);
    else if (access(dir, W_OK | X_OK) != 0)
        s->error = lusty_asprintf("cannot be created: '%s' is not writable", dir);
    lusty_free(dir);
    s->ok = !s->error;
}

void cli_store_check_row(const cli_store_check_t *s, FILE *out, const char *indent)
{
    if (!s->checked)
        return;
    const char *color = s->ok ? cli_term_green(out) : cli_term_red(out);
    fprintf(out, "%s%-8s ", indent, "store");
    if (strcmp(s->backend, "sqlite") != 0) {
        fprintf(out, "%s%s%s (see the mongodb check)\n", cli_term_green(out), s->backend,
                cli_term_reset(out));
        return;
    }
    const char *status = !s->ok ? "unusable" : s->exists ? "writable" : "will be created";
    fprintf(out, "%s%s%s sqlite %s", color, status, cli_term_reset(out), s->shown);
    if (s->ok && s->exists)
        fprintf(out, " (%ld collection%s)", s->tables, s->tables == 1 ? "" : "s");
    fputc('\n', out);
}

void cli_store_check_problem(const cli_store_check_t *s)
{
    if (!s->checked || s->ok)
        return;
    cli_error("the store '%s' cannot be used: %s", s->shown, s->error);
    cli_hint("set \"store\": {\"path\": ...} in lusty.json to a file the server can write");
}

cJSON *cli_store_check_json(const cli_store_check_t *s)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "backend", s->backend);
    if (strcmp(s->backend, "sqlite") == 0) {
        cJSON_AddStringToObject(j, "path", s->path);
        cJSON_AddBoolToObject(j, "exists", s->exists);
        if (s->exists && s->ok)
            cJSON_AddNumberToObject(j, "collections", (double)s->tables);
    }
    cJSON_AddBoolToObject(j, "ok", s->ok);
    if (s->error)
        cJSON_AddStringToObject(j, "error", s->error);
    else
        cJSON_AddNullToObject(j, "error");
    return j;
}

void cli_store_check_clear(cli_store_check_t *s)
{
    lusty_free(s->backend);
    lusty_free(s->path);
    lusty_free(s->shown);
    lusty_free(s->error);
    memset(s, 0, sizeof *s);
}
