/* Tests of the connection and response code (http_conn.c, http_response.c):
 * raw bytes in through a fake client (the seam of http_internal.h), bytes
 * out, no sockets. Every test ends with every handle closed and
 * uv_loop_close() returning 0. */
/* clang-format off: cmocka needs these first, in this order */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

#include "../../runtime/src/http/http_internal.h"
#include "lusty/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What the handler of a test does with each request. */
typedef enum {
    ANSWER_NOW,   /* "hello" with Content-Length */
    ANSWER_LATER, /* keeps the response in `pending`; the test ends it */
    ANSWER_CHUNKS,
    ANSWER_ECHO, /* the body back */
    ANSWER_FILE,
} answer_t;

typedef struct {
    lusty_http_server_t srv;
    lusty__http_worker_t w;
    lusty__http_fake_t fake;
    answer_t answer;
    lusty_http_response_t *pending;
    int closed_calls;
    bool closed_seen;
    int file_fd;
    size_t file_len;
    int file_status;
    unsigned requests;
    char paths[8][32];
} fixture_t;

static void on_client_gone(void *data, lusty_http_response_t *res)
{
    fixture_t *f = data;
    f->closed_calls++;
    f->closed_seen = lusty_http_response_is_closed(res);
}

static void file_done(void *data, int status)
{
    ((fixture_t *)data)->file_status = status;
}

static void handler(void *data, const lusty_http_request_t *req, lusty_http_response_t *res)
{
    fixture_t *f = data;
    if (f->requests < 8)
        snprintf(f->paths[f->requests], sizeof f->paths[0], "%s", req->path);
    f->requests++;
    switch (f->answer) {
    case ANSWER_NOW:
        lusty_http_response_end(res, "hello", 5);
        break;
    case ANSWER_LATER:
        f->pending = res;
        lusty_http_response_on_close(res, on_client_gone, f);
        break;
    case ANSWER_CHUNKS:
        lusty_http_response_write(res, "hel", 3);
        lusty_http_response_write(res, "lo", 2);
        lusty_http_response_end(res, NULL, 0);
        break;
    case ANSWER_ECHO:
        lusty_http_response_end(res, req->body, req->body_len);
        break;
    case ANSWER_FILE:
        lusty_http_response_end_file(res, f->file_fd, 0, f->file_len, file_done, f);
        break;
    }
}

static int setup(void **state)
{
    fixture_t *f = lusty_calloc(1, sizeof(*f));
    f->srv.cfg.handler = handler;
    f->srv.cfg.server_name = "test";
    f->srv.cfg.limits.header_timeout_ms = 10000;
    f->srv.cfg.limits.body_bytes = 1024;
    lusty_http_limits_fill(&f->srv.cfg.limits);
    f->w.srv = &f->srv;
    f->w.max_conns = 16;
    f->w.handler_data = f;
    assert_int_equal(uv_loop_init(&f->w.loop), 0);
    f->file_fd = -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    lusty_buf_free(&f->w.out);
    lusty_free(f->w.spare_in);
    lusty_buf_free(&f->fake.in);
    lusty_buf_free(&f->fake.out);
    if (f->file_fd >= 0)
        close(f->file_fd);
    lusty_free(f);
    return 0;
}

/* Runs the loop until `cond(f)` holds, for at most two seconds. */
static bool run_until(fixture_t *f, bool (*cond)(fixture_t *))
{
    uint64_t end = uv_hrtime() + 2000000000ull;
    while (!cond(f)) {
        if (uv_hrtime() > end)
            return false;
        if (uv_run(&f->w.loop, UV_RUN_NOWAIT) == 0 && !cond(f))
            usleep(1000); /* only timers are left: let time pass */
    }
    return true;
}

static bool is_freed(fixture_t *f)
{
    return f->fake.conn == NULL;
}

static bool is_shut(fixture_t *f)
{
    return f->fake.shut || f->fake.closed;
}

static bool is_idle(fixture_t *f)
{
    /* All input read and nothing left to do: waiting for a next request. */
    return f->fake.conn && f->fake.in_pos == f->fake.in.len && lusty__http_conn_idle(f->fake.conn);
}

static bool has_pending(fixture_t *f)
{
    return f->pending != NULL;
}

/* Closes what is left and checks that the loop closes cleanly. */
static void finish(fixture_t *f)
{
    if (f->fake.conn)
        lusty__http_conn_close(f->fake.conn);
    assert_true(run_until(f, is_freed));
    assert_int_equal(uv_run(&f->w.loop, UV_RUN_NOWAIT), 0);
    assert_int_equal(uv_loop_close(&f->w.loop), 0);
    assert_int_equal(f->w.nconns, 0);
    assert_int_equal(f->w.nlive, 0);
}

