/* Tests of the server (http_server.c, http_shed.c) over real sockets on
 * 127.0.0.1: running out of file descriptors, and the connection limits. */
/* clang-format off: cmocka needs these first, in this order */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

#include "lusty/http.h"
#include "lusty/log.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static atomic_int saw_fd_error;
static char last_warning[256];
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void log_sink(void *data, lusty_log_level_t level, const char *module, const char *msg)
{
    (void)data;
    (void)module;
    if (strstr(msg, "out of file descriptors") && strstr(msg, "EMFILE"))
        atomic_store(&saw_fd_error, 1);
    if (level >= LUSTY_LOG_WARN) {
        pthread_mutex_lock(&log_lock);
        snprintf(last_warning, sizeof last_warning, "%s", msg);
        pthread_mutex_unlock(&log_lock);
    }
}

static atomic_int held_now;

typedef struct {
    uv_timer_t timer;
    lusty_http_response_t *res;
} later_t;

static void later_closed(uv_handle_t *h)
{
    free(h->data);
}

static void answer_later(uv_timer_t *t)
{
    later_t *l = t->data;
    atomic_fetch_sub(&held_now, 1);
    lusty_http_response_end(l->res, "late", 4);
    uv_close((uv_handle_t *)t, later_closed);
}

/* "ok" at once, or after 500 ms for /hold. */
static void handler(void *data, const lusty_http_request_t *req, lusty_http_response_t *res)
{
    (void)data;
    if (strcmp(req->path, "/hold") != 0) {
        lusty_http_response_end(res, "ok", 2);
        return;
    }
    later_t *l = calloc(1, sizeof(*l));
    l->res = res;
    uv_timer_init(lusty_http_response_loop(res), &l->timer);
    l->timer.data = l;
    uv_timer_start(&l->timer, answer_later, 500, 0);
    atomic_fetch_add(&held_now, 1);
}

typedef struct {
    lusty_http_server_t *srv;
    uv_loop_t loop;
    pthread_t thread;
} running_t;

static void on_done(lusty_http_server_t *srv, int status, void *data)
{
    (void)srv;
    (void)status;
    (void)data;
}

