#!/usr/bin/env bats
# lusty doctor (and the same checks in bootstrap): MongoDB through the real
# driver against a closed port, a muted server and our wire-protocol server
# (or a real mongod with LUSTY_TEST_MONGODB_URI), nginx detection, the port.
load helpers
load ../fixtures/git_repos
load ../fixtures/servers

BATS_TEST_TIMEOUT=60

setup() {
    common_setup
    unset LUSTY_MONGODB_URI
}

teardown() { stop_servers; }

doctor() {
    timeout 30 "$LUSTY_BIN" doctor "$@"
}

# A MongoDB to reach: a real one when given, else our wire-protocol server.
reachable_uri() {
    if [ -n "${LUSTY_TEST_MONGODB_URI:-}" ]; then
        MONGO_URI=$LUSTY_TEST_MONGODB_URI
    else
        start_mongo
        MONGO_URI="mongodb://127.0.0.1:$PORT/app"
    fi
}

@test "MongoDB reachable: version and round trip, text and JSON" {
    reachable_uri
    run -0 --separate-stderr doctor --mongodb-uri "$MONGO_URI"
    assert_line --index 0 'no project here: checking with the defaults'
    assert_line --regexp "^  mongodb  reachable at ${MONGO_URI//\?/\\?} \(MongoDB [0-9][^,]*, [0-9.]+ ms\)$"
    [ -z "$stderr" ]
    run -0 --separate-stderr doctor --mongodb-uri "$MONGO_URI" --json
    "$PY" -c '
import json, sys
r = json.loads(sys.argv[1])
m = r["checks"]["mongodb"]
assert m["status"] == "reachable" and m["version"] and m["rtt_ms"] >= 0, m
assert m["uri_source"] == "--mongodb-uri" and r["ok"] is True and r["project"] is None, r
' "$output"
}

@test "MongoDB unreachable on a closed port: a warning, or an error when required" {
    local port
    port=$(closed_port)
    run -0 --separate-stderr doctor --mongodb-uri "mongodb://app:pw@127.0.0.1:$port/app"
    assert_line "  mongodb  unreachable at mongodb://app@127.0.0.1:$port/app (not required)"
    assert_equal "${stderr_lines[0]}" "lusty: warning: cannot reach MongoDB at 'mongodb://app@127.0.0.1:$port/app': No suitable servers found (\`serverSelectionTryOnce\` set): [connection refused calling hello on '127.0.0.1:$port']"
    assert_equal "${stderr_lines[1]}" "hint: start mongod, set the URI with --mongodb-uri or LUSTY_MONGODB_URI, or pass --skip-mongodb"
    run -1 --separate-stderr doctor --mongodb-uri "mongodb://127.0.0.1:$port" --require-mongodb
    [[ "${stderr_lines[0]}" == "lusty: error: cannot reach MongoDB at 'mongodb://127.0.0.1:$port': No suitable servers found"* ]]
}

@test "mongodb.required in lusty.json fails doctor and bootstrap" {
    local port
    port=$(closed_port)
    lusty init app --no-git --quiet
    "$PY" - app/lusty.json "mongodb://127.0.0.1:$port/app" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["mongodb"] = {"uri": sys.argv[2], "required": True}
json.dump(m, open(sys.argv[1], "w"))
PY
    run -1 --separate-stderr doctor app
    [[ "${stderr_lines[0]}" == "lusty: error: cannot reach MongoDB at 'mongodb://127.0.0.1:$port/app'"* ]]
    run -1 --separate-stderr timeout 30 "$LUSTY_BIN" bootstrap app
    [[ "${stderr_lines[0]}" == "lusty: error: cannot reach MongoDB"* ]]
    run -0 --separate-stderr timeout 30 "$LUSTY_BIN" bootstrap app --skip-mongodb
}

