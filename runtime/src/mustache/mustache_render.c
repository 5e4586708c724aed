/* Mustache renderer: walks a compiled node tree, appending to a buffer.
 *
 * The only work per render besides the walk is name lookup, done by splitting
 * dotted names in place, and the compilation of what lambdas return. The
 * context stack starts on the C stack and moves to the heap only when
 * sections nest deeply. */
#include "mustache_internal.h"

#include "lusty/alloc.h"
#include "lusty/buf.h"
#include "lusty/error.h"

#include <assert.h>
#include <stdarg.h>
#include <string.h>

/* Partials, parents and lambdas may recurse through the data (a tree
 * rendered by a recursive partial); past this depth the template is taken to
 * recurse forever and rendering fails instead of exhausting the C stack. */
#define MAX_DEPTH 128

#define INLINE_FRAMES 32

typedef struct {
    const void *value;
    lusty_mustache_kind_t kind;
} frame_t;

/* The parents being expanded, innermost first: their blocks override the
 * blocks of the templates they include. */
typedef struct scope {
    const lusty__mnode_t *parent;
    const lusty_mustache_t *tpl; /* the template `parent` belongs to */
    const struct scope *up;
} scope_t;

typedef struct {
    const lusty_mustache_data_t *data;
    const lusty_mustache_partials_t *partials;
    lusty_buf_t *out;
    size_t out_start; /* where this render (or lambda expansion) began in out */
    frame_t *stack;
    size_t depth, cap;
    lusty_buf_t indent; /* current indentation, the sum of the enclosing ones */
    lusty_buf_t scratch;
    const scope_t *scope;
    int nesting;
    lusty_mustache_error_t *err;
    frame_t frames[INLINE_FRAMES];
} render_t;

static int render_nodes(render_t *st, const lusty_mustache_t *tpl, const lusty__mnode_t *nodes,
                        size_t n);

static int fail(render_t *st, const lusty_mustache_t *tpl, const lusty__mnode_t *node, int code,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(render_t *st, const lusty_mustache_t *tpl, const lusty__mnode_t *node, int code,
                const char *fmt, ...)
{
    if (st->err && !st->err->message) {
        lusty_buf_t msg = LUSTY_BUF_INIT;
        va_list ap;
        va_start(ap, fmt);
        lusty_buf_vprintf(&msg, fmt, ap);
        va_end(ap);
        lusty__mustache_error_set(st->err, tpl->name, node->line, node->column, "%s",
                                  msg.data ? msg.data : "");
        lusty_buf_free(&msg);
    }
    return code;
}

static void push(render_t *st, const void *value, lusty_mustache_kind_t kind)
{
    if (st->depth == st->cap) {
        size_t cap = st->cap;
        if (st->stack == st->frames) {
            frame_t *heap = lusty_grow(NULL, &cap, st->depth + 1, sizeof(*heap));
            memcpy(heap, st->frames, sizeof(st->frames));
            st->stack = heap;
        } else {
            st->stack = lusty_grow(st->stack, &cap, st->depth + 1, sizeof(*st->stack));
        }
        st->cap = cap;
    }
    st->stack[st->depth].value = value;
    st->stack[st->depth].kind = kind;
    st->depth++;
}

/* Resolves a (dotted) name against the context stack. Returns 1 and sets
 * *out when found. The first part is searched from the top of the stack
 * down; the other parts only in what the previous part gave. */
static int resolve(render_t *st, const char *name, size_t len, const void **out,
                   lusty_mustache_kind_t *kind)
{
    const lusty_mustache_data_t *d = st->data;
    if (len == 1 && name[0] == '.') {
        *out = st->stack[st->depth - 1].value;
        *kind = st->stack[st->depth - 1].kind;
        return 1;
    }
    const char *end = name + len;
    const char *dot = memchr(name, '.', len);
    size_t seg = dot ? (size_t)(dot - name) : len;
    const void *v = NULL;
    size_t i = st->depth;
    for (;;) {
        if (i == 0)
            return 0;
        const frame_t *f = &st->stack[--i];
        if (f->kind == LUSTY_MUSTACHE_OBJECT && d->lookup(d->ud, f->value, name, seg, &v))
            break;
    }
    while (dot) {
        if (d->kind(d->ud, v) != LUSTY_MUSTACHE_OBJECT)
            return 0;
        name = dot + 1;
        dot = memchr(name, '.', (size_t)(end - name));
        seg = dot ? (size_t)(dot - name) : (size_t)(end - name);
        if (!d->lookup(d->ud, v, name, seg, &v))
            return 0;
    }
    *out = v;
    *kind = d->kind(d->ud, v);
    return 1;
}

static void escape_html(lusty_buf_t *out, const char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep;
        switch (s[i]) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            continue;
        }
        lusty_buf_append(out, s + run, i - run);
        lusty_buf_puts(out, rep);
        run = i + 1;
    }
    lusty_buf_append(out, s + run, n - run);
}

