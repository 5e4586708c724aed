#!/usr/bin/env bats
# lusty server serving each built-in template as `lusty init` creates it:
# every route as JSON and as HTML, the 404 and 500 pages, static assets.
# Servers listen on 127.0.0.1, port 0, and are stopped by PID.
load helpers
load server_helpers

setup() {
    common_setup
    SERVER_PID=
}

teardown() { kill_server; }

# Creates a project from template $1 in $APP and serves it (--quiet).
serve_template() {
    APP="$BATS_TEST_TMPDIR/$1"
    "$LUSTY_BIN" init "$APP" --template "$1" --no-git -q
    start_server_in "$APP" --quiet
}

HTML='Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'
JSON='Accept: application/json'

# Prints "STATUS CONTENT-TYPE" then the body of a request.
fetch() {
    curl -s --max-time 10 -D "$BATS_TEST_TMPDIR/head" -o "$BATS_TEST_TMPDIR/body" "$@"
    local status type
    status=$(sed -n '1s|^HTTP/1.1 \([0-9]*\).*|\1|p' "$BATS_TEST_TMPDIR/head")
    type=$(sed -n 's|^[Cc]ontent-[Tt]ype: \([^;\r]*\).*|\1|p' "$BATS_TEST_TMPDIR/head" | head -1)
    echo "$status $type"
    cat "$BATS_TEST_TMPDIR/body"
}

json_check() {
    python3 -c 'import json, sys; d = json.load(sys.stdin); ok = eval("(" + sys.argv[1].strip() + ")"); sys.exit(0 if ok else print(json.dumps(d, indent=1), file=sys.stderr) or 1)' "$1"
}

body_json() {
    json_check "$1" <"$BATS_TEST_TMPDIR/body"
}

@test "default template: every route as HTML and as JSON, 404, 500, static" {
    serve_template default
    local u="http://127.0.0.1:$PORT"
    run -0 fetch -H "$HTML" "$u/"
    assert_line --index 0 '200 text/html'
    assert_output --partial '<title>default</title>'
    assert_output --partial 'Welcome to default'
    assert_output --partial '<link rel="stylesheet" href="/static/css/app.css">'
    run -0 fetch -H "$JSON" "$u/"
    assert_line --index 0 '200 application/json'
    body_json 'd["message"] == "Welcome to default" and len(d["links"]) == 3'

    run -0 fetch -H "$HTML" "$u/users"
    assert_line --index 0 '200 text/html'
    assert_output --partial 'Ada Lovelace'
    assert_output --partial 'Grace Hopper'
    run -0 fetch -H "$JSON" "$u/users/"
    assert_line --index 0 '200 application/json'
    body_json '[x["name"] for x in d["users"]] == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]'

    run -0 fetch -H "$HTML" "$u/users/2"
    assert_line --index 0 '200 text/html'
    assert_output --partial '<h1>Alan Turing</h1>'
    run -0 fetch -H "$JSON" "$u/users/2"
    body_json 'd["user"]["name"] == "Alan Turing" and d["user"]["id"] == "2"'

    # The app's own 404 page: unknown URLs and unknown ids.
    for path in /nowhere /users/99 /users/1/extra; do
        run -0 fetch -H "$HTML" "$u$path"
        assert_line --index 0 '404 text/html'
        assert_output --partial '<h1>404 Not Found</h1>'
        assert_output --partial '<header class="site-header">'
        run -0 fetch -H "$JSON" "$u$path"
        assert_line --index 0 '404 application/json'
        body_json 'd["error"]["status"] == 404'
    done

    # In development, a browser gets the development error page in place
    # of the app's own 500 page: the error, file and line, the source
    # around it, the traceback and the request.
    run -0 fetch -H "$HTML" "$u/boom"
    assert_line --index 0 '500 text/html'
    assert_output --partial '<h1>app/requests/boom.lua:7: boom: this route fails on purpose</h1>'
    assert_output --partial '<p class="where">app/requests/boom.lua, line 7</p>'
    assert_output --regexp "<span class=\"here\">7  error\(&#39;boom: this route fails on purpose&#39;\)</span>"
    assert_output --partial 'stack traceback'
    refute_output --partial "$APP/"
    run -0 fetch -H "$JSON" "$u/boom"
    assert_line --index 0 '500 application/json'
    body_json 'd["error"]["status"] == 500'
    # As the server prints errors: method, target, paths from the project,
    # and what the client got.
    wait_for_lines "$BATS_TEST_TMPDIR/err" 'error: GET /boom: app/requests/boom.lua:7: boom: this route fails on purpose \(the client got the development error page; in production, what the app sent\)'
    wait_for_lines "$BATS_TEST_TMPDIR/err" 'error: GET /boom: app/requests/boom.lua:7: boom: this route fails on purpose \(the client got what the app sent\)'
    wait_for_lines "$BATS_TEST_TMPDIR/err" 'ERROR +GET /boom: app/requests/boom.lua:7: boom' 2
    run cat "$BATS_TEST_TMPDIR/err"
    refute_output --partial "$APP/"

    run -0 fetch "$u/static/css/app.css"
    assert_line --index 0 '200 text/css'
    run -0 fetch -H "$JSON" "$u/static/nothing.css"
    assert_line --index 0 '404 text/plain'
    stop_server
}