@test "a malformed URI is an error naming the problem" {
    run -1 --separate-stderr doctor --mongodb-uri 'mongodb://127.0.0.1:notaport'
    assert_line '  mongodb  invalid URI'
    [[ "${stderr_lines[0]}" == "lusty: error: invalid MongoDB URI 'mongodb://127.0.0.1:notaport' (from --mongodb-uri): "* ]]
    LUSTY_MONGODB_URI=http://example run -1 --separate-stderr doctor
    [[ "${stderr_lines[0]}" == "lusty: error: invalid MongoDB URI 'http://example' (from LUSTY_MONGODB_URI): "*"mongodb://"* ]]
}

@test "the timeout is honoured against a server that never answers" {
    start_mongo --mute
    local t0 t1
    t0=$(date +%s%N)
    run -0 --separate-stderr doctor --mongodb-uri "mongodb://127.0.0.1:$PORT" --mongodb-timeout 0.5
    t1=$(date +%s%N)
    assert_line "  mongodb  unreachable at mongodb://127.0.0.1:$PORT (not required)"
    # Half a second to select the server, with room for a slow machine.
    [ $(((t1 - t0) / 1000000)) -lt 2500 ]
    run -2 --separate-stderr doctor --mongodb-timeout 0
    assert_equal "$stderr" "lusty: error: invalid --mongodb-timeout '0': use seconds, more than 0, at most 600"
}

@test "the URI comes from the option, then LUSTY_MONGODB_URI, then lusty.json" {
    lusty init app --no-git --quiet
    run -0 --separate-stderr doctor app --skip-mongodb --json
    "$PY" -c 'import json,sys; m=json.loads(sys.argv[1])["checks"]["mongodb"]; assert (m["uri"], m["uri_source"], m["status"]) == ("mongodb://127.0.0.1:27017/app", "lusty.json", "skipped"), m' "$output"
    LUSTY_MONGODB_URI=mongodb://127.0.0.1:1/env run -0 --separate-stderr doctor app --skip-mongodb --json
    "$PY" -c 'import json,sys; m=json.loads(sys.argv[1])["checks"]["mongodb"]; assert m["uri_source"] == "LUSTY_MONGODB_URI", m' "$output"
    LUSTY_MONGODB_URI=mongodb://127.0.0.1:1/env run -0 --separate-stderr doctor app --skip-mongodb --json --mongodb-uri mongodb://h/opt
    "$PY" -c 'import json,sys; m=json.loads(sys.argv[1])["checks"]["mongodb"]; assert m["uri"] == "mongodb://h/opt", m' "$output"
    run -0 --separate-stderr doctor --skip-mongodb --json
    "$PY" -c 'import json,sys; m=json.loads(sys.argv[1])["checks"]["mongodb"]; assert m["uri_source"] == "default", m' "$output"
}

@test "nginx is found on PATH; no Lua module is asked for" {
    mkdir bin
    printf '#!/bin/sh\necho "nginx version: nginx/1.99.0" >&2\n' >bin/nginx
    chmod +x bin/nginx
    PATH="$PWD/bin:/usr/bin:/bin" run -0 --separate-stderr doctor --skip-mongodb
    assert_line "  nginx    found $PWD/bin/nginx (nginx/1.99.0)"
    refute_output --partial 'Lua module'
    run -0 --separate-stderr env PATH=/nonexistent "$LUSTY_BIN" doctor --skip-mongodb
    assert_line '  nginx    not found on PATH (needed only to deploy conf/nginx.conf)'
}

