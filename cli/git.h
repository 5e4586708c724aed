/* The git operations of the CLI, through libgit2 (no git binary needed). */
#ifndef LUSTY_CLI_GIT_H
#define LUSTY_CLI_GIT_H

#include <stdbool.h>
#include <stddef.h>

/* True when `path`, or its nearest existing ancestor, is inside a git work
 * tree. */
bool cli_git_inside_work_tree(const char *path);

/* The file, inside a repository `lusty init` is making, that says its
 * first commit is not made yet: a rerun of init finishes such a repository
 * (and only such a one) rather than leaving it alone. */
#define CLI_GIT_INCOMPLETE_MARKER "lusty-init-incomplete"

/* True when `dir/.git` is a repository that `lusty init` began and did not
 * finish (it has the marker above). */
bool cli_git_init_incomplete(const char *dir);

/* Creates a repository in `dir` (or reopens one that init left
 * incomplete) and commits `files` (paths relative to `dir`) as its first
 * commit, authored from the git config or, when none is set, as "Lusty
 * <lusty@localhost>". `should_stop` (may be NULL) is asked between steps;
 * when it returns true the commit is abandoned (-1, *err_out "interrupted").
 * On success *short_id_out (may be NULL) gets the abbreviated commit id;
 * free with lusty_free(). Returns 0, or -1 with *err_out set (free with
 * lusty_free()). The caller removes a repository it no longer wants. */
int cli_git_init_commit(const char *dir, char *const *files, size_t count, const char *message,
                        bool (*should_stop)(void), char **short_id_out, char **err_out);

#endif
