/* Internals shared by fetch.c, fetch_git.c and fetch_archive.c. */
#ifndef LUSTY_CLI_FETCH_INTERNAL_H
#define LUSTY_CLI_FETCH_INTERNAL_H

#include "fetch.h"

#include <stddef.h>

/* The workers' progress reports (thread-safe). */
void cli_fetch__progress(cli_fetch_job_t *job, size_t objects_done, size_t objects_total,
                         size_t bytes_done, size_t bytes_total);

/* Records a failure: `cause` is a static phrase, `detail` is copied (may be
 * NULL). Always returns -1. */
int cli_fetch__fail(cli_fetch_job_t *job, const char *cause, const char *detail);

/* A new empty folder beside job->dest (".<name>.lusty-XXXXXX"), or NULL
 * after recording the failure. Free with lusty_free(). */
char *cli_fetch__temp_dir(cli_fetch_job_t *job);

/* Puts the complete folder `tmp` in place of job->dest, atomically when
 * dest exists (the old tree is then removed). Returns 0 or -1 (recorded). */
int cli_fetch__install(cli_fetch_job_t *job, const char *tmp);

/* Fails the job (cause "unsafe symbolic link") when a symbolic link in the
 * fetched tree `tmp` (outside .git) points outside it: an absolute target,
 * or one whose `..` climb above the tree. Returns 0 or -1. */
int cli_fetch__check_links(cli_fetch_job_t *job, const char *tmp);

/* "2 modified files", "1 untracked file", "1 modified and 3 untracked
 * files". Free with lusty_free(). */
char *cli_fetch__changes_text(size_t modified, size_t untracked);

/* Classifies an errno value from writing to disk ("disk full" …). */
const char *cli_fetch__errno_cause(int err);

int cli_fetch_git(cli_fetch_job_t *job);
int cli_fetch_archive(cli_fetch_job_t *job);
void cli_fetch_git_inspect(cli_installed_t *out, const char *dest);
void cli_fetch_archive_inspect(cli_installed_t *out, const char *dest);

/* Lower-case hex SHA-256 of a file (65 bytes with the NUL). Returns 0 or an
 * errno value. */
int cli_fetch__sha256_file(const char *path, char hex[65]);

#endif
