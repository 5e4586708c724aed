#!/usr/bin/env bats
# lusty init: scaffolding projects from templates, every option and error.
load helpers

setup() { common_setup; }

teardown() {
    if [ -n "${MOUNTED:-}" ]; then
        umount "$MOUNTED" 2>/dev/null || true
    fi
    if [ -n "${WORLD_TMP:-}" ]; then
        chmod -R u+rwx "$WORLD_TMP" 2>/dev/null || true
        rm -rf "$WORLD_TMP"
    fi
}

# bats' own temporary folders are private to root: the unprivileged user of
# as_nobody needs one it can reach.
world_readable_tmpdir() {
    WORLD_TMP=$(mktemp -d /tmp/lusty-test.XXXXXX)
    chmod 755 "$WORLD_TMP"
}

# A small template of our own, to test the template format itself.
make_custom_template() {
    local dir=$1
    mkdir -p "$dir/app/views" "$dir/bin"
    cat >"$dir/template.json" <<'JSON'
{
  "description": "A test template",
  "variables": { "greeting": "hello", "port": 9999 },
  "raw": ["app/views/*"],
  "message": "Next: cd {{dir}} and greet {{name}}"
}
JSON
    printf '{"name": "{{name}}", "port": {{port}}, "greeting": "{{greeting}}"}\n' >"$dir/lusty.json"
    printf '<p>{{kept}}</p>\n' >"$dir/app/views/page.mustache"
    printf '%s\n' '-- {{name}} module' >"$dir/app/{{name}}.lua"
    printf '#!/bin/sh\necho {{name}}\n' >"$dir/bin/run"
    chmod +x "$dir/bin/run"
}

@test "init DIR creates a project from the default template" {
    run -0 --separate-stderr lusty init myapp --no-git
    assert_line --index 0 "Creating project 'myapp' from template 'default' in myapp"
    assert_line --regexp '^  create +lusty\.json$'
    for f in lusty.json app/config.lua .gitignore README.md conf/nginx.conf; do
        assert_file_exists "myapp/$f"
    done
    python3 - myapp/lusty.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
assert m["name"] == "myapp", m
assert m["server"]["port"] == 8080, m
assert m["server"]["host"] == "127.0.0.1", m
assert m["handlers"] == {}, m
assert "uri" in m["mongodb"] and m["mongodb"]["required"] is False, m
PY
    grep -qx 'lusty_modules/' myapp/.gitignore
    grep -qx '.lusty/' myapp/.gitignore
    assert_dir_not_exists myapp/.git
}

@test "every built-in template renders to valid JSON and Lua" {
    for t in default api minimal; do
        run -0 --separate-stderr lusty init "p-$t" --template "$t" --no-git --quiet
        [ -z "$output" ]
        python3 -m json.tool "p-$t/lusty.json" >/dev/null
        assert_file_exists "p-$t/app/config.lua"
        assert_file_exists "p-$t/conf/nginx.conf"
        if command -v luajit >/dev/null; then
            while IFS= read -r f; do
                luajit -bl "$f" >/dev/null
            done < <(find "p-$t" -name '*.lua')
        fi
        # Nothing of the template's machinery leaks into the project.
        assert_file_not_exists "p-$t/template.json"
        ! grep -rl '{{name}}\|{{port}}' "p-$t" --include='*.json' --include='*.conf'
    done
}

@test "DIR defaults to the current folder and the name to its base name" {
    mkdir here-app && cd here-app
    run -0 --separate-stderr lusty init --no-git
    assert_line --index 0 "Creating project 'here-app' from template 'default' in ."
    grep -q '"name": "here-app"' lusty.json
}

@test "the name of '.' or '..' is the resolved folder's" {
    mkdir -p outer_x/inner && cd outer_x/inner
    run -0 --separate-stderr lusty init .. --no-git --quiet
    grep -q '"name": "outer_x"' ../lusty.json
}

@test "--name and --port are rendered into the project" {
    run -0 --separate-stderr lusty init dir1 --name shop_2 --port 9090 --no-git
    grep -q '"name": "shop_2"' dir1/lusty.json
    grep -q '"port": 9090' dir1/lusty.json
    grep -q '9090' dir1/conf/nginx.conf
    # Short forms and --opt=value work the same.
    run -0 --separate-stderr lusty init dir2 -n other -p 7000 --no-git
    grep -q '"name": "other"' dir2/lusty.json
    run -0 --separate-stderr lusty init dir3 --name=third --port=7001 --no-git
    grep -q '"port": 7001' dir3/lusty.json
}

