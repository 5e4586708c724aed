/* Colour decisions, made once per stream. */
#include "term.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool cli_term_color(FILE *stream)
{
    const char *no_color = getenv("NO_COLOR");
    if (no_color && no_color[0])
        return false;
    const char *term = getenv("TERM");
    if (term && strcmp(term, "dumb") == 0)
        return false;
    return isatty(fileno(stream));
}

bool cli_term_can_redraw(FILE *stream)
{
    const char *term = getenv("TERM");
    return term && term[0] && strcmp(term, "dumb") != 0 && isatty(fileno(stream));
}

static const char *sgr(FILE *stream, const char *code)
{
    return cli_term_color(stream) ? code : "";
}

const char *cli_term_bold(FILE *stream) { return sgr(stream, "\033[1m"); }
const char *cli_term_green(FILE *stream) { return sgr(stream, "\033[32m"); }
const char *cli_term_yellow(FILE *stream) { return sgr(stream, "\033[33m"); }
const char *cli_term_red(FILE *stream) { return sgr(stream, "\033[31m"); }
const char *cli_term_dim(FILE *stream) { return sgr(stream, "\033[2m"); }
const char *cli_term_reset(FILE *stream) { return sgr(stream, "\033[0m"); }
