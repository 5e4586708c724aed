#!/usr/bin/env bats
# lusty bootstrap: fetching handler repositories (git by path, file:// and
# smart HTTP; archives over HTTP), lusty.lock, and failure safety. Every
# server is ours, on loopback, stopped in teardown.
load helpers
load ../fixtures/git_repos
load ../fixtures/servers

BATS_TEST_TIMEOUT=120

setup() {
    common_setup
    export LUSTY_MONGODB_URI=mongodb://127.0.0.1:1
    # The port check looks at the port the server would bind: one that is
    # free now, not 8080, which anything on the machine may hold.
    LUSTY_PORT=$(closed_port)
    export LUSTY_PORT
    UP="$BATS_TEST_TMPDIR/upstream"
    mkdir -p "$UP"
}

teardown() { stop_servers; }

# A project "app" without git and with the given handlers.
make_project() {
    lusty init app --no-git --quiet
    set_handlers app "$1"
}

boot() {
    timeout 60 "$LUSTY_BIN" bootstrap --skip-mongodb "$@"
}

@test "bootstrap on an empty folder says so and creates the project first" {
    mkdir empty
    run -0 --separate-stderr boot empty
    assert_line --index 0 "No Lusty project in 'empty': creating one there from the 'default' template (as 'lusty init' does)."
    assert_line --index 1 "Creating project 'empty' from template 'default' in empty"
    assert_line 'handlers: none in lusty.json'
    assert_line --regexp '^  mongodb +skipped$'
    assert_line --regexp "^  port +127\.0\.0\.1:$LUSTY_PORT is free$"
    # The template's store: checked, not created (the app's first call does).
    assert_line '  store    will be created sqlite data/store.sqlite3'
    assert_file_not_exists empty/data
    assert_file_exists empty/lusty.json
    assert_file_not_exists empty/lusty.lock
    [ -z "$stderr" ]
}

@test "bootstrap refuses a missing folder and a non-empty one that is not a project" {
    run -1 --separate-stderr boot nowhere
    assert_equal "$stderr" "lusty: error: no such folder 'nowhere'
hint: run 'lusty init nowhere' to create a project there"
    assert_dir_not_exists nowhere
    mkdir stuff && printf 'mine\n' >stuff/notes.txt
    before=$(snapshot stuff)
    run -1 --separate-stderr boot stuff
    assert_equal "${stderr_lines[0]}" "lusty: error: 'stuff' is not a Lusty project (no lusty.json) and is not empty"
    assert_equal "${stderr_lines[1]}" "hint: to make a project of it, run 'lusty init --force stuff' (it adds the template's files, and overwrites those of the same name)"
    [ "$(snapshot stuff)" = "$before" ]
    # Without DIR: the current folder, when no project is found above it.
    cd stuff
    run -1 --separate-stderr boot
    assert_equal "${stderr_lines[0]}" "lusty: error: '.' is not a Lusty project (no lusty.json here or above) and is not empty"
    # --json still prints an object.
    run -1 --separate-stderr boot --json
    "$PY" -c 'import json,sys; r = json.loads(sys.argv[1]); assert r["ok"] is False and "not a Lusty project" in r["error"], r' "$output"
}

@test "--json prints an error object when lusty.json's handlers are invalid" {
    make_project '{"bad name": {"git": "/x"}}'
    run -1 --separate-stderr boot app --json
    "$PY" - "$output" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
assert r["command"] == "bootstrap" and r["ok"] is False, r
assert r["error"].startswith("lusty.json: invalid handler name 'bad name'"), r
PY
    [[ "$stderr" == "lusty: error: lusty.json: invalid handler name 'bad name'"* ]]
}

