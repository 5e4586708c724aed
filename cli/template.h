/* Project templates: finding them, reading their template.json, and
 * rendering their files in memory (nothing is written here). */
#ifndef LUSTY_CLI_TEMPLATE_H
#define LUSTY_CLI_TEMPLATE_H

#include "fs.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct {
    char *name;        /* "default" */
    char *dir;         /* the template's folder */
    char *description; /* one line from template.json */
    cJSON *manifest;   /* the whole template.json */
} cli_template_t;

/* The folders searched for templates by name, in order: $LUSTY_TEMPLATES
 * (colon-separated), ~/.config/lusty/templates ($XDG_CONFIG_HOME), the
 * installed share/lusty/templates (beside the binary, then the configured
 * prefix), the source tree's templates/. Free with cli_path_list_free(). */
void cli_template_search_path(cli_path_list_t *out);

/* Loads a template given by name (looked up on the search path) or by path
 * (anything containing '/'). On failure returns LUSTY_ENOENT when no template
 * has that name, else -1, with *err_out set to a one-line message (free with lusty_free()). Free with cli_template_free(). */
int cli_template_find(cli_template_t **out, const char *name_or_path, char **err_out);
void cli_template_free(cli_template_t *t);

/* Every template visible on the search path, by name, sorted; a name found
 * in an earlier folder hides later ones. Free with cli_template_list_free(). */
int cli_template_list(cli_template_t ***out, size_t *count_out);
void cli_template_list_free(cli_template_t **list, size_t count);
/* "default, api, minimal" for error messages. Free with lusty_free(). */
char *cli_template_names(void);

/* One file of a rendered template. */
typedef struct {
    char *path;    /* relative to the project folder */
    char *content;
    size_t len;
    mode_t mode;
} cli_rendered_file_t;

/* Renders every file's name and (unless it matches a `raw` glob) content
 * with `vars`. Returns 0, or -1 with *err_out set. Free the files with
 * cli_rendered_files_free(). */
int cli_template_render(const cli_template_t *t, const cJSON *vars, cli_rendered_file_t **out,
                        size_t *count_out, char **err_out);
void cli_rendered_files_free(cli_rendered_file_t *files, size_t count);

/* `text` (a template's description or message) with control characters
 * other than newline and tab shown as \xNN (C1 controls as \u00NN), so
 * that a template cannot move the cursor or retitle the terminal. Free
 * with lusty_free(). */
char *cli_template_printable(const char *text);

/* The template's variables with their defaults (a new object; free with
 * cJSON_Delete()). */
cJSON *cli_template_default_vars(const cli_template_t *t);

#endif
