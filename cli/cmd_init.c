/* lusty init: create a project from a template.
 *
 * Everything is rendered in memory and checked first, so that a bad name,
 * template or target fails before anything is written. Files are then
 * written to temporary names and renamed into place, with SIGINT/SIGTERM
 * held back meanwhile, so that the project appears whole or not at all. */
#include "cmd.h"
#include "error.h"
#include "fs.h"
#include "git.h"
#include "lusty/alloc.h"
#include "lusty/buf.h"
#include "lusty/error.h"
#include "lusty/mustache.h"
#include "template.h"
#include "term.h"
#include "version.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    OPT_NAME = 1,
    OPT_PORT,
    OPT_TEMPLATE,
    OPT_SET,
    OPT_FORCE,
    OPT_DRY_RUN,
    OPT_NO_GIT,
    OPT_LIST,
    OPT_QUIET,
};

static const cli_opt_t options[] = {
    {"name", 'n', "NAME", "Project name (default: the folder's name)", OPT_NAME},
    {"port", 'p', "PORT", "Port the server listens on (default: the template's, 8080)", OPT_PORT},
    {"template", 't', "NAME|PATH", "Template to use (default: default)", OPT_TEMPLATE, "template"},
    {"set", 0, "KEY=VALUE", "Set a template variable (repeatable)", OPT_SET},
    {"force", 'f', NULL, "Overwrite files the template writes (nothing else is touched)", OPT_FORCE},
    {"dry-run", 0, NULL, "Print what would be written, write nothing", OPT_DRY_RUN},
    {"no-git", 0, NULL, "Do not create a git repository", OPT_NO_GIT},
    {"list-templates", 'l', NULL, "List the available templates and exit", OPT_LIST},
    {"quiet", 'q', NULL, "Print nothing but errors", OPT_QUIET},
    {NULL, 0, NULL, NULL, 0},
};

const cli_cmd_info_t cmd_init_info = {
    .name = "init",
    .summary = "Create a new Lusty project from a template",
    .usage = "[options] [DIR]",
    .description =
        "Creates a project in DIR (default: the current folder; created if missing) from a\n"
        "template: lusty.json, app/config.lua, handlers, views, conf/nginx.conf and a git\n"
        "repository with a first commit (unless --no-git, or DIR is already inside one).\n"
        "Templates are looked up in $LUSTY_TEMPLATES, ~/.config/lusty/templates, the\n"
        "installed share/lusty/templates and the source tree's templates/.\n",
    .options = options,
    .args = "dir",
};

typedef struct {
    const char *dir;
    const char *name;
    const char *port;
    const char *template_name;
    const char **sets;
    size_t nsets;
    bool force, dry_run, no_git, list, quiet;
} init_args_t;

static int list_templates(void)
{
    cli_template_t **list = NULL;
    size_t count = 0;
    cli_template_list(&list, &count);
    if (count == 0) {
        cli_error("no templates found");
        cli_hint("set LUSTY_TEMPLATES to a folder of templates");
        return CLI_EXIT_FAILURE;
    }
    for (size_t i = 0; i < count; i++) {
        char *name = cli_template_printable(list[i]->name);
        char *desc = cli_template_printable(list[i]->description);
        printf("%-12s %s\n", name, desc);
        lusty_free(desc);
        lusty_free(name);
    }
    cli_template_list_free(list, count);
    return CLI_EXIT_OK;
}

static bool valid_name(const char *name)
{
    if (!name[0] || name[0] == '-' || name[0] == '.')
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        if (!ok)
            return false;
    }
    return strlen(name) <= 100;
}

/* The project name a folder implies: its base name, resolving "." and "..". */
static char *name_from_dir(const char *dir)
{
    char *copy = lusty_strdup(dir);
    size_t len = strlen(copy);
    while (len > 1 && copy[len - 1] == '/')
        copy[--len] = '\0';
    const char *base = strrchr(copy, '/');
    base = base ? base + 1 : copy;
    if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0 || base[0] == '\0') {
        char resolved[PATH_MAX];
        if (realpath(copy, resolved)) {
            const char *b = strrchr(resolved, '/');
            char *name = lusty_strdup(b && b[1] ? b + 1 : resolved);
            lusty_free(copy);
            return name;
        }
    }
    char *name = lusty_strdup(base);
    lusty_free(copy);
    return name;
}

