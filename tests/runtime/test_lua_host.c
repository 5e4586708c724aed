/* Tests of the Lua host: creation with and without a project, the module
 * path, running code (status, arg, errors with tracebacks), loading the app
 * fixture, the request pipeline and publishing from C, the channel list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "lusty/alloc.h"
#include "lusty/error.h"
#include "lusty/lua_host.h"

#include <cjson/cJSON.h>
#include <lua.h>
#include <string.h>

#ifndef LUSTY_FIXTURES
#define LUSTY_FIXTURES "tests/fixtures"
#endif
#define APP LUSTY_FIXTURES "/lua-app"

static lusty_lua_host_t *new_host(const char *root)
{
    lusty_lua_host_t *h = NULL;
    char *err = NULL;
    lusty_lua_options_t opts = {.root = root};
    assert_int_equal(lusty_lua_host_new(&h, &opts, &err), 0);
    assert_null(err);
    return h;
}

/* Runs `code`, expecting return code `rc` and exit status `status`. */
static char *run(lusty_lua_host_t *h, const char *code, int rc, int status)
{
    char *err = NULL;
    int st = -1;
    char *argv[] = {"one", "two"};
    assert_int_equal(lusty_lua_host_run_string(h, code, "t", 2, argv, &st, &err), rc);
    assert_int_equal(st, status);
    assert_int_equal(lua_gettop(lusty_lua_host_state(h)), 0);
    return err;
}

static void test_without_project(void **state)
{
    (void)state;
    lusty_lua_host_t *h = new_host(NULL);
    assert_null(lusty_lua_host_root(h));
    assert_null(run(h, "assert(require'mediator' and require'lusty.util' and require'cjson')", 0, 0));
    assert_null(run(h, "assert(type(lusty.event.publish) == 'function')", 0, 0));
    assert_null(run(h, "return 3", 0, 3));
    assert_null(run(h, "assert(arg[0] == 't' and arg[1] == 'one' and select('#', ...) == 2)", 0, 0));
    char *err = NULL;
    assert_int_equal(lusty_lua_host_load_app(h, &err), LUSTY_ENOENT);
    lusty_free(err);
    lusty_lua_host_free(h);
}

static void test_errors(void **state)
{
    (void)state;
    lusty_lua_host_t *h = new_host(NULL);
    char *err = run(h, "local function f() error('deep') end\nf()", LUSTY_ERUNTIME, 1);
    assert_non_null(strstr(err, "t:1: deep"));
    assert_non_null(strstr(err, "stack traceback:"));
    lusty_free(err);
    err = run(h, "this is not lua", LUSTY_ESYNTAX, 1);
    assert_non_null(strstr(err, "t:1:"));
    lusty_free(err);
    err = run(h, "error({})", LUSTY_ERUNTIME, 1);
    assert_non_null(strstr(err, "error object is a table value"));
    lusty_free(err);
    /* An error inside a subscriber keeps its own traceback. */
    err = run(h, "lusty.event:subscribe('x', function() error('in sub') end)\n"
                 "lusty.event:publish('x')",
              LUSTY_ERUNTIME, 1);
    assert_non_null(strstr(err, "t:1: in sub"));
    lusty_free(err);
    int st;
    assert_int_equal(lusty_lua_host_run_file(h, "/nonexistent.lua", 0, NULL, &st, &err), LUSTY_EIO);
    assert_non_null(strstr(err, "nonexistent.lua"));
    lusty_free(err);
    lusty_lua_host_free(h);
}

