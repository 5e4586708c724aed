/* Rockspecs of fetched handler repositories: where their modules are
 * (build.modules) and what they depend on (dependencies).
 *
 * A rockspec is Lua. It is run in a state of its own with no libraries,
 * with the JIT compiler off and a limit on the instructions it may run, so
 * a repository's rockspec can neither reach anything nor hang us. */
#ifndef LUSTY_ROCKSPEC_H
#define LUSTY_ROCKSPEC_H

#include <stddef.h>

typedef struct {
    char *package;       /* "lustache", or NULL */
    char **dependencies; /* as written: "lua >= 5.1", "lustache" */
    size_t ndependencies;
    char **modules; /* build.modules with file values: names ... */
    char **files;   /* ... and their files, relative to the repository */
    size_t nmodules;
} lusty_rockspec_t;

/* The rockspec of the repository at `dir`: the last `*.rockspec` in name
 * order at its top, else in its `rockspecs/` folder. Returns a new path
 * (lusty_free()) or NULL when there is none. */
char *lusty_rockspec_find(const char *dir);

/* Reads the rockspec at `path`. Returns 0 with *out set (free with
 * lusty_rockspec_free()), or a negative LUSTY_E… with *out NULL and
 * *err_out naming the problem (lusty_free() it). */
int lusty_rockspec_read(lusty_rockspec_t **out, const char *path, char **err_out);
void lusty_rockspec_free(lusty_rockspec_t *r);

/* The name a dependency entry is about: "lustache >= 1.3" gives
 * "lustache". Returns a new string (lusty_free()). */
char *lusty_rockspec_dependency_name(const char *entry);

#endif
