/* lusty init: create a project from a template.
 *
 * Everything is rendered in memory and checked first, so that a bad name,
 * template or target fails before anything is written. Files are then
 * written to temporary names and renamed into place (never over a file
 * that appeared meanwhile), and the repository is made, with SIGINT,
 * SIGTERM and SIGHUP held back: a failure or one of those signals at any
 * point removes everything written so far and puts back what --force
 * replaced, so the project appears whole or not at all. A rerun after a
 * kill -9 removes the temporary files left behind, takes files that already
 * have the template's content as done, and finishes a repository whose
 * first commit is missing. */
#include "cmd.h"
#include "deploy.h"
#include "error.h"
#include "fs.h"
#include "libexec.h"
#include "git.h"
#include "lusty/alloc.h"
#include "lusty/buf.h"
#include "lusty/error.h"
#include "lusty/mustache.h"
#include "opt.h"
#include "template.h"
#include "term.h"
#include "test_hook.h"
#include "version.h"

#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
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
        "template: lusty.json, app/config.lua, handlers, views, the deploy files made from\n"
        "lusty.json (conf/nginx.conf, conf/lusty.service: see lusty deploy-files) and a git\n"
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

/* The hint after "unknown template NAME": the folder NAME when there is
 * one here (a name without '/' is looked up, not taken as a path), else
 * the closest template name, else where to look. */
static void hint_unknown_template(const char *name)
{
    char *manifest = cli_path_join(name, "template.json");
    bool folder = cli_exists(manifest);
    lusty_free(manifest);
    if (folder) {
        cli_hint("to use the folder '%s', write it as a path: --template ./%s", name, name);
        return;
    }
    cli_template_t **list = NULL;
    size_t count = 0;
    cli_template_list(&list, &count);
    const char **names = lusty_calloc(count + 1, sizeof(char *));
    for (size_t i = 0; i < count; i++)
        names[i] = list[i]->name;
    const char *guess = cli_suggest(name, names);
    if (guess)
        cli_hint("did you mean '%s'?", guess);
    else
        cli_hint("see 'lusty init --list-templates', or give a template folder's path");
    lusty_free(names);
    cli_template_list_free(list, count);
}

/* Warns about --set KEY=… when the template declares no variable KEY: it
 * is still set (a template may use undeclared ones), but it is more often
 * a typo. */
static void warn_unknown_variable(const cli_template_t *t, const char *key)
{
    const cJSON *declared = cJSON_GetObjectItemCaseSensitive(t->manifest, "variables");
    if (cJSON_GetObjectItemCaseSensitive(declared, key) || strcmp(key, "host") == 0)
        return;
    int n = cJSON_GetArraySize(declared);
    const char **names = lusty_calloc((size_t)n + 2, sizeof(char *));
    size_t k = 0;
    const cJSON *v = NULL;
    cJSON_ArrayForEach(v, declared) names[k++] = v->string;
    names[k++] = "host";
    const char *guess = cli_suggest(key, names);
    cli_warning("template '%s' has no variable '%s'", t->name, key);
    if (guess)
        cli_hint("did you mean '%s'?", guess);
    else
        cli_hint("its variables are in its template.json, under \"variables\"");
    lusty_free(names);
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
        warn_unknown_variable(t, key);
        cJSON_DeleteItemFromObjectCaseSensitive(vars, key);
        cJSON_AddStringToObject(vars, key, eq + 1);
        lusty_free(key);
    }
    *out = vars;
    return CLI_EXIT_OK;
}

/* How each file of the plan meets the target folder. */
typedef enum { PLAN_CREATE, PLAN_OVERWRITE, PLAN_SAME } plan_action_t;

