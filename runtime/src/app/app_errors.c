/* The runtime's own pages: 404 when nobody answered, 500 with the message
 * and traceback of an unanswered handler error, the load error of broken
 * code, and the time budget. HTML for browsers, JSON for clients that ask
 * for JSON, plain text otherwise (curl's Accept: * / *). */
#include "app_internal.h"

#include "lusty/alloc.h"

#include <string.h>
#include <strings.h>

/* Whether the Accept header lists `type` (case-insensitive, any q). */
static bool lists(const char *accept, const char *type)
{
    size_t n = strlen(type);
    for (const char *p = accept; *p; p++)
        if (strncasecmp(p, type, n) == 0)
            return true;
    return false;
}

lusty__app_format_t lusty__app_format(const lusty_http_request_t *req)
{
    const char *accept = lusty_http_request_header(req, "accept");
    if (!accept)
        return LUSTY__APP_TEXT;
    bool html = lists(accept, "text/html");
    if (!html && (lists(accept, "application/json") || lists(accept, "+json")))
        return LUSTY__APP_JSON;
    return html ? LUSTY__APP_HTML : LUSTY__APP_TEXT;
}

static void html_escape(lusty_buf_t *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            lusty_buf_puts(b, "&lt;");
            break;
        case '>':
            lusty_buf_puts(b, "&gt;");
            break;
        case '&':
            lusty_buf_puts(b, "&amp;");
            break;
        case '"':
            lusty_buf_puts(b, "&quot;");
            break;
        default:
            lusty_buf_putc(b, *s);
        }
    }
}

static void json_escape(lusty_buf_t *b, const char *s)
{
    lusty_buf_putc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            lusty_buf_printf(b, "\\%c", *p);
        else if (*p == '\n')
            lusty_buf_puts(b, "\\n");
        else if (*p == '\t')
            lusty_buf_puts(b, "\\t");
        else if (*p < 0x20 || *p == 0x7f)
            lusty_buf_printf(b, "\\u%04x", *p);
        else
            lusty_buf_putc(b, (char)*p);
    }
    lusty_buf_putc(b, '"');
}

void lusty__app_page(lusty_http_response_t *res, const lusty_http_request_t *req, int status,
                     const char *title, const char *message, const char *trace, const char *script)
{
    lusty_buf_t b = LUSTY_BUF_INIT;
    const char *reason = lusty_http_status_reason(status);
    const char *type;
    switch (lusty__app_format(req)) {
    case LUSTY__APP_JSON:
        type = "application/json";
        lusty_buf_printf(&b, "{\"status\":%d,\"error\":", status);
        json_escape(&b, title);
        if (message) {
            lusty_buf_puts(&b, ",\"message\":");
            json_escape(&b, message);
        }
        if (trace) {
            lusty_buf_puts(&b, ",\"trace\":");
            json_escape(&b, trace);
        }
        lusty_buf_puts(&b, "}\n");
        break;
    case LUSTY__APP_HTML:
        type = "text/html; charset=utf-8";
        lusty_buf_printf(&b,
                         "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
                         "<title>%d %s</title>\n<style>body{font-family:sans-serif;margin:2em}"
                         "pre{background:#f4f4f4;padding:1em;overflow:auto}"
                         ".message{background:#fde8e8}</style></head>\n<body><h1>",
                         status, reason);
        html_escape(&b, title);
        lusty_buf_puts(&b, "</h1>\n");
        if (message) {
            lusty_buf_puts(&b, "<pre class=\"message\">");
            html_escape(&b, message);
            lusty_buf_puts(&b, "</pre>\n");
        }
        if (trace) {
            lusty_buf_puts(&b, "<pre class=\"trace\">");
            html_escape(&b, trace);
            lusty_buf_puts(&b, "</pre>\n");
        }
        lusty_buf_printf(&b, "<p><small>lusty: %d %s</small></p>%s</body></html>\n", status, reason,
                         script ? script : "");
        break;
    default:
        type = "text/plain; charset=utf-8";
        lusty_buf_printf(&b, "%d %s\n", status, reason);
        if (strcmp(title, reason) != 0)
            lusty_buf_printf(&b, "%s\n", title);
        if (message)
            lusty_buf_printf(&b, "\n%s\n", message);
        if (trace)
            lusty_buf_printf(&b, "\n%s\n", trace);
        break;
    }
    lusty_http_response_set_status(res, status);
    lusty_http_response_add_header(res, "Content-Type", type);
    if (status >= 500)
        lusty_http_response_add_header(res, "Cache-Control", "no-store");
    lusty_http_response_end(res, b.data, b.len);
    lusty_buf_free(&b);
}
