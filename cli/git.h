/* The git operations of the CLI, through libgit2 (no git binary needed). */
#ifndef LUSTY_CLI_GIT_H
#define LUSTY_CLI_GIT_H

#include <stdbool.h>
#include <stddef.h>

/* True when `path`, or its nearest existing ancestor, is inside a git work
 * tree. */
bool cli_git_inside_work_tree(const char *path);

/* Creates a repository in `dir` and commits `files` (paths relative to
 * `dir`) as its first commit, authored from the git config or, when none is
 * set, as "Lusty <lusty@localhost>". On success *short_id_out (may be NULL)
 * gets the abbreviated commit id; free with lusty_free(). Returns 0, or -1
 * with *err_out set (free with lusty_free()). */
int cli_git_init_commit(const char *dir, char *const *files, size_t count, const char *message,
                        char **short_id_out, char **err_out);

#endif
