/* lusty's helper programs (lusty-serve, lusty-mongo-ping): where they are.
 *
 * Some work runs in a separate program so that lusty itself does not load
 * the libraries it needs: a server does not carry libgit2 and OpenSSL, and
 * no command but the MongoDB check loads mongo-c-driver (whose automatic
 * initialisation would otherwise create a shared-memory segment in every
 * lusty process). */
#ifndef LUSTY_CLI_LIBEXEC_H
#define LUSTY_CLI_LIBEXEC_H

/* The path of helper `name`, beside the running binary (a build tree) or in
 * ../libexec/lusty/ (an installed tree); NULL when there is none. Free with
 * lusty_free(). */
char *cli_libexec_find(const char *name);

/* How a user runs this lusty again from any folder, for the commands we
 * print: "lusty" when that name on PATH is this very program, else its
 * absolute path (a build tree, or an install outside PATH). The launcher
 * passes its own path in LUSTY_COMMAND, as lusty-cli cannot see it. Free
 * with lusty_free(). */
char *cli_self_command(void);

/* The environment variable through which the launcher names itself. */
#define CLI_COMMAND_ENV "LUSTY_COMMAND"

/* The folder of the running binary; NULL when it cannot be read. Free with
 * lusty_free(). */
char *cli_exe_dir(void);

#endif
