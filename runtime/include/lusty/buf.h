/* A growable byte buffer, always NUL-terminated so its data can be used as a
 * C string when it holds text. */
#ifndef LUSTY_BUF_H
#define LUSTY_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct {
    char *data; /* NULL until the first append; owned by the buffer */
    size_t len;
    size_t cap;
} lusty_buf_t;

#define LUSTY_BUF_INIT {NULL, 0, 0}

void lusty_buf_init(lusty_buf_t *buf);
/* Frees the data and resets the buffer to empty; accepts NULL. */
void lusty_buf_free(lusty_buf_t *buf);
void lusty_buf_clear(lusty_buf_t *buf);
void lusty_buf_reserve(lusty_buf_t *buf, size_t extra);
void lusty_buf_append(lusty_buf_t *buf, const void *data, size_t len);
void lusty_buf_puts(lusty_buf_t *buf, const char *s);
void lusty_buf_putc(lusty_buf_t *buf, char c);
void lusty_buf_printf(lusty_buf_t *buf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void lusty_buf_vprintf(lusty_buf_t *buf, const char *fmt, va_list ap);
/* Hands the data to the caller (free with lusty_free()) and empties the
 * buffer. Never returns NULL: an empty buffer gives "". */
char *lusty_buf_detach(lusty_buf_t *buf, size_t *len_out);

#endif
