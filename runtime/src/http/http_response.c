/* The response writer: status, headers, framing, and sending files.
 *
 * Framing is decided when the head goes out: Content-Length when the whole
 * body is known (lusty_http_response_end() without earlier writes, files,
 * or a length the handler set), chunked for streamed bodies of HTTP/1.1,
 * and for HTTP/1.0 clients a body delimited by closing the connection. */
#include "http_internal.h"

#include "lusty/alloc.h"
#include "lusty/error.h"
#include "lusty/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <unistd.h>

/* Files up to this size are read and sent together with the head: one
 * write instead of a write and a sendfile. */
#define SMALL_FILE (64 * 1024)
/* Piece sizes of larger files. */
#define SENDFILE_MAX (1024 * 1024)
#define FALLBACK_CHUNK (64 * 1024)

const char *lusty_http_status_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    }
    return "Unknown";
}

static bool bodiless_status(int status)
{
    return status == 204 || status == 304 || (status >= 100 && status < 200);
}

int lusty_http_response_set_status(lusty_http_response_t *res, int status)
{
    if (res->head_sent || status < 200 || status > 999)
        return LUSTY_EINVAL;
    res->status = status;
    return 0;
}

static bool clean(const char *s)
{
    return strpbrk(s, "\r\n") == NULL;
}

/* Whether header name `name` (of length `len`) is `lower`, a lower-case
 * literal: the length is compared first, so most names cost no call. */
static bool name_is(const char *name, size_t len, const char *lower, size_t lower_len)
{
    return len == lower_len && strcasecmp(name, lower) == 0;
}
#define NAME_IS(name, len, lit) name_is(name, len, lit, sizeof(lit) - 1)

/* Head lines are written with appends, not printf: they are built for
 * every response, and formatting was a visible share of a small one. */
static void put_line(lusty_buf_t *out, const char *name, size_t name_len, const char *value,
                     size_t value_len)
{
    lusty_buf_reserve(out, name_len + value_len + 4);
    char *d = out->data + out->len;
    memcpy(d, name, name_len);
    d[name_len] = ':';
    d[name_len + 1] = ' ';
    memcpy(d + name_len + 2, value, value_len);
    memcpy(d + name_len + 2 + value_len, "\r\n", 3); /* with the NUL */
    out->len += name_len + value_len + 4;
}

