/* $regex: lusty_regexp(pattern, options, value), an SQL function over
 * PCRE2 (the library of MongoDB's own regular expressions), with the
 * options i (caseless), m (multiline), s (dot matches newline) and x
 * (extended). Patterns are UTF-8; a value that is not valid UTF-8 simply
 * does not match. The compiled pattern is kept with the statement
 * (SQLite's auxiliary data), so a query compiles it once, not per row. */
#include "store_sqlite_internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    pcre2_code *code;
    pcre2_match_data *md;
    char options[8];
} compiled_t;

/* PCRE2 flags for MongoDB's options, or -1 for an unknown letter. */
static int64_t flags_of(const char *options)
{
    uint32_t f = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
    for (const char *o = options; *o; o++) {
        switch (*o) {
        case 'i':
            f |= PCRE2_CASELESS;
            break;
        case 'm':
            f |= PCRE2_MULTILINE;
            break;
        case 's':
            f |= PCRE2_DOTALL;
            break;
        case 'x':
            f |= PCRE2_EXTENDED;
            break;
        default:
            return -1;
        }
    }
    return f;
}

static pcre2_code *compile(const char *pattern, const char *options, char **err)
{
    int64_t flags = flags_of(options);
    if (flags < 0 || strlen(options) >= sizeof((compiled_t *)0)->options) {
        *err = strdup("$options takes the letters i, m, s and x");
        return NULL;
    }
    int code;
    PCRE2_SIZE at;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, (uint32_t)flags,
                                   &code, &at, NULL);
    if (!re) {
        PCRE2_UCHAR msg[200];
        pcre2_get_error_message(code, msg, sizeof msg);
        char tmp[300];
        snprintf(tmp, sizeof tmp, "bad pattern at offset %zu: %s", (size_t)at, (char *)msg);
        *err = strdup(tmp);
    }
    return re;
}

char *lusty__store_regexp_check(const char *pattern, const char *options)
{
    char *err = NULL;
    pcre2_code *re = compile(pattern, options, &err);
    pcre2_code_free(re);
    return err;
}

static void compiled_free(void *p)
{
    compiled_t *c = p;
    pcre2_match_data_free(c->md);
    pcre2_code_free(c->code);
    free(c);
}

static void fn_regexp(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *pattern = (const char *)sqlite3_value_text(argv[0]);
    const char *options = (const char *)sqlite3_value_text(argv[1]);
    const unsigned char *value = sqlite3_value_text(argv[2]);
    if (!pattern || !value) {
        sqlite3_result_int(ctx, 0);
        return;
    }
    if (!options)
        options = "";
    int n = sqlite3_value_bytes(argv[2]);
    compiled_t *c = sqlite3_get_auxdata(ctx, 0);
    if (c && strcmp(c->options, options) == 0) {
        int rc = pcre2_match(c->code, value, (PCRE2_SIZE)n, 0, 0, c->md, NULL);
        sqlite3_result_int(ctx, rc >= 0);
        return;
    }
    char *err = NULL;
    pcre2_code *re = compile(pattern, options, &err);
    if (!re) {
        sqlite3_result_error(ctx, err ? err : "bad pattern", -1);
        free(err);
        return;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        pcre2_code_free(re);
        sqlite3_result_error_nomem(ctx);
        return;
    }
    c->code = re;
    c->md = pcre2_match_data_create_from_pattern(re, NULL);
    snprintf(c->options, sizeof c->options, "%s", options);
    int rc = pcre2_match(c->code, value, (PCRE2_SIZE)n, 0, 0, c->md, NULL);
    sqlite3_result_int(ctx, rc >= 0);
    /* SQLite keeps it for the next rows, or frees it now. */
    sqlite3_set_auxdata(ctx, 0, c, compiled_free);
}

int lusty__store_regexp_register(sqlite3 *db)
{
    return sqlite3_create_function(db, "lusty_regexp", 3,
                                   SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, NULL,
                                   fn_regexp, NULL, NULL);
}
