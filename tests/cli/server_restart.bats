#!/usr/bin/env bats
# Restarts without dropped requests (docs/deploy.md): SIGHUP starts a new
# generation from fresh code and lusty.json while the old one finishes;
# a broken lusty.json keeps the old one serving; in development a change
# of server settings in lusty.json restarts by itself. Every server listens
# on 127.0.0.1 and is stopped by PID; every wait is bounded.
load helpers
load server_helpers

setup() {
    common_setup
    lusty init --template minimal --no-git --quiet app
    APP="$PWD/app"
    SERVER_PID=
    CLIENT_PID=
}

teardown() {
    [ -z "${CLIENT_PID:-}" ] || kill -KILL "$CLIENT_PID" 2>/dev/null || true
    kill_server
}

# set_json PYTHON: edits app/lusty.json with a Python statement on `d`.
set_json() { json_edit "$APP/lusty.json" "$1"; }

# start_from_json ARGS...: starts the server on the port lusty.json names
# (no --port option, so that a restart can move it), sets PORT.
start_from_json() {
    PORT=$(free_port)
    set_json "d['server']['port'] = $PORT"
    (cd "$APP" && exec "$LUSTY_BIN" server "$@") \
        >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
    SERVER_PID=$!
    wait_for_lines "$BATS_TEST_TMPDIR/out" "http://127.0.0.1:$PORT/"
}

# answer_is TEXT: polls / until it answers TEXT (up to 10 s).
answer_is() {
    for _ in $(seq 200); do
        [ "$(curl -s --max-time 2 "http://127.0.0.1:$PORT/")" = "$1" ] && return 0
        sleep 0.05
    done
    echo "/ never answered '$1': $(curl -s --max-time 2 "http://127.0.0.1:$PORT/")" >&2
    return 1
}

# start_client SECONDS: 4 keep-alive clients and 1 that connects anew for
# every request, for at most SECONDS; counts in $BATS_TEST_TMPDIR/client
# once stopped (SIGTERM) or done: ok, failed, refused.
start_client() {
    python3 - "$PORT" "$1" "$BATS_TEST_TMPDIR/client" <<'PY' &
import http.client, signal, socket, sys, threading, time
port, seconds, out = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: stop.set())
counts = {"ok": 0, "failed": 0, "refused": 0}
lock = threading.Lock()
errors = []
def count(what, why=None):
    with lock:
        counts[what] += 1
        if why and len(errors) < 5: errors.append(why)
def run(keep_alive):
    conn = None
    end = time.time() + seconds
    while not stop.is_set() and time.time() < end:
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/")
            r = conn.getresponse()
            r.read()
            if r.status == 200: count("ok")
            else: count("failed", "status %d" % r.status)
            if not keep_alive or r.getheader("connection", "").lower() == "close":
                conn.close(); conn = None
        except ConnectionRefusedError as e:
            count("refused", repr(e)); conn = None
        except Exception as e:
            count("failed", repr(e))
            if conn: conn.close()
            conn = None
threads = [threading.Thread(target=run, args=(i < 4,)) for i in range(5)]
for t in threads: t.start()
for t in threads: t.join()
open(out, "w").write("%d %d %d %s\n" % (counts["ok"], counts["failed"], counts["refused"], errors))
PY
    CLIENT_PID=$!
}

stop_client() {
    kill -TERM "$CLIENT_PID"
    wait "$CLIENT_PID"
    CLIENT_PID=
    cat "$BATS_TEST_TMPDIR/client" >&2
    read -r ok failed refused _ <"$BATS_TEST_TMPDIR/client"
    [ "$failed" -eq 0 ] && [ "$refused" -eq 0 ] && [ "$ok" -gt 100 ]
}

@test "SIGHUP five times under load, code and lusty.json changed between: no request fails, new code answers" {
    start_from_json --env production --log-format json
    answer_is 'Hello from app!'
    start_client 60
    for i in 1 2 3 4 5; do
        sed -i "s/^context.output = .*/context.output = 'version $i'/" "$APP/app/requests/index.lua"
        set_json "d['server']['workers'] = $(( i % 2 + 1 )); d['server']['limits'] = {'idle_timeout_ms': $(( 10000 + i ))}"
        kill -HUP "$SERVER_PID"
        answer_is "version $i"
    done
    wait_for_lines "$BATS_TEST_TMPDIR/out" '"event":"restarted","generation":6'
    stop_client
    run -0 grep -c '"event":"restarted"' "$BATS_TEST_TMPDIR/out"
    assert_output 5
    # The settings of lusty.json were taken: the last generation has 2 workers.
    assert_file_contains "$BATS_TEST_TMPDIR/out" '"event":"restarted","generation":6,.*"workers":2}'
    stop_server
}

