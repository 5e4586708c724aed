/* Tests of the Mustache compiler and renderer.
 *
 * First the official spec files: every *.json file of the spec folder is run
 * and reported in a table, and one test per required file asserts that all of
 * its cases pass. The folder comes from $LUSTY_MUSTACHE_SPEC, else from the
 * LUSTY_MUSTACHE_SPEC_DEFAULT define; when it is missing those tests fail,
 * so a build without the spec can never report the spec as passing. Then unit tests of what the spec leaves out: error messages, the
 * lambda hook, the cJSON partials provider, number formatting. */
/* cmocka.h needs these three first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "lusty/alloc.h"
#include "lusty/buf.h"
#include "lusty/error.h"
#include "lusty/mustache.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef LUSTY_MUSTACHE_SPEC_DEFAULT
#define LUSTY_MUSTACHE_SPEC_DEFAULT "conformance/mustache"
#endif

/* ---- The spec files ---------------------------------------------------- */

typedef struct {
    char *file;
    int passed;
    int total;
    int skipped;
    int unreadable;
} spec_result_t;

static const char *spec_dir;
static int spec_found;
static spec_result_t *results;
static size_t nresults;

/* Spec files that need a host language for their data (lambdas are code). */
static const char *const needs_lua_host[] = {"~lambdas.json"};

static int needs_lua(const char *file)
{
    for (size_t i = 0; i < sizeof(needs_lua_host) / sizeof(*needs_lua_host); i++) {
        if (strcmp(file, needs_lua_host[i]) == 0)
            return 1;
    }
    return 0;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    lusty_buf_t buf = LUSTY_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        lusty_buf_append(&buf, chunk, n);
    fclose(f);
    return lusty_buf_detach(&buf, NULL);
}

/* Prints `s` as a quoted string with control characters escaped, so that
 * whitespace differences show. */
static void print_quoted(const char *label, const char *s, size_t len)
{
    printf("    %-9s \"", label);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '\n':
            fputs("\\n", stdout);
            break;
        case '\r':
            fputs("\\r", stdout);
            break;
        case '\t':
            fputs("\\t", stdout);
            break;
        case '"':
            fputs("\\\"", stdout);
            break;
        case '\\':
            fputs("\\\\", stdout);
            break;
        default:
            if (c < 0x20)
                printf("\\x%02x", c);
            else
                putchar(c);
        }
    }
    puts("\"");
}

static const char *json_string(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Runs one spec case; returns 1 when it passes, else prints why. */
static int run_case(const char *file, const cJSON *test)
{
    const char *name = json_string(test, "name");
    const char *template = json_string(test, "template");
    const char *expected = json_string(test, "expected");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(test, "data");
    const cJSON *sources = cJSON_GetObjectItemCaseSensitive(test, "partials");
    lusty_mustache_cjson_partials_t *provider = lusty_mustache_cjson_partials_new(sources);
    lusty_mustache_partials_t partials = lusty_mustache_cjson_partials(provider);
    lusty_mustache_error_t err = {NULL, 0, 0};
    lusty_mustache_t *tpl = NULL;
    lusty_buf_t out = LUSTY_BUF_INIT;
    int ok = 0;

    if (!name || !template || !expected) {
        printf("FAIL %s: a test lacks name, template or expected\n", file);
        goto cleanup;
    }
    if (lusty_mustache_compile(&tpl, "template", template, strlen(template), &err) == 0)
        lusty_mustache_render(tpl, lusty_mustache_cjson_data(), data, &partials, &out, &err);
    ok = !err.message && out.len == strlen(expected) &&
         (out.len == 0 || memcmp(out.data, expected, out.len) == 0);
    if (!ok) {
        printf("FAIL %s: %s\n", file, name);
        print_quoted("template:", template, strlen(template));
        print_quoted("expected:", expected, strlen(expected));
        print_quoted("got:", out.data ? out.data : "", out.len);
        if (err.message)
            printf("    error:    %s\n", err.message);
    }

cleanup:
    lusty_buf_free(&out);
    lusty_mustache_error_free(&err);
    lusty_mustache_free(tpl);
    lusty_mustache_cjson_partials_free(provider);
    return ok;
}

static void run_file(spec_result_t *r)
{
    char *path = lusty_asprintf("%s/%s", spec_dir, r->file);
    char *text = read_file(path);
    cJSON *json = text ? cJSON_Parse(text) : NULL;
    const cJSON *tests = cJSON_GetObjectItemCaseSensitive(json, "tests");

    if (!cJSON_IsArray(tests)) {
        printf("FAIL %s: cannot read its tests\n", r->file);
        r->unreadable = 1;
        goto cleanup;
    }
    const cJSON *test;
    cJSON_ArrayForEach(test, tests)
    {
        r->total++;
        r->passed += run_case(r->file, test);
    }

cleanup:
    cJSON_Delete(json);
    lusty_free(text);
    lusty_free(path);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(((const spec_result_t *)a)->file, ((const spec_result_t *)b)->file);
}

/* Runs every *.json file of the spec folder and prints the report table. */
static void run_spec(void)
{
    DIR *dir = opendir(spec_dir);
    if (!dir) {
        printf("missing: spec files not found in %s (set LUSTY_MUSTACHE_SPEC)\n", spec_dir);
        return;
    }
    spec_found = 1;
    size_t cap = 0;
    const struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 5 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        results = lusty_grow(results, &cap, nresults + 1, sizeof(*results));
        memset(&results[nresults], 0, sizeof(*results));
        results[nresults++].file = lusty_strdup(e->d_name);
    }
    closedir(dir);
    if (nresults)
        qsort(results, nresults, sizeof(*results), compare_names);

    for (size_t i = 0; i < nresults; i++) {
        if (needs_lua(results[i].file))
            results[i].skipped = 1;
        else
            run_file(&results[i]);
    }
    printf("%-29s%s\n", "mustache spec", "passed/total");
    for (size_t i = 0; i < nresults; i++) {
        const spec_result_t *r = &results[i];
        if (r->skipped)
            printf("%-29s%s\n", r->file, "skipped (needs the Lua host)");
        else if (r->unreadable)
            printf("%-29s%s\n", r->file, "unreadable");
        else
            printf("%-29s%d/%d\n", r->file, r->passed, r->total);
    }
    fflush(stdout);
}

