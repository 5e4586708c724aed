/* Growable byte buffer. */
#include "lusty/buf.h"

#include "lusty/alloc.h"

#include <stdio.h>
#include <string.h>

void lusty_buf_init(lusty_buf_t *buf)
{
    buf->data = NULL;
    buf->len = 0;
    buf->cap = 0;
}

void lusty_buf_free(lusty_buf_t *buf)
{
    if (!buf)
        return;
    lusty_free(buf->data);
    lusty_buf_init(buf);
}

void lusty_buf_clear(lusty_buf_t *buf)
{
    buf->len = 0;
    if (buf->data)
        buf->data[0] = '\0';
}

void lusty_buf_reserve(lusty_buf_t *buf, size_t extra)
{
    /* +1 keeps room for the terminating NUL. */
    buf->data = lusty_grow(buf->data, &buf->cap, buf->len + extra + 1, 1);
}

void lusty_buf_append(lusty_buf_t *buf, const void *data, size_t len)
{
    lusty_buf_reserve(buf, len);
    if (len)
        memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
}

void lusty_buf_puts(lusty_buf_t *buf, const char *s)
{
    lusty_buf_append(buf, s, strlen(s));
}

void lusty_buf_putc(lusty_buf_t *buf, char c)
{
    lusty_buf_append(buf, &c, 1);
}

void lusty_buf_vprintf(lusty_buf_t *buf, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n <= 0)
        return;
    lusty_buf_reserve(buf, (size_t)n);
    vsnprintf(buf->data + buf->len, (size_t)n + 1, fmt, ap);
    buf->len += (size_t)n;
}

void lusty_buf_printf(lusty_buf_t *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lusty_buf_vprintf(buf, fmt, ap);
    va_end(ap);
}

char *lusty_buf_detach(lusty_buf_t *buf, size_t *len_out)
{
    char *data = buf->data ? buf->data : lusty_strdup("");
    if (len_out)
        *len_out = buf->len;
    lusty_buf_init(buf);
    return data;
}
