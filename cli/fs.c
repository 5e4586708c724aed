/* File-system helpers of the CLI. */
#define _GNU_SOURCE
#include "fs.h"

#include "lusty/alloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *cli_path_join(const char *a, const char *b)
{
    size_t la = strlen(a);
    if (la == 0)
        return lusty_strdup(b);
    if (a[la - 1] == '/')
        return lusty_asprintf("%s%s", a, b);
    return lusty_asprintf("%s/%s", a, b);
}

bool cli_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool cli_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int cli_read_file(const char *path, char **out, size_t *len_out)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int err = S_ISDIR(st.st_mode) ? EISDIR : errno;
        close(fd);
        return err ? err : EINVAL;
    }
    size_t cap = (size_t)st.st_size + 1, len = 0;
    char *data = lusty_malloc(cap);
    for (;;) {
        if (len + 1 >= cap)
            data = lusty_grow(data, &cap, cap * 2, 1);
        ssize_t n = read(fd, data + len, cap - len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int err = errno;
            lusty_free(data);
            close(fd);
            return err;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    data[len] = '\0';
    *out = data;
    if (len_out)
        *len_out = len;
    return 0;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int cli_write_temp(const char *dest, const void *data, size_t len, mode_t mode, char **tmp_out)
{
    *tmp_out = NULL;
    const char *slash = strrchr(dest, '/');
    char *tmp = slash ? lusty_asprintf("%.*s/.%s.lusty-XXXXXX", (int)(slash - dest), dest, slash + 1)
                      : lusty_asprintf(".%s.lusty-XXXXXX", dest);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int err = errno;
        lusty_free(tmp);
        return err;
    }
    int err = write_all(fd, data, len);
    if (!err && fchmod(fd, mode) != 0)
        err = errno;
    if (!err && fsync(fd) != 0)
        err = errno;
    if (close(fd) != 0 && !err)
        err = errno;
    if (err) {
        unlink(tmp);
        lusty_free(tmp);
        return err;
    }
    *tmp_out = tmp;
    return 0;
}

int cli_rename_noreplace(const char *from, const char *to)
{
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return errno;
    if (link(from, to) != 0)
        return errno;
    unlink(from);
    return 0;
}

void cli_path_list_push(cli_path_list_t *list, const char *path)
{
    list->paths = lusty_grow(list->paths, &list->cap, list->count + 1, sizeof(char *));
    list->paths[list->count++] = lusty_strdup(path);
}

void cli_path_list_free(cli_path_list_t *list)
{
    for (size_t i = 0; i < list->count; i++)
        lusty_free(list->paths[i]);
    lusty_free(list->paths);
    memset(list, 0, sizeof(*list));
}

int cli_mkdir_p(const char *path, mode_t mode, cli_path_list_t *created)
{
    if (cli_is_dir(path))
        return 0;
    char *copy = lusty_strdup(path);
    int err = 0;
    /* Create each missing prefix in turn, from the outermost. */
    for (char *p = copy + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (!cli_is_dir(copy)) {
            if (mkdir(copy, mode) != 0) {
                err = errno;
                break;
            }
            if (created)
                cli_path_list_push(created, copy);
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    lusty_free(copy);
    return err;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    remove(path);
    return 0;
}

void cli_remove_tree(const char *path)
{
    nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int compare_names(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

typedef struct {
    cli_file_entry_t *items;
    size_t count, cap;
} entry_list_t;

static int walk(const char *root, const char *rel, entry_list_t *list, char **failed_path)
{
    char *dir = rel[0] ? cli_path_join(root, rel) : lusty_strdup(root);
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, compare_names);
    if (n < 0) {
        int err = errno;
        *failed_path = dir;
        return err;
    }
    int err = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        if (err || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
            free(names[i]);
            continue;
        }
        char *child_rel = rel[0] ? cli_path_join(rel, name) : lusty_strdup(name);
        char *child = cli_path_join(root, child_rel);
        struct stat st;
        if (stat(child, &st) == 0) {
            if (S_ISDIR(st.st_mode)) {
                err = walk(root, child_rel, list, failed_path);
            } else if (S_ISREG(st.st_mode)) {
                list->items = lusty_grow(list->items, &list->cap, list->count + 1, sizeof(*list->items));
                list->items[list->count].path = child_rel;
                list->items[list->count].mode = st.st_mode & 07777;
                list->count++;
                child_rel = NULL;
            }
        }
        lusty_free(child);
        lusty_free(child_rel);
        free(names[i]);
    }
    free(names);
    lusty_free(dir);
    return err;
}

int cli_list_files(const char *root, cli_file_entry_t **out, size_t *count_out,
                   char **failed_path)
{
    entry_list_t list = {0};
    *failed_path = NULL;
    int err = walk(root, "", &list, failed_path);
    if (err) {
        cli_file_entries_free(list.items, list.count);
        *out = NULL;
        *count_out = 0;
        return err;
    }
    *out = list.items;
    *count_out = list.count;
    return 0;
}

void cli_file_entries_free(cli_file_entry_t *entries, size_t count)
{
    for (size_t i = 0; i < count; i++)
        lusty_free(entries[i].path);
    lusty_free(entries);
}
