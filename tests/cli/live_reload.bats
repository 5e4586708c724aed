#!/usr/bin/env bats
# Live reload in the browser (development): the script lusty server puts
# into HTML pages, its event stream at /__lusty/live, and the development
# error page, checked in headless Chromium (tests/cli/browser_drive.py,
# the DevTools protocol on a pipe) and with curl. Servers listen on
# 127.0.0.1, port 0, and are stopped by PID.
load helpers
load server_helpers

setup() {
    common_setup
    SERVER_PID=
    APP="$BATS_TEST_TMPDIR/app"
    "$LUSTY_BIN" init "$APP" --no-git -q
}

teardown() { kill_server; }

HTML='Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'

need_chromium() {
    command -v chromium >/dev/null ||
        skip "chromium is not installed (scripts/setup installs Debian's chromium)"
}

drive() {
    timeout 60 python3 "$LUSTY_SOURCE_DIR/tests/cli/browser_drive.py" "$@"
}

@test "browser: saving a view or a route file reloads the open page; a stylesheet is swapped without a reload" {
    need_chromium
    start_server_in "$APP" --quiet
    run drive reload "http://127.0.0.1:$PORT/" "$APP/app/views/pages/index.mustache" \
        '{{message}}' 'Edited view '
    assert_success
    run drive reload "http://127.0.0.1:$PORT/" "$APP/app/requests/index.lua" \
        'Welcome to' 'Edited route '
    assert_success
    run drive css "http://127.0.0.1:$PORT/" "$APP/static/css/app.css"
    assert_success
    assert_output 'css swapped'
    stop_server
}

@test "browser: a failing request shows the development error page with file and line" {
    need_chromium
    start_server_in "$APP" --quiet
    run drive text "http://127.0.0.1:$PORT/boom"
    assert_success
    assert_output --partial 'app/requests/boom.lua:7: boom: this route fails on purpose'
    assert_output --partial 'app/requests/boom.lua, line 7'
    stop_server
}

@test "the live script goes into HTML pages for browsers only, and the stream tells of changes" {
    start_server_in "$APP" --quiet
    run curl -s --max-time 10 -H "$HTML" "http://127.0.0.1:$PORT/"
    assert_output --regexp '<script data-lusty-live>.*</script>
</body>'
    page=$(grep -o 'page=[0-9a-f]*-[0-9]*' <<<"$output")
    # Not for curl's */*, nor into JSON, nor into static files.
    run curl -s --max-time 10 "http://127.0.0.1:$PORT/"
    refute_output --partial 'data-lusty-live'
    run curl -s --max-time 10 -H 'Accept: application/json' "http://127.0.0.1:$PORT/users"
    refute_output --partial 'data-lusty-live'
    run curl -s --max-time 10 -H "$HTML" "http://127.0.0.1:$PORT/static/css/app.css"
    refute_output --partial 'data-lusty-live'
    # The runtime's own pages get it too (the fixed app shows after a save).
    echo 'return {' >"$APP/app/config.lua"
    wait_for_lines "$BATS_TEST_TMPDIR/err" 'failed to load'
    run curl -s --max-time 10 -H "$HTML" "http://127.0.0.1:$PORT/"
    assert_output --partial 'The app failed to load'
    assert_output --partial 'data-lusty-live'
    # A page as of an older change is told to reload as soon as it connects.
    run curl -sN --max-time 1 "http://127.0.0.1:$PORT/__lusty/live?$page"
    assert_output --partial 'event: reload'
    stop_server
}

@test "the stream is off in production and with --no-reload, and holds no stop" {
    start_server_in "$APP" --quiet --env production
    run curl -s --max-time 10 -H "$HTML" "http://127.0.0.1:$PORT/"
    refute_output --partial 'data-lusty-live'
    run curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$PORT/__lusty/live"
    assert_output 404
    stop_server
    start_server_in "$APP" --quiet --no-reload
    run curl -s --max-time 10 -H "$HTML" "http://127.0.0.1:$PORT/"
    refute_output --partial 'data-lusty-live'
    stop_server
    # Development: an open stream ends at SIGTERM, well within the 5 s the
    # server gives requests in flight.
    start_server_in "$APP" --quiet
    curl -sN --max-time 20 "http://127.0.0.1:$PORT/__lusty/live" >"$BATS_TEST_TMPDIR/sse" &
    curl_pid=$!
    wait_for_lines "$BATS_TEST_TMPDIR/sse" '^retry: '
    start=$(date +%s%N)
    stop_server
    elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
    wait "$curl_pid"
    [ "$elapsed" -lt 2000 ] || { echo "the stop took $elapsed ms" >&2; false; }
}
