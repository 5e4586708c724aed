#!/usr/bin/env bats
# The store over HTTP, on the api template (SQLite, data/store.sqlite3):
# shared by workers, kept across reloads and restarts and through SIGKILL,
# and answered with 503 (never a hang) while another process locks the file.
# Servers listen on 127.0.0.1, port 0, and are stopped by PID.
bats_require_minimum_version 1.5.0
load helpers
load server_helpers

setup() {
    common_setup
    SERVER_PID=
    LOCKER_PID=
    MOUNTED=
    APP="$BATS_TEST_TMPDIR/api"
    "$LUSTY_BIN" init "$APP" --template api --no-git -q
}

teardown() {
    kill_server
    if [ -n "$MOUNTED" ]; then umount "$MOUNTED" 2>/dev/null || true; fi
    if [ -n "$LOCKER_PID" ]; then
        kill "$LOCKER_PID" 2>/dev/null || true
        wait "$LOCKER_PID" 2>/dev/null || true
    fi
}

# post NAME: POST /users, prints "STATUS ID" (ID empty unless 201).
post() {
    local body status
    body=$(curl -s --max-time 10 -o - -w '\n%{http_code}' -H 'Content-Type: application/json' \
        --data "{\"name\":\"$1\"}" "http://127.0.0.1:$PORT/users") || {
        echo "000 "
        return 0
    }
    status=${body##*$'\n'}
    body=${body%$'\n'*}
    if [ "$status" = 201 ]; then
        echo "$status $(printf '%s' "$body" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')"
    else
        echo "$status "
    fi
}

# Another process takes the store's write lock and keeps it (30 s at
# most, or until LOCKER_PID is killed).
lock_store() {
    python3 -c '
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
time.sleep(30)
' "$APP/data/store.sqlite3" "$BATS_TEST_TMPDIR/locked" &
    LOCKER_PID=$!
    for _ in $(seq 100); do
        [ -f "$BATS_TEST_TMPDIR/locked" ] && return 0
        sleep 0.05
    done
    echo "the store was not locked" >&2
    return 1
}

# Ends lock_store's lock.
unlock_store() {
    kill "$LOCKER_PID"
    wait "$LOCKER_PID" || true
    LOCKER_PID=
}

# status URL_PATH: the status of a GET.
status() {
    curl -s --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT$1"
}

# Checks that every id in FILE (one per line) is a user of the server.
all_there() {
    curl -s --max-time 10 "http://127.0.0.1:$PORT/users" >"$BATS_TEST_TMPDIR/users.json"
    python3 - "$1" "$BATS_TEST_TMPDIR/users.json" <<'PY'
import json, sys
want = [l.strip() for l in open(sys.argv[1]) if l.strip()]
have = {u["id"] for u in json.load(open(sys.argv[2]))}
missing = [i for i in want if i not in have]
assert not missing, "missing after restart: %s of %d" % (missing, len(want))
PY
}

@test "store: what one worker writes the other reads, and it outlasts a reload and a restart" {
    start_server_in "$APP" --quiet --workers 2
    : >"$BATS_TEST_TMPDIR/ids"
    for i in $(seq 8); do
        run -0 post "user $i"
        assert_output --regexp '^201 [0-9a-f]{24}$'
        echo "${output#201 }" >>"$BATS_TEST_TMPDIR/ids"
    done
    # Each id, asked several times (connections land on either worker).
    while read -r id; do
        for _ in 1 2 3; do
            run -0 status "/users/$id"
            assert_output 200
        done
    done <"$BATS_TEST_TMPDIR/ids"
    for _ in 1 2 3 4; do
        run -0 curl -s --max-time 10 "http://127.0.0.1:$PORT/users"
        run -0 python3 -c 'import json,sys; print(len(json.loads(sys.argv[1])))' "$output"
        assert_output 10
    done

    # A reload (a route file changes): a new generation of the code, the same data.
    printf 'context.response.status = 200\ncontext.output = { reloaded = true }\n' \
        >"$APP/app/requests/index.lua"
    for _ in $(seq 100); do
        curl -s "http://127.0.0.1:$PORT/" | grep -q reloaded && break
        sleep 0.05
    done
    run -0 curl -s "http://127.0.0.1:$PORT/"
    assert_output --partial reloaded
    all_there "$BATS_TEST_TMPDIR/ids"

    stop_server
    [ -f "$APP/data/store.sqlite3" ]
    start_server_in "$APP" --quiet --workers 2
    all_there "$BATS_TEST_TMPDIR/ids"
    run -0 status /users/1
    assert_output 200
    stop_server
}

@test "store: every answered write survives SIGKILL in the middle of writes" {
    start_server_in "$APP" --quiet --workers 2
    # Two writers, each recording the ids the server answered.
    for w in 1 2; do
        (
            for i in $(seq 400); do
                r=$(post "w$w-$i")
                case "$r" in 201\ *) echo "${r#201 }" >>"$BATS_TEST_TMPDIR/ids.$w" ;; *) exit 0 ;; esac
            done
        ) &
    done
    # Kill once a good number of writes were answered (bounded wait).
    for _ in $(seq 200); do
        [ "$(cat "$BATS_TEST_TMPDIR"/ids.* 2>/dev/null | wc -l)" -ge 60 ] && break
        sleep 0.05
    done
    kill -KILL "$SERVER_PID"
    wait "$SERVER_PID" || true
    SERVER_PID=
    wait
    cat "$BATS_TEST_TMPDIR"/ids.* >"$BATS_TEST_TMPDIR/ids"
    [ "$(wc -l <"$BATS_TEST_TMPDIR/ids")" -ge 60 ]

    start_server_in "$APP" --quiet
    all_there "$BATS_TEST_TMPDIR/ids"
    # The database is whole.
    run -0 python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA integrity_check").fetchone()[0])' \
        "$APP/data/store.sqlite3"
    assert_output ok
    stop_server
}

