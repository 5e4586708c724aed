/* lusty bootstrap: ready a project for work.
 *
 * Creates the project with `lusty init` when DIR is empty, fetches the
 * handler repositories of lusty.json into lusty_modules/ as lusty.lock pins
 * them (resolving and pinning what is not yet locked), then runs the checks
 * of `lusty doctor`. Fetches run in parallel; each goes to a temporary
 * folder swapped in only when complete, so failures leave the previous state
 * and its lock entry as they were. */
#include "checks.h"
#include "cmd.h"
#include "error.h"
#include "fetch.h"
#include "fs.h"
#include "lock.h"
#include "lusty/alloc.h"
#include "lusty/buf.h"
#include "lusty/error.h"
#include "project.h"
#include "rock_deps.h"
#include "term.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

enum {
    OPT_JOBS = 1,
    OPT_UPDATE,
    OPT_FROZEN,
    OPT_OFFLINE,
    OPT_FORCE,
    OPT_JSON,
    OPT_QUIET,
};

static const cli_opt_t options[] = {
    {"jobs", 'j', "N", "Fetch N repositories at a time (default: 4)", OPT_JOBS},
    {"update", 'u', NULL, "Re-resolve the refs of the NAMEs that follow (default: all) and rewrite lusty.lock", OPT_UPDATE,
     "handler"},
    {"frozen", 0, NULL, "Fail if lusty.lock is missing or disagrees with lusty.json", OPT_FROZEN},
    {"offline", 0, NULL, "Never touch the network; say what is missing", OPT_OFFLINE},
    {"force", 'f', NULL, "Replace handler folders even when they have local changes", OPT_FORCE},
    CLI_MONGODB_OPTIONS,
    {"json", 0, NULL, "Print the report as JSON on stdout", OPT_JSON},
    {"quiet", 'q', NULL, "Print nothing but warnings and errors", OPT_QUIET},
    {NULL, 0, NULL, NULL, 0},
};

const cli_cmd_info_t cmd_bootstrap_info = {
    .name = "bootstrap",
    .summary = "Fetch the handler repositories and check the services",
    .usage = "[options] [DIR] [--update [NAME...]]",
    .description =
        "Readies the project in DIR (default: the current folder or the nearest one above it\n"
        "with a lusty.json). When DIR holds no project and is empty, says so and runs 'lusty\n"
        "init' there first (a missing or non-empty DIR is refused). Then\n"
        "fetches the \"handlers\" of lusty.json into lusty_modules/ (git repositories or\n"
        "archives), exactly as lusty.lock pins them, and records in lusty.lock what the others\n"
        "resolved to. Finally checks MongoDB, nginx and the server's port, as 'lusty doctor'.\n"
        "Exits with 1 when a repository could not be fetched. See docs/bootstrap.md.\n",
    .options = options,
    .args = "dir",
};

typedef struct {
    const char *dir;
    char **update_names;
    size_t nupdate;
    long jobs;
    bool update, frozen, offline, force, json, quiet;
    cli_mongodb_opts_t mongodb;
} boot_args_t;

/* What happens to one handler. */
typedef enum {
    PLAN_FETCH,
    PLAN_UP_TO_DATE,
    PLAN_SKIP,    /* local changes */
    PLAN_MISSING, /* --offline and not installed as wanted */
} plan_kind_t;

typedef struct {
    const cli_source_t *decl;
    const cli_source_t *locked; /* the lock entry, when it is the one to install */
    const cli_source_t *old;    /* the lock entry whatever it is, or NULL */
    char *dest;
    cli_installed_t installed;
    plan_kind_t kind;
    cli_fetch_job_t *job; /* PLAN_FETCH */
} plan_t;

static const char *const status_names[] = {"fetched", "up-to-date", "skipped", "missing", "failed"};

static bool wants_update(const boot_args_t *a, const char *name)
{
    if (!a->update)
        return false;
    if (a->nupdate == 0)
        return true;
    for (size_t i = 0; i < a->nupdate; i++)
        if (strcmp(a->update_names[i], name) == 0)
            return true;
    return false;
}

