#!/usr/bin/env bats
# lusty generate (alias g): each generator on a fresh `lusty init` project,
# the config edited with its comments kept, refusal of a config it cannot
# edit, --dry-run, --force, the generated specs passing under `lusty test`
# and the server answering the new routes.
bats_require_minimum_version 1.5.0
load helpers
load server_helpers

setup_file() {
    # One project made once; each test works on its own copy.
    export NO_COLOR=1 HOME="$BATS_FILE_TMPDIR/home"
    mkdir -p "$HOME"
    (cd "$BATS_FILE_TMPDIR" && "$LUSTY_BIN" init blog --no-git --quiet >/dev/null)
}

setup() {
    common_setup
    cp -r "$BATS_FILE_TMPDIR/blog" "$BATS_TEST_TMPDIR/blog"
    cd "$BATS_TEST_TMPDIR/blog"
    cp app/config.lua "$BATS_TEST_TMPDIR/config.before"
    SERVER_PID=
}

teardown() { kill_server; }

# The lines the config gained (diff's added lines, without the marker).
added_lines() {
    diff "$BATS_TEST_TMPDIR/config.before" app/config.lua | sed -n 's/^> //p'
}

@test "g route writes the route, view and spec, and adds its pattern before the error routes" {
    run -0 --separate-stderr lusty g route 'GET posts/{id}'
    assert_output "create    app/requests/posts/show.lua
create    app/views/pages/posts/show.mustache
create    spec/posts_show_spec.lua
edit      app/config.lua"
    assert_file_contains app/requests/posts/show.lua "context.output = { route = 'GET /posts/{id}', id = id }"
    assert_file_contains app/requests/posts/show.lua "require('helpers.page')(context, 'pages/posts/show')"
    assert_file_contains app/views/pages/posts/show.mustache '<h1>/posts/{{id}}</h1>'
    # Only one line was added, after the boom route and above the comment
    # that belongs to the error routes: every comment is kept.
    run -1 diff "$BATS_TEST_TMPDIR/config.before" app/config.lua
    assert_output "33a34
>           { ['GET posts/{id}'] = 'requests.posts.show' },"
    run -0 --separate-stderr lusty test
    assert_line --regexp '^5 successes / 0 failures / 0 errors'
    run -0 --separate-stderr lusty routes
    assert_line --regexp '^5   GET +/posts/\{id\} +app/requests/posts/show.lua$'
    assert_line --regexp '^6   \(error\) +/404 '
}

@test "g route puts a route before the earlier routes that would take its requests" {
    run -0 --separate-stderr lusty generate route users/me
    assert_line 'create    app/requests/users/me/index.lua'
    run -0 --separate-stderr lusty routes
    assert_line --regexp '^2   \* +/users/me +app/requests/users/me/index.lua$'
    assert_line --regexp '^3   \* +/users/\{userId\} '
    assert_equal "$stderr" ""
    run -0 --separate-stderr lusty test
    assert_line --regexp '^5 successes / 0 failures'
}

@test "g resource writes CRUD routes over the store whose specs pass, and the server answers them" {
    run -0 --separate-stderr lusty g resource notes
    assert_line 'create    spec/notes_spec.lua'
    assert_equal "$(added_lines)" "          { ['GET notes'] = 'requests.notes.index' },
          { ['POST notes'] = 'requests.notes.create' },
          { ['GET notes/{id}'] = 'requests.notes.show' },
          { ['PUT,PATCH notes/{id}'] = 'requests.notes.update' },
          { ['DELETE notes/{id}'] = 'requests.notes.delete' },"
    run -0 --separate-stderr lusty g route 'GET posts/{id}'
    run -0 --separate-stderr lusty test
    assert_line --regexp '^7 successes / 0 failures / 0 errors'

    start_server_in .
    local u="http://127.0.0.1:$PORT"
    run -0 curl -s --max-time 10 -H 'accept: application/json' "$u/posts/7"
    python3 -c 'import json, sys; assert json.loads(sys.argv[1]) == {"id": "7", "route": "GET /posts/{id}"}, sys.argv[1]' "$output"
    run -0 curl -s --max-time 10 -H 'accept: text/html' "$u/posts/7"
    assert_output --partial '<h1>/posts/7</h1>'
    run -0 curl -s --max-time 10 -H 'accept: application/json' -H 'content-type: application/json' \
        -d '{"title":"hello"}' "$u/notes"
    python3 -c 'import json, re, sys; d = json.loads(sys.argv[1])["item"]; assert d["title"] == "hello" and re.fullmatch("[0-9a-f]{24}", d["_id"]), d' "$output"
    run -0 curl -s --max-time 10 -o /dev/null -w '%{http_code}' -X DELETE "$u/notes/none"
    assert_output 404
    stop_server
}

