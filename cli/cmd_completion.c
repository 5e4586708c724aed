/* lusty completion SHELL, and the hidden helpers the completion scripts and
 * the build use: __complete (candidates) and __man (the manual page). */
#include "cmd.h"
#include "complete.h"
#include "error.h"
#include "man.h"

#include <stdio.h>
#include <string.h>

/* The scripts in completions/, embedded by the build (completion_scripts.c). */
extern const char cli_completion_bash[];
extern const char cli_completion_zsh[];
extern const char cli_completion_fish[];

static const cli_opt_t completion_options[] = {
    {NULL, 0, NULL, NULL, 0},
};

const cli_cmd_info_t cmd_completion_info = {
    .name = "completion",
    .summary = "Print the shell completion script for bash, zsh or fish",
    .usage = "bash|zsh|fish",
    .description =
        "Prints the completion script of a shell on stdout. To enable it for your user:\n"
        "  bash: lusty completion bash > ~/.local/share/bash-completion/completions/lusty\n"
        "  zsh:  lusty completion zsh > ~/.zfunc/_lusty   (with fpath+=~/.zfunc before compinit)\n"
        "  fish: lusty completion fish > ~/.config/fish/completions/lusty.fish\n"
        "or for the current shell only: source <(lusty completion bash).\n"
        "An installed lusty puts the scripts where each shell looks for them.\n",
    .options = completion_options,
    .args = "bash|zsh|fish",
};

int cmd_completion(int argc, char **argv)
{
    cli_opt_parser_t p;
    int rc = CLI_EXIT_OK;
    cli_opt_init(&p, &cmd_completion_info, argc, argv);
    for (int id; (id = cli_opt_next(&p)) != CLI_OPT_END;) {
        if (id == CLI_OPT_HELP)
            goto done;
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    if (p.nargs != 1) {
        cli_error("'lusty completion' takes one shell: bash, zsh or fish");
        rc = CLI_EXIT_USAGE;
        goto done;
    }
    const char *shell = p.args[0];
    if (strcmp(shell, "bash") == 0) {
        fputs(cli_completion_bash, stdout);
    } else if (strcmp(shell, "zsh") == 0) {
        fputs(cli_completion_zsh, stdout);
    } else if (strcmp(shell, "fish") == 0) {
        fputs(cli_completion_fish, stdout);
    } else {
        const char *shells[] = {"bash", "zsh", "fish", NULL};
        const char *guess = cli_suggest(shell, shells);
        cli_error("unknown shell '%s': use bash, zsh or fish", shell);
        if (guess)
            cli_hint("did you mean '%s'?", guess);
        rc = CLI_EXIT_USAGE;
    }
done:
    cli_opt_free(&p);
    return rc;
}

/* Hidden: takes its words as they are, with no option parsing (they are
 * the user's command line, options included). */
const cli_cmd_info_t cmd_complete_info = {
    .name = "__complete",
    .summary = "Print completion candidates for the words after 'lusty'",
    .usage = "WORD...",
    .options = completion_options,
    .hidden = true,
};

int cmd_complete(int argc, char **argv)
{
    cli_complete(argc - 1, argv + 1, stdout);
    return CLI_EXIT_OK;
}

const cli_cmd_info_t cmd_man_info = {
    .name = "__man",
    .summary = "Print the manual page lusty(1) in roff",
    .usage = "",
    .options = completion_options,
    .hidden = true,
};

int cmd_man(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        cli_error("'lusty __man' takes no arguments");
        return CLI_EXIT_USAGE;
    }
    cli_man_write(stdout);
    return CLI_EXIT_OK;
}
