/* Serving files from folders: `server.static` of lusty.json maps URL
 * prefixes to folders ({ "/static/": "static" }).
 *
 * Nothing outside a folder is ever served: request paths are decoded
 * segment by segment and refused when a segment is empty of meaning ("..",
 * "."), hidden (a dotfile), or hides a separator (an encoded '/' or '\');
 * the file is then opened beneath the folder by the kernel
 * (openat2 RESOLVE_BENEATH), so symlinks cannot lead out either. */
#ifndef LUSTY_STATIC_FILES_H
#define LUSTY_STATIC_FILES_H

#include "lusty/http.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct lusty_static_s lusty_static_t;

/* An empty set of mounts. Free with lusty_static_free(). Once built, a set
 * is read-only and may be shared by every worker thread. */
int lusty_static_new(lusty_static_t **out);
void lusty_static_free(lusty_static_t *st);
/* Mounts folder `dir` at URL `prefix` (a leading and a trailing '/' are
 * added when missing). Fails with LUSTY_ENOENT (or a libuv code) when the
 * folder cannot be opened, LUSTY_EINVAL for a prefix with '?', '%' or a
 * dot segment. */
int lusty_static_add(lusty_static_t *st, const char *prefix, const char *dir);

/* Resolves the raw (still percent-encoded) path of a request against one
 * normalised `prefix` into a path relative to the mounted folder, written
 * to `out` (NUL-terminated): "css/app.css"; "index.html" is appended to
 * a path ending in '/'. Returns 0, LUSTY_ENOENT when the path is not under
 * the prefix, LUSTY_EINVAL when it is under it but forbidden (dot segments,
 * dotfiles, encoded separators, bad or NUL escapes), LUSTY_ETOOBIG when it
 * does not fit. Pure: no file-system access. */
int lusty_static_resolve(const char *prefix, const char *raw_path, char *out, size_t out_size);

/* Serves `req` when its path falls under a mount and returns true (the
 * response is then ended, or being ended); returns false, touching nothing,
 * for paths under no mount. */
bool lusty_static_serve(const lusty_static_t *st, const lusty_http_request_t *req,
                        lusty_http_response_t *res);

/* The Content-Type for a file name by its extension;
 * "application/octet-stream" when unknown. */
const char *lusty_static_mime_type(const char *path);

#endif