@test "deploy checks: conf/nginx.conf under nginx -t, its upstream port against lusty.json, the data folder" {
    command -v nginx >/dev/null || skip "nginx is not installed (scripts/setup installs it)"
    lusty init app --no-git --quiet
    run -0 --separate-stderr doctor app --skip-mongodb
    assert_line "  deploy   conf/nginx.conf loads (nginx -t); proxies to port 8080 as lusty.json says"
    assert_line "  data     data does not exist yet (create it before a production service starts)"
    assert_equal "$stderr" ""
    mkdir app/data
    run -0 --separate-stderr doctor app --skip-mongodb --json
    "$PY" -c 'import json,sys; c=json.loads(sys.argv[1])["checks"]; n=c["nginx"]; assert (n["config"], n["upstream_ports"], n["ports_match"], c["data"]) == ("ok", [8080], True, {"path": "data", "exists": True, "writable": True}), c' "$output"
    # The port moves in lusty.json, not in the config: said, with the fix.
    sed -i 's/"port": 8080/"port": 8099/' app/lusty.json
    run -0 --separate-stderr doctor app --skip-mongodb
    assert_line "  deploy   conf/nginx.conf loads (nginx -t); proxies to port 8080, not what lusty.json says"
    assert_equal "$stderr" "lusty: warning: conf/nginx.conf proxies to port 8080, but lusty.json says 8099
hint: run 'lusty deploy-files' to regenerate it from lusty.json"
    lusty deploy-files --quiet app
    run -0 --separate-stderr doctor app --skip-mongodb
    assert_line "  deploy   conf/nginx.conf loads (nginx -t); proxies to port 8099 as lusty.json says"
    # A config nginx refuses (the old OpenResty one): nginx's own words.
    printf 'events {}\nhttp { server { location / { content_by_lua_block { ngx.say(1) } } } }\n' >app/conf/nginx.conf
    run -0 --separate-stderr doctor app --skip-mongodb
    assert_line --partial "  deploy   conf/nginx.conf does not load (nginx -t)"
    [[ "$stderr" == *'unknown directive "content_by_lua_block"'* ]]
    # A data folder that cannot be written (not as root: root writes anywhere).
    if [ "$(id -u)" -ne 0 ]; then
        chmod a-w app/data
        run -0 --separate-stderr doctor app --skip-mongodb
        [[ "$stderr" == *"the data folder 'data' is not writable"* ]]
        chmod u+w app/data
    fi
}

@test "the project's port: free, or in use" {
    lusty init app --no-git --quiet
    start_mongo --mute
    local port=$PORT
    "$PY" - app/lusty.json "$port" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["server"]["port"] = int(sys.argv[2])
json.dump(m, open(sys.argv[1], "w"))
PY
    lusty deploy-files --quiet app
    run -0 --separate-stderr doctor app --skip-mongodb
    assert_line "  port     127.0.0.1:$port is not available"
    assert_equal "$stderr" "lusty: warning: port $port on 127.0.0.1 is not available (in use)"
    stop_servers
    run -0 --separate-stderr doctor app --skip-mongodb
    assert_line "  port     127.0.0.1:$port is free"
}

@test "doctor reports each handler against lusty.lock without fetching" {
    UP="$BATS_TEST_TMPDIR/up"
    mkdir -p "$UP"
    make_repo "$UP/a.git"
    make_repo "$UP/b.git"
    lusty init app --no-git --quiet
    set_handlers app "{\"a\": {\"git\": \"$UP/a.git\"}}"
    timeout 30 "$LUSTY_BIN" bootstrap app --skip-mongodb --quiet
    set_handlers app "{\"a\": {\"git\": \"$UP/a.git\"}, \"b\": {\"git\": \"$UP/b.git\"}}"
    echo x >>app/lusty_modules/a/README
    local before
    before=$(snapshot app)
    run -0 --separate-stderr doctor app --skip-mongodb
    assert_line "  a        has local changes $(head_of "$UP/a.git" | cut -c1-7) (1 modified file)"
    assert_line '  b        not installed'
    assert_equal "$stderr" "hint: run 'lusty bootstrap' to install the handlers as lusty.lock pins them"
    [ "$(snapshot app)" = "$before" ]
    run -0 --separate-stderr doctor app --skip-mongodb --json
    "$PY" -c 'import json,sys; h=json.loads(sys.argv[1])["handlers"]; assert [x["state"] for x in h] == ["changed", "missing"], h' "$output"
}

@test "doctor outside a project with a DIR is an error" {
    mkdir nothing
    run -1 --separate-stderr doctor nothing --skip-mongodb
    assert_equal "${stderr_lines[0]}" "lusty: error: no lusty.json in 'nothing' or any folder above it"
}

@test "doctor on a folder that does not exist says so" {
    run -1 --separate-stderr doctor "$BATS_TEST_TMPDIR/nonexist" --skip-mongodb
    assert_equal "$stderr" "lusty: error: cannot open '$BATS_TEST_TMPDIR/nonexist': no such folder"
}