@test "first fetch by path, file:// and smart HTTP, at a tag, a branch and a commit" {
    make_repo "$UP/a.git" 3
    make_repo "$UP/b.git" 3
    make_repo "$UP/c.git" 3
    start_http --root "$UP"
    local first
    first=$(head_of "$UP/c.git" v1)
    make_project "{\"a\": {\"git\": \"$UP/a.git\", \"ref\": \"v1\"},
                   \"b\": {\"git\": \"file://$UP/b.git\", \"ref\": \"dev\"},
                   \"c\": {\"git\": \"http://127.0.0.1:$PORT/c.git\", \"ref\": \"${first:0:10}\"}}"
    run -0 --separate-stderr boot app
    assert_line 'handlers of app:'
    assert_line "  fetched    a $(head_of "$UP/a.git" v1 | cut -c1-7) (v1)"
    assert_line "  fetched    b $(head_of "$UP/b.git" dev | cut -c1-7) (dev)"
    assert_line --regexp '^  fetched    c [0-9a-f]{7} \('
    assert_line 'handlers: 3 fetched, 0 up to date, 0 failed; lusty.lock updated'
    [ "$(lock_field app a commit)" = "$(head_of "$UP/a.git" v1)" ]
    [ "$(lock_field app b commit)" = "$(head_of "$UP/b.git" dev)" ]
    [ "$(lock_field app c commit)" = "$first" ]
    [ "$(git -C app/lusty_modules/b rev-parse HEAD)" = "$(head_of "$UP/b.git" dev)" ]
    assert_file_exists app/lusty_modules/a/init.lua
    # No temporary folders are left beside the handlers.
    [ "$(ls -A app/lusty_modules | tr '\n' ' ')" = "a b c " ]
}

@test "a re-run has nothing to do and needs no network" {
    make_repo "$UP/a.git"
    make_project "{\"a\": {\"git\": \"$UP/a.git\"}}"
    run -0 --separate-stderr boot app
    local before
    before=$(snapshot app)
    mv "$UP/a.git" "$UP/gone.git"
    run -0 --separate-stderr boot app
    assert_line "  up to date a $(head_of "$UP/gone.git" | cut -c1-7)"
    assert_line 'handlers: 0 fetched, 1 up to date, 0 failed'
    [ "$(snapshot app)" = "$before" ]
}

@test "the lock is reproduced after the upstream moved; --update moves it" {
    make_repo "$UP/a.git"
    make_repo "$UP/b.git"
    make_project "{\"a\": {\"git\": \"$UP/a.git\", \"ref\": \"main\"},
                   \"b\": {\"git\": \"$UP/b.git\", \"ref\": \"main\"}}"
    run -0 --separate-stderr boot app
    local a1 b1
    a1=$(head_of "$UP/a.git")
    b1=$(head_of "$UP/b.git")
    add_commit "$UP/a.git"
    add_commit "$UP/b.git"
    # A fresh checkout of the project gets the locked commits, not the new ones.
    rm -rf app/lusty_modules
    run -0 --separate-stderr boot app
    [ "$(git -C app/lusty_modules/a rev-parse HEAD)" = "$a1" ]
    [ "$(lock_field app a commit)" = "$a1" ]
    # --update NAME re-resolves that one only.
    run -0 --separate-stderr boot app --update a
    assert_line "  fetched    a $(head_of "$UP/a.git" | cut -c1-7) (main)"
    assert_line "  up to date b ${b1:0:7} (main)"
    [ "$(lock_field app a commit)" = "$(head_of "$UP/a.git")" ]
    [ "$(lock_field app b commit)" = "$b1" ]
    # --update alone re-resolves all.
    run -0 --separate-stderr boot app --update
    [ "$(lock_field app b commit)" = "$(head_of "$UP/b.git")" ]
    [ "$(git -C app/lusty_modules/b rev-parse HEAD)" = "$(head_of "$UP/b.git")" ]
}

@test "--frozen fails without a lock or when it disagrees with lusty.json" {
    make_repo "$UP/a.git"
    make_project "{\"a\": {\"git\": \"$UP/a.git\", \"ref\": \"main\"}}"
    run -1 --separate-stderr boot app --frozen
    assert_equal "${stderr_lines[0]}" "lusty: error: lusty.lock is missing and --frozen forbids creating it"
    assert_dir_not_exists app/lusty_modules
    run -0 --separate-stderr boot app
    run -0 --separate-stderr boot app --frozen
    set_handlers app "{\"a\": {\"git\": \"$UP/a.git\", \"ref\": \"v1\"}}"
    local before
    before=$(snapshot app)
    run -1 --separate-stderr boot app --frozen
    assert_equal "${stderr_lines[0]}" "lusty: error: lusty.lock disagrees with lusty.json about 'a'"
    [ "$(snapshot app)" = "$before" ]
}

