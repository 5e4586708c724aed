/* The checks of `lusty bootstrap` and `lusty doctor`: the services and tools
 * a project needs, each reported for a person (text) or a script (JSON). */
#ifndef LUSTY_CLI_CHECKS_H
#define LUSTY_CLI_CHECKS_H

#include <stdbool.h>
#include <stdio.h>

struct cJSON;

typedef enum {
    CLI_MONGO_SKIPPED,
    CLI_MONGO_OK,
    CLI_MONGO_UNREACHABLE,
    CLI_MONGO_BAD_URI,
} cli_mongo_status_t;

typedef struct {
    /* Inputs: set by the caller (strings borrowed). */
    const char *uri;
    const char *uri_source; /* "--mongodb-uri", "LUSTY_MONGODB_URI", "lusty.json", "default" */
    int timeout_ms;         /* server selection and connect timeout */
    bool required;
    bool skip;

    /* Results (owned: free with cli_checks_clear()). */
    cli_mongo_status_t status;
    char *shown_uri; /* the URI without its password */
    char *version;   /* the server's version, from buildInfo */
    double rtt_ms;   /* one ping's round trip */
    char *error;     /* the driver's reason */
} cli_mongo_check_t;

/* conf/nginx.conf of the project (see deploy.h). */
typedef enum {
    CLI_NGINX_CONF_NONE,     /* no project, or no conf/nginx.conf */
    CLI_NGINX_CONF_UNTESTED, /* the file is there, nginx is not */
    CLI_NGINX_CONF_OK,       /* nginx -t accepts it */
    CLI_NGINX_CONF_FAILED,   /* nginx -t refuses it: conf_error */
} cli_nginx_conf_t;

#define CLI_MAX_UPSTREAMS 16

typedef struct {
    bool found;
    char *path;    /* nginx or openresty on PATH */
    char *version; /* "nginx/1.22.1", "openresty/1.21.4.1" */
    cli_nginx_conf_t conf;
    char *conf_error;             /* nginx -t's first error line */
    int ports[CLI_MAX_UPSTREAMS]; /* the upstream ports in conf/nginx.conf */
    size_t nports;
    int want[CLI_MAX_UPSTREAMS]; /* the ones lusty.json makes */
    size_t nwant;
} cli_nginx_check_t;

/* The data folder (the store's, see deploy.h): a service can write only
 * there. */
typedef struct {
    bool checked; /* false without a project */
    char *path;   /* as lusty.json gives it, relative to the project */
    bool exists;
    bool writable;
} cli_data_check_t;

typedef struct {
    bool checked; /* false without a project */
    char *host;
    int port;
    bool free;
    char *error; /* when the address itself cannot be used */
} cli_port_check_t;

/* The project's store (docs/store.md): for SQLite, whether its file can be
 * opened and written, or created where it is missing. Nothing is written. */
typedef struct {
    bool checked;  /* false without a project */
    char *backend; /* "sqlite" or "mongodb" (store.backend) */
    char *path;    /* SQLite: the file, absolute */
    char *shown;   /* SQLite: the file as lusty.json names it */
    bool ok;
    bool exists;
    long tables; /* collections in an existing file */
    char *error;
} cli_store_check_t;

typedef struct {
    cli_mongo_check_t mongodb;
    cli_nginx_check_t nginx;
    cli_port_check_t port;
    cli_data_check_t data;
    /* Inputs of the deploy checks (borrowed): the project's folder (set by
     * the caller; NULL without a project) and its manifest (set by
     * cli_checks_prepare()). */
    const char *project_dir;
    const struct cJSON *manifest;
    cli_store_check_t store;
} cli_checks_t;

/* The MongoDB options that bootstrap and doctor share: one table entry
 * list, one parser. Their ids are above any command's own. */
typedef struct {
    const char *uri; /* --mongodb-uri, or NULL */
    int timeout_ms;  /* --mongodb-timeout, or 0 */
    bool require, skip;
} cli_mongodb_opts_t;

enum {
    CLI_OPT_MONGODB_URI = 100,
    CLI_OPT_MONGODB_TIMEOUT,
    CLI_OPT_REQUIRE_MONGODB,
    CLI_OPT_SKIP_MONGODB,
};

/* The entries of an option table (cli_opt_t) for the options above. */
#define CLI_MONGODB_OPTIONS                                                                         \
    {"mongodb-uri", 0, "URI", "MongoDB to check (default: $LUSTY_MONGODB_URI, lusty.json)",        \
     CLI_OPT_MONGODB_URI},                                                                          \
        {"mongodb-timeout", 0, "SECONDS", "How long to wait for MongoDB (default: 2)",              \
         CLI_OPT_MONGODB_TIMEOUT},                                                                  \
        {"require-mongodb", 0, NULL, "Fail when MongoDB cannot be reached",                         \
         CLI_OPT_REQUIRE_MONGODB},                                                                  \
        {"skip-mongodb", 0, NULL, "Do not check MongoDB", CLI_OPT_SKIP_MONGODB}

/* Takes option `id` (with `value`) into `m` when it is a MongoDB option.
 * Returns 1 when it was one, 0 when not, and -1 for a bad value (reported:
 * a usage error). */
int cli_mongodb_opt(cli_mongodb_opts_t *m, int id, const char *value);

/* Fills the MongoDB inputs from the options, LUSTY_MONGODB_URI and the
 * manifest's "mongodb" object (may be NULL), in that order, and returns the
 * server address from the manifest's "server" (host NULL without a
 * manifest). */
void cli_checks_prepare(cli_checks_t *c, const struct cJSON *manifest,
                        const cli_mongodb_opts_t *opts, const char **host_out, int *port_out);

/* Fills the store check's inputs from the project's lusty.json (`store`);
 * in check_store.c, with the functions below it. */
void cli_checks_prepare_store(cli_checks_t *c, const char *project_dir,
                              const struct cJSON *manifest);
void cli_store_check_run(cli_store_check_t *s);
void cli_store_check_row(const cli_store_check_t *s, FILE *out, const char *indent);
void cli_store_check_problem(const cli_store_check_t *s);
struct cJSON *cli_store_check_json(const cli_store_check_t *s);
void cli_store_check_clear(cli_store_check_t *s);

/* Runs every check. `host` NULL skips the port check. The MongoDB driver is
 * initialised and cleaned up inside: call this once per process. */
void cli_checks_run(cli_checks_t *c, const char *host, int port);
void cli_checks_clear(cli_checks_t *c);

/* True when the checks fail the command: a malformed URI, or MongoDB
 * unreachable while required. */
bool cli_checks_failed(const cli_checks_t *c);

/* Prints the report lines on `out` and the warnings/errors with their hints
 * on stderr. */
void cli_checks_print(const cli_checks_t *c, FILE *out);
/* The same for bootstrap, saying each thing once: an unreachable MongoDB
 * that is not required is explained in its row (with the reason) and a
 * hint, not again in a warning. */
void cli_checks_print_once(const cli_checks_t *c, FILE *out);
/* Prints only the warnings/errors (for --json, where stdout is the JSON). */
void cli_checks_print_problems(const cli_checks_t *c);

/* The "checks" object of the --json report. Free with cJSON_Delete(). */
struct cJSON *cli_checks_to_json(const cli_checks_t *c);

#endif
