/* Terminal capabilities: colour only on a TTY, never with NO_COLOR set or
 * TERM=dumb. */
#ifndef LUSTY_CLI_TERM_H
#define LUSTY_CLI_TERM_H

#include <stdbool.h>
#include <stdio.h>

bool cli_term_color(FILE *stream);

/* True when `stream` is a terminal that understands cursor movement (not
 * TERM=dumb, nor TERM unset), so progress lines may be redrawn in place. */
bool cli_term_can_redraw(FILE *stream);

/* SGR codes, or "" when `stream` gets no colour. */
const char *cli_term_bold(FILE *stream);
const char *cli_term_green(FILE *stream);
const char *cli_term_yellow(FILE *stream);
const char *cli_term_red(FILE *stream);
const char *cli_term_dim(FILE *stream);
const char *cli_term_reset(FILE *stream);

#endif
