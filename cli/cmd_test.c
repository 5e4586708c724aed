/* lusty test: the app's specs (busted style describe/it, from spec/ or
 * test/) run by Debian's lua-busted inside the app's own host, with a
 * request() helper through the pipeline (runtime/lua/lusty/test.lua). */
#include "cmd.h"
#include "error.h"
#include "fs.h"
#include "host.h"
#include "lusty/alloc.h"
#include "lusty/error.h"
#include "term.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { OPT_FILTER = 1, OPT_JSON, OPT_TAP };

static const cli_opt_t options[] = {
    {"filter", 'f', "PATTERN", "Run only the specs whose name matches the Lua PATTERN", OPT_FILTER},
    {"json", 0, NULL, "Print the results as JSON (busted's json output)", OPT_JSON},
    {"tap", 0, NULL, "Print the results as TAP", OPT_TAP},
    {NULL, 0, NULL, NULL, 0},
};

const cli_cmd_info_t cmd_test_info = {
    .name = "test",
    .summary = "Run the app's specs inside the runtime",
    .usage = "[--filter PATTERN] [--json | --tap] [PATH...]",
    .description = "Runs the specs of the project found from the current folder: the files\n"
                   "named *_spec.lua under PATH (default: spec/, else test/, in the project's\n"
                   "folder), with busted (describe, it, before_each, assert.are.same ...) inside\n"
                   "the same host as the server, the app loaded as the global `lusty`. In a\n"
                   "spec, request(method, target, opts) sends a request through the app's\n"
                   "pipeline without a socket and returns {status, headers, body, json,\n"
                   "errors}, as in 'lusty console'. Exits 1 when a spec fails or errors.\n",
    .options = options,
    .args = "file",
};

int cmd_test(int argc, char **argv)
{
    const char *filter = NULL, *output = NULL;
    cli_opt_parser_t p;
    cli_opt_init(&p, &cmd_test_info, argc, argv);
    int opt;
    while ((opt = cli_opt_next(&p)) != CLI_OPT_END) {
        if (opt == CLI_OPT_HELP || opt == CLI_OPT_ERROR) {
            cli_opt_free(&p);
            return opt == CLI_OPT_HELP ? CLI_EXIT_OK : CLI_EXIT_USAGE;
        }
        if (opt == OPT_FILTER)
            filter = p.value;
        else if (opt == OPT_JSON)
            output = "json";
        else if (opt == OPT_TAP)
            output = "TAP";
    }
    lusty_lua_host_t *host = NULL;
    if (cli_host_open(&host, ".", true) != 0) {
        cli_opt_free(&p);
        return CLI_EXIT_FAILURE;
    }
    /* Paths given are the user's, relative to where they are; the default
     * folders are the project's. */
    const char *root = lusty_lua_host_root(host);
    char *specs = NULL;
    if (p.nargs == 0) {
        char *spec = lusty_asprintf("%s/spec", root);
        char *test = lusty_asprintf("%s/test", root);
        specs = cli_is_dir(spec) ? spec : cli_is_dir(test) ? test : NULL;
        if (specs != spec)
            lusty_free(spec);
        if (specs != test)
            lusty_free(test);
        if (!specs) {
            cli_error("no specs: '%s' has no spec/ or test/ folder", root);
            cli_hint("write spec/app_spec.lua with describe/it blocks, see 'lusty test --help'");
            lusty_lua_host_free(host);
            cli_opt_free(&p);
            return CLI_EXIT_FAILURE;
        }
    }

    /* busted's own arguments, in the global `arg` of the run. */
    char *args[16 + 64];
    int n = 0;
    char *out_arg = lusty_asprintf("--output=%s", output                   ? output
                                                  : cli_term_color(stdout) ? "utfTerminal"
                                                                           : "plainTerminal");
    args[n++] = out_arg;
    char *filter_arg = filter ? lusty_asprintf("--filter=%s", filter) : NULL;
    if (filter_arg)
        args[n++] = filter_arg;
    args[n++] = "--pattern=_spec";
    if (specs)
        args[n++] = specs;
    for (int i = 0; i < p.nargs && n < (int)(sizeof args / sizeof *args); i++)
        args[n++] = p.args[i];

    int status = CLI_EXIT_FAILURE;
    char *err = NULL;
    fflush(stdout);
    int rc = lusty_lua_host_run_string(host, "return require('lusty.test').run()", "lusty test", n,
                                       args, &status, &err);
    fflush(stdout);
    if (rc != 0) {
        cli_error("%s", err ? err : lusty_strerror(rc));
        status = CLI_EXIT_FAILURE;
    } else if (status != 0) {
        status = CLI_EXIT_FAILURE;
    }
    lusty_free(err);
    lusty_free(out_arg);
    lusty_free(filter_arg);
    lusty_free(specs);
    cli_opt_free(&p);
    lusty_lua_host_free(host);
    return status;
}
