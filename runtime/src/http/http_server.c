/* The server: binding the port, the worker threads and their loops, and
 * stopping.
 *
 * Each worker has its own listening socket on the same address
 * (SO_REUSEPORT), so the kernel balances connections between the workers
 * and no loop ever touches another's handles; the only cross-thread calls
 * are uv_async_send() to ask a worker to stop and to tell the caller's loop
 * that every worker has finished.
 *
 * A restart (a new server inheriting from a running one) takes duplicates
 * of the running server's sockets instead of binding: the sockets are the
 * same, so their queues of waiting connections carry over and nothing is
 * refused or reset while one generation hands over to the next. */
#include "http_internal.h"

#include "lusty/alloc.h"
#include "lusty/error.h"
#include "lusty/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BACKLOG 511
/* How long an idle connection may still bring a request once the server
 * stops. */
#define DRAIN_MS 200

/* Binds a listening socket; returns a libuv-style error code. */
static int bind_socket(const struct sockaddr *addr, socklen_t len, bool reuseport, bool do_listen,
                       int *fd_out)
{
    *fd_out = -1;
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int on = 1;
    /* SO_REUSEADDR lets a restarted server bind while old connections
     * linger in TIME_WAIT; it never allows two listeners. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0)
        goto fail;
    if (addr->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    if (bind(fd, addr, len) != 0)
        goto fail;
    if (do_listen && listen(fd, BACKLOG) != 0)
        goto fail;
    *fd_out = fd;
    return 0;
fail:;
    int err = -errno;
    close(fd);
    return err;
}

/* Takes duplicates of the sockets of `from` when it listens on the same
 * host and configured port; false when it does not (or has stopped). */
static bool inherit_sockets(lusty_http_server_t *srv, lusty_http_server_t *from)
{
    if (!from || strcmp(from->host, srv->host) != 0 || from->requested_port != srv->requested_port)
        return false;
    pthread_mutex_lock(&from->lock);
    unsigned n = from->nsocks;
    srv->socks = lusty_calloc(n > srv->nworkers ? n : srv->nworkers, sizeof(int));
    for (unsigned i = 0; i < n; i++) {
        srv->socks[i] = fcntl(from->socks[i], F_DUPFD_CLOEXEC, 0);
        if (srv->socks[i] < 0)
            break;
        srv->nsocks++;
    }
    pthread_mutex_unlock(&from->lock);
    if (srv->nsocks < n || n == 0) {
        for (unsigned i = 0; i < srv->nsocks; i++)
            close(srv->socks[i]);
        lusty_free(srv->socks);
        srv->socks = NULL;
        srv->nsocks = 0;
        return false;
    }
    srv->port = from->port;
    return true;
}

static int bind_all(lusty_http_server_t *srv)
{
    struct sockaddr_storage ss;
    socklen_t len;
    memset(&ss, 0, sizeof(ss));
    if (uv_ip4_addr(srv->host, srv->port, (struct sockaddr_in *)&ss) == 0) {
        len = sizeof(struct sockaddr_in);
    } else if (uv_ip6_addr(srv->host, srv->port, (struct sockaddr_in6 *)&ss) == 0) {
        len = sizeof(struct sockaddr_in6);
    } else {
        return LUSTY_EINVAL;
    }
    struct sockaddr *addr = (struct sockaddr *)&ss;
    int fd = -1, err;
    if (inherit_sockets(srv, srv->cfg.inherit)) {
        /* More workers than sockets: the others join the same group. */
        if (addr->sa_family == AF_INET6)
            ((struct sockaddr_in6 *)addr)->sin6_port = htons((uint16_t)srv->port);
        else
            ((struct sockaddr_in *)addr)->sin_port = htons((uint16_t)srv->port);
        for (; srv->nsocks < srv->nworkers; srv->nsocks++) {
            err = bind_socket(addr, len, true, true, &srv->socks[srv->nsocks]);
            if (err)
                return err;
        }
        return 0;
    }
    srv->socks = lusty_calloc(srv->nworkers, sizeof(int));
    if (srv->port != 0) {
        /* With SO_REUSEPORT, a second lusty on the same port would bind
         * silently and share the traffic; a plain bind first tells us
         * whether anybody holds the port. */
        err = bind_socket(addr, len, false, false, &fd);
        if (err)
            return err;
        close(fd);
    }
    for (unsigned i = 0; i < srv->nworkers; i++) {
        err = bind_socket(addr, len, true, true, &fd);
        if (err)
            return err;
        srv->socks[srv->nsocks++] = fd;
        if (i == 0 && srv->port == 0) {
            /* The others join the port the kernel picked for the first. */
            struct sockaddr_storage got;
            socklen_t glen = sizeof(got);
            if (getsockname(fd, (struct sockaddr *)&got, &glen) != 0)
                return -errno;
            srv->port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port
                                                        : ((struct sockaddr_in *)&got)->sin_port);
            if (addr->sa_family == AF_INET6)
                ((struct sockaddr_in6 *)addr)->sin6_port = htons((uint16_t)srv->port);
            else
                ((struct sockaddr_in *)addr)->sin_port = htons((uint16_t)srv->port);
        }
    }
    return 0;
}

