/* lusty console: a REPL in the app's environment, the same host as `lusty
 * exec`. C reads lines (with the line editor on a terminal, see console.h)
 * and gathers them into chunks; runtime/lua/lusty/console.lua compiles,
 * runs and prints each chunk, as a task that may wait. */
#include "cmd.h"
#include "console.h"
#include "error.h"
#include "host.h"
#include "lusty/alloc.h"
#include "lusty/buf.h"
#include "lusty/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const cli_line_editor_t *cli_console_editor = NULL;

static const cli_opt_t options[] = {
    {NULL, 0, NULL, NULL, 0},
};

const cli_cmd_info_t cmd_console_info = {
    .name = "console",
    .summary = "Run Lua interactively with the project's app loaded",
    .usage = "[< FILE]",
    .description = "Reads Lua chunks and runs them in the same host as 'lusty exec', inside the\n"
                   "project found from the current folder: the app is the global `lusty`, with\n"
                   "`context` (its global context), `event` (its bus), `show(value, depth)` and\n"
                   "`request(method, target, opts)` at hand. request() sends a request through\n"
                   "the app's pipeline without a socket and returns {status, headers, body,\n"
                   "json, errors}; opts may hold `headers` and `body` (a table is sent as JSON).\n"
                   "An expression prints its value (tables pretty-printed, 3 levels deep); a\n"
                   "chunk that is not finished asks for more lines; an error prints its\n"
                   "message and traceback and the console goes on. Chunks may wait\n"
                   "(lusty.sleep, the store). On a terminal, lines are edited with libedit and\n"
                   "kept in ~/.lusty_history; Ctrl-D leaves. From a pipe there are no prompts\n"
                   "and the exit status is 1 when the last chunk failed:\n"
                   "  echo 'request(\"GET\", \"/users/1\").status' | lusty console\n",
    .options = options,
};

enum { CHUNK_RAN = 0, CHUNK_FAILED = 1, CHUNK_UNFINISHED = 2 };

/* Runs one chunk through lusty/console.lua; returns a CHUNK_* status. */
static int eval_chunk(lusty_lua_host_t *host, const char *chunk, bool final)
{
    char *args[] = {(char *)chunk, final ? "final" : ""};
    int status = CHUNK_FAILED;
    char *err = NULL;
    int rc =
        lusty_lua_host_run_string(host,
                                  "local chunk, final = ...\n"
                                  "return require('lusty.console').eval(chunk, final == 'final')\n",
                                  "console", 2, args, &status, &err);
    fflush(stdout);
    if (rc != 0) {
        fprintf(stderr, "%s\n", err ? err : lusty_strerror(rc));
        status = CHUNK_FAILED;
    }
    lusty_free(err);
    return status;
}

/* A line of standard input without its newline, or NULL at its end. */
static char *read_plain(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    char *copy = lusty_strdup(line);
    free(line);
    return copy;
}

/* The history file: ~/.lusty_history, or none without HOME. */
static char *history_path(void)
{
    const char *home = getenv("HOME");
    return home && *home ? lusty_asprintf("%s/.lusty_history", home) : NULL;
}

int cmd_console(int argc, char **argv)
{
    cli_opt_parser_t p;
    cli_opt_init(&p, &cmd_console_info, argc, argv);
    int opt;
    while ((opt = cli_opt_next(&p)) != CLI_OPT_END) {
        if (opt == CLI_OPT_HELP || opt == CLI_OPT_ERROR) {
            cli_opt_free(&p);
            return opt == CLI_OPT_HELP ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        }
    }
    int nargs = p.nargs;
    cli_opt_free(&p);
    if (nargs > 0) {
        cli_error("'lusty console' takes no arguments");
        cli_hint("run it inside the project, or use 'lusty exec FILE' for a script");
        return CLI_EXIT_USAGE;
    }

    lusty_lua_host_t *host = NULL;
    if (cli_host_open(&host, ".", false) != 0)
        return CLI_EXIT_FAILURE;

    bool tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
    void *editor = NULL;
    if (tty && cli_console_editor) {
        char *path = history_path();
        editor = cli_console_editor->open(path);
        lusty_free(path);
    }
    if (tty) {
        const char *root = lusty_lua_host_root(host);
        printf("lusty console: %s (Ctrl-D to leave)\n", root ? root : "no project");
        fflush(stdout);
    }

    lusty_buf_t chunk;
    lusty_buf_init(&chunk);
    int last = CHUNK_RAN;
    for (;;) {
        const char *prompt = chunk.len ? ">> " : "> ";
        char *line = NULL;
        if (editor) {
            line = cli_console_editor->read(editor, prompt);
        } else {
            if (tty) {
                fputs(prompt, stdout);
                fflush(stdout);
            }
            line = read_plain();
        }
        if (!line) {
            /* The input ended inside a chunk: that chunk is an error. */
            if (chunk.len)
                last = eval_chunk(host, chunk.data, true);
            if (tty)
                putchar('\n');
            break;
        }
        if (chunk.len)
            lusty_buf_append(&chunk, "\n", 1);
        lusty_buf_append(&chunk, line, strlen(line));
        lusty_free(line);
        if (!chunk.len)
            continue;
        int status = eval_chunk(host, chunk.data, false);
        if (status == CHUNK_UNFINISHED)
            continue;
        if (editor)
            cli_console_editor->remember(editor, chunk.data);
        last = status;
        lusty_buf_clear(&chunk);
    }
    if (editor)
        cli_console_editor->close(editor);
    lusty_buf_free(&chunk);
    lusty_lua_host_free(host);
    return tty || last == CHUNK_RAN ? CLI_EXIT_OK : CLI_EXIT_FAILURE;
}
