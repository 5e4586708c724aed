/* Allocation wrappers: every allocation in lusty goes through these.
 *
 * They never return NULL: on out-of-memory they print one line to stderr and
 * abort, because no caller could do anything better and checking every call
 * site would hide the real error paths. Free with lusty_free() (or free()). */
#ifndef LUSTY_ALLOC_H
#define LUSTY_ALLOC_H

#include <stddef.h>

void *lusty_malloc(size_t size);
void *lusty_calloc(size_t count, size_t size);
void *lusty_realloc(void *ptr, size_t size);
/* Grows an array of `*cap` elements of `elem` bytes to hold at least `need`,
 * doubling; returns the (possibly moved) array and updates `*cap`. */
void *lusty_grow(void *ptr, size_t *cap, size_t need, size_t elem);
char *lusty_strdup(const char *s);
char *lusty_strndup(const char *s, size_t n);
/* printf into a new string. */
char *lusty_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void lusty_free(void *ptr);

#endif
