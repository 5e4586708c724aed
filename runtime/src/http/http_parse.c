/* The request parser: http-parser behind the small interface of internal.h.
 *
 * http-parser is unmaintained upstream; llhttp is the way out, and keeping
 * every http-parser call in this one file makes that a one-file change.
 *
 * Strings of the head are copied into two buffers (the target and the
 * header lines), because http-parser hands them over in pieces that may
 * straddle reads. Header positions are kept as offsets while the buffers
 * grow and turned into pointers once the head is complete. */
#include "http_internal.h"

#include "lusty/alloc.h"
#include "lusty/buf.h"
#include "lusty/error.h"

#include <http_parser.h>
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

/* Bodies up to this size live in the heap; larger ones in pages of their
 * own (mmap), which go back to the system the moment they are released,
 * however the heap is fragmented by the bodies around them. */
#define BODY_HEAP_MAX (64 * 1024)

typedef enum { LAST_NONE, LAST_FIELD, LAST_VALUE } last_cb_t;

struct lusty__http_parser_s {
    http_parser hp;
    lusty_http_limits_t limits;
    lusty_buf_t url;  /* target, then at head end "\0path\0query\0" */
    lusty_buf_t head; /* "name\0value\0" for every header */
    /* The body: `cap` bytes (plus a NUL) at `data`, mapped when over
     * BODY_HEAP_MAX. Its capacity is charged to the worker's budget. */
    char *body;
    size_t body_len, body_cap;
    bool body_mapped;
    size_t *budget_used; /* the worker's bytes of bodies held; NULL: no budget */
    size_t budget_max;
    size_t *offsets; /* name and value offsets into `head`, two per header */
    size_t noffsets, offsets_cap;
    lusty_http_header_t *headers;
    size_t headers_cap;
    last_cb_t last;
    bool started, head_done, complete, want_continue, has_body;
    /* The head scanner (see scan_head()): whether the current line has
     * bytes other than CR, and whether a non-empty line was seen;
     * `scan_done` once the empty line ending the head went by. */
    bool in_line, seen_line, scan_done;
    /* Bytes of the head so far. http-parser's own count (nread) is reset
     * inside the head, so we count the pieces it hands us, plus the
     * request line's and each header line's fixed parts. */
    size_t head_bytes;
    int error_status;
    const char *error_reason;
    lusty_http_request_t req;
};

static int fail(lusty__http_parser_t *p, int status, const char *reason)
{
    if (!p->error_status) {
        p->error_status = status;
        p->error_reason = reason;
    }
    return -1;
}

static int on_message_begin(http_parser *hp)
{
    lusty__http_parser_t *p = hp->data;
    p->started = true;
    p->head_bytes = 16; /* " HTTP/1.1\r\n" and the method, roughly */
    return 0;
}

static int on_url(http_parser *hp, const char *at, size_t len)
{
    lusty__http_parser_t *p = hp->data;
    if (p->url.len + len > p->limits.url_bytes)
        return fail(p, 414, "request target too long");
    if (memchr(at, '\0', len))
        return fail(p, 400, "NUL in the request target");
    p->head_bytes += len;
    lusty_buf_append(&p->url, at, len);
    return 0;
}

static void push_offset(lusty__http_parser_t *p, size_t off)
{
    p->offsets = lusty_grow(p->offsets, &p->offsets_cap, p->noffsets + 1, sizeof(size_t));
    p->offsets[p->noffsets++] = off;
}

/* The characters of a token (RFC 9110 5.6.2), the only ones a header
 * name may have: http-parser, as built by distributions, lets a space
 * through, and "Name : value" is a request-smuggling classic. Each maps
 * to itself in lower case; every other byte to 0. */
