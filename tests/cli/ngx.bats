#!/usr/bin/env bats
# The `ngx` API on lusty server (docs/ngx.md), with the fixture app
# tests/fixtures/app-ngx whose handlers use ngx as OpenResty code does, and
# the errors a handler raises after its answer went out (no silent
# errors). One server per test, on 127.0.0.1 port 0, stopped by PID.
load helpers
load server_helpers

setup() {
    common_setup
    APP="$BATS_TEST_TMPDIR/app"
    cp -r "$LUSTY_SOURCE_DIR/tests/fixtures/app-ngx" "$APP"
    SERVER_PID=
    NGINX_PID=
}

teardown() {
    kill_server
    if [ -n "${NGINX_PID:-}" ]; then kill "$NGINX_PID" 2>/dev/null || true; fi
}

get() { curl -s --max-time 10 "$@"; }
url() { echo "http://127.0.0.1:$PORT$1"; }

json_check() {
    python3 -c 'import json, sys; d = json.load(sys.stdin); ok = eval("(" + sys.argv[1].strip() + ")"); sys.exit(0 if ok else print(json.dumps(d, indent=1), file=sys.stderr) or 1)' "$1"
}

@test "ngx output: say/print with nested arrays, status, multi-value headers, log and print" {
    start_server_in "$APP" --quiet
    run -0 get -i "$(url /say)"
    assert_line --partial 'HTTP/1.1 201 Created'
    assert_line --partial 'Set-Cookie: a=1'
    assert_line --partial 'Set-Cookie: b=2'
    assert_line --partial 'x-answer: 42'
    assert_line --partial 'content-type: text/plain'
    assert_line --partial 'hello world'
    assert_line --partial '1niltruenull'
    wait_for_lines "$BATS_TEST_TMPDIR/err" '^WARN lua: app/handlers/say\.lua:10: warned 7$'
    wait_for_lines "$BATS_TEST_TMPDIR/err" '^INFO lua: app/handlers/say\.lua:11: printed$'
    # A subrequest through the app's own pipeline sees the same answer.
    run -0 get "$(url /capture)"
    assert_line --index 0 '201 42 25'
    assert_line --index 1 'hello world'
    stop_server
}

@test "ngx.req and ngx.var read the request; set_header and ngx.var writes are seen" {
    start_server_in "$APP" --quiet
    get -H 'X-Custom: c' "$(url '/req?x=1&y=2&y=3')" | json_check '
        d["method"] == "GET" and d["custom"] == "c" and d["added"] == "yes"
        and d["args"] == {"x": "1", "y": ["2", "3"]} and d["post"] == {} and d["body"] is None
        and d["file"] and d["uri"] == "/req" and d["request_uri"] == "/req?x=1&y=2&y=3"
        and d["query"] == "x=1&y=2&y=3" and d["host"] == "127.0.0.1" and d["port"] == "'"$PORT"'"
        and d["scheme"] == "http" and d["http_custom"] == "c" and d["arg_x"] == "1"
        and d["request_method"] == "GET" and d["mine"] == "set" and d["remote_addr"] == "127.0.0.1"'
    get --data 'a=1&b=%20' "$(url /req)" | json_check '
        d["method"] == "POST" and d["post"] == {"a": "1", "b": " "} and d["body"] == "a=1&b=%20"
        and d["query"] is None'
    stop_server
}

@test "ngx.exit, ngx.redirect, ngx.sleep with ngx.ctx, and what is not provided" {
    start_server_in "$APP" --quiet
    run -0 get -o /dev/null -w '%{http_code}' "$(url /exit)"
    assert_output 403
    run -0 get -o /dev/null -w '%{http_code} %{size_download}' "$(url '/exit?status=200')"
    assert_output '200 0'
    run -0 get -o /dev/null -w '%{http_code} %{redirect_url}' "$(url /redirect)"
    assert_output "302 $(url '/there?x=1')"
    # Two requests sleep at once on one worker, each keeping its ngx.ctx.
    get "$(url '/nap?who=one')" >"$BATS_TEST_TMPDIR/one" &
    local one=$!
    run -0 get "$(url '/nap?who=two')"
    assert_output 'after the nap: two'
    wait "$one"
    run cat "$BATS_TEST_TMPDIR/one"
    assert_output 'after the nap: one'
    run -0 get "$(url /missing)"
    assert_output --partial 'ngx.socket.tcp is not provided by lusty server'
    # ngx.exit stopped the pipeline: handlers.never raised nothing.
    run grep -c 'did not stop' "$BATS_TEST_TMPDIR/err"
    assert_output 0
    stop_server
}

