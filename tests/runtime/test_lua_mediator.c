/* Tests of the mediator binding from C: C and Lua subscribers on one bus,
 * the event accessors, errors in both directions, channel objects kept in
 * step with the C bus, and no channel left behind by publishes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "lusty/alloc.h"
#include "lusty/error.h"
#include "lusty/lua_host.h"

#include <lauxlib.h>
#include <lua.h>
#include <string.h>

static lusty_lua_host_t *host;
static lua_State *L;

static int setup(void **state)
{
    (void)state;
    assert_int_equal(lusty_lua_host_new(&host, NULL, NULL), 0);
    L = lusty_lua_host_state(host);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    lusty_lua_host_free(host);
    return 0;
}

static void lua_ok(const char *code)
{
    char *err = NULL;
    int st = 0;
    int rc = lusty_lua_host_run_string(host, code, "t", 0, NULL, &st, &err);
    if (rc)
        fail_msg("%s", err);
    assert_int_equal(st, 0);
}

/* A C subscriber: doubles its first argument into the results, continues. */
static int doubler(lusty_bus_event_t *ev, void *args, void *ud)
{
    (void)ev;
    (*(int *)ud)++;
    lusty_lua_event_t *le = args;
    lua_State *S = lusty_lua_event_state(le);
    assert_true(lusty_lua_event_count(le) >= 1);
    lua_pushnumber(S, 2 * lua_tonumber(S, lusty_lua_event_base(le)));
    lusty_lua_event_push_result(le);
    return LUSTY_BUS_CONTINUE;
}

static int failing(lusty_bus_event_t *ev, void *args, void *ud)
{
    (void)args;
    (void)ud;
    return lusty_bus_event_error(ev, LUSTY_ERUNTIME, "C says no");
}

static void test_c_and_lua_subscribers(void **state)
{
    (void)state;
    int calls = 0;
    lusty_bus_handler_t h = {.cb = doubler, .ud = &calls};
    uint64_t id;
    assert_int_equal(lusty_bus_subscribe(&id, lusty_lua_host_bus(host), "math", &h, 0), 0);
    lua_ok("lusty.event:subscribe('math:add', function(x) return x + 1, true end)\n"
           "local r = lusty.event:publish('math:add:deep', 20)\n"
           "assert(#r == 2 and r[1] == 21 and r[2] == 40, #r)\n"
           "local cbs = lusty.event:getChannel('math').callbacks\n"
           "assert(#cbs == 1 and cbs[1].fn == nil and cbs[1].id > 0)");
    assert_int_equal(calls, 1);

    /* From C, the same way. */
    lua_pushnumber(L, 5);
    char *err = NULL;
    assert_int_equal(lusty_lua_host_publish(host, "math:add", 1, &err), 0);
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    assert_int_equal(lua_tointeger(L, -2), 6);
    assert_int_equal(lua_tointeger(L, -1), 10);
    lua_settop(L, 0);
    assert_int_equal(calls, 2);
    assert_int_equal(lusty_bus_unsubscribe(lusty_lua_host_bus(host), "", id), 0);
}

static void test_c_error_reaches_lua(void **state)
{
    (void)state;
    lusty_bus_handler_t h = {.cb = failing};
    uint64_t id;
    assert_int_equal(lusty_bus_subscribe(&id, lusty_lua_host_bus(host), "deny", &h, 0), 0);
    lua_ok("local ok, err = pcall(lusty.event.publish, lusty.event, 'deny:x')\n"
           "assert(not ok and err == 'C says no', err)");
    lusty_bus_unsubscribe(lusty_lua_host_bus(host), "", id);
}

static void test_no_growth(void **state)
{
    (void)state;
    lusty_bus_t *bus = lusty_lua_host_bus(host);
    lua_ok("lusty.event:subscribe('req', function(c) c.n = (c.n or 0) + 1 return nil, true end)");
    size_t before = lusty_bus_channel_total(bus);
    lua_ok("local c = {}\n"
           "for i = 1, 10000 do lusty.event:publish({'req', 'p' .. i}, c) end\n"
           "for i = 1, 10000 do lusty.event:publish('req:q' .. i .. ':x', c) end\n"
           "assert(c.n == 20000)");
    assert_int_equal(lusty_bus_channel_total(bus), before);
}

static void test_channel_objects_follow_the_bus(void **state)
{
    (void)state;
    lusty_bus_t *bus = lusty_lua_host_bus(host);
    lua_ok("local s = lusty.event:subscribe({'obj', 'a'}, function() end)\n"
           "local ch = lusty.event:getChannel('obj')\n"
           "assert(ch.channels.a == s.channel and s.channel.parent == ch)\n"
           "assert(#ch.channels.a.callbacks == 1)");
    assert_non_null(lusty_bus_find(bus, "obj:a"));
    assert_int_equal(lusty_bus_channel_count(lusty_bus_find(bus, "obj:a")), 1);
    /* A subscriber removed from C disappears from Lua's view. */
    lusty_bus_subscriber_t info;
    assert_int_equal(lusty_bus_channel_at(&info, lusty_bus_find(bus, "obj:a"), 0), 0);
    assert_int_equal(lusty_bus_unsubscribe(bus, "obj", info.id), 0);
    lua_ok("assert(#lusty.event:getChannel('obj:a').callbacks == 0)");
}

static void test_fresh_mediators_are_collected(void **state)
{
    (void)state;
    lua_ok("for i = 1, 2000 do\n"
           "  local m = require('mediator')()\n"
           "  m:subscribe('a:b', function() return i end)\n"
           "  assert(m:publish('a:b')[1] == i)\n"
           "end\n"
           "collectgarbage() collectgarbage()");
    lua_ok("local before = collectgarbage('count')\n"
           "for i = 1, 2000 do require('mediator')():subscribe('x', function() end) end\n"
           "collectgarbage() collectgarbage()\n"
           "assert(collectgarbage('count') < before + 200, collectgarbage('count') - before)");
}

static void test_bad_arguments(void **state)
{
    (void)state;
    lua_ok("assert(not pcall(lusty.event.publish, lusty.event, 42))\n"
           "assert(not pcall(lusty.event.publish, lusty.event, {{}}))\n"
           "assert(not pcall(lusty.event.subscribe, lusty.event, 'a'))\n"
           "assert(not pcall(lusty.event.publish, {}, 'a'))\n"
           "local parts = {} for i = 1, 100 do parts[i] = 'p' .. i end\n"
           "lusty.event:subscribe(parts, function() return 'deep' end)\n"
           "assert(lusty.event:publish(parts)[1] == 'deep')");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_c_and_lua_subscribers),
        cmocka_unit_test(test_c_error_reaches_lua),
        cmocka_unit_test(test_no_growth),
        cmocka_unit_test(test_channel_objects_follow_the_bus),
        cmocka_unit_test(test_fresh_mediators_are_collected),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
