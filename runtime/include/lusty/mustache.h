/* Mustache templates: compile once, render many times.
 *
 * Implements the Mustache spec: escaped and raw variables, sections, inverted
 * sections, comments, partials with standalone indentation, set-delimiter,
 * template inheritance (parents and blocks), dynamic names, and lambdas when
 * the data source supports them.
 *
 * The renderer knows nothing about where data comes from: values are opaque
 * pointers interpreted by a lusty_mustache_data_t (a cJSON source is built in;
 * the Lua host adds one for Lua tables). Partials and parents come from a
 * lusty_mustache_partials_t, which owns the compiled templates it hands out,
 * so a server can cache them across renders. */
#ifndef LUSTY_MUSTACHE_H
#define LUSTY_MUSTACHE_H

#include "lusty/buf.h"

#include <stddef.h>

typedef struct lusty_mustache lusty_mustache_t;

/* Where and why compiling or rendering failed. `message` is the full text,
 * "NAME:LINE:COL: what" (owned; free with lusty_mustache_error_free()). */
typedef struct {
    char *message;
    int line;   /* 1-based; 0 when not about a position */
    int column; /* 1-based */
} lusty_mustache_error_t;

typedef enum {
    LUSTY_MUSTACHE_MISSING = 0, /* not found (renders as nothing, falsy) */
    LUSTY_MUSTACHE_NULL,        /* falsy */
    LUSTY_MUSTACHE_FALSE,       /* falsy */
    LUSTY_MUSTACHE_TRUE,
    LUSTY_MUSTACHE_NUMBER,
    LUSTY_MUSTACHE_STRING, /* an empty string is truthy, as in the spec */
    LUSTY_MUSTACHE_LIST,   /* an empty list is falsy */
    LUSTY_MUSTACHE_OBJECT,
    LUSTY_MUSTACHE_LAMBDA,
} lusty_mustache_kind_t;

/* A data source: how the renderer reads values. Values are borrowed opaque
 * pointers that stay valid for the whole render. */
typedef struct {
    lusty_mustache_kind_t (*kind)(void *ud, const void *value);
    /* Looks up one key (no dots) in an object value. Returns 1 and sets
     * *out when the key exists, 0 otherwise. */
    int (*lookup)(void *ud, const void *value, const char *key, size_t key_len, const void **out);
    /* The renderer calls list_len() on a list before it iterates it with
     * list_get() at indexes 0, 1, 2... (a source over linked lists may keep
     * a cursor). */
    size_t (*list_len)(void *ud, const void *value);
    const void *(*list_get)(void *ud, const void *value, size_t index);
    /* Appends the text of a scalar (string, number, true/false) to `out`. */
    void (*to_string)(void *ud, const void *value, lusty_buf_t *out);
    /* Optional (NULL: lambdas render as nothing). Calls a LAMBDA value: with
     * text == NULL for an interpolation, else with the raw section text.
     * Appends the returned template source to `out`; returns 0, or a negative
     * code with a message in `err_out` (owned by the caller). */
    int (*call_lambda)(void *ud, const void *value, const char *text, size_t text_len,
                       lusty_buf_t *out, char **err_out);
    void *ud;
} lusty_mustache_data_t;

/* Where partials and parents come from. get() returns a compiled template
 * that the provider keeps alive for the whole render (it is not freed by the
 * renderer), or NULL when there is no such partial (it renders as nothing).
 * It may set *err_out (owned by the caller) and return NULL when a partial
 * exists but fails to compile; rendering then fails with that message. */
typedef struct {
    const lusty_mustache_t *(*get)(void *ud, const char *name, size_t name_len, char **err_out);
    void *ud;
} lusty_mustache_partials_t;

/* Compiles `src` (len bytes). `name` (copied) names the template in error
 * messages. On success *out is a template to free with lusty_mustache_free();
 * on failure *out is NULL, `err` (if not NULL) says where, and a negative
 * LUSTY_E* code is returned. */
int lusty_mustache_compile(lusty_mustache_t **out, const char *name, const char *src, size_t len,
                           lusty_mustache_error_t *err);
void lusty_mustache_free(lusty_mustache_t *tpl);
const char *lusty_mustache_name(const lusty_mustache_t *tpl);

/* Renders `tpl` with `root` as the top of the context stack, appending to
 * `out`. `partials` may be NULL (no partials). Variables are HTML-escaped
 * (& < > " and ' as &#39;). Returns 0, or a negative code with `err` (if not
 * NULL) filled, and out may then hold partial output: LUSTY_ERUNTIME when a
 * partial fails to load, a lambda's own code when it fails, LUSTY_ESYNTAX
 * when what a lambda returns does not compile, LUSTY_ETOOBIG when partials,
 * parents and lambdas nest more than 128 deep (a runaway recursion). */
int lusty_mustache_render(const lusty_mustache_t *tpl, const lusty_mustache_data_t *data,
                          const void *root, const lusty_mustache_partials_t *partials,
                          lusty_buf_t *out, lusty_mustache_error_t *err);

void lusty_mustache_error_free(lusty_mustache_error_t *err);

/* The data source for cJSON values (root is a const cJSON *). Numbers print
 * as integers when integral (below 1e21), else in the shortest form that
 * reads back as the same double. JSON has no lambdas. cJSON arrays are
 * linked lists: the source keeps a few per-thread cursors so that iterating
 * one stays linear. */
const lusty_mustache_data_t *lusty_mustache_cjson_data(void);

/* A partials provider over a cJSON object mapping names to template
 * sources, compiling each on first use and caching it. Free with
 * lusty_mustache_cjson_partials_free(). `sources` is borrowed and must
 * outlive the provider. */
typedef struct lusty_mustache_cjson_partials lusty_mustache_cjson_partials_t;
lusty_mustache_cjson_partials_t *lusty_mustache_cjson_partials_new(const void *sources);
void lusty_mustache_cjson_partials_free(lusty_mustache_cjson_partials_t *p);
lusty_mustache_partials_t lusty_mustache_cjson_partials(lusty_mustache_cjson_partials_t *p);

#endif
