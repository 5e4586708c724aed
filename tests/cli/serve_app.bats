#!/usr/bin/env bats
# lusty server running apps (docs/app-serving.md): the request context, the
# config forms of the contract with a fixture app of our own handler
# modules, the runtime's 404/500 pages, live reload, the Lua time budget
# and memory under many distinct URLs. Every server listens on 127.0.0.1,
# port 0, and is stopped by PID; every wait is bounded.
load helpers
load server_helpers

setup() {
    common_setup
    APP="$BATS_TEST_TMPDIR/app"
    cp -r "$LUSTY_SOURCE_DIR/tests/fixtures/app-forms" "$APP"
    SERVER_PID=
}

teardown() { kill_server; }

# Serves $APP with --quiet (extra arguments passed on).
start_server() {
    start_server_in "$APP" --quiet "$@"
}

get() {
    curl -s --max-time 10 "$@"
}

url() {
    echo "http://127.0.0.1:$PORT$1"
}

# Checks a JSON document on stdin with a Python expression over `d`.
json_check() {
    python3 -c 'import json, sys; d = json.load(sys.stdin); ok = eval("(" + sys.argv[1].strip() + ")"); sys.exit(0 if ok else print(json.dumps(d, indent=1), file=sys.stderr) or 1)' "$1"
}

# Polls URL until its body contains TEXT (up to 5 s).
wait_for_body() {
    local u=$1 text=$2
    for _ in $(seq 100); do
        if get "$(url "$u")" | grep -qF -- "$text"; then return 0; fi
        sleep 0.05
    done
    echo "no '$text' from $u: $(get "$(url "$u")")" >&2
    return 1
}

@test "the request context: method, uri, url, host, port, query, headers, body, params, suffix" {
    start_server
    run -0 get -H 'X-Custom: one' -H 'X-Custom: two' "$(url '/echo/a%20b/c/?x=1&y=2&y=3&flag&s=a+b%21')"
    echo "$output" | json_check '
        d["method"] == "GET" and d["uri"] == "/echo/a b/c/" and d["scheme"] == "http"
        and d["url"] == "http://127.0.0.1:%s/echo/a%%20b/c/" % '"$PORT"' and d["host"] == "127.0.0.1"
        and d["port"] == '"$PORT"' and d["queryString"] == "x=1&y=2&y=3&flag&s=a+b%21"
        and d["query"] == {"x": "1", "y": ["2", "3"], "flag": True, "s": "a b!"}
        and d["headers"]["x-custom"] == ["one", "two"] and d["headers"]["host"] == "127.0.0.1:'"$PORT"'"
        and d["body"] is False and d["params"] == {} and d["suffix"] == ["echo", "a b", "c"]
        and d["status"] == 200 and d["hasInput"] and d["channel"] == ["request", "echo"]'
    run -0 get -X POST -H 'Host: example.com' --data 'name=Ada+L&tags=a&tags=b&x=%3D' "$(url /echo)"
    echo "$output" | json_check '
        d["method"] == "POST" and d["body"] == "name=Ada+L&tags=a&tags=b&x=%3D"
        and d["params"] == {"name": "Ada L", "tags": ["a", "b"], "x": "="}
        and d["host"] == "example.com" and d["port"] == 80 and d["url"] == "http://example.com/echo"'
    run -0 get -X PUT -H 'Content-Type: application/json' --data '{"a":1}' "$(url /echo)"
    echo "$output" | json_check 'd["method"] == "PUT" and d["body"] == "{\"a\":1}" and d["params"] == {}'
    stop_server
}

@test "config forms: string, one-entry-table and hash entries, seed-style modules, context modules, global" {
    start_server
    run -0 get "$(url /tags)"
    assert_output '{"tags":["first","second","hash"]}'
    run -0 get "$(url /seed/any/thing)"
    echo "$output" | json_check 'd == {"seed": "seeded", "hasApp": True}'
    # Context module: a global field (read through) and a per-request function.
    get "$(url /echo)" | json_check 'd["stamp"] == "stamped" and d["requestStamp"] == "stamped 3" and d["global"] == "fixture"'
    get "$(url /echo)" | json_check 'd["requestStamp"] == "stamped 4"'
    stop_server
}

