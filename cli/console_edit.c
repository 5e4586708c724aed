/* The line editor of `lusty console` over libedit (see console.h): emacs
 * key bindings, history kept in a file between sessions. Only lusty-cli
 * links this file and libedit. */
#include "console.h"

#include "lusty/alloc.h"

#include <histedit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    EditLine *el;
    History *hist;
    HistEvent ev;
    char *history_path;
    const char *prompt;
} editor_t;

/* libedit asks for the prompt through a callback: the one read() was given. */
static char *prompt_of(EditLine *el)
{
    editor_t *ed = NULL;
    el_get(el, EL_CLIENTDATA, &ed);
    return (char *)(ed && ed->prompt ? ed->prompt : "");
}

static void *edit_open(const char *history_path)
{
    editor_t *ed = lusty_calloc(1, sizeof *ed);
    ed->el = el_init("lusty", stdin, stdout, stderr);
    ed->hist = history_init();
    if (!ed->el || !ed->hist) {
        if (ed->el)
            el_end(ed->el);
        if (ed->hist)
            history_end(ed->hist);
        lusty_free(ed);
        return NULL;
    }
    history(ed->hist, &ed->ev, H_SETSIZE, 1000);
    history(ed->hist, &ed->ev, H_SETUNIQUE, 1);
    if (history_path) {
        ed->history_path = lusty_strdup(history_path);
        history(ed->hist, &ed->ev, H_LOAD, history_path);
    }
    el_set(ed->el, EL_CLIENTDATA, ed);
    el_set(ed->el, EL_EDITOR, "emacs");
    el_set(ed->el, EL_HIST, history, ed->hist);
    el_set(ed->el, EL_PROMPT, prompt_of);
    /* The user's ~/.editrc, as other libedit programs read it. */
    el_source(ed->el, NULL);
    return ed;
}

static char *edit_read(void *p, const char *prompt)
{
    editor_t *ed = p;
    ed->prompt = prompt;
    int n = 0;
    const char *line = el_gets(ed->el, &n);
    if (!line || n <= 0)
        return NULL;
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    return lusty_strndup(line, len);
}

static void edit_remember(void *p, const char *entry)
{
    editor_t *ed = p;
    if (*entry)
        history(ed->hist, &ed->ev, H_ENTER, entry);
}

static void edit_close(void *p)
{
    editor_t *ed = p;
    if (!ed)
        return;
    if (ed->history_path)
        history(ed->hist, &ed->ev, H_SAVE, ed->history_path);
    el_end(ed->el);
    history_end(ed->hist);
    lusty_free(ed->history_path);
    lusty_free(ed);
}

const cli_line_editor_t cli_libedit_editor = {
    .open = edit_open,
    .read = edit_read,
    .remember = edit_remember,
    .close = edit_close,
};