/* clang-format off */
static const unsigned char name_char[256] = {
    ['!'] = '!', ['#'] = '#', ['$'] = '$', ['%'] = '%', ['&'] = '&', ['\''] = '\'',
    ['*'] = '*', ['+'] = '+', ['-'] = '-', ['.'] = '.', ['^'] = '^', ['_'] = '_',
    ['`'] = '`', ['|'] = '|', ['~'] = '~',
    ['0'] = '0', ['1'] = '1', ['2'] = '2', ['3'] = '3', ['4'] = '4',
    ['5'] = '5', ['6'] = '6', ['7'] = '7', ['8'] = '8', ['9'] = '9',
    ['a'] = 'a', ['b'] = 'b', ['c'] = 'c', ['d'] = 'd', ['e'] = 'e', ['f'] = 'f', ['g'] = 'g',
    ['h'] = 'h', ['i'] = 'i', ['j'] = 'j', ['k'] = 'k', ['l'] = 'l', ['m'] = 'm', ['n'] = 'n',
    ['o'] = 'o', ['p'] = 'p', ['q'] = 'q', ['r'] = 'r', ['s'] = 's', ['t'] = 't', ['u'] = 'u',
    ['v'] = 'v', ['w'] = 'w', ['x'] = 'x', ['y'] = 'y', ['z'] = 'z',
    ['A'] = 'a', ['B'] = 'b', ['C'] = 'c', ['D'] = 'd', ['E'] = 'e', ['F'] = 'f', ['G'] = 'g',
    ['H'] = 'h', ['I'] = 'i', ['J'] = 'j', ['K'] = 'k', ['L'] = 'l', ['M'] = 'm', ['N'] = 'n',
    ['O'] = 'o', ['P'] = 'p', ['Q'] = 'q', ['R'] = 'r', ['S'] = 's', ['T'] = 't', ['U'] = 'u',
    ['V'] = 'v', ['W'] = 'w', ['X'] = 'x', ['Y'] = 'y', ['Z'] = 'z',
};
/* clang-format on */

static int on_header_field(http_parser *hp, const char *at, size_t len)
{
    lusty__http_parser_t *p = hp->data;
    if (p->head_done)
        return 0; /* trailers of a chunked body are not kept */
    if (p->last != LAST_FIELD) {
        if (p->last == LAST_VALUE)
            lusty_buf_putc(&p->head, '\0');
        push_offset(p, p->head.len);
        p->last = LAST_FIELD;
        p->head_bytes += 4; /* ": " and CRLF */
    }
    /* Checked and lowered in one pass, straight into the head (past its
     * end until the size is checked). */
    lusty_buf_reserve(&p->head, len);
    char *out = p->head.data + p->head.len;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = name_char[(unsigned char)at[i]];
        if (!c)
            return fail(p, 400, "invalid header name");
        out[i] = (char)c;
    }
    p->head_bytes += len;
    if (p->head_bytes > p->limits.header_bytes)
        return fail(p, 431, "request head too large");
    p->head.len += len;
    p->head.data[p->head.len] = '\0';
    return 0;
}

static int on_header_value(http_parser *hp, const char *at, size_t len)
{
    lusty__http_parser_t *p = hp->data;
    if (p->head_done)
        return 0;
    if (p->last != LAST_VALUE) {
        lusty_buf_putc(&p->head, '\0');
        push_offset(p, p->head.len);
        p->last = LAST_VALUE;
    }
    if (memchr(at, '\0', len))
        return fail(p, 400, "NUL in a header value");
    p->head_bytes += len;
    if (p->head_bytes > p->limits.header_bytes)
        return fail(p, 431, "request head too large");
    lusty_buf_append(&p->head, at, len);
    return 0;
}

/* Gives the body's memory back (to the system when it was mapped) and
 * its charge back to the budget. */
static void body_release(lusty__http_parser_t *p)
{
    if (p->body) {
        if (p->body_mapped)
            munmap(p->body, p->body_cap + 1);
        else
            lusty_free(p->body);
    }
    if (p->budget_used)
        *p->budget_used -= p->body_cap;
    p->body = NULL;
    p->body_len = p->body_cap = 0;
    p->body_mapped = false;
}

/* Makes room for a body of `need` bytes. A declared length (`exact`) is
 * allocated as it is; a chunked body grows by doubling, up to the body
 * limit. False when the worker's budget for bodies cannot take it. */
static bool body_reserve(lusty__http_parser_t *p, size_t need, bool exact)
{
    if (need <= p->body_cap)
        return true;
    size_t cap = need;
    if (!exact) {
        cap = p->body_cap * 2 > need ? p->body_cap * 2 : need;
        if (cap < 1024)
            cap = 1024;
        if (cap > p->limits.body_bytes)
            cap = p->limits.body_bytes > need ? p->limits.body_bytes : need;
    }
    if (p->budget_used && *p->budget_used - p->body_cap + cap > p->budget_max)
        return false;
    char *data;
    bool mapped = cap > BODY_HEAP_MAX;
    if (mapped) {
        data = mmap(NULL, cap + 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (data == MAP_FAILED)
            return false;
        if (p->body_len)
            memcpy(data, p->body, p->body_len);
    } else {
        data = lusty_malloc(cap + 1);
        if (p->body_len)
            memcpy(data, p->body, p->body_len);
    }
    size_t len = p->body_len;
    body_release(p);
    p->body = data;
    p->body_len = len;
    p->body_cap = cap;
    p->body_mapped = mapped;
    p->body[len] = '\0';
    if (p->budget_used)
        *p->budget_used += cap;
    return true;
}

/* Whether stored header name `have` (lower case, see on_header_field())
 * is `name` in any case. The first byte rules out most names before a
 * full comparison (this runs for several names per request). */
static bool name_is(const char *have, const char *name)
{
    return have[0] == name_char[(unsigned char)name[0]] && strcasecmp(have, name) == 0;
}

static size_t count_header(const lusty_http_request_t *req, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < req->nheaders; i++)
        n += name_is(req->headers[i].name, name);
    return n;
}

