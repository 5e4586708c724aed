/* lusty-serve: `lusty server` alone, linked only with what serving needs
 * (see serve_exec.h). Not meant to be run by hand, but it takes exactly the
 * arguments of `lusty server`. */
#include "cmd.h"
#include "serve_exec.h"

int main(int argc, char **argv)
{
    cli_serve_is_lean = 1;
    /* cmd_server() expects its own name first, as main.c passes it. */
    static char name[] = "server";
    argv[0] = name;
    return cmd_server(argc, argv);
}