static void test_project_app(void **state)
{
    (void)state;
    lusty_lua_host_t *h = new_host(APP);
    assert_string_equal(lusty_lua_host_root(h), APP);
    char *err = NULL;
    assert_int_equal(lusty_lua_host_load_app(h, &err), 0);
    assert_null(err);
    assert_null(run(h,
                    "local request = lusty.event.channel.channels.request\n"
                    "assert(request.channels.users and #request.callbacks == 3)",
                    0, 0));
    assert_null(run(h, "assert(require('shadow') == 'app')", 0, 0));

    /* The pipeline from C. */
    lua_State *L = lusty_lua_host_state(h);
    lua_newtable(L);
    lua_createtable(L, 1, 0);
    lua_pushliteral(L, "users");
    lua_rawseti(L, -2, 1);
    lua_setfield(L, -2, "suffix");
    assert_int_equal(lusty_lua_host_request(h, &err), 0);
    assert_int_equal(lua_gettop(L), 1);
    lua_getfield(L, 1, "trail");
    assert_int_equal((int)lua_objlen(L, -1), 5);
    lua_getfield(L, 1, "error");
    assert_int_equal((int)lua_objlen(L, -1), 1);
    lua_settop(L, 0);

    /* Publishing from C. */
    lua_newtable(L);
    lua_pushnumber(L, 1);
    lua_setfield(L, -2, "id");
    assert_int_equal(lusty_lua_host_publish(h, "data:users:get", 1, &err), 0);
    assert_int_equal(lua_gettop(L), 1);
    assert_int_equal((int)lua_objlen(L, 1), 1);
    lua_settop(L, 0);
    lua_newtable(L);
    assert_int_equal(lusty_lua_host_publish(h, "fail", 1, &err), LUSTY_ERUNTIME);
    assert_non_null(strstr(err, "boom.lua:4: boom in fail"));
    lusty_free(err);
    assert_int_equal(lua_gettop(L), 0);

    cJSON *list = NULL;
    assert_int_equal(lusty_lua_host_channels(h, &list), 0);
    char *text = cJSON_PrintUnformatted(list);
    assert_non_null(strstr(text, "{\"channel\":\"request\",\"depth\":1,\"subscribers\":[{\"id\":"));
    assert_non_null(strstr(text, "\"module\":\"handlers.stop\",\"predicate\":false"));
    assert_non_null(strstr(text, "\"module\":\"data.users.handlers#get\""));
    cJSON_free(text);
    cJSON_Delete(list);
    lusty_lua_host_free(h);
}

static void test_bad_app(void **state)
{
    (void)state;
    lusty_lua_host_t *h = NULL;
    char *err = NULL;
    lusty_lua_options_t opts = {.root = APP, .app = "app/lib/raise.lua"};
    assert_int_equal(lusty_lua_host_new(&h, &opts, &err), 0);
    assert_int_equal(lusty_lua_host_load_app(h, &err), LUSTY_ERUNTIME);
    assert_non_null(strstr(err, "raise.lua:3: raised here nil"));
    lusty_free(err);
    lusty_lua_host_free(h);

    opts.app = "app/lib/syntax.lua";
    assert_int_equal(lusty_lua_host_new(&h, &opts, &err), 0);
    assert_int_equal(lusty_lua_host_load_app(h, &err), LUSTY_ESYNTAX);
    assert_non_null(strstr(err, "syntax.lua:3:"));
    lusty_free(err);
    lusty_lua_host_free(h);
}

/* A config that returns its own app object replaces the host's; one whose
 * metatable raises on every read fails as an error, not a panic. */
static void test_app_object_config(void **state)
{
    (void)state;
    lusty_lua_host_t *h = NULL;
    char *err = NULL;
    lusty_lua_options_t opts = {.root = APP, .app = "app/lib/own_app.lua"};
    assert_int_equal(lusty_lua_host_new(&h, &opts, &err), 0);
    assert_int_equal(lusty_lua_host_load_app(h, &err), 0);
    assert_null(run(h, "assert(lusty.event:publish('own')[1] == 'mine')", 0, 0));
    lusty_lua_host_free(h);

    opts.app = "app/lib/trap_config.lua";
    assert_int_equal(lusty_lua_host_new(&h, &opts, &err), 0);
    assert_int_equal(lusty_lua_host_load_app(h, &err), LUSTY_ERUNTIME);
    assert_non_null(strstr(err, "no field"));
    lusty_free(err);
    lusty_lua_host_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_without_project),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_project_app),
        cmocka_unit_test(test_bad_app),
        cmocka_unit_test(test_app_object_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