@test "doctor lines up the state column after names longer than 8 characters" {
    lusty init app --no-git --quiet
    set_handlers app '{"a": {"git": "/nowhere/a.git"}, "a-long-handler-name": {"git": "/nowhere/b.git"}}'
    run -0 --separate-stderr doctor app --skip-mongodb
    assert_line '  a                   not installed'
    assert_line '  a-long-handler-name not installed'
}

@test "only the MongoDB probe loads the driver, and it leaves no shared memory behind" {
    # mongo-c-driver initialises itself in every process that links it and
    # makes /dev/shm/mongoc-<pid>; a killed process leaves it there.
    run ldd "$LUSTY_BIN"
    refute_output --partial 'libmongoc'
    local port before after
    port=$(closed_port)
    before=$(find /dev/shm -maxdepth 1 -name 'mongoc-*' 2>/dev/null | wc -l)
    for _ in 1 2 3; do
        run -0 --separate-stderr doctor --mongodb-uri "mongodb://127.0.0.1:$port" --mongodb-timeout 0.2
        assert_line "  mongodb  unreachable at mongodb://127.0.0.1:$port (not required)"
        run -0 "$LUSTY_BIN" --version
    done
    after=$(find /dev/shm -maxdepth 1 -name 'mongoc-*' 2>/dev/null | wc -l)
    [ "$after" -le "$before" ]
}

@test "a missing MongoDB probe is reported, not a crash" {
    # A copy of lusty and lusty-cli, without the other helper programs.
    mkdir -p "$BATS_TEST_TMPDIR/alone/bin"
    cp "$LUSTY_BIN" "$(dirname "$LUSTY_BIN")/lusty-cli" "$BATS_TEST_TMPDIR/alone/bin/"
    run -0 --separate-stderr "$BATS_TEST_TMPDIR/alone/bin/lusty" doctor --mongodb-uri mongodb://127.0.0.1:1
    [[ "$stderr" == *"lusty-mongo-ping, which makes the check, is not installed"* ]]
}

@test "lusty.json: unknown and duplicate keys are warnings with the key path and a did-you-mean" {
    mkdir app
    printf '{"name": "x", "ap": "app/config.lua", "server": {"prot": 1, "port": 1, "port": 2}}\n' >app/lusty.json
    run -0 --separate-stderr doctor app --skip-mongodb
    assert_stderr_line 0 "lusty: warning: '$PWD/app/lusty.json': unknown key 'ap' (ignored)"
    assert_stderr_line 1 "hint: did you mean 'app'?"
    assert_stderr_line 2 "lusty: warning: '$PWD/app/lusty.json': unknown key 'server.prot' (ignored)"
    assert_stderr_line 3 "hint: did you mean 'server.port'?"
    assert_stderr_line 4 "lusty: warning: '$PWD/app/lusty.json': duplicate key 'server.port': only the first one is used"
}

@test "lusty.json: a known key at the wrong level is pointed to where it belongs" {
    mkdir app
    printf '{"name": "x", "statik": {"/s/": "s"}, "server": {"max_connections": 5}}\n' >app/lusty.json
    run -0 --separate-stderr doctor app --skip-mongodb
    assert_stderr_line 0 "lusty: warning: '$PWD/app/lusty.json': unknown key 'statik' (ignored)"
    assert_stderr_line 1 "hint: did you mean 'server.static'?"
    assert_stderr_line 2 "lusty: warning: '$PWD/app/lusty.json': unknown key 'server.max_connections' (ignored)"
    assert_stderr_line 3 "hint: did you mean 'server.limits.max_connections'?"
}

@test "lusty.json: doctor refuses what the server refuses, with the same message" {
    mkdir app
    for bad in '"lua_budget_ms": -1' '"limits": {"body_bytes": 0}' '"port": "80"'; do
        printf '{"name": "x", "server": {%s}}\n' "$bad" >app/lusty.json
        run -1 --separate-stderr doctor app --skip-mongodb
        local doctor_err=$stderr
        [[ "$doctor_err" == "lusty: error: invalid '$PWD/app/lusty.json': server."* ]]
        run -1 --separate-stderr timeout 10 "$LUSTY_BIN" server app --port 0
        assert_equal "$stderr" "$doctor_err"
    done
}