@test "response: send adds a newline, flush streams, end answers empty, a status with no body" {
    start_server
    run -0 get -i "$(url /stream)"
    assert_line --partial 'HTTP/1.1 201 Created'
    assert_line --partial 'Transfer-Encoding: chunked'
    assert_line --partial 'content-type: text/plain'
    assert_line 'one two three'
    run -0 get -o /dev/null -w '%{http_code} %{size_download}' "$(url /ended)"
    assert_output '200 0'
    run -0 get -i "$(url /redirect)"
    assert_line --partial 'HTTP/1.1 302 Found'
    assert_line --partial 'location: /echo'
    get "$(url /tags)" -o "$BATS_TEST_TMPDIR/body"
    assert_equal "$(tail -c 1 "$BATS_TEST_TMPDIR/body" | od -An -tx1 | tr -d ' ')" "0a"
    # HEAD: the headers of GET, no body.
    run -0 get -I "$(url /tags)"
    assert_line --partial 'HTTP/1.1 200 OK'
    stop_server
}

@test "nobody answered: the runtime's 404 as text, HTML or JSON; static files still served" {
    start_server
    run -0 get -i "$(url /nothing/here)"
    assert_line --partial 'HTTP/1.1 404 Not Found'
    assert_line '404 Not Found'
    run -0 get -H 'Accept: text/html,application/xhtml+xml,*/*;q=0.8' "$(url /nothing)"
    assert_output --partial '<title>404 Not Found</title>'
    run -0 get -H 'Accept: application/json' "$(url /nothing)"
    echo "$output" | json_check 'd == {"status": 404, "error": "Not Found"}'
    run -0 get "$(url /static/hello.txt)"
    assert_output 'fixture static'
    stop_server
}

@test "an unanswered handler error: 500 with the message, file, line and traceback, in each format" {
    start_server
    run -0 get -i "$(url /fail)"
    assert_line --partial 'HTTP/1.1 500 Internal Server Error'
    assert_line "app/handlers/fail.lua:4: attempt to index local 't' (a nil value)"
    assert_line --partial "app/handlers/fail.lua:10: in function"
    refute_output --partial "$APP"
    run -0 get -H 'Accept: text/html' "$(url /fail)"
    assert_output --partial '<pre class="message">app/handlers/fail.lua:4: attempt to index local &#39;t&#39;' || \
        assert_output --partial "<pre class=\"message\">app/handlers/fail.lua:4: attempt to index local 't'"
    run -0 get -H 'Accept: application/json' "$(url /fail)"
    echo "$output" | json_check 'd["status"] == 500 and d["message"].startswith("app/handlers/fail.lua:4: ") and "app/handlers/fail.lua:10" in d["trace"]'
    wait_for_lines "$BATS_TEST_TMPDIR/err" 'error: GET /fail: '
    run cat "$BATS_TEST_TMPDIR/err"
    assert_output --partial "error: GET /fail: app/handlers/fail.lua:4: attempt to index local 't'"
    stop_server
}

@test "a broken config is shown in the console and on every page, then fixed without a restart" {
    start_server
    run -0 get "$(url /tags)"
    cp "$APP/app/config.lua" "$BATS_TEST_TMPDIR/config.lua"
    printf 'return {\n  subscribers = {\n    ["request"] = { "handlers.echo" }\n  publishers = {},\n}\n' >"$APP/app/config.lua"
    wait_for_body /tags 'The app failed to load'
    run -0 get -i "$(url /tags)"
    assert_line --partial 'HTTP/1.1 500'
    assert_output --partial "app/config.lua:4: '}' expected (to close '{' at line 2) near 'publishers'"
    run -0 get "$(url /static/hello.txt)"
    assert_output 'fixture static'
    run cat "$BATS_TEST_TMPDIR/err"
    assert_output --partial "the app failed to load: app/config.lua:4: '}' expected"
    cp "$BATS_TEST_TMPDIR/config.lua" "$APP/app/config.lua"
    wait_for_body /tags '"hash"'
    stop_server
}

@test "a broken handler module is shown with its file and line, then fixed" {
    start_server
    cp "$APP/app/handlers/tag.lua" "$BATS_TEST_TMPDIR/tag.lua"
    printf 'return {\n  handler = function(context)\n    local x = = 1\n  end,\n}\n' >"$APP/app/handlers/tag.lua"
    wait_for_body /tags 'The app failed to load'
    run -0 get -H 'Accept: application/json' "$(url /tags)"
    echo "$output" | json_check '"app/handlers/tag.lua:3:" in d["message"] and d["status"] == 500'
    run cat "$BATS_TEST_TMPDIR/err"
    assert_output --partial "the app failed to load: "
    assert_output --partial "app/handlers/tag.lua:3: unexpected symbol near '='"
    # A new subfolder is watched too.
    cp "$BATS_TEST_TMPDIR/tag.lua" "$APP/app/handlers/tag.lua"
    wait_for_body /tags '"hash"'
    mkdir -p "$APP/app/more/deep"
    printf 'return { handler = function(context) context.output.deep = true end }\n' >"$APP/app/more/deep/h.lua"
    sed -i "s|\['request:echo'\] = { 'handlers.echo' },|['request:echo'] = { 'handlers.echo' }, ['request:deep'] = { 'more.deep.h' },|" "$APP/app/config.lua"
    wait_for_body /deep '"deep":true'
    printf 'return { handler = function(context) context.output.deep = "edited" end }\n' >"$APP/app/more/deep/h.lua"
    wait_for_body /deep '"deep":"edited"'
    stop_server
}

