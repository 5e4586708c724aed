/* Tests of the app pipeline at the C level: raw request bytes in through
 * the HTTP core's fake client, the app worker (tests/fixtures/app-forms)
 * as the handler, response bytes out; no sockets. Requests that answer at
 * once, requests that sleep, a client that leaves while its request
 * sleeps, the time budget, and live reload's script and event stream.
 * Every test ends with the worker freed and uv_loop_close() returning 0. */
/* clang-format off: cmocka needs these first, in this order */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

#include "../../runtime/src/http/http_internal.h"
#include "lusty/alloc.h"
#include "lusty/app.h"

#include <string.h>
#include <unistd.h>

#ifndef LUSTY_FIXTURES
#define LUSTY_FIXTURES "tests/fixtures"
#endif

typedef struct {
    lusty_http_server_t srv;
    lusty__http_worker_t w;
    lusty__http_fake_t fake[2];
    lusty_app_t *app;
    lusty_app_worker_t *worker;
} fixture_t;

static void start_with(fixture_t *f, lusty_app_options_t o)
{
    memset(f, 0, sizeof *f);
    f->srv.cfg.handler = lusty_app_worker_handle;
    f->srv.cfg.server_name = "test";
    lusty_http_limits_fill(&f->srv.cfg.limits);
    f->w.srv = &f->srv;
    f->w.max_conns = 16;
    assert_int_equal(uv_loop_init(&f->w.loop), 0);
    o.root = LUSTY_FIXTURES "/app-forms";
    assert_int_equal(lusty_app_new(&f->app, &o), 0);
    assert_int_equal(lusty_app_worker_new(&f->worker, f->app, &f->w.loop), 0);
    f->w.handler_data = f->worker;
}

static void start(fixture_t *f, uint64_t budget_ms)
{
    start_with(f, (lusty_app_options_t){.budget_ms = budget_ms});
}

/* Development: live reload in the browser (no watcher is started). */
static void start_live(fixture_t *f)
{
    start_with(f, (lusty_app_options_t){.reload = true, .live = true});
}

/* Runs the loop until `cond` holds, for at most three seconds. */
static bool run_until(fixture_t *f, bool (*cond)(fixture_t *))
{
    uint64_t end = uv_hrtime() + 3000000000ull;
    while (!cond(f)) {
        if (uv_hrtime() > end)
            return false;
        if (uv_run(&f->w.loop, UV_RUN_NOWAIT) == 0 && !cond(f))
            usleep(1000);
    }
    return true;
}

static bool none_in_flight(fixture_t *f)
{
    return lusty_app_worker_in_flight(f->worker) == 0;
}

static bool conns_freed(fixture_t *f)
{
    return f->fake[0].conn == NULL && f->fake[1].conn == NULL;
}

static void stop(fixture_t *f)
{
    for (int i = 0; i < 2; i++)
        if (f->fake[i].conn)
            lusty__http_conn_close(f->fake[i].conn);
    assert_true(run_until(f, conns_freed));
    lusty_app_worker_free(f->worker);
    uv_run(&f->w.loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->w.loop), 0);
    lusty_app_free(f->app);
    lusty_buf_free(&f->w.out);
    lusty_free(f->w.spare_in);
    for (int i = 0; i < 2; i++) {
        lusty_buf_free(&f->fake[i].in);
        lusty_buf_free(&f->fake[i].out);
    }
}

static void send_str(lusty__http_fake_t *c, const char *s)
{
    lusty__http_fake_send(c, s, strlen(s));
}

/* The body of the response received on `c` (after the blank line). */
static const char *body(const lusty__http_fake_t *c)
{
    const char *out = c->out.data ? c->out.data : "";
    const char *b = strstr(out, "\r\n\r\n");
    return b ? b + 4 : "";
}

static bool both_answered(fixture_t *f)
{
    return f->fake[0].out.len && f->fake[1].out.len && none_in_flight(f);
}

static bool first_answered(fixture_t *f)
{
    return f->fake[0].out.len && none_in_flight(f);
}