@test "--offline fetches nothing and says what is missing" {
    make_repo "$UP/a.git"
    make_repo "$UP/b.git"
    make_project "{\"a\": {\"git\": \"$UP/a.git\"}}"
    run -0 --separate-stderr boot app
    set_handlers app "{\"a\": {\"git\": \"$UP/a.git\"}, \"b\": {\"git\": \"$UP/b.git\"}}"
    run -1 --separate-stderr boot app --offline
    assert_line '  up to date a '"$(head_of "$UP/a.git" | cut -c1-7)"
    assert_line 'handlers: 0 fetched, 1 up to date, 1 failed'
    assert_equal "${stderr_lines[0]}" "lusty: error: 'b' ($UP/b.git) is not installed and --offline forbids fetching it"
    assert_dir_not_exists app/lusty_modules/b
    run -2 --separate-stderr boot app --offline --update
    assert_equal "$stderr" "lusty: error: --update and --offline cannot be used together"
}

@test "a missing ref fails that handler only and leaves the lock alone" {
    make_repo "$UP/a.git"
    make_repo "$UP/b.git"
    make_project "{\"a\": {\"git\": \"$UP/a.git\", \"ref\": \"nope\"}, \"b\": {\"git\": \"$UP/b.git\"}}"
    run -1 --separate-stderr boot app
    assert_line '  failed     a'
    assert_line --regexp '^  fetched    b [0-9a-f]{7}$'
    assert_equal "${stderr_lines[0]}" "lusty: error: cannot fetch 'a' from '$UP/a.git': ref not found (no tag, branch or commit 'nope')"
    assert_equal "${stderr_lines[1]}" 'hint: check the "ref" of this handler in lusty.json'
    run ! grep -q '"a"' app/lusty.lock
    assert_dir_not_exists app/lusty_modules/a
}

@test "an unreachable host or missing repository is named, without the password" {
    local port
    port=$(closed_port)
    make_project "{\"a\": {\"git\": \"http://user:s3cret@127.0.0.1:$port/a.git\"},
                   \"b\": {\"git\": \"$UP/missing.git\"}}"
    run -1 --separate-stderr boot app
    assert_line 'handlers: 0 fetched, 0 up to date, 2 failed'
    [[ "${stderr_lines[0]}" == "lusty: error: cannot fetch 'a' from 'http://user@127.0.0.1:$port/a.git': cannot reach the host ("* ]]
    assert_equal "${stderr_lines[2]}" "lusty: error: cannot fetch 'b' from '$UP/missing.git': repository not found (no such folder)"
    [[ "$stderr" != *s3cret* ]]
    [[ "$output" != *s3cret* ]]
    assert_file_not_exists app/lusty.lock
    [ -z "$(ls -A app/lusty_modules 2>/dev/null)" ]
}

@test "a git server killed mid-transfer leaves the previous state intact" {
    make_repo "$UP/a.git" 40
    start_http --root "$UP"
    make_project "{\"a\": {\"git\": \"http://127.0.0.1:$PORT/a.git\", \"ref\": \"v1\"}}"
    run -0 --separate-stderr boot app
    stop_servers
    start_http --root "$UP" --die-after 700
    set_handlers app "{\"a\": {\"git\": \"http://127.0.0.1:$PORT/a.git\", \"ref\": \"main\"}}"
    local before
    before=$(snapshot app)
    run -1 --separate-stderr boot app
    assert_line '  failed     a'
    [[ "${stderr_lines[0]}" == "lusty: error: cannot fetch 'a' from 'http://127.0.0.1:$PORT/a.git': "* ]]
    [ "$(snapshot app)" = "$before" ]
    [ "$(git -C app/lusty_modules/a rev-parse HEAD)" = "$(head_of "$UP/a.git" v1)" ]
}

# An archive of a handler, with the single top-level folder rockspecs have.
make_archive() {
    mkdir -p "$BATS_TEST_TMPDIR/src/blog-1.0/lib"
    echo "return 'blog $1'" >"$BATS_TEST_TMPDIR/src/blog-1.0/init.lua"
    echo "return 1" >"$BATS_TEST_TMPDIR/src/blog-1.0/lib/util.lua"
    tar -C "$BATS_TEST_TMPDIR/src" -czf "$UP/blog.tar.gz" blog-1.0
    # Enough bulk that a transfer cut short is visibly partial.
    head -c 200000 /dev/urandom >"$BATS_TEST_TMPDIR/src/blog-1.0/blob.bin"
    tar -C "$BATS_TEST_TMPDIR/src" -czf "$UP/blog-big.tar.gz" blog-1.0
}