@test "lusty.json: trailing text, invalid UTF-8 and a runaway size are errors" {
    mkdir app
    printf '{"name": "x"}\n}garbage\n' >app/lusty.json
    run -1 --separate-stderr doctor app --skip-mongodb
    assert_equal "$stderr" "lusty: error: '$PWD/app/lusty.json' is not valid JSON: unexpected text after the object at line 2, column 1"
    printf '{"name": "x\xc3("}\n' >app/lusty.json
    run -1 --separate-stderr doctor app --skip-mongodb
    assert_equal "$stderr" "lusty: error: '$PWD/app/lusty.json' is not valid UTF-8 at line 1, column 12"
    "$PY" -c 'import sys; open(sys.argv[1], "w").write("{\"name\": \"x\", \"pad\": \"" + "a" * 2000000 + "\"}")' app/lusty.json
    SECONDS=0
    run -1 --separate-stderr doctor app --skip-mongodb
    assert_equal "$stderr" "lusty: error: '$PWD/app/lusty.json' is too big: 2000024 bytes, more than the 1024 KiB a project file may have"
    [ "$SECONDS" -lt 2 ]
    run -1 --separate-stderr timeout 10 "$LUSTY_BIN" server app --port 0
    assert_equal "$stderr" "lusty: error: '$PWD/app/lusty.json' is too big: 2000024 bytes, more than the 1024 KiB a project file may have"
}

@test "the store: an SQLite file to create, a writable one, and one that is not a database" {
    mkdir app
    printf '{"name": "x", "store": {"path": "var/db/store.sqlite3"}}\n' >app/lusty.json
    run -0 --separate-stderr doctor app --skip-mongodb
    assert_line '  store    will be created sqlite var/db/store.sqlite3'
    [ ! -e app/var ]
    mkdir -p app/var/db
    "$PY" -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("create table users (x)"); c.commit()' \
        app/var/db/store.sqlite3
    run -0 --separate-stderr doctor app --skip-mongodb --json
    "$PY" -c '
import json, sys
s = json.loads(sys.argv[1])["checks"]["store"]
assert s["backend"] == "sqlite" and s["exists"] and s["ok"] and s["collections"] == 1, s
' "$output"
    echo 'not a database at all, not even close to one' >app/var/db/store.sqlite3
    run -1 --separate-stderr doctor app --skip-mongodb
    assert_line '  store    unusable sqlite var/db/store.sqlite3'
    assert_stderr_line 0 "lusty: error: the store 'var/db/store.sqlite3' cannot be used: cannot read it as an SQLite database: file is not a database"
}

@test "lusty.json: the store's keys are checked" {
    mkdir app
    printf '{"name": "x", "store": {"backend": "redis", "indexes": {"users": "email"}, "collections": {"a": {"backend": "mongodb", "pth": 1}}, "busy_timeout_ms": -1}}\n' >app/lusty.json
    run -1 --separate-stderr doctor app --skip-mongodb
    assert_stderr_line 0 "lusty: error: invalid '$PWD/app/lusty.json': store.backend must be \"sqlite\" or \"mongodb\""
    assert_stderr_line 1 "lusty: error: invalid '$PWD/app/lusty.json': store.indexes.users must be an array of strings"
    assert_stderr_line 2 "lusty: warning: '$PWD/app/lusty.json': unknown key 'store.collections.a.pth' (ignored)"
    assert_stderr_line 3 "hint: did you mean 'store.collections.a.path'?"
    assert_stderr_line 4 "lusty: error: invalid '$PWD/app/lusty.json': store.busy_timeout_ms must be a whole number from 0 to 600000"
    printf '{"name": "x", "store": {"backend": "mongodb", "path": "s.db", "synchronous": "full", "indexes": {"users": ["email", "a.b"]}, "collections": {"logs": {"backend": "sqlite"}}}, "mongodb": {"database": "d"}}\n' >app/lusty.json
    run -0 --separate-stderr doctor app --skip-mongodb
    [ -z "$stderr" ]
}
