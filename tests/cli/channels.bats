#!/usr/bin/env bats
# lusty channels: the app's channel tree and subscribers.
load helpers

setup() {
    common_setup
    APP="$LUSTY_SOURCE_DIR/tests/fixtures/lua-app"
}

@test "channels prints the tree with subscribers in order" {
    run -0 --separate-stderr lusty channels "$APP"
    [ -z "$stderr" ]
    assert_line --index 0 'data'
    assert_line '  users'
    assert_line '      1. data.users.handlers#get'
    assert_line 'request'
    assert_line '  1. handlers.record (predicate)'
    assert_line '  3. handlers.stop'
    assert_line '  users'
    assert_line '    1. handlers.record (predicate)'
    assert_line '  1. repo.handler'
}

@test "channels finds the project from a subfolder" {
    cd "$APP/app/lib"
    run -0 --separate-stderr lusty channels
    assert_line 'request'
}

@test "channels --json is an array of channels with their subscribers" {
    run -0 --separate-stderr lusty channels --json "$APP"
    echo "$output" | python3 -c '
import json, sys
chs = json.load(sys.stdin)
by = {c["channel"]: c for c in chs}
req = by["request"]["subscribers"]
assert [s["module"] for s in req] == ["handlers.record", "handlers.record", "handlers.stop"], req
assert [s["priority"] for s in req] == [1, 2, 3]
assert req[0]["predicate"] is True and req[2]["predicate"] is False
assert by["request:users"]["depth"] == 2
assert by["data:users"]["subscribers"] == []
assert "log" not in by  # context modules subscribe nothing
'
}

@test "channels outside a project fails with a hint" {
    run -1 --separate-stderr lusty channels
    assert_equal "$stderr" "lusty: error: no lusty.json in '.' or any folder above it
hint: run it inside a project, or give the project's folder"
}

@test "channels takes one folder" {
    run -2 --separate-stderr lusty channels a b
    assert_equal "$stderr" "lusty: error: 'lusty channels' takes at most one folder"
}
