/* lusty channels: the app's channel tree with each channel's subscribers in
 * the order they run, for a person or (--json) for scripts. */
#include "cmd.h"
#include "error.h"
#include "host.h"
#include "lusty/alloc.h"
#include "term.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

static const cli_opt_t options[] = {
    {"json", 0, NULL, "Print JSON: an array of {channel, depth, subscribers}", CLI_HOST_OPT_JSON},
    {NULL, 0, NULL, NULL, 0},
};

const cli_cmd_info_t cmd_channels_info = {
    .name = "channels",
    .summary = "Show the app's channels and their subscribers",
    .usage = "[--json] [DIR]",
    .description = "Loads the app of the project in DIR (default: the current folder, walking\n"
                   "up to the nearest lusty.json) and prints its channel tree. Under each\n"
                   "channel come its subscribers in the order they run: position (priority),\n"
                   "handler module (or where the function is defined) and whether a predicate\n"
                   "decides when it runs. A publish runs a channel's list, then its parent's.\n",
    .options = options,
    .args = "dir",
};

static void print_tree(const cJSON *arr, FILE *out)
{
    const char *bold = cli_term_bold(out), *dim = cli_term_dim(out), *reset = cli_term_reset(out);
    const cJSON *ch;
    cJSON_ArrayForEach(ch, arr)
    {
        const char *path = cJSON_GetObjectItem(ch, "channel")->valuestring;
        int depth = (int)cJSON_GetObjectItem(ch, "depth")->valuedouble;
        const char *name = strrchr(path, ':');
        name = name ? name + 1 : path;
        if (!*path)
            name = "(root)";
        fprintf(out, "%*s%s%s%s\n", 2 * (depth ? depth - 1 : 0), "", bold, name, reset);
        const cJSON *sub;
        cJSON_ArrayForEach(sub, cJSON_GetObjectItem(ch, "subscribers"))
        {
            fprintf(out, "%*s%d. %s%s%s%s\n", 2 * (depth ? depth - 1 : 0) + 2, "",
                    (int)cJSON_GetObjectItem(sub, "priority")->valuedouble,
                    cJSON_GetObjectItem(sub, "module")->valuestring, dim,
                    cJSON_IsTrue(cJSON_GetObjectItem(sub, "predicate")) ? " (predicate)" : "",
                    reset);
        }
    }
}

int cmd_channels(int argc, char **argv)
{
    bool json;
    lusty_lua_host_t *host = NULL;
    int early = cli_host_open_listing(&host, &json, &cmd_channels_info, argc, argv);
    if (early >= 0)
        return early;

    cJSON *arr = NULL;
    lusty_lua_host_channels(host, &arr);
    if (json) {
        char *text = cJSON_Print(arr);
        printf("%s\n", text);
        cJSON_free(text);
    } else if (cJSON_GetArraySize(arr) == 0) {
        printf("no channels: the app subscribes nothing\n");
    } else {
        print_tree(arr, stdout);
    }
    cJSON_Delete(arr);
    lusty_lua_host_free(host);
    return CLI_EXIT_OK;
}