@test "archives are checked against sha256, unpacked and locked" {
    make_archive 1
    start_http --root "$UP"
    local sum
    sum=$(sha256sum "$UP/blog.tar.gz" | cut -d' ' -f1)
    make_project "{\"blog\": {\"url\": \"http://127.0.0.1:$PORT/blog.tar.gz\", \"sha256\": \"$sum\"}}"
    run -0 --separate-stderr boot app
    assert_line "  fetched    blog ${sum:0:12}"
    assert_equal "$(cat app/lusty_modules/blog/init.lua)" "return 'blog 1'"
    assert_file_exists app/lusty_modules/blog/lib/util.lua
    [ "$(lock_field app blog sha256)" = "$sum" ]
    run -0 --separate-stderr boot app
    assert_line "  up to date blog ${sum:0:12}"
}

@test "a checksum mismatch refuses the archive and keeps nothing" {
    make_archive 1
    start_http --root "$UP"
    local bad
    bad=$(printf '0%.0s' {1..64})
    make_project "{\"blog\": {\"url\": \"http://127.0.0.1:$PORT/blog.tar.gz\", \"sha256\": \"$bad\"}}"
    run -1 --separate-stderr boot app
    assert_equal "${stderr_lines[0]}" "lusty: error: cannot fetch 'blog' from 'http://127.0.0.1:$PORT/blog.tar.gz': checksum mismatch (expected sha256 $bad, got $(sha256sum "$UP/blog.tar.gz" | cut -d' ' -f1))"
    [ -z "$(ls -A app/lusty_modules)" ]
    assert_file_not_exists app/lusty.lock
}

@test "an archive server killed mid-transfer leaves the previous state intact" {
    make_archive 1
    start_http --root "$UP"
    make_project "{\"blog\": {\"url\": \"http://127.0.0.1:$PORT/blog.tar.gz\"}}"
    run -0 --separate-stderr boot app
    stop_servers
    start_http --root "$UP" --die-after 50000
    set_handlers app "{\"blog\": {\"url\": \"http://127.0.0.1:$PORT/blog-big.tar.gz\"}}"
    local before
    before=$(snapshot app)
    run -1 --separate-stderr boot app
    [[ "${stderr_lines[0]}" == "lusty: error: cannot fetch 'blog' from 'http://127.0.0.1:$PORT/blog-big.tar.gz': the connection broke off ("* ]]
    [ "$(snapshot app)" = "$before" ]
}

@test "handler folders with local changes are skipped unless --force" {
    make_repo "$UP/a.git"
    make_project "{\"a\": {\"git\": \"$UP/a.git\", \"ref\": \"v1\"}}"
    run -0 --separate-stderr boot app
    echo "-- mine" >>app/lusty_modules/a/init.lua
    echo "notes" >app/lusty_modules/a/NOTES
    set_handlers app "{\"a\": {\"git\": \"$UP/a.git\", \"ref\": \"main\"}}"
    run -0 --separate-stderr boot app
    assert_line '  skipped    a'
    assert_line 'handlers: 0 fetched, 0 up to date, 0 failed, 1 skipped'
    assert_equal "${stderr_lines[0]}" "lusty: warning: skipped 'a': lusty_modules/a has local changes (1 modified and 1 untracked file)"
    assert_equal "${stderr_lines[1]}" "hint: commit or move them away, or pass --force to replace the folder"
    grep -q -- '-- mine' app/lusty_modules/a/init.lua
    run -0 --separate-stderr boot app --force
    assert_line --regexp '^  fetched    a [0-9a-f]{7} \(main\)$'
    assert_file_not_exists app/lusty_modules/a/NOTES
    run ! grep -q -- '-- mine' app/lusty_modules/a/init.lua
}

