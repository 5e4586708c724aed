/* lusty doctor: the checks of `lusty bootstrap` without fetching anything.
 *
 * Reports MongoDB, nginx/OpenResty, the server's port, the store, libgit2, and the
 * state of each handler in lusty_modules/ against lusty.lock. Works outside
 * a project too, with the defaults, for checking a machine. */
#include "checks.h"
#include "cmd.h"
#include "error.h"
#include "fetch.h"
#include "fs.h"
#include "lock.h"
#include "lusty/alloc.h"
#include "lusty/error.h"
#include "project.h"
#include "term.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

enum {
    OPT_JSON = 1,
};

static const cli_opt_t options[] = {
    CLI_MONGODB_OPTIONS,
    {"json", 0, NULL, "Print the report as JSON on stdout", OPT_JSON},
    {NULL, 0, NULL, NULL, 0},
};

const cli_cmd_info_t cmd_doctor_info = {
    .name = "doctor",
    .summary = "Check MongoDB, nginx, the port and the handlers without fetching",
    .usage = "[options] [DIR]",
    .description =
        "Runs the checks of 'lusty bootstrap' for the project in DIR (default: the current\n"
        "folder or the nearest one above it with a lusty.json), and reports which handlers\n"
        "of lusty.json are installed as lusty.lock pins them. Fetches nothing. Exits with 1\n"
        "when MongoDB is required but unreachable, or its URI is malformed.\n",
    .options = options,
    .args = "dir",
};

/* One handler's state: "ok", "missing", "unlocked", "outdated", "changed". */
static const char *handler_state(const cli_source_t *decl, const cli_source_list_t *lock,
                                 const cli_installed_t *in)
{
    const cli_source_t *locked = cli_source_find(lock, decl->name);
    if (in->state == CLI_INSTALLED_ABSENT)
        return "missing";
    if (in->state != CLI_INSTALLED_CLEAN)
        return "changed";
    if (!cli_source_matches(decl, locked))
        return "unlocked";
    const char *want = decl->kind == CLI_SOURCE_GIT ? locked->commit : locked->sha256;
    return strcmp(want, in->id) == 0 && in->url && strcmp(in->url, decl->url) == 0 ? "ok"
                                                                                   : "outdated";
}

static const char *state_text(const char *state)
{
    if (strcmp(state, "missing") == 0)
        return "not installed";
    if (strcmp(state, "changed") == 0)
        return "has local changes";
    if (strcmp(state, "unlocked") == 0)
        return "not pinned in lusty.lock";
    if (strcmp(state, "outdated") == 0)
        return "differs from lusty.lock";
    return "installed";
}

typedef struct {
    const char *dir;
    cli_mongodb_opts_t mongodb;
    bool json;
} doctor_args_t;