static void send_str(fixture_t *f, const char *s)
{
    lusty__http_fake_send(&f->fake, s, strlen(s));
}

/* The output with the Date header's value blanked, for exact comparison. */
static char *output(fixture_t *f)
{
    char *s = lusty_strdup(f->fake.out.data ? f->fake.out.data : "");
    for (char *d = strstr(s, "Date: "); d; d = strstr(d + 1, "Date: ")) {
        char *eol = strstr(d, "\r\n");
        memmove(d + 6, eol, strlen(eol) + 1);
    }
    return s;
}

static void assert_output(fixture_t *f, const char *want)
{
    char *got = output(f);
    if (strcmp(got, want) != 0)
        fail_msg("output differs:\n--- got\n%s\n--- want\n%s", got, want);
    lusty_free(got);
}

#define H11 " HTTP/1.1\r\nHost: t\r\n"
#define OK_HEAD "HTTP/1.1 200 OK\r\nServer: test\r\nDate: \r\n"

static void test_get_answered_and_kept_alive(void **state)
{
    fixture_t *f = *state;
    lusty__http_conn_open_fake(&f->w, &f->fake);
    send_str(f, "GET /a" H11 "\r\n");
    assert_true(run_until(f, is_idle));
    assert_output(f, OK_HEAD "Content-Length: 5\r\n\r\nhello");
    assert_false(f->fake.shut);
    finish(f);
}

static void test_pipelined_requests_answer_in_order(void **state)
{
    fixture_t *f = *state;
    f->answer = ANSWER_LATER;
    lusty__http_conn_open_fake(&f->w, &f->fake);
    send_str(f, "GET /one" H11 "\r\nGET /two" H11 "\r\n");
    assert_true(run_until(f, has_pending));
    /* While the first is pending, the second is not handed over. */
    for (int i = 0; i < 5; i++)
        uv_run(&f->w.loop, UV_RUN_NOWAIT);
    assert_int_equal(f->requests, 1);
    lusty_http_response_t *first = f->pending;
    f->pending = NULL;
    lusty_http_response_end(first, "1", 1);
    assert_true(run_until(f, has_pending));
    assert_int_equal(f->requests, 2);
    assert_string_equal(f->paths[1], "/two");
    lusty_http_response_t *second = f->pending;
    f->pending = NULL;
    lusty_http_response_end(second, "2", 1);
    assert_true(run_until(f, is_idle));
    assert_output(f, OK_HEAD "Content-Length: 1\r\n\r\n1" OK_HEAD "Content-Length: 1\r\n\r\n2");
    finish(f);
}

/* A connection holds its read buffer only while it has input to parse:
 * not while its request waits, nor while it is idle, but pipelined bytes
 * read during a wait are kept until they are served. */
static void test_read_buffer_held_only_for_unparsed_input(void **state)
{
    fixture_t *f = *state;
    f->answer = ANSWER_LATER;
    lusty__http_conn_open_fake(&f->w, &f->fake);
    send_str(f, "GET /one" H11 "\r\n");
    assert_true(run_until(f, has_pending));
    assert_null(f->fake.conn->in);
    /* The next request arrives while the first waits: kept. */
    send_str(f, "GET /two" H11 "\r\n");
    for (int i = 0; i < 5; i++)
        uv_run(&f->w.loop, UV_RUN_NOWAIT);
    assert_non_null(f->fake.conn->in);
    assert_int_equal(f->requests, 1);
    lusty_http_response_t *first = f->pending;
    f->pending = NULL;
    lusty_http_response_end(first, "1", 1);
    assert_true(run_until(f, has_pending));
    assert_string_equal(f->paths[1], "/two");
    assert_null(f->fake.conn->in);
    f->answer = ANSWER_NOW;
    lusty_http_response_t *second = f->pending;
    f->pending = NULL;
    lusty_http_response_end(second, "2", 1);
    assert_true(run_until(f, is_idle));
    assert_null(f->fake.conn->in);
    assert_output(f, OK_HEAD "Content-Length: 1\r\n\r\n1" OK_HEAD "Content-Length: 1\r\n\r\n2");
    finish(f);
}

static void test_streamed_body_is_chunked(void **state)
{
    fixture_t *f = *state;
    f->answer = ANSWER_CHUNKS;
    lusty__http_conn_open_fake(&f->w, &f->fake);
    send_str(f, "GET /" H11 "\r\n");
    assert_true(run_until(f, is_idle));
    assert_output(f, OK_HEAD "Transfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n");
    finish(f);
}

