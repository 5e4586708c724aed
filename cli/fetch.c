/* The fetch runner: a thread pool over the jobs, the live progress display,
 * and the temporary-folder-then-swap installation shared by git and
 * archive fetches. */
#define _GNU_SOURCE
#include "fetch.h"

#include "fetch_internal.h"
#include "fs.h"
#include "lusty/alloc.h"
#include "term.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <glob.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t cli_fetch_interrupted;

/* One lock guards every job's progress and status fields. */
static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t run_changed = PTHREAD_COND_INITIALIZER;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_fetch_global_init(void)
{
    git_libgit2_init();
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void cli_fetch_global_cleanup(void)
{
    curl_global_cleanup();
    git_libgit2_shutdown();
}

void cli_installed_clear(cli_installed_t *inst)
{
    lusty_free(inst->id);
    lusty_free(inst->url);
    lusty_free(inst->detail);
    memset(inst, 0, sizeof(*inst));
}

/* True when `declared`, a path relative to the project (the folder above
 * lusty_modules/ of `dest`), and `origin` name the same folder. */
static bool same_local_repo(const char *declared, const char *origin, const char *dest)
{
    bool is_path = declared[0] != '/' && !strstr(declared, "://") &&
                   !(strchr(declared, ':') && declared[0] != '.');
    if (!is_path)
        return false;
    char *project = lusty_strdup(dest);
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(project, '/');
        if (slash)
            *slash = '\0';
        else
            strcpy(project, ".");
    }
    char *joined = cli_path_join(project, declared);
    char a[PATH_MAX], b[PATH_MAX];
    bool same = realpath(joined, a) && realpath(origin, b) && strcmp(a, b) == 0;
    lusty_free(joined);
    lusty_free(project);
    return same;
}

void cli_fetch_inspect(cli_installed_t *out, const cli_source_t *decl, const char *dest)
{
    memset(out, 0, sizeof(*out));
    if (!cli_exists(dest)) {
        out->state = CLI_INSTALLED_ABSENT;
        return;
    }
    if (!cli_is_dir(dest)) {
        out->state = CLI_INSTALLED_FOREIGN;
        out->detail = lusty_strdup("it is not a folder");
        return;
    }
    if (decl->kind == CLI_SOURCE_GIT)
        cli_fetch_git_inspect(out, dest);
    else
        cli_fetch_archive_inspect(out, dest);
    if (decl->kind == CLI_SOURCE_GIT && out->url && strcmp(out->url, decl->url) != 0 &&
        same_local_repo(decl->url, out->url, dest)) {
        /* A checkout of a relative path records the absolute one as its
         * origin: it is the same repository as lusty.json's. */
        lusty_free(out->url);
        out->url = lusty_strdup(decl->url);
    }
}

void cli_fetch_job_clear(cli_fetch_job_t *job)
{
    cli_source_clear(&job->resolved);
    lusty_free(job->error);
    lusty_free(job->backup);
    job->error = NULL;
    job->backup = NULL;
    job->cause = NULL;
}

void cli_fetch__progress(cli_fetch_job_t *job, size_t objects_done, size_t objects_total,
                         size_t bytes_done, size_t bytes_total)
{
    pthread_mutex_lock(&run_lock);
    job->objects_done = objects_done;
    job->objects_total = objects_total;
    job->bytes_done = bytes_done;
    job->bytes_total = bytes_total;
    pthread_mutex_unlock(&run_lock);
}

int cli_fetch__fail(cli_fetch_job_t *job, const char *cause, const char *detail)
{
    if (cli_fetch_interrupted)
        cause = "interrupted";
    job->cause = cause;
    lusty_free(job->error);
    job->error = detail && detail[0] ? lusty_strdup(detail) : NULL;
    return -1;
}

char *cli_fetch__changes_text(size_t modified, size_t untracked)
{
    if (modified && untracked)
        return lusty_asprintf("%zu modified and %zu untracked file%s", modified, untracked,
                              untracked == 1 ? "" : "s");
    return lusty_asprintf("%zu %s file%s", modified + untracked, modified ? "modified" : "untracked",
                          modified + untracked == 1 ? "" : "s");
}

const char *cli_fetch__errno_cause(int err)
{
    switch (err) {
    case ENOSPC:
    case EDQUOT: return "disk full";
    case EACCES:
    case EPERM: return "permission denied";
    case EROFS: return "read-only file system";
    default: return "cannot write to disk";
    }
}

char *cli_fetch__temp_dir(cli_fetch_job_t *job)
{
    char *parent = lusty_strdup(job->dest);
    char *slash = strrchr(parent, '/');
    const char *base = slash ? slash + 1 : job->dest;
    if (slash)
        *slash = '\0';
    else
        strcpy(parent, ".");
    int err = cli_mkdir_p(parent, 0777, NULL);
    if (err == EEXIST && cli_is_dir(parent))
        err = 0; /* another worker made it first */
    char *tmp = lusty_asprintf("%s/.%s.lusty-XXXXXX", parent, base);
    lusty_free(parent);
    if (err || !mkdtemp(tmp)) {
        if (!err)
            err = errno;
        cli_fetch__fail(job, cli_fetch__errno_cause(err), strerror(err));
        lusty_free(tmp);
        return NULL;
    }
    return tmp;
}

