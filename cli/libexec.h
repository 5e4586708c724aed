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

/* The folder of the running binary; NULL when it cannot be read. Free with
 * lusty_free(). */
char *cli_exe_dir(void);

#endif
