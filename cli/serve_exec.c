/* Replacing `lusty server` with the lean serving binary (see serve_exec.h). */
#include "serve_exec.h"

#include "libexec.h"
#include "lusty/alloc.h"

#include <stdlib.h>
#include <unistd.h>

int cli_serve_is_lean = 0;

void cli_serve_exec_lean(int argc, char **argv)
{
    const char *off = getenv("LUSTY_NO_LEAN_SERVER");
    if (cli_serve_is_lean || (off && *off))
        return;
    char *lean = cli_libexec_find("lusty-serve");
    if (!lean)
        return;
    char **args = lusty_calloc((size_t)argc + 1, sizeof(char *));
    args[0] = lean;
    for (int a = 1; a < argc; a++)
        args[a] = argv[a];
    execv(lean, args);
    /* exec failed: serve in-process */
    lusty_free(args);
    lusty_free(lean);
}
