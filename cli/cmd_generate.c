/* lusty generate (alias g): route, handler, module and resource files, and
 * their entries in the app's config. What to write is planned in Lua
 * (runtime/lua/lusty/generate.lua, which edits the config as text); this
 * file parses the command line and writes the plan: every file to a
 * temporary file first, then renamed into place, so an interrupted run never
 * leaves a half-written file. */
#include "cmd.h"
#include "error.h"
#include "fs.h"
#include "lusty/alloc.h"
#include "lusty/lua_host.h"
#include "project.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { OPT_FORCE = 1, OPT_DRY_RUN };

static const cli_opt_t options[] = {
    {"force", 'f', NULL, "Overwrite files that already exist", OPT_FORCE},
    {"dry-run", 'n', NULL, "Print what would be written and edited; write nothing", OPT_DRY_RUN},
    {NULL, 0, NULL, NULL, 0},
};

const cli_cmd_info_t cmd_generate_info = {
    .name = "generate",
    .alias = "g",
    .summary = "Generate a route, handler, module or resource, with its config entry",
    .usage = "[--force] [--dry-run] GENERATOR ARGS...",
    .description =
        "Writes new files into the project found from the current folder and adds\n"
        "them to the app's config (app/config.lua), keeping its comments and layout:\n"
        "  route PATTERN       the route file (a local per {param}), its pattern in\n"
        "                      the router (before the routes that would take its\n"
        "                      requests and the error routes), a view when the app\n"
        "                      renders HTML, and a spec: lusty g route 'GET users/{id}'\n"
        "  handler NAME CHANNEL  app/handlers/NAME.lua, subscribed on CHANNEL\n"
        "  module NAME         a seed-style module: app/NAME/config.lua (events) and\n"
        "                      app/NAME/functions.lua, listed in `modules`, and a spec\n"
        "  resource NAME       list, show, create, update and delete routes over the\n"
        "                      store's collection NAME, and their specs\n"
        "Existing files are kept unless --force. When the config is not shaped so\n"
        "that it can be edited safely, the files are written, the config is left\n"
        "alone, the lines to add are printed and the exit status is 1. The specs\n"
        "written pass under 'lusty test'. See docs/dev-loop.md.\n",
    .options = options,
    .args = "route|handler|module|resource",
};

/* One file of the plan, copied out of Lua. */
typedef struct {
    char *path; /* relative to the project */
    char *content;
    size_t len;
    char *action;  /* "create", "overwrite" or "edit" */
    char *preview; /* for an edit: the lines it adds or changes, for --dry-run */
    char *tmp;     /* the temporary file written beside it */
} planned_file_t;

static char *field(lua_State *L, int idx, const char *name, size_t *len)
{
    lua_getfield(L, idx, name);
    size_t n = 0;
    const char *s = lua_tolstring(L, -1, &n);
    char *out = s ? lusty_strndup(s, n) : NULL;
    if (len)
        *len = n;
    lua_pop(L, 1);
    return out;
}

/* Prints a file as --dry-run shows it: its lines indented under its name. */
static void print_dry(const planned_file_t *f)
{
    printf("would %s %s:\n", f->action, f->path);
    const char *line = f->preview ? f->preview : f->content;
    while (*line) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        printf("  | %.*s\n", (int)n, line);
        line += n + (end ? 1 : 0);
    }
}

/* Writes every file to a temporary file, then renames them all; on a
 * failure nothing that was written stays. */
static int write_plan(const char *root, planned_file_t *files, size_t n)
{
    cli_path_list_t dirs = {0};
    int status = CLI_EXIT_OK;
    size_t written = 0;
    for (; written < n; written++) {
        planned_file_t *f = &files[written];
        char *dest = cli_path_join(root, f->path);
        char *dir = lusty_strdup(dest);
        *strrchr(dir, '/') = '\0';
        int err = cli_mkdir_p(dir, 0777, &dirs);
        if (err != 0)
            cli_error("cannot make the folder of '%s': %s", f->path, strerror(err));
        else if ((err = cli_write_temp(dest, f->content, f->len, 0644, &f->tmp)) != 0)
            cli_error("cannot write '%s': %s", f->path, strerror(err));
        lusty_free(dir);
        lusty_free(dest);
        if (err != 0) {
            status = CLI_EXIT_FAILURE;
            break;
        }
    }
    for (size_t i = 0; i < written; i++) {
        char *dest = cli_path_join(root, files[i].path);
        int err = 0;
        if (status == CLI_EXIT_OK) {
            bool replace = strcmp(files[i].action, "create") != 0;
            err = replace ? (rename(files[i].tmp, dest) == 0 ? 0 : errno)
                          : cli_rename_noreplace(files[i].tmp, dest);
            if (err != 0) {
                cli_error("cannot write '%s': %s", files[i].path, strerror(err));
                status = CLI_EXIT_FAILURE;
            } else {
                printf("%-9s %s\n", files[i].action, files[i].path);
            }
        }
        if (status != CLI_EXIT_OK)
            unlink(files[i].tmp);
        lusty_free(dest);
    }
    /* Folders made for files that were not written are removed again
     * (innermost first; rmdir leaves folders that are not empty). */
    if (status != CLI_EXIT_OK)
        for (size_t i = dirs.count; i > 0; i--)
            rmdir(dirs.paths[i - 1]);
    cli_path_list_free(&dirs);
    return status;
}