/* Removes a URL's password from a library message that may quote it. */
static char *scrub(const char *text, const char *url)
{
    char *shown = cli_url_redact(url);
    lusty_buf_t out = LUSTY_BUF_INIT;
    const char *scheme = strstr(url, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    if (!colon || strcmp(shown, url) == 0) {
        lusty_free(shown);
        return lusty_strdup(text);
    }
    size_t plen = (size_t)(at - colon - 1);
    for (const char *p = text; *p;) {
        if (plen && strncmp(p, colon + 1, plen) == 0) {
            lusty_buf_puts(&out, "***");
            p += plen;
        } else {
            lusty_buf_putc(&out, *p++);
        }
    }
    lusty_free(shown);
    return lusty_buf_detach(&out, NULL);
}

static const char *hint_for(const char *cause)
{
    static const struct {
        const char *cause, *hint;
    } hints[] = {
        {"repository not found", "check the \"git\" URL of this handler in lusty.json"},
        {"archive not found", "check the \"url\" of this handler in lusty.json"},
        {"ref not found", "check the \"ref\" of this handler in lusty.json"},
        {"locked commit not found",
         "the upstream history changed; run 'lusty bootstrap --update NAME' to re-resolve it"},
        {"cannot reach the host",
         "check the network and the URL, or work with what is installed: --offline"},
        {"authentication needed",
         "for ssh, add your key to ssh-agent; for https, use a URL the server accepts"},
        {"checksum mismatch",
         "the archive is not the one lusty.json or lusty.lock names; nothing was installed"},
        {"disk full", "free some disk space and run 'lusty bootstrap' again"},
        {"the connection broke off", "run 'lusty bootstrap' again; nothing was changed"},
        {"archive too large",
         "if the archive is right, raise the limit in lusty.json's \"bootstrap\" section"},
    };
    for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++)
        if (strcmp(hints[i].cause, cause) == 0)
            return hints[i].hint;
    return NULL;
}

static const char *plan_status(const plan_t *p)
{
    switch (p->kind) {
    case PLAN_UP_TO_DATE: return status_names[1];
    case PLAN_SKIP: return status_names[2];
    case PLAN_MISSING: return status_names[3];
    case PLAN_FETCH: break;
    }
    if (p->job->status != CLI_FETCH_FETCHED)
        return status_names[4];
    /* A re-resolved ref that did not move is nothing new. */
    const char *id = p->job->resolved.commit ? p->job->resolved.commit : p->job->resolved.sha256;
    if (p->installed.state == CLI_INSTALLED_CLEAN && p->installed.id && id &&
        strcmp(p->installed.id, id) == 0)
        return status_names[1];
    return status_names[0];
}

/* The id (commit or sha256) a plan ends with, or NULL. */
static const char *plan_id(const plan_t *p)
{
    if (p->kind == PLAN_FETCH) {
        if (p->job->status != CLI_FETCH_FETCHED)
            return NULL;
        return p->job->resolved.commit ? p->job->resolved.commit : p->job->resolved.sha256;
    }
    return p->kind == PLAN_UP_TO_DATE ? p->installed.id : NULL;
}

static void print_done_line(const plan_t *p, FILE *out)
{
    const char *status = plan_status(p), *id = plan_id(p);
    const char *color = strcmp(status, "failed") == 0    ? cli_term_red(out)
                        : strcmp(status, "fetched") == 0 ? cli_term_green(out)
                        : strcmp(status, "up-to-date") == 0 ? ""
                                                            : cli_term_yellow(out);
    fprintf(out, "  %s%-10s%s %s", color, strcmp(status, "up-to-date") == 0 ? "up to date" : status,
            cli_term_reset(out), p->decl->name);
    if (id)
        fprintf(out, " %.*s", p->decl->kind == CLI_SOURCE_GIT ? 7 : 12, id);
    if (p->decl->ref && id)
        fprintf(out, " (%s)", p->decl->ref);
    fputc('\n', out);
}

