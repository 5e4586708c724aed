/* The user-facing message helpers of error.h. */
#include "error.h"

#include "term.h"

#include <stdarg.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

static void message(const char *label, const char *color, const char *fmt, va_list ap)
{
    fprintf(stderr, "%s%s%s", color, label, cli_term_reset(stderr));
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    message("lusty: error: ", cli_term_red(stderr), fmt, ap);
    va_end(ap);
}

void cli_warning(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    message("lusty: warning: ", cli_term_yellow(stderr), fmt, ap);
    va_end(ap);
}

void cli_hint(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    message("hint: ", cli_term_dim(stderr), fmt, ap);
    va_end(ap);
}

const char *cli_strerror(int errnum)
{
    static char text[128];
    snprintf(text, sizeof(text), "%s", strerror(errnum));
    text[0] = (char)tolower((unsigned char)text[0]);
    return text;
}