static int at_line_start(const render_t *st)
{
    const lusty_buf_t *out = st->out;
    return out->len == st->out_start || out->data[out->len - 1] == '\n';
}

/* Adds `len` bytes of indentation; returns the length to restore. */
static size_t indent_push(render_t *st, const char *s, size_t len)
{
    size_t old = st->indent.len;
    if (len)
        lusty_buf_append(&st->indent, s, len);
    return old;
}

static void indent_pop(render_t *st, size_t old)
{
    st->indent.len = old;
    if (st->indent.data)
        st->indent.data[old] = '\0';
}

static int nest(render_t *st, const lusty_mustache_t *tpl, const lusty__mnode_t *node)
{
    if (st->nesting >= MAX_DEPTH)
        return fail(st, tpl, node, LUSTY_ETOOBIG,
                    "partials, parents and lambdas nested more than %d deep", MAX_DEPTH);
    st->nesting++;
    return 0;
}

/* Calls a lambda and compiles what it returns. `text` is NULL for an
 * interpolation, else the section's body. */
static int call_lambda(render_t *st, const lusty_mustache_t *tpl, const lusty__mnode_t *node,
                       const void *value, const char *text, size_t text_len, lusty_mustache_t **out)
{
    const lusty_mustache_data_t *d = st->data;
    lusty_buf_t src = LUSTY_BUF_INIT;
    lusty_mustache_error_t cerr = {NULL, 0, 0};
    char *lerr = NULL;
    int rc;

    *out = NULL;
    rc = d->call_lambda(d->ud, value, text, text_len, &src, &lerr);
    if (rc < 0) {
        rc = fail(st, tpl, node, rc, "lambda '%.*s' failed: %s", (int)node->len, node->str,
                  lerr ? lerr : lusty_strerror(rc));
        goto cleanup;
    }
    /* Interpolation results use the default delimiters, section results the
     * ones in effect at the section. */
    if (text)
        rc = lusty__mustache_compile(out, "lambda result", src.data, src.len, node->otag,
                                     node->otag_len, node->ctag, node->ctag_len, &cerr);
    else
        rc = lusty_mustache_compile(out, "lambda result", src.data, src.len, &cerr);
    if (rc < 0)
        rc = fail(st, tpl, node, rc, "lambda '%.*s' returned an invalid template: %s",
                  (int)node->len, node->str, cerr.message);

cleanup:
    lusty_mustache_error_free(&cerr);
    lusty_free(lerr);
    lusty_buf_free(&src);
    return rc;
}

/* {{name}} on a lambda: its result is rendered on its own, then interpolated
 * like a string. */
static int lambda_interpolate(render_t *st, const lusty_mustache_t *tpl, const lusty__mnode_t *node,
                              const void *value)
{
    lusty_mustache_t *result = NULL;
    lusty_buf_t text = LUSTY_BUF_INIT;
    lusty_buf_t *saved_out = st->out;
    size_t saved_start = st->out_start;
    lusty_buf_t saved_indent = st->indent;
    int rc = nest(st, tpl, node);
    if (rc < 0)
        return rc;

    rc = call_lambda(st, tpl, node, value, NULL, 0, &result);
    if (rc < 0)
        goto cleanup;
    st->out = &text;
    st->out_start = 0;
    lusty_buf_init(&st->indent);
    rc = render_nodes(st, result, result->nodes, result->nnodes);
    lusty_buf_free(&st->indent);
    st->indent = saved_indent;
    st->out = saved_out;
    st->out_start = saved_start;
    if (rc < 0)
        goto cleanup;
    if (node->kind == LUSTY__MN_VAR)
        escape_html(st->out, text.data, text.len);
    else
        lusty_buf_append(st->out, text.data, text.len);

cleanup:
    st->nesting--;
    lusty_buf_free(&text);
    lusty_mustache_free(result);
    return rc;
}