typedef struct {
    plan_t *plans;
    size_t count;
} plans_t;

static void on_job_done(const cli_fetch_job_t *job, void *data)
{
    plans_t *all = data;
    for (size_t i = 0; i < all->count; i++)
        if (all->plans[i].job == job)
            print_done_line(&all->plans[i], stdout);
    fflush(stdout);
}

/* The checks of services (MongoDB, nginx, the port) do not depend on the
 * handlers: they run beside the fetches, and are reported after them. */
typedef struct {
    cli_checks_t *checks;
    const char *host;
    int port;
} checks_run_t;

static void *run_checks(void *arg)
{
    checks_run_t *run = arg;
    cli_checks_run(run->checks, run->host, run->port);
    return NULL;
}

static void on_signal(int sig)
{
    (void)sig;
    cli_fetch_interrupted = 1;
}

/* Reports an error that stops bootstrap before its report: on stderr, and
 * with --json also as {"command": "bootstrap", "ok": false, "error": …} on
 * stdout, so that a script reading stdout always gets an object. */
static void fail(const boot_args_t *a, const char *project, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(const boot_args_t *a, const char *project, const char *fmt, ...)
{
    va_list ap;
    lusty_buf_t msg = LUSTY_BUF_INIT;
    va_start(ap, fmt);
    lusty_buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    cli_error("%s", msg.data);
    if (a->json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "command", "bootstrap");
        if (project)
            cJSON_AddStringToObject(root, "project", project);
        else
            cJSON_AddNullToObject(root, "project");
        cJSON_AddBoolToObject(root, "ok", false);
        cJSON_AddStringToObject(root, "error", msg.data);
        char *text = cJSON_Print(root);
        printf("%s\n", text);
        cJSON_free(text);
        cJSON_Delete(root);
    }
    lusty_buf_free(&msg);
}

