/* Finding lusty's helper programs (see libexec.h). */
#include "libexec.h"

#include "lusty/alloc.h"

#include <limits.h>
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