/* {{#name}} on a lambda: called with the raw body, its result rendered in
 * place of the section. */
static int lambda_section(render_t *st, const lusty_mustache_t *tpl, const lusty__mnode_t *node,
                          const void *value)
{
    lusty_mustache_t *result = NULL;
    int rc = nest(st, tpl, node);
    if (rc < 0)
        return rc;

    rc = call_lambda(st, tpl, node, value, node->raw, node->raw_len, &result);
    if (rc < 0)
        goto cleanup;
    rc = render_nodes(st, result, result->nodes, result->nnodes);

cleanup:
    st->nesting--;
    lusty_mustache_free(result);
    return rc;
}

static int interpolate(render_t *st, const lusty_mustache_t *tpl, const lusty__mnode_t *node)
{
    const lusty_mustache_data_t *d = st->data;
    const void *v;
    lusty_mustache_kind_t kind;
    if (!resolve(st, node->str, node->len, &v, &kind))
        return 0;
    switch (kind) {
    case LUSTY_MUSTACHE_MISSING:
    case LUSTY_MUSTACHE_NULL:
        return 0;
    case LUSTY_MUSTACHE_LAMBDA:
        if (!d->call_lambda)
            return 0;
        return lambda_interpolate(st, tpl, node, v);
    default:
        break;
    }
    if (node->kind == LUSTY__MN_RAW) {
        d->to_string(d->ud, v, st->out);
    } else {
        lusty_buf_clear(&st->scratch);
        d->to_string(d->ud, v, &st->scratch);
        escape_html(st->out, st->scratch.data, st->scratch.len);
    }
    return 0;
}

static int section(render_t *st, const lusty_mustache_t *tpl, const lusty__mnode_t *node)
{
    const lusty_mustache_data_t *d = st->data;
    const void *v = NULL;
    lusty_mustache_kind_t kind = LUSTY_MUSTACHE_MISSING;
    int rc = 0;
    resolve(st, node->str, node->len, &v, &kind);

    if (node->kind == LUSTY__MN_INVERTED) {
        /* A lambda counts as truthy here (it is never called). */
        int empty = kind == LUSTY_MUSTACHE_MISSING || kind == LUSTY_MUSTACHE_NULL ||
                    kind == LUSTY_MUSTACHE_FALSE ||
                    (kind == LUSTY_MUSTACHE_LIST && d->list_len(d->ud, v) == 0);
        return empty ? render_nodes(st, tpl, node->kids, node->nkids) : 0;
    }

    switch (kind) {
    case LUSTY_MUSTACHE_MISSING:
    case LUSTY_MUSTACHE_NULL:
    case LUSTY_MUSTACHE_FALSE:
        return 0;
    case LUSTY_MUSTACHE_LAMBDA:
        return d->call_lambda ? lambda_section(st, tpl, node, v) : 0;
    case LUSTY_MUSTACHE_LIST: {
        size_t n = d->list_len(d->ud, v);
        for (size_t i = 0; i < n && rc == 0; i++) {
            const void *item = d->list_get(d->ud, v, i);
            push(st, item, d->kind(d->ud, item));
            rc = render_nodes(st, tpl, node->kids, node->nkids);
            st->depth--;
        }
        return rc;
    }
    default:
        push(st, v, kind);
        rc = render_nodes(st, tpl, node->kids, node->nkids);
        st->depth--;
        return rc;
    }
}

/* Finds the template a partial or parent tag names: its own name, or for
 * {{>*name}} the string the name resolves to. Returns 0 with *out NULL when
 * there is none (which renders as nothing). */