/* Checks --frozen: the lock exists and pins exactly lusty.json's handlers. */
static int check_frozen(const boot_args_t *a, const char *project, const cli_source_list_t *decls,
                        const cli_source_list_t *lock, bool have_lock)
{
    if (!have_lock) {
        fail(a, project, "lusty.lock is missing and --frozen forbids creating it");
        cli_hint("run 'lusty bootstrap' without --frozen to create it, and commit it");
        return CLI_EXIT_FAILURE;
    }
    lusty_buf_t names = LUSTY_BUF_INIT;
    size_t n = 0;
    for (size_t i = 0; i < decls->count; i++)
        if (!cli_source_matches(&decls->items[i], cli_source_find(lock, decls->items[i].name)))
            lusty_buf_printf(&names, "%s'%s'", n++ ? ", " : "", decls->items[i].name);
    for (size_t i = 0; i < lock->count; i++)
        if (!cli_source_find(decls, lock->items[i].name))
            lusty_buf_printf(&names, "%s'%s'", n++ ? ", " : "", lock->items[i].name);
    if (n) {
        fail(a, project, "lusty.lock disagrees with lusty.json about %s", names.data);
        cli_hint("run 'lusty bootstrap' without --frozen to update lusty.lock, and commit it");
    }
    lusty_buf_free(&names);
    return n ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

/* Decides what to do with each handler, without touching the network. */
static void make_plan(plan_t *p, const cli_source_t *decl, const cli_source_list_t *lock,
                      const cli_project_t *proj, const boot_args_t *a)
{
    p->decl = decl;
    p->old = cli_source_find(lock, decl->name);
    p->locked = !wants_update(a, decl->name) && cli_source_matches(decl, p->old) ? p->old : NULL;
    char *rel = lusty_asprintf("lusty_modules/%s", decl->name);
    p->dest = cli_project_path(proj, rel);
    lusty_free(rel);
    cli_fetch_inspect(&p->installed, decl, p->dest);
    const cli_installed_t *in = &p->installed;
    const char *want = p->locked ? (decl->kind == CLI_SOURCE_GIT ? p->locked->commit
                                                                 : p->locked->sha256)
                                 : NULL;
    bool same_url = in->url && strcmp(in->url, decl->url) == 0;
    if ((in->state == CLI_INSTALLED_CHANGED || in->state == CLI_INSTALLED_FOREIGN) && !a->force)
        p->kind = PLAN_SKIP;
    else if (want && in->state == CLI_INSTALLED_CLEAN && same_url && strcmp(in->id, want) == 0)
        p->kind = PLAN_UP_TO_DATE;
    else if (a->offline)
        p->kind = PLAN_MISSING;
    else
        p->kind = PLAN_FETCH;
}

static void report_problems(const plan_t *plans, size_t count, const char *dir)
{
    for (size_t i = 0; i < count; i++) {
        const plan_t *p = &plans[i];
        char *url = cli_url_redact(p->decl->url);
        if (p->kind == PLAN_SKIP) {
            cli_warning("skipped '%s': lusty_modules/%s has local changes (%s)", p->decl->name,
                        p->decl->name, p->installed.detail);
            if (p->installed.local_commits)
                cli_hint("push them, or pass --force to replace the folder (its commits are then "
                         "kept under refs/lusty/backup/ in the new checkout)");
            else
                cli_hint("commit or move them away, or pass --force to replace the folder");
        } else if (p->kind == PLAN_MISSING) {
            const char *what = p->installed.state == CLI_INSTALLED_ABSENT
                                   ? "is not installed"
                                   : "is not installed as lusty.lock pins it";
            cli_error("'%s' (%s) %s and --offline forbids fetching it", p->decl->name, url, what);
        } else if (p->kind == PLAN_FETCH && p->job->backup) {
            cli_warning("replaced lusty_modules/%s, which had local commits: they are kept as %s",
                        p->decl->name, p->job->backup);
            cli_hint("see them with 'git -C lusty_modules/%s log refs/lusty/backup/'",
                     p->decl->name);
        } else if (p->kind == PLAN_FETCH && p->job->status == CLI_FETCH_FAILED) {
            char *detail = p->job->error ? scrub(p->job->error, p->decl->url) : NULL;
            cli_error("cannot fetch '%s' from '%s': %s%s%s%s", p->decl->name, url, p->job->cause,
                      detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
            const char *hint = hint_for(p->job->cause);
            if (hint)
                cli_hint("%s", hint);
            lusty_free(detail);
        }
        lusty_free(url);
    }
    (void)dir;
}

static cJSON *plan_json(const plan_t *p)
{
    cJSON *o = cJSON_CreateObject();
    char *url = cli_url_redact(p->decl->url);
    const char *status = plan_status(p), *id = plan_id(p);
    cJSON_AddStringToObject(o, "name", p->decl->name);
    cJSON_AddStringToObject(o, "type", p->decl->kind == CLI_SOURCE_GIT ? "git" : "archive");
    cJSON_AddStringToObject(o, "url", url);
    if (p->decl->kind == CLI_SOURCE_GIT) {
        if (p->decl->ref)
            cJSON_AddStringToObject(o, "ref", p->decl->ref);
        else
            cJSON_AddNullToObject(o, "ref");
    }
    cJSON_AddStringToObject(o, "status", status);
    const char *key = p->decl->kind == CLI_SOURCE_GIT ? "commit" : "sha256";
    if (id)
        cJSON_AddStringToObject(o, key, id);
    else
        cJSON_AddNullToObject(o, key);
    if (p->kind == PLAN_SKIP)
        cJSON_AddStringToObject(o, "reason", p->installed.detail ? p->installed.detail : "");
    if (p->kind == PLAN_MISSING)
        cJSON_AddStringToObject(o, "reason", "offline");
    if (p->kind == PLAN_FETCH && p->job->status == CLI_FETCH_FAILED) {
        char *detail = p->job->error ? scrub(p->job->error, p->decl->url) : NULL;
        cJSON_AddStringToObject(o, "reason", p->job->cause);
        if (detail)
            cJSON_AddStringToObject(o, "error", detail);
        lusty_free(detail);
    }
    if (p->kind == PLAN_FETCH && p->job->backup)
        cJSON_AddStringToObject(o, "backup", p->job->backup);
    if (p->kind == PLAN_FETCH && p->job->status == CLI_FETCH_FETCHED)
        cJSON_AddNumberToObject(o, "seconds",
                                (double)(long)((p->job->finished - p->job->started) * 1000) / 1000);
    lusty_free(url);
    return o;
}

/* Reads "bootstrap": {"archive_max_bytes": N, "archive_max_entries": N} of
 * lusty.json into limits[0] and limits[1] (0 when absent: the defaults).
 * Returns 0, or -1 after reporting a bad value. */
static int read_archive_limits(const boot_args_t *a, const cli_project_t *proj,
                               unsigned long long limits[2])
{
    static const char *const keys[] = {"archive_max_bytes", "archive_max_entries"};
    const cJSON *section = cli_project_get(proj, "bootstrap");
    if (section && !cJSON_IsObject(section)) {
        fail(a, proj->dir, "lusty.json: \"bootstrap\" must be an object");
        return -1;
    }
    for (size_t i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(section, keys[i]);
        if (!v)
            continue;
        if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 1e15 ||
            v->valuedouble != (double)(unsigned long long)v->valuedouble) {
            fail(a, proj->dir,
                 "lusty.json: \"bootstrap.%s\" must be a whole number from 1 to 10^15", keys[i]);
            return -1;
        }
        limits[i] = (unsigned long long)v->valuedouble;
    }
    return 0;
}

/* True when `dir` has nothing in it but, perhaps, a fresh `.git`. */
static bool empty_folder(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool empty = true;
    for (struct dirent *e; empty && (e = readdir(d));)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
                strcmp(e->d_name, ".git") == 0;
    closedir(d);
    return empty;
}

/* Finds the project. When there is none, an empty folder becomes one (as
 * `lusty init` makes it, said first); a missing folder, or one with files
 * that is not a project, is refused rather than filled. */
static int open_or_init(const boot_args_t *a, cli_project_t **out, bool *created)
{
    char *err = NULL, *found = NULL;
    const char *start = a->dir ? a->dir : ".";
    bool have = false;
    *created = false;
    if (a->dir) {
        char *manifest = cli_path_join(a->dir, CLI_PROJECT_MANIFEST);
        have = cli_exists(manifest);
        lusty_free(manifest);
    } else {
        have = cli_project_find(".", &found) == 0;
        lusty_free(found);
    }
    if (!have && !cli_is_dir(start)) {
        fail(a, NULL, "no such folder '%s'", start);
        cli_hint("run 'lusty init %s' to create a project there", start);
        return CLI_EXIT_FAILURE;
    }
    if (!have && !empty_folder(start)) {
        fail(a, NULL, "'%s' is not a Lusty project (no lusty.json%s) and is not empty", start,
             a->dir ? "" : " here or above");
        cli_hint("to make a project of it, run 'lusty init --force %s' (it adds the template's "
                 "files, and overwrites those of the same name)",
                 start);
        return CLI_EXIT_FAILURE;
    }
    if (!have) {
        char *argv[5] = {"init"};
        int argc = 1;
        if (!a->json && !a->quiet)
            printf("No Lusty project in '%s': creating one there from the 'default' template "
                   "(as 'lusty init' does).\n",
                   start);
        if (a->json || a->quiet)
            argv[argc++] = "--quiet";
        argv[argc++] = "--";
        argv[argc++] = (char *)start;
        fflush(stdout);
        int rc = cmd_init(argc, argv);
        if (rc != CLI_EXIT_OK) {
            if (a->json)
                fail(a, NULL, "cannot create a project in '%s'", start);
            return rc;
        }
        *created = true;
        if (!a->json && !a->quiet)
            printf("\n");
    }
    if (cli_project_open(out, start, &err) != 0) {
        fail(a, NULL, "%s", err);
        lusty_free(err);
        return CLI_EXIT_FAILURE;
    }
    return CLI_EXIT_OK;
}

static int run_bootstrap(const boot_args_t *a)
{
    cli_project_t *proj = NULL;
    cli_source_list_t decls = {0}, lock = {0}, new_lock = {0};
    plan_t *plans = NULL;
    cli_fetch_job_t *jobs = NULL;
    cli_checks_t checks = {0};
    char *err = NULL, *lock_path = NULL;
    size_t njobs = 0;
    bool lock_written = false, created = false;
    int lock_fd = -1;
    int rc = open_or_init(a, &proj, &created);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = CLI_EXIT_FAILURE;
    /* Relative handler paths in lusty.json are relative to the project. */
    if (chdir(proj->dir) != 0) {
        fail(a, proj->dir, "cannot enter '%s': %s", proj->dir, cli_strerror(errno));
        goto cleanup;
    }
    /* One bootstrap at a time per project: then whatever temporaries are
     * in lusty_modules/ were left by a killed run, and can go. */
    lock_fd = open(proj->manifest_path, O_RDONLY | O_CLOEXEC);
    if (lock_fd >= 0 && flock(lock_fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
        fail(a, proj->dir, "another lusty bootstrap is running in '%s'", proj->dir);
        goto cleanup;
    }
    char *modules = cli_project_path(proj, "lusty_modules");
    size_t stale = 0;
    cli_fetch_remove_leftovers(modules, &stale);
    lusty_free(modules);
    if (stale && !a->json && !a->quiet)
        printf("removed %zu temporary folder%s left by an interrupted bootstrap\n", stale,
               stale == 1 ? "" : "s");
    if (cli_sources_from_manifest(&decls, cli_project_get(proj, "handlers"), &err) != 0) {
        fail(a, proj->dir, "%s", err);
        goto cleanup;
    }
    lock_path = cli_project_path(proj, "lusty.lock");
    int lrc = cli_lock_read(&lock, lock_path, &err);
    if (lrc < 0) {
        fail(a, proj->dir, "%s", err);
        cli_hint("fix it, or delete it and run 'lusty bootstrap' to create it again");
        goto cleanup;
    }
    for (size_t i = 0; i < a->nupdate; i++) {
        if (!cli_source_find(&decls, a->update_names[i])) {
            fail(a, proj->dir, "no handler '%s' in '%s'", a->update_names[i], proj->manifest_path);
            const char **names = lusty_calloc(decls.count + 1, sizeof(char *));
            for (size_t j = 0; j < decls.count; j++)
                names[j] = decls.items[j].name;
            const char *guess = cli_suggest(a->update_names[i], names);
            if (guess) {
                cli_hint("did you mean '%s'?", guess);
            } else if (decls.count == 0) {
                cli_hint("lusty.json has no handlers");
            } else {
                lusty_buf_t all = LUSTY_BUF_INIT;
                for (size_t j = 0; j < decls.count; j++)
                    lusty_buf_printf(&all, "%s%s", j ? ", " : "", names[j]);
                cli_hint("the handlers are: %s", all.data);
                lusty_buf_free(&all);
            }
            lusty_free(names);
            /* A well-formed name that names nothing fails the command (1),
             * as an unknown template does; 2 is for malformed usage. */
            rc = CLI_EXIT_FAILURE;
            goto cleanup;
        }
    }
    if (a->frozen && check_frozen(a, proj->dir, &decls, &lock, lrc == 0) != CLI_EXIT_OK)
        goto cleanup;

    unsigned long long limits[2] = {0, 0};
    if (read_archive_limits(a, proj, limits) != 0)
        goto cleanup;
    plans = lusty_calloc(decls.count ? decls.count : 1, sizeof(*plans));
    jobs = lusty_calloc(decls.count ? decls.count : 1, sizeof(*jobs));
    for (size_t i = 0; i < decls.count; i++) {
        plan_t *p = &plans[i];
        make_plan(p, &decls.items[i], &lock, proj, a);
        if (p->kind == PLAN_FETCH) {
            p->job = &jobs[njobs++];
            p->job->decl = p->decl;
            p->job->dest = p->dest;
            p->job->max_bytes = limits[0];
            p->job->max_entries = limits[1];
            if (p->locked)
                p->job->pin = p->decl->kind == CLI_SOURCE_GIT ? p->locked->commit : p->locked->sha256;
        }
    }

    bool show = !a->json && !a->quiet;
    if (show && decls.count)
        printf("handlers of %s:\n", proj->name);
    if (show)
        for (size_t i = 0; i < decls.count; i++)
            if (plans[i].kind != PLAN_FETCH)
                print_done_line(&plans[i], stdout);
    fflush(stdout);
    plans_t all = {plans, decls.count};
    FILE *tty = show && cli_term_can_redraw(stdout) ? stdout : NULL;
    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    checks_run_t check_run = {.checks = &checks};
    checks.project_dir = proj->dir;
    cli_checks_prepare(&checks, proj->manifest, &a->mongodb, &check_run.host, &check_run.port);
    cli_checks_prepare_store(&checks, proj->dir, proj->manifest);
    pthread_t check_thread;
    bool checking = njobs > 0 && pthread_create(&check_thread, NULL, run_checks, &check_run) == 0;
    cli_fetch_run(jobs, njobs, (int)a->jobs, tty, show ? on_job_done : NULL, &all);
    if (checking)
        pthread_join(check_thread, NULL);
    else
        run_checks(&check_run);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);

    /* The new lock: what was fetched, else what was pinned before. */
    for (size_t i = 0; i < decls.count; i++) {
        const plan_t *p = &plans[i];
        if (p->kind == PLAN_FETCH && p->job->status == CLI_FETCH_FETCHED)
            cli_source_list_put(&new_lock, &p->job->resolved);
        else if (p->old)
            cli_source_list_put(&new_lock, p->old);
    }
    bool changed = lrc == 0 ? !cli_source_list_equal(&lock, &new_lock) : new_lock.count > 0;
    if (changed && !a->offline && !a->frozen) {
        int werr = cli_lock_write(lock_path, &new_lock);
        if (werr) {
            cli_error("cannot write '%s': %s", lock_path, cli_strerror(werr));
            goto cleanup;
        }
        lock_written = true;
    }

    size_t counts[5] = {0};
    for (size_t i = 0; i < decls.count; i++) {
        const char *s = plan_status(&plans[i]);
        for (size_t k = 0; k < 5; k++)
            counts[k] += strcmp(s, status_names[k]) == 0;
    }
    report_problems(plans, decls.count, proj->dir);
    cli_rock_deps_report(proj->dir, &decls);
    if (show) {
        if (decls.count) {
            printf("handlers: %zu fetched, %zu up to date, %zu failed", counts[0], counts[1],
                   counts[4] + counts[3]);
            if (counts[2])
                printf(", %zu skipped", counts[2]);
            printf("%s\n", lock_written ? "; lusty.lock updated" : "");
        } else {
            printf("handlers: none in lusty.json\n");
        }
    }

    if (a->json)
        cli_checks_print_problems(&checks);
    else if (!a->quiet)
        cli_checks_print_once(&checks, stdout);
    else
        cli_checks_print_problems(&checks);

    bool failed = counts[3] || counts[4] || cli_checks_failed(&checks);
    if (a->json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "command", "bootstrap");
        cJSON_AddStringToObject(root, "project", proj->dir);
        cJSON_AddBoolToObject(root, "created_project", created);
        cJSON *list = cJSON_AddArrayToObject(root, "handlers");
        for (size_t i = 0; i < decls.count; i++)
            cJSON_AddItemToArray(list, plan_json(&plans[i]));
        cJSON *sum = cJSON_AddObjectToObject(root, "summary");
        cJSON_AddNumberToObject(sum, "fetched", (double)counts[0]);
        cJSON_AddNumberToObject(sum, "up_to_date", (double)counts[1]);
        cJSON_AddNumberToObject(sum, "skipped", (double)counts[2]);
        cJSON_AddNumberToObject(sum, "failed", (double)(counts[3] + counts[4]));
        cJSON_AddBoolToObject(root, "lock_written", lock_written);
        cJSON_AddItemToObject(root, "checks", cli_checks_to_json(&checks));
        cJSON_AddBoolToObject(root, "ok", !failed);
        char *text = cJSON_Print(root);
        printf("%s\n", text);
        cJSON_free(text);
        cJSON_Delete(root);
    }
    rc = failed ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
cleanup:
    for (size_t i = 0; plans && i < decls.count; i++) {
        lusty_free(plans[i].dest);
        cli_installed_clear(&plans[i].installed);
    }
    for (size_t i = 0; i < njobs; i++)
        cli_fetch_job_clear(&jobs[i]);
    cli_checks_clear(&checks);
    lusty_free(jobs);
    lusty_free(plans);
    cli_source_list_free(&new_lock);
    cli_source_list_free(&lock);
    cli_source_list_free(&decls);
    lusty_free(lock_path);
    lusty_free(err);
    cli_project_free(proj);
    if (lock_fd >= 0)
        close(lock_fd);
    return rc;
}

