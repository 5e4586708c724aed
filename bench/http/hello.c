/* A bench-only server: the runtime's HTTP server with a minimal C handler
 * answering "hello", to compare the HTTP core itself with nginx's
 * `return 200 'hello'`. Not installed, not a test.
 *
 *   hello PORT WORKERS    (PORT 0 picks one; the port is printed) */
#include "lusty/http.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static lusty_http_server_t *srv;
static uv_signal_t sigterm, sigint;

static void handle(void *data, const lusty_http_request_t *req, lusty_http_response_t *res)
{
    (void)data;
    (void)req;
    lusty_http_response_add_header(res, "Content-Type", "text/plain");
    lusty_http_response_end(res, "hello", 5);
}

static void on_signal(uv_signal_t *h, int signum)
{
    (void)h;
    (void)signum;
    lusty_http_server_stop(srv);
}

static void on_done(lusty_http_server_t *s, int status, void *data)
{
    (void)s;
    (void)data;
    (void)status;
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_close((uv_handle_t *)&sigint, NULL);
}

int main(int argc, char **argv)
{
    lusty_http_config_t cfg = {
        .port = argc > 1 ? atoi(argv[1]) : 0,
        .workers = argc > 2 ? (unsigned)atoi(argv[2]) : 1,
        .handler = handle,
    };
    signal(SIGPIPE, SIG_IGN);
    int err = lusty_http_server_new(&srv, &cfg);
    if (err) {
        fprintf(stderr, "hello: cannot listen: %s\n", uv_strerror(err));
        return 1;
    }
    printf("%d\n", lusty_http_server_port(srv));
    fflush(stdout);
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_signal_init(&loop, &sigterm);
    uv_signal_init(&loop, &sigint);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_start(&sigint, on_signal, SIGINT);
    lusty_http_server_start(srv, &loop, on_done, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    lusty_http_server_free(srv);
    return uv_loop_close(&loop) == 0 ? 0 : 1;
}