@test "--list-templates names the built-in templates with descriptions" {
    run -0 --separate-stderr lusty init --list-templates
    assert_line --regexp '^api +[^ ].*'
    assert_line --regexp '^default +[^ ].*'
    assert_line --regexp '^minimal +[^ ].*'
    run -0 --separate-stderr lusty init -l
    assert_line --regexp '^default +[^ ].*'
}

@test "templates are found in LUSTY_TEMPLATES, then ~/.config/lusty/templates, then built-in" {
    make_custom_template "$HOME/.config/lusty/templates/mine"
    mkdir -p envtpl
    make_custom_template envtpl/default
    sed -i 's/A test template/Shadowing default/' envtpl/default/template.json
    run -0 --separate-stderr lusty init --list-templates
    assert_line --regexp '^mine +A test template$'
    LUSTY_TEMPLATES="$PWD/envtpl" run -0 --separate-stderr lusty init --list-templates
    assert_line --regexp '^default +Shadowing default$'
    LUSTY_TEMPLATES="$PWD/envtpl" run -0 --separate-stderr lusty init viaenv --no-git --quiet
    grep -q '"greeting": "hello"' viaenv/lusty.json
    run -0 --separate-stderr lusty init viahome --template mine --no-git --quiet
    assert_file_exists viahome/app/viahome.lua
}

@test "--template PATH uses a template folder: variables, --set, raw files, names, modes, message" {
    make_custom_template tpl
    run -0 --separate-stderr lusty init proj --template ./tpl --set greeting=hi --no-git
    assert_equal "$(cat proj/lusty.json)" '{"name": "proj", "port": 9999, "greeting": "hi"}'
    # Raw files are copied verbatim, names are rendered, modes are kept.
    assert_equal "$(cat proj/app/views/page.mustache)" '<p>{{kept}}</p>'
    assert_equal "$(cat proj/app/proj.lua)" '-- proj module'
    [ -x proj/bin/run ]
    assert_output --partial 'Next: cd proj and greet proj'
    assert_file_not_exists proj/template.json
}

@test "the next steps name a lusty that runs: the full path when PATH has another or none" {
    bin=$(readlink -f "$LUSTY_BIN")
    PATH=/usr/bin:/bin run -0 --separate-stderr "$LUSTY_BIN" init off-path --no-git
    assert_line "  $bin server"
    # A lusty on PATH that is this very program is called by its name.
    mkdir -p onpath/bin
    ln -s "$bin" onpath/bin/lusty
    PATH="$PWD/onpath/bin:/usr/bin:/bin" run -0 --separate-stderr lusty init on-path --no-git
    assert_line "  lusty server"
    # Another program named lusty on PATH is not this one.
    mkdir -p other/bin
    printf '#!/bin/sh\nexit 1\n' >other/bin/lusty && chmod +x other/bin/lusty
    PATH="$PWD/other/bin:/usr/bin:/bin" run -0 --separate-stderr "$LUSTY_BIN" init other-path --no-git
    assert_line "  $bin server"
}

@test "--dry-run prints the plan and writes nothing" {
    run -0 --separate-stderr lusty init dry --dry-run
    assert_line --index 0 "Would create project 'dry' from template 'default' in dry"
    assert_line --regexp '^  create +app/config\.lua$'
    assert_line --regexp '^  git init +and a first commit$'
    assert_line 'Dry run: nothing was written.'
    assert_dir_not_exists dry
}

@test "--dry-run with --force marks the files it would overwrite" {
    lusty init both --no-git --quiet
    printf '{}\n' >both/lusty.json
    before=$(snapshot both)
    run -0 --separate-stderr lusty init both --dry-run --force --no-git
    assert_line --regexp '^  overwrite +lusty\.json$'
    # Files that already have the template's content are not overwritten.
    assert_line --regexp '^  unchanged +app/config\.lua$'
    assert_equal "$(snapshot both)" "$before"
}

@test "a git repository is created with every file in the first commit" {
    run -0 --separate-stderr lusty init g1
    assert_line --regexp '^  git +first commit [0-9a-f]{7}$'
    assert_dir_exists g1/.git
    [ "$(git -C g1 rev-list --count HEAD)" = 1 ]
    assert_equal "$(git -C g1 ls-files | sort)" "$(cd g1 && find . -type f -not -path './.git/*' | sed 's|^\./||' | sort)"
    [ -z "$(git -C g1 status --porcelain)" ]
    # No git config: the fallback author.
    assert_equal "$(git -C g1 log -1 --format='%an <%ae>')" "Lusty <lusty@localhost>"
}

