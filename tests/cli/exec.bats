#!/usr/bin/env bats
# lusty exec: Lua in the runtime's host, with and without a project.
load helpers

setup() {
    common_setup
    APP="$LUSTY_SOURCE_DIR/tests/fixtures/lua-app"
}

@test "exec -e runs code outside a project" {
    run -0 --separate-stderr lusty exec -e 'print(type(lusty), type(require("mediator")))'
    assert_output 'table	table'
    [ -z "$stderr" ]
}

@test "exec FILE gets arg and ..., and exits with the number it returns" {
    printf 'print(arg[0], arg[1], arg[2], select("#", ...))\nreturn tonumber(arg[1])\n' > s.lua
    run -3 --separate-stderr lusty exec s.lua 3 --flag
    assert_output 's.lua	3	--flag	2'
}

@test "exec options stop at the script: later options belong to it" {
    run -0 --separate-stderr lusty exec -e 'print(arg[1], arg[2])' -e x
    assert_output '-e	x'
}

@test "exec inside a project loads its app as the global lusty" {
    cd "$APP/app/handlers"
    run -0 --separate-stderr lusty exec -e 'print(#lusty.event:publish("data:users:all", {}), lusty.context.global.site)'
    assert_output '2	fixture'
}

@test "a script error prints the traceback and exits 1" {
    printf 'local function f()\n  error("broken")\nend\nf()\n' > bad.lua
    run -1 --separate-stderr lusty exec bad.lua
    [ -z "$output" ]
    assert_equal "$(echo "$stderr" | head -1)" "lusty: error: bad.lua:2: broken"
    [[ "$stderr" == *"stack traceback:"* ]]
    [[ "$stderr" == *"bad.lua:4: in main chunk"* ]]
}

@test "a syntax error names the file and line and exits 1" {
    printf 'x = 1\nthis is wrong\n' > bad.lua
    run -1 --separate-stderr lusty exec bad.lua
    [[ "$stderr" == "lusty: error: bad.lua:2: "* ]]
}

@test "os.exit sets the status" {
    run -7 --separate-stderr lusty exec -e 'io.write("out") os.exit(7)'
    assert_output 'out'
}

@test "a missing file is an error" {
    run -1 --separate-stderr lusty exec nope.lua
    assert_equal "$stderr" "lusty: error: cannot open 'nope.lua': no such file or directory"
}

@test "nothing to run on a terminal is a usage error" {
    # script(1) gives exec a terminal as standard input; without one, exec
    # would read its script from there.
    run -0 script -qec "'$LUSTY_BIN' exec; echo status=\$?" /dev/null
    [[ "$output" == *"lusty: error: nothing to run"* ]]
    [[ "$output" == *"hint: give a Lua file, - for standard input, or -e CODE"* ]]
    [[ "$output" == *"status=2"* ]]
}

@test "an app that fails to load stops exec" {
    mkdir -p p/app
    echo '{"name":"p"}' > p/lusty.json
    printf 'return {\n  subscribers = { x = { "missing.module" } },\n}\n' > p/app/config.lua
    cd p
    run -1 --separate-stderr lusty exec -e 'print(1)'
    [[ "$stderr" == "lusty: error: cannot load the app: "*"module 'missing.module' not found"* ]]
    [ -z "$output" ]
}

@test "exec scripts can wait: lusty.sleep, inline modules that sleep, timers run before exit" {
    mkdir -p p/app
    echo '{"name":"p"}' > p/lusty.json
    echo 'return {}' > p/app/config.lua
    printf 'lusty.sleep(0.01)\nreturn "woke " .. tostring(config.x)\n' > p/app/sleepy.lua
    cat > p/t.lua <<'LUA'
local util = require 'lusty.util'
lusty.timer(0.2, function() print('timer') end)
lusty.sleep(0.01)
print(util.inline('sleepy', { config = { x = 1 } }))
LUA
    cd p
    run -0 --separate-stderr lusty exec t.lua
    assert_output $'woke 1\ntimer'
}

@test "a module that fails to load is not read again until the code changes" {
    mkdir -p p/app
    echo '{"name":"p"}' > p/lusty.json
    echo 'return {}' > p/app/config.lua
    printf 'return (' > p/app/broken.lua
    cat > p/t.lua <<'LUA'
local util = require 'lusty.util'
print(pcall(util.inline, 'broken'))
local f = io.open('app/broken.lua', 'w') f:write('return 1') f:close()
print(pcall(util.inline, 'broken'))
util.clearCache()
print(pcall(util.inline, 'broken'))
LUA
    cd p
    run -0 --separate-stderr lusty exec t.lua
    assert_line --index 0 --partial 'app/broken.lua:1: unexpected symbol'
    assert_line --index 1 --partial 'app/broken.lua:1: unexpected symbol'
    assert_line --index 2 'true	1'
}

@test "out of file descriptors, a module that exists is reported as such, not as missing" {
    mkdir -p p/app
    echo '{"name":"p"}' > p/lusty.json
    echo 'return {}' > p/app/config.lua
    echo 'return 42' > p/app/present.lua
    cat > p/t.lua <<'LUA'
local held = {}
while true do
  local f = io.open('lusty.json')
  if not f then break end
  held[#held + 1] = f
end
local ok, err = pcall(require, 'present')
for _, f in ipairs(held) do f:close() end
print(ok, err)
print(require('present'))
LUA
    cd p
    run -0 --separate-stderr lusty exec t.lua
    assert_output --partial "cannot open '"
    assert_output --partial "present.lua': too many open files"
    refute_output --partial 'not found'
    assert_line '42'
}