static void test_request_answered(void **state)
{
    (void)state;
    fixture_t f;
    start(&f, 0);
    lusty__http_conn_open_fake(&f.w, &f.fake[0]);
    send_str(&f.fake[0], "GET /tags HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(run_until(&f, first_answered));
    assert_non_null(strstr(f.fake[0].out.data, "HTTP/1.1 200 OK\r\n"));
    assert_string_equal(body(&f.fake[0]), "{\"tags\":[\"first\",\"second\",\"hash\"]}\n");
    stop(&f);
}

static bool two_in_flight(fixture_t *f)
{
    return lusty_app_worker_in_flight(f->worker) == 2;
}

static void test_sleeping_requests_overlap(void **state)
{
    (void)state;
    fixture_t f;
    start(&f, 0);
    lusty__http_conn_open_fake(&f.w, &f.fake[0]);
    lusty__http_conn_open_fake(&f.w, &f.fake[1]);
    uint64_t t0 = uv_hrtime();
    send_str(&f.fake[0], "GET /nap?s=0.3 HTTP/1.1\r\nHost: t\r\n\r\n");
    send_str(&f.fake[1], "GET /nap?s=0.3 HTTP/1.1\r\nHost: t\r\n\r\n");
    /* Both are in flight at once. */
    assert_true(run_until(&f, two_in_flight));
    assert_true(run_until(&f, both_answered));
    uint64_t ms = (uv_hrtime() - t0) / 1000000;
    assert_string_equal(body(&f.fake[0]), "slept 0.3\n");
    assert_string_equal(body(&f.fake[1]), "slept 0.3\n");
    /* One after the other they would take 600 ms. */
    assert_true(ms < 550);
    stop(&f);
}

static bool one_in_flight(fixture_t *f)
{
    return lusty_app_worker_in_flight(f->worker) == 1;
}

static void test_client_leaves_while_sleeping(void **state)
{
    (void)state;
    fixture_t f;
    start(&f, 0);
    lusty__http_conn_open_fake(&f.w, &f.fake[0]);
    send_str(&f.fake[0], "GET /nap?s=5 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(run_until(&f, one_in_flight));
    /* The client goes: the request is cancelled at once, nothing written. */
    lusty__http_fake_end(&f.fake[0]);
    assert_true(run_until(&f, none_in_flight));
    assert_int_equal(f.fake[0].out.len, 0);
    stop(&f);
}

static void test_budget_stops_compiled_loop(void **state)
{
    (void)state;
    fixture_t f;
    start(&f, 200);
    lusty__http_conn_open_fake(&f.w, &f.fake[0]);
    send_str(&f.fake[0], "GET /spin HTTP/1.1\r\nHost: t\r\nAccept: application/json\r\n\r\n");
    assert_true(run_until(&f, first_answered));
    assert_non_null(strstr(f.fake[0].out.data, "HTTP/1.1 500 "));
    assert_non_null(
        strstr(body(&f.fake[0]), "spin.lua:5: request exceeded its Lua time budget of 200 ms"));
    stop(&f);
}

static bool second_answered(fixture_t *f)
{
    return f->fake[1].out.len && none_in_flight(f);
}

/* Response functions kept past their request do nothing, even while the
 * next request (which may reuse the first one's memory and coroutine) is
 * being answered. */
static void test_kept_response_functions_do_nothing(void **state)
{
    (void)state;
    fixture_t f;
    start(&f, 0);
    lusty__http_conn_open_fake(&f.w, &f.fake[0]);
    lusty__http_conn_open_fake(&f.w, &f.fake[1]);
    send_str(&f.fake[0], "GET /kept?keep=1 HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(run_until(&f, first_answered));
    assert_string_equal(body(&f.fake[0]), "kept\n");
    send_str(&f.fake[1], "GET /kept HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(run_until(&f, second_answered));
    assert_non_null(strstr(f.fake[1].out.data, "HTTP/1.1 200 OK\r\n"));
    assert_string_equal(body(&f.fake[1]), "fresh\n");
    stop(&f);
}

static const char *const html_get = "GET /nothing HTTP/1.1\r\nHost: t\r\n"
                                    "Accept: text/html,*/*;q=0.8\r\n\r\n";

/* The live-reload script goes into the runtime's HTML pages in
 * development only, before </body>; never into JSON. */
static void test_live_script_in_html_pages(void **state)
{
    (void)state;
    fixture_t f;
    start_live(&f);
    lusty__http_conn_open_fake(&f.w, &f.fake[0]);
    send_str(&f.fake[0], html_get);
    assert_true(run_until(&f, first_answered));
    assert_non_null(strstr(f.fake[0].out.data, "HTTP/1.1 404 "));
    const char *script = strstr(body(&f.fake[0]), "<script data-lusty-live>");
    assert_non_null(script);
    assert_non_null(strstr(script, "</script>\n</body></html>"));
    lusty__http_conn_open_fake(&f.w, &f.fake[1]);
    send_str(&f.fake[1], "GET /nothing HTTP/1.1\r\nHost: t\r\nAccept: application/json\r\n\r\n");
    assert_true(run_until(&f, second_answered));
    assert_null(strstr(f.fake[1].out.data, "lusty-live"));
    stop(&f);

    start(&f, 0);
    lusty__http_conn_open_fake(&f.w, &f.fake[0]);
    send_str(&f.fake[0], html_get);
    assert_true(run_until(&f, first_answered));
    assert_non_null(strstr(body(&f.fake[0]), "</body>"));
    assert_null(strstr(f.fake[0].out.data, "lusty-live"));
    stop(&f);
}

static bool both_streaming(fixture_t *f)
{
    return f->fake[0].out.data && strstr(f->fake[0].out.data, "retry: ") && f->fake[1].out.data &&
           strstr(f->fake[1].out.data, "retry: ");
}

static bool second_freed(fixture_t *f)
{
    return f->fake[1].conn == NULL;
}

static bool first_ended(fixture_t *f)
{
    size_t n = f->fake[0].out.len;
    return n >= 5 && memcmp(f->fake[0].out.data + n - 5, "0\r\n\r\n", 5) == 0;
}

/* The event stream: open until its client leaves or the server stops
 * (which must not wait for it); none opens once stopping. */
static void test_live_stream_ends_when_stopping(void **state)
{
    (void)state;
    fixture_t f;
    start_live(&f);
    lusty__http_conn_open_fake(&f.w, &f.fake[0]);
    lusty__http_conn_open_fake(&f.w, &f.fake[1]);
    send_str(&f.fake[0], "GET /__lusty/live HTTP/1.1\r\nHost: t\r\n\r\n");
    send_str(&f.fake[1], "GET /__lusty/live HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(run_until(&f, both_streaming));
    assert_non_null(strstr(f.fake[0].out.data, "Content-Type: text/event-stream\r\n"));
    /* No page said which change it is as of: it is told to reload. */
    assert_non_null(strstr(f.fake[0].out.data, "event: reload\n"));
    assert_int_equal(lusty_app_worker_in_flight(f.worker), 0); /* no task, no budget */
    lusty__http_fake_end(&f.fake[1]);
    assert_true(run_until(&f, second_freed));
    assert_false(first_ended(&f));
    lusty_app_worker_stopping(f.worker);
    assert_true(run_until(&f, first_ended));
    f.fake[0].out.len = 0;
    send_str(&f.fake[0], "GET /__lusty/live HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_true(run_until(&f, first_answered));
    assert_non_null(strstr(f.fake[0].out.data, "HTTP/1.1 503 "));
    stop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_answered),
        cmocka_unit_test(test_sleeping_requests_overlap),
        cmocka_unit_test(test_client_leaves_while_sleeping),
        cmocka_unit_test(test_budget_stops_compiled_loop),
        cmocka_unit_test(test_kept_response_functions_do_nothing),
        cmocka_unit_test(test_live_script_in_html_pages),
        cmocka_unit_test(test_live_stream_ends_when_stopping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
