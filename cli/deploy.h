/* The deploy files of a project, generated from its lusty.json:
 * conf/nginx.conf (nginx in front of `lusty server` instances) and
 * conf/lusty.service (a systemd unit running one in production mode).
 * `lusty init` writes them and `lusty deploy-files` regenerates them
 * (docs/deploy.md).
 *
 * Every generated file starts with a line carrying a checksum of the rest,
 * so that a regeneration can tell a file nobody edited (replaced freely)
 * from one a user edited (replaced only with --force). */
#ifndef LUSTY_CLI_DEPLOY_H
#define LUSTY_CLI_DEPLOY_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* One generated file. */
typedef struct {
    const char *path; /* relative to the project: "conf/nginx.conf" (static) */
    char *content;    /* free with lusty_free() */
    size_t len;
} cli_deploy_file_t;

#define CLI_DEPLOY_NFILES 3

/* Renders the deploy files of the project in `dir` (absolute) whose
 * lusty.json is `manifest` (already checked by cli_project_check()).
 * Fills `out` (CLI_DEPLOY_NFILES entries); free with
 * cli_deploy_files_free(). */
void cli_deploy_render(const cJSON *manifest, const char *dir, cli_deploy_file_t *out);
void cli_deploy_files_free(cli_deploy_file_t *files);

/* Whether `text` (a file's content) is a generated file nobody edited
 * since: its first line's checksum matches the rest. */
bool cli_deploy_unedited(const char *text, size_t len);

/* The upstream ports of a generated nginx.conf ("server 127.0.0.1:8080"
 * lines of its upstream block), for `lusty doctor`: up to `max` into
 * `ports`; returns how many were found. */
size_t cli_deploy_upstream_ports(const char *nginx_conf, int *ports, size_t max);

/* The data folder of the project (the folder of store.path, else "data"),
 * relative to the project unless absolute. Free with lusty_free(). */
char *cli_deploy_data_dir(const cJSON *manifest);

#endif
