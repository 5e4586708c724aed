# Shared setup of the CLI tests. LUSTY_BIN (the binary under test) and
# LUSTY_SOURCE_DIR come from CMake through ctest.
bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file

: "${LUSTY_BIN:?LUSTY_BIN must point at the lusty binary (run through ctest)}"
: "${LUSTY_SOURCE_DIR:?LUSTY_SOURCE_DIR must point at the source tree}"

common_setup() {
    export NO_COLOR=1
    # A home of our own so that no user templates or git config leak in.
    export HOME="$BATS_TEST_TMPDIR/home"
    export XDG_CONFIG_HOME="$HOME/.config"
    export GIT_CONFIG_NOSYSTEM=1
    unset LUSTY_TEMPLATES GIT_DIR GIT_WORK_TREE
    mkdir -p "$HOME"
    cd "$BATS_TEST_TMPDIR"
}

lusty() {
    "$LUSTY_BIN" "$@"
}

# A listing of everything under a folder (paths, modes, sizes, contents'
# hashes), to check that a failed command left the disk as it was.
snapshot() {
    (cd "$1" && find . -printf '%p %y %m %s\n' | sort && find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

# Runs a command as an unprivileged user: root may write anywhere, so
# permission tests must drop privileges.
as_nobody() {
    if [ "$(id -u)" -eq 0 ]; then
        setpriv --reuid=nobody --regid=nogroup --clear-groups --reset-env -- env NO_COLOR=1 HOME=/nonexistent "$@"
    else
        "$@"
    fi
}

# assert_line reads stdout only: these check one line of stderr (as split
# by `run --separate-stderr`), exactly or by regular expression.
assert_stderr_line() {
    local index=$1 expected=$2
    assert_equal "${stderr_lines[$index]-}" "$expected"
}

assert_stderr_line_regexp() {
    local index=$1 regexp=$2
    if ! [[ "${stderr_lines[$index]-}" =~ $regexp ]]; then
        fail "stderr line $index does not match '$regexp': '${stderr_lines[$index]-}'"
    fi
}
