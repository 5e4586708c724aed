#!/usr/bin/env bats
# lusty server: start-up, configuration, HTTP/1.1 framing, limits, static
# files and shutdown, checked with curl and with raw sockets (python3).
# Every server listens on 127.0.0.1, port 0, and is stopped by PID.
load helpers
load server_helpers

setup() {
    common_setup
    APP="$BATS_TEST_TMPDIR/app"
    make_project "$APP"
    SERVER_PID=
}

teardown() { kill_server; }

# A project with a static folder: a text file, a stylesheet, a 4 KiB file,
# a dotfile, a subfolder with an index, and a secret outside the folder.
make_project() {
    local dir=$1
    mkdir -p "$dir/static/css" "$dir/static/docs"
    cat >"$dir/lusty.json" <<'JSON'
{
  "name": "testapp",
  "server": { "host": "127.0.0.1", "port": 8080, "static": { "/static/": "static" } }
}
JSON
    printf 'hello static\n' >"$dir/static/hello.txt"
    printf 'body { color: red }\n' >"$dir/static/css/app.css"
    head -c 4096 /dev/zero | tr '\0' 'x' >"$dir/static/4k.txt"
    printf 'hidden\n' >"$dir/static/.env"
    printf '<h1>docs</h1>\n' >"$dir/static/docs/index.html"
    printf 'top secret\n' >"$dir/secret.txt"
}

# Writes lusty.json with extra members in "server" (a JSON fragment).
server_conf() {
    cat >"$APP/lusty.json" <<JSON
{
  "name": "testapp",
  "server": { "port": 8080, "static": { "/static/": "static" }, $1 }
}
JSON
}

# Serves $APP (extra arguments are passed on).
start_server() {
    start_server_in "$APP" "$@"
}

wait_for_file() {
    for _ in $(seq 100); do
        [ -e "$1" ] && return 0
        sleep 0.05
    done
    return 1
}

get() {
    curl -s --max-time 5 "$@"
}

# Sends raw bytes (python escapes such as \r\n, \x00) on one connection and
# prints everything received until the server closes (then "[closed]") or
# until WAIT seconds pass without data. RAW_CHUNKS: send this many pieces,
# RAW_PAUSE seconds apart.
raw() {
    python3 - "$PORT" "$1" "${2:-1}" <<'PY'
import socket, sys, time
port, payload, wait = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
data = payload.encode("latin1").decode("unicode_escape").encode("latin1")
s = socket.create_connection(("127.0.0.1", port), timeout=wait)
s.sendall(data)
got, closed = b"", False
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            closed = True
            break
        got += chunk
except (socket.timeout, ConnectionResetError):
    pass
sys.stdout.write(got.decode("latin1").replace("\r\n", "\n"))
if closed:
    sys.stdout.write("[closed]\n")
PY
}

status_codes() {
    grep -o '^HTTP/1\.1 [0-9]*' | cut -d' ' -f2 | tr '\n' ' '
}

@test "server prints the URL, the app and the workers, then one log line per request" {
    start_server
    run cat "$BATS_TEST_TMPDIR/out"
    assert_line "Serving 'testapp' from $APP"
    assert_line "  url      http://127.0.0.1:$PORT/"
    assert_line "  workers  1"
    assert_line "  static   /static/ -> static"
    run -0 get "http://127.0.0.1:$PORT/static/hello.txt"
    assert_output 'hello static'
    get -o /dev/null "http://127.0.0.1:$PORT/nothing/here"
    wait_for_lines "$BATS_TEST_TMPDIR/out" ' GET /nothing/here '
    run cat "$BATS_TEST_TMPDIR/out"
    assert_line --regexp '^[0-9:]{8} GET /static/hello\.txt 200 13 [0-9.]+ms$'
    assert_line --regexp '^[0-9:]{8} GET /nothing/here 404 14 [0-9.]+ms$'
    refute_output --partial $'\e['
    stop_server
}

