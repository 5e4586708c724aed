/* Fetching a handler from an archive (.tar.gz, .zip …): download with
 * libcurl while hashing, check the sha256, unpack with libarchive into a
 * temporary folder, swap it in. A marker file, .lusty-archive.json, records
 * what was unpacked (the archive's sha256 and each file's) so that later runs
 * can tell an untouched tree from one with local changes. */
#include "fetch_internal.h"
#include "fs.h"
#include "lusty/alloc.h"

#include <archive.h>
#include <archive_entry.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MARKER ".lusty-archive.json"

typedef struct {
    cli_fetch_job_t *job;
    int fd;
    int write_errno;
    EVP_MD_CTX *sha;
} download_t;

static size_t on_data(char *data, size_t size, size_t n, void *payload)
{
    download_t *d = payload;
    size_t len = size * n, left = len;
    while (left > 0) {
        ssize_t w = write(d->fd, data, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            d->write_errno = errno;
            return 0;
        }
        EVP_DigestUpdate(d->sha, data, (size_t)w);
        data += w;
        left -= (size_t)w;
    }
    return len;
}

static int on_progress(void *payload, curl_off_t total, curl_off_t now, curl_off_t ut, curl_off_t un)
{
    download_t *d = payload;
    (void)ut, (void)un;
    if (cli_fetch_interrupted)
        return 1;
    cli_fetch__progress(d->job, 0, 0, (size_t)now, (size_t)total);
    return 0;
}

static const char *curl_cause(CURLcode code, long status, const download_t *d)
{
    switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT: return "cannot reach the host";
    case CURLE_HTTP_RETURNED_ERROR:
        if (status == 401 || status == 403)
            return "authentication needed";
        if (status == 404 || status == 410)
            return "archive not found";
        return "the server answered with an error";
    case CURLE_FILE_COULDNT_READ_FILE: return "archive not found";
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR: return "the connection broke off";
    case CURLE_WRITE_ERROR: return cli_fetch__errno_cause(d->write_errno);
    case CURLE_ABORTED_BY_CALLBACK: return "interrupted";
    case CURLE_UNSUPPORTED_PROTOCOL: return "unsupported URL scheme";
    default: return "download failed";
    }
}

/* Downloads job's URL into `file`; on success *hex gets its sha256. */
static int download(cli_fetch_job_t *job, const char *file, char hex[65])
{
    download_t d = {.job = job};
    char errbuf[CURL_ERROR_SIZE] = "";
    d.fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (d.fd < 0)
        return cli_fetch__fail(job, cli_fetch__errno_cause(errno), strerror(errno));
    d.sha = EVP_MD_CTX_new();
    EVP_DigestInit_ex(d.sha, EVP_sha256(), NULL);
    CURL *curl = curl_easy_init();
    curl_easy_setopt(curl, CURLOPT_URL, job->decl->url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 15L);
    /* A stalled server fails the fetch rather than hanging it. */
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &d);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &d);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "lusty");
    CURLcode code = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    int rc = 0;
    if (code == CURLE_OK && fsync(d.fd) != 0) {
        rc = cli_fetch__fail(job, cli_fetch__errno_cause(errno), strerror(errno));
    } else if (code != CURLE_OK) {
        const char *detail = code == CURLE_WRITE_ERROR && d.write_errno ? strerror(d.write_errno)
                             : errbuf[0]                               ? errbuf
                                                                       : curl_easy_strerror(code);
        rc = cli_fetch__fail(job, curl_cause(code, status, &d), detail);
    }
    if (close(d.fd) != 0 && rc == 0)
        rc = cli_fetch__fail(job, cli_fetch__errno_cause(errno), strerror(errno));
    unsigned char md[32];
    EVP_DigestFinal_ex(d.sha, md, NULL);
    EVP_MD_CTX_free(d.sha);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return rc;
}

