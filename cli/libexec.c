/* Finding lusty's helper programs (see libexec.h). */
#include "libexec.h"

#include "lusty/alloc.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *cli_exe_dir(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    return slash ? lusty_strndup(exe, (size_t)(slash - exe)) : NULL;
}

char *cli_libexec_find(const char *name)
{
    char *exe = cli_exe_dir();
    if (!exe)
        return NULL;
    const char *const layouts[] = {"%s/%s", "%s/../libexec/lusty/%s"};
    for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
        char *candidate = lusty_asprintf(layouts[i], exe, name);
        if (access(candidate, X_OK) == 0) {
            lusty_free(exe);
            return candidate;
        }
        lusty_free(candidate);
    }
    lusty_free(exe);
    return NULL;
}

char *cli_self_command(void)
{
    char self[PATH_MAX];
    const char *named = getenv(CLI_COMMAND_ENV);
    if (!(named && *named && realpath(named, self))) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n <= 0)
            return lusty_strdup("lusty");
        self[n] = '\0';
    }
    const char *path = getenv("PATH");
    for (const char *dir = path; dir && *dir;) {
        size_t len = strcspn(dir, ":");
        /* An empty PATH entry is the current folder, which changes. */
        if (len) {
            char *candidate = lusty_asprintf("%.*s/lusty", (int)len, dir);
            char real[PATH_MAX];
            bool same = access(candidate, X_OK) == 0 && realpath(candidate, real) &&
                        strcmp(real, self) == 0;
            lusty_free(candidate);
            if (same)
                return lusty_strdup("lusty");
        }
        dir += len + (dir[len] == ':');
    }
    return lusty_strdup(self);
}