static void test_spec_file(void **state)
{
    const char *file = *state;
    if (!spec_found)
        fail_msg("spec folder %s not found (set LUSTY_MUSTACHE_SPEC)", spec_dir);
    for (size_t i = 0; i < nresults; i++) {
        const spec_result_t *r = &results[i];
        if (strcmp(r->file, file) != 0)
            continue;
        assert_false(r->unreadable);
        assert_true(r->total > 0);
        assert_int_equal(r->passed, r->total);
        return;
    }
    fail_msg("spec file '%s' is missing from %s", file, spec_dir);
}

/* ---- Helpers for the unit tests ---------------------------------------- */

/* Renders `template` over the JSON `data` with the JSON object `partials`
 * (NULL: no provider); returns the output (free with lusty_free()) or the
 * error message prefixed with "error: ". */
static char *render_json(const char *template, const char *data, const char *partials)
{
    cJSON *root = cJSON_Parse(data ? data : "{}");
    cJSON *sources = partials ? cJSON_Parse(partials) : NULL;
    lusty_mustache_cjson_partials_t *provider = lusty_mustache_cjson_partials_new(sources);
    lusty_mustache_partials_t parts = lusty_mustache_cjson_partials(provider);
    lusty_mustache_error_t err = {NULL, 0, 0};
    lusty_mustache_t *tpl = NULL;
    lusty_buf_t out = LUSTY_BUF_INIT;
    char *result;

    assert_non_null(root);
    int rc = lusty_mustache_compile(&tpl, "t", template, strlen(template), &err);
    if (rc == 0)
        rc = lusty_mustache_render(tpl, lusty_mustache_cjson_data(), root, partials ? &parts : NULL,
                                   &out, &err);
    if (rc < 0) {
        assert_non_null(err.message);
        result = lusty_asprintf("error: %s", err.message);
    } else {
        assert_null(err.message);
        result = lusty_buf_detach(&out, NULL);
    }
    lusty_buf_free(&out);
    lusty_mustache_error_free(&err);
    lusty_mustache_free(tpl);
    lusty_mustache_cjson_partials_free(provider);
    cJSON_Delete(sources);
    cJSON_Delete(root);
    return result;
}

static void check_render(const char *template, const char *data, const char *partials,
                         const char *expected)
{
    char *got = render_json(template, data, partials);
    assert_string_equal(got, expected);
    lusty_free(got);
}

/* ---- Compile errors ---------------------------------------------------- */

