/* Finding lusty's helper programs (see libexec.h). */
#include "libexec.h"

#include "lusty/alloc.h"

#include <limits.h>
#include <string.h>
#include <unistd.h>

char *cli_libexec_find(const char *name)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    const char *const layouts[] = {"%s/%s", "%s/../libexec/lusty/%s"};
    for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
        char *candidate = lusty_asprintf(layouts[i], exe, name);
        if (access(candidate, X_OK) == 0)
            return candidate;
        lusty_free(candidate);
    }
    return NULL;
}
