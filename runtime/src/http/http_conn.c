/* Client connections: reading, feeding the parser, dispatching requests one
 * at a time, timeouts and closing.
 *
 * A connection reads only while no handler owns a request: pipelined
 * requests wait in the kernel (and in our read buffer) until the previous
 * response has been written out, which keeps responses in order and puts
 * back-pressure on clients that send faster than they read. */
#include "http_internal.h"

#include "lusty/alloc.h"
#include "lusty/log.h"

#include <string.h>

/* How long a closing connection may keep sending before we drop it. */
#define LINGER_MS 2000

typedef struct {
    uv_write_t req;
    lusty__http_conn_t *conn;
    char data[];
} write_req_t;

static void process(lusty__http_conn_t *c);

static void arm(lusty__http_conn_t *c, lusty__timer_kind_t kind, uint64_t ms);

static void on_timer(uv_timer_t *t);

static void maybe_free(lusty__http_conn_t *c)
{
    if (c->handles_open || c->busy || c->streaming)
        return;
    lusty__http_worker_t *w = c->w;
    if (c->fake)
        c->fake->conn = NULL;
    lusty__http_parser_free(c->parser);
    lusty_buf_free(&c->res.headers);
    lusty_free(c->in);
    lusty_free(c);
    w->nconns--;
    lusty__http_worker_check_done(w);
}

static void on_closed(uv_handle_t *h)
{
    lusty__http_conn_t *c = h->data;
    c->handles_open--;
    if (c->handles_open == 0 && c->busy && c->res.on_close) {
        /* The client left while a handler still owns its response: tell
         * the handler, from a plain loop callback, so that it can stop its
         * work. Ending the response (now or later) frees the connection. */
        lusty_http_close_cb cb = c->res.on_close;
        c->res.on_close = NULL;
        cb(c->res.on_close_data, &c->res);
        return;
    }
    maybe_free(c);
}

/* The handle that stands for the client: the socket, or a test's fake. */
static uv_handle_t *stream_handle(lusty__http_conn_t *c)
{
    return c->fake ? (uv_handle_t *)&c->fake->idle : (uv_handle_t *)&c->tcp;
}

void lusty__http_conn_close(lusty__http_conn_t *c)
{
    if (c->dead)
        return;
    c->dead = true;
    lusty__http_worker_t *w = c->w;
    lusty__http_conns_unlink(w, c);
    lusty__http_addr_remove(w, c);
    if (!c->closing)
        w->nlive--;
    if (c->fake)
        c->fake->closed = true;
    uv_close(stream_handle(c), on_closed);
    uv_close((uv_handle_t *)&c->timer, on_closed);
    if (c->streaming)
        lusty__http_response_abort_file(&c->res, UV_ECONNRESET);
}

bool lusty__http_conn_idle(const lusty__http_conn_t *c)
{
    return !c->busy && !c->streaming && !c->finished && c->pending_writes == 0 &&
           c->in_pos == c->in_len && !lusty__http_parser_started(c->parser);
}

/* A connection holds a read buffer only while it has unparsed input: an
 * idle keep-alive connection, or one whose request waits, holds none
 * (16 KiB each, of which the first page at least was resident). The
 * worker keeps one spare, so that a connection serving one request after
 * another does not allocate. */
static void drop_input(lusty__http_conn_t *c)
{
    if (!c->in || c->in_pos != c->in_len)
        return;
    c->in_pos = c->in_len = 0;
    if (c->w->spare_in)
        lusty_free(c->in);
    else
        c->w->spare_in = c->in;
    c->in = NULL;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    lusty__http_conn_t *c = h->data;
    if (!c->in) {
        c->in = c->w->spare_in ? c->w->spare_in : lusty_malloc(LUSTY__HTTP_READ_BUF);
        c->w->spare_in = NULL;
    }
    /* Unparsed input (pipelined requests read while a handler owns the
     * current one) moves to the front; reading stops before the buffer is
     * full (see on_read), so there is always room here. */
    if (c->in_pos == c->in_len) {
        c->in_pos = c->in_len = 0;
    } else if (c->in_pos > 0) {
        memmove(c->in, c->in + c->in_pos, c->in_len - c->in_pos);
        c->in_len -= c->in_pos;
        c->in_pos = 0;
    }
    *buf = uv_buf_init(c->in + c->in_len, (unsigned)(LUSTY__HTTP_READ_BUF - c->in_len));
}

