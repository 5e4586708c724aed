/* lusty deploy-files: (re)generate conf/nginx.conf, conf/lusty.service and
 * logs/.gitignore from lusty.json (see deploy.h, docs/deploy.md).
 *
 * Every file is checked before anything is written: a file nobody edited
 * since it was generated is replaced, an edited one only with --force, so
 * a run either writes all it should or nothing. */
#include "cmd.h"
#include "deploy.h"
#include "error.h"
#include "fs.h"
#include "project.h"
#include "term.h"

#include "lusty/alloc.h"
#include "lusty/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    OPT_FORCE = 1,
    OPT_DRY_RUN,
    OPT_QUIET,
};

static const cli_opt_t options[] = {
    {"force", 'f', NULL, "Replace deploy files even when they were edited", OPT_FORCE},
    {"dry-run", 0, NULL, "Print what would be written, write nothing", OPT_DRY_RUN},
    {"quiet", 'q', NULL, "Print nothing but errors", OPT_QUIET},
    {NULL, 0, NULL, NULL, 0},
};

const cli_cmd_info_t cmd_deploy_files_info = {
    .name = "deploy-files",
    .summary = "Regenerate conf/nginx.conf and conf/lusty.service from lusty.json",
    .usage = "[options] [DIR]",
    .description =
        "Writes the deploy files of the project in DIR (default: the project containing\n"
        "the current folder) from its lusty.json: conf/nginx.conf (nginx serving the\n"
        "static folders and proxying the rest to lusty server instances), conf/lusty.service\n"
        "(a systemd unit in production mode) and logs/.gitignore. lusty init writes them\n"
        "too. A file edited since it was generated is kept unless --force; then nothing\n"
        "is written. See docs/deploy.md.\n",
    .options = options,
    .args = "dir",
};

typedef enum { ACT_CREATE, ACT_UPDATE, ACT_SAME, ACT_EDITED, ACT_REPLACE_EDITED } action_t;

static const char *action_name(action_t a)
{
    static const char *names[] = {"create", "update", "unchanged", "edited", "replace"};
    return names[a];
}

static int run(const char *dir, bool force, bool dry_run, bool quiet)
{
    cli_project_t *p = NULL;
    char *err = NULL;
    int rc = CLI_EXIT_FAILURE;
    cli_deploy_file_t files[CLI_DEPLOY_NFILES] = {0};
    action_t actions[CLI_DEPLOY_NFILES];
    bool rendered = false;

    int perr = cli_project_open(&p, dir, &err);
    if (perr != 0) {
        cli_error("%s", err);
        if (perr == LUSTY_ENOENT)
            cli_hint("run 'lusty init' to create a project, or give its folder");
        goto cleanup;
    }
    if (cli_project_check(p) != 0)
        goto cleanup;
    cli_deploy_render(p->manifest, p->dir, files);
    rendered = true;

    size_t edited = 0;
    for (size_t i = 0; i < CLI_DEPLOY_NFILES; i++) {
        char *path = cli_path_join(p->dir, files[i].path), *old = NULL;
        size_t len = 0;
        int e = cli_read_file(path, &old, &len);
        if (e == ENOENT)
            actions[i] = ACT_CREATE;
        else if (e) {
            cli_error("cannot read '%s': %s", path, strerror(e));
            lusty_free(path);
            goto cleanup;
        } else if (len == files[i].len && memcmp(old, files[i].content, len) == 0)
            actions[i] = ACT_SAME;
        else if (cli_deploy_unedited(old, len))
            actions[i] = ACT_UPDATE;
        else {
            actions[i] = force ? ACT_REPLACE_EDITED : ACT_EDITED;
            edited += !force;
        }
        lusty_free(old);
        lusty_free(path);
    }
    if (edited) {
        for (size_t i = 0; i < CLI_DEPLOY_NFILES; i++)
            if (actions[i] == ACT_EDITED)
                cli_error("'%s' was edited since it was generated: not replacing it",
                          files[i].path);
        cli_hint("keep your edits, or pass --force to replace %s (nothing was written)",
                 edited == 1 ? "it" : "them");
        goto cleanup;
    }
    for (size_t i = 0; i < CLI_DEPLOY_NFILES && !dry_run; i++) {
        if (actions[i] == ACT_SAME)
            continue;
        char *path = cli_path_join(p->dir, files[i].path), *tmp = NULL;
        char *folder = lusty_strdup(path);
        *strrchr(folder, '/') = '\0';
        int e = cli_mkdir_p(folder, 0755, NULL);
        lusty_free(folder);
        if (!e)
            e = cli_write_temp(path, files[i].content, files[i].len, 0644, &tmp);
        if (!e && rename(tmp, path) != 0) {
            e = errno;
            unlink(tmp);
        }
        lusty_free(tmp);
        if (e) {
            cli_error("cannot write '%s': %s", path, strerror(e));
            lusty_free(path);
            goto cleanup;
        }
        lusty_free(path);
    }
    if (!quiet) {
        for (size_t i = 0; i < CLI_DEPLOY_NFILES; i++) {
            bool changes = actions[i] != ACT_SAME;
            printf("  %s%-9s%s %s\n", changes ? cli_term_green(stdout) : "",
                   action_name(actions[i]), changes ? cli_term_reset(stdout) : "", files[i].path);
        }
        if (dry_run)
            printf("Dry run: nothing was written.\n");
    }
    rc = CLI_EXIT_OK;
cleanup:
    if (rendered)
        cli_deploy_files_free(files);
    lusty_free(err);
    cli_project_free(p);
    return rc;
}

int cmd_deploy_files(int argc, char **argv)
{
    cli_opt_parser_t p;
    bool force = false, dry_run = false, quiet = false;
    int rc = CLI_EXIT_OK;
    cli_opt_init(&p, &cmd_deploy_files_info, argc, argv);
    for (int id; (id = cli_opt_next(&p)) != CLI_OPT_END;) {
        switch (id) {
        case CLI_OPT_HELP:
            goto done;
        case CLI_OPT_ERROR:
            rc = CLI_EXIT_USAGE;
            goto done;
        case OPT_FORCE:
            force = true;
            break;
        case OPT_DRY_RUN:
            dry_run = true;
            break;
        case OPT_QUIET:
            quiet = true;
            break;
        }
    }
    if (p.nargs > 1) {
        cli_error("'lusty deploy-files' takes one DIR, got %d arguments", p.nargs);
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    rc = run(p.nargs == 1 ? p.args[0] : ".", force, dry_run, quiet);
done:
    cli_opt_free(&p);
    return rc;
}
