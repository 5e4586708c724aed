/* The option parser and help printer shared by every command. */
#include "opt.h"
#include "version.h"

#include "error.h"
#include "lusty/alloc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const cli_opt_t help_opt = {"help", 'h', NULL, "Show this help and exit", CLI_OPT_HELP};

void cli_opt_init(cli_opt_parser_t *p, const cli_cmd_info_t *cmd, int argc, char **argv)
{
    memset(p, 0, sizeof(*p));
    p->cmd = cmd;
    p->argc = argc;
    p->argv = argv;
    p->index = 1;
    p->args = lusty_calloc((size_t)(argc > 0 ? argc : 1), sizeof(char *));
}

void cli_opt_free(cli_opt_parser_t *p)
{
    lusty_free(p->args);
    p->args = NULL;
}

static const cli_opt_t *find_long(const cli_cmd_info_t *cmd, const char *name, size_t len)
{
    for (const cli_opt_t *o = cmd->options; o && o->long_name; o++)
        if (strlen(o->long_name) == len && strncmp(o->long_name, name, len) == 0)
            return o;
    if (len == 4 && strncmp(name, "help", 4) == 0)
        return &help_opt;
    return NULL;
}

static const cli_opt_t *find_short(const cli_cmd_info_t *cmd, char c)
{
    for (const cli_opt_t *o = cmd->options; o && o->long_name; o++)
        if (o->short_name == c)
            return o;
    return c == 'h' ? &help_opt : NULL;
}

static void unknown_long(const cli_cmd_info_t *cmd, const char *name, size_t len)
{
    char *word = lusty_strndup(name, len);
    const char *names[128];
    size_t n = 0;
    for (const cli_opt_t *o = cmd->options; o && o->long_name && n < 126; o++)
        names[n++] = o->long_name;
    names[n++] = "help";
    names[n] = NULL;
    cli_error("unknown option '--%s' for 'lusty %s'", word, cmd->name);
    const char *guess = cli_suggest(word, names);
    if (guess)
        cli_hint("did you mean '--%s'?", guess);
    else
        cli_hint("see 'lusty %s --help'", cmd->name);
    lusty_free(word);
}

/* Reports what an option got: returns its id, or CLI_OPT_ERROR/HELP. */
static int take(cli_opt_parser_t *p, const cli_opt_t *o, const char *inline_value,
                const char *spelled)
{
    p->value = NULL;
    if (o->id == CLI_OPT_HELP) {
        cli_opt_print_help(p->cmd, stdout);
        return CLI_OPT_HELP;
    }
    if (!o->value_name) {
        if (inline_value) {
            cli_error("option '%s' takes no value", spelled);
            return CLI_OPT_ERROR;
        }
        return o->id;
    }
    if (inline_value) {
        p->value = inline_value;
    } else if (p->index < p->argc) {
        p->value = p->argv[p->index++];
    } else {
        cli_error("option '%s' needs a value (%s)", spelled, o->value_name);
        cli_hint("see 'lusty %s --help'", p->cmd->name);
        return CLI_OPT_ERROR;
    }
    return o->id;
}

static int next_short(cli_opt_parser_t *p)
{
    char c = *p->pending_shorts++;
    char spelled[3] = {'-', c, '\0'};
    const cli_opt_t *o = find_short(p->cmd, c);
    if (!o) {
        cli_error("unknown option '-%c' for 'lusty %s'", c, p->cmd->name);
        cli_hint("see 'lusty %s --help'", p->cmd->name);
        return CLI_OPT_ERROR;
    }
    const char *inline_value = NULL;
    if (o->value_name && *p->pending_shorts) {
        inline_value = p->pending_shorts; /* -p8080 */
        p->pending_shorts = NULL;
    }
    if (p->pending_shorts && !*p->pending_shorts)
        p->pending_shorts = NULL;
    return take(p, o, inline_value, spelled);
}

