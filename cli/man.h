/* The manual page lusty(1), generated from the command and option tables
 * that also produce --help and the completions, so the three agree. */
#ifndef LUSTY_CLI_MAN_H
#define LUSTY_CLI_MAN_H

#include <stdio.h>

/* Writes the whole page in roff (man(7)) to `out`. */
void cli_man_write(FILE *out);

#endif