@test "an OpenResty-style response adapter over ngx, and a log subscriber using ngx.log" {
    start_server_in "$APP" --quiet
    run -0 get -i "$(url /adapter)"
    assert_line --partial 'HTTP/1.1 202 Accepted'
    assert_line --partial 'X-Adapter: on'
    assert_line --partial 'through the adapter'
    wait_for_lines "$BATS_TEST_TMPDIR/err" '^INFO lua: app/handlers/log\.lua:[0-9]+: app log: adapter answered$'
    stop_server
}

@test "an error after the answer went out is logged with file, line and traceback" {
    start_server_in "$APP" --quiet
    run -0 get -o /dev/null -w '%{http_code}' "$(url /late)"
    assert_output 201
    wait_for_lines "$BATS_TEST_TMPDIR/err" 'GET /late: app/handlers/fail\.lua:4: failed after sending \(the client got what the app sent\)'
    wait_for_lines "$BATS_TEST_TMPDIR/err" 'app/handlers/fail\.lua:4: in function'
    # Every error of a request is reported, not only the first.
    run -0 get -o /dev/null -w '%{http_code}' "$(url /twice)"
    assert_output 201
    wait_for_lines "$BATS_TEST_TMPDIR/err" 'GET /twice: app/handlers/fail\.lua:4: failed after sending'
    wait_for_lines "$BATS_TEST_TMPDIR/err" 'GET /twice: app/handlers/fail_again\.lua:3: failed on the next publisher too \(the client got what the app sent\)'
    stop_server
}

# Debian's nginx with its Lua module runs the same file (compare.lua) as
# lusty server: the bodies must be the same, byte for byte.
@test "the same ngx calls answer the same under nginx's Lua module and under lusty server" {
    local mods=/usr/lib/nginx/modules
    if ! command -v nginx >/dev/null || [ ! -f "$mods/ngx_http_lua_module.so" ]; then
        skip "nginx with its Lua module is not installed"
    fi
    local prefix="$BATS_TEST_TMPDIR/nginx" nport
    mkdir -p "$prefix/logs"
    nport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    cat >"$prefix/nginx.conf" <<CONF
load_module $mods/ndk_http_module.so;
load_module $mods/ngx_http_lua_module.so;
daemon off;
master_process off;
pid $prefix/nginx.pid;
error_log stderr;
events {}
http {
    access_log off;
    server {
        listen 127.0.0.1:$nport;
        location / { content_by_lua_file $APP/compare.lua; }
    }
}
CONF
    nginx -p "$prefix" -c "$prefix/nginx.conf" 2>"$prefix/err" &
    NGINX_PID=$!
    local path='/compare/p%20q?x=1&y=2&y=3&flag' ok=
    for _ in $(seq 100); do
        if curl -s -o /dev/null "http://127.0.0.1:$nport$path"; then ok=1; break; fi
        sleep 0.05
    done
    [ -n "$ok" ] || { tail -5 "$prefix/err" >&2; false; }
    get -H 'X-Custom: c' "http://127.0.0.1:$nport$path" >"$BATS_TEST_TMPDIR/nginx.body"
    kill "$NGINX_PID"
    wait "$NGINX_PID" || true
    NGINX_PID=
    start_server_in "$APP" --quiet
    get -H 'X-Custom: c' "$(url "$path")" >"$BATS_TEST_TMPDIR/lusty.body"
    stop_server
    # Only the name in one argument error differs: nginx says '?'.
    sed -i "s/to 'say'/to '?'/" "$BATS_TEST_TMPDIR/lusty.body"
    diff -u "$BATS_TEST_TMPDIR/nginx.body" "$BATS_TEST_TMPDIR/lusty.body"
    [ "$(wc -l <"$BATS_TEST_TMPDIR/lusty.body")" -gt 10 ]
}

@test "ngx.shared: concurrent incr from two workers loses no update" {
    start_server_in "$APP" --quiet --workers 2
    seq 400 | xargs -P 16 -I{} curl -s --max-time 10 -o /dev/null "$(url /incr)"
    run -0 get "$(url '/incr?read=1')"
    assert_output 400
    stop_server
}

# No module of this app touches ngx when it loads: the first request that
# uses it loads it, and must itself be served through it.
@test "ngx first used inside a request works for that request and the next ones" {
    mkdir -p lazy/app
    echo '{ "name": "lazy", "app": "app/config.lua" }' >lazy/lusty.json
    cat >lazy/app/config.lua <<'LUA'
return { subscribers = { ['request:hi'] = { 'hi' } }, publishers = { 'request' } }
LUA
    cat >lazy/app/hi.lua <<'LUA'
return {
  handler = function(context)
    ngx.ctx.n = (ngx.ctx.n or 0) + 1
    ngx.say('hi ', context.request.query.who, ' ', ngx.ctx.n)
  end,
}
LUA
    start_server_in lazy --quiet
    run -0 get "$(url '/hi?who=first')"
    assert_output 'hi first 1'
    run -0 get "$(url '/hi?who=second')"
    assert_output 'hi second 1'
    stop_server
}