@test "g handler writes a subscriber and subscribes it, on a new channel or an existing list" {
    run -0 --separate-stderr lusty g handler audit request:users
    assert_output "create    app/handlers/audit.lua
edit      app/config.lua"
    assert_file_contains app/handlers/audit.lua 'return nil, true'
    run -0 --separate-stderr lusty g handler reports.daily log
    assert_file_exists app/handlers/reports/daily.lua
    run -1 diff "$BATS_TEST_TMPDIR/config.before" app/config.lua
    assert_line "<     ['log'] = { 'lusty.log.console' },"
    assert_line ">     ['log'] = { 'lusty.log.console', 'handlers.reports.daily' },"
    assert_line ">     ['request:users'] = { 'handlers.audit' },"
    run -0 --separate-stderr lusty test
    assert_line --regexp '^3 successes / 0 failures'
    run -0 --separate-stderr lusty channels
    assert_output --partial 'handlers.audit'
}

@test "g module writes a seed-style module, lists it in modules, and its spec passes" {
    run -0 --separate-stderr lusty g module billing
    assert_output "create    app/billing/config.lua
create    app/billing/functions.lua
create    spec/billing_module_spec.lua
edit      app/config.lua"
    assert_file_contains app/billing/config.lua "\['billing:ping'\] = 'billing.functions#ping',"
    assert_equal "$(added_lines | tail -1)" "  modules = { 'billing' },"
    tail -1 app/config.lua | grep -qx '}'
    run -0 --separate-stderr lusty g module invoices
    assert_equal "$(added_lines | tail -1)" "  modules = { 'billing', 'invoices' },"
    run -0 --separate-stderr lusty test
    assert_line --regexp '^5 successes / 0 failures / 0 errors'
}

@test "a config it cannot edit safely is left alone, the lines to add are printed, exit 1" {
    python3 - <<'PY'
import re
s = open('app/config.lua').read()
s = re.sub(r"        patterns = \{\n.*?\n        \},\n",
           "        patterns = { { [''] = 'requests.index' }, { ['404'] = 'requests.404' } },\n",
           s, flags=re.S)
open('app/config.lua', 'w').write(s)
PY
    cp app/config.lua "$BATS_TEST_TMPDIR/odd.lua"
    run -1 --separate-stderr lusty g route 'GET posts/{id}'
    assert_line "  { ['GET posts/{id}'] = 'requests.posts.show' },"
    assert_stderr_line 0 "lusty: error: cannot edit 'app/config.lua': its router config has no 'patterns = {' line"
    assert_stderr_line 1 "hint: add the lines above to it yourself; the other files were written"
    cmp app/config.lua "$BATS_TEST_TMPDIR/odd.lua"
    assert_file_exists app/requests/posts/show.lua
    run -1 --separate-stderr lusty g resource notes
    assert_line "  { ['DELETE notes/{id}'] = 'requests.notes.delete' },"
    cmp app/config.lua "$BATS_TEST_TMPDIR/odd.lua"

    # A subscribers table it cannot find: the handler's line is printed.
    printf 'local c = dofile("x")\nreturn c\n' >app/config.lua
    run -1 --separate-stderr lusty g handler audit request
    assert_line "  ['request'] = { 'handlers.audit' },"
}

@test "--dry-run prints the files and the config's new lines and writes nothing" {
    before=$(snapshot .)
    run -0 --separate-stderr lusty g --dry-run route about
    assert_line 'would create app/requests/about/index.lua:'
    assert_line "  | context.output = { route = '/about' }"
    assert_line 'would edit app/config.lua:'
    assert_line "  | +          { ['about'] = 'requests.about.index' },"
    run -0 --separate-stderr lusty g -n resource notes
    run -0 --separate-stderr lusty g -n module billing
    assert_equal "$(snapshot .)" "$before"
}