static void test_compile_errors(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *src;
        const char *message;
        int line, column;
    } cases[] = {
        {"views/index.mustache", "<ul>\n<li>\n    {{#users}}\n  {{name}}\n",
         "views/index.mustache:3:5: section 'users' opened here is never closed", 3, 5},
        {"t", "{{#a}}{{/b}}",
         "t:1:7: closing tag 'b' does not match open section 'a' (opened at 1:1)", 1, 7},
        {"t", "x\n {{^a}}\n{{/b}}",
         "t:3:1: closing tag 'b' does not match open inverted section 'a' (opened at 2:2)", 3, 1},
        {"t", "{{<p}}{{$b}}{{/p}}",
         "t:1:13: closing tag 'p' does not match open block 'b' (opened at 1:7)", 1, 13},
        {"t", "{{#a}}{{#b}}{{/b}}", "t:1:1: section 'a' opened here is never closed", 1, 1},
        {"t", "{{<p}}", "t:1:1: parent 'p' opened here is never closed", 1, 1},
        {"t", "{{/a}}", "t:1:1: closing tag 'a' has no open section", 1, 1},
        {"t", "ab {{name", "t:1:4: tag is never closed (expected '}}')", 1, 4},
        {"t", "{{{name}}", "t:1:1: tag is never closed (expected '}}}')", 1, 1},
        {"t", "{{! never closed", "t:1:1: tag is never closed (expected '}}')", 1, 1},
        {"t", "{{a}}\r\n\t{{b", "t:2:2: tag is never closed (expected '}}')", 2, 2},
        {"t", "{{=| |=}}|x", "t:1:10: tag is never closed (expected '|')", 1, 10},
        {"t", "{{=<% %>}}",
         "t:1:1: invalid set-delimiter tag (expected two delimiters, as in '{{=<% %>=}}')", 1, 1},
        {"t", "{{=<%=}}",
         "t:1:1: invalid set-delimiter tag (expected two delimiters, as in '{{=<% %>=}}')", 1, 1},
        {"t", "a {{=<% %> x=}}",
         "t:1:3: invalid set-delimiter tag (expected two delimiters, as in '{{=<% %>=}}')", 1, 3},
        {"t", "{{=<% %>=}}\n<%=a=%>",
         "t:2:1: invalid set-delimiter tag (expected two delimiters, as in '<%=<% %>=%>')", 2, 1},
        {"t", "{{=<% %>=}}<%#a%>", "t:1:12: section 'a' opened here is never closed", 1, 12},
        {"t", "{{}}", "t:1:1: empty tag name", 1, 1},
        {"t", "a\n{{# }}", "t:2:1: empty tag name", 2, 1},
        {"t", "{{{ }}}", "t:1:1: empty tag name", 1, 1},
        {"t", "{{>*}}", "t:1:1: empty tag name", 1, 1},
        {"t", "{{/}}", "t:1:1: empty tag name", 1, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        static char sentinel;
        lusty_mustache_t *tpl = (lusty_mustache_t *)(void *)&sentinel; /* must become NULL */
        lusty_mustache_error_t err = {NULL, 0, 0};
        int rc =
            lusty_mustache_compile(&tpl, cases[i].name, cases[i].src, strlen(cases[i].src), &err);
        assert_int_equal(rc, LUSTY_ESYNTAX);
        assert_null(tpl);
        assert_non_null(err.message);
        assert_string_equal(err.message, cases[i].message);
        assert_int_equal(err.line, cases[i].line);
        assert_int_equal(err.column, cases[i].column);
        lusty_mustache_error_free(&err);
        assert_null(err.message);
        /* Without an error struct the code is the same. */
        assert_int_equal(
            lusty_mustache_compile(&tpl, cases[i].name, cases[i].src, strlen(cases[i].src), NULL),
            LUSTY_ESYNTAX);
        assert_null(tpl);
    }
}

static void test_compile_name_and_reuse(void **state)
{
    (void)state;
    lusty_mustache_t *tpl = NULL;
    const char *src = "{{#items}}<{{.}}>{{/items}}";
    assert_int_equal(lusty_mustache_compile(&tpl, "list.mustache", src, strlen(src), NULL), 0);
    assert_string_equal(lusty_mustache_name(tpl), "list.mustache");

    /* One compiled template renders many times, appending to the buffer. */
    cJSON *a = cJSON_Parse("{\"items\": [1, 2]}");
    cJSON *b = cJSON_Parse("{\"items\": [\"x\"]}");
    lusty_buf_t out = LUSTY_BUF_INIT;
    lusty_buf_puts(&out, "|");
    assert_int_equal(lusty_mustache_render(tpl, lusty_mustache_cjson_data(), a, NULL, &out, NULL),
                     0);
    assert_int_equal(lusty_mustache_render(tpl, lusty_mustache_cjson_data(), b, NULL, &out, NULL),
                     0);
    assert_string_equal(out.data, "|<1><2><x>");
    lusty_buf_free(&out);
    cJSON_Delete(a);
    cJSON_Delete(b);
    lusty_mustache_free(tpl);
    lusty_mustache_free(NULL);
    lusty_mustache_error_free(NULL);

    /* A template need not be NUL-terminated, and may be empty. */
    assert_int_equal(lusty_mustache_compile(&tpl, NULL, "{{x}}junk", 5, NULL), 0);
    assert_string_equal(lusty_mustache_name(tpl), "template");
    lusty_mustache_free(tpl);
    assert_int_equal(lusty_mustache_compile(&tpl, "empty", "", 0, NULL), 0);
    lusty_mustache_free(tpl);
}