static void stop_reading(lusty__http_conn_t *c);

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    lusty__http_conn_t *c = s->data;
    if (nread == 0) {
        drop_input(c);
        return;
    }
    if (nread < 0) {
        drop_input(c);
        c->eof = true;
        stop_reading(c);
        /* An end of input while a handler owns the response means the
         * client is gone (as nginx takes it): the handler learns it (see
         * lusty_http_response_on_close()) instead of working for nobody. */
        if (nread != UV_EOF || c->closing || c->busy || c->streaming) {
            lusty__http_conn_close(c);
            return;
        }
        process(c);
        return;
    }
    if (c->closing) {
        c->in_pos = c->in_len = 0; /* draining after our FIN: input is dropped */
        drop_input(c);
        return;
    }
    c->in_len += (size_t)nread;
    if (c->busy || c->streaming) {
        /* Read ahead while a handler works, to notice a client that goes
         * away; a full buffer stops reading, which pushes back on a client
         * that pipelines too much. */
        if (c->in_len == LUSTY__HTTP_READ_BUF)
            stop_reading(c);
        return;
    }
    process(c);
}

static void fake_wake(lusty__http_conn_t *c);

static void start_reading(lusty__http_conn_t *c)
{
    if (c->reading || c->eof || c->dead)
        return;
    if (c->fake) {
        c->reading = true;
        fake_wake(c);
        return;
    }
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = true;
    else
        lusty__http_conn_close(c);
}

static void stop_reading(lusty__http_conn_t *c)
{
    if (!c->reading)
        return;
    if (!c->fake)
        uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
}

/* Sets the connection's timeout. Every request re-arms it two or three
 * times, and each uv_timer_start/stop is a heap operation: instead the
 * deadline is recorded, and the libuv timer is only started when it is not
 * running or would fire after the new deadline. A timer that fires before
 * the deadline (or with no timeout set) is set again or left to lapse. */
static void arm(lusty__http_conn_t *c, lusty__timer_kind_t kind, uint64_t ms)
{
    c->timer_kind = kind;
    if (kind == LUSTY__TIMER_NONE)
        return;
    uint64_t due = uv_now(&c->w->loop) + ms;
    c->deadline = due;
    if (!uv_is_active((uv_handle_t *)&c->timer) || c->timer_due > due) {
        uv_timer_start(&c->timer, on_timer, ms, 0);
        c->timer_due = due;
    }
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    lusty__http_conn_t *c = req->data;
    if (c->dead)
        return;
    if (status < 0 || c->eof) {
        lusty__http_conn_close(c);
        return;
    }
    /* Closing with unread input would send a reset that can destroy our
     * last response before the client reads it; drain for a while. */
    arm(c, LUSTY__TIMER_LINGER, LINGER_MS);
    start_reading(c);
}

/* Closes after everything queued has been written: our FIN, then the
 * client's input is drained until it closes too. */
static void close_gracefully(lusty__http_conn_t *c)
{
    if (c->closing || c->dead)
        return;
    c->closing = true;
    c->w->nlive--;
    stop_reading(c);
    if (c->pending_writes)
        return; /* on_write comes back here */
    c->shutdown_req.data = c;
    if (c->fake) {
        c->fake->shutdown_pending = true;
        fake_wake(c);
        return;
    }
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
        lusty__http_conn_close(c);
}

static void on_write(uv_write_t *req, int status)
{
    write_req_t *wr = (write_req_t *)req;
    lusty__http_conn_t *c = wr->conn;
    lusty_free(wr);
    c->pending_writes--;
    if (c->dead) {
        maybe_free(c);
        return;
    }
    if (status < 0) {
        lusty__http_conn_close(c);
        return;
    }
    if (c->pending_writes)
        return;
    if (c->closing) {
        c->closing = false;
        c->w->nlive++; /* counted out again just below */
        close_gracefully(c);
        return;
    }
    if (c->streaming) {
        lusty__http_response_pump(&c->res);
        return;
    }
    process(c);
}

