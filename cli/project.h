/* A lusty project: the folder holding lusty.json, and its parsed manifest.
 *
 * Commands that work on a project (server, and later others) find it the
 * same way: DIR when given, else the current folder, walking up to the
 * nearest folder with a lusty.json, as git finds its repository. */
#ifndef LUSTY_CLI_PROJECT_H
#define LUSTY_CLI_PROJECT_H

#include <cjson/cJSON.h>
#include <stdbool.h>

typedef struct {
    char *dir;           /* the project folder, absolute */
    char *manifest_path; /* "<dir>/lusty.json" */
    cJSON *manifest;     /* a JSON object */
    const char *name;    /* the manifest's "name"; the folder's name when absent */
} cli_project_t;

#define CLI_PROJECT_MANIFEST "lusty.json"
/* lusty.json is a few hundred bytes; this refuses a runaway file at once
 * rather than parsing megabytes of it. */
#define CLI_PROJECT_MANIFEST_MAX (1024 * 1024)

/* Walks up from `start` to the nearest folder holding lusty.json. Returns 0
 * with *dir_out set (absolute; free with lusty_free()), or LUSTY_ENOENT. */
int cli_project_find(const char *start, char **dir_out);

/* Finds the project from `start` and reads its manifest. On failure
 * returns a LUSTY_E* code with *out NULL and *err_out a message for
 * cli_error() (free with lusty_free()): LUSTY_ENOENT when there is no
 * project, LUSTY_EIO when lusty.json cannot be read, LUSTY_ESYNTAX when it
 * is not a JSON object (the message names the file, line and column).
 * Free the project with cli_project_free(). */
int cli_project_open(cli_project_t **out, const char *start, char **err_out);
void cli_project_free(cli_project_t *p);

/* Checks the manifest's keys and values, the one validator of `doctor` and
 * `server`: prints a warning (with a did-you-mean hint) for each unknown or
 * duplicate key, and an error for each value the server would refuse.
 * Returns 0, or LUSTY_EINVAL when there was an error. Opening a project
 * already refuses a file over CLI_PROJECT_MANIFEST_MAX, invalid UTF-8 and
 * text after the JSON object. */
int cli_project_check(const cli_project_t *p);

/* The manifest value at a dotted key ("server.port"); NULL when absent.
 * Borrowed from the project. */
const cJSON *cli_project_get(const cli_project_t *p, const char *dotted_key);

/* `path` relative to the project folder (absolute paths are kept). Free
 * with lusty_free(). */
char *cli_project_path(const cli_project_t *p, const char *path);

#endif
