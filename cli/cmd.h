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
extern const cli_cmd_info_t cmd_completion_info;
int cmd_completion(int argc, char **argv);
extern const cli_cmd_info_t cmd_complete_info;
int cmd_complete(int argc, char **argv);
extern const cli_cmd_info_t cmd_man_info;
int cmd_man(int argc, char **argv);
extern const cli_cmd_info_t cmd_bootstrap_info;
int cmd_bootstrap(int argc, char **argv);
extern const cli_cmd_info_t cmd_doctor_info;
int cmd_doctor(int argc, char **argv);
extern const cli_cmd_info_t cmd_deploy_files_info;
int cmd_deploy_files(int argc, char **argv);
extern const cli_cmd_info_t cmd_server_info;
int cmd_server(int argc, char **argv);
extern const cli_cmd_info_t cmd_exec_info;
int cmd_exec(int argc, char **argv);
extern const cli_cmd_info_t cmd_channels_info;
int cmd_channels(int argc, char **argv);
extern const cli_cmd_info_t cmd_console_info;
int cmd_console(int argc, char **argv);
extern const cli_cmd_info_t cmd_test_info;
int cmd_test(int argc, char **argv);
extern const cli_cmd_info_t cmd_routes_info;
int cmd_routes(int argc, char **argv);
extern const cli_cmd_info_t cmd_generate_info;
int cmd_generate(int argc, char **argv);

/* The table of commands, NULL-terminated (defined in commands.c). */
extern const cli_cmd_t cli_commands[];
const cli_cmd_t *cli_find_command(const char *name);

#endif