int cli_opt_next(cli_opt_parser_t *p)
{
    if (p->pending_shorts)
        return next_short(p);
    while (p->index < p->argc) {
        char *arg = p->argv[p->index++];
        if (p->only_args || arg[0] != '-' || arg[1] == '\0') {
            p->args[p->nargs++] = arg;
            continue;
        }
        if (strcmp(arg, "--") == 0) {
            p->only_args = true;
            continue;
        }
        if (arg[1] == '-') {
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const cli_opt_t *o = find_long(p->cmd, name, len);
            if (!o) {
                unknown_long(p->cmd, name, len);
                return CLI_OPT_ERROR;
            }
            char spelled[64];
            snprintf(spelled, sizeof(spelled), "--%s", o->long_name);
            return take(p, o, eq ? eq + 1 : NULL, spelled);
        }
        p->pending_shorts = arg + 1;
        return next_short(p);
    }
    return CLI_OPT_END;
}

static void print_option(const cli_opt_t *o, FILE *out)
{
    char left[96];
    int n = 0;
    if (o->short_name)
        n = snprintf(left, sizeof(left), "-%c, --%s", o->short_name, o->long_name);
    else
        n = snprintf(left, sizeof(left), "    --%s", o->long_name);
    if (o->value_name && n > 0 && (size_t)n < sizeof(left))
        snprintf(left + n, sizeof(left) - (size_t)n, " %s", o->value_name);
    if (strlen(left) > 26)
        fprintf(out, "  %s\n  %-26s  %s\n", left, "", o->help);
    else
        fprintf(out, "  %-26s  %s\n", left, o->help);
}

const char *cli_doc_dir(void)
{
    /* The installed copy first: a build tree's source folder may be gone. */
    if (access(LUSTY_INSTALL_DOC_DIR "/server.md", R_OK) == 0)
        return LUSTY_INSTALL_DOC_DIR;
    if (access(LUSTY_SOURCE_DOC_DIR "/server.md", R_OK) == 0)
        return LUSTY_SOURCE_DOC_DIR;
    return NULL;
}

void cli_opt_print_help(const cli_cmd_info_t *cmd, FILE *out)
{
    fprintf(out, "usage: lusty %s %s\n", cmd->name, cmd->usage);
    if (cmd->alias)
        fprintf(out, "   or: lusty %s %s\n", cmd->alias, cmd->usage);
    fprintf(out, "\n%s\n", cmd->summary);
    if (cmd->description)
        fprintf(out, "\n%s", cmd->description);
    if (cmd->description && strstr(cmd->description, "docs/")) {
        /* "docs/server.md" means nothing to a user without our source tree. */
        const char *dir = cli_doc_dir();
        if (dir)
            fprintf(out, "The docs/*.md files named above are in %s/.\n", dir);
        else
            fprintf(out, "The docs/*.md files named above are not installed; see 'man lusty'.\n");
    }
    fprintf(out, "\noptions:\n");
    for (const cli_opt_t *o = cmd->options; o && o->long_name; o++)
        print_option(o, out);
    print_option(&help_opt, out);
}

/* Optimal string alignment distance: insertions, deletions, substitutions
 * and transpositions of neighbours ("inti" is one edit from "init"). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return (size_t)-1;
    static size_t d[65][65];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = d[i - 1][j - 1] + cost;
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

const char *cli_suggest(const char *word, const char *const *candidates)
{
    const char *best = NULL;
    size_t best_distance = (size_t)-1;
    /* A prefix is the likeliest intent ("--temp" for "--template"). */
    size_t wl = strlen(word);
    for (const char *const *c = candidates; *c; c++)
        if (wl >= 3 && strncmp(*c, word, wl) == 0)
            return *c;
    for (const char *const *c = candidates; *c; c++) {
        size_t d = edit_distance(word, *c);
        if (d < best_distance) {
            best_distance = d;
            best = *c;
        }
    }
    /* Allow about one typo per three letters, at least one, at most three. */
    size_t limit = wl / 3;
    if (limit < 1)
        limit = 1;
    if (limit > 3)
        limit = 3;
    return best_distance <= limit ? best : NULL;
}

bool cli_parse_seconds(const char *s, double max, int *ms_out)
{
    if (!s || !*s)
        return false;
    char *end = NULL;
    double seconds = strtod(s, &end);
    if (*end || !(seconds > 0 && seconds <= max))
        return false;
    *ms_out = (int)(seconds * 1000 + 0.5);
    return true;
}

bool cli_parse_int(const char *s, long min, long max, long *out)
{
    if (!s || !*s)
        return false;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max || s[0] == ' ' || s[0] == '+')
        return false;
    *out = v;
    return true;
}
