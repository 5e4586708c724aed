/* The Mustache `~lambdas` spec rendered through the Lua data source: every
 * case of ~lambdas.json must pass. The spec gives no Lua source for its
 * lambdas, so each case's lambda is taken from data.lambda.lua when present,
 * else from the table below (one Lua function per case, the equivalent of
 * the spec's other languages). The folder comes from $LUSTY_MUSTACHE_SPEC,
 * else LUSTY_MUSTACHE_SPEC_DEFAULT; without it the test fails. Also
 * plain Lua data: tables, lists, read-through __index, cjson.null. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "lusty/alloc.h"
#include "lusty/buf.h"
#include "lusty/lua_host.h"
#include "lusty/mustache.h"

#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef LUSTY_MUSTACHE_SPEC_DEFAULT
#define LUSTY_MUSTACHE_SPEC_DEFAULT "conformance/mustache"
#endif

static const struct {
    const char *name;
    const char *lua;
} lambdas[] = {
    {"Interpolation", "function() return 'world' end"},
    {"Interpolation - Expansion", "function() return '{{planet}}' end"},
    {"Interpolation - Alternate Delimiters", "function() return '|planet| => {{planet}}' end"},
    {"Interpolation - Multiple Calls",
     "function() calls = (calls or 0) + 1 return calls end"},
    {"Escaping", "function() return '>' end"},
    {"Section", "function(text) return text == '{{x}}' and 'yes' or 'no' end"},
    {"Section - Expansion", "function(text) return text .. '{{planet}}' .. text end"},
    {"Section - Alternate Delimiters",
     "function(text) return text .. '{{planet}} => |planet|' .. text end"},
    {"Section - Multiple Calls", "function(text) return '__' .. text .. '__' end"},
    {"Inverted Section", "function(text) return false end"},
};

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    lusty_buf_t b = LUSTY_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        lusty_buf_append(&b, chunk, n);
    fclose(f);
    return lusty_buf_detach(&b, NULL);
}

static const char *lambda_source(const cJSON *test)
{
    const cJSON *lua = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(test, "data"), "lambda"), "lua");
    if (cJSON_IsString(lua))
        return lua->valuestring;
    const char *name = cJSON_GetObjectItem(test, "name")->valuestring;
    for (size_t i = 0; i < sizeof lambdas / sizeof *lambdas; i++)
        if (strcmp(lambdas[i].name, name) == 0)
            return lambdas[i].lua;
    return NULL;
}

/* Pushes the test's data as Lua, with data.lambda replaced by the Lua
 * function. */
static void push_data(lua_State *L, const cJSON *test)
{
    cJSON *data = cJSON_Duplicate(cJSON_GetObjectItem(test, "data"), 1);
    cJSON_DeleteItemFromObject(data, "lambda");
    char *json = cJSON_PrintUnformatted(data);
    cJSON_Delete(data);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "cjson");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "decode");
    lua_pushstring(L, json);
    lua_call(L, 1, 1);
    lua_remove(L, -2);
    cJSON_free(json);

    const char *src = lambda_source(test);
    assert_non_null(src);
    char *chunk = lusty_asprintf("return %s", src);
    assert_int_equal(luaL_loadstring(L, chunk), 0);
    lusty_free(chunk);
    lua_call(L, 0, 1);
    lua_setfield(L, -2, "lambda");
}