/* ---- The lambda hook, with a fake data source -------------------------- */

typedef struct fake fake_t;
typedef struct {
    const char *key;
    const fake_t *value;
} fake_member_t;

/* A lambda: `text` is NULL for an interpolation. */
typedef int (*fake_fn)(const char *text, size_t len, lusty_buf_t *out, char **err);

struct fake {
    lusty_mustache_kind_t kind;
    const char *str;              /* STRING */
    const fake_member_t *members; /* OBJECT, ended by a NULL key */
    const fake_t *const *items;   /* LIST, ended by NULL */
    fake_fn fn;                   /* LAMBDA */
};

static int lambda_calls;

static lusty_mustache_kind_t fake_kind(void *ud, const void *value)
{
    (void)ud;
    return value ? ((const fake_t *)value)->kind : LUSTY_MUSTACHE_MISSING;
}

static int fake_lookup(void *ud, const void *value, const char *key, size_t key_len,
                       const void **out)
{
    (void)ud;
    const fake_t *v = value;
    for (const fake_member_t *m = v->members; m && m->key; m++) {
        if (strlen(m->key) == key_len && memcmp(m->key, key, key_len) == 0) {
            *out = m->value;
            return 1;
        }
    }
    return 0;
}

static size_t fake_list_len(void *ud, const void *value)
{
    (void)ud;
    size_t n = 0;
    while (((const fake_t *)value)->items[n])
        n++;
    return n;
}

static const void *fake_list_get(void *ud, const void *value, size_t index)
{
    (void)ud;
    return ((const fake_t *)value)->items[index];
}

static void fake_to_string(void *ud, const void *value, lusty_buf_t *out)
{
    (void)ud;
    const fake_t *v = value;
    if (v->kind == LUSTY_MUSTACHE_STRING)
        lusty_buf_puts(out, v->str);
}

static int fake_call_lambda(void *ud, const void *value, const char *text, size_t text_len,
                            lusty_buf_t *out, char **err_out)
{
    assert_ptr_equal(ud, &lambda_calls);
    lambda_calls++;
    return ((const fake_t *)value)->fn(text, text_len, out, err_out);
}

static int say_world(const char *text, size_t len, lusty_buf_t *out, char **err)
{
    (void)len, (void)err;
    assert_null(text);
    lusty_buf_puts(out, "world");
    return 0;
}

static int say_planet_tag(const char *text, size_t len, lusty_buf_t *out, char **err)
{
    (void)len, (void)err;
    assert_null(text);
    lusty_buf_puts(out, "{{planet}}");
    return 0;
}

static int say_both_delimiters(const char *text, size_t len, lusty_buf_t *out, char **err)
{
    (void)len, (void)err;
    assert_null(text);
    lusty_buf_puts(out, "|planet| => {{planet}}");
    return 0;
}

static int count_calls(const char *text, size_t len, lusty_buf_t *out, char **err)
{
    (void)text, (void)len, (void)err;
    lusty_buf_printf(out, "%d", lambda_calls);
    return 0;
}

static int say_gt(const char *text, size_t len, lusty_buf_t *out, char **err)
{
    (void)text, (void)len, (void)err;
    lusty_buf_puts(out, ">");
    return 0;
}

static int is_x_tag(const char *text, size_t len, lusty_buf_t *out, char **err)
{
    (void)err;
    assert_non_null(text);
    lusty_buf_puts(out, len == 5 && memcmp(text, "{{x}}", 5) == 0 ? "yes" : "no");
    return 0;
}

static int wrap_planet(const char *text, size_t len, lusty_buf_t *out, char **err)
{
    (void)err;
    lusty_buf_append(out, text, len);
    lusty_buf_puts(out, "{{planet}}");
    lusty_buf_append(out, text, len);
    return 0;
}

static int wrap_both_delimiters(const char *text, size_t len, lusty_buf_t *out, char **err)
{
    (void)err;
    lusty_buf_append(out, text, len);
    lusty_buf_puts(out, "{{planet}} => |planet|");
    lusty_buf_append(out, text, len);
    return 0;
}

static int underscores(const char *text, size_t len, lusty_buf_t *out, char **err)
{
    (void)err;
    lusty_buf_printf(out, "__%.*s__", (int)len, text);
    return 0;
}

static int item_in_brackets(const char *text, size_t len, lusty_buf_t *out, char **err)
{
    (void)text, (void)len, (void)err;
    lusty_buf_puts(out, "<{{.}}>");
    return 0;
}

