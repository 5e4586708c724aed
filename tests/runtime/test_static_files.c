/* Tests of the static path resolver and MIME table: {input, expected}
 * rows, no file system. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lusty/error.h"
#include "lusty/static_files.h"

#include <string.h>

typedef struct {
    const char *prefix;
    const char *path;
    int err;
    const char *out;
} resolve_case_t;

static const resolve_case_t cases[] = {
    {"/static/", "/static/app.css", 0, "app.css"},
    {"/static/", "/static/css/app.css", 0, "css/app.css"},
    {"/static/", "/static/", 0, "index.html"},
    {"/static/", "/static/docs/", 0, "docs/index.html"},
    {"/static/", "/static//css///app.css", 0, "css/app.css"},
    {"/static/", "/static/hell%6f.txt", 0, "hello.txt"},
    {"/static/", "/static/a%20b.txt", 0, "a b.txt"},
    {"/static/", "/static/a..b", 0, "a..b"},
    {"/static/", "/static/x.", 0, "x."},
    {"/", "/index.html", 0, "index.html"},
    {"/", "/", 0, "index.html"},

    {"/static/", "/other/app.css", LUSTY_ENOENT, ""},
    {"/static/", "/static", LUSTY_ENOENT, ""},
    {"/static/", "/staticx/app.css", LUSTY_ENOENT, ""},

    {"/static/", "/static/../lusty.json", LUSTY_EINVAL, ""},
    {"/static/", "/static/css/../../lusty.json", LUSTY_EINVAL, ""},
    {"/static/", "/static/..", LUSTY_EINVAL, ""},
    {"/static/", "/static/.", LUSTY_EINVAL, ""},
    {"/static/", "/static/./app.css", LUSTY_EINVAL, ""},
    {"/static/", "/static/%2e%2e/lusty.json", LUSTY_EINVAL, ""},
    {"/static/", "/static/%2E%2e/lusty.json", LUSTY_EINVAL, ""},
    {"/static/", "/static/.%2e/lusty.json", LUSTY_EINVAL, ""},
    {"/static/", "/static/..%2flusty.json", LUSTY_EINVAL, ""},
    {"/static/", "/static/a%2fb", LUSTY_EINVAL, ""},
    {"/static/", "/static/a%2Fb", LUSTY_EINVAL, ""},
    {"/static/", "/static/a%5cb", LUSTY_EINVAL, ""},
    {"/static/", "/static/a\\b", LUSTY_EINVAL, ""},
    {"/static/", "/static/a%00b", LUSTY_EINVAL, ""},
    {"/static/", "/static/.env", LUSTY_EINVAL, ""},
    {"/static/", "/static/css/.hidden/x.css", LUSTY_EINVAL, ""},
    {"/static/", "/static/%2eenv", LUSTY_EINVAL, ""},
    {"/static/", "/static/%", LUSTY_EINVAL, ""},
    {"/static/", "/static/%4", LUSTY_EINVAL, ""},
    {"/static/", "/static/%zz", LUSTY_EINVAL, ""},
    {"/static/", "/static/a%4/b", LUSTY_EINVAL, ""},
};

static void test_resolve_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const resolve_case_t *c = &cases[i];
        char out[256];
        int err = lusty_static_resolve(c->prefix, c->path, out, sizeof(out));
        if (err != c->err)
            fail_msg("%s: got %s, wanted %s", c->path, lusty_err_name(err), lusty_err_name(c->err));
        if (!err)
            assert_string_equal(out, c->out);
    }
}

static void test_resolve_respects_the_output_size(void **state)
{
    (void)state;
    char out[8];
    assert_int_equal(lusty_static_resolve("/s/", "/s/abcdefgh", out, sizeof(out)), LUSTY_ETOOBIG);
    assert_int_equal(lusty_static_resolve("/s/", "/s/abcdefg", out, sizeof(out)), 0);
    assert_string_equal(out, "abcdefg");
    assert_int_equal(lusty_static_resolve("/s/", "/s/ab/", out, sizeof(out)), LUSTY_ETOOBIG);
    assert_int_equal(lusty_static_resolve("/s/", "/s/", out, 0), LUSTY_ETOOBIG);
}

static void test_mime_types(void **state)
{
    (void)state;
    static const struct {
        const char *path, *type;
    } rows[] = {
        {"a.html", "text/html; charset=utf-8"},
        {"css/app.CSS", "text/css; charset=utf-8"},
        {"app.js", "text/javascript; charset=utf-8"},
        {"data.json", "application/json"},
        {"logo.svg", "image/svg+xml"},
        {"photo.jpeg", "image/jpeg"},
        {"font.woff2", "font/woff2"},
        {"noext", "application/octet-stream"},
        {"dir.d/noext", "application/octet-stream"},
        {"trailing.", "application/octet-stream"},
        {"x.unknownext", "application/octet-stream"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        assert_string_equal(lusty_static_mime_type(rows[i].path), rows[i].type);
}

static void test_add_checks_prefix_and_folder(void **state)
{
    (void)state;
    lusty_static_t *st = NULL;
    lusty_static_new(&st);
    assert_int_equal(lusty_static_add(st, "/a/../", "."), LUSTY_EINVAL);
    assert_int_equal(lusty_static_add(st, "/a%2f/", "."), LUSTY_EINVAL);
    assert_int_equal(lusty_static_add(st, "/x/", "/nonexistent/folder"), LUSTY_ENOENT);
    assert_int_equal(lusty_static_add(st, "assets", "."), 0);
    lusty_static_free(st);
    lusty_static_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolve_table),
        cmocka_unit_test(test_resolve_respects_the_output_size),
        cmocka_unit_test(test_mime_types),
        cmocka_unit_test(test_add_checks_prefix_and_folder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
