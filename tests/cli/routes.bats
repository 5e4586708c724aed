#!/usr/bin/env bats
# lusty routes (and the router's methods over HTTP): the routes in match
# order, --json, shadowed routes flagged, 405 with Allow.
bats_require_minimum_version 1.5.0
load helpers
load server_helpers

setup() {
    common_setup
    APP="$LUSTY_SOURCE_DIR/tests/fixtures/routes-app"
    SERVER_PID=
}

teardown() { kill_server; }

@test "routes lists method, path and file in match order and flags shadowed routes" {
    run -0 --separate-stderr lusty routes "$APP"
    assert_line --index 0 --regexp '^#   METHOD +PATH +FILE$'
    assert_line --index 1 --regexp '^1   GET +/users/\{id\} +app/requests/users/show.lua$'
    assert_line --index 2 --regexp '^2   POST,PUT +/users +app/requests/users/write.lua$'
    assert_line --index 3 --regexp '^3   \* +/users/new +app/requests/users/show.lua$'
    assert_line --index 4 --regexp '^4   GET +/users/me +app/requests/users/show.lua  \(never matches: shadowed by #1\)$'
    assert_line --index 5 --regexp '^5   \(error\) +/404 +'
    assert_equal "$stderr" "lusty: warning: route #4 'GET users/me' (request) never matches: route #1 'GET users/{id}' comes first and takes all it would"
}

@test "routes --json is an array of routes" {
    run -0 --separate-stderr lusty routes --json "$APP"
    echo "$output" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert [x["path"] for x in r] == ["/users/{id}", "/users", "/users/new", "/users/me", "/404"], r
assert r[0]["methods"] == ["GET"] and r[2]["methods"] is None, r
assert r[1]["methods"] == ["POST", "PUT"], r
assert r[3]["shadowedBy"] == 1 and r[2]["shadowedBy"] is None, r
assert r[4]["error"] is True and r[0]["file"] == "app/requests/users/show.lua", r
'
}

@test "routes outside a project fails, and takes one folder" {
    cd "$BATS_TEST_TMPDIR"
    run -1 --separate-stderr lusty routes
    assert_stderr_line_regexp 0 '^lusty: error: '
    run -2 --separate-stderr lusty routes a b
    assert_equal "$stderr" "lusty: error: 'lusty routes' takes at most one folder"
}

@test "the server answers a wrong method with 405 and Allow, HEAD as GET" {
    start_server_in "$APP" --quiet
    run -0 curl -s --max-time 10 "http://127.0.0.1:$PORT/users/7"
    assert_output 'user 7'
    run -0 curl -s --max-time 10 -o /dev/null -w '%{http_code}' -I "http://127.0.0.1:$PORT/users/7"
    assert_output '200'
    run -0 curl -s --max-time 10 -D - -o /dev/null -X DELETE "http://127.0.0.1:$PORT/users"
    assert_line --regexp '^HTTP/1.1 405'
    assert_line --regexp '^[Aa]llow: POST, PUT'
    run -0 curl -s --max-time 10 -X PUT "http://127.0.0.1:$PORT/users"
    assert_output --partial '"written":true'
}