@test "the commit author comes from the git config" {
    printf '[user]\n\tname = Ada Tester\n\temail = ada@example.org\n' >"$HOME/.gitconfig"
    run -0 --separate-stderr lusty init g2
    assert_equal "$(git -C g2 log -1 --format='%an <%ae>')" "Ada Tester <ada@example.org>"
}

@test "no repository is created inside an existing work tree, nor with --no-git" {
    git init -q outer
    run -0 --separate-stderr lusty init outer/sub
    assert_dir_not_exists outer/sub/.git
    refute_output --partial 'first commit'
    run -0 --separate-stderr lusty init nogit --no-git
    assert_dir_not_exists nogit/.git
}

@test "--quiet prints nothing on success" {
    run -0 --separate-stderr lusty init quiet --quiet
    [ -z "$output" ] && [ -z "$stderr" ]
    assert_dir_exists quiet/.git
}

@test "invalid project names are refused and nothing is written" {
    for name in 'my app' '-x' '.hidden' 'a/b' 'naïve' ''; do
        run -2 --separate-stderr lusty init somewhere --name "$name"
        assert_stderr_line 0 "lusty: error: invalid project name '$name': use letters, digits, '-' and '_', not starting with '-'"
        assert_dir_not_exists somewhere
    done
    mkdir 'bad name'
    run -2 --separate-stderr lusty init 'bad name'
    assert_stderr_line 1 "hint: the name comes from the folder; give one with --name NAME"
    assert_equal "$(ls -A 'bad name')" ""
}

@test "an invalid port is refused" {
    for port in 0 65536 abc 80x -1; do
        run -2 --separate-stderr lusty init p --port "$port"
        assert_equal "$stderr" "lusty: error: invalid port '$port': use a number from 1 to 65535"
        assert_dir_not_exists p
    done
}

@test "an unknown template lists the available ones, with a did-you-mean" {
    # A template that is not there fails (1), by name as by path.
    run -1 --separate-stderr lusty init p --template nope
    assert_stderr_line 0 "lusty: error: unknown template 'nope' (available: api, default, minimal)"
    [[ "${stderr_lines[1]-}" == *"hint: see 'lusty init --list-templates'"* ]]
    assert_dir_not_exists p
    run -1 --separate-stderr lusty init p -t apii
    assert_stderr_line 1 "hint: did you mean 'api'?"
    # A folder of that name here: say how to use it.
    make_custom_template mytpl
    run -1 --separate-stderr lusty init p -t mytpl
    assert_stderr_line 1 "hint: to use the folder 'mytpl', write it as a path: --template ./mytpl"
    assert_dir_not_exists p
}

@test "--set of a variable the template does not declare warns, with a did-you-mean" {
    make_custom_template tpl
    run -0 --separate-stderr lusty init p --template ./tpl --set greting=hi --set nosuch=1 --no-git --quiet
    assert_equal "$stderr" "lusty: warning: template 'tpl' has no variable 'greting'
hint: did you mean 'greeting'?
lusty: warning: template 'tpl' has no variable 'nosuch'
hint: its variables are in its template.json, under \"variables\""
}

@test "a template path without template.json is refused" {
    mkdir notatemplate
    run -1 --separate-stderr lusty init p --template ./notatemplate
    assert_equal "$stderr" "lusty: error: './notatemplate' is not a template: it has no template.json"
    run -1 --separate-stderr lusty init p --template ./missing
    assert_equal "$stderr" "lusty: error: template folder './missing' does not exist"
    assert_dir_not_exists p
}

@test "a broken template.json is reported with its file and line" {
    make_custom_template broken
    printf '{\n  "description": "x",\n  "raw": [1,\n' >broken/template.json
    run -1 --separate-stderr lusty init p --template ./broken
    assert_equal "$stderr" "lusty: error: cannot parse './broken/template.json': invalid JSON at line 4"
    printf '{"description": 3}' >broken/template.json
    run -1 --separate-stderr lusty init p --template ./broken
    assert_equal "$stderr" "lusty: error: invalid './broken/template.json': \"description\" must be a string"
    assert_dir_not_exists p
}

@test "a template file with a Mustache error names the file, line and column" {
    make_custom_template badmust
    printf 'line one\n  {{#open}}\n' >badmust/README.md
    run -1 --separate-stderr lusty init p --template ./badmust
    assert_stderr_line_regexp 0 "^lusty: error: template 'badmust' is broken: \./badmust/README\.md:2:3: .*open"
    assert_dir_not_exists p
}

