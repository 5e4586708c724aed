/* Fetching a handler from git through libgit2: clone into a temporary
 * folder, check out the wanted commit, swap the folder in. */
#include "fetch_internal.h"
#include "fs.h"
#include "lusty/alloc.h"
#include "lusty/buf.h"

#include <git2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct {
    cli_fetch_job_t *job;
    int auth_attempts;
    bool auth_needed;
} git_ctx_t;

static int on_transfer(const git_indexer_progress *stats, void *payload)
{
    git_ctx_t *ctx = payload;
    if (cli_fetch_interrupted)
        return -1;
    cli_fetch__progress(ctx->job, stats->received_objects, stats->total_objects,
                        stats->received_bytes, 0);
    return 0;
}

/* ssh asks the agent once; other credentials come only from the URL (which
 * libgit2 reads itself), so a second request means they were refused. */
static int on_credentials(git_credential **out, const char *url, const char *user_from_url,
                          unsigned int allowed, void *payload)
{
    git_ctx_t *ctx = payload;
    (void)url;
    if (ctx->auth_attempts++ == 0 && (allowed & GIT_CREDENTIAL_SSH_KEY))
        return git_credential_ssh_key_from_agent(out, user_from_url ? user_from_url : "git");
    ctx->auth_needed = true;
    git_error_set_str(GIT_ERROR_NET, "the server asks for credentials and none were accepted");
    return GIT_EAUTH;
}

static bool has(const char *haystack, const char *needle)
{
    return strstr(haystack, needle) != NULL;
}

/* The cause of a failed clone, from libgit2's code and message. */
static const char *classify(int rc, const git_ctx_t *ctx, const char *m)
{
    if (rc == GIT_EAUTH || ctx->auth_needed || has(m, "401") || has(m, "authentication"))
        return "authentication needed";
    if (has(m, "No space left") || has(m, "Disk quota"))
        return "disk full";
    if (has(m, "failed to connect") || has(m, "failed to resolve address") ||
        has(m, "Connection refused") || has(m, "timed out") || has(m, "Could not resolve") ||
        has(m, "No route to host") || has(m, "Network is unreachable"))
        return "cannot reach the host";
    if (rc == GIT_ENOTFOUND || has(m, "404") || has(m, "could not find repository") ||
        has(m, "failed to resolve path") || has(m, "not a git repository") ||
        has(m, "not found"))
        return "repository not found";
    if (has(m, "EOF") || has(m, "early") || has(m, "reset by peer") || has(m, "truncated") ||
        has(m, "short read") || has(m, "invalid packet") || has(m, "unexpected"))
        return "the connection broke off";
    return "fetch failed";
}