# A repository whose main holds sub/.gitattributes (when $1 is given) and
# LF text files.
make_eol_repo() {
    local w="$BATS_TEST_TMPDIR/eol-src"
    rm -rf "$w"
    git -c init.defaultBranch=main init -q "$w"
    mkdir "$w/sub"
    printf 'one\ntwo\n' >"$w/top.lua"
    printf 'three\nfour\n' >"$w/sub/notes.txt"
    [ -z "${2:-}" ] || printf '%s\n' "$2" >"$w/sub/.gitattributes"
    git -C "$w" add -A
    git -C "$w" -c user.name=T -c user.email=t@localhost commit -q -m eol
    git clone -q --bare "$w" "$1"
}

@test "checkouts convert line endings exactly when attributes or core.autocrlf ask" {
    make_eol_repo "$UP/plain.git"
    make_eol_repo "$UP/attr.git" '*.txt text eol=crlf'
    make_project "{\"plain\": {\"git\": \"$UP/plain.git\"}, \"attr\": {\"git\": \"$UP/attr.git\"}}"
    run -0 --separate-stderr boot app
    # Without attributes the files are the blobs, byte for byte.
    cmp app/lusty_modules/plain/top.lua <(git -C "$UP/plain.git" show HEAD:top.lua)
    cmp app/lusty_modules/plain/sub/notes.txt <(git -C "$UP/plain.git" show HEAD:sub/notes.txt)
    # A .gitattributes below the root still applies, and only where it says.
    [ "$(cat app/lusty_modules/attr/sub/notes.txt)" = $'three\r\nfour\r' ]
    cmp app/lusty_modules/attr/top.lua <(git -C "$UP/attr.git" show HEAD:top.lua)
    # Converted files are not local changes.
    run -0 --separate-stderr boot app
    assert_line 'handlers: 0 fetched, 2 up to date, 0 failed'

    # Attributes from outside the tree, and core.autocrlf, count too.
    rm -rf app/lusty_modules app/lusty.lock
    mkdir -p "$XDG_CONFIG_HOME/git"
    echo '*.lua text eol=crlf' >"$XDG_CONFIG_HOME/git/attributes"
    run -0 --separate-stderr boot app
    [ "$(cat app/lusty_modules/plain/top.lua)" = $'one\r\ntwo\r' ]
    [ "$(cat app/lusty_modules/plain/sub/notes.txt)" = $'three\nfour' ]
    rm "$XDG_CONFIG_HOME/git/attributes" && rm -rf app/lusty_modules app/lusty.lock
    git config --global core.autocrlf true
    run -0 --separate-stderr boot app
    [ "$(cat app/lusty_modules/plain/sub/notes.txt)" = $'three\r\nfour\r' ]
    run -0 --separate-stderr boot app
    assert_line 'handlers: 0 fetched, 2 up to date, 0 failed'
}

@test "eight repositories are fetched in parallel" {
    local handlers="" i
    for i in 1 2 3 4 5 6 7 8; do
        make_repo "$UP/r$i.git" 20
        handlers+="${handlers:+,}\"r$i\": {\"git\": \"file://$UP/r$i.git\"}"
    done
    make_project "{$handlers}"
    run -0 --separate-stderr boot app --jobs 4
    assert_line 'handlers: 8 fetched, 0 up to date, 0 failed; lusty.lock updated'
    for i in 1 2 3 4 5 6 7 8; do
        [ "$(lock_field app "r$i" commit)" = "$(head_of "$UP/r$i.git")" ]
    done
}

@test "--json reports every handler and the checks" {
    make_repo "$UP/a.git"
    make_project "{\"a\": {\"git\": \"$UP/a.git\"}, \"b\": {\"git\": \"$UP/none.git\"}}"
    run -1 --separate-stderr boot app --json
    "$PY" - "$output" "$(head_of "$UP/a.git")" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
assert r["command"] == "bootstrap" and r["ok"] is False, r
a, b = r["handlers"]
assert a["name"] == "a" and a["status"] == "fetched" and a["commit"] == sys.argv[2], a
assert b["status"] == "failed" and b["reason"] == "repository not found", b
assert r["summary"] == {"fetched": 1, "up_to_date": 0, "skipped": 0, "failed": 1}, r
assert r["checks"]["mongodb"]["status"] == "skipped", r
assert r["lock_written"] is True
PY
    [[ "$stderr" == "lusty: error: cannot fetch 'b'"* ]]
}

