/* Messages to the user on stderr: errors, warnings and hints.
 *
 *   lusty: error: cannot open 'lusty.json': no such file
 *   hint: run 'lusty init' to create a project
 *
 * These are not logs: they are the CLI talking to a person. */
#ifndef LUSTY_CLI_ERROR_H
#define LUSTY_CLI_ERROR_H

/* Exit codes of every command. */
enum { CLI_EXIT_OK = 0, CLI_EXIT_FAILURE = 1, CLI_EXIT_USAGE = 2 };

void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* strerror() in lower case, as our messages are ("permission denied"). */
const char *cli_strerror(int errnum);

#endif