/* Builds the data the template files are rendered with. */
static int make_vars(const cli_template_t *t, const init_args_t *a, const char *name, cJSON **out)
{
    cJSON *vars = cli_template_default_vars(t);
    *out = NULL;
    cJSON_DeleteItemFromObjectCaseSensitive(vars, "name");
    cJSON_AddStringToObject(vars, "name", name);
    if (!cJSON_GetObjectItemCaseSensitive(vars, "port"))
        cJSON_AddNumberToObject(vars, "port", 8080);
    if (!cJSON_GetObjectItemCaseSensitive(vars, "host"))
        cJSON_AddStringToObject(vars, "host", "127.0.0.1");
    cJSON_DeleteItemFromObjectCaseSensitive(vars, "lusty_version");
    cJSON_AddStringToObject(vars, "lusty_version", LUSTY_VERSION_STRING);
    if (a->port) {
        long port = 0;
        if (!cli_parse_int(a->port, 1, 65535, &port)) {
            cli_error("invalid port '%s': use a number from 1 to 65535", a->port);
            cJSON_Delete(vars);
            return CLI_EXIT_USAGE;
        }
        cJSON_ReplaceItemInObjectCaseSensitive(vars, "port", cJSON_CreateNumber((double)port));
    }
    for (size_t i = 0; i < a->nsets; i++) {
        const char *eq = strchr(a->sets[i], '=');
        if (!eq || eq == a->sets[i]) {
            cli_error("invalid --set '%s': use KEY=VALUE", a->sets[i]);
            cJSON_Delete(vars);
            return CLI_EXIT_USAGE;
        }
        char *key = lusty_strndup(a->sets[i], (size_t)(eq - a->sets[i]));
        if (strcmp(key, "name") == 0 || strcmp(key, "port") == 0) {
            cli_error("use --%s instead of --set %s=…", key, key);
            lusty_free(key);
            cJSON_Delete(vars);
            return CLI_EXIT_USAGE;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(vars, key);
        cJSON_AddStringToObject(vars, key, eq + 1);
        lusty_free(key);
    }
    *out = vars;
    return CLI_EXIT_OK;
}

/* How each file of the plan meets the target folder. */
typedef enum { PLAN_CREATE, PLAN_OVERWRITE } plan_action_t;

/* Checks the target against the rendered files: which exist (conflicts) and
 * which cannot be written at all (a folder where a file goes, a file where a
 * folder goes). Returns an exit code. */
static int check_target(const char *dir, const cli_rendered_file_t *files, size_t count, bool force,
                        plan_action_t *actions)
{
    struct stat st;
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
        cli_error("'%s' exists and is not a folder", dir);
        cli_hint("choose another DIR");
        return CLI_EXIT_FAILURE;
    }
    lusty_buf_t conflicts = LUSTY_BUF_INIT;
    size_t nconflicts = 0;
    for (size_t i = 0; i < count; i++) {
        char *dest = cli_path_join(dir, files[i].path);
        actions[i] = PLAN_CREATE;
        /* Every parent inside the project must be a folder or absent. */
        for (char *slash = strchr(dest + strlen(dir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
            *slash = '\0';
            bool blocked = lstat(dest, &st) == 0 && !S_ISDIR(st.st_mode);
            if (blocked) {
                cli_error("cannot create folder '%s': a file is in the way", dest);
                cli_hint("move it away; --force does not delete anything");
                lusty_free(dest);
                lusty_buf_free(&conflicts);
                return CLI_EXIT_FAILURE;
            }
            *slash = '/';
        }
        if (lstat(dest, &st) == 0) {
            if (S_ISDIR(st.st_mode)) {
                cli_error("cannot write '%s': a folder is in the way", dest);
                cli_hint("move it away; --force does not delete anything");
                lusty_free(dest);
                lusty_buf_free(&conflicts);
                return CLI_EXIT_FAILURE;
            }
            actions[i] = PLAN_OVERWRITE;
            lusty_buf_printf(&conflicts, "%s%s", nconflicts++ ? ", " : "", files[i].path);
        }
        lusty_free(dest);
    }
    if (nconflicts && !force) {
        cli_error("'%s' already has %zu file%s the template would overwrite: %s", dir, nconflicts,
                  nconflicts == 1 ? "" : "s", conflicts.data);
        cli_hint("use --force to overwrite them (nothing else is touched), or choose another DIR");
        lusty_buf_free(&conflicts);
        return CLI_EXIT_FAILURE;
    }
    lusty_buf_free(&conflicts);
    return CLI_EXIT_OK;
}

static void undo(cli_path_list_t *temps, cli_path_list_t *created_dirs)
{
    for (size_t i = 0; i < temps->count; i++)
        unlink(temps->paths[i]);
    for (size_t i = created_dirs->count; i-- > 0;)
        rmdir(created_dirs->paths[i]);
}

/* Writes every file: all to temporary names first, then all renamed. On a
 * failure before the renames, everything written is removed again. */
static int write_files(const char *dir, const cli_rendered_file_t *files, size_t count)
{
    cli_path_list_t created = {0}, temps = {0};
    int rc = CLI_EXIT_FAILURE;
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, &old);

    int err = cli_mkdir_p(dir, 0777, &created);
    if (err) {
        cli_error("cannot create folder '%s': %s", dir, cli_strerror(err));
        goto cleanup;
    }
    for (size_t i = 0; i < count; i++) {
        char *dest = cli_path_join(dir, files[i].path);
        char *parent = lusty_strdup(dest);
        *strrchr(parent, '/') = '\0';
        err = cli_mkdir_p(parent, 0777, &created);
        if (err) {
            cli_error("cannot create folder '%s': %s", parent, cli_strerror(err));
        } else {
            char *tmp = NULL;
            err = cli_write_temp(dest, files[i].content, files[i].len, files[i].mode, &tmp);
            if (err)
                cli_error("cannot write '%s': %s", dest, cli_strerror(err));
            else
                cli_path_list_push(&temps, tmp);
            lusty_free(tmp);
        }
        lusty_free(parent);
        lusty_free(dest);
        if (err) {
            undo(&temps, &created);
            goto cleanup;
        }
    }
    for (size_t i = 0; i < count; i++) {
        char *dest = cli_path_join(dir, files[i].path);
        if (rename(temps.paths[i], dest) != 0) {
            cli_error("cannot rename a temporary file to '%s': %s", dest, cli_strerror(errno));
            unlink(temps.paths[i]);
            err = errno;
        }
        lusty_free(dest);
    }
    rc = err ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
cleanup:
    sigprocmask(SIG_SETMASK, &old, NULL);
    cli_path_list_free(&temps);
    cli_path_list_free(&created);
    return rc;
}

static void print_plan(const char *dir, const cli_template_t *t, const char *name,
                       const cli_rendered_file_t *files, size_t count, const plan_action_t *actions,
                       bool dry_run)
{
    FILE *out = stdout;
    printf("%s %s'%s'%s from template '%s' in %s\n", dry_run ? "Would create project" : "Creating project",
           cli_term_bold(out), name, cli_term_reset(out), t->name, dir);
    for (size_t i = 0; i < count; i++) {
        bool over = actions[i] == PLAN_OVERWRITE;
        const char *verb = over ? "overwrite" : "create";
        printf("  %s%-9s%s %s\n", over ? cli_term_yellow(out) : cli_term_green(out), verb,
               cli_term_reset(out), files[i].path);
    }
}

static void print_message(const cli_template_t *t, const cJSON *vars, const char *dir)
{
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(t->manifest, "message");
    if (!cJSON_IsString(msg))
        return;
    /* The message may refer to the folder as well as to the variables. */
    cJSON *data = cJSON_Duplicate(vars, 1);
    cJSON_AddStringToObject(data, "dir", dir);
    lusty_mustache_t *tpl = NULL;
    lusty_buf_t text = LUSTY_BUF_INIT;
    if (lusty_mustache_compile(&tpl, "template.json message", msg->valuestring,
                               strlen(msg->valuestring), NULL) == 0 &&
        lusty_mustache_render(tpl, lusty_mustache_cjson_data(), data, NULL, &text, NULL) == 0 &&
        text.len) {
        /* The message is the template author's text: print it, not its
         * terminal escape sequences. */
        char *shown = cli_template_printable(text.data);
        printf("\n%s%s", shown, text.data[text.len - 1] == '\n' ? "" : "\n");
        lusty_free(shown);
    }
    lusty_buf_free(&text);
    lusty_mustache_free(tpl);
    cJSON_Delete(data);
}

static int run_init(const init_args_t *a)
{
    int rc = CLI_EXIT_FAILURE;
    char *name = NULL, *err = NULL;
    cli_template_t *t = NULL;
    cJSON *vars = NULL;
    cli_rendered_file_t *files = NULL;
    size_t count = 0;
    plan_action_t *actions = NULL;

    name = a->name ? lusty_strdup(a->name) : name_from_dir(a->dir);
    if (!valid_name(name)) {
        cli_error("invalid project name '%s': use letters, digits, '-' and '_', not starting "
                  "with '-'",
                  name);
        if (!a->name)
            cli_hint("the name comes from the folder; give one with --name NAME");
        rc = CLI_EXIT_USAGE;
        goto cleanup;
    }
    int found = cli_template_find(&t, a->template_name ? a->template_name : "default", &err);
    if (found != 0) {
        cli_error("%s", err);
        if (found == LUSTY_ENOENT) {
            cli_hint("see 'lusty init --list-templates', or give a template folder's path");
            rc = CLI_EXIT_USAGE;
        }
        goto cleanup;
    }
    rc = make_vars(t, a, name, &vars);
    if (rc != CLI_EXIT_OK)
        goto cleanup;
    rc = CLI_EXIT_FAILURE;
    if (cli_template_render(t, vars, &files, &count, &err) != 0) {
        cli_error("template '%s' is broken: %s", t->name, err);
        goto cleanup;
    }
    actions = lusty_calloc(count ? count : 1, sizeof(*actions));
    rc = check_target(a->dir, files, count, a->force, actions);
    if (rc != CLI_EXIT_OK)
        goto cleanup;

    bool want_git = !a->no_git && !cli_git_inside_work_tree(a->dir);
    if (a->dry_run) {
        print_plan(a->dir, t, name, files, count, actions, true);
        if (want_git)
            printf("  %-9s %s\n", "git init", "and a first commit");
        printf("Dry run: nothing was written.\n");
        goto cleanup;
    }
    rc = write_files(a->dir, files, count);
    if (rc != CLI_EXIT_OK)
        goto cleanup;
    if (!a->quiet)
        print_plan(a->dir, t, name, files, count, actions, false);

    if (want_git) {
        char **paths = lusty_calloc(count ? count : 1, sizeof(char *));
        for (size_t i = 0; i < count; i++)
            paths[i] = files[i].path;
        char *short_id = NULL, *msg = lusty_asprintf("Create %s from the lusty '%s' template\n", name, t->name);
        lusty_free(err);
        err = NULL;
        if (cli_git_init_commit(a->dir, paths, count, msg, &short_id, &err) != 0) {
            /* The project itself is complete; only the repository is missing. */
            cli_warning("the project was created, but not its git repository: %s", err);
            cli_hint("run 'git init' in '%s' yourself", a->dir);
        } else if (!a->quiet) {
            printf("  %s%-9s%s first commit %s\n", cli_term_green(stdout), "git", cli_term_reset(stdout),
                   short_id);
        }
        lusty_free(short_id);
        lusty_free(msg);
        lusty_free(paths);
    }
    if (!a->quiet)
        print_message(t, vars, a->dir);
    rc = CLI_EXIT_OK;
cleanup:
    lusty_free(actions);
    cli_rendered_files_free(files, count);
    cJSON_Delete(vars);
    cli_template_free(t);
    lusty_free(err);
    lusty_free(name);
    return rc;
}

int cmd_init(int argc, char **argv)
{
    init_args_t a = {.dir = "."};
    cli_opt_parser_t p;
    int rc = CLI_EXIT_OK;
    a.sets = lusty_calloc((size_t)argc + 1, sizeof(char *));
    cli_opt_init(&p, &cmd_init_info, argc, argv);
    for (int id; (id = cli_opt_next(&p)) != CLI_OPT_END;) {
        switch (id) {
        case CLI_OPT_HELP:
            goto done;
        case CLI_OPT_ERROR:
            rc = CLI_EXIT_USAGE;
            goto done;
        case OPT_NAME: a.name = p.value; break;
        case OPT_PORT: a.port = p.value; break;
        case OPT_TEMPLATE: a.template_name = p.value; break;
        case OPT_SET: a.sets[a.nsets++] = p.value; break;
        case OPT_FORCE: a.force = true; break;
        case OPT_DRY_RUN: a.dry_run = true; break;
        case OPT_NO_GIT: a.no_git = true; break;
        case OPT_LIST: a.list = true; break;
        case OPT_QUIET: a.quiet = true; break;
        }
    }
    if (p.nargs > 1) {
        cli_error("'lusty init' takes one DIR, got %d arguments", p.nargs);
        cli_hint("quote a folder name that has spaces");
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    if (p.nargs == 1)
        a.dir = p.args[0];
    if (a.dir[0] == '\0') {
        cli_error("DIR must not be empty");
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    rc = a.list ? list_templates() : run_init(&a);
done:
    cli_opt_free(&p);
    lusty_free(a.sets);
    return rc;
}
