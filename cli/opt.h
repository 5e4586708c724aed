/* Command-line option tables and the parser that reads them.
 *
 * Each command declares one table of cli_opt_t; the parser, the --help
 * printer, the "did you mean" suggestions and (later) the shell completions
 * and the manual all come from that one table, so they cannot disagree. */
#ifndef LUSTY_CLI_OPT_H
#define LUSTY_CLI_OPT_H

#include <stdbool.h>
#include <stdio.h>

typedef struct {
    const char *long_name;  /* "port", without the dashes; NULL ends a table */
    char short_name;        /* 'p', or 0 */
    const char *value_name; /* "PORT" when the option takes a value, else NULL */
    const char *help;       /* one line */
    int id;                 /* what cli_opt_next() returns for it */
    /* How shells complete the value: NULL (free text), "dir", "file",
     * "template" (template names), "handler" (the project's handler names),
     * or a list of choices "text|json". On a flag (no value) it is how the
     * positional arguments after it complete ("--update NAME..."). */
    const char *complete;
} cli_opt_t;

/* What a command is, for help and dispatch. */
typedef struct {
    const char *name;        /* "init" */
    const char *summary;     /* one line, for the command list */
    const char *usage;       /* "[options] [DIR]" */
    const char *description; /* paragraphs after the usage line; may be NULL */
    const cli_opt_t *options;
    /* How shells complete positional arguments: NULL (nothing), "dir",
     * "file", "command" (lusty's commands), or choices "bash|zsh|fish". */
    const char *args;
    bool hidden; /* internal (used by the completion scripts): not listed */
    const char *alias;       /* a shorter name that runs it too ("g"), or NULL */
} cli_cmd_info_t;

/* Iterates over argv, getopt-style: `--name value`, `--name=value`, `-p 80`,
 * `-p80`, `-fq`; `--` ends the options; everything else is a positional
 * argument, collected in order into `args`. */
typedef struct {
    const cli_cmd_info_t *cmd;
    int argc;
    char **argv;
    int index;          /* next argv element to read */
    const char *value;  /* the current option's value */
    const char *pending_shorts; /* rest of a "-fq" cluster */
    char **args;        /* positional arguments (borrowed strings) */
    int nargs;
    bool only_args;     /* seen "--" */
} cli_opt_parser_t;

enum {
    CLI_OPT_END = -1,   /* all arguments read */
    CLI_OPT_ERROR = -2, /* a usage error was printed; exit with 2 */
    CLI_OPT_HELP = -3,  /* -h/--help: help was printed; exit with 0 */
};

/* argv[0] is the command name and is skipped. Free with cli_opt_free(). */
void cli_opt_init(cli_opt_parser_t *p, const cli_cmd_info_t *cmd, int argc, char **argv);
void cli_opt_free(cli_opt_parser_t *p);
/* Returns the id of the next option, or one of the CLI_OPT_* codes above.
 * -h/--help is handled here for every command. */
int cli_opt_next(cli_opt_parser_t *p);

/* Prints the help of a command, generated from its table. */
void cli_opt_print_help(const cli_cmd_info_t *cmd, FILE *out);

/* Levenshtein-style distance for "did you mean"; returns the best candidate
 * within a small distance, or NULL. `candidates` is NULL-terminated. */
/* The folder holding the docs/NAME.md files (installed, else the source tree's),
 * or NULL when neither is there. */
const char *cli_doc_dir(void);

const char *cli_suggest(const char *word, const char *const *candidates);

/* Parses a whole decimal integer in [min, max]; false when it is not one. */
bool cli_parse_int(const char *s, long min, long max, long *out);

/* Parses a duration in seconds ("2", "0.5"), more than 0 and at most `max`,
 * into whole milliseconds (rounded); false when it is not one. */
bool cli_parse_seconds(const char *s, double max, int *ms_out);

#endif