@test "server without a project fails with a hint to run lusty init" {
    mkdir empty
    run -1 --separate-stderr "$LUSTY_BIN" server empty
    assert_equal "$stderr" "lusty: error: no lusty.json in 'empty' or any folder above it
hint: run 'lusty init' to create a project, or give its folder: lusty server DIR"
    assert_output ''
}

@test "server with a broken lusty.json names the file and the problem" {
    printf '{ "name": "x",\n  "server": { "port": 80 80 } }\n' >"$APP/lusty.json"
    run -1 --separate-stderr "$LUSTY_BIN" server "$APP"
    assert_equal "$stderr" "lusty: error: '$APP/lusty.json' is not valid JSON: syntax error near line 2, column 26"
    printf '{ "server": { "port": "eighty" } }\n' >"$APP/lusty.json"
    run -1 --separate-stderr "$LUSTY_BIN" server "$APP"
    assert_equal "$stderr" "lusty: error: invalid '$APP/lusty.json': server.port must be a whole number from 0 to 65535"
    printf '{ "server": { "static": { "/s/": 3 } } }\n' >"$APP/lusty.json"
    run -1 --separate-stderr "$LUSTY_BIN" server "$APP"
    assert_output --partial ''
    assert_equal "$stderr" "lusty: error: invalid '$APP/lusty.json': server.static[\"/s/\"] must be a folder name (a string)"
    printf '{ "server": { "limits": { "body_bytes": -1 } } }\n' >"$APP/lusty.json"
    run -1 --separate-stderr "$LUSTY_BIN" server "$APP"
    assert_equal "$stderr" "lusty: error: invalid '$APP/lusty.json': server.limits.body_bytes must be a whole number from 1 to 1099511627776"
}

@test "server usage errors exit 2" {
    run -2 --separate-stderr "$LUSTY_BIN" server --port 70000 "$APP"
    assert_equal "$stderr" "lusty: error: invalid --port '70000': use a number from 0 to 65535"
    run -2 --separate-stderr "$LUSTY_BIN" server --workers 0 "$APP"
    assert_equal "$stderr" "lusty: error: invalid --workers '0': use a number from 1 to 256"
    run -2 --separate-stderr "$LUSTY_BIN" server --log-format xml "$APP"
    assert_equal "$stderr" "lusty: error: invalid --log-format 'xml': use text or json"
    run -2 --separate-stderr "$LUSTY_BIN" server "$APP" other
    run -2 --separate-stderr "$LUSTY_BIN" server "$BATS_TEST_TMPDIR/missing"
    assert_equal "$stderr" "lusty: error: cannot serve '$BATS_TEST_TMPDIR/missing': no such folder"
}

@test "server finds the project by walking up from the current folder" {
    mkdir -p "$APP/app/deep/er"
    cd "$APP/app/deep/er"
    "$LUSTY_BIN" server --port 0 >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
    SERVER_PID=$!
    for _ in $(seq 100); do grep -q 'url' "$BATS_TEST_TMPDIR/out" && break; sleep 0.05; done
    run cat "$BATS_TEST_TMPDIR/out"
    assert_line "Serving 'testapp' from $APP"
    stop_server
}

@test "a port in use is reported with what to do" {
    start_server
    run -1 --separate-stderr "$LUSTY_BIN" server --port "$PORT" "$APP"
    assert_equal "$stderr" "lusty: error: port $PORT is in use (try --port 0 or --port N)"
    stop_server
}