static int run_doctor(const doctor_args_t *a)
{
    cli_project_t *proj = NULL;
    cli_source_list_t decls = {0}, lock = {0};
    cli_checks_t checks = {0};
    cJSON *handlers_json = cJSON_CreateArray();
    char *err = NULL, *lock_path = NULL;
    int rc = CLI_EXIT_FAILURE;
    size_t not_ok = 0;
    int prc = cli_project_open(&proj, a->dir ? a->dir : ".", &err);
    if (prc != 0 && (prc != LUSTY_ENOENT || a->dir)) {
        cli_error("%s", err);
        if (prc == LUSTY_ENOENT && cli_is_dir(a->dir))
            cli_hint("create a project with 'lusty init' or 'lusty bootstrap'");
        goto cleanup;
    }
    FILE *out = stdout;
    /* The server's own checks: doctor must not pass what the server refuses. */
    if (proj && cli_project_check(proj) != 0)
        goto cleanup;
    if (proj) {
        if (cli_sources_from_manifest(&decls, cli_project_get(proj, "handlers"), &err) != 0) {
            cli_error("%s", err);
            goto cleanup;
        }
        lock_path = cli_project_path(proj, "lusty.lock");
        lusty_free(err);
        err = NULL;
        if (cli_lock_read(&lock, lock_path, &err) < 0) {
            cli_error("%s", err);
            goto cleanup;
        }
        if (!a->json)
            fprintf(out, "project %s%s%s in %s\n", cli_term_bold(out), proj->name,
                    cli_term_reset(out), proj->dir);
        if (!a->json && decls.count)
            fprintf(out, "handlers:\n");
        /* The state column starts after the longest name, so it lines up. */
        int width = 8;
        for (size_t i = 0; i < decls.count; i++) {
            int len = (int)strlen(decls.items[i].name);
            width = len > width ? len : width;
        }
        for (size_t i = 0; i < decls.count; i++) {
            const cli_source_t *d = &decls.items[i];
            cli_installed_t in;
            char *rel = lusty_asprintf("lusty_modules/%s", d->name);
            char *dest = cli_project_path(proj, rel);
            cli_fetch_inspect(&in, d, dest);
            const char *state = handler_state(d, &lock, &in);
            bool ok = strcmp(state, "ok") == 0;
            not_ok += !ok;
            if (!a->json) {
                fprintf(out, "  %-*s %s%s%s", width, d->name,
                        ok ? cli_term_green(out) : cli_term_yellow(out), state_text(state),
                        cli_term_reset(out));
                if (in.id)
                    fprintf(out, " %.*s", d->kind == CLI_SOURCE_GIT ? 7 : 12, in.id);
                if (in.detail && strcmp(state, "changed") == 0)
                    fprintf(out, " (%s)", in.detail);
                fputc('\n', out);
            }
            cJSON *h = cJSON_CreateObject();
            char *url = cli_url_redact(d->url);
            cJSON_AddStringToObject(h, "name", d->name);
            cJSON_AddStringToObject(h, "type", d->kind == CLI_SOURCE_GIT ? "git" : "archive");
            cJSON_AddStringToObject(h, "url", url);
            cJSON_AddStringToObject(h, "state", state);
            if (in.id)
                cJSON_AddStringToObject(h, d->kind == CLI_SOURCE_GIT ? "commit" : "sha256", in.id);
            else
                cJSON_AddNullToObject(h, d->kind == CLI_SOURCE_GIT ? "commit" : "sha256");
            cJSON_AddItemToArray(handlers_json, h);
            lusty_free(url);
            lusty_free(dest);
            lusty_free(rel);
            cli_installed_clear(&in);
        }
    } else if (!a->json) {
        fprintf(out, "no project here: checking with the defaults\n");
    }

    const char *host = NULL;
    int port = 0;
    checks.project_dir = proj ? proj->dir : NULL;
    cli_checks_prepare(&checks, proj ? proj->manifest : NULL, &a->mongodb, &host, &port);
    if (proj)
        cli_checks_prepare_store(&checks, proj->dir, proj->manifest);
    cli_checks_run(&checks, host, port);
    if (a->json)
        cli_checks_print_problems(&checks);
    else
        cli_checks_print(&checks, out);
    if (not_ok)
        cli_hint("run 'lusty bootstrap' to install the handlers as lusty.lock pins them");
    bool failed = cli_checks_failed(&checks);
    if (a->json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "command", "doctor");
        if (proj)
            cJSON_AddStringToObject(root, "project", proj->dir);
        else
            cJSON_AddNullToObject(root, "project");
        cJSON_AddItemToObject(root, "handlers", handlers_json);
        handlers_json = NULL;
        cJSON_AddItemToObject(root, "checks", cli_checks_to_json(&checks));
        cJSON_AddBoolToObject(root, "ok", !failed);
        char *text = cJSON_Print(root);
        printf("%s\n", text);
        cJSON_free(text);
        cJSON_Delete(root);
    }
    rc = failed ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
cleanup:
    cJSON_Delete(handlers_json);
    cli_checks_clear(&checks);
    cli_source_list_free(&lock);
    cli_source_list_free(&decls);
    lusty_free(lock_path);
    lusty_free(err);
    cli_project_free(proj);
    return rc;
}

int cmd_doctor(int argc, char **argv)
{
    doctor_args_t a = {0};
    cli_opt_parser_t p;
    int rc = CLI_EXIT_OK;
    cli_opt_init(&p, &cmd_doctor_info, argc, argv);
    for (int id; (id = cli_opt_next(&p)) != CLI_OPT_END;) {
        switch (id) {
        case CLI_OPT_HELP:
            goto done;
        case CLI_OPT_ERROR:
            rc = CLI_EXIT_USAGE;
            goto done;
        case OPT_JSON:
            a.json = true;
            break;
        default: /* the MongoDB options */
            if (cli_mongodb_opt(&a.mongodb, id, p.value) < 0) {
                rc = CLI_EXIT_USAGE;
                goto done;
            }
        }
    }
    if (p.nargs > 1) {
        cli_error("'lusty doctor' takes one DIR, got %d arguments", p.nargs);
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    if (p.nargs == 1)
        a.dir = p.args[0];
    if (a.mongodb.skip && a.mongodb.require) {
        cli_error("--skip-mongodb and --require-mongodb cannot be used together");
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    cli_fetch_global_init();
    rc = run_doctor(&a);
    cli_fetch_global_cleanup();
done:
    cli_opt_free(&p);
    return rc;
}
