/* Tests of the growable buffer and the error table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lusty/alloc.h"
#include "lusty/buf.h"
#include "lusty/error.h"

#include <string.h>

static void test_append_and_detach(void **state)
{
    (void)state;
    lusty_buf_t buf = LUSTY_BUF_INIT;
    lusty_buf_puts(&buf, "hello");
    lusty_buf_putc(&buf, ' ');
    lusty_buf_printf(&buf, "%s %d", "world", 42);
    assert_string_equal(buf.data, "hello world 42");
    assert_int_equal(buf.len, 14);
    size_t len = 0;
    char *s = lusty_buf_detach(&buf, &len);
    assert_int_equal(len, 14);
    assert_string_equal(s, "hello world 42");
    assert_null(buf.data);
    lusty_free(s);
}

static void test_detach_empty_gives_empty_string(void **state)
{
    (void)state;
    lusty_buf_t buf = LUSTY_BUF_INIT;
    char *s = lusty_buf_detach(&buf, NULL);
    assert_string_equal(s, "");
    lusty_free(s);
}

static void test_growth_keeps_bytes(void **state)
{
    (void)state;
    lusty_buf_t buf = LUSTY_BUF_INIT;
    for (int i = 0; i < 10000; i++)
        lusty_buf_putc(&buf, (char)('a' + i % 26));
    assert_int_equal(buf.len, 10000);
    assert_int_equal(buf.data[10000], '\0');
    assert_int_equal(buf.data[9999], 'a' + 9999 % 26);
    lusty_buf_clear(&buf);
    assert_int_equal(buf.len, 0);
    assert_string_equal(buf.data, "");
    lusty_buf_free(&buf);
    lusty_buf_free(NULL);
}

static void test_binary_data(void **state)
{
    (void)state;
    lusty_buf_t buf = LUSTY_BUF_INIT;
    lusty_buf_append(&buf, "a\0b", 3);
    assert_int_equal(buf.len, 3);
    assert_memory_equal(buf.data, "a\0b", 3);
    lusty_buf_free(&buf);
}

static void test_error_table(void **state)
{
    (void)state;
    assert_string_equal(lusty_strerror(LUSTY_ENOENT), "not found");
    assert_string_equal(lusty_err_name(LUSTY_ESYNTAX), "LUSTY_ESYNTAX");
    assert_string_equal(lusty_strerror(0), "success");
    assert_string_equal(lusty_strerror(-9999), "unknown error");
}

static void test_asprintf(void **state)
{
    (void)state;
    char *s = lusty_asprintf("%s-%03d", "x", 7);
    assert_string_equal(s, "x-007");
    lusty_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_and_detach),
        cmocka_unit_test(test_detach_empty_gives_empty_string),
        cmocka_unit_test(test_growth_keeps_bytes),
        cmocka_unit_test(test_binary_data),
        cmocka_unit_test(test_error_table),
        cmocka_unit_test(test_asprintf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
