/* Static files: the path resolver, opening beneath the mounted folder,
 * conditional requests (ETag, Last-Modified), single ranges, and handing
 * the file to the response writer (which uses sendfile). */
/* O_PATH, strptime() and timegm() are GNU/BSD extensions. */
#define _GNU_SOURCE
#include "lusty/static_files.h"

#include "lusty/alloc.h"
#include "lusty/error.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char *prefix; /* "/static/" */
    size_t prefix_len;
    char *dir; /* the folder's real path, for the fallback check */
    int dir_fd;
} mount_t;

struct lusty_static_s {
    mount_t *mounts; /* longest prefix first */
    size_t count, cap;
};

int lusty_static_new(lusty_static_t **out)
{
    *out = lusty_calloc(1, sizeof(lusty_static_t));
    return 0;
}

void lusty_static_free(lusty_static_t *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->count; i++) {
        close(st->mounts[i].dir_fd);
        lusty_free(st->mounts[i].prefix);
        lusty_free(st->mounts[i].dir);
    }
    lusty_free(st->mounts);
    lusty_free(st);
}

int lusty_static_add(lusty_static_t *st, const char *prefix, const char *dir)
{
    if (strpbrk(prefix, "?%#\\") || strstr(prefix, "/.") || prefix[0] == '.')
        return LUSTY_EINVAL;
    char *norm = lusty_asprintf("%s%s%s", prefix[0] == '/' ? "" : "/", prefix,
                                prefix[0] && prefix[strlen(prefix) - 1] == '/' ? "" : "/");
    if (strcmp(norm, "//") == 0)
        norm[1] = '\0';
    char real[PATH_MAX];
    if (!realpath(dir, real)) {
        int err = errno == ENOENT ? LUSTY_ENOENT : -errno;
        lusty_free(norm);
        return err;
    }
    int fd = open(real, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno == ENOENT || errno == ENOTDIR ? LUSTY_ENOENT : -errno;
        lusty_free(norm);
        return err;
    }
    st->mounts = lusty_grow(st->mounts, &st->cap, st->count + 1, sizeof(mount_t));
    size_t len = strlen(norm), at = 0;
    while (at < st->count && st->mounts[at].prefix_len >= len)
        at++;
    memmove(&st->mounts[at + 1], &st->mounts[at], (st->count - at) * sizeof(mount_t));
    st->mounts[at] = (mount_t){norm, len, lusty_strdup(real), fd};
    st->count++;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int lusty_static_resolve(const char *prefix, const char *raw_path, char *out, size_t out_size)
{
    size_t plen = strlen(prefix);
    if (out_size == 0)
        return LUSTY_ETOOBIG;
    out[0] = '\0';
    if (strncmp(raw_path, prefix, plen) != 0)
        return LUSTY_ENOENT;
    const char *p = raw_path + plen;
    size_t n = 0;
    bool dir = *p == '\0'; /* the prefix itself: its index */
    while (*p) {
        const char *end = strchr(p, '/');
        size_t seglen = end ? (size_t)(end - p) : strlen(p);
        if (seglen > 0) {
            if (n > 0) {
                if (n + 1 >= out_size)
                    return LUSTY_ETOOBIG;
                out[n++] = '/';
            }
            size_t seg_start = n;
            for (size_t i = 0; i < seglen; i++) {
                char c = p[i];
                if (c == '%') {
                    int hi = i + 2 < seglen ? hexval(p[i + 1]) : -1;
                    int lo = hi >= 0 ? hexval(p[i + 2]) : -1;
                    if (hi < 0 || lo < 0)
                        return LUSTY_EINVAL;
                    c = (char)(hi * 16 + lo);
                    i += 2;
                    /* An encoded separator or NUL would let one segment
                     * act as several. */
                    if (c == '/' || c == '\\' || c == '\0')
                        return LUSTY_EINVAL;
                } else if (c == '\\') {
                    return LUSTY_EINVAL;
                }
                if (n + 1 >= out_size)
                    return LUSTY_ETOOBIG;
                out[n++] = c;
            }
            /* ".", ".." and dotfiles: all segments starting with a dot. */
            if (out[seg_start] == '.')
                return LUSTY_EINVAL;
        }
        dir = end != NULL;
        p = end ? end + 1 : p + seglen;
    }
    if (dir) {
        static const char index[] = "index.html";
        size_t need = n + (n ? 1 : 0) + sizeof(index);
        if (need > out_size)
            return LUSTY_ETOOBIG;
        if (n)
            out[n++] = '/';
        memcpy(out + n, index, sizeof(index));
        return 0;
    }
    out[n] = '\0';
    return 0;
}

typedef struct {
    const char *ext;
    const char *type;
} mime_t;

static const mime_t mime_types[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
    {"md", "text/markdown; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"xml", "application/xml"},
    {"rss", "application/rss+xml"},
    {"atom", "application/atom+xml"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"avif", "image/avif"},
    {"ico", "image/vnd.microsoft.icon"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"ttf", "font/ttf"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"wasm", "application/wasm"},
    {"mp4", "video/mp4"},
    {"webm", "video/webm"},
    {"mp3", "audio/mpeg"},
    {"ogg", "audio/ogg"},
    {"wav", "audio/wav"},
    {"zip", "application/zip"},
    {"gz", "application/gzip"},
    {"tar", "application/x-tar"},
    {"mustache", "text/plain; charset=utf-8"},
    {"lua", "text/plain; charset=utf-8"},
};

const char *lusty_static_mime_type(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    if (dot && dot[1])
        for (size_t i = 0; i < sizeof(mime_types) / sizeof(mime_types[0]); i++)
            if (strcasecmp(dot + 1, mime_types[i].ext) == 0)
                return mime_types[i].type;
    return "application/octet-stream";
}

/* Opens `rel` beneath the mount: the kernel refuses any resolution,
 * symlinks included, that leaves the folder. Kernels without openat2
 * get the same check from realpath(). */
static int open_beneath(const mount_t *m, const char *rel)
{
    /* O_NONBLOCK: opening a FIFO must not hang the loop (it is then refused
     * as not a regular file); regular files ignore the flag. */
    struct open_how how = {
        .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    long fd = syscall(SYS_openat2, m->dir_fd, rel, &how, sizeof(how));
    if (fd >= 0 || errno != ENOSYS)
        return (int)fd;
    char *full = lusty_asprintf("%s/%s", m->dir, rel);
    char real[PATH_MAX];
    int result = -1;
    size_t dlen = strlen(m->dir);
    if (realpath(full, real) && strncmp(real, m->dir, dlen) == 0 &&
        (real[dlen] == '/' || real[dlen] == '\0'))
        result = open(real, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    else
        errno = ENOENT;
    lusty_free(full);
    return result;
}

static void close_file(void *data, int status)
{
    (void)status;
    close((int)(intptr_t)data);
}

/* True when an If-None-Match list names `etag` (weak comparison). */
static bool etag_matches(const char *list, const char *etag)
{
    const char *p = list;
    size_t elen = strlen(etag);
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (strncmp(p, etag, elen) == 0 && (p[elen] == '\0' || p[elen] == ',' || p[elen] == ' '))
            return true;
        while (*p && *p != ',')
            p++;
    }
    return false;
}

static bool parse_http_date(const char *s, time_t *out)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end)
        return false;
    *out = timegm(&tm);
    return true;
}

/* Parses a single "bytes=" range. Returns 1 with [*first, *last] set, 0
 * when the header is to be ignored (multiple or malformed ranges: the whole
 * file is sent), -1 when unsatisfiable. */
static int parse_range(const char *h, uint64_t size, uint64_t *first, uint64_t *last)
{
    if (strncasecmp(h, "bytes=", 6) != 0 || strchr(h, ','))
        return 0;
    const char *p = h + 6;
    while (*p == ' ')
        p++;
    char *end;
    if (*p == '-') {
        if (p[1] < '0' || p[1] > '9')
            return 0;
        errno = 0;
        unsigned long long n = strtoull(p + 1, &end, 10);
        if (errno || *end)
            return 0;
        if (n == 0 || size == 0)
            return -1;
        *first = n >= size ? 0 : size - n;
        *last = size - 1;
        return 1;
    }
    if (*p < '0' || *p > '9')
        return 0;
    errno = 0;
    unsigned long long a = strtoull(p, &end, 10);
    if (errno || *end != '-')
        return 0;
    p = end + 1;
    unsigned long long b = UINT64_MAX;
    if (*p) {
        if (*p < '0' || *p > '9')
            return 0;
        b = strtoull(p, &end, 10);
        if (errno || *end || b < a)
            return 0;
    }
    if (a >= size)
        return -1;
    *first = a;
    *last = b >= size ? size - 1 : b;
    return 1;
}

/* Redirects "/static/dir" to "/static/dir/" (keeping the query), so that
 * relative links in its index.html work. */
static void redirect_to_dir(const lusty_http_request_t *req, lusty_http_response_t *res)
{
    char *loc = lusty_asprintf("%s/%s%s", req->path, req->query[0] ? "?" : "", req->query);
    lusty_http_response_send_status(res, 301, "Location", loc);
    lusty_free(loc);
}

static void serve_file(const mount_t *m, const char *rel, const lusty_http_request_t *req,
                       lusty_http_response_t *res)
{
    int fd = open_beneath(m, rel);
    if (fd < 0) {
        lusty_http_response_send_status(res, errno == EACCES ? 403 : 404, NULL, NULL);
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
        close(fd);
        lusty_http_response_send_status(res, 404, NULL, NULL);
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        redirect_to_dir(req, res);
        return;
    }
    uint64_t size = (uint64_t)st.st_size;
    char etag[64], modified[64];
    snprintf(etag, sizeof(etag), "\"%" PRIx64 "-%" PRIx64 "\"",
             (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec, size);
    struct tm tm;
    gmtime_r(&st.st_mtim.tv_sec, &tm);
    strftime(modified, sizeof(modified), "%a, %d %b %Y %H:%M:%S GMT", &tm);

    lusty_http_response_add_header(res, "Content-Type", lusty_static_mime_type(rel));
    lusty_http_response_add_header(res, "Last-Modified", modified);
    lusty_http_response_add_header(res, "ETag", etag);
    lusty_http_response_add_header(res, "Accept-Ranges", "bytes");

    const char *inm = lusty_http_request_header(req, "if-none-match");
    const char *ims = lusty_http_request_header(req, "if-modified-since");
    time_t since;
    bool not_modified = inm ? etag_matches(inm, etag)
                            : ims && parse_http_date(ims, &since) && st.st_mtim.tv_sec <= since;
    if (not_modified) {
        close(fd);
        lusty_http_response_set_status(res, 304);
        lusty_http_response_end(res, NULL, 0);
        return;
    }
    uint64_t first = 0, last = size ? size - 1 : 0;
    const char *range = lusty_http_request_header(req, "range");
    const char *if_range = lusty_http_request_header(req, "if-range");
    if (range && if_range && strcmp(if_range, etag) != 0 && strcmp(if_range, modified) != 0)
        range = NULL; /* the client's copy is stale: it gets the whole file */
    int r = range && strcmp(req->method, "GET") == 0 ? parse_range(range, size, &first, &last) : 0;
    if (r < 0) {
        close(fd);
        char cr[64];
        snprintf(cr, sizeof(cr), "bytes */%" PRIu64, size);
        lusty_http_response_send_status(res, 416, "Content-Range", cr);
        return;
    }
    uint64_t len = size;
    if (r > 0) {
        char cr[96];
        snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last, size);
        lusty_http_response_set_status(res, 206);
        lusty_http_response_add_header(res, "Content-Range", cr);
        len = last - first + 1;
    }
    lusty_http_response_end_file(res, fd, (int64_t)first, (size_t)len, close_file,
                                 (void *)(intptr_t)fd);
}

bool lusty_static_serve(const lusty_static_t *st, const lusty_http_request_t *req,
                        lusty_http_response_t *res)
{
    if (!st)
        return false;
    for (size_t i = 0; i < st->count; i++) {
        const mount_t *m = &st->mounts[i];
        char rel[PATH_MAX];
        int err = lusty_static_resolve(m->prefix, req->path, rel, sizeof(rel));
        if (err == LUSTY_ENOENT)
            continue;
        if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
            lusty_http_response_send_status(res, 405, "Allow", "GET, HEAD");
            return true;
        }
        if (err) {
            lusty_http_response_send_status(res, 404, NULL, NULL);
            return true;
        }
        serve_file(m, rel, req, res);
        return true;
    }
    return false;
}
