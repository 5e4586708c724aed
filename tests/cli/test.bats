#!/usr/bin/env bats
# lusty test: the app's specs with busted inside the app's host, request()
# through the pipeline, exit 1 on a failing spec, --filter, --tap, --json.
bats_require_minimum_version 1.5.0
load helpers

setup() {
    common_setup
    APP="$BATS_TEST_TMPDIR/app"
    cp -r "$LUSTY_SOURCE_DIR/tests/fixtures/routes-app" "$APP"
    cd "$APP"
}

@test "test runs the app's specs from spec/ and passes" {
    run -0 --separate-stderr lusty test
    assert_line --regexp '^3 successes / 0 failures / 0 errors'
}

@test "test fails when a spec fails, saying which and where" {
    cat >spec/broken_spec.lua <<'LUA'
describe('broken', function()
  it('expects the wrong status', function()
    assert.are.equal(404, request('GET', '/users/1').status)
  end)
end)
LUA
    run -1 --separate-stderr lusty test
    assert_output --partial 'broken expects the wrong status'
    assert_output --partial 'spec/broken_spec.lua:3'
    assert_line --regexp '^3 successes / 1 failure / 0 errors'
}

@test "test finds the project's specs from a subfolder, and takes paths" {
    cd app/requests
    run -0 --separate-stderr lusty test
    assert_line --regexp '^3 successes'
    mkdir -p "$BATS_TEST_TMPDIR/other"
    cat >"$BATS_TEST_TMPDIR/other/one_spec.lua" <<'LUA'
it('runs', function() assert.is_table(lusty) end)
LUA
    run -0 --separate-stderr lusty test "$BATS_TEST_TMPDIR/other"
    assert_line --regexp '^1 success / 0 failures'
}

@test "test --filter runs the matching specs, --tap and --json print for scripts" {
    run -0 --separate-stderr lusty test --tap --filter 405
    assert_output 'ok 1 - users answers a wrong method with 405
1..1'
    run -0 --separate-stderr lusty test --json
    echo "$output" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert len(r["successes"]) == 3 and r["failures"] == [], r
'
}

@test "test without spec/ or test/ fails with a hint" {
    rm -r spec
    run -1 --separate-stderr lusty test
    assert_stderr_line 0 "lusty: error: no specs: '$APP' has no spec/ or test/ folder"
    assert_stderr_line_regexp 1 '^hint: '
}

@test "a project made by lusty init passes its own specs" {
    cd "$BATS_TEST_TMPDIR"
    run -0 lusty init fresh --no-git --quiet
    cd fresh
    run -0 --separate-stderr lusty test
    assert_line --regexp '^3 successes / 0 failures / 0 errors'
}
