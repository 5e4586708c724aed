/* lusty: the entry point. Global options and dispatch to a subcommand. */
#include "cmd.h"
#include "console.h"
#include "error.h"
#include "term.h"
#include "version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_overview(FILE *out)
{
    fprintf(out,
            "usage: lusty [--version] [--help] <command> [<args>]\n\n"
            "Build, fetch and serve Lusty web apps.\n\n"
            "%scommands:%s\n",
            cli_term_bold(out), cli_term_reset(out));
    for (const cli_cmd_t *c = cli_commands; c->info; c++)
        if (!c->info->hidden)
            fprintf(out, "  %-13s %s\n", c->info->name, c->info->summary);
    fprintf(out, "  %-13s %s\n", "help", "Show help for a command");
    fprintf(out, "\nSee 'lusty help <command>' or 'lusty <command> --help' for more.\n");
}

static int unknown_command(const char *name)
{
    const char *names[64];
    size_t n = 0;
    for (const cli_cmd_t *c = cli_commands; c->info && n < 62; c++)
        if (!c->info->hidden)
            names[n++] = c->info->name;
    names[n++] = "help";
    names[n] = NULL;
    cli_error("unknown command '%s'", name);
    const char *guess = cli_suggest(name, names);
    if (guess)
        cli_hint("did you mean 'lusty %s'?", guess);
    else
        cli_hint("see 'lusty --help' for the list of commands");
    return CLI_EXIT_USAGE;
}

static int help(int argc, char **argv)
{
    if (argc < 2) {
        print_overview(stdout);
        return CLI_EXIT_OK;
    }
    if (argc > 2) {
        cli_error("'lusty help' takes one command name");
        return CLI_EXIT_USAGE;
    }
    const cli_cmd_t *cmd = cli_find_command(argv[1]);
    if (!cmd)
        return strcmp(argv[1], "help") == 0 ? help(1, argv) : unknown_command(argv[1]);
    cli_opt_print_help(cmd->info, stdout);
    return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
    /* Store calls hold a thread of libuv's pool for their whole round
     * trip (mongo-c-driver has no asynchronous API): 4 threads, libuv's
     * default, would queue them. Read once, at the pool's first use. */
    setenv("UV_THREADPOOL_SIZE", "64", 0);
    cli_console_editor = &cli_libedit_editor;
    if (argc < 2) {
        print_overview(stdout);
        return CLI_EXIT_OK;
    }
    const char *first = argv[1];
    if (strcmp(first, "--version") == 0 || strcmp(first, "-V") == 0) {
        printf("lusty %s\n", LUSTY_VERSION_STRING);
        return CLI_EXIT_OK;
    }
    if (strcmp(first, "--help") == 0 || strcmp(first, "-h") == 0)
        return help(argc - 1, argv + 1);
    if (strcmp(first, "help") == 0)
        return help(argc - 1, argv + 1);
    if (first[0] == '-') {
        const char *globals[] = {"version", "help", NULL};
        cli_error("unknown option '%s'", first);
        const char *guess = cli_suggest(first + strspn(first, "-"), globals);
        if (guess)
            cli_hint("did you mean '--%s'?", guess);
        else
            cli_hint("see 'lusty --help'");
        return CLI_EXIT_USAGE;
    }
    const cli_cmd_t *cmd = cli_find_command(first);
    if (!cmd)
        return unknown_command(first);
    return cmd->run(argc - 1, argv + 1);
}
