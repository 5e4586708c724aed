#!/usr/bin/env bats
# The deploy files (docs/deploy.md): what `lusty init` writes and `lusty
# deploy-files` regenerates, the systemd unit under systemd-analyze, the
# client address behind trusted proxies, and Debian's nginx with the
# generated conf/nginx.conf in front of two `lusty server` instances. Every
# server listens on 127.0.0.1 and is stopped by PID; every wait is bounded.
load helpers
load server_helpers

setup() {
    common_setup
    APP="$BATS_TEST_TMPDIR/app"
    cp -r "$LUSTY_SOURCE_DIR/tests/fixtures/app-forms" "$APP"
    SERVER_PID=
    PIDS=()
}

teardown() {
    kill_server
    for pid in "${PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}

@test "lusty init writes conf/nginx.conf, conf/lusty.service and logs/.gitignore, with no Lua module anywhere" {
    for t in default api minimal; do
        run -0 lusty init --template "$t" --no-git --quiet "p-$t"
        assert_file_exists "p-$t/conf/nginx.conf"
        assert_file_exists "p-$t/conf/lusty.service"
        assert_file_exists "p-$t/logs/.gitignore"
        run grep -rlE 'lua_package_path|content_by_lua|init_by_lua|OpenResty|openresty' "p-$t"
        assert_output ''
        run grep -c 'server 127.0.0.1:8080 ' "p-$t/conf/nginx.conf"
        assert_output 1
        assert_file_contains "p-$t/conf/lusty.service" "ExecStart=.* server --env production $PWD/p-$t\$"
        assert_file_contains "p-$t/conf/lusty.service" "^ReadWritePaths=$PWD/p-$t/data\$"
        run -0 lusty deploy-files "p-$t"
        assert_output "  unchanged conf/nginx.conf
  unchanged conf/lusty.service
  unchanged logs/.gitignore"
    done
    assert_file_contains p-default/conf/nginx.conf 'location \^~ "/static/" {'
}

@test "deploy-files follows lusty.json; an edited file is kept unless --force; --dry-run writes nothing" {
    json_edit "$APP/lusty.json" 'd["server"]["limits"] = {"body_bytes": 2097152, "header_timeout_ms": 1500, "idle_timeout_ms": 20000}; d["deploy"] = {"listen": 8088, "upstreams": ["127.0.0.1:9001", "127.0.0.1:9002"], "user": "www-data", "dir": "/srv/app"}'
    run -0 lusty deploy-files "$APP"
    assert_line '  create    conf/nginx.conf'
    assert_file_contains "$APP/conf/nginx.conf" '^    client_max_body_size 2097152;$'
    assert_file_contains "$APP/conf/nginx.conf" '^    client_header_timeout 1500ms;$'
    assert_file_contains "$APP/conf/nginx.conf" '^    keepalive_timeout 20s;$'
    assert_file_contains "$APP/conf/nginx.conf" '^        server 127.0.0.1:9002 max_fails=1 fail_timeout=2s;$'
    assert_file_contains "$APP/conf/nginx.conf" '^        listen 8088;$'
    assert_file_contains "$APP/conf/lusty.service" '^User=www-data$'
    assert_file_contains "$APP/conf/lusty.service" '^WorkingDirectory=/srv/app$'
    assert_file_contains "$APP/conf/lusty.service" '^ReadWritePaths=/srv/app/data$'
    # A lusty.json change updates files nobody edited, without --force.
    json_edit "$APP/lusty.json" 'd["deploy"]["listen"] = 8089'
    run -0 lusty deploy-files "$APP"
    assert_line '  update    conf/nginx.conf'
    assert_line '  unchanged conf/lusty.service'
    assert_file_contains "$APP/conf/nginx.conf" '^        listen 8089;$'
    # An edited file: refused, and nothing at all is written.
    echo '# my own line' >>"$APP/conf/nginx.conf"
    json_edit "$APP/lusty.json" 'd["deploy"]["user"] = "app"'
    snapshot "$APP" >"$BATS_TEST_TMPDIR/before"
    run -1 lusty deploy-files "$APP"
    assert_output "lusty: error: 'conf/nginx.conf' was edited since it was generated: not replacing it
hint: keep your edits, or pass --force to replace it (nothing was written)"
    snapshot "$APP" | diff "$BATS_TEST_TMPDIR/before" -
    run -0 lusty deploy-files --dry-run --force "$APP"
    assert_line '  replace   conf/nginx.conf'
    assert_line '  update    conf/lusty.service'
    assert_line 'Dry run: nothing was written.'
    snapshot "$APP" | diff "$BATS_TEST_TMPDIR/before" -
    run -0 lusty deploy-files --force "$APP"
    run -1 grep -c 'my own line' "$APP/conf/nginx.conf"
    assert_file_contains "$APP/conf/lusty.service" '^User=app$'
    run -2 lusty deploy-files --bogus
    run -1 lusty deploy-files "$BATS_TEST_TMPDIR/nothing-here"
}

@test "conf/lusty.service passes systemd-analyze verify" {
    command -v systemd-analyze >/dev/null || skip "systemd is not installed"
    run -0 lusty init --no-git --quiet proj
    # The unit's name must end in .service; the binary must exist.
    cp proj/conf/lusty.service "$BATS_TEST_TMPDIR/proj.service"
    run -0 systemd-analyze verify "$BATS_TEST_TMPDIR/proj.service"
    refute_output --partial 'proj.service:'
    assert_file_contains proj/conf/lusty.service '^NoNewPrivileges=yes$'
    assert_file_contains proj/conf/lusty.service '^ProtectSystem=strict$'
    assert_file_contains proj/conf/lusty.service '^Restart=on-failure$'
    assert_file_contains proj/conf/lusty.service '^ExecReload=/bin/kill -HUP \$MAINPID$'
}

@test "remoteAddr and scheme: X-Forwarded-* believed only from server.trusted_proxies" {
    start_server_in "$APP" --quiet
    run -0 curl -s -H 'X-Forwarded-For: 203.0.113.7' -H 'X-Forwarded-Proto: https' "http://127.0.0.1:$PORT/echo"
    echo "$output" | python3 -c 'import json, sys; d = json.load(sys.stdin); assert (d["remoteAddr"], d["scheme"], d["url"][:7]) == ("127.0.0.1", "http", "http://"), d'
    stop_server
    json_edit "$APP/lusty.json" 'd["server"]["trusted_proxies"] = ["127.0.0.1"]'
    start_server_in "$APP" --quiet
    run -0 curl -s -H 'X-Forwarded-For: 203.0.113.7, 10.1.2.3' -H 'X-Forwarded-Proto: https' -H 'Host: example.com' "http://127.0.0.1:$PORT/echo"
    echo "$output" | python3 -c 'import json, sys; d = json.load(sys.stdin); assert (d["remoteAddr"], d["scheme"], d["url"], d["port"]) == ("10.1.2.3", "https", "https://example.com/echo", 443), d'
    stop_server
    json_edit "$APP/lusty.json" 'd["server"]["trusted_proxies"] = ["127.0.0.1", "10.0.0.0/8"]'
    start_server_in "$APP" --quiet
    run -0 curl -s -H 'X-Forwarded-For: 203.0.113.7, 10.1.2.3' "http://127.0.0.1:$PORT/echo"
    echo "$output" | python3 -c 'import json, sys; d = json.load(sys.stdin); assert d["remoteAddr"] == "203.0.113.7" and d["scheme"] == "http", d'
    stop_server
    json_edit "$APP/lusty.json" 'd["server"]["trusted_proxies"] = ["nginx"]'
    run -1 "$LUSTY_BIN" server --port 0 "$APP"
    assert_output --partial 'server.trusted_proxies must list addresses or networks'
    json_edit "$APP/lusty.json" 'd["server"]["trusted_proxies"] = "127.0.0.1"'
    run -1 "$LUSTY_BIN" server --port 0 "$APP"
    assert_output --partial 'server.trusted_proxies must be an array of strings'
}

# start_instance PORT NAME: a production lusty server on PORT, its output in NAME.out.
start_instance() {
    "$LUSTY_BIN" server --env production --workers 1 --port "$1" "$APP" \
        >"$BATS_TEST_TMPDIR/$2.out" 2>"$BATS_TEST_TMPDIR/$2.err" 3>&- &
    PIDS+=($!)
    eval "${2}_PID=$!"
    for _ in $(seq 200); do
        grep -q "http://127.0.0.1:$1/" "$BATS_TEST_TMPDIR/$2.out" 2>/dev/null && return 0
        sleep 0.05
    done
    cat "$BATS_TEST_TMPDIR/$2.err" >&2
    return 1
}

@test "Debian's nginx with the generated config in front of two instances: static, round robin, X-Forwarded-For, one instance stopped" {
    command -v nginx >/dev/null || skip "nginx is not installed (scripts/setup installs it)"
    local np p1 p2
    np=$(free_port) p1=$(free_port) p2=$(free_port)
    json_edit "$APP/lusty.json" "d['server']['trusted_proxies'] = ['127.0.0.1']; d['deploy'] = {'host': '127.0.0.1', 'listen': $np, 'upstreams': ['127.0.0.1:$p1', '127.0.0.1:$p2']}"
    run -0 lusty deploy-files --quiet "$APP"
    run -0 nginx -t -q -p "$APP/" -c conf/nginx.conf -e stderr
    start_instance "$p1" one
    start_instance "$p2" two
    # As root, nginx's workers would run as nobody, who may not enter the
    # test's folder.
    local user=
    [ "$(id -u)" -ne 0 ] || user='user root;'
    nginx -p "$APP/" -c conf/nginx.conf -e stderr -g "daemon off; $user" \
        >"$BATS_TEST_TMPDIR/nginx.out" 2>"$BATS_TEST_TMPDIR/nginx.err" 3>&- &
    local nginx_pid=$!
    PIDS+=("$nginx_pid")
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$np/static/hello.txt" && break
        sleep 0.05
    done
    # Static files come from nginx, with caching headers, and reach no instance.
    run -0 curl -si "http://127.0.0.1:$np/static/hello.txt"
    assert_line --partial 'Server: nginx'
    assert_line --partial 'Cache-Control: max-age=3600'
    assert_line --partial 'fixture static'
    # App routes alternate between the instances.
    for _ in $(seq 10); do
        run -0 curl -s -H 'Accept: application/json' "http://127.0.0.1:$np/echo/rr"
        assert_output --partial '"uri":"/echo/rr"'
    done
    run grep -c '"path":"/echo/rr"' "$BATS_TEST_TMPDIR/one.out"
    [ "$output" -ge 3 ]
    run grep -c '"path":"/echo/rr"' "$BATS_TEST_TMPDIR/two.out"
    [ "$output" -ge 3 ]
    run -1 grep -h 'hello.txt' "$BATS_TEST_TMPDIR/one.out" "$BATS_TEST_TMPDIR/two.out"
    # The client's address reaches the context through X-Forwarded-For.
    run -0 curl -s -H 'X-Forwarded-For: 198.51.100.9' "http://127.0.0.1:$np/echo"
    echo "$output" | python3 -c 'import json, sys; d = json.load(sys.stdin); assert d["remoteAddr"] == "198.51.100.9", d'
    run -0 curl -s "http://127.0.0.1:$np/echo"
    echo "$output" | python3 -c 'import json, sys; d = json.load(sys.stdin); assert d["remoteAddr"] == "127.0.0.1" and d["port"] == '"$np"', d'
    # A client runs while one instance stops: no request is lost.
    python3 - "$np" "$BATS_TEST_TMPDIR/client" <<'PY' &
import http.client, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
ok = failed = 0
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
end = time.time() + 3
while time.time() < end:
    try:
        conn.request("GET", "/echo/loop")
        r = conn.getresponse()
        r.read()
        if r.status == 200: ok += 1
        else: failed += 1
    except Exception as e:
        failed += 1
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
open(out, "w").write("%d %d\n" % (ok, failed))
PY
    local client=$!
    wait_for_lines "$BATS_TEST_TMPDIR/one.out" '"path":"/echo/loop"' 20
    kill -TERM "$one_PID"
    wait "$one_PID"
    wait "$client"
    run cat "$BATS_TEST_TMPDIR/client"
    read -r ok failed <"$BATS_TEST_TMPDIR/client"
    echo "ok=$ok failed=$failed" >&2
    [ "$failed" -eq 0 ]
    [ "$ok" -gt 50 ]
    kill -QUIT "$nginx_pid"
    wait "$nginx_pid" || true
}