/* Runs the Lua planner with the command's arguments and carries out (or
 * prints) its plan. */
static int run_plan(const cli_project_t *p, bool force, bool dry_run, int nargs, char **args)
{
    lusty_lua_host_t *host = NULL;
    char *err = NULL;
    planned_file_t *files = NULL;
    size_t nfiles = 0;
    int status = CLI_EXIT_FAILURE;
    const cJSON *app = cli_project_get(p, "app");
    lusty_lua_options_t opts = {.root = p->dir};
    if (lusty_lua_host_new(&host, &opts, &err) != 0) {
        cli_error("cannot start Lua: %s", err ? err : "unknown error");
        goto cleanup;
    }
    lua_State *L = lusty_lua_host_state(host);
    int top = lua_gettop(L);
    lua_getglobal(L, "require");
    lua_pushstring(L, "lusty.generate");
    if (lua_pcall(L, 1, 1, 0) != 0) {
        cli_error("cannot load the generators: %s", lua_tostring(L, -1));
        goto cleanup;
    }
    lua_getfield(L, -1, "plan");
    lua_pushstring(L, p->dir);
    lua_pushstring(L, cJSON_IsString(app) ? app->valuestring : "app/config.lua");
    lua_pushboolean(L, force);
    for (int i = 0; i < nargs; i++)
        lua_pushstring(L, args[i]);
    if (lua_pcall(L, 3 + nargs, 4, 0) != 0) {
        cli_error("cannot plan the files: %s", lua_tostring(L, -1));
        goto cleanup;
    }
    int plan = top + 2;
    if (lua_isnil(L, plan)) {
        status = (int)lua_tointeger(L, plan + 1);
        cli_error("%s", lua_tostring(L, plan + 2));
        if (lua_isstring(L, plan + 3))
            cli_hint("%s", lua_tostring(L, plan + 3));
        goto cleanup;
    }
    lua_getfield(L, plan, "files");
    int list = lua_gettop(L);
    nfiles = lua_objlen(L, list);
    files = lusty_calloc(nfiles, sizeof(*files));
    for (size_t i = 0; i < nfiles; i++) {
        lua_rawgeti(L, list, (int)i + 1);
        files[i].path = field(L, -1, "path", NULL);
        files[i].content = field(L, -1, "content", &files[i].len);
        files[i].action = field(L, -1, "action", NULL);
        files[i].preview = field(L, -1, "preview", NULL);
        lua_pop(L, 1);
    }
    lua_getfield(L, plan, "refused");
    char *refused = lua_istable(L, -1) ? field(L, -1, "message", NULL) : NULL;
    char *lines = refused ? field(L, -1, "lines", NULL) : NULL;

    if (dry_run) {
        for (size_t i = 0; i < nfiles; i++)
            print_dry(&files[i]);
        status = CLI_EXIT_OK;
    } else {
        status = write_plan(p->dir, files, nfiles);
    }
    if (refused && status == CLI_EXIT_OK) {
        /* The files are useful as they are; only the config needs a hand. */
        printf("%s\n", lines);
        cli_error("%s", refused);
        cli_hint("add the lines above to it yourself; the other files were %s",
                 dry_run ? "not written (--dry-run)" : "written");
        status = CLI_EXIT_FAILURE;
    }
    lusty_free(refused);
    lusty_free(lines);

cleanup:
    for (size_t i = 0; i < nfiles; i++) {
        lusty_free(files[i].path);
        lusty_free(files[i].content);
        lusty_free(files[i].action);
        lusty_free(files[i].preview);
        lusty_free(files[i].tmp);
    }
    lusty_free(files);
    lusty_free(err);
    lusty_lua_host_free(host);
    return status;
}

int cmd_generate(int argc, char **argv)
{
    bool force = false, dry_run = false;
    cli_opt_parser_t p;
    cli_opt_init(&p, &cmd_generate_info, argc, argv);
    int opt;
    while ((opt = cli_opt_next(&p)) != CLI_OPT_END) {
        if (opt == CLI_OPT_HELP || opt == CLI_OPT_ERROR) {
            cli_opt_free(&p);
            return opt == CLI_OPT_HELP ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        }
        if (opt == OPT_FORCE)
            force = true;
        else if (opt == OPT_DRY_RUN)
            dry_run = true;
    }
    if (p.nargs == 0) {
        cli_error("'lusty generate' needs a generator: route, handler, module or resource");
        cli_hint("see 'lusty generate --help'");
        cli_opt_free(&p);
        return CLI_EXIT_USAGE;
    }
    cli_project_t *project = NULL;
    char *err = NULL;
    int status = CLI_EXIT_FAILURE;
    if (cli_project_open(&project, ".", &err) != 0) {
        cli_error("%s", err);
        cli_hint("run it inside a project made by 'lusty init'");
    } else {
        status = run_plan(project, force, dry_run, p.nargs, p.args);
    }
    lusty_free(err);
    cli_project_free(project);
    cli_opt_free(&p);
    return status;
}
