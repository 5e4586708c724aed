/* `cjson.decode`'s parser: JSON text (RFC 8259) straight onto the Lua
 * stack, one pass, no intermediate tree.
 *
 * Decoding through a cJSON tree cost a malloc and a free per value and per
 * string, and a second walk to make the Lua values: a store answer (one
 * document of a dozen values) took about 1 µs to decode, as much as the
 * SQLite query that found it. Here a string without escapes is pushed
 * from the text itself, and numbers go through strtod as cJSON's did.
 *
 * Strict JSON, as lua-cjson reads it: whitespace is space, tab, CR and LF;
 * numbers follow the JSON grammar (no leading zeros, no bare `.`, no `+`);
 * strings keep \u0000 as a NUL byte; a \u escape of half a surrogate pair
 * is an error; nesting is limited to 1000 arrays and objects. A key seen
 * twice keeps its last value. */
#include "lua_internal.h"

#include "lusty/alloc.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 1000

typedef struct {
    lua_State *L;
    const char *text, *at, *end;
    lusty_buf_t scratch; /* strings with escapes are unescaped here */
    int depth;
} parser_t;

static int parse_value(parser_t *p);

static void skip_space(parser_t *p)
{
    while (p->at < p->end && (*p->at == ' ' || *p->at == '\n' || *p->at == '\r' || *p->at == '\t'))
        p->at++;
}