/* A link target, taken lexically from the link's folder `depth` levels
 * below the root, stays inside the root. */
static bool link_stays_inside(const char *target, int depth)
{
    if (target[0] == '/')
        return false;
    for (const char *p = target; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            depth--;
        else if (n > 0 && !(n == 1 && p[0] == '.'))
            depth++;
        if (depth < 0)
            return false;
        p += n;
        while (*p == '/')
            p++;
    }
    return true;
}

static int check_links_in(cli_fetch_job_t *job, const char *root, const char *rel, int depth)
{
    char *dir = rel[0] ? cli_path_join(root, rel) : lusty_strdup(root);
    DIR *d = opendir(dir);
    int rc = 0;
    if (!d) {
        lusty_free(dir);
        return 0;
    }
    for (struct dirent *e; rc == 0 && (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            (depth == 0 && strcmp(e->d_name, ".git") == 0))
            continue;
        char *child_rel = rel[0] ? cli_path_join(rel, e->d_name) : lusty_strdup(e->d_name);
        char *child = cli_path_join(root, child_rel);
        struct stat st;
        bool ok = lstat(child, &st) == 0;
        if (ok && S_ISDIR(st.st_mode)) {
            rc = check_links_in(job, root, child_rel, depth + 1);
        } else if (ok && S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t n = readlink(child, target, sizeof(target) - 1);
            target[n > 0 ? n : 0] = '\0';
            if (!link_stays_inside(target, depth)) {
                char *detail = lusty_asprintf("'%s' points to '%s', outside the handler's folder",
                                              child_rel, target);
                rc = cli_fetch__fail(job, "unsafe symbolic link", detail);
                lusty_free(detail);
            }
        }
        lusty_free(child);
        lusty_free(child_rel);
    }
    closedir(d);
    lusty_free(dir);
    return rc;
}

int cli_fetch__check_links(cli_fetch_job_t *job, const char *tmp)
{
    return check_links_in(job, tmp, "", 0);
}

void cli_fetch_remove_leftovers(const char *modules_dir, size_t *count_out)
{
    *count_out = 0;
    char *pattern = lusty_asprintf("%s/.*.lusty-??????*", modules_dir);
    glob_t g;
    if (glob(pattern, GLOB_NOSORT, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            const char *suffix = strstr(g.gl_pathv[i], ".lusty-") + 7;
            /* The temporaries of cli_fetch__temp_dir(): XXXXXX, and the
             * download beside it. */
            if (strlen(suffix) != 6 && strcmp(suffix + 6, ".download") != 0)
                continue;
            cli_remove_tree(g.gl_pathv[i]);
            (*count_out)++;
        }
    }
    globfree(&g);
    lusty_free(pattern);
}

int cli_fetch__install(cli_fetch_job_t *job, const char *tmp)
{
    if (cli_fetch_interrupted)
        return cli_fetch__fail(job, "interrupted", NULL);
    if (cli_exists(job->dest)) {
        /* Swap the two trees in one step: there is never a moment without
         * a complete dest. */
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, job->dest, RENAME_EXCHANGE) != 0)
            return cli_fetch__fail(job, cli_fetch__errno_cause(errno), strerror(errno));
        cli_remove_tree(tmp);
        return 0;
    }
    if (rename(tmp, job->dest) != 0)
        return cli_fetch__fail(job, cli_fetch__errno_cause(errno), strerror(errno));
    return 0;
}

int cli_fetch__sha256_file(const char *path, char hex[65])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    unsigned char chunk[65536];
    int err = 0;
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            err = errno;
        if (n <= 0)
            break;
        EVP_DigestUpdate(ctx, chunk, (size_t)n);
    }
    close(fd);
    unsigned char md[32];
    EVP_DigestFinal_ex(ctx, md, NULL);
    EVP_MD_CTX_free(ctx);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return err;
}

/* The thread pool. */
typedef struct {
    cli_fetch_job_t *jobs;
    size_t count;
    size_t next; /* first job not yet taken */
    size_t done;
} pool_t;

static void *worker(void *arg)
{
    pool_t *pool = arg;
    for (;;) {
        pthread_mutex_lock(&run_lock);
        if (pool->next >= pool->count) {
            pthread_mutex_unlock(&run_lock);
            return NULL;
        }
        cli_fetch_job_t *job = &pool->jobs[pool->next++];
        job->status = CLI_FETCH_RUNNING;
        job->started = now();
        pthread_mutex_unlock(&run_lock);

        int rc = job->decl->kind == CLI_SOURCE_GIT ? cli_fetch_git(job) : cli_fetch_archive(job);

        pthread_mutex_lock(&run_lock);
        job->status = rc == 0 ? CLI_FETCH_FETCHED : CLI_FETCH_FAILED;
        job->finished = now();
        pool->done++;
        pthread_cond_signal(&run_changed);
        pthread_mutex_unlock(&run_lock);
    }
}