int lusty__http_conn_send(lusty__http_conn_t *c, const char *data, size_t len)
{
    if (c->dead)
        return UV_ECONNRESET;
    if (len == 0)
        return 0;
    if (c->fake) {
        lusty_buf_append(&c->fake->out, data, len);
        return 0;
    }
    size_t done = 0;
    if (c->pending_writes == 0) {
        uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n == (int)len)
            return 0;
        if (n < 0 && n != UV_EAGAIN) {
            lusty__http_conn_close(c);
            return n;
        }
        done = n > 0 ? (size_t)n : 0;
    }
    write_req_t *wr = lusty_malloc(sizeof(*wr) + len - done);
    memcpy(wr->data, data + done, len - done);
    wr->conn = c;
    uv_buf_t b = uv_buf_init(wr->data, (unsigned)(len - done));
    int err = uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
    if (err) {
        lusty_free(wr);
        lusty__http_conn_close(c);
        return err;
    }
    c->pending_writes++;
    /* A client that stops reading must not hold us forever. */
    if (c->timer_kind != LUSTY__TIMER_WRITE && c->timer_kind != LUSTY__TIMER_LINGER)
        arm(c, LUSTY__TIMER_WRITE, c->w->srv->cfg.limits.idle_timeout_ms);
    return 0;
}

static void on_timer(uv_timer_t *t)
{
    lusty__http_conn_t *c = t->data;
    lusty__timer_kind_t kind = c->timer_kind;
    if (kind == LUSTY__TIMER_NONE)
        return;
    uint64_t now = uv_now(&c->w->loop);
    if (now < c->deadline) {
        uv_timer_start(&c->timer, on_timer, c->deadline - now, 0);
        c->timer_due = c->deadline;
        return;
    }
    c->timer_kind = LUSTY__TIMER_NONE;
    switch (kind) {
    case LUSTY__TIMER_HEAD:
    case LUSTY__TIMER_BODY:
        if (!c->busy && !c->streaming && !c->finished && !c->closing) {
            lusty__http_conn_send_error(c, 408);
            return;
        }
        lusty__http_conn_close(c);
        return;
    case LUSTY__TIMER_WRITE:
        if (c->pending_writes)
            lusty__http_conn_close(c);
        return;
    case LUSTY__TIMER_IDLE:
    case LUSTY__TIMER_LINGER:
        lusty__http_conn_close(c);
        return;
    case LUSTY__TIMER_NONE:
        return;
    }
}

void lusty__http_conn_send_error(lusty__http_conn_t *c, int status)
{
    lusty__http_worker_t *w = c->w;
    const char *reason = lusty_http_status_reason(status);
    char buf[512];
    int n = snprintf(buf, sizeof(buf),
                     "HTTP/1.1 %d %s\r\nServer: %s\r\nDate: %s\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%d %s\n",
                     status, reason, w->srv->cfg.server_name, lusty__http_worker_date(w),
                     strlen(reason) + 5, status, reason);
    if (n > 0 && (size_t)n < sizeof(buf))
        lusty__http_conn_send(c, buf, (size_t)n);
    if (w->srv->cfg.access_log && status != 408) {
        lusty_http_access_t e = {.method = "-",
                                 .target = "-",
                                 .status = status,
                                 .bytes = strlen(reason) + 5,
                                 .worker = w->index};
        w->srv->cfg.access_log(w->srv->cfg.access_log_data, &e);
    }
    close_gracefully(c);
}

static void dispatch(lusty__http_conn_t *c)
{
    const lusty_http_request_t *req = lusty__http_parser_request(c->parser);
    lusty_http_response_t *res = &c->res;
    lusty_buf_clear(&res->headers);
    res->req = req;
    res->status = 200;
    res->content_length = res->body_bytes = 0;
    res->has_length = res->head_sent = res->chunked = res->has_date = res->has_server = false;
    res->is_head = strcmp(req->method, "HEAD") == 0;
    res->keep_alive = req->keep_alive && !c->w->stopping;
    res->start_ns = uv_hrtime();
    res->on_close = NULL;
    res->on_close_data = NULL;
    c->busy = true;
    c->nrequests++;
    arm(c, LUSTY__TIMER_NONE, 0);
    lusty_http_server_t *srv = c->w->srv;
    /* Reading goes on while the handler works (see on_read): a handler
     * that answers later must learn when its client leaves. */
    srv->cfg.handler(c->w->handler_data, req, res);
}

