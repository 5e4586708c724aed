/* Running `lusty server` in the lean serving binary.
 *
 * The lusty binary links libgit2, libcurl, libarchive, mongo-c-driver and
 * OpenSSL for its other commands; loading them costs a server process about
 * 10 MiB of resident memory it never uses. So `lusty server` replaces itself
 * (exec, same PID) with lusty-serve, built from the same code but linked only
 * with what serving needs, when that binary sits beside lusty (build tree) or
 * in libexec/lusty (installed). Without it, serving runs in-process. */
#ifndef LUSTY_CLI_SERVE_EXEC_H
#define LUSTY_CLI_SERVE_EXEC_H

/* Set by lusty-serve's main(): this process is already the lean one. */
extern int cli_serve_is_lean;

/* Execs lusty-serve with the arguments of `lusty server` (argv[0] is
 * "server"). Returns only when there is no lean binary or exec failed (or
 * LUSTY_NO_LEAN_SERVER is set), and serving should go on in-process. */
void cli_serve_exec_lean(int argc, char **argv);

#endif