/* Fails at the current character (counted from 1, as cJSON did). */
static int fail(parser_t *p)
{
    lua_pushfstring(p->L, "Expected value but found invalid token at character %d",
                    (int)(p->at - p->text) + 1);
    return -1;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static void put_utf8(lusty_buf_t *b, unsigned cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    lusty_buf_append(b, u, n);
}

/* One \u escape at p->at (after the backslash and the u), as UTF-8. */
static int parse_unicode(parser_t *p, lusty_buf_t *b)
{
    unsigned cp, low;
    if (p->end - p->at < 4 || hex4(p->at, &cp) != 0)
        return fail(p);
    p->at += 4;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return fail(p); /* half a pair, the second half */
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (p->end - p->at < 6 || p->at[0] != '\\' || p->at[1] != 'u' ||
            hex4(p->at + 2, &low) != 0 || low < 0xDC00 || low > 0xDFFF)
            return fail(p);
        p->at += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    put_utf8(b, cp);
    return 0;
}

/* A string at p->at (after its opening quote), pushed. */
static int parse_string(parser_t *p)
{
    const char *start = p->at;
    while (p->at < p->end && *p->at != '"' && *p->at != '\\')
        p->at++;
    if (p->at == p->end)
        return fail(p);
    if (*p->at == '"') { /* the common case: nothing to unescape */
        lua_pushlstring(p->L, start, (size_t)(p->at - start));
        p->at++;
        return 0;
    }
    lusty_buf_t *b = &p->scratch;
    lusty_buf_clear(b);
    lusty_buf_append(b, start, (size_t)(p->at - start));
    for (;;) {
        if (p->at == p->end)
            return fail(p);
        char c = *p->at;
        if (c == '"')
            break;
        if (c != '\\') {
            const char *run = p->at;
            while (p->at < p->end && *p->at != '"' && *p->at != '\\')
                p->at++;
            lusty_buf_append(b, run, (size_t)(p->at - run));
            continue;
        }
        if (p->end - p->at < 2)
            return fail(p);
        c = p->at[1];
        p->at += 2;
        switch (c) {
        case '"':
        case '\\':
        case '/':
            lusty_buf_putc(b, c);
            break;
        case 'b':
            lusty_buf_putc(b, '\b');
            break;
        case 'f':
            lusty_buf_putc(b, '\f');
            break;
        case 'n':
            lusty_buf_putc(b, '\n');
            break;
        case 'r':
            lusty_buf_putc(b, '\r');
            break;
        case 't':
            lusty_buf_putc(b, '\t');
            break;
        case 'u':
            if (parse_unicode(p, b) != 0)
                return -1;
            break;
        default:
            p->at -= 1;
            return fail(p);
        }
    }
    p->at++;
    lua_pushlstring(p->L, b->data ? b->data : "", b->len);
    return 0;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A number: checked against the grammar, converted by strtod. */
static int parse_number(parser_t *p)
{
    const char *s = p->at, *e = s;
    if (e < p->end && *e == '-')
        e++;
    if (e == p->end || !is_digit(*e))
        return fail(p);
    if (*e == '0')
        e++;
    else
        while (e < p->end && is_digit(*e))
            e++;
    if (e < p->end && *e == '.') {
        e++;
        if (e == p->end || !is_digit(*e)) {
            p->at = e;
            return fail(p);
        }
        while (e < p->end && is_digit(*e))
            e++;
    }
    if (e < p->end && (*e == 'e' || *e == 'E')) {
        e++;
        if (e < p->end && (*e == '+' || *e == '-'))
            e++;
        if (e == p->end || !is_digit(*e)) {
            p->at = e;
            return fail(p);
        }
        while (e < p->end && is_digit(*e))
            e++;
    }
    /* strtod needs a terminated string; the text may not be one. */
    char small[64];
    size_t n = (size_t)(e - s);
    char *copy = n < sizeof small ? small : lusty_malloc(n + 1);
    memcpy(copy, s, n);
    copy[n] = '\0';
    lua_pushnumber(p->L, strtod(copy, NULL));
    if (copy != small)
        lusty_free(copy);
    p->at = e;
    return 0;
}

static int parse_literal(parser_t *p, const char *word, size_t len)
{
    if ((size_t)(p->end - p->at) < len || memcmp(p->at, word, len) != 0)
        return fail(p);
    p->at += len;
    return 0;
}

/* After a member of an array or object: 1 when a comma says another
 * follows, 0 at the closing bracket `close`, -1 (failed) otherwise. */
static int next_member(parser_t *p, char close)
{
    skip_space(p);
    if (p->at < p->end && (*p->at == ',' || *p->at == close))
        return *p->at++ == ',';
    return fail(p);
}

static int parse_array(parser_t *p)
{
    lua_State *L = p->L;
    lua_newtable(L);
    skip_space(p);
    if (p->at < p->end && *p->at == ']') {
        p->at++;
        return 0;
    }
    for (int i = 1;; i++) {
        if (parse_value(p) != 0)
            return -1;
        lua_rawseti(L, -2, i);
        int more = next_member(p, ']');
        if (more <= 0)
            return more;
    }
}

static int parse_object(parser_t *p)
{
    lua_State *L = p->L;
    lua_newtable(L);
    skip_space(p);
    if (p->at < p->end && *p->at == '}') {
        p->at++;
        return 0;
    }
    for (;;) {
        skip_space(p);
        if (p->at == p->end || *p->at != '"')
            return fail(p);
        p->at++;
        if (parse_string(p) != 0)
            return -1;
        skip_space(p);
        if (p->at == p->end || *p->at != ':')
            return fail(p);
        p->at++;
        if (parse_value(p) != 0)
            return -1;
        lua_rawset(L, -3);
        int more = next_member(p, '}');
        if (more <= 0)
            return more;
    }
}

static int parse_value(parser_t *p)
{
    skip_space(p);
    if (p->at == p->end)
        return fail(p);
    /* A value is pushed, a key and a table may be below it. */
    if (!lua_checkstack(p->L, 4)) {
        lua_pushliteral(p->L, "JSON text too deeply nested");
        return -1;
    }
    switch (*p->at) {
    case '"':
        p->at++;
        return parse_string(p);
    case '{':
    case '[': {
        if (++p->depth > MAX_DEPTH)
            return fail(p);
        bool object = *p->at == '{';
        p->at++;
        int rc = object ? parse_object(p) : parse_array(p);
        p->depth--;
        return rc;
    }
    case 't':
        if (parse_literal(p, "true", 4) != 0)
            return -1;
        lua_pushboolean(p->L, 1);
        return 0;
    case 'f':
        if (parse_literal(p, "false", 5) != 0)
            return -1;
        lua_pushboolean(p->L, 0);
        return 0;
    case 'n':
        if (parse_literal(p, "null", 4) != 0)
            return -1;
        lusty__lua_push_null(p->L);
        return 0;
    default:
        return parse_number(p);
    }
}

int lusty__lua_json_decode(lua_State *L, const char *text, size_t len)
{
    int top = lua_gettop(L);
    parser_t p = {.L = L, .text = text, .at = text, .end = text + len};
    lusty_buf_init(&p.scratch);
    int rc = parse_value(&p);
    if (rc == 0) {
        skip_space(&p);
        if (p.at != p.end)
            rc = fail(&p);
    }
    lusty_buf_free(&p.scratch);
    if (rc != 0) {
        /* Keep only the message, on top of what partial values were made. */
        if (lua_gettop(L) > top + 1) {
            lua_replace(L, top + 1);
            lua_settop(L, top + 1);
        }
        return -1;
    }
    return 0;
}
