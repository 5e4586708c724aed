#!/usr/bin/env bats
# `cmake --install`: the binary, templates, manual and completion scripts land
# where each tool looks for them, and the installed tree works on its own.
load helpers

setup() {
    common_setup
    : "${LUSTY_BUILD_DIR:?LUSTY_BUILD_DIR must point at the build tree}"
    prefix="$BATS_TEST_TMPDIR/prefix"
    cmake --install "$LUSTY_BUILD_DIR" --prefix "$prefix" >/dev/null
}

@test "everything is installed in its standard place" {
    assert_file_executable "$prefix/bin/lusty"
    assert_file_executable "$prefix/libexec/lusty/lusty-cli"
    assert_file_executable "$prefix/libexec/lusty/lusty-serve"
    assert_file_executable "$prefix/libexec/lusty/lusty-mongo-ping"
    for t in default api minimal; do
        assert_file_exists "$prefix/share/lusty/templates/$t/template.json"
    done
    assert_file_exists "$prefix/share/man/man1/lusty.1"
    assert_file_exists "$prefix/share/bash-completion/completions/lusty"
    assert_file_exists "$prefix/share/zsh/site-functions/_lusty"
    assert_file_exists "$prefix/share/fish/vendor_completions.d/lusty.fish"
    # The installed scripts are the ones the binary embeds.
    assert_equal "$(cat "$prefix/share/bash-completion/completions/lusty")" "$("$prefix/bin/lusty" completion bash)"
    assert_equal "$(cat "$prefix/share/zsh/site-functions/_lusty")" "$("$prefix/bin/lusty" completion zsh)"
    assert_equal "$(cat "$prefix/share/fish/vendor_completions.d/lusty.fish")" "$("$prefix/bin/lusty" completion fish)"
}

@test "the installed binary finds the installed templates first" {
    mkdir -p "$prefix/share/lusty/templates/only-installed"
    echo '{"description": "installed only"}' >"$prefix/share/lusty/templates/only-installed/template.json"
    run -0 --separate-stderr "$prefix/bin/lusty" init --list-templates
    assert_line --regexp '^only-installed +installed only$'
    run -0 --separate-stderr "$prefix/bin/lusty" init p --no-git -q
    assert_file_exists p/lusty.json
}

@test "the installed manual renders with man" {
    run -0 --separate-stderr env MANWIDTH=80 man -l "$prefix/share/man/man1/lusty.1"
    assert_line --partial 'lusty - build, fetch and serve Lusty web apps'
    # And through the manual search path, as `man lusty` finds it.
    run -0 --separate-stderr env MANPATH="$prefix/share/man" MANWIDTH=80 man lusty
    assert_line --partial 'lusty - build, fetch and serve Lusty web apps'
}

@test "installed completion works in bash, zsh and fish" {
    export PATH="$prefix/bin:$PATH"
    run -0 bash --norc --noprofile -c '
        source "$1/share/bash-completion/completions/lusty"
        COMP_LINE="lusty init --template "; COMP_POINT=${#COMP_LINE}
        COMP_WORDS=(lusty init --template ""); COMP_CWORD=3
        _lusty; printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$prefix"
    assert_output "$(printf 'api\ndefault\nminimal')"
    run -0 zsh -f -c '
        fpath=("$1/share/zsh/site-functions" $fpath)
        autoload -U compinit && compinit -u -D
        [[ $_comps[lusty] == _lusty ]] && echo registered' _ "$prefix"
    assert_output 'registered'
    run -0 fish --no-config -c "set -p fish_complete_path '$prefix/share/fish/vendor_completions.d'; complete -C'lusty init --template '"
    assert_equal "$(printf '%s\n' "$output" | cut -f1 | sort)" "$(printf 'api\ndefault\nminimal')"
}