@test "--no-reload: changes are not picked up" {
    # A second server on the same app, reloading, is the yardstick: once it
    # has picked the change up, the first had every chance to as well.
    (cd "$APP" && exec "$LUSTY_BIN" server --port 0 --quiet) \
        >"$BATS_TEST_TMPDIR/out2" 2>"$BATS_TEST_TMPDIR/err2" 3>&- &
    local yardstick=$!
    wait_for_lines "$BATS_TEST_TMPDIR/out2" 'http://127\.0\.0\.1:[0-9]+/'
    local port2
    port2=$(sed -n 's|.*http://127\.0\.0\.1:\([0-9][0-9]*\)/.*|\1|p' "$BATS_TEST_TMPDIR/out2" | head -1)
    start_server --no-reload
    run -0 get "$(url /tags)"
    sed -i "s/tag = 'first'/tag = 'changed'/" "$APP/app/config.lua"
    local changed=
    for _ in $(seq 100); do
        get "http://127.0.0.1:$port2/tags" | grep -q changed && changed=1 && break
        sleep 0.05
    done
    kill "$yardstick"
    wait "$yardstick" || true
    [ -n "$changed" ]
    run -0 get "$(url /tags)"
    assert_output '{"tags":["first","second","hash"]}'
    stop_server
}

@test "runaway handlers: the time budget stops them with a 500 and the worker goes on" {
    start_server --lua-budget 300
    # A loop the JIT compiles: the budget check in its body still raises.
    start=$(date +%s%N)
    run -0 get -H 'Accept: application/json' "$(url /spin)"
    echo "$output" | json_check 'd["status"] == 500 and d["message"] == "app/handlers/spin.lua:5: request exceeded its Lua time budget of 300 ms"'
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    [ "$ms" -lt 3000 ]
    run -0 get "$(url /tags)"
    assert_output '{"tags":["first","second","hash"]}'
    # In the interpreter, around pcall: raised at the handler's line.
    run -0 get -H 'Accept: application/json' "$(url /busy)"
    echo "$output" | json_check 'd["status"] == 500 and d["message"] == "app/handlers/busy.lua:5: request exceeded its Lua time budget of 300 ms"'
    # A handler that catches the error and loops on is stopped for good.
    run -0 get -o /dev/null -w '%{http_code}' "$(url /stubborn)"
    assert_output 500
    run -0 get "$(url /tags)"
    assert_output '{"tags":["first","second","hash"]}'
    # The same state serves on (nothing is abandoned): again.
    run -0 get -o /dev/null -w '%{http_code}' "$(url /spin)"
    assert_output 500
    run -0 get -o /dev/null -w '%{http_code}' "$(url /echo)"
    assert_output 200
    stop_server
    run cat "$BATS_TEST_TMPDIR/err"
    assert_output --partial 'GET /stubborn: the request ran over its Lua time budget of 300 ms and was stopped'
}

@test "the time budget comes from server.lua_budget_ms; bad values are usage errors" {
    python3 - "$APP/lusty.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d["server"]["lua_budget_ms"] = 250
json.dump(d, open(sys.argv[1], "w"))
PY
    start_server
    run -0 get -H 'Accept: application/json' "$(url /busy)"
    assert_output --partial 'time budget of 250 ms'
    stop_server
    run -2 --separate-stderr "$LUSTY_BIN" server --lua-budget soon "$APP"
    assert_equal "$stderr" "lusty: error: invalid --lua-budget 'soon': use a number of milliseconds (0: no limit)"
}

