/* Unit tests of the option parser and suggestions shared by all commands. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "opt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { O_NAME = 1, O_PORT, O_FORCE, O_QUIET };

static const cli_opt_t opts[] = {
    {"name", 'n', "NAME", "name", O_NAME},
    {"port", 'p', "PORT", "port", O_PORT},
    {"force", 'f', NULL, "force", O_FORCE},
    {"quiet", 'q', NULL, "quiet", O_QUIET},
    {NULL, 0, NULL, NULL, 0},
};

static const cli_cmd_info_t info = {"demo", "A demo", "[options] [DIR]", NULL, opts};

/* Parses argv and records "id=value" per option, and the positionals. */
static int parse(int argc, char **argv, char *log, size_t size)
{
    cli_opt_parser_t p;
    cli_opt_init(&p, &info, argc, argv);
    log[0] = '\0';
    int id;
    while ((id = cli_opt_next(&p)) >= 0) {
        char item[64];
        snprintf(item, sizeof(item), "%d=%s;", id, p.value ? p.value : "");
        strncat(log, item, size - strlen(log) - 1);
    }
    for (int i = 0; i < p.nargs; i++) {
        strncat(log, "arg:", size - strlen(log) - 1);
        strncat(log, p.args[i], size - strlen(log) - 1);
        strncat(log, ";", size - strlen(log) - 1);
    }
    cli_opt_free(&p);
    return id;
}

static void test_forms(void **state)
{
    (void)state;
    static const struct {
        const char *args[8];
        int argc;
        const char *expected;
        int end;
    } cases[] = {
        {{"demo", "--name", "x", "dir"}, 4, "1=x;arg:dir;", CLI_OPT_END},
        {{"demo", "--name=x=y"}, 2, "1=x=y;", CLI_OPT_END},
        {{"demo", "-p8080", "-fq"}, 3, "2=8080;3=;4=;", CLI_OPT_END},
        {{"demo", "-fp", "80"}, 3, "3=;2=80;", CLI_OPT_END},
        {{"demo", "--", "--force", "-"}, 4, "arg:--force;arg:-;", CLI_OPT_END},
        {{"demo", "a", "--force", "b"}, 4, "3=;arg:a;arg:b;", CLI_OPT_END},
        {{"demo", "--port"}, 2, "", CLI_OPT_ERROR},
        {{"demo", "--force=1"}, 2, "", CLI_OPT_ERROR},
        {{"demo", "--nope"}, 2, "", CLI_OPT_ERROR},
        {{"demo", "-x"}, 2, "", CLI_OPT_ERROR},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char log[256];
        int end = parse(cases[i].argc, (char **)cases[i].args, log, sizeof(log));
        assert_int_equal(end, cases[i].end);
        assert_string_equal(log, cases[i].expected);
    }
}

static void test_suggest(void **state)
{
    (void)state;
    const char *names[] = {"init", "server", "bootstrap", "doctor", NULL};
    assert_string_equal(cli_suggest("inti", names), "init");
    assert_string_equal(cli_suggest("sever", names), "server");
    assert_string_equal(cli_suggest("boot", names), "bootstrap");
    assert_string_equal(cli_suggest("docter", names), "doctor");
    assert_null(cli_suggest("xyz", names));
    assert_null(cli_suggest("frobnicate", names));
}

static void test_parse_int(void **state)
{
    (void)state;
    long v = 0;
    assert_true(cli_parse_int("8080", 1, 65535, &v));
    assert_int_equal(v, 8080);
    assert_false(cli_parse_int("0", 1, 65535, &v));
    assert_false(cli_parse_int("65536", 1, 65535, &v));
    assert_false(cli_parse_int("80x", 1, 65535, &v));
    assert_false(cli_parse_int("", 1, 65535, &v));
    assert_false(cli_parse_int(" 80", 1, 65535, &v));
    assert_false(cli_parse_int("+80", 1, 65535, &v));
    assert_false(cli_parse_int("99999999999999999999", 1, 65535, &v));
}

static void test_parse_seconds(void **state)
{
    (void)state;
    int ms = 0;
    assert_true(cli_parse_seconds("2", 600, &ms));
    assert_int_equal(ms, 2000);
    assert_true(cli_parse_seconds("0.25", 600, &ms));
    assert_int_equal(ms, 250);
    assert_true(cli_parse_seconds("600", 600, &ms));
    assert_false(cli_parse_seconds("0", 600, &ms));
    assert_false(cli_parse_seconds("-1", 600, &ms));
    assert_false(cli_parse_seconds("601", 600, &ms));
    assert_false(cli_parse_seconds("2s", 600, &ms));
    assert_false(cli_parse_seconds("", 600, &ms));
    assert_false(cli_parse_seconds("nan", 600, &ms));
}

static void test_help_lists_every_option(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    cli_opt_print_help(&info, out);
    fclose(out);
    assert_non_null(strstr(text, "usage: lusty demo [options] [DIR]"));
    assert_non_null(strstr(text, "-n, --name NAME"));
    assert_non_null(strstr(text, "-f, --force"));
    assert_non_null(strstr(text, "-h, --help"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_parse_int),
        cmocka_unit_test(test_parse_seconds),
        cmocka_unit_test(test_help_lists_every_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
