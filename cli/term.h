/* Terminal capabilities: colour only on a TTY, never with NO_COLOR set or
 * TERM=dumb. */
#ifndef LUSTY_CLI_TERM_H
#define LUSTY_CLI_TERM_H

#include <stdbool.h>
#include <stdio.h>

bool cli_term_color(FILE *stream);

/* SGR codes, or "" when `stream` gets no colour. */
const char *cli_term_bold(FILE *stream);
const char *cli_term_green(FILE *stream);
const char *cli_term_yellow(FILE *stream);
const char *cli_term_red(FILE *stream);
const char *cli_term_dim(FILE *stream);
const char *cli_term_reset(FILE *stream);

#endif
