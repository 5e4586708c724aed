/* The command table: every subcommand of lusty, in the order `lusty --help`
 * lists them. Adding a command means one line here and one cmd_<name>.c. */
#include "cmd.h"

#include <string.h>

const cli_cmd_t cli_commands[] = {
    {&cmd_init_info, cmd_init},
    {&cmd_bootstrap_info, cmd_bootstrap},
    {&cmd_doctor_info, cmd_doctor},
    {&cmd_server_info, cmd_server},
    {&cmd_deploy_files_info, cmd_deploy_files},
    {&cmd_exec_info, cmd_exec},
    {&cmd_console_info, cmd_console},
    {&cmd_test_info, cmd_test},
    {&cmd_channels_info, cmd_channels},
    {&cmd_routes_info, cmd_routes},
    {&cmd_generate_info, cmd_generate},
    {&cmd_completion_info, cmd_completion},
    {&cmd_complete_info, cmd_complete},
    {&cmd_man_info, cmd_man},
    {NULL, NULL},
};

const cli_cmd_t *cli_find_command(const char *name)
{
    for (const cli_cmd_t *c = cli_commands; c->info; c++)
        if (strcmp(c->info->name, name) == 0 ||
            (c->info->alias && strcmp(c->info->alias, name) == 0))
            return c;
    return NULL;
}