@test "store: a file locked by another process answers 503, says so once, and recovers" {
    json_edit "$APP/lusty.json" 'd["store"]["busy_timeout_ms"] = 200'
    start_server_in "$APP"
    run -0 post "before"
    assert_output --regexp '^201 '

    lock_store

    for i in 1 2 3; do
        run -0 curl -s --max-time 10 -w '\n%{http_code}' -H 'Content-Type: application/json' \
            --data '{"name":"during"}' "http://127.0.0.1:$PORT/users"
        assert_line --index 1 503
        assert_line --index 0 '{"error":"service unavailable"}'
        # A route that does not touch the store answers meanwhile.
        run -0 status /
        assert_output 200
    done
    # The console says it once, naming the backend, the collection and why.
    wait_for_lines "$BATS_TEST_TMPDIR/err" "store: sqlite 'users': .*locked"
    [ "$(grep -c "store: sqlite 'users'" "$BATS_TEST_TMPDIR/err")" -eq 1 ]

    unlock_store
    run -0 post "after"
    assert_output --regexp '^201 '
    wait_for_lines "$BATS_TEST_TMPDIR/err" 'store: sqlite answers again'
    stop_server
}

@test "store: writes that come together while the file is locked wait one busy timeout, not one each" {
    json_edit "$APP/lusty.json" 'd["store"]["busy_timeout_ms"] = 1000'
    start_server_in "$APP"
    run -0 post "before"
    lock_store
    # Eight POSTs sent at once on eight open connections: they reach the
    # worker in one turn of its loop, so their writes go to SQLite as one
    # batch. Each is refused; one after the other, the last would wait
    # eight busy timeouts (8 s).
    run -0 python3 - "$PORT" <<'PY'
import json, socket, sys, time
port = int(sys.argv[1])
body = json.dumps({"name": "during"}).encode()
req = (b"POST /users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
       b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)) + body
conns = [socket.create_connection(("127.0.0.1", port), timeout=20) for _ in range(8)]
start = time.time()
for c in conns:
    c.sendall(req)
statuses = []
for c in conns:
    data = b""
    while True:
        chunk = c.recv(4096)
        if not chunk:
            break
        data += chunk
    statuses.append(data.split(b" ", 2)[1].decode())
print(" ".join(statuses))
print("slow" if time.time() - start > 4 else "fast")
PY
    assert_line --index 0 '503 503 503 503 503 503 503 503'
    assert_line --index 1 'fast'
    unlock_store
    run -0 post "after"
    assert_output --regexp '^201 '
    stop_server
}

@test "store: a full disk fails the write with a clear error and leaves the file intact" {
    local mnt="$BATS_TEST_TMPDIR/small"
    mkdir -p "$mnt"
    mount -t tmpfs -o size=4m tmpfs "$mnt" 2>/dev/null ||
        skip "cannot mount a small tmpfs here (needs root with CAP_SYS_ADMIN)"
    MOUNTED=$mnt
    json_edit "$APP/lusty.json" "d['store']['path'] = '$mnt/store.sqlite3'"
    cat >"$APP/full.lua" <<'LUA'
local docs = lusty.context.store.docs
local mnt = ...
for i = 1, 20 do docs.post({ n = i }) end
-- Fill the disk, then write a document that cannot fit.
os.execute(("dd if=/dev/zero of='%s/fill' bs=64k 2>/dev/null"):format(mnt))
local ok, err = pcall(docs.post, { big = ('x'):rep(2 * 1024 * 1024) })
assert(not ok, 'the write succeeded on a full disk')
print(err.kind, err.status)
print(tostring(err))
os.remove(mnt .. '/fill')
print(docs.options({}))
print(docs.post({ n = 21 }).n, docs.options({}))
LUA
    run -0 --separate-stderr bash -c "cd '$APP' && '$LUSTY_BIN' exec full.lua '$mnt'"
    umount "$mnt"
    MOUNTED=
    assert_line --index 0 $'full\t500'
    assert_line --index 1 --regexp "^store: sqlite 'docs': '.*store.sqlite3': the disk is full"
    assert_line --index 2 20
    assert_line --index 3 $'21\t21'
}

@test "store: indexes declared in lusty.json are made when the store opens and serve queries" {
    json_edit "$APP/lusty.json" 'd["store"]["indexes"] = {"users": ["email", "address.city"]}'
    cd "$APP"
    run -0 --separate-stderr "$LUSTY_BIN" exec -e '
local users = lusty.context.store.users
users.post({ name = "a", email = "a@example.com", address = { city = "Paris" } })
users.post({ name = "b", email = "b@example.com" })
print(#users.get({ email = "a@example.com" }), #users.get({ ["address.city"] = "Paris" }))'
    assert_output $'1\t1'
    run -0 python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
names = sorted(r[1] for r in db.execute("PRAGMA index_list(users)") if not r[1].startswith("sqlite_"))
print(" ".join(names))
plan = db.execute("""EXPLAIN QUERY PLAN SELECT doc FROM users WHERE json_extract(doc, '"'"'$."email"'"'"') = 1""").fetchall()
print(plan[0][3])' "$APP/data/store.sqlite3"
    assert_line --index 0 'users:address.city users:email'
    assert_line --index 1 --partial 'USING INDEX users:email'
}