@test "api template: every route, POST with a JSON body, 404 and 500 as JSON" {
    serve_template api
    local u="http://127.0.0.1:$PORT"
    for accept in "$JSON" "$HTML"; do
        run -0 fetch -H "$accept" "$u/"
        assert_line --index 0 '200 application/json'
        body_json 'd["name"] == "api" and "GET /users" in d["endpoints"]'
        run -0 fetch -H "$accept" "$u/users"
        assert_line --index 0 '200 application/json'
        body_json 'isinstance(d, list) and len(d) >= 1'
    done
    run -0 fetch -H "$JSON" -H 'Content-Type: application/json' -X POST --data '{"name":"Edsger","email":"e@example.com"}' "$u/users"
    assert_line --index 0 '201 application/json'
    body_json 'd["name"] == "Edsger"'
    id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$BATS_TEST_TMPDIR/body")
    grep -qi "^location: /users/$id" "$BATS_TEST_TMPDIR/head"
    run -0 fetch -H "$JSON" "$u/users/$id"
    assert_line --index 0 '200 application/json'
    body_json 'd["name"] == "Edsger"'
    run -0 fetch -H "$JSON" -H 'Content-Type: application/json' -X POST --data '{"nope":1}' "$u/users"
    assert_line --index 0 '400 application/json'
    run -0 fetch -H "$JSON" -X DELETE "$u/users"
    assert_line --index 0 '405 application/json'
    for accept in "$JSON" "$HTML"; do
        run -0 fetch -H "$accept" "$u/users/999"
        assert_line --index 0 '404 application/json'
        body_json 'd["error"] == "not found"'
        run -0 fetch -H "$accept" "$u/no/such/thing"
        assert_line --index 0 '404 application/json'
    done
    # A 500: break a route file (reload picks it up) and see the app's 500.
    printf 'error("broken on purpose")\n' >"$APP/app/requests/index.lua"
    for _ in $(seq 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$u/")" = 500 ] && break
        sleep 0.05
    done
    run -0 fetch -H "$JSON" "$u/"
    assert_line --index 0 '500 application/json'
    stop_server
}

@test "minimal template: the one route, the runtime's 404, and a 500 with file and line" {
    serve_template minimal
    local u="http://127.0.0.1:$PORT"
    run -0 fetch -H "$HTML" "$u/"
    assert_line --index 0 '200 text/html'
    assert_line 'Hello from minimal!'
    run -0 fetch -H "$JSON" "$u/"
    assert_line --index 0 '200 text/html'
    run -0 fetch -H "$HTML" "$u/nothing"
    assert_line --index 0 '404 text/html'
    assert_output --partial '<title>404 Not Found</title>'
    run -0 fetch -H "$JSON" "$u/nothing"
    assert_line --index 0 '404 application/json'
    body_json 'd["status"] == 404'
    # No error route: the runtime's 500 names the file and line.
    printf 'context.response.status = 200\nlocal x = nil\ncontext.output = x.y\n' >"$APP/app/requests/index.lua"
    for _ in $(seq 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$u/")" = 500 ] && break
        sleep 0.05
    done
    run -0 fetch -H "$HTML" "$u/"
    assert_line --index 0 '500 text/html'
    assert_output --partial "app/requests/index.lua:3: attempt to index local &#39;x&#39;" || \
        assert_output --partial "app/requests/index.lua:3: attempt to index local 'x'"
    run -0 fetch -H "$JSON" "$u/"
    body_json 'd["message"].startswith("app/requests/index.lua:3: ") and "app/requests/index.lua:3" in d["trace"]'
    stop_server
}

@test "default template: error routes are not URLs; sent bodies and redirects get no JSON added" {
    APP="$BATS_TEST_TMPDIR/default"
    "$LUSTY_BIN" init "$APP" --template default --no-git -q
    printf 'context.response.status = 200\ncontext.response.send("plain")\n' \
        >"$APP/app/requests/sent.lua"
    printf 'context.response.status = 303\ncontext.response.headers.location = "/"\n' \
        >"$APP/app/requests/away.lua"
    printf 'context.response.status = 200\ncontext.output = { items = {} }\n' \
        >"$APP/app/requests/empty.lua"
    sed -i "s|{ \['boom'\] = 'requests.boom' },|&\n          { ['sent'] = 'requests.sent' },\n          { ['away'] = 'requests.away' },\n          { ['empty'] = 'requests.empty' },|" \
        "$APP/app/config.lua"
    start_server_in "$APP" --quiet
    local u="http://127.0.0.1:$PORT"

    run -0 fetch -H "$JSON" "$u/500"
    assert_line --index 0 '404 application/json'
    run -0 fetch -H "$HTML" "$u/404"
    assert_line --index 0 '404 text/html'

    run -0 fetch -H "$JSON" "$u/sent"
    assert_output "200 
plain"
    # No `{}` from lusty.json.output: what comes is the runtime's own small
    # page for a status that has a body.
    run -0 fetch -H "$JSON" "$u/away"
    assert_line --index 0 '303 application/json'
    assert_line --index 1 '{"status":303,"error":"See Other"}'

    run -0 fetch -H "$JSON" "$u/empty"
    assert_output '200 application/json
{"items":[]}'
}