static void test_head_gets_no_body(void **state)
{
    fixture_t *f = *state;
    lusty__http_conn_open_fake(&f->w, &f->fake);
    send_str(f, "HEAD /" H11 "\r\n");
    assert_true(run_until(f, is_idle));
    assert_output(f, OK_HEAD "Content-Length: 5\r\n\r\n");
    finish(f);
}

static void test_http10_closes_after_the_answer(void **state)
{
    fixture_t *f = *state;
    f->answer = ANSWER_CHUNKS;
    lusty__http_conn_open_fake(&f->w, &f->fake);
    send_str(f, "GET / HTTP/1.0\r\n\r\n");
    assert_true(run_until(f, is_shut));
    assert_output(f, OK_HEAD "Connection: close\r\n\r\nhello");
    lusty__http_fake_end(&f->fake);
    assert_true(run_until(f, is_freed));
    finish(f);
}

static void test_bad_request_is_answered_and_closed(void **state)
{
    fixture_t *f = *state;
    lusty__http_conn_open_fake(&f->w, &f->fake);
    send_str(f, "POST /" H11 "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\nGET /smuggled" H11
                "\r\n");
    assert_true(run_until(f, is_shut));
    assert_int_equal(f->requests, 0);
    assert_output(f, "HTTP/1.1 400 Bad Request\r\nServer: test\r\nDate: \r\n"
                     "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 16\r\n"
                     "Connection: close\r\n\r\n400 Bad Request\n");
    lusty__http_fake_end(&f->fake);
    finish(f);
}