@test "the start-up block shows the app's channels, subscribers and publishers" {
    (cd "$APP" && exec "$LUSTY_BIN" server --port 0) >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" &
    SERVER_PID=$!
    for _ in $(seq 100); do grep -q 'Press Ctrl-C' "$BATS_TEST_TMPDIR/out" && break; sleep 0.05; done
    run cat "$BATS_TEST_TMPDIR/out"
    assert_line '  app      app/config.lua: 17 channels, 18 subscribers, 2 publishers'
    assert_line '  reload   on (app/, lusty_modules/, lusty.json)'
    assert_line '  budget   10000 ms of Lua per request'
    stop_server
}

@test "memory stays flat under requests to many distinct URLs" {
    # Under AddressSanitizer, freed memory waits in a quarantine (256 MB by
    # default) before reuse: keep it small so that RSS shows real growth.
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=4"
    start_server
    python3 - "$PORT" "$SERVER_PID" <<'PY'
import http.client, sys
port, pid = int(sys.argv[1]), sys.argv[2]
def rss():
    for line in open("/proc/%s/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
def run(start, n):
    for i in range(start, start + n):
        c.request("GET", "/echo/u%d/%d?q=%d" % (i, i * 7, i))
        r = c.getresponse(); r.read()
        assert r.status == 200, r.status
run(0, 3000)
before = rss()
run(3000, 20000)
after = rss()
print("RSS %d KiB -> %d KiB" % (before, after), file=sys.stderr)
# 20,000 distinct paths: a node kept per path would be ~80 MB.
assert after - before < 8 * 1024, (before, after)
PY
    stop_server
}

@test "requests that wait: many sleeping requests are answered together" {
    start_server
    start=$(date +%s%N)
    pids=()
    for i in $(seq 20); do
        get -o "$BATS_TEST_TMPDIR/nap.$i" "$(url '/nap?s=0.5')" &
        pids+=($!)
    done
    wait "${pids[@]}"
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    for i in $(seq 20); do
        run cat "$BATS_TEST_TMPDIR/nap.$i"
        assert_output 'slept 0.5'
    done
    # One after another they would take 10 s.
    [ "$ms" -lt 4000 ] || { echo "took $ms ms" >&2; false; }
    # A sleep in a nested publish's subscriber, and after a flush.
    run -0 get "$(url '/nap?s=0.1&nested=1')"
    assert_output 'slept in a subscriber'
    run -0 get "$(url '/nap?s=0.1&stream=1')"
    assert_output 'before slept 0.1'
    stop_server
}

@test "requests that wait: a client that leaves, and a reload, while requests sleep" {
    start_server
    # Clients that give up after 0.2 s of a 0.6 s sleep.
    pids=()
    for i in $(seq 5); do
        curl -s --max-time 0.2 "$(url '/nap?s=0.6')" >/dev/null &
        pids+=($!)
    done
    # Requests on the old code, then a change: they finish on the old code.
    # (?stream=1 sends "before " first: the request has started.)
    get -N -o "$BATS_TEST_TMPDIR/old" "$(url '/nap?s=0.8&stream=1')" &
    old=$!
    wait_for_lines "$BATS_TEST_TMPDIR/old" '^before'
    sed -i "s/tag = 'first'/tag = 'changed'/" "$APP/app/config.lua"
    for _ in $(seq 100); do
        [ "$(get "$(url /tags)")" = '{"tags":["changed","second","hash"]}' ] && break
        sleep 0.05
    done
    run -0 get "$(url /tags)"
    assert_output '{"tags":["changed","second","hash"]}'
    wait "$old"
    run cat "$BATS_TEST_TMPDIR/old"
    assert_output 'before slept 0.8'
    wait "${pids[@]}" || true
    run -0 get "$(url '/nap?s=0')"
    assert_output 'slept 0'
    stop_server
}

@test "requests that wait: the budget counts Lua time over every resume" {
    start_server --lua-budget 300
    run -0 get -H 'Accept: application/json' "$(url /napbusy)"
    echo "$output" | json_check 'd["status"] == 500 and "napbusy.lua" in d["message"] and "time budget of 300 ms" in d["message"]'
    stop_server
}

@test "lusty.timer runs later, outside the request; its errors are logged with file and line" {
    start_server
    run -0 get "$(url /later)"
    assert_output 'true nil'
    run -0 get "$(url '/later?fail=1')"
    assert_output 'true nil'
    for _ in $(seq 100); do
        grep -q 'the timer failed' "$BATS_TEST_TMPDIR/err" && grep -q 'timer ran: hello' "$BATS_TEST_TMPDIR/err" && break
        sleep 0.05
    done
    run cat "$BATS_TEST_TMPDIR/err"
    assert_output --partial 'timer ran: hello'
    assert_output --partial 'app/handlers/later.lua:6: the timer failed: hello'
    # The worker goes on.
    run -0 get "$(url '/nap?s=0')"
    assert_output 'slept 0'
    stop_server
}

@test "a loop in app/config.lua fails the load within the budget; the server serves on and reloads" {
    start_server --lua-budget 300
    cp "$APP/app/config.lua" "$BATS_TEST_TMPDIR/config.lua"
    printf 'while true do end\n' >"$APP/app/config.lua"
    for _ in $(seq 100); do
        grep -q 'loading the app exceeded its Lua time budget' "$BATS_TEST_TMPDIR/err" && break
        sleep 0.05
    done
    run -0 get -H 'Accept: application/json' "$(url /tags)"
    echo "$output" | json_check 'd["status"] == 500 and "app/config.lua:1: loading the app exceeded its Lua time budget of 300 ms" in d["message"]'
    run -0 get "$(url /static/hello.txt)"
    [ -n "$output" ]
    cp "$BATS_TEST_TMPDIR/config.lua" "$APP/app/config.lua"
    for _ in $(seq 100); do
        [ "$(get "$(url /tags)")" = '{"tags":["first","second","hash"]}' ] && break
        sleep 0.05
    done
    run -0 get "$(url /tags)"
    assert_output '{"tags":["first","second","hash"]}'
    stop_server
}

@test "a reload names the file that changed" {
    start_server_in "$APP"
    sed -i 's/^/ /' "$APP/app/handlers/tag.lua"
    for _ in $(seq 100); do
        grep -q 'reloaded' "$BATS_TEST_TMPDIR/out" && break
        sleep 0.05
    done
    run cat "$BATS_TEST_TMPDIR/out"
    assert_output --regexp '[0-9:]+ reloaded app/handlers/tag\.lua'
    stop_server
}

@test "the same request error again is one line, not the whole traceback again" {
    start_server
    for _ in 1 2 3; do
        run -0 get -o /dev/null "$(url /fail)"
    done
    stop_server
    run grep -c 'stack traceback' "$BATS_TEST_TMPDIR/err"
    assert_output 1
    run grep -c 'GET /fail: .*(the same error again)' "$BATS_TEST_TMPDIR/err"
    assert_output 2
}

@test "the server runs in the project root, wherever it was started from" {
    start_server_in "$APP/app/handlers" --quiet
    run -0 get "$(url /cwd)"
    assert_output 'found'
    stop_server
    (cd / && exec "$LUSTY_BIN" server --port 0 --quiet "$APP") >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" &
    SERVER_PID=$!
    for _ in $(seq 200); do
        PORT=$(sed -n 's|.*http://127\.0\.0\.1:\([0-9][0-9]*\)/.*|\1|p' "$BATS_TEST_TMPDIR/out" | head -1)
        [ -n "$PORT" ] && break
        sleep 0.05
    done
    run -0 get "$(url /cwd)"
    assert_output 'found'
    stop_server
}

@test "a Lua file saved with a syntax error is reported on save" {
    start_server
    printf 'return {\n  handler = function( end,\n}\n' >"$APP/app/later.lua"
    for _ in $(seq 100); do
        grep -q 'syntax error:' "$BATS_TEST_TMPDIR/err" && break
        sleep 0.05
    done
    run cat "$BATS_TEST_TMPDIR/err"
    assert_output --regexp 'syntax error: app/later\.lua:2: '
    stop_server
}

@test "a file saved by truncating then writing is loaded with its content, never empty" {
    start_server_in "$APP"
    # Saved as a shell or many editors save: truncate, then write. The
    # reload comes in between and loads the module.
    cp "$APP/app/handlers/stream.lua" "$BATS_TEST_TMPDIR/stream.lua"
    : >"$APP/app/handlers/stream.lua"
    (sleep 0.03 && cat "$BATS_TEST_TMPDIR/stream.lua" >>"$APP/app/handlers/stream.lua") &
    writer=$!
    wait_for_lines "$BATS_TEST_TMPDIR/out" 'reloaded'
    run -0 curl -s -w '%{http_code}' -o "$BATS_TEST_TMPDIR/body" --max-time 10 "$(url /stream)"
    assert_output 201
    assert_equal "$(cat "$BATS_TEST_TMPDIR/body")" 'one two three'
    wait "$writer"
    # No reload loaded the empty file in the meantime.
    run grep -c 'failed to load' "$BATS_TEST_TMPDIR/err"
    assert_output 0
    stop_server
}
