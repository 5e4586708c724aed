/* Replacing `lusty server` with the lean serving binary (see serve_exec.h). */
#include "serve_exec.h"

#include "lusty/alloc.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_serve_is_lean = 0;

void cli_serve_exec_lean(int argc, char **argv)
{
    const char *off = getenv("LUSTY_NO_LEAN_SERVER");
    if (cli_serve_is_lean || (off && *off))
        return;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return;
    *slash = '\0';
    /* Beside the binary in a build tree, in libexec when installed. */
    char *candidates[] = {
        lusty_asprintf("%s/lusty-serve", exe),
        lusty_asprintf("%s/../libexec/lusty/lusty-serve", exe),
    };
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
        if (access(candidates[i], X_OK) == 0) {
            char **args = lusty_calloc((size_t)argc + 1, sizeof(char *));
            args[0] = candidates[i];
            for (int a = 1; a < argc; a++)
                args[a] = argv[a];
            execv(candidates[i], args);
            lusty_free(args); /* exec failed: serve in-process */
        }
    }
    for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
        lusty_free(candidates[i]);
}
