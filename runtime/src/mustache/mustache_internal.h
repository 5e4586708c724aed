/* Internals shared by the Mustache compiler (mustache_parse.c) and renderer
 * (mustache_render.c): the compiled node tree and the compile entry point
 * that lambdas need, since their results are compiled with the delimiters in
 * effect where the lambda was used. */
#ifndef LUSTY_MUSTACHE_INTERNAL_H
#define LUSTY_MUSTACHE_INTERNAL_H

#include "lusty/mustache.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
    LUSTY__MN_TEXT,     /* literal text, at most one line */
    LUSTY__MN_VAR,      /* {{name}}: HTML-escaped */
    LUSTY__MN_RAW,      /* {{{name}}} and {{&name}} */
    LUSTY__MN_SECTION,  /* {{#name}}...{{/name}} */
    LUSTY__MN_INVERTED, /* {{^name}}...{{/name}} */
    LUSTY__MN_PARTIAL,  /* {{>name}} */
    LUSTY__MN_PARENT,   /* {{<name}}...{{/name}}: kids are only its blocks */
    LUSTY__MN_BLOCK,    /* {{$name}}...{{/name}} */
} lusty__mnode_kind_t;

enum {
    /* The node starts a line of the template: when the template is rendered
     * indented (a standalone partial, a block), the indentation goes here. */
    LUSTY__MN_BOL = 1,
    /* A partial or parent tag alone on its line: `indent` is the whitespace
     * that preceded it, added to every line of what it includes. */
    LUSTY__MN_STANDALONE = 2,
    /* {{>*name}} / {{<*name}}: the template's name is looked up in the data. */
    LUSTY__MN_DYNAMIC = 4,
};

typedef struct lusty__mnode lusty__mnode_t;
struct lusty__mnode {
    uint8_t kind;  /* lusty__mnode_kind_t */
    uint8_t flags; /* LUSTY__MN_* flags */
    int line;      /* of the tag's opening delimiter, 1-based */
    int column;
    /* TEXT: the text; tags: the name (without the '*' of a dynamic name).
     * Every pointer below points into the owning template's source. */
    const char *str;
    size_t len;
    /* PARTIAL, PARENT: indentation when standalone. BLOCK: the indentation
     * of the block's content where it is defined, which is removed from its
     * lines at compile time and added back wherever the block expands. */
    const char *indent;
    size_t indent_len;
    /* SECTION: the unrendered body and the delimiters in effect, for
     * lambdas. */
    const char *raw;
    size_t raw_len;
    const char *otag;
    const char *ctag;
    size_t otag_len;
    size_t ctag_len;
    lusty__mnode_t *kids;
    size_t nkids;
};

struct lusty_mustache {
    char *name;
    char *src; /* owned copy of the source; nodes point into it */
    size_t len;
    lusty__mnode_t *nodes;
    size_t nnodes;
};

/* lusty_mustache_compile() starting with the given delimiters instead of
 * "{{" and "}}". */
int lusty__mustache_compile(lusty_mustache_t **out, const char *name, const char *src, size_t len,
                            const char *otag, size_t otag_len, const char *ctag, size_t ctag_len,
                            lusty_mustache_error_t *err);

/* Fills `err` (when not NULL and still empty) with "NAME:LINE:COL: message". */
void lusty__mustache_error_set(lusty_mustache_error_t *err, const char *name, int line, int column,
                               const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