static void test_lambdas_spec(void **state)
{
    (void)state;
    const char *dir = getenv("LUSTY_MUSTACHE_SPEC");
    if (!dir || !*dir)
        dir = LUSTY_MUSTACHE_SPEC_DEFAULT;
    char *path = lusty_asprintf("%s/~lambdas.json", dir);
    char *text = read_file(path);
    if (!text) {
        char msg[512];
        snprintf(msg, sizeof(msg), "'%s' not found (set LUSTY_MUSTACHE_SPEC)", path);
        lusty_free(path);
        fail_msg("%s", msg);
    }
    lusty_free(path);
    cJSON *spec = cJSON_Parse(text);
    lusty_free(text);
    assert_non_null(spec);

    lusty_lua_host_t *host = NULL;
    assert_int_equal(lusty_lua_host_new(&host, NULL, NULL), 0);
    lua_State *L = lusty_lua_host_state(host);
    int failed = 0, total = 0;
    const cJSON *test;
    cJSON_ArrayForEach(test, cJSON_GetObjectItem(spec, "tests"))
    {
        const char *name = cJSON_GetObjectItem(test, "name")->valuestring;
        const char *tpl_src = cJSON_GetObjectItem(test, "template")->valuestring;
        const char *expected = cJSON_GetObjectItem(test, "expected")->valuestring;
        total++;
        push_data(L, test);
        lusty_mustache_t *tpl = NULL;
        lusty_mustache_error_t err = {0};
        assert_int_equal(lusty_mustache_compile(&tpl, name, tpl_src, strlen(tpl_src), &err), 0);
        const cJSON *psrc = cJSON_GetObjectItem(test, "partials");
        lusty_mustache_cjson_partials_t *pp = psrc ? lusty_mustache_cjson_partials_new(psrc) : NULL;
        lusty_mustache_partials_t partials = pp ? lusty_mustache_cjson_partials(pp) : (lusty_mustache_partials_t){0};
        lusty_buf_t out = LUSTY_BUF_INIT;
        int rc = lusty_lua_mustache_render(L, -1, tpl, pp ? &partials : NULL, &out, &err);
        const char *got = out.data ? out.data : "";
        if (rc != 0 || strcmp(got, expected) != 0) {
            fprintf(stderr, "FAIL ~lambdas: %s\n  expected: %s\n  got:      %s %s\n", name, expected,
                    got, err.message ? err.message : "");
            failed++;
        }
        lusty_buf_free(&out);
        lusty_mustache_error_free(&err);
        lusty_mustache_cjson_partials_free(pp);
        lusty_mustache_free(tpl);
        lua_pop(L, 1);
    }
    assert_int_equal(lua_gettop(L), 0);
    lusty_lua_host_free(host);
    cJSON_Delete(spec);
    printf("~lambdas: %d of %d passed\n", total - failed, total);
    assert_int_equal(failed, 0);
}

static void render(lua_State *L, const char *src, const char *data_lua, const char *expected)
{
    char *chunk = lusty_asprintf("return %s", data_lua);
    assert_int_equal(luaL_dostring(L, chunk), 0);
    lusty_free(chunk);
    lusty_mustache_t *tpl = NULL;
    lusty_mustache_error_t err = {0};
    assert_int_equal(lusty_mustache_compile(&tpl, "t", src, strlen(src), &err), 0);
    lusty_buf_t out = LUSTY_BUF_INIT;
    assert_int_equal(lusty_lua_mustache_render(L, -1, tpl, NULL, &out, &err), 0);
    assert_string_equal(out.data ? out.data : "", expected);
    lusty_buf_free(&out);
    lusty_mustache_free(tpl);
    lua_pop(L, 1);
}

static void test_lua_data(void **state)
{
    (void)state;
    lusty_lua_host_t *host = NULL;
    assert_int_equal(lusty_lua_host_new(&host, NULL, NULL), 0);
    lua_State *L = lusty_lua_host_state(host);
    render(L, "{{a}} {{b.c}} {{n}} {{t}}", "{ a = 'x', b = { c = 'y' }, n = 1.5, t = true }",
           "x y 1.5 true");
    render(L, "{{#list}}[{{.}}]{{/list}}{{^empty}}none{{/empty}}",
           "{ list = { 1, 'two', 3 }, empty = {} }", "[1][two][3]none");
    render(L, "{{#null}}x{{/null}}{{null}}|", "{ null = require('cjson').null }", "|");
    render(L, "{{inherited}}", "setmetatable({}, { __index = { inherited = 'yes' } })", "yes");
    render(L, "{{#obj}}{{k}}{{/obj}}", "{ obj = { k = 'v' } }", "v");
    /* A lambda that raises fails the render with its message. */
    assert_int_equal(luaL_dostring(L, "return { f = function() error('nope') end }"), 0);
    lusty_mustache_t *tpl = NULL;
    lusty_mustache_error_t err = {0};
    assert_int_equal(lusty_mustache_compile(&tpl, "t", "{{f}}", 5, &err), 0);
    lusty_buf_t out = LUSTY_BUF_INIT;
    assert_true(lusty_lua_mustache_render(L, -1, tpl, NULL, &out, &err) < 0);
    assert_non_null(strstr(err.message, "nope"));
    lusty_mustache_error_free(&err);
    lusty_buf_free(&out);
    lusty_mustache_free(tpl);
    lua_pop(L, 1);
    assert_int_equal(lua_gettop(L), 0);
    lusty_lua_host_free(host);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lambdas_spec),
        cmocka_unit_test(test_lua_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