static int fails(const char *text, size_t len, lusty_buf_t *out, char **err)
{
    (void)text, (void)len, (void)out;
    *err = lusty_strdup("boom");
    return LUSTY_ERUNTIME;
}

static int returns_bad_template(const char *text, size_t len, lusty_buf_t *out, char **err)
{
    (void)text, (void)len, (void)err;
    lusty_buf_puts(out, "{{#oops}}");
    return 0;
}

static const lusty_mustache_data_t fake_source = {
    fake_kind,      fake_lookup,      fake_list_len, fake_list_get,
    fake_to_string, fake_call_lambda, &lambda_calls,
};

/* Renders `template` over {planet, x, static, list: ["a", "b"], lambda: fn}. */
static char *render_fake(const lusty_mustache_data_t *source, const char *template,
                         const char *planet, fake_fn fn, int *rc_out)
{
    const fake_t str_planet = {LUSTY_MUSTACHE_STRING, planet, NULL, NULL, NULL};
    const fake_t str_error = {LUSTY_MUSTACHE_STRING, "Error!", NULL, NULL, NULL};
    const fake_t str_static = {LUSTY_MUSTACHE_STRING, "static", NULL, NULL, NULL};
    const fake_t str_a = {LUSTY_MUSTACHE_STRING, "a", NULL, NULL, NULL};
    const fake_t str_b = {LUSTY_MUSTACHE_STRING, "b", NULL, NULL, NULL};
    const fake_t *const items[] = {&str_a, &str_b, NULL};
    const fake_t list = {LUSTY_MUSTACHE_LIST, NULL, NULL, items, NULL};
    const fake_t lambda = {LUSTY_MUSTACHE_LAMBDA, NULL, NULL, NULL, fn};
    const fake_member_t members[] = {
        {"planet", &str_planet}, {"x", &str_error},   {"static", &str_static},
        {"list", &list},         {"lambda", &lambda}, {NULL, NULL},
    };
    const fake_t root = {LUSTY_MUSTACHE_OBJECT, NULL, members, NULL, NULL};
    lusty_mustache_t *tpl = NULL;
    lusty_mustache_error_t err = {NULL, 0, 0};
    lusty_buf_t out = LUSTY_BUF_INIT;
    char *result;

    assert_int_equal(lusty_mustache_compile(&tpl, "t", template, strlen(template), &err), 0);
    *rc_out = lusty_mustache_render(tpl, source, &root, NULL, &out, &err);
    if (*rc_out < 0) {
        result = lusty_asprintf("error: %s", err.message);
    } else {
        assert_null(err.message);
        result = lusty_buf_detach(&out, NULL);
    }
    lusty_buf_free(&out);
    lusty_mustache_error_free(&err);
    lusty_mustache_free(tpl);
    return result;
}