static void test_body_and_expect_continue(void **state)
{
    fixture_t *f = *state;
    f->answer = ANSWER_ECHO;
    lusty__http_conn_open_fake(&f->w, &f->fake);
    send_str(f, "POST /" H11 "Content-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    assert_true(run_until(f, is_idle) || f->fake.out.len > 0);
    assert_true(f->fake.out.len > 0);
    assert_output(f, "HTTP/1.1 100 Continue\r\n\r\n");
    send_str(f, "abcd");
    assert_true(run_until(f, is_idle));
    assert_output(f, "HTTP/1.1 100 Continue\r\n\r\n" OK_HEAD "Content-Length: 4\r\n\r\nabcd");
    finish(f);
}

static bool got_output(fixture_t *f)
{
    return f->fake.out.len > 0;
}

static void test_head_timeout_answers_408(void **state)
{
    fixture_t *f = *state;
    f->srv.cfg.limits.header_timeout_ms = 30;
    lusty__http_conn_open_fake(&f->w, &f->fake);
    send_str(f, "GET / HTTP/1.1\r\nHost:");
    assert_true(run_until(f, got_output));
    assert_true(strncmp(f->fake.out.data, "HTTP/1.1 408 ", 13) == 0);
    finish(f);
}

static uint64_t opened_at;

static bool waited_120ms(fixture_t *f)
{
    (void)f;
    return uv_hrtime() - opened_at >= 120000000ull;
}

/* The first head is due within the header timeout of the connection's
 * start: a client that waits, then trickles, gains nothing. */
static void test_first_head_is_timed_from_the_start(void **state)
{
    fixture_t *f = *state;
    f->srv.cfg.limits.header_timeout_ms = 200;
    opened_at = uv_hrtime();
    lusty__http_conn_open_fake(&f->w, &f->fake);
    assert_true(run_until(f, waited_120ms));
    send_str(f, "GET / HTTP/1.1\r\nHost:");
    assert_true(run_until(f, got_output));
    uint64_t ms = (uv_hrtime() - opened_at) / 1000000;
    assert_true(strncmp(f->fake.out.data, "HTTP/1.1 408 ", 13) == 0);
    if (ms >= 310)
        fail_msg("408 after %llu ms; due 200 ms after the start", (unsigned long long)ms);
    finish(f);
}

static void test_client_leaving_a_pending_response_is_told(void **state)
{
    fixture_t *f = *state;
    f->answer = ANSWER_LATER;
    lusty__http_conn_open_fake(&f->w, &f->fake);
    send_str(f, "GET /slow" H11 "\r\n");
    assert_true(run_until(f, has_pending));
    assert_false(lusty_http_response_is_closed(f->pending));
    lusty__http_fake_end(&f->fake); /* the client goes away */
    uint64_t end = uv_hrtime() + 2000000000ull;
    while (f->closed_calls == 0 && uv_hrtime() < end)
        uv_run(&f->w.loop, UV_RUN_NOWAIT);
    assert_int_equal(f->closed_calls, 1);
    assert_true(f->closed_seen);
    /* Still the handler's to end: writes fail, nothing is sent. */
    assert_non_null(f->fake.conn);
    size_t before = f->fake.out.len;
    assert_int_equal(lusty_http_response_write(f->pending, "x", 1), UV_ECONNRESET);
    lusty_http_response_end(f->pending, "late", 4);
    assert_int_equal(f->fake.out.len, before);
    assert_true(run_until(f, is_freed));
    finish(f);
}

static void test_file_bodies(void **state)
{
    fixture_t *f = *state;
    f->answer = ANSWER_FILE;
    char path[] = "/tmp/lusty-test-http-conn-XXXXXX";
    f->file_fd = mkstemp(path);
    assert_true(f->file_fd >= 0);
    unlink(path);
    /* Over the size sent along with the head, so the pump runs. */
    f->file_len = 100 * 1024 + 3;
    char *data = lusty_malloc(f->file_len);
    for (size_t i = 0; i < f->file_len; i++)
        data[i] = (char)('a' + i % 26);
    assert_int_equal(write(f->file_fd, data, f->file_len), (ssize_t)f->file_len);
    f->file_status = 1;
    lusty__http_conn_open_fake(&f->w, &f->fake);
    send_str(f, "GET /f" H11 "\r\n");
    assert_true(run_until(f, is_idle));
    assert_int_equal(f->file_status, 0);
    const char *head = OK_HEAD "Content-Length: 102403\r\n\r\n";
    char *got = output(f);
    assert_int_equal(strlen(got), strlen(head) + f->file_len);
    assert_memory_equal(got, head, strlen(head));
    assert_memory_equal(got + strlen(head), data, f->file_len);
    lusty_free(got);
    lusty_free(data);
    finish(f);
}

/* Loop time passes (the shedding rule spares connections of the current
 * iteration). */
static void next_ms(fixture_t *f)
{
    uint64_t t = uv_now(&f->w.loop);
    while (uv_now(&f->w.loop) == t) {
        usleep(500);
        uv_update_time(&f->w.loop);
    }
}

static void test_shedding_picks_the_longest_waiting(void **state)
{
    fixture_t *f = *state;
    f->answer = ANSWER_LATER;
    lusty__http_fake_t more[3] = {0};
    uv_update_time(&f->w.loop);
    lusty__http_conn_open_fake(&f->w, &f->fake); /* oldest: will be busy */
    next_ms(f);
    lusty__http_conn_open_fake(&f->w, &more[0]); /* trickles a head */
    next_ms(f);
    lusty__http_conn_open_fake(&f->w, &more[1]); /* idle */
    send_str(f, "GET /busy" H11 "\r\n");
    lusty__http_fake_send(&more[0], "GET / HTTP/1.1\r\nHo", 18);
    assert_true(run_until(f, has_pending));
    assert_true(more[0].in_pos == more[0].in.len);
    next_ms(f);
    /* The busy one is never chosen; the trickler waited longest. */
    assert_ptr_equal(lusty__http_shed_victim(&f->w, NULL, NULL), more[0].conn);
    assert_true(lusty__http_conn_shed(&f->w, NULL, NULL, "test"));
    assert_true(more[0].closed);
    assert_ptr_equal(lusty__http_shed_victim(&f->w, NULL, NULL), more[1].conn);
    /* The newest goes last. */
    lusty__http_conn_open_fake(&f->w, &more[2]);
    assert_ptr_equal(lusty__http_shed_victim(&f->w, NULL, NULL), more[1].conn);
    lusty__http_conn_close(more[1].conn);
    assert_ptr_equal(lusty__http_shed_victim(&f->w, NULL, NULL), more[2].conn);
    lusty__http_conn_close(more[2].conn);
    assert_null(lusty__http_shed_victim(&f->w, NULL, NULL)); /* only the busy one is left */
    lusty_http_response_end(f->pending, NULL, 0);
    for (int i = 0; i < 3; i++)
        if (more[i].conn)
            lusty__http_conn_close(more[i].conn);
    finish(f);
    for (int i = 0; i < 3; i++) {
        assert_null(more[i].conn);
        lusty_buf_free(&more[i].in);
        lusty_buf_free(&more[i].out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_answered_and_kept_alive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_requests_answer_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_buffer_held_only_for_unparsed_input, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_streamed_body_is_chunked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_gets_no_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http10_closes_after_the_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_request_is_answered_and_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_and_expect_continue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_timeout_answers_408, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_head_is_timed_from_the_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_leaving_a_pending_response_is_told, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_file_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shedding_picks_the_longest_waiting, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