static bool looks_like_commit(const char *ref)
{
    size_t n = strlen(ref);
    if (n < 4 || n > GIT_OID_HEXSZ)
        return false;
    for (const char *p = ref; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* Finds the commit the job asks for in the fresh clone. */
static int resolve(cli_fetch_job_t *job, git_repository *repo, git_commit **out)
{
    git_object *obj = NULL;
    const char *ref = job->decl->ref;
    *out = NULL;
    if (job->pin) {
        git_oid oid;
        if (git_oid_fromstr(&oid, job->pin) != 0 || git_commit_lookup(out, repo, &oid) != 0) {
            char *detail = lusty_asprintf("commit %s of lusty.lock is not in the repository", job->pin);
            cli_fetch__fail(job, "locked commit not found", detail);
            lusty_free(detail);
            return -1;
        }
        return 0;
    }
    if (!ref) {
        if (git_revparse_single(&obj, repo, "HEAD^{commit}") != 0)
            return cli_fetch__fail(job, "the repository is empty", NULL);
    } else {
        const char *forms[] = {"refs/tags/%s^{commit}", "refs/remotes/origin/%s^{commit}"};
        for (size_t i = 0; i < 2 && !obj; i++) {
            char *spec = lusty_asprintf(forms[i], ref);
            if (git_revparse_single(&obj, repo, spec) != 0)
                obj = NULL;
            lusty_free(spec);
        }
        if (!obj && looks_like_commit(ref)) {
            char *spec = lusty_asprintf("%s^{commit}", ref);
            if (git_revparse_single(&obj, repo, spec) != 0)
                obj = NULL;
            lusty_free(spec);
        }
        if (!obj) {
            char *detail = lusty_asprintf("no tag, branch or commit '%s'", ref);
            cli_fetch__fail(job, "ref not found", detail);
            lusty_free(detail);
            return -1;
        }
    }
    *out = (git_commit *)obj;
    return 0;
}

/* Checking out with content filters costs libgit2 an attribute lookup per
 * file (a realpath() and a stat of the file, twice): a tenth of the time of
 * a local fetch. The filters (end-of-line conversion, ident) act only when
 * an attributes file or core.autocrlf asks for them; when nothing can, the
 * checkout skips them and writes the same bytes. Errs towards filtering. */
static int find_attributes(const char *root, const git_tree_entry *entry, void *payload)
{
    (void)root;
    if (strcmp(git_tree_entry_name(entry), ".gitattributes") != 0)
        return 0;
    *(bool *)payload = true;
    return -1;
}

static bool config_unset_or(git_config *cfg, const char *name, const char *const *values)
{
    git_config_entry *entry = NULL;
    if (git_config_get_entry(&entry, cfg, name) != 0)
        return true;
    bool ok = false;
    for (const char *const *v = values; *v && entry->value && !ok; v++)
        ok = strcasecmp(entry->value, *v) == 0;
    git_config_entry_free(entry);
    return ok;
}

static bool attributes_file_exists(const char *dir, const char *rel)
{
    if (!dir || !dir[0])
        return false;
    char *path = lusty_asprintf("%s/%s", dir, rel);
    bool found = cli_exists(path);
    lusty_free(path);
    return found;
}

static bool needs_filters(git_repository *repo, git_commit *commit)
{
    static const char *const off[] = {"false", "no", "off", "0", "", NULL};
    static const char *const lf[] = {"lf", "native", NULL};
    bool found = false;
    git_tree *tree = NULL;
    git_config *cfg = NULL;
    if (git_commit_tree(&tree, commit) != 0)
        return true;
    int rc = git_tree_walk(tree, GIT_TREEWALK_PRE, find_attributes, &found);
    git_tree_free(tree);
    if (found || (rc != 0 && rc != GIT_EUSER) || git_repository_config_snapshot(&cfg, repo) != 0) {
        git_error_clear();
        return true;
    }
    found = !config_unset_or(cfg, "core.autocrlf", off) || !config_unset_or(cfg, "core.eol", lf) ||
            !config_unset_or(cfg, "core.attributesfile", (const char *const[]){NULL});
    git_config_free(cfg);
    if (found)
        return true;
    /* The attributes files libgit2 reads besides the tree's. */
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    return attributes_file_exists(git_repository_path(repo), "info/attributes") ||
           attributes_file_exists(xdg, "git/attributes") ||
           attributes_file_exists(home, ".config/git/attributes") ||
           attributes_file_exists("/etc", "gitattributes");
}

/* libgit2 calls a missing local path an "unsupported URL protocol": look
 * first, so the cause is the right one. */
static bool missing_local_repo(const char *url)
{
    const char *path = url;
    if (strncmp(url, "file://", 7) == 0)
        path = url + 7;
    else if (strstr(url, "://") || (strchr(url, ':') && url[0] != '/' && url[0] != '.'))
        return false; /* a remote URL, or scp-like user@host:path */
    return !cli_exists(path);
}

/* Local commits: those reachable from HEAD or a local branch but from no
 * remote-tracking branch or tag, that is, commits the upstream does not
 * have. `tips` (may be NULL) gets each local ref ("HEAD", "main") whose
 * tip is such a commit, `ids` (may be NULL) up to five short ids. */
static size_t find_local_commits(git_repository *repo, cli_path_list_t *tips, lusty_buf_t *ids)
{
    git_revwalk *walk = NULL;
    git_oid oid;
    size_t count = 0;
    if (git_revwalk_new(&walk, repo) != 0)
        return 0;
    git_revwalk_push_head(walk);
    git_revwalk_push_glob(walk, "refs/heads/*");
    git_revwalk_hide_glob(walk, "refs/remotes/*");
    git_revwalk_hide_glob(walk, "refs/tags/*");
    while (git_revwalk_next(&oid, walk) == 0) {
        if (ids && count < 5) {
            char hex[8];
            git_oid_tostr(hex, sizeof(hex), &oid);
            lusty_buf_printf(ids, "%s%s", count ? ", " : "", hex);
        } else if (ids && count == 5) {
            lusty_buf_puts(ids, ", …");
        }
        count++;
    }
    git_revwalk_free(walk);
    git_error_clear();
    if (!tips || count == 0)
        return count;
    /* Which local refs point at (or above) such commits. */
    git_reference_iterator *it = NULL;
    git_reference *ref = NULL;
    if (git_repository_head_detached(repo) == 1)
        cli_path_list_push(tips, "HEAD");
    if (git_reference_iterator_glob_new(&it, repo, "refs/heads/*") == 0) {
        while (git_reference_next(&ref, it) == 0) {
            const git_oid *target = git_reference_target(ref);
            git_revwalk *one = NULL;
            if (target && git_revwalk_new(&one, repo) == 0) {
                git_revwalk_push(one, target);
                git_revwalk_hide_glob(one, "refs/remotes/*");
                git_revwalk_hide_glob(one, "refs/tags/*");
                if (git_revwalk_next(&oid, one) == 0)
                    cli_path_list_push(tips, git_reference_name(ref));
            }
            git_revwalk_free(one);
            git_reference_free(ref);
        }
    }
    git_reference_iterator_free(it);
    git_error_clear();
    return count;
}

/* Before a checkout with local commits is replaced (--force), points
 * refs/lusty/backup/<time>/<ref> at each of its local tips, in the old
 * repository; then carries every backup ref (these and earlier ones) into
 * the new one, so that nothing committed is ever lost. */
static int keep_backups(cli_fetch_job_t *job, git_repository *repo)
{
    git_repository *old = NULL;
    git_remote *remote = NULL;
    git_strarray existing = {0};
    cli_path_list_t tips = {0};
    lusty_buf_t made = LUSTY_BUF_INIT;
    int rc = 0;
    if (git_repository_open_ext(&old, job->dest, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) != 0) {
        git_error_clear();
        return 0; /* not a checkout: nothing to keep */
    }
    if (find_local_commits(old, &tips, NULL) > 0) {
        char stamp[32];
        time_t t = time(NULL);
        struct tm tm;
        strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", gmtime_r(&t, &tm));
        for (size_t i = 0; i < tips.count && rc == 0; i++) {
            const char *tip = tips.paths[i];
            const char *shown = strncmp(tip, "refs/heads/", 11) == 0 ? tip + 11 : tip;
            git_object *target = NULL;
            git_reference *ref = NULL;
            rc = git_revparse_single(&target, old, tip);
            for (int n = 1; rc == 0 && n < 100; n++) {
                char *name = n == 1 ? lusty_asprintf("refs/lusty/backup/%s/%s", stamp, shown)
                                    : lusty_asprintf("refs/lusty/backup/%s-%d/%s", stamp, n, shown);
                int err = git_reference_create(&ref, old, name, git_object_id(target), 0,
                                               "lusty bootstrap --force: backup");
                if (err == 0)
                    lusty_buf_printf(&made, "%s%s", made.len ? ", " : "", name);
                lusty_free(name);
                git_reference_free(ref);
                if (err != GIT_EEXISTS) {
                    rc = err;
                    break;
                }
            }
            git_object_free(target);
        }
    }
    if (rc == 0 && git_reference_list(&existing, old) == 0) {
        bool any = false;
        for (size_t i = 0; i < existing.count && !any; i++)
            any = strncmp(existing.strings[i], "refs/lusty/backup/", 18) == 0;
        if (any) {
            char *spec = "+refs/lusty/backup/*:refs/lusty/backup/*";
            git_strarray specs = {&spec, 1};
            git_fetch_options fo;
            git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
            fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
            rc = git_remote_create_anonymous(&remote, repo, job->dest);
            if (rc == 0)
                rc = git_remote_fetch(remote, &specs, &fo, NULL);
        }
    }
    if (rc != 0) {
        const git_error *e = git_error_last();
        cli_fetch__fail(job, "cannot keep the local commits",
                        e && e->message ? e->message : "libgit2 error");
    } else if (made.len) {
        job->backup = lusty_buf_detach(&made, NULL);
    }
    git_strarray_dispose(&existing);
    git_remote_free(remote);
    git_repository_free(old);
    cli_path_list_free(&tips);
    lusty_buf_free(&made);
    return rc == 0 ? 0 : -1;
}

int cli_fetch_git(cli_fetch_job_t *job)
{
    git_ctx_t ctx = {.job = job};
    git_repository *repo = NULL;
    git_commit *commit = NULL;
    int rc = -1;
    if (missing_local_repo(job->decl->url))
        return cli_fetch__fail(job, "repository not found", "no such folder");
    char *tmp = cli_fetch__temp_dir(job);
    if (!tmp)
        return -1;

    git_clone_options opts;
    git_clone_options_init(&opts, GIT_CLONE_OPTIONS_VERSION);
    opts.checkout_opts.checkout_strategy = GIT_CHECKOUT_NONE;
    opts.fetch_opts.callbacks.transfer_progress = on_transfer;
    opts.fetch_opts.callbacks.credentials = on_credentials;
    opts.fetch_opts.callbacks.payload = &ctx;
    int err = git_clone(&repo, job->decl->url, tmp, &opts);
    if (err != 0) {
        const git_error *e = git_error_last();
        const char *m = e && e->message ? e->message : "";
        cli_fetch__fail(job, classify(err, &ctx, m), m);
        goto cleanup;
    }
    if (resolve(job, repo, &commit) != 0)
        goto cleanup;

    git_checkout_options co;
    git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
    co.checkout_strategy = GIT_CHECKOUT_FORCE;
    co.disable_filters = !needs_filters(repo, commit);
    if (git_checkout_tree(repo, (const git_object *)commit, &co) != 0 ||
        git_repository_set_head_detached(repo, git_commit_id(commit)) != 0) {
        const git_error *e = git_error_last();
        const char *m = e && e->message ? e->message : "";
        cli_fetch__fail(job, has(m, "No space left") ? "disk full" : "checkout failed", m);
        goto cleanup;
    }
    if (cli_fetch__check_links(job, tmp) != 0 || keep_backups(job, repo) != 0)
        goto cleanup;
    git_repository_free(repo);
    repo = NULL;
    if (cli_fetch__install(job, tmp) != 0)
        goto cleanup;

    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof(hex), git_commit_id(commit));
    cli_source_copy(&job->resolved, job->decl);
    job->resolved.commit = lusty_strdup(hex);
    rc = 0;
cleanup:
    git_commit_free(commit);
    git_repository_free(repo);
    if (rc != 0)
        cli_remove_tree(tmp);
    lusty_free(tmp);
    return rc;
}

void cli_fetch_git_inspect(cli_installed_t *out, const char *dest)
{
    git_repository *repo = NULL;
    git_remote *remote = NULL;
    git_status_list *status = NULL;
    git_oid head;
    if (git_repository_open_ext(&repo, dest, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) != 0) {
        out->state = CLI_INSTALLED_FOREIGN;
        out->detail = lusty_strdup("it is not a git checkout");
        goto cleanup;
    }
    if (git_reference_name_to_id(&head, repo, "HEAD") != 0) {
        out->state = CLI_INSTALLED_FOREIGN;
        out->detail = lusty_strdup("its repository has no commit");
        goto cleanup;
    }
    char hex[GIT_OID_HEXSZ + 1];
    git_oid_tostr(hex, sizeof(hex), &head);
    out->id = lusty_strdup(hex);
    if (git_remote_lookup(&remote, repo, "origin") == 0 && git_remote_url(remote))
        out->url = lusty_strdup(git_remote_url(remote));

    git_status_options so;
    git_status_options_init(&so, GIT_STATUS_OPTIONS_VERSION);
    so.flags = GIT_STATUS_OPT_INCLUDE_UNTRACKED | GIT_STATUS_OPT_RECURSE_UNTRACKED_DIRS |
               GIT_STATUS_OPT_EXCLUDE_SUBMODULES;
    size_t modified = 0, untracked = 0;
    if (git_status_list_new(&status, repo, &so) == 0) {
        for (size_t i = 0; i < git_status_list_entrycount(status); i++) {
            const git_status_entry *s = git_status_byindex(status, i);
            if (s->status == GIT_STATUS_WT_NEW)
                untracked++;
            else if (s->status != GIT_STATUS_CURRENT && !(s->status & GIT_STATUS_IGNORED))
                modified++;
        }
    } else {
        modified = 1;
    }
    lusty_buf_t ids = LUSTY_BUF_INIT;
    out->local_commits = find_local_commits(repo, NULL, &ids);
    if (modified || untracked || out->local_commits) {
        lusty_buf_t detail = LUSTY_BUF_INIT;
        if (modified || untracked) {
            char *files = cli_fetch__changes_text(modified, untracked);
            lusty_buf_puts(&detail, files);
            lusty_free(files);
        }
        if (out->local_commits)
            lusty_buf_printf(&detail, "%s%zu local commit%s: %s", detail.len ? "; " : "",
                             out->local_commits, out->local_commits == 1 ? "" : "s", ids.data);
        out->state = CLI_INSTALLED_CHANGED;
        out->detail = lusty_buf_detach(&detail, NULL);
    } else {
        out->state = CLI_INSTALLED_CLEAN;
    }
    lusty_buf_free(&ids);
cleanup:
    git_status_list_free(status);
    git_remote_free(remote);
    git_repository_free(repo);
}
