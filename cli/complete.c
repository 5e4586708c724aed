/* The completion engine behind `lusty __complete`. */
#include "complete.h"

#include "cmd.h"
#include "lusty/alloc.h"
#include "project.h"
#include "template.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const cli_opt_t global_options[] = {
    {"version", 'V', NULL, "Print the version and exit", 0},
    {"help", 'h', NULL, "Show help and exit", 0},
    {NULL, 0, NULL, NULL, 0},
};

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Prints one candidate when it extends the current word. */
static void offer(FILE *out, const char *prefix, const char *candidate, const char *description)
{
    if (!starts_with(candidate, prefix))
        return;
    /* Descriptions are one line for every shell. */
    fputs(candidate, out);
    fputc('\t', out);
    for (const char *p = description ? description : ""; *p && *p != '\n'; p++)
        fputc(*p == '\t' ? ' ' : *p, out);
    fputc('\n', out);
}

static void offer_commands(FILE *out, const char *prefix)
{
    for (const cli_cmd_t *c = cli_commands; c->info; c++)
        if (!c->info->hidden)
            offer(out, prefix, c->info->name, c->info->summary);
    offer(out, prefix, "help", "Show help for a command");
}

static void offer_templates(FILE *out, const char *prefix)
{
    cli_template_t **list = NULL;
    size_t count = 0;
    cli_template_list(&list, &count);
    for (size_t i = 0; i < count; i++)
        offer(out, prefix, list[i]->name, list[i]->description);
    cli_template_list_free(list, count);
}

/* The handler names of the project around the current folder. */
static void offer_handlers(FILE *out, const char *prefix)
{
    cli_project_t *project = NULL;
    char *err = NULL;
    if (cli_project_open(&project, ".", &err) != 0) {
        lusty_free(err);
        return;
    }
    const cJSON *h = NULL;
    cJSON_ArrayForEach(h, cli_project_get(project, "handlers"))
    {
        const cJSON *git = cJSON_GetObjectItemCaseSensitive(h, "git");
        const cJSON *url = cJSON_GetObjectItemCaseSensitive(h, "url");
        const cJSON *src = cJSON_IsString(git) ? git : url;
        offer(out, prefix, h->string, cJSON_IsString(src) ? src->valuestring : "");
    }
    cli_project_free(project);
}

/* Completes a value or argument of the given kind (see opt.h). */
static void offer_kind(FILE *out, const char *kind, const char *prefix)
{
    if (!kind)
        return;
    if (strcmp(kind, "dir") == 0 || strcmp(kind, "file") == 0) {
        fprintf(out, ":%s\n", kind);
    } else if (strcmp(kind, "template") == 0) {
        offer_templates(out, prefix);
    } else if (strcmp(kind, "handler") == 0) {
        offer_handlers(out, prefix);
    } else if (strcmp(kind, "command") == 0) {
        offer_commands(out, prefix);
    } else {
        char *choices = lusty_strdup(kind), *save = NULL;
        for (char *c = strtok_r(choices, "|", &save); c; c = strtok_r(NULL, "|", &save))
            offer(out, prefix, c, "");
        lusty_free(choices);
    }
}

static const cli_opt_t *find_option(const cli_cmd_info_t *cmd, const char *word, size_t len)
{
    for (const cli_opt_t *o = cmd->options; o && o->long_name; o++) {
        if (word[0] == '-' && word[1] == '-' && strlen(o->long_name) == len - 2 &&
            strncmp(o->long_name, word + 2, len - 2) == 0)
            return o;
        if (word[0] == '-' && word[1] != '-' && len == 2 && o->short_name == word[1])
            return o;
    }
    return NULL;
}

void cli_complete(int nwords, char **words, FILE *out)
{
    if (nwords < 1)
        return;
    const char *current = words[nwords - 1];

    /* The command is the first word that is not an option. */
    const cli_cmd_t *cmd = NULL;
    int cmd_index = -1;
    for (int i = 0; i < nwords - 1 && cmd_index < 0; i++) {
        if (words[i][0] == '-')
            continue;
        cmd_index = i;
        cmd = cli_find_command(words[i]);
        if (strcmp(words[i], "help") == 0) {
            if (i == nwords - 2)
                offer_commands(out, current);
            return;
        }
        if (!cmd || cmd->info->hidden)
            return;
    }
    if (!cmd) {
        if (current[0] == '-') {
            for (const cli_opt_t *o = global_options; o->long_name; o++) {
                char name[64];
                snprintf(name, sizeof(name), "--%s", o->long_name);
                offer(out, current, name, o->help);
            }
        } else {
            offer_commands(out, current);
        }
        return;
    }
    const cli_cmd_info_t *info = cmd->info;

    /* Positional arguments complete as the command says, except after a
     * flag that names a kind of its own ("bootstrap --update NAME..."). */
    const char *args_kind = info->args;
    bool only_args = false;
    int positionals = 0;
    for (int i = cmd_index + 1; i < nwords - 1; i++) {
        if (strcmp(words[i], "--") == 0 && !only_args) {
            only_args = true;
            continue;
        }
        const cli_opt_t *o = !only_args && words[i][0] == '-'
                                 ? find_option(info, words[i], strlen(words[i]))
                                 : NULL;
        if (o && !o->value_name && o->complete)
            args_kind = o->complete;
        if (o && o->value_name && !strchr(words[i], '='))
            i++; /* its value */
        else if (only_args || words[i][0] != '-')
            positionals++;
    }
    /* Choices ("route|handler|...") name the first argument only: what
     * follows it (a generator's NAME) is free text. */
    if (positionals > 0 && args_kind && strchr(args_kind, '|'))
        args_kind = NULL;

    if (!only_args) {
        /* The value of the option just before: "--template <TAB>". */
        if (nwords - 2 > cmd_index) {
            const char *prev = words[nwords - 2];
            const cli_opt_t *o = prev[0] == '-' && !strchr(prev, '=')
                                     ? find_option(info, prev, strlen(prev))
                                     : NULL;
            if (o && o->value_name) {
                offer_kind(out, o->complete, current);
                return;
            }
        }
        /* "--template=<TAB>": the value, written after the '='. */
        const char *eq = strchr(current, '=');
        if (starts_with(current, "--") && eq) {
            const cli_opt_t *o = find_option(info, current, (size_t)(eq - current));
            if (o && o->value_name && o->complete) {
                bool paths = strcmp(o->complete, "dir") == 0 || strcmp(o->complete, "file") == 0;
                if (paths) {
                    offer_kind(out, o->complete, eq + 1);
                } else {
                    /* Candidates keep the "--name=" part so shells replace the word whole. */
                    char *buffer = NULL;
                    size_t size = 0;
                    FILE *values = open_memstream(&buffer, &size);
                    offer_kind(values, o->complete, eq + 1);
                    fclose(values);
                    char *save = NULL;
                    for (char *line = strtok_r(buffer, "\n", &save); line;
                         line = strtok_r(NULL, "\n", &save))
                        fprintf(out, "%.*s%s\n", (int)(eq - current + 1), current, line);
                    free(buffer);
                }
            }
            return;
        }
        if (current[0] == '-') {
            for (const cli_opt_t *o = info->options; o && o->long_name; o++) {
                char name[64];
                snprintf(name, sizeof(name), "--%s", o->long_name);
                offer(out, current, name, o->help);
            }
            offer(out, current, "--help", "Show this help and exit");
            return;
        }
    }
    offer_kind(out, args_kind, current);
}
