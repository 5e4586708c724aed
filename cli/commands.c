/* The command table: every subcommand of lusty, in the order `lusty --help`
 * lists them. Adding a command means one line here and one cmd_<name>.c. */
#include "cmd.h"

#include <string.h>

const cli_cmd_t cli_commands[] = {
    {&cmd_init_info, cmd_init},
    {NULL, NULL},
};

const cli_cmd_t *cli_find_command(const char *name)
{
    for (const cli_cmd_t *c = cli_commands; c->info; c++)
        if (strcmp(c->info->name, name) == 0)
            return c;
    return NULL;
}
