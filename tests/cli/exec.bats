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