@test "port and host come from options, then LUSTY_PORT/LUSTY_HOST, then lusty.json" {
    free_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    server_conf "\"host\": \"127.0.0.1\""
    sed -i "s/\"port\": 8080/\"port\": $free_port/" "$APP/lusty.json"
    (cd "$APP" && exec "$LUSTY_BIN" server --quiet) >"$BATS_TEST_TMPDIR/out" 2>&1 3>&- &
    SERVER_PID=$!
    for _ in $(seq 100); do [ -s "$BATS_TEST_TMPDIR/out" ] && break; sleep 0.05; done
    assert_equal "$(cat "$BATS_TEST_TMPDIR/out")" "http://127.0.0.1:$free_port/"
    stop_server
    (cd "$APP" && LUSTY_PORT=0 LUSTY_HOST=localhost exec "$LUSTY_BIN" server --quiet) >"$BATS_TEST_TMPDIR/out" 2>&1 3>&- &
    SERVER_PID=$!
    for _ in $(seq 100); do [ -s "$BATS_TEST_TMPDIR/out" ] && break; sleep 0.05; done
    run cat "$BATS_TEST_TMPDIR/out"
    assert_output --regexp '^http://127\.0\.0\.1:[0-9]+/$'
    refute_output "http://127.0.0.1:$free_port/"
    stop_server
    LUSTY_PORT=1 start_server --quiet   # --port 0 from start_server beats LUSTY_PORT
    stop_server
    run -2 --separate-stderr env LUSTY_PORT=abc "$LUSTY_BIN" server "$APP"
    assert_equal "$stderr" "lusty: error: invalid LUSTY_PORT 'abc': use a number from 0 to 65535"
}

@test "responses carry Date and Server; keep-alive serves several requests on one connection" {
    start_server
    run raw 'GET /static/hello.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\nHEAD /static/hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' 2
    assert_equal "$(status_codes <<<"$output")" "200 404 200 "
    assert_line --regexp '^Date: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} GMT$'
    assert_line 'Server: lusty'
    assert_line 'Connection: close'
    assert_line '[closed]'
    # The HEAD response has headers only: the output ends right after them.
    assert_equal "$(printf '%s\n' "$output" | tail -3 | head -1)" "Connection: close"
    stop_server
}

@test "pipelined requests sent in one packet are answered in order" {
    start_server
    req='GET /static/css/app.css HTTP/1.1\r\nHost: x\r\n\r\n'
    run raw "${req}GET /a HTTP/1.1\r\nHost: x\r\n\r\n${req}GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" 2
    assert_equal "$(status_codes <<<"$output")" "200 404 200 404 "
    assert_equal "$(grep -c 'body { color: red }' <<<"$output")" 2
    assert_line '[closed]'
    stop_server
}

@test "request bodies: Content-Length and chunked, then the connection goes on" {
    start_server
    run raw 'POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloPOST /y HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nGET /static/hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' 2
    assert_equal "$(status_codes <<<"$output")" "404 404 200 "
    assert_line 'hello static'
    stop_server
}

@test "Expect: 100-continue gets an interim response before the body is sent" {
    start_server
    run python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
s.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
first = s.recv(4096)
print(first.decode().strip())
s.sendall(b"data")
print(s.recv(4096).decode().splitlines()[0])
PY
    assert_line --index 0 'HTTP/1.1 100 Continue'
    assert_line --index 1 'HTTP/1.1 404 Not Found'
    # Over the body limit: 413 at once, no 100.
    run raw 'POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\nExpect: 100-continue\r\n\r\n'
    assert_line --index 0 'HTTP/1.1 413 Content Too Large'
    assert_line '[closed]'
    stop_server
}

@test "HTTP/1.0 clients: closed after the response unless they ask for keep-alive" {
    start_server
    run raw 'GET /static/hello.txt HTTP/1.0\r\n\r\n'
    assert_line --index 0 'HTTP/1.1 200 OK'
    assert_line 'Connection: close'
    assert_line 'Content-Length: 13'
    assert_line '[closed]'
    run raw 'GET /static/hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n' 0.5
    assert_line 'Connection: keep-alive'
    refute_line '[closed]'
    stop_server
}