/* An entry name is safe when it stays inside the folder it unpacks into. */
static bool safe_path(const char *p)
{
    if (p[0] == '/')
        return false;
    for (const char *s = p; *s;) {
        size_t n = strcspn(s, "/");
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return false;
        s += n;
        while (*s == '/')
            s++;
    }
    return true;
}

static struct archive *open_archive(const char *file)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_all(a);
    if (archive_read_open_filename(a, file, 65536) != ARCHIVE_OK) {
        return a; /* the caller reads the error off it */
    }
    return a;
}

/* The single top-level folder every entry sits in ("pkg-1.0/"), which is
 * stripped as rockspec archives expect; empty when there is none. */
/* The limits of job, defaults applied. */
static unsigned long long max_bytes(const cli_fetch_job_t *job)
{
    return job->max_bytes ? job->max_bytes : CLI_FETCH_DEFAULT_MAX_BYTES;
}

static unsigned long long max_entries(const cli_fetch_job_t *job)
{
    return job->max_entries ? job->max_entries : CLI_FETCH_DEFAULT_MAX_ENTRIES;
}

/* Fails job when `entries` or `bytes` passed its limits. */
static int over_limits(cli_fetch_job_t *job, unsigned long long entries, unsigned long long bytes)
{
    char *detail = NULL;
    if (entries > max_entries(job))
        detail = lusty_asprintf("more than %llu entries (bootstrap.archive_max_entries in "
                                "lusty.json)",
                                max_entries(job));
    else if (bytes > max_bytes(job))
        detail = lusty_asprintf("more than %llu bytes unpacked (bootstrap.archive_max_bytes in "
                                "lusty.json)",
                                max_bytes(job));
    if (!detail)
        return 0;
    cli_fetch__fail(job, "archive too large", detail);
    lusty_free(detail);
    return -1;
}

static int common_prefix(cli_fetch_job_t *job, const char *file, char **out, char **err_out)
{
    struct archive *a = open_archive(file);
    struct archive_entry *e;
    char *prefix = NULL;
    bool none = false;
    unsigned long long entries = 0, declared = 0;
    int r;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        /* The sizes the headers declare already tell most bombs, before
         * anything is written. */
        entries++;
        if (archive_entry_size_is_set(e) && archive_entry_size(e) > 0)
            declared += (unsigned long long)archive_entry_size(e);
        if (over_limits(job, entries, declared) != 0) {
            archive_read_free(a);
            lusty_free(prefix);
            return 1;
        }
        const char *name = archive_entry_pathname(e);
        while (name[0] == '.' && name[1] == '/')
            name += 2;
        size_t n = strcspn(name, "/");
        if (name[n] != '/' && archive_entry_filetype(e) != AE_IFDIR) {
            none = true; /* a file at the top level */
            continue;
        }
        if (!prefix)
            prefix = lusty_strndup(name, n);
        else if (strlen(prefix) != n || strncmp(prefix, name, n) != 0)
            none = true;
    }
    if (r != ARCHIVE_EOF) {
        *err_out = lusty_strdup(archive_error_string(a) ? archive_error_string(a) : "unreadable");
        archive_read_free(a);
        lusty_free(prefix);
        return -1;
    }
    archive_read_free(a);
    if (none || !prefix) {
        lusty_free(prefix);
        prefix = lusty_strdup("");
    }
    *out = prefix;
    return 0;
}

static const char *strip(const char *name, const char *prefix)
{
    while (name[0] == '.' && name[1] == '/')
        name += 2;
    size_t n = strlen(prefix);
    if (n && strncmp(name, prefix, n) == 0 && (name[n] == '/' || name[n] == '\0')) {
        name += n;
        while (*name == '/')
            name++;
    }
    return name;
}

