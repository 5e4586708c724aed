/* lusty-serve: `lusty server` alone, linked only with what serving needs
 * (see serve_exec.h). Not meant to be run by hand, but it takes exactly the
 * arguments of `lusty server`. */
#include "cmd.h"
#include "serve_exec.h"

#include <stdlib.h>

int main(int argc, char **argv)
{
    /* Store calls hold a thread of libuv's pool for their whole round
     * trip (mongo-c-driver has no asynchronous API): 4 threads, libuv's
     * default, would queue them. Read once, at the pool's first use. */
    setenv("UV_THREADPOOL_SIZE", "64", 0);
    cli_serve_is_lean = 1;
    /* cmd_server() expects its own name first, as main.c passes it. */
    static char name[] = "server";
    argv[0] = name;
    return cmd_server(argc, argv);
}