static int find_template(render_t *st, const lusty_mustache_t *tpl, const lusty__mnode_t *node,
                         const lusty_mustache_t **out)
{
    const lusty_mustache_data_t *d = st->data;
    const char *name = node->str;
    size_t len = node->len;
    char *perr = NULL;
    int rc = 0;

    *out = NULL;
    if (!st->partials)
        return 0;
    if (node->flags & LUSTY__MN_DYNAMIC) {
        const void *v;
        lusty_mustache_kind_t kind;
        if (!resolve(st, node->str, node->len, &v, &kind))
            return 0;
        if (kind != LUSTY_MUSTACHE_STRING && kind != LUSTY_MUSTACHE_NUMBER)
            return 0;
        lusty_buf_clear(&st->scratch);
        d->to_string(d->ud, v, &st->scratch);
        name = st->scratch.data ? st->scratch.data : "";
        len = st->scratch.len;
    }
    *out = st->partials->get(st->partials->ud, name, len, &perr);
    if (!*out && perr)
        rc = fail(st, tpl, node, LUSTY_ERUNTIME, "%s '%.*s': %s",
                  node->kind == LUSTY__MN_PARENT ? "parent" : "partial", (int)len, name, perr);
    lusty_free(perr);
    return rc;
}

/* {{>name}} and {{<name}}...{{/name}}. */
static int include(render_t *st, const lusty_mustache_t *tpl, const lusty__mnode_t *node)
{
    const lusty_mustache_t *inc;
    int rc = find_template(st, tpl, node, &inc);
    if (rc < 0 || !inc)
        return rc;
    rc = nest(st, tpl, node);
    if (rc < 0)
        return rc;

    size_t old = indent_push(st, node->indent, node->indent_len);
    scope_t scope = {node, tpl, st->scope};
    const scope_t *saved = st->scope;
    if (node->kind == LUSTY__MN_PARENT)
        st->scope = &scope;
    rc = render_nodes(st, inc, inc->nodes, inc->nnodes);
    st->scope = saved;
    indent_pop(st, old);
    st->nesting--;
    return rc;
}

/* {{$name}}: the outermost parent that overrides the block wins, so that a
 * template's overrides beat those of the parents it extends. */
static int block(render_t *st, const lusty_mustache_t *tpl, const lusty__mnode_t *node)
{
    const lusty__mnode_t *body = node;
    const lusty_mustache_t *body_tpl = tpl;
    for (const scope_t *s = st->scope; s; s = s->up) {
        for (size_t i = 0; i < s->parent->nkids; i++) {
            const lusty__mnode_t *b = &s->parent->kids[i];
            if (b->len == node->len && memcmp(b->str, node->str, b->len) == 0) {
                body = b;
                body_tpl = s->tpl;
            }
        }
    }
    size_t old = indent_push(st, node->indent, node->indent_len);
    int rc = render_nodes(st, body_tpl, body->kids, body->nkids);
    indent_pop(st, old);
    return rc;
}

static int render_nodes(render_t *st, const lusty_mustache_t *tpl, const lusty__mnode_t *nodes,
                        size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const lusty__mnode_t *node = &nodes[i];
        if ((node->flags & LUSTY__MN_BOL) && st->indent.len && at_line_start(st))
            lusty_buf_append(st->out, st->indent.data, st->indent.len);
        switch (node->kind) {
        case LUSTY__MN_TEXT:
            lusty_buf_append(st->out, node->str, node->len);
            break;
        case LUSTY__MN_VAR:
        case LUSTY__MN_RAW:
            rc = interpolate(st, tpl, node);
            break;
        case LUSTY__MN_SECTION:
        case LUSTY__MN_INVERTED:
            rc = section(st, tpl, node);
            break;
        case LUSTY__MN_PARTIAL:
        case LUSTY__MN_PARENT:
            rc = include(st, tpl, node);
            break;
        case LUSTY__MN_BLOCK:
            rc = block(st, tpl, node);
            break;
        default:
            assert(0 && "unknown node");
            break;
        }
    }
    return rc;
}

int lusty_mustache_render(const lusty_mustache_t *tpl, const lusty_mustache_data_t *data,
                          const void *root, const lusty_mustache_partials_t *partials,
                          lusty_buf_t *out, lusty_mustache_error_t *err)
{
    assert(tpl && data && out);
    render_t st;
    int rc;

    memset(&st, 0, sizeof(st));
    st.data = data;
    st.partials = partials && partials->get ? partials : NULL;
    st.out = out;
    st.out_start = out->len;
    st.stack = st.frames;
    st.cap = INLINE_FRAMES;
    st.err = err;
    push(&st, root, data->kind(data->ud, root));

    rc = render_nodes(&st, tpl, tpl->nodes, tpl->nnodes);

    if (st.stack != st.frames)
        lusty_free(st.stack);
    lusty_buf_free(&st.indent);
    lusty_buf_free(&st.scratch);
    return rc;
}