@test "usage errors exit with 2" {
    make_project '{}'
    run -2 --separate-stderr boot app --jobs 0
    assert_equal "$stderr" "lusty: error: invalid --jobs '0': use a number from 1 to 64"
    run -2 --separate-stderr boot app --update --frozen
    assert_equal "$stderr" "lusty: error: --update and --frozen cannot be used together"
    run -2 --separate-stderr boot app other
    assert_equal "${stderr_lines[0]}" "lusty: error: 'lusty bootstrap' takes one DIR, got 2"
    set_handlers app '{"auth": {"git": "/nowhere"}, "blog": {"git": "/nowhere"}}'
    # A handler name that names nothing fails (1), as an unknown template.
    run -1 --separate-stderr boot app --update auht
    assert_equal "${stderr_lines[0]}" "lusty: error: no handler 'auht' in '$BATS_TEST_TMPDIR/app/lusty.json'"
    assert_equal "${stderr_lines[1]}" "hint: did you mean 'auth'?"
    run -1 --separate-stderr boot app --update nosuch
    assert_equal "${stderr_lines[1]}" "hint: the handlers are: auth, blog"
    set_handlers app '{"bad": {"git": "/x", "url": "http://y"}}'
    run -1 --separate-stderr boot app
    assert_equal "$stderr" "lusty: error: lusty.json: handler 'bad' needs exactly one of \"git\" and \"url\""
}

@test "local commits in a handler are never lost: skipped, then kept as backup refs with --force" {
    make_repo "$UP/a.git"
    make_project "{\"a\": {\"git\": \"$UP/a.git\", \"ref\": \"v1\"}}"
    run -0 --separate-stderr boot app
    local m=app/lusty_modules/a mine
    echo "-- mine" >>"$m/init.lua"
    git -C "$m" -c user.name=T -c user.email=t@l commit -qam mine
    mine=$(git -C "$m" rev-parse HEAD)
    set_handlers app "{\"a\": {\"git\": \"$UP/a.git\", \"ref\": \"main\"}}"
    run -0 --separate-stderr boot app
    assert_line '  skipped    a'
    assert_equal "${stderr_lines[0]}" "lusty: warning: skipped 'a': lusty_modules/a has local changes (1 local commit: ${mine:0:7})"
    assert_equal "${stderr_lines[1]}" "hint: push them, or pass --force to replace the folder (its commits are then kept under refs/lusty/backup/ in the new checkout)"
    [ "$(git -C "$m" rev-parse HEAD)" = "$mine" ]
    # A commit on a branch of its own counts too.
    git -C "$m" checkout -q -b feature
    echo "-- more" >>"$m/init.lua"
    git -C "$m" -c user.name=T -c user.email=t@l commit -qam more
    local more
    more=$(git -C "$m" rev-parse HEAD)
    run -0 --separate-stderr boot app --force
    assert_line --regexp '^  fetched    a [0-9a-f]{7} \(main\)$'
    [[ "${stderr_lines[0]}" =~ ^"lusty: warning: replaced lusty_modules/a, which had local commits: they are kept as refs/lusty/backup/"[0-9]{8}T[0-9]{6}Z/feature$ ]]
    [ "$(git -C "$m" rev-parse HEAD)" = "$(head_of "$UP/a.git")" ]
    git -C "$m" cat-file -e "$mine^{commit}"
    git -C "$m" cat-file -e "$more^{commit}"
    [ "$(git -C "$m" for-each-ref --format='%(objectname)' refs/lusty/backup/)" = "$more" ]
    # The fresh checkout has no local commits, and a later --force keeps the
    # earlier backups.
    run -0 --separate-stderr boot app
    assert_line "  up to date a $(head_of "$UP/a.git" | cut -c1-7) (main)"
    run -0 --separate-stderr boot app --force --update
    git -C "$m" cat-file -e "$more^{commit}"
}

