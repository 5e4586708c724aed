/* Mustache compiler: source text to a node tree, in three passes.
 *
 * 1. The lexer cuts the source into text tokens (at most one line each) and
 *    tags, following set-delimiter tags as it goes.
 * 2. A line pass finds standalone lines (only whitespace and tags that print
 *    nothing) and drops their whitespace and newline, as the spec requires.
 * 3. The builder nests sections, parents and blocks into a tree and removes
 *    the definition-site indentation of blocks.
 *
 * Doing all the whitespace work here keeps the renderer a plain tree walk. */
#include "mustache_internal.h"

#include "lusty/alloc.h"
#include "lusty/buf.h"
#include "lusty/error.h"

#include <assert.h>
#include <stdarg.h>
#include <string.h>

/* Tag nesting deeper than this is refused, so that building the tree (which
 * recurses per level) cannot exhaust the C stack on a hostile template. */
#define MAX_NESTING 256

typedef enum {
    T_TEXT,
    T_VAR,
    T_RAW,
    T_SECTION,
    T_INVERTED,
    T_PARTIAL,
    T_PARENT,
    T_BLOCK,
    T_CLOSE,
    T_COMMENT,
    T_DELIM,
} tok_type_t;

typedef struct {
    uint8_t type;       /* tok_type_t */
    uint8_t removed;    /* text of a standalone line: not output */
    uint8_t bol;        /* first token of a line that is not standalone */
    uint8_t standalone; /* tag on a standalone line */
    uint8_t dynamic;    /* partial or parent name starting with '*' */
    size_t start, end;  /* the whole token in the source */
    const char *raw;    /* tag content after the sigil, trimmed */
    size_t raw_len;
    const char *name; /* raw without a dynamic name's '*' */
    size_t name_len;
    size_t indent_end; /* standalone: [line start, indent_end) is the indentation */
    size_t line_start;
    size_t line_end; /* standalone: just after the line's newline */
    int line, column;
    /* Delimiters in effect after this tag. */
    const char *otag, *ctag;
    size_t otag_len, ctag_len;
} token_t;

typedef struct {
    const char *name;
    const char *src;
    size_t len;
    token_t *toks;
    size_t ntoks, cap;
    /* Line counting: every newline before `counted` has been seen. */
    size_t counted;
    size_t line_start;
    int line;
    const char *otag, *ctag;
    size_t otag_len, ctag_len;
    lusty_mustache_error_t *err;
} parser_t;

typedef struct {
    lusty__mnode_t *v;
    size_t n, cap;
} nlist_t;

void lusty__mustache_error_set(lusty_mustache_error_t *err, const char *name, int line, int column,
                               const char *fmt, ...)
{
    if (!err || err->message)
        return;
    lusty_buf_t buf = LUSTY_BUF_INIT;
    if (line > 0)
        lusty_buf_printf(&buf, "%s:%d:%d: ", name, line, column);
    else
        lusty_buf_printf(&buf, "%s: ", name);
    va_list ap;
    va_start(ap, fmt);
    lusty_buf_vprintf(&buf, fmt, ap);
    va_end(ap);
    err->message = lusty_buf_detach(&buf, NULL);
    err->line = line;
    err->column = column;
}

