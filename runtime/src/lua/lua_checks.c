/* Budget checks inserted into the app's Lua source.
 *
 * LuaJIT's machine code never calls hooks, so a count hook cannot stop a
 * loop the JIT has compiled, and leaving machine code any other way
 * (longjmp from a signal handler) leaves the Lua state unusable. Instead,
 * the app's own files are loaded with a call to a check at the top of every
 * loop body (after `do` and `repeat`), before every `goto` and at the start
 * of every function body. The check reads one volatile flag, which LuaJIT
 * compiles into a load and a guard that leaves the trace when the watchdog
 * raises the flag (lua_budget.c); then the check raises a Lua error where
 * the app's code was, and the request unwinds like any other error.
 *
 * The rewrite keeps every line where it was (the checks go on existing
 * lines), so error messages and tracebacks point at the user's lines. It
 * reads strings, long strings and comments as Lua does so nothing inside
 * them is touched. Labels are left alone: a statement after `::name::` at
 * the end of a block would change what a forward `goto` may jump over. */
#include "lua_internal.h"

#include <ctype.h>
#include <string.h>

#define CHECK_CALL " __lusty_check();"

/* The level of a long bracket at s (`[[` is 0, `[==[` is 2), or -1. */
static int long_bracket(const char *s, const char *end)
{
    if (s >= end || *s != '[')
        return -1;
    int level = 0;
    const char *p = s + 1;
    while (p < end && *p == '=') {
        level++;
        p++;
    }
    return p < end && *p == '[' ? level : -1;
}

/* The end of a long bracket of `level` opened at s (just past its `]=*]`),
 * or `end` when it is not closed. */
static const char *skip_long(const char *s, const char *end, int level)
{
    const char *p = s + level + 2;
    while (p < end) {
        if (*p == ']') {
            const char *q = p + 1;
            int n = 0;
            while (q < end && *q == '=') {
                n++;
                q++;
            }
            if (n == level && q < end && *q == ']')
                return q + 1;
        }
        p++;
    }
    return end;
}

static bool is_name_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}

static bool is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static bool word_is(const char *s, size_t n, const char *kw)
{
    return strlen(kw) == n && memcmp(s, kw, n) == 0;
}

/* Skips whitespace and comments; returns the next token's start. */
static const char *skip_space(const char *p, const char *end)
{
    while (p < end) {
        if (isspace((unsigned char)*p)) {
            p++;
        } else if (p + 1 < end && p[0] == '-' && p[1] == '-') {
            int level = long_bracket(p + 2, end);
            if (level >= 0) {
                p = skip_long(p + 2, end, level);
            } else {
                while (p < end && *p != '\n')
                    p++;
            }
        } else {
            break;
        }
    }
    return p;
}

/* The end of the token starting at p (not whitespace or a comment). */
static const char *skip_token(const char *p, const char *end)
{
    char c = *p;
    if (is_name_start(c)) {
        while (p < end && is_name_char(*p))
            p++;
        return p;
    }
    if (isdigit((unsigned char)c) || (c == '.' && p + 1 < end && isdigit((unsigned char)p[1]))) {
        /* A sign belongs to the number only after its exponent letter:
         * e/E in decimals, p/P in hexadecimals (where e is a digit). */
        bool hex = c == '0' && p + 1 < end && (p[1] == 'x' || p[1] == 'X');
        const char *start = p;
        while (p < end) {
            char d = *p;
            if ((d == '+' || d == '-') && p > start &&
                (hex ? (p[-1] == 'p' || p[-1] == 'P') : (p[-1] == 'e' || p[-1] == 'E')))
                p++;
            else if (is_name_char(d) || d == '.')
                p++;
            else
                break;
        }
        return p;
    }
    if (c == '"' || c == '\'') {
        p++;
        while (p < end && *p != c && *p != '\n') {
            if (*p == '\\' && p + 1 < end)
                p++;
            p++;
        }
        return p < end ? p + 1 : end;
    }
    int level = long_bracket(p, end);
    if (level >= 0)
        return skip_long(p, end, level);
    return p + 1;
}

void lusty__lua_insert_checks(lusty_buf_t *out, const char *src, size_t len)
{
    const char *p = src, *end = src + len;
    const char *copied = src; /* everything before this is in `out` */
    /* Inside `function [name] (`: the check goes after the matching `)`. */
    enum { NONE, FUNC_HEAD, FUNC_PARAMS } state = NONE;
    lusty_buf_puts(out, "local __lusty_check = __lusty_budget_check;");
    for (;;) {
        p = skip_space(p, end);
        if (p >= end)
            break;
        const char *tok = p;
        p = skip_token(p, end);
        size_t n = (size_t)(p - tok);
        if (state == FUNC_HEAD) {
            if (n == 1 && *tok == '(')
                state = FUNC_PARAMS;
            continue;
        }
        if (state == FUNC_PARAMS) {
            if (n == 1 && *tok == ')') {
                lusty_buf_append(out, copied, (size_t)(p - copied));
                lusty_buf_puts(out, CHECK_CALL);
                copied = p;
                state = NONE;
            }
            continue;
        }
        if (!is_name_start(*tok))
            continue;
        if (word_is(tok, n, "do") || word_is(tok, n, "repeat")) {
            lusty_buf_append(out, copied, (size_t)(p - copied));
            lusty_buf_puts(out, CHECK_CALL);
            copied = p;
        } else if (word_is(tok, n, "goto")) {
            lusty_buf_append(out, copied, (size_t)(tok - copied));
            lusty_buf_puts(out, CHECK_CALL " ");
            copied = tok;
        } else if (word_is(tok, n, "function")) {
            state = FUNC_HEAD;
        }
    }
    lusty_buf_append(out, copied, (size_t)(end - copied));
}