@test "a handler at a relative path is up to date, offline and for doctor, once fetched" {
    mkdir -p repos
    make_repo "$BATS_TEST_TMPDIR/repos/greet.git"
    make_project '{"greet": {"git": "../repos/greet.git"}}'
    run -0 --separate-stderr boot app
    assert_line --regexp '^  fetched    greet [0-9a-f]{7}$'
    [ "$(lock_field app greet git)" = "../repos/greet.git" ]
    run -0 --separate-stderr boot app --offline
    assert_line "  up to date greet $(head_of repos/greet.git | cut -c1-7)"
    run -0 --separate-stderr "$LUSTY_BIN" doctor app --skip-mongodb
    assert_line --regexp '^  greet +installed [0-9a-f]{7}$'
}

@test "temporaries of a killed bootstrap are removed by the next run" {
    make_repo "$UP/a.git"
    make_project "{\"a\": {\"git\": \"$UP/a.git\"}}"
    mkdir -p app/lusty_modules/.a.lusty-Ab12Cd/sub app/lusty_modules/.b.lusty-Xy34Zw
    touch app/lusty_modules/.a.lusty-Ab12Cd/sub/f app/lusty_modules/.b.lusty-Xy34Zw.download
    # Not ours: kept.
    touch app/lusty_modules/.keep.lusty-notes.txt
    run -0 --separate-stderr boot app
    assert_line 'removed 3 temporary folders left by an interrupted bootstrap'
    [ "$(ls -A app/lusty_modules | tr '\n' ' ')" = ".keep.lusty-notes.txt a " ]
}

# make_link_repo BARE TARGET: a repository whose tree has link -> TARGET.
make_link_repo() {
    local w="$BATS_TEST_TMPDIR/link-src"
    rm -rf "$w"
    git -c init.defaultBranch=main init -q "$w"
    echo 'return 1' >"$w/init.lua"
    mkdir "$w/sub" && ln -s "$2" "$w/sub/link"
    git -C "$w" add -A
    git -C "$w" -c user.name=T -c user.email=t@localhost commit -q -m link
    git clone -q --bare "$w" "$1"
}

@test "symbolic links leaving the handler's folder are refused" {
    make_link_repo "$UP/abs.git" /etc/passwd
    make_link_repo "$UP/up.git" ../../../secret
    make_link_repo "$UP/ok.git" ../init.lua
    make_project "{\"abs\": {\"git\": \"$UP/abs.git\"}, \"up\": {\"git\": \"$UP/up.git\"}, \"ok\": {\"git\": \"$UP/ok.git\"}}"
    run -1 --separate-stderr boot app
    assert_line 'handlers: 1 fetched, 0 up to date, 2 failed; lusty.lock updated'
    assert_equal "${stderr_lines[0]}" "lusty: error: cannot fetch 'abs' from '$UP/abs.git': unsafe symbolic link ('sub/link' points to '/etc/passwd', outside the handler's folder)"
    assert_equal "${stderr_lines[1]}" "lusty: error: cannot fetch 'up' from '$UP/up.git': unsafe symbolic link ('sub/link' points to '../../../secret', outside the handler's folder)"
    assert_dir_not_exists app/lusty_modules/abs
    [ -L app/lusty_modules/ok/sub/link ]
    # Archives too.
    mkdir -p "$BATS_TEST_TMPDIR/arc/pkg" && ln -s /etc "$BATS_TEST_TMPDIR/arc/pkg/etc"
    echo 'return 1' >"$BATS_TEST_TMPDIR/arc/pkg/init.lua"
    tar -C "$BATS_TEST_TMPDIR/arc" -czf "$UP/pkg.tar.gz" pkg
    set_handlers app "{\"pkg\": {\"url\": \"file://$UP/pkg.tar.gz\"}}"
    run -1 --separate-stderr boot app
    assert_equal "${stderr_lines[0]}" "lusty: error: cannot fetch 'pkg' from 'file://$UP/pkg.tar.gz': unsafe symbolic link ('etc' points to '/etc', outside the handler's folder)"
    assert_dir_not_exists app/lusty_modules/pkg
}

# make_bomb TAR_GZ SIZE COUNT: an archive of COUNT files of SIZE zero bytes.
make_bomb() {
    "$PY" - "$@" <<'PY'
import io, sys, tarfile
path, size, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
class Zeros(io.RawIOBase):
    def __init__(self, n): self.left = n
    def readable(self): return True
    def readinto(self, b):
        n = min(len(b), self.left); b[:n] = bytes(n); self.left -= n; return n
with tarfile.open(path, "w:gz", compresslevel=1) as t:
    for i in range(count):
        info = tarfile.TarInfo(f"bomb/f{i}.bin"); info.size = size
        t.addfile(info, Zeros(size))
PY
}

