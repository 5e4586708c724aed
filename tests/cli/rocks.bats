#!/usr/bin/env bats
# Handler repositories laid out as rocks (docs/bootstrap.md, "Rock
# layouts"): modules under src/ as the rockspec's build.modules says, a
# per-handler "path" in lusty.json, and bootstrap's report of rockspec
# dependencies nothing provides. The repositories are small ones of our own
# shaped like lustache, lusty-mustache and lusty-nginx, made as local bare
# git repositories here.
load helpers
load server_helpers
load ../fixtures/git_repos

setup() {
    common_setup
    export LUSTY_MONGODB_URI=mongodb://127.0.0.1:1
    UP="$BATS_TEST_TMPDIR/upstream"
    mkdir -p "$UP"
    SERVER_PID=
}

teardown() { kill_server; }

# bare_repo NAME: commits the files under $BATS_TEST_TMPDIR/src/NAME into
# the bare repository $UP/NAME.git (branch main).
bare_repo() {
    local name=$1 work="$BATS_TEST_TMPDIR/src/$1"
    git -c init.defaultBranch=main init -q "$work"
    git -C "$work" add -A
    git -C "$work" commit -q -m "$name"
    git clone -q --bare "$work" "$UP/$name.git"
}

# The three repositories: a Mustache-like library with its modules under
# src/ (as lustache), a handler that needs it (as lusty-mustache), and
# OpenResty-era adapters calling ngx (as lusty-nginx).
make_repos() {
    local s="$BATS_TEST_TMPDIR/src"
    mkdir -p "$s/stachelib/src/stachelib" "$s/lusty-stache/lusty-stache" "$s/lusty-ngxish/lusty-ngxish"
    cat >"$s/stachelib/stachelib-1.0-0.rockspec" <<'EOF'
package = "stachelib"
version = "1.0-0"
source = { url = "git://example.invalid/stachelib.git" }
dependencies = { "lua >= 5.1" }
build = {
  type = "builtin",
  modules = {
    ["stachelib"] = "src/stachelib.lua",
    ["stachelib.renderer"] = "src/stachelib/renderer.lua",
  },
}
EOF
    cat >"$s/stachelib/src/stachelib.lua" <<'EOF'
local renderer = require 'stachelib.renderer'
return { render = function(_, template, view) return renderer.render(template, view) end }
EOF
    cat >"$s/stachelib/src/stachelib/renderer.lua" <<'EOF'
return {
  render = function(template, view)
    return (template:gsub('{{(%w+)}}', function(k) return tostring(view[k]) end))
  end,
}
EOF
    cat >"$s/lusty-stache/lusty-stache-0.1-1.rockspec" <<'EOF'
package = "lusty-stache"
version = "0.1-1"
dependencies = { "lua >= 5.1", "lusty >= 0.2", "stachelib >= 1.0" }
build = { type = "builtin", modules = { ["lusty-stache.render"] = "lusty-stache/render.lua" } }
EOF
    cat >"$s/lusty-stache/lusty-stache/render.lua" <<'EOF'
local stache = require 'stachelib'
return {
  handler = function(context)
    context.output = stache:render(config.template, { name = context.request.query.name })
    context.log('rendered for ' .. tostring(context.request.query.name), 'info')
    return nil, true
  end,
}
EOF
    cat >"$s/lusty-ngxish/lusty-ngxish/log.lua" <<'EOF'
-- A log subscriber writing through ngx.log.
local levels = { debug = ngx.DEBUG, info = ngx.INFO, warning = ngx.WARN, error = ngx.ERR }
return {
  handler = function(event)
    ngx.log(levels[event.level] or ngx.ERR, event.message)
    return event, true
  end,
}
EOF
    cat >"$s/lusty-ngxish/lusty-ngxish/response.lua" <<'EOF'
-- Sends context.output through ngx, as OpenResty-era response adapters do.
return {
  handler = function(context)
    ngx.header.content_type = 'text/plain'
    ngx.status = 200
    ngx.say(context.output)
    ngx.flush(true)
  end,
}
EOF
    bare_repo stachelib
    bare_repo lusty-stache
    bare_repo lusty-ngxish
}

