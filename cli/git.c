/* git through libgit2. */
#include "git.h"

#include "fs.h"
#include "lusty/alloc.h"

#include <git2.h>
#include <string.h>

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

int cli_git_init_commit(const char *dir, char *const *files, size_t count, const char *message,
                        char **short_id_out, char **err_out)
{
    git_repository *repo = NULL;
    git_index *index = NULL;
    git_tree *tree = NULL;
    git_signature *sig = NULL;
    git_oid tree_id, commit_id;
    int rc = -1;
    *err_out = NULL;
    if (short_id_out)
        *short_id_out = NULL;
    git_libgit2_init();
    if (git_repository_init(&repo, dir, 0) != 0) {
        *err_out = git_message("cannot create the repository");
        goto cleanup;
    }
    if (git_repository_index(&index, repo) != 0) {
        *err_out = git_message("cannot open the index");
        goto cleanup;
    }
    for (size_t i = 0; i < count; i++) {
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
    if (git_commit_create_v(&commit_id, repo, "HEAD", sig, sig, NULL, message, tree, 0) != 0) {
        *err_out = git_message("cannot commit");
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
    return rc;
}