void lusty_mustache_error_free(lusty_mustache_error_t *err)
{
    if (!err)
        return;
    lusty_free(err->message);
    err->message = NULL;
    err->line = 0;
    err->column = 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Position of `needle` in src[from, len), or -1. */
static long find(const char *src, size_t len, size_t from, const char *needle, size_t nlen)
{
    while (from + nlen <= len) {
        const char *p = memchr(src + from, needle[0], len - from - nlen + 1);
        if (!p)
            return -1;
        if (memcmp(p, needle, nlen) == 0)
            return p - src;
        from = (size_t)(p - src) + 1;
    }
    return -1;
}

/* Position of `ch` immediately followed by the closing delimiter, at or after
 * `from` (for "}}}" and "=}}"), or -1. */
static long find_close(parser_t *ps, size_t from, char ch)
{
    size_t at = from;
    for (;;) {
        long r = find(ps->src, ps->len, at, ps->ctag, ps->ctag_len);
        if (r < 0)
            return -1;
        if ((size_t)r > from && ps->src[r - 1] == ch)
            return r - 1;
        at = (size_t)r + 1;
    }
}

/* Advances line counting to `pos`. */
static void count_lines(parser_t *ps, size_t pos)
{
    for (size_t i = ps->counted; i < pos; i++) {
        if (ps->src[i] == '\n') {
            ps->line++;
            ps->line_start = i + 1;
        }
    }
    if (pos > ps->counted)
        ps->counted = pos;
}

static token_t *push_token(parser_t *ps, tok_type_t type, size_t start, size_t end)
{
    ps->toks = lusty_grow(ps->toks, &ps->cap, ps->ntoks + 1, sizeof(*ps->toks));
    token_t *t = &ps->toks[ps->ntoks++];
    memset(t, 0, sizeof(*t));
    t->type = (uint8_t)type;
    t->start = start;
    t->end = end;
    return t;
}

/* Text is cut after every newline, so that a text token never spans lines. */
static void push_text(parser_t *ps, size_t start, size_t end)
{
    while (start < end) {
        const char *nl = memchr(ps->src + start, '\n', end - start);
        size_t stop = nl ? (size_t)(nl - ps->src) + 1 : end;
        push_token(ps, T_TEXT, start, stop);
        start = stop;
    }
}

static int fail_at(parser_t *ps, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_at(parser_t *ps, int line, int column, const char *fmt, ...)
{
    if (ps->err && !ps->err->message) {
        lusty_buf_t msg = LUSTY_BUF_INIT;
        va_list ap;
        va_start(ap, fmt);
        lusty_buf_vprintf(&msg, fmt, ap);
        va_end(ap);
        lusty__mustache_error_set(ps->err, ps->name, line, column, "%s", msg.data ? msg.data : "");
        lusty_buf_free(&msg);
    }
    return LUSTY_ESYNTAX;
}

static void trim(const char **s, size_t *n)
{
    while (*n && is_space(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && is_space((*s)[*n - 1]))
        (*n)--;
}

/* Parses the content of {{=OPEN CLOSE=}} and switches to the new
 * delimiters. */
static int set_delimiters(parser_t *ps, const char *s, size_t n, int line, int column)
{
    trim(&s, &n);
    size_t a = 0;
    while (a < n && !is_space(s[a]))
        a++;
    size_t b = a;
    while (b < n && is_space(s[b]))
        b++;
    for (size_t i = b; i < n; i++) {
        if (is_space(s[i]))
            b = n; /* a third word */
    }
    if (a == 0 || b >= n)
        return fail_at(
            ps, line, column,
            "invalid set-delimiter tag (expected two delimiters, as in '%.*s=<%% %%>=%.*s')",
            (int)ps->otag_len, ps->otag, (int)ps->ctag_len, ps->ctag);
    ps->otag = s;
    ps->otag_len = a;
    ps->ctag = s + b;
    ps->ctag_len = n - b;
    return 0;
}

/* Lexes the tag whose opening delimiter is at `p`; sets *end past it. */
static int lex_tag(parser_t *ps, size_t p, size_t *end)
{
    count_lines(ps, p);
    int line = ps->line;
    int column = (int)(p - ps->line_start) + 1;
    size_t q = p + ps->otag_len;
    char sigil = q < ps->len ? ps->src[q] : '\0';
    tok_type_t type;
    long r;
    size_t content, content_end;

    switch (sigil) {
    case '{':
    case '=':
        type = sigil == '{' ? T_RAW : T_DELIM;
        r = find_close(ps, q + 1, sigil == '{' ? '}' : '=');
        if (r < 0) {
            if (sigil == '=' && find(ps->src, ps->len, q + 1, ps->ctag, ps->ctag_len) >= 0)
                return set_delimiters(ps, "", 0, line, column);
            return fail_at(ps, line, column, "tag is never closed (expected '%c%.*s')",
                           sigil == '{' ? '}' : '=', (int)ps->ctag_len, ps->ctag);
        }
        content = q + 1;
        content_end = (size_t)r;
        *end = (size_t)r + 1 + ps->ctag_len;
        break;
    default:
        r = find(ps->src, ps->len, q, ps->ctag, ps->ctag_len);
        if (r < 0)
            return fail_at(ps, line, column, "tag is never closed (expected '%.*s')",
                           (int)ps->ctag_len, ps->ctag);
        content_end = (size_t)r;
        *end = (size_t)r + ps->ctag_len;
        content = q + 1;
        switch (sigil) {
        case '#':
            type = T_SECTION;
            break;
        case '^':
            type = T_INVERTED;
            break;
        case '/':
            type = T_CLOSE;
            break;
        case '>':
            type = T_PARTIAL;
            break;
        case '<':
            type = T_PARENT;
            break;
        case '$':
            type = T_BLOCK;
            break;
        case '&':
            type = T_RAW;
            break;
        case '!':
            type = T_COMMENT;
            break;
        default:
            type = T_VAR;
            content = q;
            break;
        }
        break;
    }

    if (content > content_end)
        content = content_end; /* "{{}}": the sigil would be the closing delimiter */
    const char *raw = ps->src + content;
    size_t raw_len = content_end - content;
    if (type == T_DELIM) {
        int rc = set_delimiters(ps, raw, raw_len, line, column);
        if (rc < 0)
            return rc;
    }
    token_t *t = push_token(ps, type, p, *end);
    t->line = line;
    t->column = column;
    t->otag = ps->otag;
    t->otag_len = ps->otag_len;
    t->ctag = ps->ctag;
    t->ctag_len = ps->ctag_len;
    if (type == T_COMMENT || type == T_DELIM)
        return 0;

    trim(&raw, &raw_len);
    t->raw = raw;
    t->raw_len = raw_len;
    t->name = raw;
    t->name_len = raw_len;
    if ((type == T_PARTIAL || type == T_PARENT) && raw_len && raw[0] == '*') {
        t->dynamic = 1;
        t->name = raw + 1;
        t->name_len = raw_len - 1;
        trim(&t->name, &t->name_len);
    }
    if (t->name_len == 0)
        return fail_at(ps, line, column, "empty tag name");
    return 0;
}

static int lex(parser_t *ps)
{
    size_t pos = 0;
    while (pos < ps->len) {
        long p = find(ps->src, ps->len, pos, ps->otag, ps->otag_len);
        size_t stop = p < 0 ? ps->len : (size_t)p;
        push_text(ps, pos, stop);
        if (p < 0)
            break;
        int rc = lex_tag(ps, stop, &pos);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Tags that print nothing themselves, so that a line holding only them (and
 * whitespace) disappears from the output. */
static int prints_nothing(const token_t *t)
{
    return t->type != T_TEXT && t->type != T_VAR && t->type != T_RAW;
}

static int same_name(const token_t *a, const token_t *b)
{
    return a->raw_len == b->raw_len && memcmp(a->raw, b->raw, a->raw_len) == 0;
}

/* Whitespace up to an optional final "\n" or "\r\n". */
static int blank_text(const parser_t *ps, const token_t *t)
{
    for (size_t i = t->start; i < t->end; i++) {
        char c = ps->src[i];
        if (c == ' ' || c == '\t' || c == '\n')
            continue;
        if (c == '\r' && i + 2 == t->end && ps->src[i + 1] == '\n')
            continue;
        return 0;
    }
    return 1;
}

/* Decides whether tokens [i, j), one line, form a standalone line. */
static int is_standalone(const parser_t *ps, size_t i, size_t j)
{
    const token_t *tags[2] = {NULL, NULL};
    size_t ntags = 0;
    for (size_t k = i; k < j; k++) {
        const token_t *t = &ps->toks[k];
        if (t->type == T_TEXT) {
            if (!blank_text(ps, t))
                return 0;
        } else if (!prints_nothing(t)) {
            return 0;
        } else {
            if (ntags < 2)
                tags[ntags] = t;
            ntags++;
        }
    }
    if (ntags == 0)
        return 0;
    /* "  {{$b}}{{/b}}" stands for the block's content, which may be inline
     * text: the line keeps its indentation and newline, and the content's
     * further lines are indented like the first (see the spec's "Standalone
     * block"). */
    if (ntags == 2 && tags[0]->type == T_BLOCK && tags[1]->type == T_CLOSE &&
        same_name(tags[0], tags[1]))
        return 0;
    return 1;
}

/* Marks standalone lines and the tokens that begin the other lines. */
static void mark_lines(parser_t *ps)
{
    size_t i = 0;
    while (i < ps->ntoks) {
        size_t j = i;
        while (j < ps->ntoks) {
            const token_t *t = &ps->toks[j++];
            if (t->type == T_TEXT && ps->src[t->end - 1] == '\n')
                break;
        }
        if (is_standalone(ps, i, j)) {
            size_t indent_end = ps->toks[i].type == T_TEXT ? ps->toks[i].end : ps->toks[i].start;
            for (size_t k = i; k < j; k++) {
                token_t *t = &ps->toks[k];
                if (t->type == T_TEXT) {
                    t->removed = 1;
                    continue;
                }
                t->standalone = 1;
                t->line_start = ps->toks[i].start;
                t->indent_end = indent_end;
                t->line_end = ps->toks[j - 1].end;
            }
        } else {
            ps->toks[i].bol = 1;
        }
        i = j;
    }
}

static void free_nodes(lusty__mnode_t *nodes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free_nodes(nodes[i].kids, nodes[i].nkids);
    lusty_free(nodes);
}

static lusty__mnode_t *push_node(nlist_t *list, const parser_t *ps, const token_t *t, uint8_t kind)
{
    list->v = lusty_grow(list->v, &list->cap, list->n + 1, sizeof(*list->v));
    lusty__mnode_t *n = &list->v[list->n++];
    memset(n, 0, sizeof(*n));
    n->kind = kind;
    n->line = t->line;
    n->column = t->column;
    if (t->bol)
        n->flags |= LUSTY__MN_BOL;
    if (t->type == T_TEXT) {
        n->str = ps->src + t->start;
        n->len = t->end - t->start;
    } else {
        n->str = t->name;
        n->len = t->name_len;
    }
    return n;
}

/* Length of the common prefix of `s` and the indentation `ind`. */
static size_t common_indent(const char *s, size_t n, const char *ind, size_t ind_len)
{
    size_t k = 0;
    while (k < n && k < ind_len && s[k] == ind[k])
        k++;
    return k;
}

/* Removes the indentation `ind` from every line start in `nodes`, and from
 * the indentation recorded for standalone partials and nested blocks. The
 * content of nested blocks was already made relative to their own
 * indentation, so it is left alone. */
static void dedent(lusty__mnode_t *nodes, size_t n, const char *ind, size_t ind_len)
{
    for (size_t i = 0; i < n; i++) {
        lusty__mnode_t *node = &nodes[i];
        size_t k;
        switch (node->kind) {
        case LUSTY__MN_TEXT:
            if (node->flags & LUSTY__MN_BOL) {
                k = common_indent(node->str, node->len, ind, ind_len);
                if (k) {
                    node->str += k;
                    node->len -= k;
                }
            }
            break;
        case LUSTY__MN_PARTIAL:
        case LUSTY__MN_PARENT:
        case LUSTY__MN_BLOCK:
            k = common_indent(node->indent, node->indent_len, ind, ind_len);
            if (k) {
                node->indent += k;
                node->indent_len -= k;
            }
            if (node->kind == LUSTY__MN_PARENT)
                dedent(node->kids, node->nkids, ind, ind_len);
            break;
        case LUSTY__MN_SECTION:
        case LUSTY__MN_INVERTED:
            dedent(node->kids, node->nkids, ind, ind_len);
            break;
        default:
            break;
        }
    }
}

/* The indentation of a block where it is defined: with a standalone opening
 * tag, the whitespace starting the next line (the content's own
 * indentation, or the closing tag's when the block is empty); otherwise the
 * whitespace before the tag when only whitespace precedes it. */
static void block_indent(const parser_t *ps, const token_t *open, const token_t *close,
                         lusty__mnode_t *node)
{
    size_t a, b;
    if (open->standalone) {
        a = open->line_end < close->start ? open->line_end : close->start;
        b = a;
        while (b < close->start && (ps->src[b] == ' ' || ps->src[b] == '\t'))
            b++;
    } else {
        b = open->start;
        a = b;
        while (a > 0 && (ps->src[a - 1] == ' ' || ps->src[a - 1] == '\t'))
            a--;
        if (a > 0 && ps->src[a - 1] != '\n')
            a = b;
    }
    node->indent = ps->src + a;
    node->indent_len = b - a;
}

static const char *tag_kind_name(const token_t *t)
{
    switch (t->type) {
    case T_INVERTED:
        return "inverted section";
    case T_PARENT:
        return "parent";
    case T_BLOCK:
        return "block";
    default:
        return "section";
    }
}

/* Builds nodes from tokens starting at *i into `out` until the closing tag
 * of `open` (or the end when `open` is NULL). */
static int build(parser_t *ps, size_t *i, const token_t *open, nlist_t *out, int depth)
{
    nlist_t kids = {NULL, 0, 0};
    int rc = 0;

    while (*i < ps->ntoks) {
        const token_t *t = &ps->toks[(*i)++];
        lusty__mnode_t *node;
        switch (t->type) {
        case T_TEXT:
            if (!t->removed)
                push_node(out, ps, t, LUSTY__MN_TEXT);
            break;
        case T_COMMENT:
        case T_DELIM:
            /* It prints nothing, but when it starts a line that line still
             * gets indented: keep an empty text to carry the mark. */
            if (t->bol)
                push_node(out, ps, t, LUSTY__MN_TEXT)->str = ps->src + t->start;
            break;
        case T_VAR:
            push_node(out, ps, t, LUSTY__MN_VAR);
            break;
        case T_RAW:
            push_node(out, ps, t, LUSTY__MN_RAW);
            break;
        case T_PARTIAL:
            node = push_node(out, ps, t, LUSTY__MN_PARTIAL);
            if (t->dynamic)
                node->flags |= LUSTY__MN_DYNAMIC;
            if (t->standalone) {
                node->flags |= LUSTY__MN_STANDALONE;
                node->indent = ps->src + t->line_start;
                node->indent_len = t->indent_end - t->line_start;
            }
            break;
        case T_CLOSE:
            if (!open) {
                rc = fail_at(ps, t->line, t->column, "closing tag '%.*s' has no open section",
                             (int)t->raw_len, t->raw);
                goto cleanup;
            }
            if (!same_name(open, t)) {
                rc = fail_at(ps, t->line, t->column,
                             "closing tag '%.*s' does not match open %s '%.*s' (opened at %d:%d)",
                             (int)t->raw_len, t->raw, tag_kind_name(open), (int)open->raw_len,
                             open->raw, open->line, open->column);
                goto cleanup;
            }
            /* A line starting with the closing tag starts inside the section:
             * its indentation belongs to the section's content. */
            if (t->bol)
                push_node(out, ps, t, LUSTY__MN_TEXT)->str = ps->src + t->start;
            goto cleanup;
        case T_SECTION:
        case T_INVERTED:
        case T_PARENT:
        case T_BLOCK: {
            if (depth >= MAX_NESTING) {
                rc = fail_at(ps, t->line, t->column, "sections nested more than %d deep",
                             MAX_NESTING);
                goto cleanup;
            }
            kids = (nlist_t){NULL, 0, 0};
            rc = build(ps, i, t, &kids, depth + 1);
            if (rc < 0)
                goto cleanup;
            const token_t *close = &ps->toks[*i - 1];
            static const uint8_t kinds[] = {
                [T_SECTION] = LUSTY__MN_SECTION,
                [T_INVERTED] = LUSTY__MN_INVERTED,
                [T_PARENT] = LUSTY__MN_PARENT,
                [T_BLOCK] = LUSTY__MN_BLOCK,
            };
            node = push_node(out, ps, t, kinds[t->type]);
            if (t->type == T_PARENT) {
                /* Inside a parent only blocks matter: the rest is ignored. */
                size_t keep = 0;
                for (size_t k = 0; k < kids.n; k++) {
                    if (kids.v[k].kind == LUSTY__MN_BLOCK)
                        kids.v[keep++] = kids.v[k];
                    else
                        free_nodes(kids.v[k].kids, kids.v[k].nkids);
                }
                kids.n = keep;
                if (t->dynamic)
                    node->flags |= LUSTY__MN_DYNAMIC;
                if (t->standalone) {
                    node->flags |= LUSTY__MN_STANDALONE;
                    node->indent = ps->src + t->line_start;
                    node->indent_len = t->indent_end - t->line_start;
                }
            } else if (t->type == T_BLOCK) {
                block_indent(ps, t, close, node);
                dedent(kids.v, kids.n, node->indent, node->indent_len);
            } else {
                node->raw = ps->src + t->end;
                node->raw_len = close->start - t->end;
                node->otag = t->otag;
                node->otag_len = t->otag_len;
                node->ctag = t->ctag;
                node->ctag_len = t->ctag_len;
            }
            node->kids = kids.v;
            node->nkids = kids.n;
            kids = (nlist_t){NULL, 0, 0};
            break;
        }
        default:
            assert(0 && "unknown token");
            break;
        }
    }
    if (open)
        rc = fail_at(ps, open->line, open->column, "%s '%.*s' opened here is never closed",
                     tag_kind_name(open), (int)open->raw_len, open->raw);

cleanup:
    free_nodes(kids.v, kids.n);
    return rc;
}

int lusty__mustache_compile(lusty_mustache_t **out, const char *name, const char *src, size_t len,
                            const char *otag, size_t otag_len, const char *ctag, size_t ctag_len,
                            lusty_mustache_error_t *err)
{
    assert(out && (src || len == 0));
    lusty_mustache_t *tpl = lusty_calloc(1, sizeof(*tpl));
    nlist_t nodes = {NULL, 0, 0};
    parser_t ps;
    int rc;

    *out = NULL;
    tpl->name = lusty_strdup(name ? name : "template");
    tpl->src = lusty_strndup(len ? src : "", len);
    tpl->len = len;

    memset(&ps, 0, sizeof(ps));
    ps.name = tpl->name;
    ps.src = tpl->src;
    ps.len = len;
    ps.line = 1;
    ps.otag = otag;
    ps.otag_len = otag_len;
    ps.ctag = ctag;
    ps.ctag_len = ctag_len;
    ps.err = err;

    rc = lex(&ps);
    if (rc < 0)
        goto cleanup;
    mark_lines(&ps);
    size_t i = 0;
    rc = build(&ps, &i, NULL, &nodes, 0);
    if (rc < 0)
        goto cleanup;
    tpl->nodes = nodes.v;
    tpl->nnodes = nodes.n;
    nodes.v = NULL;
    nodes.n = 0;
    *out = tpl;
    tpl = NULL;

cleanup:
    free_nodes(nodes.v, nodes.n);
    lusty_free(ps.toks);
    lusty_mustache_free(tpl);
    return rc;
}

int lusty_mustache_compile(lusty_mustache_t **out, const char *name, const char *src, size_t len,
                           lusty_mustache_error_t *err)
{
    return lusty__mustache_compile(out, name, src, len, "{{", 2, "}}", 2, err);
}

void lusty_mustache_free(lusty_mustache_t *tpl)
{
    if (!tpl)
        return;
    free_nodes(tpl->nodes, tpl->nnodes);
    lusty_free(tpl->name);
    lusty_free(tpl->src);
    lusty_free(tpl);
}

const char *lusty_mustache_name(const lusty_mustache_t *tpl)
{
    return tpl->name;
}