# The project: lusty.json with HANDLERS, and an app using the handlers.
make_project() {
    mkdir -p app/app
    printf '{ "name": "app", "app": "app/config.lua", "handlers": %s }\n' "$1" >app/lusty.json
    cat >app/app/config.lua <<'EOF'
return {
  subscribers = {
    ['request'] = { { ['lusty-stache.render'] = { template = 'Hello {{name}}!' } } },
    ['output'] = { 'lusty-ngxish.response' },
    ['log'] = { 'lusty-ngxish.log' },
  },
  publishers = { 'request', 'output' },
  context = { ['lusty.log'] = {} },
}
EOF
    mkdir -p app/app/requests
}

boot() { timeout 60 "$LUSTY_BIN" bootstrap --skip-mongodb "$@"; }

@test "bootstrap names rockspec dependencies nothing provides, and src/ modules are found" {
    make_repos
    make_project "{\"lusty-stache\": {\"git\": \"$UP/lusty-stache.git\"},
                   \"lusty-ngxish\": {\"git\": \"$UP/lusty-ngxish.git\"}}"
    run -0 --separate-stderr boot app
    assert_line 'handlers: 2 fetched, 0 up to date, 0 failed; lusty.lock updated'
    [ "$(grep -c "needs" <<<"$stderr")" -eq 1 ]
    grep -qF "lusty: warning: 'lusty-stache' needs 'stachelib': add it to \"handlers\" in lusty.json" <<<"$stderr"
    # The missing module says who asked and where it looked, in a few lines.
    run -1 --separate-stderr bash -c 'cd app && "$LUSTY_BIN" exec -e "return 0"'
    grep -qF "module 'stachelib' not found; looked in the app" <<<"$stderr"
    grep -qF 'the handler repositories lusty-ngxish, lusty-stache' <<<"$stderr"
    grep -qF 'asked by lusty_modules/lusty-stache/lusty-stache/render.lua:1' <<<"$stderr"
    [ "$(grep -c 'no file' <<<"$stderr")" -eq 0 ]

    make_project "{\"lusty-stache\": {\"git\": \"$UP/lusty-stache.git\"},
                   \"lusty-ngxish\": {\"git\": \"$UP/lusty-ngxish.git\"},
                   \"stachelib\": {\"git\": \"$UP/stachelib.git\"}}"
    run -0 --separate-stderr boot app
    refute_output --partial 'needs'
    [ -z "$(grep needs <<<"$stderr")" ]
    start_server_in app --quiet
    run -0 curl -s --max-time 10 "http://127.0.0.1:$PORT/anything?name=x"
    assert_output 'Hello x!'
    wait_for_lines "$BATS_TEST_TMPDIR/err" '^INFO lua: lusty_modules/lusty-ngxish/lusty-ngxish/log\.lua:5: rendered for x$'
    stop_server
}

@test "a handler's \"path\" in lusty.json says where its modules are" {
    mkdir -p "$BATS_TEST_TMPDIR/src/libbed/lib/deep"
    echo 'return "from lib"' >"$BATS_TEST_TMPDIR/src/libbed/lib/deep/thing.lua"
    bare_repo libbed
    make_project "{\"libbed\": {\"git\": \"$UP/libbed.git\", \"path\": \"lib\"}}"
    echo 'return {}' >app/app/config.lua
    run -0 --separate-stderr boot app
    cd app
    run -0 "$LUSTY_BIN" exec -e 'print(require("deep.thing"))'
    assert_output 'from lib'
    # A path leaving the repository is refused by the validator.
    sed -i 's/"path": "lib"/"path": "..\/x"/' lusty.json
    run -1 --separate-stderr "$LUSTY_BIN" bootstrap --skip-mongodb --offline
    grep -qF "handler 'libbed': \"path\" must be a folder or a template" <<<"$stderr"
}