@test "existing files are never overwritten without --force, and the disk is unchanged" {
    mkdir taken && printf 'mine\n' >taken/lusty.json && printf 'notes\n' >taken/notes.txt
    mkdir taken/app && printf 'my config\n' >taken/app/config.lua
    before=$(snapshot taken)
    run -1 --separate-stderr lusty init taken
    assert_stderr_line 0 "lusty: error: 'taken' already has 2 files the template would overwrite: app/config.lua, lusty.json"
    assert_stderr_line 1 "hint: use --force to overwrite them (nothing else is touched), or choose another DIR"
    assert_equal "$(snapshot taken)" "$before"
}

@test "--force overwrites only template files and deletes nothing" {
    mkdir taken && printf 'mine\n' >taken/lusty.json && printf 'notes\n' >taken/notes.txt
    run -0 --separate-stderr lusty init taken --force --no-git
    assert_line --regexp '^  overwrite +lusty\.json$'
    assert_line --regexp '^  create +app/config\.lua$'
    grep -q '"name": "taken"' taken/lusty.json
    assert_equal "$(cat taken/notes.txt)" "notes"
}

@test "a file where the project folder should be is refused" {
    printf 'x' >afile
    run -1 --separate-stderr lusty init afile --name ok
    assert_equal "$stderr" "lusty: error: 'afile' exists and is not a folder
hint: choose another DIR"
    assert_equal "$(cat afile)" "x"
}

@test "a folder or file in the way of a template file is refused even with --force" {
    mkdir -p way/lusty.json
    before=$(snapshot way)
    run -1 --separate-stderr lusty init way --force
    assert_stderr_line 0 "lusty: error: cannot write 'way/lusty.json': a folder is in the way"
    assert_equal "$(snapshot way)" "$before"
    rm -r way && mkdir way && printf 'x' >way/app
    before=$(snapshot way)
    run -1 --separate-stderr lusty init way --force
    assert_stderr_line 0 "lusty: error: cannot create folder 'way/app': a file is in the way"
    assert_equal "$(snapshot way)" "$before"
}

@test "an unwritable target fails cleanly and leaves the disk as it was" {
    local top
    world_readable_tmpdir; top=$WORLD_TMP
    mkdir -p "$top/ro" && chmod 555 "$top/ro"
    before=$(snapshot "$top/ro")
    run -1 --separate-stderr as_nobody "$LUSTY_BIN" init "$top/ro/app" --no-git
    assert_stderr_line 0 "lusty: error: cannot create folder '$top/ro/app': permission denied"
    assert_equal "$(snapshot "$top/ro")" "$before"
}

@test "a write failing half-way removes every file and folder it made" {
    # The target is writable but its app/ is not: some files are already
    # written (as temporaries) when app/config.lua fails.
    local top
    world_readable_tmpdir; top=$WORLD_TMP
    mkdir -p "$top/half/app" && chmod 777 "$top/half" && chmod 555 "$top/half/app"
    before=$(snapshot "$top/half")
    run -1 --separate-stderr as_nobody "$LUSTY_BIN" init "$top/half" --no-git
    assert_stderr_line_regexp 0 "^lusty: error: cannot (write|create folder) '$top/half/app/.*': permission denied$"
    assert_equal "$(snapshot "$top/half")" "$before"
}

@test "more than one DIR is a usage error" {
    run -2 --separate-stderr lusty init a b
    assert_stderr_line 0 "lusty: error: 'lusty init' takes one DIR, got 2 arguments"
    assert_dir_not_exists a
}

@test "a malformed --set is a usage error" {
    run -2 --separate-stderr lusty init p --set novalue
    assert_equal "$stderr" "lusty: error: invalid --set 'novalue': use KEY=VALUE"
    assert_dir_not_exists p
}

@test "no temporary files are left behind by a successful init" {
    run -0 --separate-stderr lusty init clean --no-git
    run find clean -name '.*.lusty-*'
    assert_output ''
}