/* True when the regular file at `path` holds exactly `data`. */
static bool same_content(const char *path, const char *data, size_t len)
{
    char *text = NULL;
    size_t have = 0;
    bool same =
        cli_read_file(path, &text, &have) == 0 && have == len && memcmp(text, data, len) == 0;
    lusty_free(text);
    return same;
}

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
            if (S_ISREG(st.st_mode) && same_content(dest, files[i].content, files[i].len)) {
                /* Already there, as from an interrupted earlier run. */
                actions[i] = PLAN_SAME;
                lusty_free(dest);
                continue;
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

/* Everything written so far, so that it can be undone. Per file: its
 * temporary, the backup of the file --force replaced, and whether it was
 * renamed into place. */
typedef struct {
    const char *dir;
    const cli_rendered_file_t *files;
    size_t count;
    char **tmp, **backup;
    bool *placed;
    cli_path_list_t created_dirs;
    char *git_dir; /* a repository we created, else NULL */
} txn_t;

static void txn_init(txn_t *t, const char *dir, const cli_rendered_file_t *files, size_t count)
{
    memset(t, 0, sizeof(*t));
    t->dir = dir;
    t->files = files;
    t->count = count;
    t->tmp = lusty_calloc(count ? count : 1, sizeof(char *));
    t->backup = lusty_calloc(count ? count : 1, sizeof(char *));
    t->placed = lusty_calloc(count ? count : 1, sizeof(bool));
}

static void txn_free(txn_t *t)
{
    for (size_t i = 0; i < t->count; i++) {
        lusty_free(t->tmp[i]);
        lusty_free(t->backup[i]);
    }
    lusty_free(t->tmp);
    lusty_free(t->backup);
    lusty_free(t->placed);
    lusty_free(t->git_dir);
    cli_path_list_free(&t->created_dirs);
}

/* Removes everything the transaction wrote and puts back what it
 * replaced. */
static void txn_rollback(txn_t *t)
{
    if (t->git_dir)
        cli_remove_tree(t->git_dir);
    for (size_t i = t->count; i-- > 0;) {
        char *dest = cli_path_join(t->dir, t->files[i].path);
        if (t->placed[i] && t->backup[i])
            rename(t->backup[i], dest);
        else if (t->placed[i])
            unlink(dest);
        if (t->tmp[i] && !t->placed[i])
            unlink(t->tmp[i]);
        if (t->backup[i] && !t->placed[i])
            unlink(t->backup[i]);
        lusty_free(dest);
    }
    for (size_t i = t->created_dirs.count; i-- > 0;)
        rmdir(t->created_dirs.paths[i]);
}

/* The project is complete: the backups of replaced files go. */
static void txn_commit(txn_t *t)
{
    for (size_t i = 0; i < t->count; i++)
        if (t->backup[i])
            unlink(t->backup[i]);
}

/* The signals init holds back while it writes; one of them pending means
 * the user asked to stop. */
static sigset_t held_signals;

static int pending_signal(void)
{
    sigset_t pending;
    sigpending(&pending);
    const int order[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
        if (sigismember(&pending, order[i]) && sigismember(&held_signals, order[i]))
            return order[i];
    return 0;
}

static bool stop_requested(void)
{
    return pending_signal() != 0;
}

/* Writes every file to a temporary name beside its destination. */
static int write_temps(txn_t *t, const plan_action_t *actions)
{
    int err = cli_mkdir_p(t->dir, 0777, &t->created_dirs);
    if (err) {
        cli_error("cannot create folder '%s': %s", t->dir, cli_strerror(err));
        return CLI_EXIT_FAILURE;
    }
    for (size_t i = 0; i < t->count && !err; i++) {
        if (actions[i] == PLAN_SAME)
            continue;
        char *dest = cli_path_join(t->dir, t->files[i].path);
        char *parent = lusty_strdup(dest);
        *strrchr(parent, '/') = '\0';
        err = cli_mkdir_p(parent, 0777, &t->created_dirs);
        if (err) {
            cli_error("cannot create folder '%s': %s", parent, cli_strerror(err));
        } else {
            err = cli_write_temp(dest, t->files[i].content, t->files[i].len, t->files[i].mode,
                                 &t->tmp[i]);
            if (err)
                cli_error("cannot write '%s': %s", dest, cli_strerror(err));
        }
        lusty_free(parent);
        lusty_free(dest);
    }
    return err ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

/* Renames one temporary into place: never over a file that was not there
 * when the target was checked, and over one that was (--force) only after
 * moving it aside, so that it can be put back. */
static int place_file(txn_t *t, size_t i, plan_action_t action)
{
    char *dest = cli_path_join(t->dir, t->files[i].path);
    int err = 0;
    if (action == PLAN_OVERWRITE) {
        /* The backup gets a name like the temporaries', so that a rerun
         * after a crash cleans it up too. */
        char *aside = NULL;
        err = cli_write_temp(dest, "", 0, 0600, &aside);
        if (!err) {
            if (rename(dest, aside) == 0) {
                t->backup[i] = aside;
                aside = NULL;
            } else {
                if (errno != ENOENT) /* gone meanwhile: nothing to keep */
                    err = errno;
                unlink(aside);
            }
        }
        lusty_free(aside);
    }
    if (!err && (err = cli_rename_noreplace(t->tmp[i], dest)) != 0) {
        if (t->backup[i] && rename(t->backup[i], dest) == 0) {
            lusty_free(t->backup[i]);
            t->backup[i] = NULL;
        }
    }
    if (err == EEXIST) {
        cli_error("'%s' appeared while lusty init was running: it was not overwritten", dest);
        cli_hint("nothing of the project was kept; look at the file and run 'lusty init' again");
    } else if (err) {
        cli_error("cannot rename a temporary file to '%s': %s", dest, cli_strerror(err));
    } else {
        t->placed[i] = true;
    }
    lusty_free(dest);
    return err ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

/* Renames every temporary into place, the new files first, so that a
 * file appearing in the way stops init before it replaced anything. */
static int place_files(txn_t *t, const plan_action_t *actions)
{
    const plan_action_t order[] = {PLAN_CREATE, PLAN_OVERWRITE};
    for (size_t o = 0; o < 2; o++)
        for (size_t i = 0; i < t->count; i++)
            if (actions[i] == order[o] && place_file(t, i, actions[i]) != CLI_EXIT_OK)
                return CLI_EXIT_FAILURE;
    return CLI_EXIT_OK;
}

/* Removes the temporary files (and --force backups) an interrupted earlier
 * run left beside the files the template writes: ".NAME.lusty-XXXXXX".
 * Returns how many there were. */
static size_t remove_leftovers(const char *dir, const cli_rendered_file_t *files, size_t count,
                               bool dry_run)
{
    size_t found = 0;
    for (size_t i = 0; i < count; i++) {
        char *dest = cli_path_join(dir, files[i].path);
        char *slash = strrchr(dest, '/');
        char *pattern =
            lusty_asprintf("%.*s/.%s.lusty-??????", (int)(slash - dest), dest, slash + 1);
        glob_t g;
        if (glob(pattern, GLOB_NOSORT, NULL, &g) == 0) {
            for (size_t k = 0; k < g.gl_pathc; k++) {
                struct stat st;
                if (lstat(g.gl_pathv[k], &st) == 0 && S_ISREG(st.st_mode) &&
                    (dry_run || unlink(g.gl_pathv[k]) == 0))
                    found++;
            }
        }
        globfree(&g);
        lusty_free(pattern);
        lusty_free(dest);
    }
    return found;
}

static void print_plan(const char *dir, const cli_template_t *t, const char *name,
                       const cli_rendered_file_t *files, size_t count, const plan_action_t *actions,
                       bool dry_run)
{
    FILE *out = stdout;
    printf("%s %s'%s'%s from template '%s' in %s\n", dry_run ? "Would create project" : "Creating project",
           cli_term_bold(out), name, cli_term_reset(out), t->name, dir);
    for (size_t i = 0; i < count; i++) {
        bool over = actions[i] == PLAN_OVERWRITE, same = actions[i] == PLAN_SAME;
        const char *verb = over ? "overwrite" : same ? "unchanged" : "create";
        printf("  %s%-9s%s %s\n",
               over   ? cli_term_yellow(out)
               : same ? ""
                      : cli_term_green(out),
               verb, cli_term_reset(out), files[i].path);
    }
}

/* `path` as one shell word: as it is when that is safe, else in single
 * quotes. */
static char *shell_word(const char *path)
{
    if (path[strspn(path, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._+-")] ==
        '\0')
        return lusty_strdup(path);
    lusty_buf_t word = LUSTY_BUF_INIT;
    lusty_buf_putc(&word, '\'');
    for (const char *c = path; *c; c++) {
        if (*c == '\'')
            lusty_buf_puts(&word, "'\\''");
        else
            lusty_buf_putc(&word, *c);
    }
    lusty_buf_putc(&word, '\'');
    return lusty_buf_detach(&word, NULL);
}

static void print_message(const cli_template_t *t, const cJSON *vars, const char *dir)
{
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(t->manifest, "message");
    if (!cJSON_IsString(msg))
        return;
    /* The message may refer to the folder as well as to the variables. */
    cJSON *data = cJSON_Duplicate(vars, 1);
    cJSON_AddStringToObject(data, "dir", dir);
    /* Templates say `{{lusty}} server` where `lusty` alone would not run
     * this program (a build tree, an install outside PATH). */
    char *self = cli_self_command();
    if (strcmp(self, "lusty") != 0 && !cJSON_GetObjectItemCaseSensitive(data, "lusty")) {
        char *quoted = shell_word(self);
        cJSON_AddStringToObject(data, "lusty", quoted);
        lusty_free(quoted);
    }
    lusty_free(self);
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

/* Writes the files and makes the repository, all or nothing (see the top
 * of this file), and prints what it did. */
static int write_project(const init_args_t *a, const cli_template_t *t, const char *name,
                         const cli_rendered_file_t *files, size_t count,
                         const plan_action_t *actions, bool want_git, bool finish_git)
{
    txn_t txn;
    sigset_t old;
    char *short_id = NULL, *err = NULL;
    int rc = CLI_EXIT_FAILURE, sig = 0;
    txn_init(&txn, a->dir, files, count);
    sigemptyset(&held_signals);
    sigaddset(&held_signals, SIGINT);
    sigaddset(&held_signals, SIGTERM);
    sigaddset(&held_signals, SIGHUP);
    sigprocmask(SIG_BLOCK, &held_signals, &old);

    size_t stale = remove_leftovers(a->dir, files, count, false);
    if (write_temps(&txn, actions) != CLI_EXIT_OK)
        goto rollback;
    cli_test_pause("rename");
    if ((sig = pending_signal()) != 0 || place_files(&txn, actions) != CLI_EXIT_OK)
        goto rollback;
    if (want_git) {
        char **paths = lusty_calloc(count ? count : 1, sizeof(char *));
        for (size_t i = 0; i < count; i++)
            paths[i] = files[i].path;
        char *msg = lusty_asprintf("Create %s from the lusty '%s' template\n", name, t->name);
        if (!finish_git)
            txn.git_dir = cli_path_join(a->dir, ".git");
        int grc = cli_git_init_commit(a->dir, paths, count, msg, stop_requested, &short_id, &err);
        lusty_free(msg);
        lusty_free(paths);
        if ((sig = pending_signal()) != 0)
            goto rollback;
        if (grc != 0) {
            cli_error("cannot create the git repository: %s", err);
            cli_hint("nothing was kept; free some disk space if it is full, or use --no-git");
            goto rollback;
        }
    }
    txn_commit(&txn);
    if (!a->quiet) {
        print_plan(a->dir, t, name, files, count, actions, false);
        if (stale)
            printf("  %-9s %zu temporary file%s of an interrupted run\n", "removed", stale,
                   stale == 1 ? "" : "s");
        if (short_id)
            printf("  %s%-9s%s first commit %s\n", cli_term_green(stdout), "git",
                   cli_term_reset(stdout), short_id);
    }
    rc = CLI_EXIT_OK;
    goto done;
rollback:
    txn_rollback(&txn);
    if (!sig)
        sig = pending_signal();
    if (sig) {
        cli_error("interrupted: nothing of the project was kept");
        fflush(stdout);
        fflush(stderr);
        /* Die of the signal, as the shell expects of an interrupted
         * command. */
        signal(sig, SIG_DFL);
        sigprocmask(SIG_SETMASK, &old, NULL);
    }
done:
    sigprocmask(SIG_SETMASK, &old, NULL);
    lusty_free(short_id);
    lusty_free(err);
    txn_free(&txn);
    return rc;
}

/* Adds the deploy files made from the rendered lusty.json (deploy.h),
 * unless the template brings its own file of the same name. */
static void add_deploy_files(const char *dir, cli_rendered_file_t **files, size_t *count)
{
    cJSON *manifest = NULL;
    for (size_t i = 0; i < *count && !manifest; i++)
        if (strcmp((*files)[i].path, "lusty.json") == 0)
            manifest = cJSON_ParseWithLength((*files)[i].content, (*files)[i].len);
    if (!cJSON_IsObject(manifest)) {
        cJSON_Delete(manifest);
        return;
    }
    char cwd[PATH_MAX];
    char *abs =
        dir[0] == '/' || !getcwd(cwd, sizeof(cwd)) ? lusty_strdup(dir) : cli_path_join(cwd, dir);
    size_t n = strlen(abs);
    while (n > 1 && (abs[n - 1] == '/' || (abs[n - 1] == '.' && abs[n - 2] == '/')))
        abs[--n] = '\0';
    cli_deploy_file_t gen[CLI_DEPLOY_NFILES];
    cli_deploy_render(manifest, abs, gen);
    *files = lusty_realloc(*files, (*count + CLI_DEPLOY_NFILES) * sizeof(**files));
    for (size_t g = 0; g < CLI_DEPLOY_NFILES; g++) {
        bool taken = false;
        for (size_t i = 0; i < *count && !taken; i++)
            taken = strcmp((*files)[i].path, gen[g].path) == 0;
        if (taken)
            continue;
        (*files)[(*count)++] = (cli_rendered_file_t){
            .path = lusty_strdup(gen[g].path),
            .content = gen[g].content,
            .len = gen[g].len,
            .mode = 0644,
        };
        gen[g].content = NULL;
    }
    cli_deploy_files_free(gen);
    lusty_free(abs);
    cJSON_Delete(manifest);
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
        /* A name or path that names no template fails (1), as a missing
         * template folder does: the command line itself was fine. */
        if (found == LUSTY_ENOENT)
            hint_unknown_template(a->template_name);
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
    add_deploy_files(a->dir, &files, &count);
    actions = lusty_calloc(count ? count : 1, sizeof(*actions));
    rc = check_target(a->dir, files, count, a->force, actions);
    if (rc != CLI_EXIT_OK)
        goto cleanup;

    /* A repository init began and did not finish is completed; one the
     * user has (here or above) is left alone. */
    bool finish_git = !a->no_git && cli_git_init_incomplete(a->dir);
    bool want_git = finish_git || (!a->no_git && !cli_git_inside_work_tree(a->dir));
    if (a->dry_run) {
        size_t stale = remove_leftovers(a->dir, files, count, true);
        print_plan(a->dir, t, name, files, count, actions, true);
        if (stale)
            printf("  %-9s %zu temporary file%s of an interrupted run\n", "remove", stale,
                   stale == 1 ? "" : "s");
        if (want_git)
            printf("  %-9s %s\n", finish_git ? "git" : "git init",
                   finish_git ? "the missing first commit" : "and a first commit");
        printf("Dry run: nothing was written.\n");
        goto cleanup;
    }
    rc = write_project(a, t, name, files, count, actions, want_git, finish_git);
    if (rc != CLI_EXIT_OK)
        goto cleanup;
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
