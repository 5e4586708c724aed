/* lusty exec: run Lua inside the runtime's own host, with the current
 * project's app loaded (when run inside a project).
 *
 * Options are read only up to the script: FILE and everything after it (or
 * after `-e CODE`) belong to the script, as with `lua`, so a script can take
 * options of its own (`lusty exec run.lua --verbose`). */
#include "cmd.h"
#include "error.h"
#include "host.h"
#include "lusty/alloc.h"
#include "lusty/error.h"
#include "lusty/store.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

enum { OPT_EVAL = 1 };

static const cli_opt_t options[] = {
    {"eval", 'e', "CODE", "Run CODE instead of a file", OPT_EVAL},
    {NULL, 0, NULL, NULL, 0},
};

const cli_cmd_info_t cmd_exec_info = {
    .name = "exec",
    .summary = "Run Lua with the project's app loaded",
    .usage = "[-e CODE | FILE | -] [ARGS...]",
    .description =
        "Runs FILE (or CODE) in the same Lua host the server uses: LuaJIT with the\n"
        "project's module path, the native modules (mediator, lusty, lusty.util,\n"
        "lusty-config, cjson) and, inside a project, its app loaded as the global\n"
        "`lusty`. ARGS are in the global `arg` (arg[0] is FILE) and in `...`.\n"
        "FILE '-' reads the script from standard input, as does giving no FILE when\n"
        "standard input is not a terminal (echo 'print(1)' | lusty exec).\n"
        "Exits with the number the script returns, which must be 0 to 255 (os.exit\n"
        "works too); a Lua error prints its traceback and exits 1. Example, in a\n"
        "project made by 'lusty init':\n"
        "  lusty exec -e 'print(require(\"models.users\").find(lusty.context, 1).name)'\n",
    .options = options,
    .args = "file",
};

/* The index of the first argv element that belongs to the script. */
static int script_start(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            return i;
        if (strcmp(a, "-e") == 0 || strcmp(a, "--eval") == 0)
            return i + 2 <= argc ? i + 2 : argc;
        if (strncmp(a, "--eval=", 7) == 0 || (a[0] == '-' && a[1] == 'e' && a[2]))
            return i + 1;
        if (a[0] != '-' || a[1] == '\0')
            return i;
    }
    return argc;
}

int cmd_exec(int argc, char **argv)
{
    int cut = script_start(argc, argv);
    const char *code = NULL;
    cli_opt_parser_t p;
    cli_opt_init(&p, &cmd_exec_info, cut, argv);
    int opt;
    while ((opt = cli_opt_next(&p)) != CLI_OPT_END) {
        if (opt == CLI_OPT_HELP || opt == CLI_OPT_ERROR) {
            cli_opt_free(&p);
            return opt == CLI_OPT_HELP ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        }
        if (opt == OPT_EVAL)
            code = p.value;
    }
    cli_opt_free(&p);

    int rest = cut;
    if (rest < argc && strcmp(argv[rest], "--") == 0)
        rest++;
    const char *file = NULL;
    if (!code) {
        if (rest < argc) {
            file = argv[rest++];
        } else if (!isatty(STDIN_FILENO)) {
            /* A script piped in is what `lua` runs too when given none. */
            file = "-";
        } else {
            cli_error("nothing to run");
            cli_hint("give a Lua file, - for standard input, or -e CODE: "
                     "lusty exec -e 'print(lusty)'");
            return CLI_EXIT_USAGE;
        }
    }

    lusty_lua_host_t *host = NULL;
    if (cli_host_open(&host, ".", false) != 0)
        return CLI_EXIT_FAILURE;
    fflush(stdout);

    int status = 1;
    char *err = NULL;
    int rc =
        code ? lusty_lua_host_run_string(host, code, "-e", argc - rest, argv + rest, &status, &err)
             : lusty_lua_host_run_file(host, strcmp(file, "-") == 0 ? "/dev/stdin" : file,
                                       argc - rest, argv + rest, &status, &err);
    fflush(stdout);
    if (rc != 0) {
        cli_error("%s", err ? err : lusty_strerror(rc));
        status = CLI_EXIT_FAILURE;
    } else if (status < 0 || status > 255) {
        /* The shell would see the status modulo 256: 256 would read as success. */
        cli_error("exit status %d out of range: a script returns 0 to 255", status);
        status = CLI_EXIT_FAILURE;
    }
    lusty_free(err);
    lusty_lua_host_free(host);
    lusty_store_close_all();
    /* Joins libuv's pool threads (see cmd_server.c). */
    uv_library_shutdown();
    return status;
}