@test "a template's symbolic links leaving it are refused, links inside it are copied as files" {
    make_custom_template tpl
    mkdir -p outside && printf 'secret key\n' >outside/id_rsa
    ln -s "$PWD/outside" tpl/ssh
    run -1 --separate-stderr lusty init p --template ./tpl --no-git
    assert_equal "$stderr" "lusty: error: template 'tpl' is broken: template file 'ssh' is a symbolic link to '$PWD/outside', outside the template: refused (a template may link only to its own files)"
    assert_dir_not_exists p
    rm tpl/ssh && ln -s ../../outside/id_rsa tpl/bin/key
    run -1 --separate-stderr lusty init p --template ./tpl --no-git
    [[ "$stderr" == *"template file 'bin/key' is a symbolic link to '../../outside/id_rsa', outside the template: refused"* ]]
    assert_dir_not_exists p
    # A link to a folder inside is refused too; one to a file inside is a copy.
    rm tpl/bin/key && ln -s app tpl/alias
    run -1 --separate-stderr lusty init p --template ./tpl --no-git
    [[ "$stderr" == *"template file 'alias' is a symbolic link to 'app', which is not a file: refused"* ]]
    rm tpl/alias && ln -s run tpl/bin/start
    run -0 --separate-stderr lusty init p --template ./tpl --no-git
    [ -f p/bin/start ] && [ ! -L p/bin/start ]
    assert_equal "$(cat p/bin/start)" "$(cat p/bin/run)"
}

@test "a template's .git is never copied, and its hooks and config never run" {
    make_custom_template tpl
    git init -q tpl
    git -C tpl config core.fsmonitor "touch $PWD/PWNED; false"
    printf '#!/bin/sh\ntouch %s/PWNED-HOOK\n' "$PWD" >tpl/.git/hooks/post-commit
    chmod +x tpl/.git/hooks/post-commit
    mkdir -p tpl/sub/.git && printf 'x\n' >tpl/sub/.git/config
    run -0 --separate-stderr lusty init p --template ./tpl
    assert_dir_exists p/.git
    run ! grep -q fsmonitor p/.git/config
    assert_file_not_exists p/.git/hooks/post-commit
    assert_dir_not_exists p/sub
    git -C p status --porcelain >/dev/null
    git -C p -c user.name=T -c user.email=t@l commit -q --allow-empty -m more
    assert_file_not_exists PWNED
    assert_file_not_exists PWNED-HOOK
    # Nor may a rendered name put a file into .git.
    mkdir -p tpl2 && printf '{"variables": {"where": ".git"}}' >tpl2/template.json
    mkdir -p 'tpl2/{{where}}/hooks' && printf 'x\n' >'tpl2/{{where}}/hooks/post-checkout'
    run -1 --separate-stderr lusty init q --template ./tpl2 --no-git
    assert_equal "$stderr" "lusty: error: template 'tpl2' is broken: template file './tpl2/{{where}}/hooks/post-checkout' renders to the unsafe path '.git/hooks/post-checkout'"
    assert_dir_not_exists q
}

@test "setuid and setgid bits are dropped and the umask applies" {
    make_custom_template tpl
    chmod 6777 tpl/bin/run
    chmod 666 tpl/lusty.json
    (umask 022 && lusty init p --template ./tpl --no-git --quiet)
    assert_equal "$(stat -c %a p/bin/run)" 755
    assert_equal "$(stat -c %a p/lusty.json)" 644
}

@test "a template's message and description are printed with control characters escaped" {
    make_custom_template tpl
    printf '{"description": "nice\\u001b]0;owned\\u0007", "message": "done\\u001b[2J\\u001b]0;x\\u0007 {{name}}\\u009b\\nnext"}' >tpl/template.json
    run -0 --separate-stderr lusty init p --template ./tpl --no-git
    [[ "$output" != *$'\e'* ]] && [[ "$output" != *$'\a'* ]]
    assert_line 'done\x1b[2J\x1b]0;x\x07 p\u009b'
    assert_line 'next'
    mkdir -p "$HOME/.config/lusty/templates" && cp -r tpl "$HOME/.config/lusty/templates/esc"
    run -0 --separate-stderr lusty init --list-templates
    assert_line --regexp '^esc +nice\\x1b\]0;owned\\x07$'
}

