/* Fetching the handler repositories of a project into lusty_modules/.
 *
 * Each handler is one job: a git repository (through libgit2) or an archive
 * (through libcurl, checked against its sha256 and unpacked by libarchive).
 * A job fetches into a temporary folder beside its target and swaps it in
 * only once it is complete, so a failed or interrupted fetch leaves the
 * previous state as it was. Jobs run in parallel on a small thread pool. */
#ifndef LUSTY_CLI_FETCH_H
#define LUSTY_CLI_FETCH_H

#include "lock.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* What is in lusty_modules/<name> now, as far as we can tell offline. */
typedef enum {
    CLI_INSTALLED_ABSENT,  /* nothing there */
    CLI_INSTALLED_CLEAN,   /* ours, unmodified; `id` says which state */
    CLI_INSTALLED_CHANGED, /* ours, with local changes; `detail` says which */
    CLI_INSTALLED_FOREIGN, /* something we did not put there */
} cli_installed_state_t;

typedef struct {
    cli_installed_state_t state;
    char *id;     /* commit id or archive sha256 when CLEAN/CHANGED */
    char *url;    /* where it came from (git: the origin remote) */
    char *detail; /* CHANGED/FOREIGN: "2 modified, 1 untracked file" */
    size_t local_commits; /* git: commits on no remote branch or tag */
} cli_installed_t;

/* Looks at `dest` without touching the network. Free with
 * cli_installed_clear(). */
void cli_fetch_inspect(cli_installed_t *out, const cli_source_t *decl, const char *dest);
void cli_installed_clear(cli_installed_t *inst);

typedef enum {
    CLI_FETCH_PENDING,
    CLI_FETCH_RUNNING,
    CLI_FETCH_FETCHED,
    CLI_FETCH_FAILED,
} cli_fetch_status_t;

typedef struct {
    /* Set by the caller. */
    const cli_source_t *decl; /* the lusty.json entry */
    const char *pin;          /* commit id or sha256 to install exactly, or NULL to resolve */
    const char *dest;         /* lusty_modules/<name> */
    /* Archives: the most bytes and entries unpacking may write (0: the
     * defaults below); passing either stops and fails the fetch. */
    unsigned long long max_bytes;
    unsigned long long max_entries;

    /* Progress, written by the worker and read under the runner's lock. */
    cli_fetch_status_t status;
    size_t objects_done, objects_total;
    size_t bytes_done, bytes_total;
    double started, finished; /* monotonic seconds */

    /* Result: `resolved` is the lock entry when FETCHED; `cause` (a short
     * phrase such as "repository not found") and `error` (the library's
     * own message, may be NULL) when FAILED. */
    cli_source_t resolved;
    const char *cause;
    char *error;
    /* git, when the checkout replaced had commits of its own: where they
     * were kept ("refs/lusty/backup/20260101T120000Z/HEAD, …"), or NULL. */
    char *backup;
} cli_fetch_job_t;

#define CLI_FETCH_DEFAULT_MAX_BYTES (256ULL << 20)
#define CLI_FETCH_DEFAULT_MAX_ENTRIES 100000ULL

/* Frees the result fields of a job (not the caller's inputs). */
void cli_fetch_job_clear(cli_fetch_job_t *job);

/* Process-wide setup of libgit2 and libcurl, and its undoing (leak checkers
 * want the latter). */
void cli_fetch_global_init(void);
void cli_fetch_global_cleanup(void);

/* Runs `count` jobs, `nthreads` at a time. With `tty` non-NULL a live
 * progress line per job is drawn on it; otherwise `on_done` (may be NULL) is
 * called from the calling thread as each job finishes. Returns the number of
 * failed jobs. */
size_t cli_fetch_run(cli_fetch_job_t *jobs, size_t count, int nthreads, FILE *tty,
                     void (*on_done)(const cli_fetch_job_t *job, void *data), void *data);

/* Removes what a killed earlier run left in `modules_dir`
 * (lusty_modules/): its temporary folders ".NAME.lusty-XXXXXX" and
 * downloads ".NAME.lusty-XXXXXX.download". The caller makes sure no other
 * bootstrap runs in the project. *count_out gets how many were removed. */
void cli_fetch_remove_leftovers(const char *modules_dir, size_t *count_out);

/* Set from a signal handler: running transfers stop as soon as they can and
 * fail with the cause "interrupted". */
extern volatile sig_atomic_t cli_fetch_interrupted;

#endif
