#!/usr/bin/env bats
# The command line as a whole: version, help, dispatch, usage errors.
load helpers

setup() { common_setup; }

@test "--version prints the version" {
    run -0 --separate-stderr lusty --version
    assert_output --regexp '^lusty [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "no arguments prints the command list on stdout" {
    run -0 --separate-stderr lusty
    assert_output --partial 'usage: lusty [--version] [--help] <command> [<args>]'
    assert_output --partial 'init '
    [ -z "$stderr" ]
}

@test "--help and help list every command with a summary" {
    run -0 --separate-stderr lusty --help
    assert_line --regexp '^  init +Create a new Lusty project from a template$'
    run -0 --separate-stderr lusty help
    assert_line --regexp '^  init +Create a new Lusty project from a template$'
}

@test "every command has --help, 'help <command>' and they agree" {
    commands=$(lusty --help | sed -n 's/^  \([a-z_-]*\) .*/\1/p' | grep -v '^help$')
    [ -n "$commands" ]
    for c in $commands; do
        run -0 --separate-stderr lusty "$c" --help
        assert_output --partial "usage: lusty $c "
        assert_output --partial "--help"
        local via_flag=$output
        run -0 --separate-stderr lusty help "$c"
        assert_equal "$output" "$via_flag"
        run -0 --separate-stderr lusty "$c" -h
        assert_equal "$output" "$via_flag"
    done
}

@test "an unknown command suggests the closest one and exits 2" {
    run -2 --separate-stderr lusty inti
    assert_equal "$stderr" "lusty: error: unknown command 'inti'
hint: did you mean 'lusty init'?"
    [ -z "$output" ]
}

@test "an unknown command with nothing close points at --help" {
    run -2 --separate-stderr lusty frobnicate
    assert_equal "$stderr" "lusty: error: unknown command 'frobnicate'
hint: see 'lusty --help' for the list of commands"
}

@test "an unknown global option suggests the closest one" {
    run -2 --separate-stderr lusty --verison
    assert_equal "$stderr" "lusty: error: unknown option '--verison'
hint: did you mean '--version'?"
}

@test "help for an unknown command is a usage error" {
    run -2 --separate-stderr lusty help nit
    assert_stderr_line 0 "lusty: error: unknown command 'nit'"
}

@test "an unknown option of a command suggests the closest one" {
    run -2 --separate-stderr lusty init --prot 9000
    assert_equal "$stderr" "lusty: error: unknown option '--prot' for 'lusty init'
hint: did you mean '--port'?"
}

@test "a missing option value is a usage error" {
    run -2 --separate-stderr lusty init --port
    assert_stderr_line 0 "lusty: error: option '--port' needs a value (PORT)"
}

@test "a value given to a flag is a usage error" {
    run -2 --separate-stderr lusty init --force=yes
    assert_stderr_line 0 "lusty: error: option '--force' takes no value"
}

@test "unknown short options are usage errors" {
    run -2 --separate-stderr lusty init -z
    assert_stderr_line 0 "lusty: error: unknown option '-z' for 'lusty init'"
}

@test "errors are coloured only on a terminal and never with NO_COLOR" {
    run -2 --separate-stderr lusty inti
    [[ "$stderr" != *$'\033'* ]]
    command -v script >/dev/null || skip "script(1) not installed"
    # Under script(1) stderr is a terminal: colour appears unless NO_COLOR.
    run script -qec "env -u NO_COLOR $LUSTY_BIN inti" /dev/null
    [[ "$output" == *$'\033[31m'* ]]
    run script -qec "env NO_COLOR=1 $LUSTY_BIN inti" /dev/null
    [[ "$output" != *$'\033'* ]]
}

@test "lusty itself loads only libc and runs the command in lusty-cli, same PID" {
    run -0 ldd "$LUSTY_BIN"
    refute_output --regexp 'libgit2|libcurl|libarchive|libcrypto|libluajit|libuv'
    # exec keeps the PID: the process that runs the command is the one started.
    run -0 --separate-stderr bash -c 'echo $$; exec "$1" exec -e "print(io.open(\"/proc/self/stat\"):read(\"*n\"))"' _ "$LUSTY_BIN"
    [ "${lines[0]}" = "${lines[1]}" ]
}

@test "lusty without lusty-cli beside it says what is missing" {
    mkdir -p "$BATS_TEST_TMPDIR/alone/bin"
    cp "$LUSTY_BIN" "$BATS_TEST_TMPDIR/alone/bin/lusty"
    run -1 --separate-stderr "$BATS_TEST_TMPDIR/alone/bin/lusty" --version
    assert_equal "${stderr_lines[0]}" "lusty: error: cannot find 'lusty-cli' beside '$BATS_TEST_TMPDIR/alone/bin/lusty' or in its ../libexec/lusty/"
    [[ "${stderr_lines[1]}" == hint:* ]]
}

@test "exec reads the script from standard input when it is not a terminal, or with -" {
    run -0 --separate-stderr bash -c "echo 'print(1 + 1)' | '$LUSTY_BIN' exec"
    assert_output '2'
    run -3 --separate-stderr bash -c "printf 'print(arg[1])\\nreturn 3\\n' | '$LUSTY_BIN' exec - x"
    assert_output 'x'
}

@test "exec refuses an exit status the shell would wrap around" {
    run -1 --separate-stderr lusty exec -e 'return 300'
    assert_equal "$stderr" "lusty: error: exit status 300 out of range: a script returns 0 to 255"
    run -1 --separate-stderr lusty exec -e 'return 256'
    run -255 lusty exec -e 'return 255'
}

@test "the exec --help example works in a project made by init" {
    lusty init app --no-git --quiet
    cd app
    local example
    example=$("$LUSTY_BIN" exec --help | grep -A1 "made by 'lusty init'" | tail -1 | sed 's/^ *lusty //')
    run -0 --separate-stderr bash -c "'$LUSTY_BIN' $example"
    assert_output 'Ada Lovelace'
}

@test "the manual has a SEE ALSO and keeps the completion commands one per line" {
    lusty __man >"$BATS_TEST_TMPDIR/lusty.1"
    run -0 --separate-stderr env MANWIDTH=200 man -l "$BATS_TEST_TMPDIR/lusty.1"
    assert_line --regexp '^SEE ALSO$'
    assert_line --regexp '^ +server\.md$'
    assert_line --regexp '^ +LUSTY_HOST, LUSTY_PORT$'
    assert_line --regexp '^ +bash: lusty completion bash > ~/\.local/share/bash-completion/completions/lusty$'
    assert_line --regexp '^ +fish: lusty completion fish > ~/\.config/fish/completions/lusty\.fish$'
}

@test "--help texts that name docs/*.md say where those files are" {
    run -0 --separate-stderr lusty server --help
    assert_line --regexp "^The docs/\*\.md files named above are in /.*/\.$"
    local dir
    dir=$(echo "$output" | sed -n 's|^The docs/\*\.md files named above are in \(.*\)/\.$|\1|p')
    [ -f "$dir/server.md" ] && [ -f "$dir/app-serving.md" ]
}