int cmd_bootstrap(int argc, char **argv)
{
    boot_args_t a = {.jobs = 4};
    cli_opt_parser_t p;
    int rc = CLI_EXIT_OK, first_name = -1;
    cli_opt_init(&p, &cmd_bootstrap_info, argc, argv);
    for (int id; (id = cli_opt_next(&p)) != CLI_OPT_END;) {
        switch (id) {
        case CLI_OPT_HELP: goto done;
        case CLI_OPT_ERROR: rc = CLI_EXIT_USAGE; goto done;
        case OPT_JOBS:
            if (!cli_parse_int(p.value, 1, 64, &a.jobs)) {
                cli_error("invalid --jobs '%s': use a number from 1 to 64", p.value);
                rc = CLI_EXIT_USAGE;
                goto done;
            }
            break;
        case OPT_UPDATE:
            a.update = true;
            if (first_name < 0)
                first_name = p.nargs;
            break;
        case OPT_FROZEN: a.frozen = true; break;
        case OPT_OFFLINE: a.offline = true; break;
        case OPT_FORCE: a.force = true; break;
        case OPT_JSON: a.json = true; break;
        case OPT_QUIET: a.quiet = true; break;
        default: /* the MongoDB options */
            if (cli_mongodb_opt(&a.mongodb, id, p.value) < 0) {
                rc = CLI_EXIT_USAGE;
                goto done;
            }
        }
    }
    /* Arguments before --update name the folder, those after it handlers. */
    int ndirs = first_name < 0 ? p.nargs : first_name;
    if (ndirs > 1) {
        cli_error("'lusty bootstrap' takes one DIR, got %d", ndirs);
        cli_hint("handler names go after --update");
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    if (ndirs == 1)
        a.dir = p.args[0];
    if (a.dir && !a.dir[0]) {
        cli_error("DIR must not be empty");
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    a.update_names = p.args + ndirs;
    a.nupdate = (size_t)(p.nargs - ndirs);
    const char *conflict = a.update && a.frozen    ? "--update and --frozen"
                           : a.update && a.offline ? "--update and --offline"
                           : a.mongodb.skip && a.mongodb.require
                               ? "--skip-mongodb and --require-mongodb"
                               : NULL;
    if (conflict) {
        cli_error("%s cannot be used together", conflict);
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    cli_fetch_global_init();
    rc = run_bootstrap(&a);
    cli_fetch_global_cleanup();
done:
    cli_opt_free(&p);
    return rc;
}
