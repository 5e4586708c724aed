/* The runtime's error codes: one family with libuv's, no collisions, each
 * code its own message and name. */
#include "lusty/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include <uv.h>

/* Every LUSTY_E* code, from the X-macro table. */
static const int codes[] = {
#define CODE(name, code, msg) LUSTY_##name,
    LUSTY_ERRNO_MAP(CODE)
#undef CODE
};

static void test_no_collision_with_libuv(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        /* libuv names every code it knows; ours are not among them. */
        assert_true(codes[i] < -4096 * 4);
        char uv[128];
        uv_strerror_r(codes[i], uv, sizeof uv);
        assert_non_null(strstr(uv, "Unknown"));
        assert_string_not_equal(lusty_strerror(codes[i]), uv);
    }
    /* Before, LUSTY_ENOENT was -4, which is also UV_EINTR. */
    assert_int_not_equal(LUSTY_ENOENT, UV_ENOENT);
    assert_int_not_equal(LUSTY_EINVAL, UV_EPERM);
}

static void test_messages_and_names(void **state)
{
    (void)state;
    assert_string_equal(lusty_strerror(LUSTY_ENOENT), "not found");
    assert_string_equal(lusty_err_name(LUSTY_ENOENT), "LUSTY_ENOENT");
    /* libuv codes pass through with libuv's own words. */
    assert_string_equal(lusty_strerror(UV_EADDRINUSE), uv_strerror(UV_EADDRINUSE));
    assert_string_equal(lusty_err_name(UV_EADDRINUSE), "EADDRINUSE");
    assert_string_equal(lusty_strerror(0), "success");
    assert_string_equal(lusty_strerror(-99999), "unknown error");
    /* Each code has a message of its own. */
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        for (size_t j = i + 1; j < sizeof codes / sizeof codes[0]; j++)
            assert_string_not_equal(lusty_strerror(codes[i]), lusty_strerror(codes[j]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_collision_with_libuv),
        cmocka_unit_test(test_messages_and_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
