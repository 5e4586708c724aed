#!/usr/bin/env bats
# Shell completion (bash, zsh, fish), `lusty completion`, the hidden
# `lusty __complete`, and the manual page: all must agree with --help.
load helpers

setup() {
    common_setup
    # The scripts call the `lusty` the user typed: put ours on PATH.
    mkdir -p "$BATS_TEST_TMPDIR/bin"
    ln -sf "$LUSTY_BIN" "$BATS_TEST_TMPDIR/bin/lusty"
    export PATH="$BATS_TEST_TMPDIR/bin:$PATH"
    lusty completion bash >"$BATS_TEST_TMPDIR/lusty.bash"
    lusty completion zsh >"$BATS_TEST_TMPDIR/_lusty"
    lusty completion fish >"$BATS_TEST_TMPDIR/lusty.fish"
}

# Candidates bash offers for a command line ending where the cursor is.
complete_bash() {
    bash --norc --noprofile -c '
        source "$1"
        COMP_LINE=$2
        COMP_POINT=${#COMP_LINE}
        # readline breaks words at "=" too (COMP_WORDBREAKS).
        read -ra COMP_WORDS <<<"${COMP_LINE//=/ = }"
        [[ $COMP_LINE == *" " || $COMP_LINE == *= ]] && COMP_WORDS+=("")
        COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
        _lusty
        printf "%s\n" "${COMPREPLY[@]}"
    ' _ "$BATS_TEST_TMPDIR/lusty.bash" "$1" | sed '/^$/d' | sort
}

# zsh, driven without a terminal: compadd and _path_files are replaced by
# functions that print what they were given.
complete_zsh() {
    zsh -f -c '
        compdef() { : }
        source "$1"
        compadd() { print -l -- "${(@P)argv[-1]}" }
        _path_files() { print -- ":paths $*" }
        words=(${(z)2})
        [[ $2 == *" " ]] && words+=("")
        CURRENT=${#words}
        _lusty
    ' _ "$BATS_TEST_TMPDIR/_lusty" "$1" | sed '/^$/d' | sort
}

complete_fish() {
    fish --no-config -c 'source $argv[1]; complete -C$argv[2]' "$BATS_TEST_TMPDIR/lusty.fish" "$1" |
        cut -f1 | sed '/^$/d' | sort
}

# The commands `lusty --help` lists, and a command's options from its help.
help_commands() { lusty --help | sed -n 's/^  \([a-z_-]*\)  .*/\1/p' | sort; }
help_options() { lusty "$1" --help | grep -oE -- '--[a-z][a-z-]*' | sort -u; }

@test "lusty completion prints the embedded script of each shell" {
    run -0 --separate-stderr lusty completion bash
    assert_equal "$output" "$(cat "$LUSTY_SOURCE_DIR/completions/lusty.bash")"
    run -0 --separate-stderr lusty completion zsh
    assert_equal "$output" "$(cat "$LUSTY_SOURCE_DIR/completions/_lusty")"
    run -0 --separate-stderr lusty completion fish
    assert_equal "$output" "$(cat "$LUSTY_SOURCE_DIR/completions/lusty.fish")"
}

@test "lusty completion with a bad or missing shell is a usage error" {
    run -2 --separate-stderr lusty completion bsh
    assert_stderr_line 0 "lusty: error: unknown shell 'bsh': use bash, zsh or fish"
    assert_stderr_line 1 "hint: did you mean 'bash'?"
    run -2 --separate-stderr lusty completion
    assert_stderr_line 0 "lusty: error: 'lusty completion' takes one shell: bash, zsh or fish"
}

@test "hidden commands are not listed, suggested or completed" {
    run -0 lusty --help
    refute_output --partial '__complete'
    refute_output --partial '__man'
    run -0 lusty __complete ''
    refute_output --partial '__'
    run -2 --separate-stderr lusty __complet
    refute_output --partial 'did you mean'
}

@test "bash: lusty <TAB> offers every command" {
    run -0 complete_bash 'lusty '
    assert_equal "$output" "$(help_commands)"
    run -0 complete_bash 'lusty in'
    assert_output 'init'
}

@test "bash: lusty init --<TAB> offers every option of init's help" {
    run -0 complete_bash 'lusty init --'
    assert_equal "$output" "$(help_options init)"
}

@test "bash: lusty init --template <TAB> offers the template names" {
    run -0 complete_bash 'lusty init --template '
    assert_equal "$output" "$(printf 'api\ndefault\nminimal')"
    run -0 complete_bash 'lusty init -t mi'
    assert_output 'minimal'
    run -0 complete_bash 'lusty init --template=de'
    assert_output 'default'
    # User templates are offered too.
    mkdir -p "$HOME/.config/lusty/templates/zzz"
    echo '{"description": "mine"}' >"$HOME/.config/lusty/templates/zzz/template.json"
    run -0 complete_bash 'lusty init --template z'
    assert_output 'zzz'
}

@test "bash: DIR arguments complete folders only" {
    mkdir -p adir/sub && touch afile
    run -0 complete_bash 'lusty init a'
    assert_output 'adir'
}

@test "bash: lusty help <TAB> offers the commands" {
    run -0 complete_bash 'lusty help '
    assert_equal "$output" "$(help_commands)"
}

@test "zsh: the script loads and gives the same candidates as bash" {
    run -0 zsh -f -c "autoload -U compinit && compinit -u -D && source '$BATS_TEST_TMPDIR/_lusty' && whence -w _lusty"
    assert_output '_lusty: function'
    for line in 'lusty ' 'lusty init --' 'lusty init --template ' 'lusty help '; do
        assert_equal "$(complete_zsh "$line")" "$(complete_bash "$line")"
    done
    run -0 complete_zsh 'lusty init '
    assert_output ':paths -/'
}

@test "fish: the script loads and gives the same candidates as bash" {
    run -0 fish --no-config -c "source '$BATS_TEST_TMPDIR/lusty.fish'"
    [ -z "$output" ]
    for line in 'lusty ' 'lusty init --' 'lusty init --template ' 'lusty help '; do
        assert_equal "$(complete_fish "$line")" "$(complete_bash "$line")"
    done
    mkdir -p fdir
    run -0 complete_fish 'lusty init fd'
    assert_output 'fdir/'
}

@test "every command and option in --help is in the manual and the completions, and nothing else" {
    page=$(lusty __man)
    rendered=$(printf '%s\n' "$page" | MANWIDTH=200 man -l - 2>/dev/null)
    [ -n "$rendered" ]
    # Commands: the manual has a section per command, and only those.
    assert_equal "$(printf '%s\n' "$rendered" | sed -n 's/^   lusty \([a-z_-]*\) .*/\1/p' | sort)" \
        "$(help_commands | grep -vx help)"
    for c in $(help_commands | grep -vx help); do
        section=$(printf '%s\n' "$rendered" | awk -v c="$c" '
            $0 ~ "^   lusty " c " " { on = 1; next }
            on && /^   lusty / { on = 0 }
            on && /^[A-Z]/ { on = 0 }
            on { print }')
        assert_equal "$(printf '%s\n' "$section" | grep -oE -- '--[a-z][a-z-]*' | sort -u | grep -vx -- '--help')" \
            "$(help_options "$c" | grep -vx -- '--help')"
        assert_equal "$(complete_bash "lusty $c --")" "$(help_options "$c")"
    done
}

@test "the manual renders with man" {
    lusty __man >"$BATS_TEST_TMPDIR/lusty.1"
    run -0 --separate-stderr env MANWIDTH=100 man -l "$BATS_TEST_TMPDIR/lusty.1"
    assert_line --regexp '^NAME'
    assert_line --partial 'lusty - build, fetch and serve Lusty web apps'
    assert_line --regexp '^COMMANDS'
    assert_line --regexp '^EXIT STATUS'
    # groff reports nothing wrong with the source.
    run -0 --separate-stderr sh -c "groff -man -ww -z '$BATS_TEST_TMPDIR/lusty.1'"
    [ -z "$stderr" ]
}

@test "bash: bootstrap --update <TAB> offers the project's handler names" {
    mkdir proj && cd proj
    cat >lusty.json <<'JSON'
{ "name": "proj", "handlers": {
    "auth": { "git": "https://example.invalid/auth.git", "ref": "v1" },
    "blog": { "url": "https://example.invalid/blog.tar.gz", "sha256": "00" } } }
JSON
    run -0 complete_bash 'lusty bootstrap --update '
    assert_equal "$output" "$(printf 'auth\nblog')"
    run -0 complete_bash 'lusty bootstrap --update auth b'
    assert_output 'blog'
    # Before --update, the positional argument is DIR: folders.
    mkdir -p dirx
    run -0 complete_bash 'lusty bootstrap di'
    assert_output 'dirx'
}

@test "bash: option values with fixed choices complete to those choices" {
    run -0 complete_bash 'lusty server --log-format '
    assert_equal "$output" "$(printf 'json\ntext')"
    run -0 complete_bash 'lusty completion '
    assert_equal "$output" "$(printf 'bash\nfish\nzsh')"
}