@test "malformed requests get 400 and the connection closes" {
    start_server
    for req in 'GARBAGE\r\n\r\n' \
        'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' \
        'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n' \
        'GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n' \
        'GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n' \
        'GET / HTTP/1.1\r\n\r\n' \
        'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n' \
        'GET / HTTP/1.1\r\nBad Header\r\n\r\n' \
        'GET nothing HTTP/1.1\r\nHost: x\r\n\r\n'; do
        run raw "$req"
        assert_line --index 0 'HTTP/1.1 400 Bad Request'
        assert_line 'Connection: close'
        assert_line '[closed]'
    done
    # None of them reached a handler: the log has them as "-".
    wait_for_lines "$BATS_TEST_TMPDIR/out" '^[0-9:]* - - 400 ' 9
    assert_equal "$(grep -c '^[0-9:]* - - 400 ' "$BATS_TEST_TMPDIR/out")" 9
    stop_server
}

@test "default limits: head 16 KiB (431), URL 8 KiB (414), body 1 MiB (413)" {
    start_server
    run python3 - "$PORT" <<'PY'
import socket, sys
port = int(sys.argv[1])
def ask(data, send_all=True):
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        return s.recv(4096).split(b"\r\n")[0].decode()
    except ConnectionResetError:
        return "reset"
print(ask(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 17000 + b"\r\n\r\n"))
print(ask(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"))
print(ask(b"GET /" + b"a" * 8000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"))
print(ask(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n"))
print(ask(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + (b"10000\r\n" + b"z" * 65536 + b"\r\n") * 17))
print(ask(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n" + b"y" * 1048576))
PY
    assert_line --index 0 'HTTP/1.1 431 Request Header Fields Too Large'
    assert_line --index 1 'HTTP/1.1 414 URI Too Long'
    assert_line --index 2 'HTTP/1.1 404 Not Found'
    assert_line --index 3 'HTTP/1.1 413 Content Too Large'
    assert_line --index 4 'HTTP/1.1 413 Content Too Large'
    assert_line --index 5 'HTTP/1.1 404 Not Found'
    stop_server
}

@test "limits from lusty.json: header, URL and body sizes" {
    server_conf '"limits": { "header_bytes": 200, "url_bytes": 50, "body_bytes": 10 }'
    start_server
    run raw 'GET / HTTP/1.1\r\nHost: x\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n'
    assert_line --index 0 'HTTP/1.1 431 Request Header Fields Too Large'
    run raw 'GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: x\r\n\r\n'
    assert_line --index 0 'HTTP/1.1 414 URI Too Long'
    run raw 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world'
    assert_line --index 0 'HTTP/1.1 413 Content Too Large'
    run raw 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhelloworld'
    assert_line --index 0 'HTTP/1.1 404 Not Found'
    stop_server
}

@test "a client that never finishes its head is dropped after header_timeout_ms" {
    server_conf '"limits": { "header_timeout_ms": 300, "idle_timeout_ms": 400 }'
    start_server
    SECONDS=0
    run raw 'GET / HTTP/1.1\r\nHost: x\r\n' 3
    assert_line --index 0 'HTTP/1.1 408 Request Timeout'
    assert_line '[closed]'
    # An idle kept-alive connection is closed after idle_timeout_ms.
    run raw 'GET /static/hello.txt HTTP/1.1\r\nHost: x\r\n\r\n' 3
    assert_line '[closed]'
    [ "$SECONDS" -lt 8 ]
    stop_server
}

@test "hundreds of slow half-open connections do not starve normal requests" {
    start_server
    python3 - "$PORT" "$BATS_TEST_TMPDIR/ready" <<'PY' &
import socket, sys, time
conns = []
for i in range(300):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    conns.append(s)
open(sys.argv[2], "w").close()
time.sleep(3)
PY
    slow=$!
    wait_for_file "$BATS_TEST_TMPDIR/ready"
    for _ in 1 2 3; do
        run -0 curl -s --max-time 1 -o /dev/null -w '%{http_code} %{time_total}' "http://127.0.0.1:$PORT/static/hello.txt"
        assert_output --regexp '^200 0\.[0-4]'
    done
    wait "$slow"
    stop_server
}

@test "max_connections: when full, the connection idle longest makes room for a new one" {
    server_conf '"limits": { "max_connections": 3 }'
    start_server
    run python3 - "$PORT" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
held = []
for _ in range(3):
    h = socket.create_connection(("127.0.0.1", port), timeout=3)
    h.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    h.recv(4096)  # answered: the server has it, now idle
    held.append(h)
s = socket.create_connection(("127.0.0.1", port), timeout=3)
s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
print(s.recv(4096).split(b"\r\n")[0].decode())
print("oldest closed" if held[0].recv(4096) == b"" else "oldest open")
held[1].sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
print(held[1].recv(4096).split(b"\r\n")[0].decode())
PY
    assert_line --index 0 'HTTP/1.1 404 Not Found'
    assert_line --index 1 'oldest closed'
    assert_line --index 2 'HTTP/1.1 404 Not Found'
    stop_server
}

@test "static files: MIME types, ETag and Last-Modified with 304, HEAD" {
    start_server
    base="http://127.0.0.1:$PORT/static"
    run -0 get -D - -o /dev/null "$base/css/app.css"
    assert_line --partial 'Content-Type: text/css; charset=utf-8'
    etag=$(tr -d '\r' <<<"$output" | sed -n 's/^ETag: //p')
    modified=$(tr -d '\r' <<<"$output" | sed -n 's/^Last-Modified: //p')
    [ -n "$etag" ] && [ -n "$modified" ]
    run -0 get -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$base/css/app.css"
    assert_output 304
    run -0 get -o /dev/null -w '%{http_code}' -H 'If-None-Match: "other"' "$base/css/app.css"
    assert_output 200
    run -0 get -o /dev/null -w '%{http_code}' -H "If-Modified-Since: $modified" "$base/css/app.css"
    assert_output 304
    run -0 get -o /dev/null -w '%{http_code}' -H "If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT" "$base/css/app.css"
    assert_output 200
    run -0 get -I "$base/4k.txt"
    assert_line --partial 'Content-Length: 4096'
    assert_line --partial 'Content-Type: text/plain; charset=utf-8'
    run -0 get -D - -o /dev/null "$base/docs/"
    assert_line --partial 'Content-Type: text/html; charset=utf-8'
    run -0 get -o /dev/null -w '%{http_code} %{redirect_url}' "$base/docs?x=1"
    assert_output "301 http://127.0.0.1:$PORT/static/docs/?x=1"
    run -0 get -o /dev/null -w '%{http_code}' -X POST "$base/hello.txt"
    assert_output 405
    stop_server
}

@test "static files: single ranges get 206, unsatisfiable ones 416, several the whole file" {
    start_server
    url="http://127.0.0.1:$PORT/static/hello.txt"
    run -0 get -D "$BATS_TEST_TMPDIR/h" -r 0-4 "$url"
    assert_output 'hello'
    grep -q '^HTTP/1.1 206' "$BATS_TEST_TMPDIR/h"
    grep -q '^Content-Range: bytes 0-4/13' "$BATS_TEST_TMPDIR/h"
    run -0 get -r -7 "$url"
    assert_output 'static'
    run -0 get -r 6- "$url"
    assert_output 'static'
    run -0 get -o /dev/null -D - -r 100-200 "$url"
    assert_line --partial '416 Range Not Satisfiable'
    assert_line --partial 'Content-Range: bytes */13'
    run -0 get -o /dev/null -w '%{http_code}' -r 0-1,3-4 "$url"
    assert_output 200
    run -0 get -o /dev/null -w '%{http_code}' -r 0-4 -H 'If-Range: "stale"' "$url"
    assert_output 200
}

@test "static files never leave their folder" {
    ln -s "$APP/secret.txt" "$APP/static/out-link"
    ln -s "$APP" "$APP/static/out-dir"
    ln -s hello.txt "$APP/static/in-link"
    start_server
    for path in '/static/../secret.txt' '/static/%2e%2e/secret.txt' '/static/%2E%2E/secret.txt' \
        '/static/..%2fsecret.txt' '/static/css/..%2F..%2Fsecret.txt' '/static/%2e%2e%2fsecret.txt' \
        '/static/.env' '/static/%2eenv' '/static/css/./app.css' '/static/out-link' \
        '/static/out-dir/secret.txt' '/static/..\\secret.txt' '/static/%5c..%5csecret.txt' \
        '/static//../secret.txt' '/static/%zz'; do
        run raw "GET $path HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        refute_output --partial 'top secret'
        refute_output --partial 'hidden'
        assert_line --regexp '^HTTP/1\.1 (400|404) '
    done
    run -0 get "http://127.0.0.1:$PORT/static/in-link"
    assert_output 'hello static'
    run -0 get "http://127.0.0.1:$PORT/static/css//app.css"
    assert_output 'body { color: red }'
    run -0 get "http://127.0.0.1:$PORT/static/hell%6f.txt"
    assert_output 'hello static'
    stop_server
}

@test "a large file arrives whole (sendfile), also to a slow reader" {
    head -c 5000000 /dev/urandom >"$APP/static/big.bin"
    start_server
    get -o "$BATS_TEST_TMPDIR/big.bin" "http://127.0.0.1:$PORT/static/big.bin"
    cmp "$APP/static/big.bin" "$BATS_TEST_TMPDIR/big.bin"
    run -0 curl -s --max-time 20 --limit-rate 2M -o "$BATS_TEST_TMPDIR/slow.bin" "http://127.0.0.1:$PORT/static/big.bin"
    cmp "$APP/static/big.bin" "$BATS_TEST_TMPDIR/slow.bin"
    run -0 get -D - -o /dev/null "http://127.0.0.1:$PORT/static/big.bin"
    assert_line --partial 'Content-Type: application/octet-stream'
    stop_server
}

@test "--workers 2: both workers serve on one port" {
    start_server --workers 2
    run cat "$BATS_TEST_TMPDIR/out"
    assert_line '  workers  2'
    for _ in $(seq 20); do
        run -0 get "http://127.0.0.1:$PORT/static/hello.txt"
        assert_output 'hello static'
    done
    stop_server
}

@test "--log-format json writes one JSON object per line" {
    start_server --log-format json
    get -o /dev/null "http://127.0.0.1:$PORT/static/hello.txt"
    get -o /dev/null "http://127.0.0.1:$PORT/a%22b"
    wait_for_lines "$BATS_TEST_TMPDIR/out" '"path": ?"/a%22b"'
    stop_server
    python3 - "$BATS_TEST_TMPDIR/out" "$PORT" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert lines[0] == {"event": "listening", "url": "http://127.0.0.1:%s/" % sys.argv[2], "app": "testapp", "env": "development", "workers": 1}, lines[0]
assert lines[1]["path"] == "/static/hello.txt" and lines[1]["status"] == 200 and lines[1]["bytes"] == 13, lines[1]
assert lines[2]["path"] == '/a%22b' and lines[2]["status"] == 404, lines[2]
assert lines[1]["method"] == "GET" and isinstance(lines[1]["ms"], float)
PY
}

@test "SIGTERM lets an in-flight request finish with Connection: close, then exits 0" {
    start_server
    python3 - "$PORT" "$SERVER_PID" >"$BATS_TEST_TMPDIR/inflight" <<'PY'
import os, signal, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
idle = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET /static/hello.txt HTTP/1.1\r\nHost: x\r\n")
time.sleep(0.2)
os.kill(int(sys.argv[2]), signal.SIGTERM)
time.sleep(0.3)
print("idle closed" if idle.recv(100) == b"" else "idle open")
s.sendall(b"\r\n")
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(data.decode().replace("\r\n", "\n"))
PY
    run cat "$BATS_TEST_TMPDIR/inflight"
    assert_line --index 0 'idle closed'
    assert_line 'HTTP/1.1 200 OK'
    assert_line 'Connection: close'
    assert_line 'hello static'
    status=0
    wait "$SERVER_PID" || status=$?
    SERVER_PID=
    cat "$BATS_TEST_TMPDIR/err" >&2
    assert_equal "$status" 0
    run -7 curl -s --max-time 1 "http://127.0.0.1:$PORT/"
}

@test "a second SIGINT exits at once" {
    start_server
    # Two keep-alive clients, each answered once (so the server holds both),
    # then each half-way through a second request. After the first SIGINT,
    # client A completes its request and is answered: the server is still
    # finishing in-flight work. Client B never completes; a second SIGINT
    # ends the server at once.
    python3 - "$PORT" "$BATS_TEST_TMPDIR" <<'PY' &
import os, socket, sys, time
port, tmp = int(sys.argv[1]), sys.argv[2]
def answered(s):
    data = b""
    while b"hello static" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0].decode()
conns = []
for _ in range(2):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /static/hello.txt HTTP/1.1\r\nHost: x\r\n\r\n")
    answered(s)
    s.sendall(b"GET /static/hello.txt HTTP/1.1\r\nHost: x\r\n")
    conns.append(s)
open(os.path.join(tmp, "ready"), "w").close()
deadline = time.time() + 5
while not os.path.exists(os.path.join(tmp, "go")) and time.time() < deadline:
    time.sleep(0.01)
conns[0].sendall(b"\r\n")
# Written whole, then renamed: the test waits for the file to exist.
status = answered(conns[0])
with open(os.path.join(tmp, "a.status.tmp"), "w") as f:
    f.write(status + "\n")
os.rename(os.path.join(tmp, "a.status.tmp"), os.path.join(tmp, "a.status"))
time.sleep(5)
PY
    holder=$!
    wait_for_file "$BATS_TEST_TMPDIR/ready"
    kill -INT "$SERVER_PID"
    wait_for_lines "$BATS_TEST_TMPDIR/out" '^Stopping: finishing in-flight requests'
    touch "$BATS_TEST_TMPDIR/go"
    wait_for_file "$BATS_TEST_TMPDIR/a.status"
    run cat "$BATS_TEST_TMPDIR/a.status"
    assert_output 'HTTP/1.1 200 OK'
    SECONDS=0
    stop_server INT 130
    [ "$SECONDS" -lt 2 ]
    kill "$holder" 2>/dev/null || true
    wait "$holder" 2>/dev/null || true
}

@test "the server process is the lean lusty-serve binary, under the same PID" {
    start_server --quiet
    # exec keeps the PID the caller started, so stopping by PID still works.
    assert_equal "$(basename "$(readlink /proc/$SERVER_PID/exe)")" "lusty-serve"
    # It maps none of the libraries only the other commands use.
    run grep -cE 'libgit2|libcurl|libmongoc|libcrypto|libarchive' /proc/$SERVER_PID/maps
    assert_output '0'
    run -0 curl -sS --max-time 5 "http://127.0.0.1:$PORT/static/hello.txt"
    assert_output 'hello static'
    stop_server TERM 0
}

@test "LUSTY_NO_LEAN_SERVER serves in-process from lusty itself" {
    LUSTY_NO_LEAN_SERVER=1 start_server --quiet
    assert_equal "$(readlink /proc/$SERVER_PID/exe)" "$(readlink -f "$(dirname "$LUSTY_BIN")/lusty-cli")"
    run -0 curl -sS --max-time 5 "http://127.0.0.1:$PORT/static/hello.txt"
    assert_output 'hello static'
    stop_server TERM 0
}