/* Splits the target into path and query, appended to the url buffer. */
static int split_target(lusty__http_parser_t *p)
{
    size_t tlen = p->url.len;
    /* Room for the copies below first, so that `t` stays valid. */
    lusty_buf_reserve(&p->url, tlen + 4);
    const char *t = p->url.data;
    size_t path_start = 0;
    if (tlen == 0)
        return fail(p, 400, "empty request target");
    if (t[0] != '/' && !(tlen == 1 && t[0] == '*')) {
        /* The absolute form (a proxy-style "http://host/path"): its path
         * is the path. Anything else is not a target an origin serves. */
        const char *scheme_end = strstr(t, "://");
        if (!scheme_end ||
            (strncasecmp(t, "http://", 7) != 0 && strncasecmp(t, "https://", 8) != 0))
            return fail(p, 400, "request target is not a path");
        const char *slash = strchr(scheme_end + 3, '/');
        path_start = slash ? (size_t)(slash - t) : tlen;
    }
    const char *q = memchr(t + path_start, '?', tlen - path_start);
    size_t path_end = q ? (size_t)(q - t) : tlen;
    for (size_t i = path_start; i + 2 < path_end; i++)
        if (t[i] == '%' && t[i + 1] == '0' && t[i + 2] == '0')
            return fail(p, 400, "NUL in the request target");
    size_t path_off = p->url.len + 1;
    lusty_buf_putc(&p->url, '\0');
    if (path_start == path_end)
        lusty_buf_putc(&p->url, '/');
    else
        lusty_buf_append(&p->url, p->url.data + path_start, path_end - path_start);
    size_t query_off = p->url.len + 1;
    lusty_buf_putc(&p->url, '\0');
    if (q)
        lusty_buf_append(&p->url, p->url.data + path_end + 1, tlen - path_end - 1);
    p->req.target = p->url.data;
    p->req.path = p->url.data + path_off;
    p->req.query = p->url.data + query_off;
    return 0;
}

static void trim_trailing(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
}

static int on_headers_complete(http_parser *hp)
{
    lusty__http_parser_t *p = hp->data;
    if (p->head_done)
        return 0;
    if (p->last == LAST_VALUE)
        lusty_buf_putc(&p->head, '\0');
    p->last = LAST_NONE;
    if (split_target(p) != 0)
        return -1;

    size_t n = p->noffsets / 2;
    p->headers = lusty_grow(p->headers, &p->headers_cap, n ? n : 1, sizeof(*p->headers));
    for (size_t i = 0; i < n; i++) {
        p->headers[i].name = p->head.data + p->offsets[2 * i];
        char *value = p->head.data + p->offsets[2 * i + 1];
        trim_trailing(value);
        p->headers[i].value = value;
    }
    p->req.headers = p->headers;
    p->req.nheaders = n;
    p->req.method = http_method_str((enum http_method)hp->method);
    p->req.version_major = hp->http_major;
    p->req.version_minor = hp->http_minor;
    p->head_done = true;

    if (hp->http_major == 0)
        return fail(p, 400, "HTTP/0.9 is not served");
    if (hp->http_major > 1)
        return fail(p, 505, "HTTP version not supported");
    bool http11 = hp->http_minor >= 1;
    size_t nhost = count_header(&p->req, "host"), nte = count_header(&p->req, "transfer-encoding");
    if (http11 && nhost == 0)
        return fail(p, 400, "HTTP/1.1 request without Host");
    if (nhost > 1)
        return fail(p, 400, "more than one Host header");
    if (nte > 0) {
        /* Only a lone `chunked` is understood. A list such as `gzip,
         * chunked` is a coding we cannot undo (501, as nginx answers); a
         * second header or one on HTTP/1.0, which has no chunked framing,
         * is how framing disagreements between a proxy and us begin. */
        if (!http11)
            return fail(p, 400, "Transfer-Encoding on HTTP/1.0");
        if (nte > 1)
            return fail(p, 400, "more than one Transfer-Encoding header");
        if (strcasecmp(lusty_http_request_header(&p->req, "transfer-encoding"), "chunked") != 0)
            return fail(p, 501, "transfer coding not implemented");
    }
    bool chunked = (hp->flags & F_CHUNKED) != 0;
    bool has_length = !chunked && hp->content_length != ULLONG_MAX && hp->content_length > 0;
    if (has_length && hp->content_length > p->limits.body_bytes)
        return fail(p, 413, "request body too large");
    /* A declared body is held whole: its room is taken at once, so that
     * a server full of half-sent bodies refuses the next one up front. */
    if (has_length && !body_reserve(p, (size_t)hp->content_length, true))
        return fail(p, 503, "request bodies in memory at the body_memory_bytes limit");
    p->has_body = chunked || has_length;
    const char *expect = lusty_http_request_header(&p->req, "expect");
    if (expect && http11 && strcasecmp(expect, "100-continue") == 0 && p->has_body)
        p->want_continue = true;
    return 0;
}

