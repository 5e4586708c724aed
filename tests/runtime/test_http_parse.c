/* Tests of the request parser (http_parse.c): raw bytes in, requests or
 * error statuses out, no sockets. Every valid case is also fed one byte
 * at a time, since requests arrive split across reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../runtime/src/http/http_internal.h"
#include "lusty/alloc.h"

#include <string.h>

typedef struct {
    const char *name;
    const char *input;
    int status; /* 0: a request is expected */
    const char *method, *target, *path, *query, *body;
    const char *header, *header_value; /* one header to look up */
    bool keep_alive;
} parse_case_t;

#define H11 " HTTP/1.1\r\nHost: example.com\r\n"

static const parse_case_t cases[] = {
    {"simple GET", "GET /" H11 "\r\n", 0, "GET", "/", "/", "", NULL, "host", "example.com", true},
    {"query", "GET /a/b?x=1&y=%20" H11 "\r\n", 0, "GET", "/a/b?x=1&y=%20", "/a/b", "x=1&y=%20", NULL,
     NULL, NULL, true},
    {"header names lower-cased, values trimmed",
     "GET /" H11 "X-Thing:   spaced value  \r\n\r\n", 0, "GET", "/", "/", "", NULL, "x-thing",
     "spaced value", true},
    {"Content-Length body", "POST /p" H11 "Content-Length: 5\r\n\r\nhello", 0, "POST", "/p", "/p", "",
     "hello", NULL, NULL, true},
    {"chunked body", "POST /p" H11 "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
     0, "POST", "/p", "/p", "", "abcde", NULL, NULL, true},
    {"chunked with trailer and extension",
     "POST /p" H11 "Transfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-T: 1\r\n\r\n", 0, "POST",
     "/p", "/p", "", "abc", "x-t", NULL, true},
    {"Connection: close", "GET /" H11 "Connection: close\r\n\r\n", 0, "GET", "/", "/", "", NULL, NULL,
     NULL, false},
    {"HTTP/1.0 closes by default", "GET / HTTP/1.0\r\n\r\n", 0, "GET", "/", "/", "", NULL, NULL, NULL,
     false},
    {"HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0, "GET", "/", "/", "",
     NULL, NULL, NULL, true},
    {"absolute form", "GET http://example.com/x?q" H11 "\r\n", 0, "GET", "http://example.com/x?q", "/x",
     "q", NULL, NULL, NULL, true},
    {"absolute form without path", "GET http://example.com" H11 "\r\n", 0, "GET", "http://example.com",
     "/", "", NULL, NULL, NULL, true},
    {"OPTIONS *", "OPTIONS *" H11 "\r\n", 0, "OPTIONS", "*", "*", "", NULL, NULL, NULL, true},
    {"HEAD", "HEAD /x" H11 "\r\n", 0, "HEAD", "/x", "/x", "", NULL, NULL, NULL, true},
    {"HTTP/1.2 is HTTP/1", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", 0, "GET", "/", "/", "", NULL, NULL,
     NULL, true},
    {"Transfer-Encoding is case-insensitive",
     "POST /p" H11 "Transfer-Encoding: Chunked\r\n\r\n1\r\na\r\n0\r\n\r\n", 0, "POST", "/p", "/p", "",
     "a", NULL, NULL, true},
    {"a space inside a value is no fold", "GET /" H11 "X-A: a b\r\n\r\n", 0, "GET", "/", "/", "", NULL,
     "x-a", "a b", true},
    {"leading blank lines are skipped", "\r\nGET /" H11 "\r\n", 0, "GET", "/", "/", "", NULL, NULL, NULL,
     true},

    {"garbage", "GARBAGE\r\n\r\n", 400},
    {"both Content-Length and Transfer-Encoding",
     "POST /" H11 "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
    {"bad chunk size", "POST /" H11 "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400},
    {"NUL in the target", "GET /a\0b" H11 "\r\n", 400},
    {"encoded NUL in the path", "GET /a%00b" H11 "\r\n", 400},
    {"HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n", 400},
    {"bad Content-Length", "POST /" H11 "Content-Length: 1x\r\n\r\n", 400},
    {"two Content-Lengths", "POST /" H11 "Content-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
    {"header without colon", "GET /" H11 "Oops\r\n\r\n", 400},
    {"target not a path", "GET index.html" H11 "\r\n", 400},
    /* Framing that a proxy and we could read differently (request
     * smuggling): answered as nginx 1.22 answers each of them. */
    {"unknown transfer coding", "POST /" H11 "Transfer-Encoding: gzip\r\n\r\n", 501},
    {"identity, chunked", "POST /" H11 "Transfer-Encoding: identity, chunked\r\n\r\n0\r\n\r\n", 501},
    {"gzip, chunked", "POST /" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
    {"two Transfer-Encoding headers",
     "POST /" H11 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
    {"Transfer-Encoding on HTTP/1.0",
     "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
    {"obs-fold into Transfer-Encoding",
     "POST /" H11 "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 400},
    {"obs-fold with a tab", "GET /" H11 "X-A: a\r\n\tb\r\n\r\n", 400},
    {"whitespace before the first header", "GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400},
    {"two Host headers", "GET /" H11 "Host: other.example\r\n\r\n", 400},
    {"HTTP/9.9", "GET / HTTP/9.9\r\nHost: x\r\n\r\n", 505},
    {"HTTP/2.0 in a text head", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
    {"HTTP/0.9 with a version", "GET / HTTP/0.9\r\n\r\n", 400},
    {"declared chunk over the limit, before its data",
     "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n200000\r\nabc", 413},
    {"space in header name", "GET /" H11 "Bad Name: x\r\n\r\n", 400},
    {"body over the limit (declared)", "POST /" H11 "Content-Length: 65\r\n\r\n", 413},
    {"body over the limit (chunked)",
     "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n41\r\n"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n0\r\n\r\n",
     413},
    {"target over the limit",
     "GET /xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" H11 "\r\n",
     414},
    {"head over the limit",
     "GET /" H11 "X-A: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
     "X-B: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n"
     "X-C: cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\r\n\r\n",
     431},
};

/* Small limits so that the over-limit cases stay readable. */
static const lusty_http_limits_t limits = {.header_bytes = 256, .url_bytes = 128, .body_bytes = 64};

static size_t input_len(const parse_case_t *c)
{
    /* The NUL case holds a NUL: measure up to the final CRLFCRLF. */
    size_t n = strlen(c->input);
    if (strcmp(c->name, "NUL in the target") == 0)
        n += 1 + strlen(c->input + n + 1);
    return n;
}

/* Feeds the input `step` bytes at a time; returns the last result. */
static lusty__http_parse_result_t feed(lusty__http_parser_t *p, const char *in, size_t len, size_t step,
                                       size_t *used_out)
{
    size_t off = 0;
    lusty__http_parse_result_t r = LUSTY__HTTP_MORE;
    while (off < len) {
        size_t n = len - off < step ? len - off : step, used = 0;
        r = lusty__http_parse(p, in + off, n, &used);
        off += used;
        if (r != LUSTY__HTTP_MORE)
            break;
        assert_int_equal(used, n);
    }
    *used_out = off;
    return r;
}

static void check_case(const parse_case_t *c, size_t step)
{
    lusty__http_parser_t *p = NULL;
    assert_int_equal(lusty__http_parser_new(&p, &limits), 0);
    size_t len = input_len(c), used = 0;
    lusty__http_parse_result_t r = feed(p, c->input, len, step, &used);
    if (c->status) {
        if (r != LUSTY__HTTP_ERROR)
            fail_msg("%s (step %zu): expected error %d, got result %d", c->name, step, c->status, r);
        assert_int_equal(lusty__http_parser_error_status(p), c->status);
    } else {
        if (r != LUSTY__HTTP_REQUEST)
            fail_msg("%s (step %zu): no request (status %d: %s)", c->name, step,
                     lusty__http_parser_error_status(p), lusty__http_parser_error_reason(p));
        assert_int_equal(used, len);
        const lusty_http_request_t *req = lusty__http_parser_request(p);
        assert_string_equal(req->method, c->method);
        assert_string_equal(req->target, c->target);
        assert_string_equal(req->path, c->path);
        assert_string_equal(req->query, c->query);
        if (c->body) {
            assert_non_null(req->body);
            assert_int_equal(req->body_len, strlen(c->body));
            assert_memory_equal(req->body, c->body, req->body_len);
        } else {
            assert_null(req->body);
        }
        if (c->header) {
            const char *v = lusty_http_request_header(req, c->header);
            if (c->header_value)
                assert_string_equal(v, c->header_value);
            else
                assert_null(v); /* trailers are not headers */
        }
        assert_int_equal(req->keep_alive, c->keep_alive);
    }
    lusty__http_parser_free(p);
}

static void test_table_whole(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_case(&cases[i], 1 << 20);
}

static void test_table_byte_by_byte(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        check_case(&cases[i], 1);
        check_case(&cases[i], 7);
    }
}

static void test_pipelined_requests_come_one_at_a_time(void **state)
{
    (void)state;
    const char *in = "GET /one" H11 "\r\nPOST /two" H11 "Content-Length: 3\r\n\r\nabcGET /three" H11 "\r\n";
    size_t len = strlen(in), off = 0, used = 0;
    const char *want[] = {"/one", "/two", "/three"};
    lusty__http_parser_t *p = NULL;
    lusty__http_parser_new(&p, NULL);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(lusty__http_parse(p, in + off, len - off, &used), LUSTY__HTTP_REQUEST);
        off += used;
        assert_string_equal(lusty__http_parser_request(p)->path, want[i]);
        lusty__http_parser_next(p);
        assert_false(lusty__http_parser_started(p));
    }
    assert_int_equal(off, len);
    lusty__http_parser_free(p);
}

static void test_expect_continue(void **state)
{
    (void)state;
    const char *head = "POST /up" H11 "Content-Length: 4\r\nExpect: 100-continue\r\n\r\n";
    lusty__http_parser_t *p = NULL;
    lusty__http_parser_new(&p, NULL);
    size_t used = 0;
    assert_int_equal(lusty__http_parse(p, head, strlen(head), &used), LUSTY__HTTP_MORE);
    assert_true(lusty__http_parser_head_done(p));
    assert_true(lusty__http_parser_take_continue(p));
    assert_false(lusty__http_parser_take_continue(p)); /* only once */
    assert_int_equal(lusty__http_parse(p, "data", 4, &used), LUSTY__HTTP_REQUEST);
    assert_int_equal(lusty__http_parser_request(p)->body_len, 4);
    lusty__http_parser_free(p);

    /* When the body came along anyway, no interim response is due. */
    char *all = lusty_asprintf("%sdata", head);
    lusty__http_parser_new(&p, NULL);
    assert_int_equal(lusty__http_parse(p, all, strlen(all), &used), LUSTY__HTTP_REQUEST);
    assert_false(lusty__http_parser_take_continue(p));
    lusty__http_parser_free(p);
    lusty_free(all);
}

static void test_after_an_error_the_parser_stays_dead(void **state)
{
    (void)state;
    lusty__http_parser_t *p = NULL;
    lusty__http_parser_new(&p, NULL);
    size_t used = 0;
    assert_int_equal(lusty__http_parse(p, "BAD\r\n\r\n", 7, &used), LUSTY__HTTP_ERROR);
    const char *ok = "GET /" H11 "\r\n";
    assert_int_equal(lusty__http_parse(p, ok, strlen(ok), &used), LUSTY__HTTP_ERROR);
    assert_int_equal(used, 0);
    lusty__http_parser_free(p);
}

/* Parsers of one worker share a budget for the bodies they hold: past it,
 * a body is refused (503) before it is read, and every byte comes back
 * when a request is done or its parser freed. */
static void test_body_memory_budget(void **state)
{
    (void)state;
    size_t used = 0, n = 0;
    lusty__http_parser_t *a = NULL, *b = NULL, *c = NULL;
    lusty__http_parser_new(&a, &limits);
    lusty__http_parser_new(&b, &limits);
    lusty__http_parser_new(&c, &limits);
    lusty__http_parser_set_budget(a, &used, 100);
    lusty__http_parser_set_budget(b, &used, 100);
    lusty__http_parser_set_budget(c, &used, 100);
    const char *head60 = "POST /" H11 "Content-Length: 60\r\n\r\n";
    assert_int_equal(lusty__http_parse(a, head60, strlen(head60), &n), LUSTY__HTTP_MORE);
    assert_int_equal(used, 60);
    assert_int_equal(lusty__http_parse(b, head60, strlen(head60), &n), LUSTY__HTTP_ERROR);
    assert_int_equal(lusty__http_parser_error_status(b), 503);
    /* A chunked body is charged as it grows. */
    const char *chunked = "POST /" H11 "Transfer-Encoding: chunked\r\n\r\n30\r\n";
    assert_int_equal(lusty__http_parse(c, chunked, strlen(chunked), &n), LUSTY__HTTP_ERROR);
    assert_int_equal(lusty__http_parser_error_status(c), 503);
    lusty__http_parser_free(c);
    char body[60];
    memset(body, 'x', sizeof body);
    assert_int_equal(lusty__http_parse(a, body, sizeof body, &n), LUSTY__HTTP_REQUEST);
    assert_int_equal(lusty__http_parser_request(a)->body_len, 60);
    lusty__http_parser_next(a);
    assert_int_equal(used, 0);
    lusty__http_parser_new(&c, &limits);
    lusty__http_parser_set_budget(c, &used, 100);
    assert_int_equal(lusty__http_parse(c, chunked, strlen(chunked), &n), LUSTY__HTTP_MORE);
    assert_true(used > 0 && used <= 64);
    lusty__http_parser_free(c);
    lusty__http_parser_free(b);
    lusty__http_parser_free(a);
    assert_int_equal(used, 0);
}

static void test_limits_defaults(void **state)
{
    (void)state;
    lusty_http_limits_t l = {.body_bytes = 5};
    lusty_http_limits_fill(&l);
    assert_int_equal(l.body_bytes, 5);
    assert_int_equal(l.header_bytes, 16 * 1024);
    assert_int_equal(l.url_bytes, 8 * 1024);
    assert_int_equal(l.idle_timeout_ms, LUSTY_HTTP_DEFAULT_IDLE_TIMEOUT_MS);
    assert_string_equal(lusty_http_status_reason(431), "Request Header Fields Too Large");
    assert_string_equal(lusty_http_status_reason(299), "Unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_whole),
        cmocka_unit_test(test_table_byte_by_byte),
        cmocka_unit_test(test_pipelined_requests_come_one_at_a_time),
        cmocka_unit_test(test_expect_continue),
        cmocka_unit_test(test_after_an_error_the_parser_stays_dead),
        cmocka_unit_test(test_body_memory_budget),
        cmocka_unit_test(test_limits_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