/* Descriptors kept free of connections: for the files handlers and static
 * folders open, the Lua modules loaded, and the loops' own. */
#define FD_RESERVE 256
/* Fewer free descriptors than this is running out. */
#define FD_LOW_WATER 16

/* Makes room for max_connections descriptors: raises the soft limit on
 * open files (up to the hard one) and, when that is not enough, lowers
 * max_connections and says so, so that clients cannot take the
 * descriptors that opening files needs. */
static void fit_descriptors(lusty_http_limits_t *lim, unsigned nworkers)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t want = (rlim_t)lim->max_connections + FD_RESERVE + 8 * nworkers;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        rlim_t old = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            rl.rlim_cur = old;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
        return;
    rlim_t reserve = rl.rlim_cur / 4 < FD_RESERVE ? rl.rlim_cur / 4 : FD_RESERVE;
    size_t fit =
        rl.rlim_cur > reserve + 8 * nworkers ? (size_t)(rl.rlim_cur - reserve - 8 * nworkers) : 1;
    lusty_log(LUSTY_LOG_WARN, "http",
              "max_connections lowered from %zu to %zu: the process may open only %llu files "
              "(ulimit -n), and some must stay free for files and modules",
              lim->max_connections, fit, (unsigned long long)rl.rlim_cur);
    lim->max_connections = fit;
    if (lim->max_connections_per_address > fit)
        lim->max_connections_per_address = fit;
}

int lusty_http_server_new(lusty_http_server_t **out, const lusty_http_config_t *config)
{
    *out = NULL;
    if (!config || !config->handler || config->port < 0 || config->port > 65535)
        return LUSTY_EINVAL;
    lusty_http_server_t *srv = lusty_calloc(1, sizeof(*srv));
    srv->cfg = *config;
    srv->host = lusty_strdup(config->host ? config->host : "127.0.0.1");
    srv->server_name = lusty_strdup(config->server_name ? config->server_name : "lusty");
    srv->cfg.host = srv->host;
    srv->cfg.server_name = srv->server_name;
    lusty_http_limits_fill(&srv->cfg.limits);
    if (!srv->cfg.shutdown_deadline_ms)
        srv->cfg.shutdown_deadline_ms = 5000;
    srv->port = srv->requested_port = config->port;
    srv->nworkers = config->workers ? config->workers : 1;
    pthread_mutex_init(&srv->lock, NULL);
    srv->workers = lusty_calloc(srv->nworkers, sizeof(*srv->workers));
    fit_descriptors(&srv->cfg.limits, srv->nworkers);
    size_t n = srv->nworkers;
    size_t per_worker = (srv->cfg.limits.max_connections + n - 1) / n;
    size_t per_addr = (srv->cfg.limits.max_connections_per_address + n - 1) / n;
    for (unsigned i = 0; i < srv->nworkers; i++) {
        srv->workers[i].srv = srv;
        srv->workers[i].index = i;
        srv->workers[i].max_conns = per_worker;
        srv->workers[i].max_per_addr = per_addr;
        srv->workers[i].max_body_bytes = (srv->cfg.limits.body_memory_bytes + n - 1) / n;
    }
    int err = bind_all(srv);
    if (err) {
        lusty_http_server_free(srv);
        return err;
    }
    /* Socket j goes to worker j % nworkers, as a duplicate the worker's
     * handle owns. */
    for (unsigned i = 0; i < srv->nworkers; i++) {
        lusty__http_worker_t *w = &srv->workers[i];
        w->fds = lusty_calloc(srv->nsocks / srv->nworkers + 1, sizeof(int));
        for (unsigned j = i; j < srv->nsocks; j += srv->nworkers) {
            w->fds[w->nlisteners] = fcntl(srv->socks[j], F_DUPFD_CLOEXEC, 0);
            if (w->fds[w->nlisteners] < 0) {
                err = -errno;
                lusty_http_server_free(srv);
                return err;
            }
            w->nlisteners++;
        }
        w->listeners = lusty_calloc(w->nlisteners, sizeof(uv_tcp_t));
    }
    *out = srv;
    return 0;
}