static int unpack(cli_fetch_job_t *job, const char *file, const char *into)
{
    char *prefix = NULL, *err = NULL;
    int prc = common_prefix(job, file, &prefix, &err);
    if (prc != 0) {
        if (prc < 0)
            cli_fetch__fail(job, "cannot unpack the archive", err);
        lusty_free(err);
        return -1;
    }
    unsigned long long entries = 0, written = 0;
    struct archive *a = open_archive(file);
    struct archive *disk = archive_write_disk_new();
    archive_write_disk_set_options(disk, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM |
                                             ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                             ARCHIVE_EXTRACT_SECURE_SYMLINKS);
    struct archive_entry *e;
    int rc = 0, r;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *rel = strip(archive_entry_pathname(e), prefix);
        if (over_limits(job, ++entries, written) != 0) {
            rc = -1;
            break;
        }
        if (!rel[0])
            continue;
        if (!safe_path(rel) || strcmp(rel, MARKER) == 0) {
            char *detail = lusty_asprintf("unsafe entry '%s'", archive_entry_pathname(e));
            rc = cli_fetch__fail(job, "cannot unpack the archive", detail);
            lusty_free(detail);
            break;
        }
        char *path = lusty_asprintf("%s/%s", into, rel);
        archive_entry_set_pathname(e, path);
        lusty_free(path);
        const char *link = archive_entry_hardlink(e);
        if (link) {
            const char *lrel = strip(link, prefix);
            if (!safe_path(lrel)) {
                rc = cli_fetch__fail(job, "cannot unpack the archive", "unsafe hard link");
                break;
            }
            char *lpath = lusty_asprintf("%s/%s", into, lrel);
            archive_entry_set_hardlink(e, lpath);
            lusty_free(lpath);
        }
        r = archive_write_header(disk, e);
        if (r >= ARCHIVE_WARN && archive_entry_size(e) > 0) {
            const void *buf;
            size_t size;
            la_int64_t offset;
            unsigned long long extent = 0; /* counts holes of sparse files too */
            while ((r = archive_read_data_block(a, &buf, &size, &offset)) == ARCHIVE_OK) {
                unsigned long long end = (unsigned long long)offset + size;
                extent = end > extent ? end : extent;
                if (over_limits(job, entries, written + extent) != 0)
                    break;
                if ((r = (int)archive_write_data_block(disk, buf, size, offset)) < ARCHIVE_WARN)
                    break;
            }
            written += extent;
            if (job->cause) {
                rc = -1;
                break;
            }
            if (r == ARCHIVE_EOF)
                r = ARCHIVE_OK;
        }
        if (r >= ARCHIVE_WARN)
            r = archive_write_finish_entry(disk);
        if (r < ARCHIVE_WARN) {
            int en = archive_errno(disk) ? archive_errno(disk) : archive_errno(a);
            const char *msg = archive_error_string(disk) ? archive_error_string(disk)
                                                          : archive_error_string(a);
            rc = cli_fetch__fail(job, en == ENOSPC ? "disk full" : "cannot unpack the archive", msg);
            break;
        }
    }
    if (rc == 0 && r != ARCHIVE_EOF)
        rc = cli_fetch__fail(job, "cannot unpack the archive", archive_error_string(a));
    archive_write_free(disk);
    archive_read_free(a);
    lusty_free(prefix);
    return rc;
}

/* Writes the marker: the archive's url and sha256 and every file's sha256. */
static int write_marker(cli_fetch_job_t *job, const char *into, const char *sha)
{
    cli_file_entry_t *files = NULL;
    size_t count = 0;
    char *failed = NULL;
    int err = cli_list_files(into, &files, &count, &failed);
    lusty_free(failed);
    if (err)
        return cli_fetch__fail(job, cli_fetch__errno_cause(err), strerror(err));
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "url", job->decl->url);
    cJSON_AddStringToObject(root, "sha256", sha);
    cJSON *list = cJSON_AddObjectToObject(root, "files");
    for (size_t i = 0; i < count && !err; i++) {
        char *path = cli_path_join(into, files[i].path);
        char hex[65];
        err = cli_fetch__sha256_file(path, hex);
        cJSON_AddStringToObject(list, files[i].path, hex);
        lusty_free(path);
    }
    cli_file_entries_free(files, count);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    char *marker = cli_path_join(into, MARKER), *tmp = NULL;
    if (!err)
        err = cli_write_temp(marker, text, strlen(text), 0644, &tmp);
    if (!err && rename(tmp, marker) != 0)
        err = errno;
    lusty_free(tmp);
    lusty_free(marker);
    cJSON_free(text);
    return err ? cli_fetch__fail(job, cli_fetch__errno_cause(err), strerror(err)) : 0;
}