static void *run_loop(void *arg)
{
    running_t *r = arg;
    uv_run(&r->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void start_with(running_t *r, const lusty_http_config_t *cfg)
{
    assert_int_equal(lusty_http_server_new(&r->srv, cfg), 0);
    assert_int_equal(uv_loop_init(&r->loop), 0);
    assert_int_equal(lusty_http_server_start(r->srv, &r->loop, on_done, NULL), 0);
    pthread_create(&r->thread, NULL, run_loop, r);
}

static void start(running_t *r, const lusty_http_limits_t *limits)
{
    lusty_http_config_t cfg = {.handler = handler};
    if (limits)
        cfg.limits = *limits;
    assert_int_equal(lusty_http_server_new(&r->srv, &cfg), 0);
    assert_int_equal(uv_loop_init(&r->loop), 0);
    assert_int_equal(lusty_http_server_start(r->srv, &r->loop, on_done, NULL), 0);
    pthread_create(&r->thread, NULL, run_loop, r);
}

static void stop(running_t *r)
{
    lusty_http_server_stop(r->srv);
    pthread_join(r->thread, NULL);
    lusty_http_server_free(r->srv);
    assert_int_equal(uv_loop_close(&r->loop), 0);
}

static int client_socket(void)
{
    return socket(AF_INET, SOCK_STREAM, 0);
}

/* Connects `fd` and sends one GET (closing the connection after, or
 * keeping it alive); true when answered 200 within 2 s. */
static bool get(int fd, int port, bool keep_alive)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return false;
    const char *req = keep_alive ? "GET / HTTP/1.1\r\nHost: t\r\n\r\n"
                                 : "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
        return false;
    char buf[256] = {0};
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    return n >= 12 && memcmp(buf, "HTTP/1.1 200", 12) == 0;
}

static bool get_ok(int fd, int port)
{
    return get(fd, port, false);
}

static void test_out_of_descriptors_is_reported_and_survived(void **state)
{
    (void)state;
    lusty_log_set_sink(log_sink, NULL);
    atomic_store(&saw_fd_error, 0);
    running_t r;
    start(&r, NULL);
    int port = lusty_http_server_port(r.srv);
    int a = client_socket(), b = client_socket();
    struct rlimit old;
    getrlimit(RLIMIT_NOFILE, &old);
    /* Take every descriptor the process may still open (the server's
     * thread shares them), so that its next accept fails. */
    struct rlimit low = old;
    low.rlim_cur = (rlim_t)b + 64;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    int fillers[128], nfill = 0;
    while (nfill < 128) {
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            break;
        fillers[nfill++] = fd;
    }
    assert_true(nfill < 128 && nfill > 4);
    /* Almost none left: the next connection gets one of the last ones,
     * and the server says what is going on. */
    for (int i = 0; i < 3; i++)
        close(fillers[--nfill]);
    assert_true(get_ok(a, port));
    assert_true(atomic_load(&saw_fd_error));
    /* Descriptors free again: the server accepts as before. */
    for (int i = 0; i < nfill; i++)
        close(fillers[i]);
    setrlimit(RLIMIT_NOFILE, &old);
    assert_true(get_ok(b, port));
    close(a);
    close(b);
    stop(&r);
    lusty_log_set_sink(NULL, NULL);
}

/* In a child, since a hard limit cannot be raised again: with a hard
 * limit of 200 open files, max_connections is lowered to fit, with a
 * warning, and the server still works. */
static void test_max_connections_fitted_to_the_descriptor_limit(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {200, 200};
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            _exit(10);
        lusty_log_set_sink(log_sink, NULL);
        running_t r;
        lusty_http_config_t cfg = {.handler = handler};
        if (lusty_http_server_new(&r.srv, &cfg) != 0)
            _exit(11);
        bool warned = strstr(last_warning, "max_connections lowered from 1024 to") != NULL;
        uv_loop_init(&r.loop);
        lusty_http_server_start(r.srv, &r.loop, on_done, NULL);
        pthread_create(&r.thread, NULL, run_loop, &r);
        bool ok = get_ok(client_socket(), lusty_http_server_port(r.srv));
        lusty_http_server_stop(r.srv);
        pthread_join(r.thread, NULL);
        lusty_http_server_free(r.srv);
        _exit(!warned ? 12 : !ok ? 13 : uv_loop_close(&r.loop) != 0 ? 14 : 0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* One address may hold max_connections_per_address connections; a new one
 * from it closes that address's longest-waiting connection instead of
 * being refused, and the limit counts no other address. */
static void test_connections_per_address(void **state)
{
    (void)state;
    running_t r;
    lusty_http_limits_t lim = {.max_connections = 64, .max_connections_per_address = 3};
    start(&r, &lim);
    int port = lusty_http_server_port(r.srv);
    int held[3];
    for (int i = 0; i < 3; i++) {
        held[i] = client_socket();
        assert_true(get(held[i], port, true));
    }
    int fd = client_socket();
    assert_true(get_ok(fd, port));
    close(fd);
    char c;
    assert_int_equal(recv(held[0], &c, 1, 0), 0); /* the oldest was closed */
    static const char req[] = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    send(held[2], req, sizeof req - 1, MSG_NOSIGNAL);
    char buf[64] = {0};
    assert_true(recv(held[2], buf, sizeof buf - 1, 0) >= 12);
    assert_memory_equal(buf, "HTTP/1.1 200", 12);
    for (int i = 0; i < 3; i++)
        close(held[i]);
    stop(&r);
}

/* When every connection is being answered, a new one gets a 503 it can
 * read (not a reset), and the busy ones are not disturbed. */
static void test_503_when_every_connection_is_busy(void **state)
{
    (void)state;
    running_t r;
    lusty_http_limits_t lim = {.max_connections = 2};
    start(&r, &lim);
    int port = lusty_http_server_port(r.srv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int busy[2];
    for (int i = 0; i < 2; i++) {
        busy[i] = client_socket();
        assert_int_equal(connect(busy[i], (struct sockaddr *)&a, sizeof a), 0);
        static const char req[] = "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n";
        send(busy[i], req, sizeof req - 1, MSG_NOSIGNAL);
    }
    for (int i = 0; i < 200 && atomic_load(&held_now) < 2; i++)
        usleep(5000);
    assert_int_equal(atomic_load(&held_now), 2);
    int fd = client_socket();
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    static const char req[] = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    send(fd, req, sizeof req - 1, MSG_NOSIGNAL);
    char buf[64] = {0};
    assert_true(recv(fd, buf, sizeof buf - 1, 0) >= 12);
    assert_memory_equal(buf, "HTTP/1.1 503", 12);
    close(fd);
    for (int i = 0; i < 2; i++) {
        setsockopt(busy[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        memset(buf, 0, sizeof buf);
        assert_true(recv(busy[i], buf, sizeof buf - 1, 0) >= 12);
        assert_memory_equal(buf, "HTTP/1.1 200", 12);
        close(busy[i]);
    }
    stop(&r);
}

/* A restart: the new server takes over the old one's sockets (the same
 * port, not bound again); with fewer workers than sockets, one worker
 * listens on several, so no socket of the group is left unserved once the
 * old server is gone; a server on another port binds its own. */
static void test_a_restart_shares_the_listening_sockets(void **state)
{
    (void)state;
    running_t a, b, c;
    lusty_http_config_t cfg = {.handler = handler, .workers = 3};
    start_with(&a, &cfg);
    int port = lusty_http_server_port(a.srv);
    for (int i = 0; i < 6; i++) {
        int fd = client_socket();
        assert_true(get_ok(fd, port));
        close(fd);
    }
    cfg.workers = 1;
    cfg.inherit = a.srv;
    start_with(&b, &cfg);
    assert_int_equal(lusty_http_server_port(b.srv), port);
    stop(&a);
    /* The kernel spreads new connections over the 3 sockets: each must
     * reach b's single worker. */
    for (int i = 0; i < 30; i++) {
        int fd = client_socket();
        assert_true(get_ok(fd, port));
        close(fd);
    }
    lusty_http_config_t other = {.handler = handler, .host = "127.0.0.2", .inherit = b.srv};
    start_with(&c, &other);
    assert_int_not_equal(lusty_http_server_port(c.srv), 0);
    stop(&c);
    stop(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_out_of_descriptors_is_reported_and_survived),
        cmocka_unit_test(test_max_connections_fitted_to_the_descriptor_limit),
        cmocka_unit_test(test_connections_per_address),
        cmocka_unit_test(test_503_when_every_connection_is_busy),
        cmocka_unit_test(test_a_restart_shares_the_listening_sockets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
