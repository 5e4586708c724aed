#!/usr/bin/env bats
# The store on MongoDB over HTTP: `lusty server` with a small app whose
# routes call context.store, against the wire-protocol test server
# (tests/fixtures/mongo_wire_server.py). Two workers share the data; the
# MongoDB server going away is answered 503 naming it (without its
# password) and the same server process works again when it comes back.
# Servers listen on 127.0.0.1, port 0 (the MongoDB one is started again on
# its port), and are stopped by PID.
bats_require_minimum_version 1.5.0
load helpers
load server_helpers
load ../fixtures/servers

setup() {
    common_setup
    SERVER_PID=
    [ -f "$LUSTY_SOURCE_DIR/runtime/lua/lusty/store/backend.lua" ] ||
        skip "the store's Lua side is not in this tree"
}

teardown() {
    kill_server
    stop_servers
}

# make_app DIR URI: a project whose store is MongoDB at URI, with one route:
# GET /items lists the items, POST /items stores the JSON body; a store
# error is answered with its status and message.
make_app() {
    local dir=$1 uri=$2
    mkdir -p "$dir/app/requests"
    cat >"$dir/lusty.json" <<JSON
{
  "name": "items",
  "server": { "host": "127.0.0.1", "port": 0, "static": {} },
  "app": "app/config.lua",
  "handlers": {},
  "store": { "backend": "mongodb" },
  "mongodb": { "uri": "$uri" }
}
JSON
    cat >"$dir/app/config.lua" <<'LUA'
return {
  subscribers = {
    ['input'] = { 'lusty.json.input' },
    ['request'] = { ['lusty.router'] = { patterns = { { ['items'] = 'requests.items' } } } },
    ['output'] = { ['lusty.json.output'] = { default = true, empty_as_array = true } },
    ['store'] = { 'lusty.store.backend' },
  },
  publishers = { 'input', 'request', 'output' },
  context = { ['lusty.store'] = {} },
}
LUA
    cat >"$dir/app/requests/items.lua" <<'LUA'
local items = context.store.items
local ok, result = pcall(function()
  if context.request.method == 'POST' then return items.post(context.input) end
  return items.get({}, { sort = { n = 1 } })
end)
if ok then
  context.response.status = context.request.method == 'POST' and 201 or 200
  context.output = result
else
  context.response.status = type(result) == 'table' and result.status or 500
  context.output = { error = tostring(result) }
end
LUA
}

# request METHOD [BODY]: prints the status line's code then the body.
request() {
    local args=(-s --max-time 10 -o "$BATS_TEST_TMPDIR/body" -w '%{http_code}' -X "$1")
    [ $# -gt 1 ] && args+=(-H 'Content-Type: application/json' --data "$2")
    curl "${args[@]}" "http://127.0.0.1:$PORT/items"
    echo
    cat "$BATS_TEST_TMPDIR/body"
}

@test "documents posted through one worker are read through the other" {
    start_mongo
    make_app "$BATS_TEST_TMPDIR/app" "mongodb://127.0.0.1:$PORT/shop"
    start_server_in "$BATS_TEST_TMPDIR/app" --quiet --workers 2
    for n in 1 2 3 4; do
        run -0 request POST "{\"n\": $n, \"name\": \"item $n\"}"
        assert_line --index 0 201
        [[ "${lines[1]}" =~ \"_id\":\"[0-9a-f]{24}\" ]]
    done
    # Successive connections land on either worker: all see the four.
    for _ in 1 2 3 4 5 6; do
        run -0 request GET
        assert_line --index 0 200
        run -0 python3 -c 'import json, sys; print([(d["n"], d["name"]) for d in json.load(sys.stdin)])' \
            <"$BATS_TEST_TMPDIR/body"
        assert_output "[(1, 'item 1'), (2, 'item 2'), (3, 'item 3'), (4, 'item 4')]"
    done
    # The driver is loaded now, and made no shared-memory segment a killed
    # server would leave behind.
    grep -q lusty-store-mongodb /proc/$SERVER_PID/maps
    grep -q libmongoc /proc/$SERVER_PID/maps
    [ ! -e "/dev/shm/mongoc-$SERVER_PID" ]
    stop_server TERM 0
}

@test "MongoDB going away is a 503 naming it without its password, and coming back needs no restart" {
    start_mongo
    local mongo_port=$PORT
    make_app "$BATS_TEST_TMPDIR/app" \
        "mongodb://shop:s3cret@127.0.0.1:$mongo_port/shop?authMechanism=PLAIN&serverSelectionTimeoutMS=500"
    start_server_in "$BATS_TEST_TMPDIR/app" --quiet
    local http_port=$PORT
    run -0 request POST '{"n": 1}'
    assert_line --index 0 201
    stop_servers # MongoDB goes away
    local started=$SECONDS
    for _ in 1 2 3; do
        run -0 request GET
        assert_line --index 0 503
        assert_line --index 1 --partial "mongodb://shop:***@127.0.0.1:$mongo_port/shop"
        refute_output --partial s3cret
    done
    [ $((SECONDS - started)) -lt 10 ]
    # The console says it once for the outage, not once per request.
    wait_for_lines "$BATS_TEST_TMPDIR/err" "cannot reach"
    [ "$(grep -c 'cannot reach' "$BATS_TEST_TMPDIR/err")" -eq 1 ]
    run -1 grep -c s3cret "$BATS_TEST_TMPDIR/err"
    # MongoDB comes back on its port (empty: the stand-in keeps nothing).
    start_mongo --port "$mongo_port"
    PORT=$http_port
    local status=""
    for _ in $(seq 100); do
        status=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/items")
        [ "$status" = 200 ] && break
        sleep 0.1
    done
    [ "$status" = 200 ]
    run -0 request POST '{"n": 2}'
    assert_line --index 0 201
    stop_server TERM 0
}
