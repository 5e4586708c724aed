/* git through libgit2. */
#include "git.h"

#include "fs.h"
#include "lusty/alloc.h"
#include "test_hook.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <string.h>
#include <unistd.h>

static char *git_message(const char *what)
{
    const git_error *e = git_error_last();
    return lusty_asprintf("%s: %s", what, e && e->message ? e->message : "unknown libgit2 error");
}

bool cli_git_inside_work_tree(const char *path)
{
    git_libgit2_init();
    char *probe = lusty_strdup(path);
    /* Walk up to the nearest folder that exists: the target may not yet. */
    while (!cli_is_dir(probe)) {
        char *slash = strrchr(probe, '/');
        if (!slash) {
            lusty_free(probe);
            probe = lusty_strdup(".");
            break;
        }
        if (slash == probe) {
            slash[1] = '\0';
            break;
        }
        *slash = '\0';
    }
    git_repository *repo = NULL;
    bool inside = git_repository_open_ext(&repo, probe, 0, NULL) == 0 && !git_repository_is_bare(repo);
    git_repository_free(repo);
    lusty_free(probe);
    git_libgit2_shutdown();
    return inside;
}

static char *marker_path(const char *dir)
{
    char *git_dir = cli_path_join(dir, ".git");
    char *marker = cli_path_join(git_dir, CLI_GIT_INCOMPLETE_MARKER);
    lusty_free(git_dir);
    return marker;
}

bool cli_git_init_incomplete(const char *dir)
{
    char *marker = marker_path(dir);
    bool found = cli_exists(marker);
    lusty_free(marker);
    return found;
}

int cli_git_init_commit(const char *dir, char *const *files, size_t count, const char *message,
                        bool (*should_stop)(void), char **short_id_out, char **err_out)
{
    git_repository *repo = NULL;
    git_index *index = NULL;
    git_tree *tree = NULL;
    git_signature *sig = NULL;
    git_oid tree_id, commit_id;
    char *marker = marker_path(dir);
    int rc = -1;
    *err_out = NULL;
    if (short_id_out)
        *short_id_out = NULL;
    git_libgit2_init();
    if (git_repository_init(&repo, dir, 0) != 0) {
        *err_out = git_message("cannot create the repository");
        goto cleanup;
    }
    /* Mark the repository as ours and unfinished before anything else, so
     * that a rerun after a crash knows it may complete it. */
    int fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || close(fd) != 0) {
        *err_out = lusty_asprintf("cannot create the repository: cannot write '%s': %s", marker,
                                  strerror(errno));
        goto cleanup;
    }
    cli_test_pause("git");
    if (git_repository_index(&index, repo) != 0) {
        *err_out = git_message("cannot open the index");
        goto cleanup;
    }
    for (size_t i = 0; i < count; i++) {
        if (should_stop && should_stop()) {
            *err_out = lusty_strdup("interrupted");
            goto cleanup;
        }
        if (git_index_add_bypath(index, files[i]) != 0) {
            char *what = lusty_asprintf("cannot add '%s'", files[i]);
            *err_out = git_message(what);
            lusty_free(what);
            goto cleanup;
        }
    }
    if (git_index_write(index) != 0 || git_index_write_tree(&tree_id, index) != 0 ||
        git_tree_lookup(&tree, repo, &tree_id) != 0) {
        *err_out = git_message("cannot write the tree");
        goto cleanup;
    }
    if (git_signature_default(&sig, repo) != 0 &&
        git_signature_now(&sig, "Lusty", "lusty@localhost") != 0) {
        *err_out = git_message("cannot make a signature");
        goto cleanup;
    }
    if (should_stop && should_stop()) {
        *err_out = lusty_strdup("interrupted");
        goto cleanup;
    }
    if (git_commit_create_v(&commit_id, repo, "HEAD", sig, sig, NULL, message, tree, 0) != 0) {
        *err_out = git_message("cannot commit");
        goto cleanup;
    }
    /* libgit2 does not always report a full disk (a failed fsync of a
     * loose object, say): check that the commit reads back before calling
     * the repository complete. */
    git_commit *check = NULL;
    if (git_commit_lookup(&check, repo, &commit_id) != 0) {
        *err_out = git_message("cannot read the new commit back");
        goto cleanup;
    }
    git_commit_free(check);
    if (unlink(marker) != 0) {
        *err_out = lusty_asprintf("cannot remove '%s': %s", marker, strerror(errno));
        goto cleanup;
    }
    if (short_id_out) {
        char hex[GIT_OID_HEXSZ + 1];
        git_oid_tostr(hex, sizeof(hex), &commit_id);
        *short_id_out = lusty_strndup(hex, 7);
    }
    rc = 0;
cleanup:
    git_signature_free(sig);
    git_tree_free(tree);
    git_index_free(index);
    git_repository_free(repo);
    git_libgit2_shutdown();
    lusty_free(marker);
    return rc;
}