/* The cases of the spec's ~lambdas.json, with the lambdas written in C. */
static void test_lambda_hook(void **state)
{
    (void)state;
    static const struct {
        const char *template;
        const char *planet;
        fake_fn fn;
        const char *expected;
        int calls;
    } cases[] = {
        {"Hello, {{lambda}}!", "world", say_world, "Hello, world!", 1},
        {"Hello, {{lambda}}!", "world", say_planet_tag, "Hello, world!", 1},
        {"{{= | | =}}\nHello, (|&lambda|)!", "world", say_both_delimiters,
         "Hello, (|planet| => world)!", 1},
        {"{{lambda}} == {{{lambda}}} == {{lambda}}", "", count_calls, "1 == 2 == 3", 3},
        {"<{{lambda}}{{{lambda}}}", "", say_gt, "<&gt;>", 2},
        {"<{{#lambda}}{{x}}{{/lambda}}>", "", is_x_tag, "<yes>", 1},
        {"<{{#lambda}}-{{/lambda}}>", "Earth", wrap_planet, "<-Earth->", 1},
        {"{{= | | =}}<|#lambda|-|/lambda|>", "Earth", wrap_both_delimiters,
         "<-{{planet}} => Earth->", 1},
        {"{{#lambda}}FILE{{/lambda}} != {{#lambda}}LINE{{/lambda}}", "", underscores,
         "__FILE__ != __LINE__", 2},
        {"<{{^lambda}}{{static}}{{/lambda}}>", "", say_world, "<>", 0},
        /* Lambda results render against the current context. */
        {"{{#list}}{{{lambda}}}{{/list}}", "", item_in_brackets, "<a><b>", 2},
        {"{{#list}}{{lambda}}{{/list}}", "", item_in_brackets, "&lt;a&gt;&lt;b&gt;", 2},
        {"[{{#lambda}}\n  x\n{{/lambda}}]", "", underscores, "[__\n  x\n__]", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        int rc;
        lambda_calls = 0;
        char *got = render_fake(&fake_source, cases[i].template, cases[i].planet, cases[i].fn, &rc);
        assert_int_equal(rc, 0);
        assert_string_equal(got, cases[i].expected);
        assert_int_equal(lambda_calls, cases[i].calls);
        lusty_free(got);
    }
}

static void test_lambda_errors(void **state)
{
    (void)state;
    int rc;
    char *got = render_fake(&fake_source, "ab{{lambda}}", "", fails, &rc);
    assert_int_equal(rc, LUSTY_ERUNTIME);
    assert_string_equal(got, "error: t:1:3: lambda 'lambda' failed: boom");
    lusty_free(got);

    got = render_fake(&fake_source, "\n {{#lambda}}x{{/lambda}}", "", returns_bad_template, &rc);
    assert_int_equal(rc, LUSTY_ESYNTAX);
    assert_string_equal(got, "error: t:2:2: lambda 'lambda' returned an invalid template: "
                             "lambda result:1:1: section 'oops' opened here is never closed");
    lusty_free(got);
}

static void test_lambda_without_hook(void **state)
{
    (void)state;
    lusty_mustache_data_t source = fake_source;
    source.call_lambda = NULL;
    int rc;
    lambda_calls = 0;
    char *got = render_fake(&source, "a{{lambda}}b{{#lambda}}x{{/lambda}}c{{^lambda}}y{{/lambda}}",
                            "", say_world, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(got, "abc");
    assert_int_equal(lambda_calls, 0);
    lusty_free(got);
}

/* ---- Partials ---------------------------------------------------------- */

static void test_partials_cache(void **state)
{
    (void)state;
    cJSON *sources = cJSON_Parse("{\"a\": \"A{{x}}\", \"b\": \"B\", \"broken\": \"x\\n{{#x}}\","
                                 " \"num\": 5}");
    lusty_mustache_cjson_partials_t *provider = lusty_mustache_cjson_partials_new(sources);
    lusty_mustache_partials_t parts = lusty_mustache_cjson_partials(provider);
    char *err = NULL;

    const lusty_mustache_t *a = parts.get(parts.ud, "a", 1, &err);
    assert_non_null(a);
    assert_null(err);
    assert_string_equal(lusty_mustache_name(a), "a");
    assert_ptr_equal(parts.get(parts.ud, "a", 1, &err), a);
    /* Names are compared by length: "ab" cut to one byte is "a". */
    assert_ptr_equal(parts.get(parts.ud, "ab", 1, &err), a);
    const lusty_mustache_t *b = parts.get(parts.ud, "ab" + 1, 1, &err);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);

    assert_null(parts.get(parts.ud, "missing", 7, &err));
    assert_null(err);
    assert_null(parts.get(parts.ud, "num", 3, &err));
    assert_null(err);
    assert_null(parts.get(parts.ud, "broken", 6, &err));
    assert_non_null(err);
    assert_string_equal(err, "broken:2:1: section 'x' opened here is never closed");
    lusty_free(err);
    err = NULL;

    /* Renders reuse the cached templates. */
    lusty_mustache_t *tpl = NULL;
    lusty_buf_t out = LUSTY_BUF_INIT;
    cJSON *data = cJSON_Parse("{\"x\": 1, \"which\": \"a\"}");
    assert_int_equal(lusty_mustache_compile(&tpl, "t", "[{{>a}}{{>*which}}]", 19, NULL), 0);
    for (int i = 0; i < 3; i++) {
        lusty_buf_clear(&out);
        assert_int_equal(
            lusty_mustache_render(tpl, lusty_mustache_cjson_data(), data, &parts, &out, NULL), 0);
        assert_string_equal(out.data, "[A1A1]");
    }
    assert_ptr_equal(parts.get(parts.ud, "a", 1, &err), a);
    lusty_mustache_free(tpl);

    /* A partial that does not compile fails the render, saying where. */
    lusty_mustache_error_t rerr = {NULL, 0, 0};
    assert_int_equal(lusty_mustache_compile(&tpl, "t", "x\n  {{>broken}}", 15, NULL), 0);
    assert_int_equal(
        lusty_mustache_render(tpl, lusty_mustache_cjson_data(), data, &parts, &out, &rerr),
        LUSTY_ERUNTIME);
    assert_string_equal(
        rerr.message,
        "t:2:3: partial 'broken': broken:2:1: section 'x' opened here is never closed");
    assert_int_equal(rerr.line, 2);
    assert_int_equal(rerr.column, 3);
    lusty_mustache_error_free(&rerr);
    lusty_mustache_free(tpl);

    lusty_buf_free(&out);
    cJSON_Delete(data);
    lusty_mustache_cjson_partials_free(provider);
    lusty_mustache_cjson_partials_free(NULL);
    cJSON_Delete(sources);
}

static void test_no_partials_provider(void **state)
{
    (void)state;
    const char *src = "a{{>p}}b{{<q}}{{$x}}y{{/x}}{{/q}}c{{>*d}}{{$z}}z{{/z}}";
    check_render(src, "{\"d\": \"p\"}", NULL, "abcz");
    /* A provider without a get function counts as none. */
    lusty_mustache_t *tpl = NULL;
    lusty_buf_t out = LUSTY_BUF_INIT;
    lusty_mustache_partials_t none = {NULL, NULL};
    cJSON *data = cJSON_Parse("{}");
    assert_int_equal(lusty_mustache_compile(&tpl, "t", src, strlen(src), NULL), 0);
    assert_int_equal(
        lusty_mustache_render(tpl, lusty_mustache_cjson_data(), data, &none, &out, NULL), 0);
    assert_string_equal(out.data, "abcz");
    lusty_buf_free(&out);
    cJSON_Delete(data);
    lusty_mustache_free(tpl);
}

static void test_nested_indentation(void **state)
{
    (void)state;
    /* Standalone partials add up their indentation; interpolated newlines
     * are not indented. */
    check_render("<div>\n  {{>inner}}\n</div>\n", "{\"v\": \"1\\n2\"}",
                 "{\"inner\": \"<p>\\n  {{>leaf}}\\n</p>\\n\", \"leaf\": \"{{v}}\\nend\\n\"}",
                 "<div>\n  <p>\n    1\n2\n    end\n  </p>\n</div>\n");
    /* Standalone lines inside an indented partial still disappear. */
    check_render("  {{>p}}\n", "{\"on\": true}", "{\"p\": \"{{#on}}\\nx\\n{{/on}}\\ny\\n\"}",
                 "  x\n  y\n");
    check_render(" {{>p}}\n", "{}", "{\"p\": \"a\\nb\"}", " a\n b");

    /* Output already in the buffer does not hide the first line's indentation. */
    cJSON *sources = cJSON_Parse("{\"p\": \"a\\nb\"}");
    lusty_mustache_cjson_partials_t *provider = lusty_mustache_cjson_partials_new(sources);
    lusty_mustache_partials_t parts = lusty_mustache_cjson_partials(provider);
    lusty_mustache_t *tpl = NULL;
    lusty_buf_t out = LUSTY_BUF_INIT;
    lusty_buf_puts(&out, "x");
    assert_int_equal(lusty_mustache_compile(&tpl, "t", "  {{>p}}\n", 9, NULL), 0);
    assert_int_equal(
        lusty_mustache_render(tpl, lusty_mustache_cjson_data(), NULL, &parts, &out, NULL), 0);
    assert_string_equal(out.data, "x  a\n  b");
    lusty_buf_free(&out);
    lusty_mustache_free(tpl);
    lusty_mustache_cjson_partials_free(provider);
    cJSON_Delete(sources);
}

static void test_dynamic_parent(void **state)
{
    (void)state;
    const char *parts = "{\"base\": \"[{{$a}}default{{/a}}]\"}";
    check_render("{{<*layout}}{{$a}}mine{{/a}}{{/*layout}}", "{\"layout\": \"base\"}", parts,
                 "[mine]");
    /* A name that resolves to nothing includes nothing. */
    check_render("<{{<*layout}}{{$a}}mine{{/a}}{{/*layout}}>", "{}", parts, "<>");
    char *got = render_json("{{<*layout}}{{/layout}}", "{}", parts);
    assert_string_equal(got, "error: t:1:13: closing tag 'layout' does not match open parent "
                             "'*layout' (opened at 1:1)");
    lusty_free(got);
}

static void test_recursion_limit(void **state)
{
    (void)state;
    char *got = render_json("{{>r}}", "{}", "{\"r\": \"x{{>r}}\"}");
    assert_string_equal(got, "error: r:1:2: partials, parents and lambdas nested more than "
                             "128 deep");
    lusty_free(got);
}

/* ---- Values ------------------------------------------------------------ */

static void test_numbers(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        const char *text;
    } cases[] = {
        {"85", "85"},
        {"1.21", "1.21"},
        {"-3", "-3"},
        {"3.0", "3"},
        {"-0.0", "0"},
        {"0.1", "0.1"},
        {"0.30000000000000004", "0.30000000000000004"},
        {"0.3333333333333333", "0.3333333333333333"},
        {"100.5", "100.5"},
        {"1e-7", "1e-07"},
        {"123456789012", "123456789012"},
        {"9007199254740993", "9007199254740992"},
        {"1e21", "1e+21"},
        {"-2.5e-300", "-2.5e-300"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        char *data = lusty_asprintf("{\"n\": %s}", cases[i].json);
        check_render("{{n}}", data, NULL, cases[i].text);
        lusty_free(data);
    }
    check_render("{{t}} {{f}} [{{n}}] [{{o}}] [{{l}}]",
                 "{\"t\": true, \"f\": false, \"n\": null, \"o\": {}, \"l\": [1]}", NULL,
                 "true false [] [] []");
}

static void test_escaping(void **state)
{
    (void)state;
    check_render("{{x}}|{{{x}}}|{{&x}}", "{\"x\": \"<a href='u'>&\\\"</a>\"}", NULL,
                 "&lt;a href=&#39;u&#39;&gt;&amp;&quot;&lt;/a&gt;|<a href='u'>&\"</a>|"
                 "<a href='u'>&\"</a>");
}

static void test_lists(void **state)
{
    (void)state;
    /* The cJSON source keeps cursors over lists: nested loops over the same
     * list and over different lists must still see every item. */
    check_render("{{#l}}{{#l}}{{.}}{{/l}}|{{/l}}", "{\"l\": [1, 2, 3]}", NULL, "123|123|123|");
    check_render("{{#a}}{{#.}}{{.}}{{/.}};{{/a}}{{^e}}empty{{/e}}",
                 "{\"a\": [[1, 2], [], [3]], \"e\": []}", NULL, "12;;3;empty");

    enum { N = 2000 };
    lusty_buf_t data = LUSTY_BUF_INIT, expected = LUSTY_BUF_INIT;
    lusty_buf_puts(&data, "{\"n\": [");
    for (int i = 0; i < N; i++) {
        lusty_buf_printf(&data, "%s{\"i\": %d}", i ? "," : "", i);
        lusty_buf_printf(&expected, "%d,", i);
    }
    lusty_buf_puts(&data, "]}");
    check_render("{{#n}}{{i}},{{/n}}", data.data, NULL, expected.data);
    lusty_buf_free(&data);
    lusty_buf_free(&expected);
}

static void test_deep_context_stack(void **state)
{
    (void)state;
    /* More nested sections than the renderer keeps on the C stack. */
    enum { DEPTH = 100 };
    lusty_buf_t tpl = LUSTY_BUF_INIT, data = LUSTY_BUF_INIT;
    for (int i = 0; i < DEPTH; i++) {
        lusty_buf_puts(&tpl, "{{#a}}");
        lusty_buf_puts(&data, "{\"a\": ");
    }
    lusty_buf_puts(&tpl, "{{x}}{{d}}");
    lusty_buf_puts(&data, "{\"d\": \"deep\"}");
    for (int i = 0; i < DEPTH; i++) {
        lusty_buf_puts(&tpl, "{{/a}}");
        lusty_buf_puts(&data, i == DEPTH - 1 ? ", \"x\": \"root\"}" : "}");
    }
    check_render(tpl.data, data.data, NULL, "rootdeep");
    lusty_buf_free(&tpl);
    lusty_buf_free(&data);
}

int main(void)
{
    const char *env = getenv("LUSTY_MUSTACHE_SPEC");
    spec_dir = env && *env ? env : LUSTY_MUSTACHE_SPEC_DEFAULT;
    run_spec();

/* One test per required spec file, named after it. */
#define SPEC_TEST(file)                                                                            \
    {                                                                                              \
        "spec " file, test_spec_file, NULL, NULL, (void *)file                                     \
    }
    const struct CMUnitTest tests[] = {
        SPEC_TEST("comments.json"),
        SPEC_TEST("delimiters.json"),
        SPEC_TEST("interpolation.json"),
        SPEC_TEST("inverted.json"),
        SPEC_TEST("partials.json"),
        SPEC_TEST("sections.json"),
        SPEC_TEST("~inheritance.json"),
        SPEC_TEST("~dynamic-names.json"),
        cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_compile_name_and_reuse),
        cmocka_unit_test(test_lambda_hook),
        cmocka_unit_test(test_lambda_errors),
        cmocka_unit_test(test_lambda_without_hook),
        cmocka_unit_test(test_partials_cache),
        cmocka_unit_test(test_no_partials_provider),
        cmocka_unit_test(test_nested_indentation),
        cmocka_unit_test(test_dynamic_parent),
        cmocka_unit_test(test_recursion_limit),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_deep_context_stack),
    };
    int failed = cmocka_run_group_tests_name("mustache", tests, NULL, NULL);

    for (size_t i = 0; i < nresults; i++)
        lusty_free(results[i].file);
    lusty_free(results);
    return failed;
}
