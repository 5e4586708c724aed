# Shared by the tests that run `lusty server`: every server listens on
# 127.0.0.1, port 0, and is stopped by PID; every wait is bounded.
# Sets SERVER_PID and PORT; output goes to $BATS_TEST_TMPDIR/out and err.

# start_server_in DIR [ARGS...]: starts `lusty server --port 0 ARGS` in DIR
# and waits for the URL line (the banner's, or the only line with --quiet).
start_server_in() {
    local dir=$1
    shift
    (cd "$dir" && exec "$LUSTY_BIN" server --port 0 "$@") \
        >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
    SERVER_PID=$!
    for _ in $(seq 200); do
        PORT=$(sed -n 's|.*http://127\.0\.0\.1:\([0-9][0-9]*\)/.*|\1|p' "$BATS_TEST_TMPDIR/out" | head -1)
        [ -n "$PORT" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    cat "$BATS_TEST_TMPDIR/err" >&2
    return 1
}

# stop_server [SIGNAL] [STATUS]: stops the server (default TERM) and checks
# its exit status (default 0).
stop_server() {
    local sig=${1:-TERM} want=${2:-0} status=0
    kill -"$sig" "$SERVER_PID"
    wait "$SERVER_PID" || status=$?
    SERVER_PID=
    [ "$status" -eq "$want" ] || {
        echo "exit status $status, wanted $want" >&2
        cat "$BATS_TEST_TMPDIR/err" >&2
        return 1
    }
}

# For teardown: a server a failed test left running is killed.
kill_server() {
    if [ -n "${SERVER_PID:-}" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
}

# wait_for_lines FILE REGEX [COUNT]: waits up to 5 s until FILE has at least
# COUNT (default 1) lines matching the extended REGEX; says what it saw when
# the deadline passes. For log lines that are written after the answer.
wait_for_lines() {
    local file=$1 regex=$2 want=${3:-1}
    for _ in $(seq 100); do
        [ "$(grep -cE -- "$regex" "$file" 2>/dev/null)" -ge "$want" ] && return 0
        sleep 0.05
    done
    echo "fewer than $want lines matching '$regex' in $file:" >&2
    cat "$file" >&2
    return 1
}

# json_edit FILE PYTHON: edits the JSON file with a Python statement on `d`.
json_edit() {
    python3 - "$1" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
exec(sys.argv[2])
json.dump(d, open(sys.argv[1], "w"), indent=2)
PY
}

# free_port: a port nobody listens on now on 127.0.0.1 (for configurations
# that must name one; it may be taken again before it is used, seldom).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
