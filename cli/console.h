/* Reading the lines of `lusty console`: a line editor with history on a
 * terminal, plain standard input otherwise. The editor (libedit) is linked
 * only into lusty-cli, which registers it in main(); a program that does not
 * (the C tests) reads plain lines. */
#ifndef LUSTY_CLI_CONSOLE_H
#define LUSTY_CLI_CONSOLE_H

typedef struct cli_line_editor cli_line_editor_t;

struct cli_line_editor {
    /* Opens the editor on the terminal, loading the history from
     * `history_path` (may be NULL); NULL when it cannot. Close with close(). */
    void *(*open)(const char *history_path);
    /* The next line without its newline (free with lusty_free()), or NULL
     * at the end of input. */
    char *(*read)(void *editor, const char *prompt);
    /* Adds an entry (a whole chunk, maybe several lines) to the history. */
    void (*remember)(void *editor, const char *entry);
    /* Saves the history and closes; accepts NULL. */
    void (*close)(void *editor);
};

/* The editor lusty-cli registers (NULL: plain lines). */
extern const cli_line_editor_t *cli_console_editor;
/* libedit's, in console_edit.c. */
extern const cli_line_editor_t cli_libedit_editor;

#endif