int cli_fetch_archive(cli_fetch_job_t *job)
{
    char hex[65];
    int rc = -1;
    char *tmp = cli_fetch__temp_dir(job);
    if (!tmp)
        return -1;
    char *file = lusty_asprintf("%s.download", tmp);
    if (download(job, file, hex) != 0)
        goto cleanup;
    const char *want = job->pin ? job->pin : job->decl->sha256;
    if (want && strcmp(want, hex) != 0) {
        char *detail = lusty_asprintf("expected sha256 %s, got %s", want, hex);
        cli_fetch__fail(job, "checksum mismatch", detail);
        lusty_free(detail);
        goto cleanup;
    }
    if (unpack(job, file, tmp) != 0 || cli_fetch__check_links(job, tmp) != 0 ||
        write_marker(job, tmp, hex) != 0)
        goto cleanup;
    if (cli_fetch__install(job, tmp) != 0)
        goto cleanup;
    cli_source_copy(&job->resolved, job->decl);
    lusty_free(job->resolved.sha256);
    job->resolved.sha256 = lusty_strdup(hex);
    rc = 0;
cleanup:
    unlink(file);
    if (rc != 0)
        cli_remove_tree(tmp);
    lusty_free(file);
    lusty_free(tmp);
    return rc;
}

void cli_fetch_archive_inspect(cli_installed_t *out, const char *dest)
{
    char *marker = cli_path_join(dest, MARKER), *text = NULL, *failed = NULL;
    cJSON *root = NULL;
    cli_file_entry_t *files = NULL;
    size_t count = 0;
    if (cli_read_file(marker, &text, NULL) != 0 || !(root = cJSON_Parse(text)) ||
        !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(root, "sha256"))) {
        out->state = CLI_INSTALLED_FOREIGN;
        out->detail = lusty_strdup("it was not unpacked by lusty");
        goto cleanup;
    }
    out->id = lusty_strdup(cJSON_GetObjectItemCaseSensitive(root, "sha256")->valuestring);
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(root, "url");
    if (cJSON_IsString(url))
        out->url = lusty_strdup(url->valuestring);
    const cJSON *recorded = cJSON_GetObjectItemCaseSensitive(root, "files");
    size_t modified = 0, untracked = 0, seen = 0;
    if (cli_list_files(dest, &files, &count, &failed) != 0)
        modified++;
    for (size_t i = 0; i < count; i++) {
        if (strcmp(files[i].path, MARKER) == 0)
            continue;
        const cJSON *want = cJSON_GetObjectItemCaseSensitive(recorded, files[i].path);
        if (!cJSON_IsString(want)) {
            untracked++;
            continue;
        }
        seen++;
        char *path = cli_path_join(dest, files[i].path);
        char hex[65];
        if (cli_fetch__sha256_file(path, hex) != 0 || strcmp(hex, want->valuestring) != 0)
            modified++;
        lusty_free(path);
    }
    modified += (size_t)cJSON_GetArraySize(recorded) - seen; /* deleted files */
    if (modified || untracked) {
        out->state = CLI_INSTALLED_CHANGED;
        out->detail = cli_fetch__changes_text(modified, untracked);
    } else {
        out->state = CLI_INSTALLED_CLEAN;
    }
cleanup:
    cli_file_entries_free(files, count);
    lusty_free(failed);
    cJSON_Delete(root);
    lusty_free(text);
    lusty_free(marker);
}
