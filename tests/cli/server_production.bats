#!/usr/bin/env bats
# lusty server --env production (docs/deploy.md): no error details in any
# response format while the log keeps them, no reload, a worker per CPU,
# JSON access log lines, --access-log reopened on SIGUSR1, the mode in the
# start-up block. Every server listens on 127.0.0.1, port 0, and is
# stopped by PID; every wait is bounded.
load helpers
load server_helpers

setup() {
    common_setup
    APP="$BATS_TEST_TMPDIR/app"
    cp -r "$LUSTY_SOURCE_DIR/tests/fixtures/app-forms" "$APP"
    SERVER_PID=
}

teardown() { kill_server; }

get() {
    curl -s --max-time 10 "$@"
}

url() {
    echo "http://127.0.0.1:$PORT$1"
}

# No response body may name a Lua file, the project's folder or a traceback.
refute_details() {
    refute_output --partial 'fail.lua'
    refute_output --partial 'traceback'
    refute_output --partial "$APP"
    refute_output --partial 'attempt to index'
    refute_output --partial 'in function'
}

@test "production: a handler error shows no message, file or traceback in HTML, JSON or text; the log has them" {
    start_server_in "$APP" --env production
    assert_file_contains "$BATS_TEST_TMPDIR/out" 'mode     production'
    run -0 get -i "$(url /fail)"
    assert_line --partial 'HTTP/1.1 500 Internal Server Error'
    refute_details
    run -0 get -H 'Accept: text/html' "$(url /fail)"
    assert_output --partial '<h1>Internal Server Error</h1>'
    refute_details
    run -0 get -H 'Accept: application/json' "$(url /fail)"
    assert_output '{"status":500,"error":"Internal Server Error"}'
    wait_for_lines "$BATS_TEST_TMPDIR/err" 'error: GET /fail: '
    run cat "$BATS_TEST_TMPDIR/err"
    assert_output --partial "error: GET /fail: app/handlers/fail.lua:4: attempt to index local 't'"
    assert_output --partial "app/handlers/fail.lua:10: in function"
    stop_server
}

@test "production: an app that fails to load answers a bare 500; the log names file and line" {
    printf 'return {\n  subscribers = {\n    ["request"] = { "handlers.echo" }\n  publishers = {},\n}\n' >"$APP/app/config.lua"
    LUSTY_ENV=production start_server_in "$APP"
    run -0 get -H 'Accept: application/json' "$(url /tags)"
    assert_output '{"status":500,"error":"Internal Server Error"}'
    run -0 get "$(url /tags)"
    refute_output --partial 'config.lua'
    refute_output --partial 'failed to load'
    run cat "$BATS_TEST_TMPDIR/err"
    assert_output --partial "the app failed to load: app/config.lua:4: '}' expected"
    stop_server
}

@test "development stays the default: details in responses, reload on, text log" {
    start_server_in "$APP"
    assert_file_contains "$BATS_TEST_TMPDIR/out" 'mode     development'
    assert_file_contains "$BATS_TEST_TMPDIR/out" 'reload   on'
    run -0 get "$(url /fail)"
    assert_output --partial 'app/handlers/fail.lua:4:'
    stop_server
}

@test "production: no reload, a worker per CPU, env from lusty.json; bad values refused" {
    python3 - "$APP/lusty.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); d["env"] = "production"
json.dump(d, open(sys.argv[1], "w"))
EOF
    start_server_in "$APP" --log-format json
    run -0 python3 -c 'import json, sys; d = json.loads(open(sys.argv[1]).readline()); print(d["env"], d["workers"], d["reload"])' "$BATS_TEST_TMPDIR/out"
    assert_output "production $(nproc) False"
    stop_server
    # The option beats lusty.json.
    start_server_in "$APP" --env development
    assert_file_contains "$BATS_TEST_TMPDIR/out" 'reload   on'
    stop_server
    run -2 "$LUSTY_BIN" server --env staging "$APP"
    assert_output --partial "lusty: error: invalid --env 'staging': use development or production"
    LUSTY_ENV=prod run -2 "$LUSTY_BIN" server "$APP"
    assert_output --partial "invalid LUSTY_ENV 'prod'"
    sed -i 's/"production"/"prod"/' "$APP/lusty.json"
    run -1 "$LUSTY_BIN" server "$APP"
    assert_output --partial 'env must be "development" or "production"'
}

@test "production: the access log is JSON lines; --access-log writes a file reopened on SIGUSR1" {
    start_server_in "$APP" --env production --access-log "$BATS_TEST_TMPDIR/access.log"
    assert_file_contains "$BATS_TEST_TMPDIR/out" 'access.log (reopened on SIGUSR1)'
    run -0 get "$(url '/echo/x?a="b"')"
    run -0 get "$(url /static/hello.txt)"
    wait_for_lines "$BATS_TEST_TMPDIR/access.log" '"status":200' 2
    mv "$BATS_TEST_TMPDIR/access.log" "$BATS_TEST_TMPDIR/access.log.1"
    # Until the signal, lines still go to the moved file.
    run -0 get "$(url /fail)"
    wait_for_lines "$BATS_TEST_TMPDIR/access.log.1" '"status":500'
    kill -USR1 "$SERVER_PID"
    for _ in $(seq 100); do [ -e "$BATS_TEST_TMPDIR/access.log" ] && break; sleep 0.05; done
    run -0 get "$(url /static/hello.txt)"
    wait_for_lines "$BATS_TEST_TMPDIR/access.log" '"path":"/static/hello.txt"'
    run -0 python3 -c '
import json, sys
for name in sys.argv[1:]:
    for line in open(name):
        d = json.loads(line)
        assert set(d) >= {"time", "method", "path", "status", "bytes", "ms", "worker"}, d
print(sum(1 for n in sys.argv[1:] for _ in open(n)))' "$BATS_TEST_TMPDIR/access.log.1" "$BATS_TEST_TMPDIR/access.log"
    assert_output 4
    # Nothing of the access log went to stdout.
    run -1 grep -c '"status"' "$BATS_TEST_TMPDIR/out"
    assert_output 0
    stop_server
}

@test "--access-log that cannot be opened is an error" {
    run -1 "$LUSTY_BIN" server --port 0 --access-log /nonexistent/dir/access.log "$APP"
    assert_output --partial "lusty: error: cannot open the access log '/nonexistent/dir/access.log'"
}

@test "production: an app's own 500 page is what a browser gets, never the development error page" {
    "$LUSTY_BIN" init "$BATS_TEST_TMPDIR/site" --no-git -q
    start_server_in "$BATS_TEST_TMPDIR/site" --env production
    run -0 get -H 'Accept: text/html' "$(url /boom)"
    assert_output --partial '<h1>500 Internal Server Error</h1>'
    refute_output --partial 'boom.lua'
    refute_output --partial 'traceback'
    stop_server
}