@test "a lusty.json that is broken at SIGHUP: the old generation goes on serving, and says why" {
    start_from_json --env production
    answer_is 'Hello from app!'
    printf '{ "name": "app", "server": { "port": 80,, } }\n' >"$APP/lusty.json"
    sed -i "s/^context.output = .*/context.output = 'new code'/" "$APP/app/requests/index.lua"
    kill -HUP "$SERVER_PID"
    wait_for_lines "$BATS_TEST_TMPDIR/err" 'restart failed'
    run cat "$BATS_TEST_TMPDIR/err"
    assert_output --partial "lusty.json' is not valid JSON: syntax error near line 1"
    assert_output --partial 'lusty: warning: SIGHUP: the restart failed; generation 1 goes on serving'
    # Production loads no new code without a restart.
    answer_is 'Hello from app!'
    # A value the server cannot use, and a port somebody holds, the same way.
    printf '{ "name": "app", "server": { "port": 1, "workers": 0 } }\n' >"$APP/lusty.json"
    kill -HUP "$SERVER_PID"
    wait_for_lines "$BATS_TEST_TMPDIR/err" 'restart failed' 2
    assert_file_contains "$BATS_TEST_TMPDIR/err" 'server.workers must be a whole number from 1 to 256'
    python3 -c 'import socket, time, sys; s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(30)' >"$BATS_TEST_TMPDIR/holder" &
    local holder=$!
    for _ in $(seq 100); do [ -s "$BATS_TEST_TMPDIR/holder" ] && break; sleep 0.05; done
    printf '{ "name": "app", "server": { "port": %s } }\n' "$(cat "$BATS_TEST_TMPDIR/holder")" >"$APP/lusty.json"
    kill -HUP "$SERVER_PID"
    wait_for_lines "$BATS_TEST_TMPDIR/err" 'restart failed' 3
    kill "$holder"
    assert_file_contains "$BATS_TEST_TMPDIR/err" "is in use"
    answer_is 'Hello from app!'
    # Fixed: the next SIGHUP takes the new code.
    printf '{ "name": "app", "server": { "port": %s } }\n' "$PORT" >"$APP/lusty.json"
    kill -HUP "$SERVER_PID"
    answer_is 'new code'
    stop_server
}

@test "a changed port re-binds: the new generation listens there, the old port closes" {
    start_from_json --env production
    answer_is 'Hello from app!'
    local old=$PORT new
    new=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    set_json "d['server']['port'] = $new"
    kill -HUP "$SERVER_PID"
    wait_for_lines "$BATS_TEST_TMPDIR/out" "restarted: generation 2 on http://127.0.0.1:$new/"
    PORT=$new answer_is 'Hello from app!'
    for _ in $(seq 100); do
        curl -s --max-time 1 "http://127.0.0.1:$old/" >/dev/null || break
        sleep 0.05
    done
    run -7 curl -s --max-time 2 "http://127.0.0.1:$old/"
    stop_server
}

@test "development: a server setting changed in lusty.json restarts; a broken lusty.json is reported and the last good settings kept" {
    start_server_in "$APP"
    answer_is 'Hello from app!'
    set_json "d['server']['workers'] = 2"
    wait_for_lines "$BATS_TEST_TMPDIR/out" 'restarted: generation 2 .*\(2 workers\)'
    cp "$APP/lusty.json" "$BATS_TEST_TMPDIR/good.json"
    printf '{\n  "name": "app",\n  "server": { "port": 0 ,, }\n}\n' >"$APP/lusty.json"
    wait_for_lines "$BATS_TEST_TMPDIR/err" 'last good settings'
    assert_file_contains "$BATS_TEST_TMPDIR/err" "lusty.json' is not valid JSON: syntax error near line 3, column [0-9]*; the server keeps its last good settings"
    answer_is 'Hello from app!'
    # A change outside server, app and env: the app reloads, no restart.
    cp "$BATS_TEST_TMPDIR/good.json" "$APP/lusty.json"
    set_json "d['description'] = 'x'"
    sed -i "s/^context.output = .*/context.output = 'reloaded'/" "$APP/app/requests/index.lua"
    answer_is 'reloaded'
    run -0 grep -c 'restarted:' "$BATS_TEST_TMPDIR/out"
    assert_output 1
    stop_server
}
