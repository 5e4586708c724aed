/* Shell completion, computed by the binary itself so that the bash, zsh and
 * fish scripts stay small and always agree with the option tables.
 *
 * `lusty __complete WORD…` gets the words after "lusty", the last one being
 * the word under the cursor (possibly empty), and prints one candidate per
 * line as "candidate<TAB>description" (the description may be empty), or one
 * directive line, ":dir" or ":file", asking the shell to complete paths. */
#ifndef LUSTY_CLI_COMPLETE_H
#define LUSTY_CLI_COMPLETE_H

#include <stdio.h>

void cli_complete(int nwords, char **words, FILE *out);

#endif