@test "a rockspec that loops or reaches for libraries is stopped and reported, not run" {
    mkdir -p "$BATS_TEST_TMPDIR/src/looper" "$BATS_TEST_TMPDIR/src/reacher"
    echo 'while true do end' >"$BATS_TEST_TMPDIR/src/looper/looper-1.0-1.rockspec"
    echo 'return 1' >"$BATS_TEST_TMPDIR/src/looper/looper.lua"
    echo 'package = os.getenv("HOME")' >"$BATS_TEST_TMPDIR/src/reacher/reacher-1.0-1.rockspec"
    echo 'return 2' >"$BATS_TEST_TMPDIR/src/reacher/reacher.lua"
    bare_repo looper
    bare_repo reacher
    make_project "{\"looper\": {\"git\": \"$UP/looper.git\"}, \"reacher\": {\"git\": \"$UP/reacher.git\"}}"
    echo 'return {}' >app/app/config.lua
    run -0 --separate-stderr boot app
    grep -qF "cannot read the rockspec of 'looper':" <<<"$stderr"
    grep -qF 'runs too long' <<<"$stderr"
    grep -qF "cannot read the rockspec of 'reacher':" <<<"$stderr"
    grep -qF "attempt to index global 'os'" <<<"$stderr"
    # The modules at the top are still found.
    cd app
    run -0 "$LUSTY_BIN" exec -e 'print(require("looper"), require("reacher"))'
    assert_output "1	2"
}

@test "build.modules entries whose file is not named after the module are found by their name" {
    # As luarocks installs them: "jsonish.input.json" = "src/input/json.lua"
    # is the module jsonish.input.json, whatever folder the file is in.
    local s="$BATS_TEST_TMPDIR/src/jsonish"
    mkdir -p "$s/src/input" "$s/src/output"
    cat >"$s/jsonish-0.1-0.rockspec" <<'EOF'
package = "jsonish"
version = "0.1-0"
build = {
  type = "builtin",
  modules = {
    ["jsonish.input.json"] = "src/input/json.lua",
    ["jsonish.output.json"] = "src/output/json.lua",
    ["jsonish.outside"] = "../outside.lua",
  },
}
EOF
    echo 'return { handler = function(context) context.output = { n = tonumber(context.request.query.n) } return nil, true end }' \
        >"$s/src/input/json.lua"
    cat >"$s/src/output/json.lua" <<'EOF'
return {
  handler = function(context)
    context.response.headers['content-type'] = 'application/json'
    context.response.send(config.prefix .. require('cjson').encode(context.output))
  end,
}
EOF
    echo 'return "outside"' >"$BATS_TEST_TMPDIR/src/outside.lua"
    bare_repo jsonish
    make_project "{\"jsonish\": {\"git\": \"$UP/jsonish.git\"}}"
    cat >app/app/config.lua <<'EOF'
return {
  subscribers = {
    ['input'] = { 'jsonish.input.json' },
    ['output'] = { ['jsonish.output.json'] = { prefix = 'out:' } },
  },
  publishers = { 'input', 'output' },
}
EOF
    run -0 --separate-stderr boot app
    run -0 --separate-stderr bash -c 'cd app && "$LUSTY_BIN" exec -e "print(type(require(\"jsonish.input.json\").handler))"'
    assert_output 'function'
    # A file outside the repository is never loaded under a module's name.
    run -1 --separate-stderr bash -c 'cd app && "$LUSTY_BIN" exec -e "require(\"jsonish.outside\")"'
    grep -qF "module 'jsonish.outside' not found" <<<"$stderr"
    start_server_in app --quiet
    run -0 curl -s --max-time 10 "http://127.0.0.1:$PORT/x?n=7"
    assert_output 'out:{"n":7}'
    stop_server
}
