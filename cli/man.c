/* lusty(1) in roff, from the command tables. */
#include "man.h"

#include "cmd.h"
#include "version.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Writes text with roff's special characters escaped: backslashes, a dot or
 * quote at the start of a line (a request otherwise), and hyphens (which
 * must stay ASCII minus signs in option names for copy and paste). */
static void roff_text(FILE *out, const char *text)
{
    bool line_start = true;
    for (const char *p = text; *p; p++) {
        if (line_start && (*p == '.' || *p == '\''))
            fputs("\\&", out);
        if (*p == '\\')
            fputs("\\e", out);
        else if (*p == '-')
            fputs("\\-", out);
        else
            fputc(*p, out);
        line_start = *p == '\n';
    }
}

static void write_option(FILE *out, const cli_opt_t *o)
{
    fputs(".TP\n", out);
    if (o->short_name)
        fprintf(out, "\\fB\\-%c\\fR, ", o->short_name);
    fputs("\\fB\\-\\-", out);
    roff_text(out, o->long_name);
    fputs("\\fR", out);
    if (o->value_name) {
        fputs(" \\fI", out);
        roff_text(out, o->value_name);
        fputs("\\fR", out);
    }
    fputc('\n', out);
    roff_text(out, o->help);
    fputc('\n', out);
}

/* Writes a --help description: lines indented by two spaces (commands to
 * copy, one per line) stay lines in an indented no-fill block; roff would
 * otherwise run them into the paragraph around them. */
static void write_description(FILE *out, const char *text)
{
    bool in_block = false;
    while (*text) {
        const char *nl = strchr(text, '\n');
        size_t len = nl ? (size_t)(nl - text) : strlen(text);
        bool indented = len > 2 && text[0] == ' ' && text[1] == ' ';
        if (indented != in_block) {
            fputs(indented ? ".RS\n.nf\n" : ".fi\n.RE\n", out);
            in_block = indented;
        }
        char *line = strndup(indented ? text + 2 : text, indented ? len - 2 : len);
        if (line) {
            roff_text(out, line);
            free(line);
        }
        fputc('\n', out);
        text += len + (nl != NULL);
    }
    if (in_block)
        fputs(".fi\n.RE\n", out);
}

static void write_command(FILE *out, const cli_cmd_info_t *info)
{
    fputs(".SS \"lusty ", out);
    roff_text(out, info->name);
    fputc(' ', out);
    roff_text(out, info->usage);
    fputs("\"\n", out);
    roff_text(out, info->summary);
    fputs(".\n", out);
    if (info->alias) {
        fputs("Also \\fBlusty ", out);
        roff_text(out, info->alias);
        fputs("\\fR.\n", out);
    }
    if (info->description) {
        fputs(".PP\n", out);
        write_description(out, info->description);
    }
    if (info->options && info->options->long_name) {
        fputs(".PP\nOptions:\n.RS\n", out);
        for (const cli_opt_t *o = info->options; o->long_name; o++)
            write_option(out, o);
        fputs(".RE\n", out);
    }
}

void cli_man_write(FILE *out)
{
    fprintf(out, ".TH LUSTY 1 \"\" \"lusty %s\" \"User Commands\"\n", LUSTY_VERSION_STRING);
    fputs(".SH NAME\nlusty \\- build, fetch and serve Lusty web apps\n"
          ".SH SYNOPSIS\n.B lusty\n[\\fB\\-\\-version\\fR] [\\fB\\-\\-help\\fR] "
          "\\fIcommand\\fR [\\fIargs\\fR]\n"
          ".SH DESCRIPTION\n"
          "Lusty is an event\\-bus web framework: an app is a set of Lua handler modules\n"
          "subscribed to namespaced channels, and every HTTP request is a series of\n"
          "publishes on those channels.\n"
          ".B lusty\n"
          "creates projects from templates, fetches their handler repositories, checks the\n"
          "services they need, and serves them on its embedded runtime (an event bus,\n"
          "an HTTP/1.1 server and LuaJIT).\n"
          ".PP\n"
          "Every command accepts \\fB\\-h\\fR, \\fB\\-\\-help\\fR; "
          "\\fBlusty help\\fR \\fIcommand\\fR prints the same.\n"
          ".SH COMMANDS\n",
          out);
    for (const cli_cmd_t *c = cli_commands; c->info; c++)
        if (!c->info->hidden)
            write_command(out, c->info);
    fputs(
        ".SH EXIT STATUS\n"
        ".TP\n0\nSuccess.\n"
        ".TP\n1\nThe operation failed.\n"
        ".TP\n2\nUsage error: an unknown command or option, or a bad option value.\n"
        ".SH ENVIRONMENT\n"
        ".TP\n.B NO_COLOR\nWhen set and not empty, no colour is used. Colour is only used on a "
        "terminal.\n"
        ".TP\n.B LUSTY_TEMPLATES\nColon\\-separated folders searched first for templates.\n"
        ".TP\n.B XDG_CONFIG_HOME\nUser templates are in \\fI$XDG_CONFIG_HOME/lusty/templates\\fR "
        "(default \\fI~/.config/lusty/templates\\fR).\n"
        ".TP\n.B LUSTY_HOST\\fR, \\fBLUSTY_PORT\n"
        "Where \\fBlusty server\\fR listens, over \\fIlusty.json\\fR (options win over both).\n"
        ".TP\n.B LUSTY_MONGODB_URI\nThe MongoDB that \\fBbootstrap\\fR and \\fBdoctor\\fR check, "
        "over "
        "\\fIlusty.json\\fR.\n"
        ".TP\n.B LUSTY_NO_LEAN_SERVER\nWhen set, \\fBlusty server\\fR serves in-process instead of "
        "running the lean \\fIlusty\\-serve\\fR binary.\n"
        ".SH FILES\n"
        ".TP\n.I lusty.json\nThe project manifest: name, server, handlers, MongoDB.\n"
        ".TP\n.I app/config.lua\nThe app configuration: subscribers, publishers, context.\n"
        ".TP\n.I lusty.lock\nWhat each handler of \\fIlusty.json\\fR resolved to (commit or "
        "sha256).\n"
        ".TP\n.I lusty_modules/\nThe fetched handler repositories.\n"
        ".SH SHELL COMPLETION\n"
        "\\fBlusty completion\\fR \\fIbash\\fR|\\fIzsh\\fR|\\fIfish\\fR prints the completion "
        "script for a shell;\n"
        "an installed lusty puts them where each shell looks for them.\n"
        "To enable one for your user only, see \\fBlusty completion \\-\\-help\\fR above.\n"
        ".SH SEE ALSO\n"
        "The guides, installed in \\fI" LUSTY_INSTALL_DOC_DIR "\\fR:\n"
        ".TP\n.I server.md\n\\fBlusty server\\fR: options, \\fIlusty.json\\fR keys, limits.\n"
        ".TP\n.I app-serving.md\nHow a request runs through the app; reloading; time budgets.\n"
        ".TP\n.I builtins.md\nThe built\\-in handler modules: router, output, errors, logging.\n"
        ".TP\n.I templates.md\nThe project templates of \\fBlusty init\\fR.\n"
        ".TP\n.I bootstrap.md\n\\fBlusty bootstrap\\fR: handlers, \\fIlusty.lock\\fR.\n"
        ".TP\n.I lua-host.md\nThe Lua host of \\fBlusty exec\\fR and the server.\n"
        ".PP\n"
        "\\fBgit\\fR(1), \\fBnginx\\fR(8), \\fBmongod\\fR(1).\n",
        out);
}