/* `v` in decimal (base 10) or hexadecimal (base 16). */
static void put_number(lusty_buf_t *out, uint64_t v, unsigned base)
{
    char tmp[24];
    size_t n = sizeof tmp;
    do {
        tmp[--n] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    lusty_buf_append(out, tmp + n, sizeof tmp - n);
}

int lusty_http_response_add_header(lusty_http_response_t *res, const char *name, const char *value)
{
    if (res->head_sent || !name[0] || !clean(name) || !clean(value) || strpbrk(name, ": \t"))
        return LUSTY_EINVAL;
    size_t len = strlen(name);
    if (NAME_IS(name, len, "transfer-encoding") || NAME_IS(name, len, "connection"))
        return LUSTY_EINVAL;
    if (NAME_IS(name, len, "content-length")) {
        char *end = NULL;
        errno = 0;
        unsigned long long n = strtoull(value, &end, 10);
        if (errno || end == value || *end || value[0] == '-')
            return LUSTY_EINVAL;
        res->has_length = true;
        res->content_length = n;
        return 0; /* written by the framing code */
    }
    if (NAME_IS(name, len, "date"))
        res->has_date = true;
    else if (NAME_IS(name, len, "server"))
        res->has_server = true;
    put_line(&res->headers, name, len, value, strlen(value));
    return 0;
}

void lusty_http_response_on_close(lusty_http_response_t *res, lusty_http_close_cb cb, void *data)
{
    res->on_close = cb;
    res->on_close_data = data;
}

bool lusty_http_response_is_closed(const lusty_http_response_t *res)
{
    return res->conn->dead;
}

bool lusty_http_response_is_head(const lusty_http_response_t *res)
{
    return res->is_head;
}

const char *lusty_http_response_peer(const lusty_http_response_t *res)
{
    lusty__http_conn_t *c = res->conn;
    if (c->peer[0])
        return c->peer;
    if (c->fake) {
        /* The test seam's client is a loopback one. */
        strcpy(c->peer, "127.0.0.1");
        return c->peer;
    }
    /* The address the connection was counted under at accept: asking the
     * socket again would cost a system call per connection. */
    unsigned char key[17];
    if (!lusty__http_addr_key(c, key) || !inet_ntop(key[0], key + 1, c->peer, sizeof(c->peer)))
        return NULL;
    /* An IPv4 client of an IPv6 socket, as the address it really is. */
    if (strncmp(c->peer, "::ffff:", 7) == 0 && strchr(c->peer + 7, '.'))
        memmove(c->peer, c->peer + 7, strlen(c->peer + 7) + 1);
    return c->peer;
}

uv_loop_t *lusty_http_response_loop(const lusty_http_response_t *res)
{
    return &res->conn->w->loop;
}

/* Appends the status line and headers to `out`, choosing the framing. */
static void build_head(lusty_http_response_t *res, lusty_buf_t *out)
{
    lusty__http_conn_t *c = res->conn;
    lusty_http_server_t *srv = c->w->srv;
    const lusty_http_request_t *req = res->req;
    bool http10 = req->version_major == 1 && req->version_minor == 0;
    if (c->w->stopping)
        res->keep_alive = false;
    const char *reason = lusty_http_status_reason(res->status);
    lusty_buf_append(out, "HTTP/1.1 ", 9);
    put_number(out, (uint64_t)res->status, 10);
    lusty_buf_putc(out, ' ');
    lusty_buf_puts(out, reason);
    lusty_buf_append(out, "\r\n", 2);
    if (!res->has_server)
        put_line(out, "Server", 6, srv->cfg.server_name, strlen(srv->cfg.server_name));
    if (!res->has_date) {
        const char *date = lusty__http_worker_date(c->w);
        put_line(out, "Date", 4, date, strlen(date));
    }
    if (res->headers.len)
        lusty_buf_append(out, res->headers.data, res->headers.len);
    if (bodiless_status(res->status)) {
        res->has_length = true;
        res->content_length = 0;
    } else if (res->has_length) {
        lusty_buf_append(out, "Content-Length: ", 16);
        put_number(out, res->content_length, 10);
        lusty_buf_append(out, "\r\n", 2);
    } else if (!http10) {
        res->chunked = true;
        lusty_buf_puts(out, "Transfer-Encoding: chunked\r\n");
    } else {
        res->keep_alive = false; /* the end of the body is the end of the connection */
    }
    if (!res->keep_alive)
        lusty_buf_puts(out, "Connection: close\r\n");
    else if (http10)
        lusty_buf_puts(out, "Connection: keep-alive\r\n");
    lusty_buf_puts(out, "\r\n");
    res->head_sent = true;
}

/* Appends body bytes in the chosen framing, honouring HEAD and a declared
 * Content-Length. */
static void frame_body(lusty_http_response_t *res, lusty_buf_t *out, const char *data, size_t len)
{
    if (res->has_length) {
        uint64_t room = res->content_length - res->body_bytes;
        if (len > room)
            len = (size_t)room; /* never more than declared: it would break framing */
    }
    res->body_bytes += len;
    if (res->is_head || len == 0 || bodiless_status(res->status))
        return;
    if (res->chunked) {
        put_number(out, len, 16);
        lusty_buf_append(out, "\r\n", 2);
    }
    lusty_buf_append(out, data, len);
    if (res->chunked)
        lusty_buf_puts(out, "\r\n");
}

/* The worker's buffer for building output: responses are built and handed
 * to the socket (which copies what it cannot take at once) within one
 * call, so one buffer per worker suffices. */
static lusty_buf_t *scratch_buf(lusty_http_response_t *res)
{
    lusty_buf_t *out = &res->conn->w->out;
    if (out->cap > 256 * 1024)
        lusty_buf_free(out);
    lusty_buf_clear(out);
    return out;
}

int lusty_http_response_write(lusty_http_response_t *res, const void *data, size_t len)
{
    lusty__http_conn_t *c = res->conn;
    if (!c->busy)
        return LUSTY_EINVAL;
    if (c->dead)
        return UV_ECONNRESET;
    if (len == 0 && res->head_sent)
        return 0;
    lusty_buf_t *out = scratch_buf(res);
    if (!res->head_sent)
        build_head(res, out);
    frame_body(res, out, data, len);
    return lusty__http_conn_send(c, out->data, out->len);
}

/* Marks the handler's part done and lets the connection move on. */
static void finish(lusty_http_response_t *res)
{
    lusty__http_conn_t *c = res->conn;
    if (res->has_length && res->body_bytes < res->content_length) {
        /* The handler promised more than it sent: the client would wait
         * for the rest, so the connection has to end. */
        res->keep_alive = false;
        if (!c->dead && !res->is_head)
            lusty__http_conn_close(c);
    }
    lusty__http_conn_response_done(c);
}

int lusty_http_response_end(lusty_http_response_t *res, const void *data, size_t len)
{
    lusty__http_conn_t *c = res->conn;
    if (!c->busy)
        return LUSTY_EINVAL;
    c->busy = false;
    int err = 0;
    if (!c->dead) {
        lusty_buf_t *out = scratch_buf(res);
        if (!res->head_sent) {
            if (!res->has_length) {
                res->has_length = true;
                res->content_length = len;
            }
            build_head(res, out);
        }
        frame_body(res, out, data, len);
        if (res->chunked && !res->is_head)
            lusty_buf_puts(out, "0\r\n\r\n");
        err = lusty__http_conn_send(c, out->data, out->len);
    } else {
        err = UV_ECONNRESET;
    }
    finish(res);
    return err;
}

int lusty_http_response_send_status(lusty_http_response_t *res, int status,
                                    const char *extra_header, const char *extra_value)
{
    char body[128];
    int n = snprintf(body, sizeof(body), "%d %s\n", status, lusty_http_status_reason(status));
    lusty_http_response_set_status(res, status);
    lusty_http_response_add_header(res, "Content-Type", "text/plain; charset=utf-8");
    if (extra_header && extra_value)
        lusty_http_response_add_header(res, extra_header, extra_value);
    return lusty_http_response_end(res, body, bodiless_status(status) ? 0 : (size_t)n);
}

static void file_finished(lusty_http_response_t *res, int status)
{
    lusty__http_conn_t *c = res->conn;
    c->streaming = false;
    if (res->file_done)
        res->file_done(res->file_data, status);
    res->file_done = NULL;
}

void lusty__http_response_abort_file(lusty_http_response_t *res, int status)
{
    file_finished(res, status);
}

/* Sends the rest of the file: sendfile(2) while the socket takes it, and
 * when it is full, one ordinary queued write of the next piece, whose
 * completion (the socket drained) brings us back here. */
void lusty__http_response_pump(lusty_http_response_t *res)
{
    lusty__http_conn_t *c = res->conn;
    uv_os_fd_t sock = -1;
    if (!c->fake && uv_fileno((uv_handle_t *)&c->tcp, &sock) != 0) {
        lusty__http_conn_close(c);
        return;
    }
    while (res->file_left > 0 && !c->dead) {
        if (c->pending_writes)
            return;
        size_t want = res->file_left > SENDFILE_MAX ? SENDFILE_MAX : (size_t)res->file_left;
        off_t off = (off_t)res->file_offset;
        ssize_t n;
        if (c->fake) { /* a test's client takes ordinary writes only */
            n = -1;
            errno = EAGAIN;
        } else {
            n = sendfile(sock, res->file, &off, want);
        }
        if (n > 0) {
            res->file_offset += n;
            res->file_left -= (uint64_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            size_t piece = want > FALLBACK_CHUNK ? FALLBACK_CHUNK : want;
            char *buf = lusty_malloc(piece);
            ssize_t got = pread(res->file, buf, piece, (off_t)res->file_offset);
            if (got > 0) {
                res->file_offset += got;
                res->file_left -= (uint64_t)got;
                lusty__http_conn_send(c, buf, (size_t)got);
            }
            lusty_free(buf);
            if (got > 0)
                continue;
        }
        /* The file shrank or broke under us: the framing is lost. */
        lusty_log(LUSTY_LOG_WARN, "http", "sending a file failed: %s",
                  n == 0 ? "file shrank" : strerror(errno));
        lusty__http_conn_close(c);
        return;
    }
    if (c->dead)
        return;
    file_finished(res, 0);
    lusty__http_conn_response_done(c);
}

int lusty_http_response_end_file(lusty_http_response_t *res, uv_file fd, int64_t offset, size_t len,
                                 lusty_http_file_done_cb done, void *data)
{
    lusty__http_conn_t *c = res->conn;
    if (!c->busy || res->head_sent || offset < 0) {
        if (done)
            done(data, LUSTY_EINVAL);
        return LUSTY_EINVAL;
    }
    c->busy = false;
    res->has_length = true;
    res->content_length = len;
    bool send_body = !res->is_head && !bodiless_status(res->status) && len > 0;
    lusty_buf_t *out = scratch_buf(res);
    build_head(res, out);
    if (c->dead) {
        if (done)
            done(data, UV_ECONNRESET);
        finish(res);
        return UV_ECONNRESET;
    }
    if (!send_body || len <= SMALL_FILE) {
        size_t got = 0;
        if (send_body) {
            lusty_buf_reserve(out, len);
            while (got < len) {
                ssize_t n =
                    pread(fd, out->data + out->len + got, len - got, (off_t)offset + (off_t)got);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n <= 0)
                    break;
                got += (size_t)n;
            }
            if (got < len) {
                /* Nothing is sent yet: close, rather than send a short body. */
                int err = got == 0 && errno ? -errno : LUSTY_EIO;
                if (done)
                    done(data, err);
                res->keep_alive = false;
                lusty__http_conn_close(c);
                lusty__http_conn_response_done(c);
                return err;
            }
            out->len += got;
        }
        res->body_bytes = send_body ? len : 0;
        if (res->is_head)
            res->body_bytes = len;
        int err = lusty__http_conn_send(c, out->data, out->len);
        if (done)
            done(data, err);
        lusty__http_conn_response_done(c);
        return err;
    }
    int err = lusty__http_conn_send(c, out->data, out->len);
    if (err) {
        if (done)
            done(data, err);
        lusty__http_conn_response_done(c);
        return err;
    }
    res->body_bytes = len;
    res->file = fd;
    res->file_offset = offset;
    res->file_left = len;
    res->file_done = done;
    res->file_data = data;
    c->streaming = true;
    lusty__http_response_pump(res);
    return 0;
}