void lusty__http_conn_response_done(lusty__http_conn_t *c)
{
    c->finished = true;
    if (c->w->srv->cfg.access_log) {
        lusty_http_response_t *res = &c->res;
        lusty_http_access_t e = {
            .method = res->req->method,
            .target = res->req->target,
            .status = res->status,
            .bytes = res->is_head ? 0 : res->body_bytes,
            .ms = (double)(uv_hrtime() - res->start_ns) / 1e6,
            .worker = c->w->index,
        };
        c->w->srv->cfg.access_log(c->w->srv->cfg.access_log_data, &e);
    }
    if (c->dead) {
        maybe_free(c);
        return;
    }
    process(c);
}

/* Moves the connection on as far as it can go without waiting. Re-entrant
 * calls (a handler answering synchronously) only note that more is to do,
 * so that pipelined requests are served by a loop, not by recursion. */
static void process(lusty__http_conn_t *c)
{
    if (c->processing)
        return;
    c->processing = true;
    lusty__http_worker_t *w = c->w;
    const lusty_http_limits_t *lim = &w->srv->cfg.limits;
    for (;;) {
        if (c->dead || c->closing || c->busy || c->streaming)
            break;
        if (c->finished) {
            if (c->pending_writes) {
                stop_reading(c); /* a client that does not read gets no more service */
                break;           /* on_write comes back */
            }
            c->finished = false;
            if (!c->res.keep_alive || w->stopping) {
                close_gracefully(c);
                break;
            }
            lusty__http_parser_next(c->parser);
            c->timer_kind = LUSTY__TIMER_NONE;
            lusty__http_conns_touch(w, c); /* waiting again, from now */
        }
        if (c->in_pos == c->in_len) {
            if (c->eof) {
                close_gracefully(c);
                break;
            }
            c->in_pos = c->in_len = 0;
            if (!lusty__http_parser_started(c->parser)) {
                if (c->timer_kind != LUSTY__TIMER_IDLE)
                    arm(c, LUSTY__TIMER_IDLE,
                        c->nrequests ? lim->idle_timeout_ms : lim->header_timeout_ms);
            } else if (!lusty__http_parser_head_done(c->parser)) {
                /* The first head must be complete within the header
                 * timeout of the connection's start, not of its first
                 * byte: one byte early buys a slow client nothing. */
                if (c->timer_kind == LUSTY__TIMER_IDLE && c->nrequests == 0)
                    c->timer_kind = LUSTY__TIMER_HEAD;
                else if (c->timer_kind != LUSTY__TIMER_HEAD)
                    arm(c, LUSTY__TIMER_HEAD, lim->header_timeout_ms);
            } else {
                arm(c, LUSTY__TIMER_BODY, lim->header_timeout_ms);
            }
            start_reading(c);
            break;
        }
        size_t used = 0;
        lusty__http_parse_result_t r =
            lusty__http_parse(c->parser, c->in + c->in_pos, c->in_len - c->in_pos, &used);
        c->in_pos += used;
        if (r == LUSTY__HTTP_ERROR) {
            int status = lusty__http_parser_error_status(c->parser);
            lusty_log(LUSTY_LOG_DEBUG, "http", "bad request (%d): %s", status,
                      lusty__http_parser_error_reason(c->parser));
            lusty__http_conn_send_error(c, status);
            break;
        }
        if (r == LUSTY__HTTP_REQUEST) {
            dispatch(c);
            continue;
        }
        if (lusty__http_parser_take_continue(c->parser))
            lusty__http_conn_send(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    }
    drop_input(c);
    c->processing = false;
}

/* A connection of worker `w` with its timer, in the worker's list; the
 * caller sets up the client's side. */
static lusty__http_conn_t *conn_new(lusty__http_worker_t *w)
{
    lusty__http_conn_t *c = lusty_calloc(1, sizeof(*c));
    c->w = w;
    uv_timer_init(&w->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles_open = 2;
    w->nconns++;
    w->nlive++;
    lusty__http_conns_push(w, c);
    lusty__http_parser_new(&c->parser, &w->srv->cfg.limits);
    if (w->max_body_bytes)
        lusty__http_parser_set_budget(c->parser, &w->body_bytes, w->max_body_bytes);
    c->res.conn = c;
    return c;
}

void lusty__http_conn_drain(lusty__http_conn_t *c, uint64_t ms)
{
    if (c->fake)
        lusty__http_conn_close(c);
    else
        arm(c, LUSTY__TIMER_IDLE, ms);
}

void lusty__http_conn_accept(lusty__http_worker_t *w, uv_stream_t *listener)
{
    lusty__http_conn_t *c = conn_new(w);
    uv_tcp_init(&w->loop, &c->tcp);
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        lusty__http_conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
        lusty__http_worker_check_fds(w, c, fd);
    bool refuse = w->stopping;
    if (!refuse && lusty__http_addr_add(w, c) > w->max_per_addr)
        refuse = !lusty__http_conn_shed(w, c->addr, c, "connections of one address");
    if (!refuse && w->nlive > w->max_conns)
        refuse = !lusty__http_conn_shed(w, NULL, c, "connections");
    if (refuse) {
        /* Every slot is busy answering: a 503 (read by the client, since
         * the connection is drained before it closes) beats a reset. */
        lusty__http_conn_send_error(c, 503);
        return;
    }
    process(c);
}

bool lusty__http_conn_shed(lusty__http_worker_t *w, const lusty__http_addr_t *addr,
                           const lusty__http_conn_t *spare, const char *why)
{
    lusty__http_conn_t *victim = lusty__http_shed_victim(w, addr, spare);
    if (!victim)
        return false;
    uint64_t now = uv_now(&w->loop);
    if (!w->shed_logged || now - w->shed_logged >= 10000) {
        w->shed_logged = now;
        lusty_log(LUSTY_LOG_WARN, "http",
                  "worker %u: %s at the limit; closing the ones waiting longest for a "
                  "request (slow or idle clients) to serve new ones",
                  w->index, why);
    }
    lusty__http_conn_close(victim);
    return true;
}

/* ---- The test seam: a connection whose client is a lusty__http_fake_t ---- */

/* Delivers what the fake client has for the connection, one step per loop
 * iteration, as a socket's callbacks would come: our half-close, then
 * input (up to a read buffer at a time), then the client's end of input. */
static void fake_tick(uv_idle_t *h)
{
    lusty__http_conn_t *c = h->data;
    lusty__http_fake_t *f = c->fake;
    if (f->shutdown_pending) {
        f->shutdown_pending = false;
        f->shut = true;
        on_shutdown(&c->shutdown_req, 0);
        return;
    }
    if (c->dead || !c->reading) {
        uv_idle_stop(h);
        return;
    }
    if (f->in_pos < f->in.len) {
        uv_buf_t b;
        on_alloc((uv_handle_t *)h, 0, &b);
        size_t n = f->in.len - f->in_pos < b.len ? f->in.len - f->in_pos : b.len;
        memcpy(b.base, f->in.data + f->in_pos, n);
        f->in_pos += n;
        on_read((uv_stream_t *)&c->tcp, (ssize_t)n, &b);
        return;
    }
    if (f->in_eof) {
        on_read((uv_stream_t *)&c->tcp, UV_EOF, NULL);
        return;
    }
    uv_idle_stop(h);
}

static void fake_wake(lusty__http_conn_t *c)
{
    uv_idle_start(&c->fake->idle, fake_tick);
}

void lusty__http_conn_open_fake(lusty__http_worker_t *w, lusty__http_fake_t *f)
{
    lusty__http_conn_t *c = conn_new(w);
    c->fake = f;
    f->conn = c;
    uv_idle_init(&w->loop, &f->idle);
    f->idle.data = c;
    process(c);
}

void lusty__http_fake_send(lusty__http_fake_t *f, const void *data, size_t len)
{
    lusty_buf_append(&f->in, data, len);
    if (f->conn && f->conn->reading)
        fake_wake(f->conn);
}

void lusty__http_fake_end(lusty__http_fake_t *f)
{
    f->in_eof = true;
    if (f->conn && f->conn->reading)
        fake_wake(f->conn);
}
