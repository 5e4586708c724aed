/* libFuzzer target: arbitrary request paths into the static resolver.
 * Whatever comes in, a resolved path must stay beneath the folder: no
 * absolute path, no dot segment or dotfile, no backslash, no NUL. */
#include "lusty/static_files.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *path = malloc(size + 9);
    memcpy(path, "/static/", 8);
    memcpy(path + 8, data, size);
    path[size + 8] = '\0';
    char out[512];
    int err = lusty_static_resolve("/static/", path, out, sizeof(out));
    if (err == 0) {
        size_t len = strlen(out);
        assert(len > 0 && len < sizeof(out));
        assert(out[0] != '/');
        assert(!strchr(out, '\\'));
        /* Every segment is non-empty and does not start with a dot. */
        for (const char *seg = out; seg;) {
            assert(seg[0] != '.' && seg[0] != '/' && seg[0] != '\0');
            const char *slash = strchr(seg, '/');
            seg = slash ? slash + 1 : NULL;
        }
    }
    free(path);
    return 0;
}
