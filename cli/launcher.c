/* lusty: the command users run, and all it does is choose a program.
 *
 * The commands live in lusty-cli, which links libgit2, libcurl, libarchive
 * and OpenSSL: loading those (about 50 shared libraries) takes a process
 * some 20 ms before main() runs. This program links nothing but libc, so
 * `lusty server` reaches lusty-serve (the server alone, see serve_exec.h)
 * without that cost, and every other command execs lusty-cli. Both keep
 * this process's PID. The helpers are looked for as cli_libexec_find()
 * does: beside this binary (a build tree), then in ../libexec/lusty/. */
#include "libexec.h"

#include "lusty/alloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Replaces this process with helper `name`, giving it `argv` after its own
 * path. Returns only when the helper is missing or cannot run. */
static void run(const char *name, char **argv, int argc)
{
    char *path = cli_libexec_find(name);
    if (!path)
        return;
    char **args = lusty_calloc((size_t)argc + 2, sizeof(char *));
    args[0] = path;
    for (int a = 0; a < argc; a++)
        args[a + 1] = argv[a];
    execv(path, args);
    int err = errno;
    fprintf(stderr, "lusty: error: cannot run '%s': %s\n", path, strerror(err));
    exit(1);
}

int main(int argc, char **argv)
{
    /* `lusty server ARGS` is `lusty-serve ARGS`; without lusty-serve (or
     * with LUSTY_NO_LEAN_SERVER set) lusty-cli serves in-process. */
    /* The commands lusty prints (the next steps of init) name the program
     * the user ran, which only this process can see. */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        setenv(CLI_COMMAND_ENV, self, 1);
    }
    const char *off = getenv("LUSTY_NO_LEAN_SERVER");
    if (argc > 1 && strcmp(argv[1], "server") == 0 && !(off && *off))
        run("lusty-serve", argv + 2, argc - 2);
    run("lusty-cli", argv + 1, argc - 1);
    fprintf(stderr,
            "lusty: error: cannot find 'lusty-cli' beside '%s' or in its ../libexec/lusty/\n"
            "hint: install lusty again ('make install'), or run it from its build tree\n",
            argv[0]);
    return 1;
}