static void human_bytes(char *out, size_t size, double bytes)
{
    const char *units[] = {"B", "KiB", "MiB", "GiB"};
    int u = 0;
    while (bytes >= 1024 && u < 3) {
        bytes /= 1024;
        u++;
    }
    snprintf(out, size, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

/* One progress line (without the newline), called with run_lock held. */
static void draw_line(FILE *tty, const cli_fetch_job_t *job, size_t name_width, double t)
{
    char bytes[32], rate[32];
    fprintf(tty, "\r\033[K  %-*s  ", (int)name_width, job->decl->name);
    switch (job->status) {
    case CLI_FETCH_PENDING: fprintf(tty, "%swaiting%s", cli_term_dim(tty), cli_term_reset(tty)); break;
    case CLI_FETCH_RUNNING: {
        double elapsed = t - job->started;
        human_bytes(bytes, sizeof(bytes), (double)job->bytes_done);
        human_bytes(rate, sizeof(rate), elapsed > 0.05 ? (double)job->bytes_done / elapsed : 0);
        if (job->objects_total)
            fprintf(tty, "%zu/%zu objects, %s, %s/s", job->objects_done, job->objects_total, bytes,
                    rate);
        else if (job->bytes_total)
            fprintf(tty, "%s of %zu bytes, %s/s", bytes, job->bytes_total, rate);
        else
            fprintf(tty, "%s, %s/s", bytes, rate);
        break;
    }
    case CLI_FETCH_FETCHED: {
        const char *id = job->resolved.commit ? job->resolved.commit : job->resolved.sha256;
        fprintf(tty, "%sdone%s %.7s", cli_term_green(tty), cli_term_reset(tty), id ? id : "");
        break;
    }
    case CLI_FETCH_FAILED:
        fprintf(tty, "%sfailed%s: %s", cli_term_red(tty), cli_term_reset(tty), job->cause);
        break;
    }
}

static void redraw(FILE *tty, const pool_t *pool, size_t name_width, bool first)
{
    double t = now();
    if (!first && pool->count)
        fprintf(tty, "\033[%zuA", pool->count);
    for (size_t i = 0; i < pool->count; i++) {
        draw_line(tty, &pool->jobs[i], name_width, t);
        fputc('\n', tty);
    }
    fflush(tty);
}

size_t cli_fetch_run(cli_fetch_job_t *jobs, size_t count, int nthreads, FILE *tty,
                     void (*on_done)(const cli_fetch_job_t *job, void *data), void *data)
{
    pool_t pool = {.jobs = jobs, .count = count};
    if (count == 0)
        return 0;
    if (nthreads < 1)
        nthreads = 1;
    if ((size_t)nthreads > count)
        nthreads = (int)count;
    size_t name_width = 0;
    for (size_t i = 0; i < count; i++) {
        size_t n = strlen(jobs[i].decl->name);
        name_width = n > name_width ? n : name_width;
        jobs[i].status = CLI_FETCH_PENDING;
    }
    bool *reported = lusty_calloc(count, sizeof(bool));
    pthread_t *threads = lusty_calloc((size_t)nthreads, sizeof(pthread_t));
    int started = 0;
    for (; started < nthreads; started++)
        if (pthread_create(&threads[started], NULL, worker, &pool) != 0)
            break;
    if (started == 0)
        worker(&pool); /* no threads to be had: do the work here */

    pthread_mutex_lock(&run_lock);
    if (tty)
        redraw(tty, &pool, name_width, true);
    for (;;) {
        if (!tty) {
            for (size_t i = 0; i < count; i++) {
                if (reported[i] || jobs[i].status < CLI_FETCH_FETCHED)
                    continue;
                reported[i] = true;
                pthread_mutex_unlock(&run_lock);
                if (on_done)
                    on_done(&jobs[i], data);
                pthread_mutex_lock(&run_lock);
            }
        }
        if (pool.done == count)
            break;
        if (tty) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 100 * 1000 * 1000;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&run_changed, &run_lock, &until);
            redraw(tty, &pool, name_width, false);
        } else {
            pthread_cond_wait(&run_changed, &run_lock);
        }
    }
    if (tty)
        redraw(tty, &pool, name_width, false);
    pthread_mutex_unlock(&run_lock);

    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    size_t failed = 0;
    for (size_t i = 0; i < count; i++)
        failed += jobs[i].status == CLI_FETCH_FAILED;
    lusty_free(threads);
    lusty_free(reported);
    return failed;
}
