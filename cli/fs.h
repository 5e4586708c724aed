/* File-system helpers of the CLI: paths, reading, safe writing, walking. */
#ifndef LUSTY_CLI_FS_H
#define LUSTY_CLI_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* "a" + "b" -> "a/b" (no doubled slash). Free with lusty_free(). */
char *cli_path_join(const char *a, const char *b);
bool cli_is_dir(const char *path);
/* True when something (even a dangling symlink) is at `path`. */
bool cli_exists(const char *path);

/* Reads a whole file. Returns 0, or an errno value. *out is NUL-terminated;
 * free with lusty_free(). */
int cli_read_file(const char *path, char **out, size_t *len_out);

/* Writes `data` to a new hidden temporary file beside `dest` and flushes it
 * to disk; the caller renames it into place (rename is atomic, so nobody ever
 * sees a half-written `dest`). Returns 0 with *tmp_out set (free with
 * lusty_free()), or an errno value with nothing left on disk. */
int cli_write_temp(const char *dest, const void *data, size_t len, mode_t mode, char **tmp_out);

/* Renames `from` to `to` unless something is already at `to` (then fails
 * with EEXIST), atomically: renameat2(RENAME_NOREPLACE), or link() and
 * unlink() where the file system lacks it. Returns 0 or an errno value. */
int cli_rename_noreplace(const char *from, const char *to);

/* A list of paths the CLI created, so that a failed operation can remove
 * exactly them again and leave the disk as it was. */
typedef struct {
    char **paths;
    size_t count;
    size_t cap;
} cli_path_list_t;

void cli_path_list_push(cli_path_list_t *list, const char *path);
void cli_path_list_free(cli_path_list_t *list);

/* mkdir -p, recording every folder it creates (outermost first) in
 * `created` unless it is NULL. Returns 0 or an errno value. */
int cli_mkdir_p(const char *path, mode_t mode, cli_path_list_t *created);

/* rm -rf without following symbolic links; errors are ignored (it is used
 * to clean up). */
void cli_remove_tree(const char *path);

/* Lists the regular files under `root` recursively as paths relative to it,
 * sorted, with their modes. Symlinks are followed only if they point at
 * regular files. Returns 0 or an errno value (with `*failed_path` naming the
 * folder that could not be read; free with lusty_free()). */
typedef struct {
    char *path; /* relative to root */
    mode_t mode;
} cli_file_entry_t;

int cli_list_files(const char *root, cli_file_entry_t **out, size_t *count_out,
                   char **failed_path);
void cli_file_entries_free(cli_file_entry_t *entries, size_t count);

#endif