@test "an existing file is kept unless --force, and --force does not add the pattern twice" {
    run -0 --separate-stderr lusty g route 'GET posts/{id}'
    echo '-- mine' >app/requests/posts/show.lua
    cp app/config.lua "$BATS_TEST_TMPDIR/config.once"
    run -1 --separate-stderr lusty g route 'GET posts/{id}'
    assert_stderr_line 0 "lusty: error: 'app/requests/posts/show.lua' already exists"
    assert_stderr_line 1 "hint: pass --force to overwrite it"
    assert_equal "$(cat app/requests/posts/show.lua)" '-- mine'
    run -0 --separate-stderr lusty g --force route 'GET posts/{id}'
    assert_line 'overwrite app/requests/posts/show.lua'
    refute_line --partial 'app/config.lua'
    assert_file_contains app/requests/posts/show.lua 'context.output'
    cmp app/config.lua "$BATS_TEST_TMPDIR/config.once"
    # The same for a handler already subscribed and a module already listed.
    run -0 --separate-stderr lusty g handler audit log
    cp app/config.lua "$BATS_TEST_TMPDIR/config.once"
    run -0 --separate-stderr lusty g -f handler audit log
    cmp app/config.lua "$BATS_TEST_TMPDIR/config.once"
    # No temporary file is left beside what was written.
    run -0 find . -name '.*' -newer "$BATS_TEST_TMPDIR/config.before" -type f
    assert_output ''
}

@test "bad names and arguments are usage errors (2); no project or store is a failure (1)" {
    before=$(snapshot .)
    run -2 --separate-stderr lusty g
    assert_stderr_line 0 "lusty: error: 'lusty generate' needs a generator: route, handler, module or resource"
    run -2 --separate-stderr lusty g widget x
    assert_stderr_line 0 "lusty: error: unknown generator 'widget'"
    run -2 --separate-stderr lusty g route 'users/{end}'
    assert_stderr_line 0 "lusty: error: invalid route 'users/{end}': '{end}' must be a Lua name, not a keyword, 'context' or 'config', used once"
    run -2 --separate-stderr lusty g route 'FETCH users'
    run -2 --separate-stderr lusty g route 'users/a b'
    run -2 --separate-stderr lusty g route 404
    run -2 --separate-stderr lusty g route a b
    run -2 --separate-stderr lusty g handler 9lives log
    run -2 --separate-stderr lusty g handler audit 'bad channel'
    run -2 --separate-stderr lusty g module my-module
    run -2 --separate-stderr lusty g resource 'notes/x'
    assert_equal "$(snapshot .)" "$before"

    sed -i "/\['lusty.store'\] = {},/d" app/config.lua
    run -1 --separate-stderr lusty g resource notes
    assert_stderr_line 0 "lusty: error: the app has no store"
    cd "$BATS_TEST_TMPDIR"
    run -1 --separate-stderr lusty g route about
}

@test "generate has the alias g in help, completion and the manual" {
    run -0 --separate-stderr lusty generate --help
    assert_line 'usage: lusty generate [--force] [--dry-run] GENERATOR ARGS...'
    assert_line '   or: lusty g [--force] [--dry-run] GENERATOR ARGS...'
    run -0 --separate-stderr lusty __complete g ''
    assert_output "route	
handler	
module	
resource	"
    run -0 --separate-stderr lusty __complete g --dry-run ''
    assert_line --partial 'resource'
    # Only the first argument is a generator; NAME and CHANNEL are free.
    run -0 --separate-stderr lusty __complete g handler ''
    assert_output ''
    run -0 --separate-stderr lusty __complete generate --f
    assert_output --partial '--force'
    run -0 --separate-stderr lusty __man
    assert_output --partial 'Also \fBlusty g\fR.'
}

@test "in the minimal template (no views, no JSON) a route answers text and its spec passes" {
    cd "$BATS_TEST_TMPDIR"
    lusty init small --template minimal --no-git --quiet >/dev/null
    cd small
    run -0 --separate-stderr lusty g route 'GET posts/{id}'
    refute_line --partial 'app/views'
    assert_file_contains app/requests/posts/show.lua "context.output = 'GET /posts/{id}' .. '\\\\nid = ' .. id"
    run -0 --separate-stderr lusty test
    assert_line --regexp '^1 success / 0 failures / 0 errors'
    run -1 --separate-stderr lusty g resource notes
    assert_stderr_line 0 'lusty: error: the app sends no JSON'
}

@test "a file that cannot be written leaves nothing behind: no temporary file, no folder, config as it was" {
    # A file where the view's folder must go: the route file's temporary
    # copy was written already and must go again.
    touch app/views/pages/posts
    before=$(snapshot .)
    run -1 --separate-stderr lusty g route 'GET posts/{id}'
    assert_stderr_line 0 "lusty: error: cannot make the folder of 'app/views/pages/posts/show.mustache': File exists"
    assert_equal "$(snapshot .)" "$before"
}
