#!/usr/bin/env bats
# lusty console: chunks from a pipe (no prompts, exit status of the last
# chunk) and on a terminal (line editing, history), in the fixture app
# tests/fixtures/routes-app.
bats_require_minimum_version 1.5.0
load helpers

setup() {
    common_setup
    cd "$LUSTY_SOURCE_DIR/tests/fixtures/routes-app"
}

@test "console prints values, tables pretty-printed and depth-limited, with no prompt on a pipe" {
    run -0 --separate-stderr lusty console <<'LUA'
1 + 1
x = { 1, 'two', a = { b = { c = { d = 1 } } } }
x
1, nil, 3
LUA
    assert_equal "$stderr" ""
    assert_equal "$output" '2
{
  1,
  "two",
  a = {
    b = {
      c = {...},
    },
  },
}
1	nil	3'
}

@test "console continues an unfinished chunk and goes on after an error" {
    run -0 --separate-stderr lusty console <<'LUA'
for i = 1, 2 do
  print(i * 10)
end
error('boom')
function f()
  return 'after'
end
local gone = 1
f(), gone, 'still here'
LUA
    assert_equal "$output" '10
20
"after"	nil	"still here"'
    assert_stderr_line 0 'console:1: boom'
    assert_stderr_line 1 'stack traceback:'
}

@test "console exits 1 when the last chunk failed or is unfinished" {
    run -1 --separate-stderr lusty console <<<'error("last")'
    assert_stderr_line 0 'console:1: last'
    run -1 --separate-stderr lusty console <<<'x = {'
    assert_stderr_line_regexp 0 "^console:1: .*'<eof>'"
    run -0 --separate-stderr lusty console <<<'error("first")
1'
    assert_output '1'
}

@test "console has lusty, context, event and request at hand" {
    run -0 --separate-stderr lusty console <<'LUA'
context.lusty == lusty, event == lusty.event
r = request('GET', '/users/7')
r.status, r.body
r = request('PUT', '/users', { body = { name = 'x' } })
r.status, r.json.method
request('DELETE', '/users').headers.allow
r = request('GET', '/users/boom')
r.status, r.errors[1]:match('no such user: boom') ~= nil
LUA
    assert_equal "${lines[0]}" 'true	true'
    assert_equal "${lines[1]}" '200	"user 7\n"'
    assert_equal "${lines[2]}" '201	"PUT"'
    assert_equal "${lines[3]}" '"POST, PUT"'
    assert_equal "${lines[4]}" '500	true'
}

@test "console on a terminal edits lines with prompts and keeps a history" {
    run -0 python3 "$LUSTY_SOURCE_DIR/tests/cli/pty_drive.py" 20 "$LUSTY_BIN" console -- \
        '> $' '1+1' \
        '2\s+> $' 'for i = 1, 2 do' \
        '>> $' 'print(i * 10) end' \
        '20\s+> $' 'error("x")' \
        'in main chunk\s+> $' '^D'
    assert_line --index 0 --partial 'lusty console: '
    assert_line '> 1+1'
    assert_line '>> print(i * 10) end'
    assert_line 'console:1: x'
    run -0 cat "$HOME/.lusty_history"
    assert_line '1+1'
    assert_line 'for\040i\040=\0401,\0402\040do\012print(i\040*\04010)\040end'
}

@test "console takes no arguments" {
    run -2 --separate-stderr lusty console extra
    assert_stderr_line 0 "lusty: error: 'lusty console' takes no arguments"
}