# start_paused STEP ARGS...: runs `lusty init ARGS` in the background and
# waits (at most 30 s) until it is paused at STEP through the test hook of
# cli/test_hook.h; `resume` lets it go on and sets INIT_RC. SIGINT and
# SIGTERM keep their default action (bash makes background jobs ignore
# SIGINT).
start_paused() {
    local step=$1 got=
    shift
    local fifo="$BATS_TEST_TMPDIR/pause.fifo"
    rm -f "$fifo" "$fifo.resume" && mkfifo "$fifo" "$fifo.resume"
    # Read-write, so that neither side's open blocks.
    exec {PAUSE_FD}<>"$fifo" {RESUME_FD}<>"$fifo.resume"
    LUSTY_TEST_PAUSE="$step:$fifo" env --default-signal=INT,TERM "$LUSTY_BIN" init "$@" \
        >"$BATS_TEST_TMPDIR/init.out" 2>"$BATS_TEST_TMPDIR/init.err" 3>&- {PAUSE_FD}>&- {RESUME_FD}>&- &
    INIT_PID=$!
    read -r -t 30 -u "$PAUSE_FD" got || fail "lusty init never reached step '$step'"
    assert_equal "$got" "$step"
}

resume() {
    exec {RESUME_FD}>&- {PAUSE_FD}>&-
    INIT_RC=0
    wait "$INIT_PID" || INIT_RC=$?
    stderr=$(cat "$BATS_TEST_TMPDIR/init.err")
}

kill_paused() {
    kill -9 "$INIT_PID"
    wait "$INIT_PID" || true
    exec {RESUME_FD}>&- {PAUSE_FD}>&-
}

@test "a file created in the target while init runs is never overwritten" {
    start_paused rename p --no-git
    printf 'mine\n' >p/lusty.json
    resume
    assert_equal "$INIT_RC" 1
    assert_equal "$stderr" "lusty: error: 'p/lusty.json' appeared while lusty init was running: it was not overwritten
hint: nothing of the project was kept; look at the file and run 'lusty init' again"
    assert_equal "$(cat p/lusty.json)" "mine"
    # Nothing else is left: no project files, no temporaries.
    assert_equal "$(cd p && find . -mindepth 1 | sort)" "./lusty.json"
}

@test "SIGINT or SIGTERM during the git step removes the project, repository and all" {
    start_paused git p
    assert_dir_exists p/.git
    kill -INT "$INIT_PID"
    resume
    assert_equal "$INIT_RC" 130
    assert_equal "$stderr" "lusty: error: interrupted: nothing of the project was kept"
    assert_dir_not_exists p
    # With --force, the files it replaced are put back.
    mkdir q && printf 'mine\n' >q/lusty.json && printf 'notes\n' >q/notes.txt
    before=$(snapshot q)
    start_paused git q --force
    grep -q '"name": "q"' q/lusty.json
    kill -TERM "$INIT_PID"
    resume
    assert_equal "$INIT_RC" 143
    assert_equal "$(snapshot q)" "$before"
}

@test "a rerun after kill -9 removes the temporary files and finishes the project" {
    start_paused rename p
    kill_paused
    [ -n "$(find p -name '.*.lusty-*')" ]
    run -0 --separate-stderr lusty init p
    assert_line --regexp '^  removed +[0-9]+ temporary files of an interrupted run$'
    assert_line --regexp '^  git +first commit [0-9a-f]{7}$'
    assert_equal "$(find p -name '.*.lusty-*')" ""
    [ -z "$(git -C p status --porcelain)" ]

    # Killed in the git step: every file is there, the first commit is not.
    start_paused git q
    kill_paused
    assert_file_exists q/.git/lusty-init-incomplete
    run -0 --separate-stderr lusty init q
    assert_line --regexp '^  unchanged +lusty\.json$'
    assert_line --regexp '^  git +first commit [0-9a-f]{7}$'
    assert_file_not_exists q/.git/lusty-init-incomplete
    [ "$(git -C q rev-list --count HEAD)" = 1 ]
    [ -z "$(git -C q status --porcelain)" ]
    # A repository the user made is still left alone.
    mkdir r && git init -q r
    run -0 --separate-stderr lusty init r
    refute_output --partial 'first commit'
}

@test "a full disk during the git step is an error and removes the project" {
    local mnt="$BATS_TEST_TMPDIR/small"
    mkdir -p "$mnt"
    mount -t tmpfs -o size=4m tmpfs "$mnt" 2>/dev/null ||
        skip "cannot mount a small tmpfs here (needs root with CAP_SYS_ADMIN)"
    MOUNTED=$mnt
    start_paused git "$mnt/p"
    dd if=/dev/zero of="$mnt/fill" bs=64k 2>/dev/null || true
    resume
    rm -f "$mnt/fill"
    local left
    left=$(ls -A "$mnt")
    assert_equal "$INIT_RC" 1
    [[ "$stderr" == "lusty: error: cannot create the git repository: "* ]]
    assert_equal "$left" ""
}