/* A chunk whose declared size would take the body over the limit is
 * refused before any of it is read. */
static int on_chunk_header(http_parser *hp)
{
    lusty__http_parser_t *p = hp->data;
    if (hp->content_length > p->limits.body_bytes - p->body_len)
        return fail(p, 413, "request body too large");
    if (!body_reserve(p, p->body_len + (size_t)hp->content_length, false))
        return fail(p, 503, "request bodies in memory at the body_memory_bytes limit");
    return 0;
}

static int on_body(http_parser *hp, const char *at, size_t len)
{
    lusty__http_parser_t *p = hp->data;
    if (p->body_len + len > p->limits.body_bytes)
        return fail(p, 413, "request body too large");
    if (!body_reserve(p, p->body_len + len, false))
        return fail(p, 503, "request bodies in memory at the body_memory_bytes limit");
    memcpy(p->body + p->body_len, at, len);
    p->body_len += len;
    p->body[p->body_len] = '\0';
    return 0;
}

static int on_message_complete(http_parser *hp)
{
    lusty__http_parser_t *p = hp->data;
    p->complete = true;
    p->want_continue = false;
    p->req.body = p->has_body ? (p->body ? p->body : "") : NULL;
    p->req.body_len = p->body_len;
    p->req.keep_alive = http_should_keep_alive(hp) && !hp->upgrade;
    /* Stop here: the next pipelined request waits until this one is
     * answered. */
    http_parser_pause(hp, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_chunk_header = on_chunk_header,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

int lusty__http_parser_new(lusty__http_parser_t **out, const lusty_http_limits_t *limits)
{
    lusty__http_parser_t *p = lusty_calloc(1, sizeof(*p));
    if (limits)
        p->limits = *limits;
    lusty_http_limits_fill(&p->limits);
    http_parser_init(&p->hp, HTTP_REQUEST);
    p->hp.data = p;
    *out = p;
    return 0;
}

void lusty__http_parser_free(lusty__http_parser_t *p)
{
    if (!p)
        return;
    lusty_buf_free(&p->url);
    lusty_buf_free(&p->head);
    body_release(p);
    lusty_free(p->offsets);
    lusty_free(p->headers);
    lusty_free(p);
}

static int status_of(enum http_errno e)
{
    return e == HPE_HEADER_OVERFLOW ? 431 : 400;
}

/* Looks at the raw bytes of the head for obs-fold (a header line that
 * starts with a space or tab, continuing the previous one). http-parser
 * unfolds such lines without a trace in its callbacks, so `Transfer-Encoding:`
 * followed by a folded ` chunked` would frame the body as chunked while a
 * proxy in front of us may not: refused outright, as RFC 9112 allows and
 * nginx does. Returns false on a fold. */
static bool scan_head(lusty__http_parser_t *p, const char *data, size_t len)
{
    /* Only a line's first bytes matter: the rest of a line is skipped with
     * memchr (byte by byte, this scan cost as much as parsing the head). */
    bool in_line = p->in_line, seen = p->seen_line;
    const char *s = data, *end = data + len;
    while (s < end) {
        if (!in_line) {
            char ch = *s;
            if (ch == '\r') {
                s++;
                continue;
            }
            if (ch == '\n') {
                if (seen) {
                    p->scan_done = true; /* the empty line: the body follows */
                    break;
                }
                s++;
                continue;
            }
            if (seen && (ch == ' ' || ch == '\t'))
                return false;
            in_line = true;
        }
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        if (!nl)
            break;
        seen = true;
        in_line = false;
        s = nl + 1;
    }
    p->in_line = in_line;
    p->seen_line = seen;
    return true;
}

lusty__http_parse_result_t lusty__http_parse(lusty__http_parser_t *p, const char *data, size_t len,
                                             size_t *consumed)
{
    *consumed = 0;
    if (p->error_status)
        return LUSTY__HTTP_ERROR;
    if (len == 0)
        return LUSTY__HTTP_MORE; /* a zero length would mean end of input to http-parser */
    if (!p->scan_done && !scan_head(p, data, len)) {
        fail(p, 400, "obs-fold (a header line starting with whitespace)");
        return LUSTY__HTTP_ERROR;
    }
    size_t n = http_parser_execute(&p->hp, &settings, data, len);
    *consumed = n;
    if (p->complete)
        return LUSTY__HTTP_REQUEST;
    enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);
    if (p->error_status)
        return LUSTY__HTTP_ERROR;
    if (e != HPE_OK) {
        p->error_status = status_of(e);
        p->error_reason = http_errno_description(e);
        return LUSTY__HTTP_ERROR;
    }
    if (!p->head_done && p->head_bytes > p->limits.header_bytes) {
        fail(p, 431, "request head too large");
        return LUSTY__HTTP_ERROR;
    }
    return LUSTY__HTTP_MORE;
}

const lusty_http_request_t *lusty__http_parser_request(const lusty__http_parser_t *p)
{
    return p->complete ? &p->req : NULL;
}

void lusty__http_parser_next(lusty__http_parser_t *p)
{
    lusty_buf_clear(&p->url);
    lusty_buf_clear(&p->head);
    /* A body's memory is not kept for the next request: an idle
     * connection costs its read buffer and nothing more. */
    body_release(p);
    p->noffsets = 0;
    p->last = LAST_NONE;
    p->started = p->head_done = p->complete = p->want_continue = p->has_body = false;
    p->head_bytes = 0;
    p->in_line = false;
    p->seen_line = p->scan_done = false;
    memset(&p->req, 0, sizeof(p->req));
    http_parser_pause(&p->hp, 0);
}

void lusty__http_parser_set_budget(lusty__http_parser_t *p, size_t *used, size_t max)
{
    p->budget_used = used;
    p->budget_max = max;
}

bool lusty__http_parser_started(const lusty__http_parser_t *p)
{
    return p->started;
}

bool lusty__http_parser_head_done(const lusty__http_parser_t *p)
{
    return p->head_done;
}

bool lusty__http_parser_take_continue(lusty__http_parser_t *p)
{
    bool want = p->want_continue && !p->complete;
    p->want_continue = false;
    return want;
}

int lusty__http_parser_error_status(const lusty__http_parser_t *p)
{
    return p->error_status;
}

const char *lusty__http_parser_error_reason(const lusty__http_parser_t *p)
{
    return p->error_reason ? p->error_reason : "";
}

const char *lusty_http_request_header(const lusty_http_request_t *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (name_is(req->headers[i].name, name))
            return req->headers[i].value;
    return NULL;
}

void lusty_http_limits_fill(lusty_http_limits_t *l)
{
    if (!l->header_bytes)
        l->header_bytes = LUSTY_HTTP_DEFAULT_HEADER_BYTES;
    if (!l->url_bytes)
        l->url_bytes = LUSTY_HTTP_DEFAULT_URL_BYTES;
    if (!l->body_bytes)
        l->body_bytes = LUSTY_HTTP_DEFAULT_BODY_BYTES;
    if (!l->header_timeout_ms)
        l->header_timeout_ms = LUSTY_HTTP_DEFAULT_HEADER_TIMEOUT_MS;
    if (!l->idle_timeout_ms)
        l->idle_timeout_ms = LUSTY_HTTP_DEFAULT_IDLE_TIMEOUT_MS;
    if (!l->max_connections)
        l->max_connections = LUSTY_HTTP_DEFAULT_MAX_CONNECTIONS;
    if (!l->max_connections_per_address)
        l->max_connections_per_address = LUSTY_HTTP_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS;
    if (!l->body_memory_bytes)
        l->body_memory_bytes = LUSTY_HTTP_DEFAULT_BODY_MEMORY_BYTES;
}
