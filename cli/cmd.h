/* The subcommands of lusty. Each lives in cmd_<name>.c with its option table
 * and help text; main.c only dispatches. */
#ifndef LUSTY_CLI_CMD_H
#define LUSTY_CLI_CMD_H

#include "opt.h"

typedef int (*cli_cmd_fn)(int argc, char **argv);

typedef struct {
    const cli_cmd_info_t *info;
    cli_cmd_fn run;
} cli_cmd_t;

extern const cli_cmd_info_t cmd_init_info;
int cmd_init(int argc, char **argv);

/* The table of commands, NULL-terminated (defined in commands.c). */
extern const cli_cmd_t cli_commands[];
const cli_cmd_t *cli_find_command(const char *name);

#endif