/* Closes the descriptors a worker has not handed to handles. */
static void close_fds(lusty__http_worker_t *w)
{
    for (unsigned i = 0; w->fds && i < w->nlisteners; i++)
        if (w->fds[i] >= 0) {
            close(w->fds[i]);
            w->fds[i] = -1;
        }
}

int lusty_http_server_port(const lusty_http_server_t *srv)
{
    return srv->port;
}

const char *lusty__http_worker_date(lusty__http_worker_t *w)
{
    time_t now = time(NULL);
    if (now != w->date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(w->date, sizeof(w->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        w->date_sec = now;
    }
    return w->date;
}

static void on_handle_closed(uv_handle_t *h)
{
    (void)h;
}

/* Every connection is gone: let the handler clean up, then drop our own
 * handles so that the loop ends once the handler's are closed too. */
void lusty__http_worker_check_done(lusty__http_worker_t *w)
{
    if (!w->stopping || w->nconns > 0 || w->finished || w->listening > 0)
        return;
    w->finished = true;
    lusty_http_server_t *srv = w->srv;
    if (srv->cfg.worker_stop && !w->stop_called) {
        w->stop_called = true;
        srv->cfg.worker_stop(srv->cfg.worker_data, w->index, &w->loop, w->handler_data);
    }
    /* Under the lock: lusty_http_server_stop() on another thread must not
     * wake a closed handle. */
    pthread_mutex_lock(&srv->lock);
    w->async_closed = true;
    uv_close((uv_handle_t *)&w->stop_async, on_handle_closed);
    pthread_mutex_unlock(&srv->lock);
    uv_close((uv_handle_t *)&w->deadline, on_handle_closed);
}

static void on_listener_closed(uv_handle_t *h)
{
    lusty__http_worker_t *w = h->data;
    w->listening--;
    lusty__http_worker_check_done(w);
}

static void on_deadline(uv_timer_t *t)
{
    lusty__http_worker_t *w = t->data;
    if (w->nconns)
        lusty_log(LUSTY_LOG_WARN, "http",
                  "worker %u: shutdown deadline passed, dropping %zu connection%s", w->index,
                  w->nconns, w->nconns == 1 ? "" : "s");
    for (lusty__http_conn_t *c = w->conns, *next; c; c = next) {
        next = c->next;
        lusty__http_conn_close(c);
    }
}

static void begin_stop(lusty__http_worker_t *w)
{
    if (w->stopping)
        return;
    w->stopping = true;
    unsigned open = w->listening;
    for (unsigned i = 0; i < open; i++)
        uv_close((uv_handle_t *)&w->listeners[i], on_listener_closed);
    close_fds(w);
    /* An idle connection may have a request on its way (a client reusing
     * it, nginx's upstream keep-alive): it is answered, with Connection:
     * close, if it comes soon; closing at once would fail it. */
    uint64_t drain =
        w->srv->cfg.shutdown_deadline_ms < DRAIN_MS ? w->srv->cfg.shutdown_deadline_ms : DRAIN_MS;
    for (lusty__http_conn_t *c = w->conns, *next; c; c = next) {
        next = c->next;
        if (lusty__http_conn_idle(c))
            lusty__http_conn_drain(c, drain);
    }
    uv_timer_start(&w->deadline, on_deadline, w->srv->cfg.shutdown_deadline_ms, 0);
    /* After the drain loop: responses the hook ends close their
     * connections (stopping), which changes the list walked above. */
    if (w->srv->cfg.worker_stopping && w->handler_data)
        w->srv->cfg.worker_stopping(w->srv->cfg.worker_data, w->index, &w->loop, w->handler_data);
    lusty__http_worker_check_done(w);
}

static void on_stop_async(uv_async_t *a)
{
    begin_stop(a->data);
}

void lusty__http_worker_fail(lusty__http_worker_t *w, int status)
{
    lusty_http_server_t *srv = w->srv;
    pthread_mutex_lock(&srv->lock);
    if (!srv->status)
        srv->status = status;
    pthread_mutex_unlock(&srv->lock);
    lusty_http_server_stop(srv);
}

void lusty__http_worker_out_of_fds(lusty__http_worker_t *w, const char *code,
                                   const lusty__http_conn_t *newcomer, int fd)
{
    uint64_t now = uv_now(&w->loop);
    if (!w->fd_logged || now - w->fd_logged >= 10000) {
        w->fd_logged = now;
        struct rlimit rl = {0};
        getrlimit(RLIMIT_NOFILE, &rl);
        if (fd >= 0)
            lusty_log(LUSTY_LOG_ERROR, "http",
                      "out of file descriptors (%s): a new connection got descriptor %d of a "
                      "limit of %llu (ulimit -n); closing idle connections, and new ones are "
                      "dropped while none are free",
                      code, fd, (unsigned long long)rl.rlim_cur);
        else
            lusty_log(LUSTY_LOG_ERROR, "http",
                      "out of file descriptors (%s, limit %llu, ulimit -n): new connections "
                      "are dropped while none are free",
                      code, (unsigned long long)rl.rlim_cur);
    }
    lusty__http_conn_shed(w, NULL, newcomer, "file descriptors");
}

void lusty__http_worker_check_fds(lusty__http_worker_t *w, const lusty__http_conn_t *newcomer,
                                  int fd)
{
    /* Descriptors are handed out lowest first, so a new one this close to
     * the limit means nearly all are in use. libuv, once accept(2) fails
     * with EMFILE, drops waiting connections without telling us: the
     * warning has to come before. */
    struct rlimit rl;
    if (fd < 0 || getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return;
    if ((rlim_t)fd + FD_LOW_WATER >= rl.rlim_cur)
        lusty__http_worker_out_of_fds(w, "EMFILE", newcomer, fd);
}

static void on_connection(uv_stream_t *server, int status)
{
    lusty__http_worker_t *w = server->data;
    if (status < 0) {
        if (status == UV_EMFILE || status == UV_ENFILE) {
            /* Seldom seen: libuv drops the waiting connections itself when
             * it can (see lusty__http_worker_check_fds()). */
            lusty__http_worker_out_of_fds(w, status == UV_EMFILE ? "EMFILE" : "ENFILE", NULL, -1);
            return;
        }
        lusty_log(LUSTY_LOG_WARN, "http", "accept: %s", uv_strerror(status));
        return;
    }
    lusty__http_conn_accept(w, server);
}

static void worker_main(void *arg)
{
    lusty__http_worker_t *w = arg;
    lusty_http_server_t *srv = w->srv;
    int err = 0;
    if (srv->cfg.worker_start)
        err = srv->cfg.worker_start(srv->cfg.worker_data, w->index, &w->loop, &w->handler_data);
    for (unsigned i = 0; !err && i < w->nlisteners; i++) {
        uv_tcp_t *l = &w->listeners[i];
        uv_tcp_init(&w->loop, l);
        l->data = w;
        err = uv_tcp_open(l, w->fds[i]);
        if (err) {
            uv_close((uv_handle_t *)l, NULL);
            break;
        }
        w->fds[i] = -1; /* the handle owns it now */
        w->listening++;
        err = uv_listen((uv_stream_t *)l, BACKLOG, on_connection);
    }
    if (err) {
        lusty__http_worker_fail(w, err);
        begin_stop(w);
    }
    uv_run(&w->loop, UV_RUN_DEFAULT);
    lusty_buf_free(&w->out);
    lusty_free(w->spare_in);
    lusty__http_addr_table_free(w);
    err = uv_loop_close(&w->loop);
    if (err) {
        lusty_log(LUSTY_LOG_ERROR, "http", "worker %u: handles left open at exit", w->index);
        lusty__http_worker_fail(w, err);
    }
    if (atomic_fetch_sub(&srv->running, 1) == 1)
        uv_async_send(&srv->done_async);
}

static void on_done_closed(uv_handle_t *h)
{
    lusty_http_server_t *srv = h->data;
    pthread_mutex_lock(&srv->lock);
    int status = srv->status;
    pthread_mutex_unlock(&srv->lock);
    if (srv->done)
        srv->done(srv, status, srv->done_data);
}

static void on_done_async(uv_async_t *a)
{
    uv_close((uv_handle_t *)a, on_done_closed);
}

int lusty_http_server_start(lusty_http_server_t *srv, uv_loop_t *loop,
                            lusty_http_server_done_cb done, void *data)
{
    if (srv->started)
        return LUSTY_EINVAL;
    int err = uv_async_init(loop, &srv->done_async, on_done_async);
    if (err)
        return err;
    srv->started = true;
    srv->done_async.data = srv;
    srv->done = done;
    srv->done_data = data;
    /* Loops and their wake-up handles are made here, before any thread
     * runs, so that a stop right after start always finds them. */
    for (unsigned i = 0; i < srv->nworkers; i++) {
        lusty__http_worker_t *w = &srv->workers[i];
        uv_loop_init(&w->loop);
        uv_async_init(&w->loop, &w->stop_async, on_stop_async);
        w->stop_async.data = w;
        uv_timer_init(&w->loop, &w->deadline);
        w->deadline.data = w;
    }
    atomic_store(&srv->running, srv->nworkers);
    for (unsigned i = 0; i < srv->nworkers; i++) {
        lusty__http_worker_t *w = &srv->workers[i];
        err = uv_thread_create(&w->thread, worker_main, w);
        if (err) {
            /* This worker never runs: run its loop empty here instead so
             * that the bookkeeping of the others stays the same. */
            lusty__http_worker_fail(w, err);
            w->stopping = true;
            close_fds(w);
            w->async_closed = true;
            uv_close((uv_handle_t *)&w->stop_async, NULL);
            uv_close((uv_handle_t *)&w->deadline, NULL);
            uv_run(&w->loop, UV_RUN_DEFAULT);
            uv_loop_close(&w->loop);
            if (atomic_fetch_sub(&srv->running, 1) == 1)
                uv_async_send(&srv->done_async);
            continue;
        }
        pthread_mutex_lock(&srv->lock);
        w->thread_started = true;
        pthread_mutex_unlock(&srv->lock);
    }
    return 0;
}

void lusty_http_server_stop(lusty_http_server_t *srv)
{
    if (!srv->started)
        return;
    pthread_mutex_lock(&srv->lock);
    for (unsigned i = 0; i < srv->nworkers; i++)
        if (srv->workers[i].thread_started && !srv->workers[i].async_closed)
            uv_async_send(&srv->workers[i].stop_async);
    /* A successor has its own duplicates by now; the workers keep theirs
     * until they have closed their listeners. */
    for (unsigned i = 0; i < srv->nsocks; i++)
        close(srv->socks[i]);
    srv->nsocks = 0;
    pthread_mutex_unlock(&srv->lock);
}

void lusty_http_server_free(lusty_http_server_t *srv)
{
    if (!srv)
        return;
    for (unsigned i = 0; i < srv->nworkers; i++) {
        lusty__http_worker_t *w = &srv->workers[i];
        if (w->thread_started)
            uv_thread_join(&w->thread);
        close_fds(w);
        lusty_free(w->fds);
        lusty_free(w->listeners);
    }
    for (unsigned i = 0; i < srv->nsocks; i++)
        close(srv->socks[i]);
    lusty_free(srv->socks);
    pthread_mutex_destroy(&srv->lock);
    lusty_free(srv->workers);
    lusty_free(srv->host);
    lusty_free(srv->server_name);
    lusty_free(srv);
}