@test "archive bombs are stopped at the unpacked size and entry limits" {
    # The defaults: 256 MiB and 100,000 entries.
    make_bomb "$UP/big.tar.gz" $((300 << 20)) 1
    make_project "{\"big\": {\"url\": \"file://$UP/big.tar.gz\"}}"
    run -1 --separate-stderr boot app
    assert_equal "${stderr_lines[0]}" "lusty: error: cannot fetch 'big' from 'file://$UP/big.tar.gz': archive too large (more than 268435456 bytes unpacked (bootstrap.archive_max_bytes in lusty.json))"
    assert_equal "${stderr_lines[1]}" "hint: if the archive is right, raise the limit in lusty.json's \"bootstrap\" section"
    [ -z "$(ls -A app/lusty_modules)" ]
    # Limits set in lusty.json.
    make_bomb "$UP/mid.tar.gz" $((2 << 20)) 1
    make_bomb "$UP/many.tar.gz" 10 50
    "$PY" - app/lusty.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["bootstrap"] = {"archive_max_bytes": 1048576, "archive_max_entries": 20}
json.dump(m, open(sys.argv[1], "w"))
PY
    set_handlers app "{\"mid\": {\"url\": \"file://$UP/mid.tar.gz\"}, \"many\": {\"url\": \"file://$UP/many.tar.gz\"}}"
    run -1 --separate-stderr boot app
    assert_line 'handlers: 0 fetched, 0 up to date, 2 failed'
    [[ "$stderr" == *"cannot fetch 'many' from 'file://$UP/many.tar.gz': archive too large (more than 20 entries (bootstrap.archive_max_entries in lusty.json))"* ]]
    [[ "$stderr" == *"cannot fetch 'mid' from 'file://$UP/mid.tar.gz': archive too large (more than 1048576 bytes unpacked"* ]]
    [ -z "$(ls -A app/lusty_modules)" ]
    # Within the limits it installs.
    "$PY" - app/lusty.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["bootstrap"] = {"archive_max_bytes": 4194304, "archive_max_entries": 60}
json.dump(m, open(sys.argv[1], "w"))
PY
    run -0 --separate-stderr boot app
    assert_file_exists app/lusty_modules/many/f49.bin
    "$PY" - app/lusty.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["bootstrap"] = {"archive_max_bytes": -1}
json.dump(m, open(sys.argv[1], "w"))
PY
    run -1 --separate-stderr boot app
    assert_equal "$stderr" 'lusty: error: lusty.json: "bootstrap.archive_max_bytes" must be a whole number from 1 to 10^15'
}

@test "with TERM=dumb a terminal gets no cursor movement" {
    make_repo "$UP/a.git"
    make_project "{\"a\": {\"git\": \"$UP/a.git\"}}"
    command -v script >/dev/null || skip "needs script(1) for a terminal"
    TERM=dumb NO_COLOR= script -qec "$LUSTY_BIN bootstrap --skip-mongodb app" /dev/null >out.txt
    grep -q 'handlers: 1 fetched' out.txt
    run ! grep -q $'\e\\[' out.txt
    assert_file_exists app/lusty_modules/a/init.lua
}

@test "an unreachable MongoDB that is not required is reported once" {
    make_project '{}'
    run -0 --separate-stderr "$LUSTY_BIN" bootstrap app --mongodb-timeout 0.2
    assert_line --regexp '^  mongodb  unreachable at mongodb://127\.0\.0\.1:1 \(not required\): .*connection refused'
    assert_equal "$stderr" "hint: start mongod, set the URI with --mongodb-uri or LUSTY_MONGODB_URI, or pass --skip-mongodb"
    # Required, it is an error, and the command fails.
    run -1 --separate-stderr "$LUSTY_BIN" bootstrap app --mongodb-timeout 0.2 --require-mongodb
    [[ "${stderr_lines[0]}" == "lusty: error: cannot reach MongoDB at 'mongodb://127.0.0.1:1': "* ]]
}
