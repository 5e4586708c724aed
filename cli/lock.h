/* lusty.lock: what each handler of lusty.json resolved to.
 *
 *   {
 *     "lockfileVersion": 1,
 *     "handlers": {
 *       "auth": { "git": "https://…/auth.git", "ref": "v1.2", "commit": "<40 hex>" },
 *       "blog": { "url": "https://…/blog-1.0.tar.gz", "sha256": "<64 hex>" }
 *     }
 *   }
 *
 * The file is written sorted by name with a stable layout, so that it diffs
 * well under version control, and replaced atomically. */
#ifndef LUSTY_CLI_LOCK_H
#define LUSTY_CLI_LOCK_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { CLI_SOURCE_GIT, CLI_SOURCE_ARCHIVE } cli_source_kind_t;

/* One handler: as lusty.json declares it, or as lusty.lock pins it. */
typedef struct {
    char *name;
    cli_source_kind_t kind;
    char *url;    /* git URL or path, or archive URL */
    char *ref;    /* git: tag, branch or commit, NULL for the remote's HEAD */
    char *commit; /* git: the full commit id (lock only) */
    char *sha256; /* archive: lower-case hex digest, NULL when not given */
} cli_source_t;

typedef struct {
    cli_source_t *items; /* sorted by name */
    size_t count;
} cli_source_list_t;

/* Reads the "handlers" object of lusty.json (`handlers` may be NULL: no
 * handlers). Returns 0, or -1 with *err_out naming the problem (free with
 * lusty_free()). Free the list with cli_source_list_free(). */
struct cJSON;
int cli_sources_from_manifest(cli_source_list_t *out, const struct cJSON *handlers, char **err_out);

/* Reads lusty.lock. Returns 0; 1 when the file does not exist (an empty
 * list); -1 with *err_out set when it cannot be read or is malformed. */
int cli_lock_read(cli_source_list_t *out, const char *path, char **err_out);

/* Writes `lock` to `path` through a temporary file and a rename. Returns 0
 * or an errno value. */
int cli_lock_write(const char *path, const cli_source_list_t *lock);

/* Borrowed entry named `name`, or NULL. */
const cli_source_t *cli_source_find(const cli_source_list_t *list, const char *name);
/* Adds a deep copy of `src`, keeping the list sorted (replaces an entry of
 * the same name). */
void cli_source_list_put(cli_source_list_t *list, const cli_source_t *src);
bool cli_source_list_equal(const cli_source_list_t *a, const cli_source_list_t *b);
void cli_source_copy(cli_source_t *dst, const cli_source_t *src);
void cli_source_clear(cli_source_t *src);
void cli_source_list_free(cli_source_list_t *list);

/* True when the lock entry `locked` was made from the declaration `decl`
 * (same kind, URL, ref, and checksum when lusty.json gives one). */
bool cli_source_matches(const cli_source_t *decl, const cli_source_t *locked);

/* `url` with any password removed ("https://user:secret@host/x" gives
 * "https://user@host/x"). Free with lusty_free(). */
char *cli_url_redact(const char *url);

#endif
