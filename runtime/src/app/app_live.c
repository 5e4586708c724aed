/* Live reload in the browser (development): HTML responses get a small
 * script that opens an event stream (server-sent events) at
 * LUSTY_APP_LIVE_PATH; when the watcher sees a change, each worker tells
 * its streams, and the pages reload (or, when only stylesheets of a static
 * folder changed, swap them). A stream is a response that never ends: no
 * Lua, no task, no time budget; it ends when the client leaves or the
 * server stops. A page says which change it is as of ("page=<boot>-<gen>"),
 * so a page that missed a change (saved while it loaded, or served by an
 * earlier server) reloads as soon as its stream opens. */
#include "app_internal.h"

#include "lusty/alloc.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct lusty__app_live {
    lusty_app_worker_t *w;
    lusty_http_response_t *res;
    unsigned gen; /* the change the page is as of */
    lusty__app_live_t *prev, *next;
};

/* Reconnects after a dropped stream (a restarting server) within this. */
#define RETRY_MS 250

/* The page's side (ES5, no dependency): a reload event reloads; a css
 * event replaces every same-origin stylesheet link by a fresh copy (the
 * old one goes when the new one has loaded, so nothing flashes). */
static const char script_fmt[] =
    "<script data-lusty-live>(function(){if(!window.EventSource)return;"
    "var s=window.__lustyLive=new EventSource(\"" LUSTY_APP_LIVE_PATH "?page=%" PRIx64 "-%u\");"
    "s.addEventListener(\"reload\",function(){s.close();location.reload();});"
    "s.addEventListener(\"css\",function(e){"
    "var ls=document.querySelectorAll('link[rel~=\"stylesheet\"]');"
    "for(var i=0;i<ls.length;i++)(function(l){"
    "var u=new URL(l.href,location.href);if(u.origin!==location.origin)return;"
    "u.searchParams.set(\"lusty-live\",e.data);var n=l.cloneNode();n.href=u.href;"
    "n.onload=n.onerror=function(){l.remove();};"
    "l.parentNode.insertBefore(n,l.nextSibling);})(ls[i]);});})();</script>\n";

char *lusty__app_live_script(const lusty_app_t *app, unsigned live_gen)
{
    if (!app->live)
        return NULL;
    return lusty_asprintf(script_fmt, app->boot, live_gen);
}

void lusty__app_live_inject(lusty_buf_t *body, const char *script)
{
    size_t n = strlen(script), at = body->len;
    for (size_t i = body->len; i >= 7; i--) {
        if (strncasecmp(body->data + i - 7, "</body>", 7) == 0) {
            at = i - 7;
            break;
        }
    }
    lusty_buf_reserve(body, n);
    memmove(body->data + at + n, body->data + at, body->len - at);
    memcpy(body->data + at, script, n);
    body->len += n;
    body->data[body->len] = '\0';
}

static void send_event(lusty__app_live_t *c, const char *kind, unsigned gen)
{
    char buf[96];
    int n = snprintf(buf, sizeof buf, "event: %s\ndata: %u\n\n", kind, gen);
    lusty_http_response_write(c->res, buf, (size_t)n);
}

/* Tells one stream about the changes after the one its page is as of. */
static void tell(lusty__app_live_t *c, unsigned live, unsigned full)
{
    if ((int)(live - c->gen) <= 0)
        return;
    send_event(c, (int)(full - c->gen) > 0 ? "reload" : "css", live);
    c->gen = live;
}

static void unlink_stream(lusty__app_live_t *c)
{
    lusty_app_worker_t *w = c->w;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->live = c->next;
    if (c->next)
        c->next->prev = c->prev;
}

static void end_stream(lusty__app_live_t *c)
{
    unlink_stream(c);
    lusty_http_response_end(c->res, NULL, 0);
    lusty_free(c);
}

static void on_client_gone(void *data, lusty_http_response_t *res)
{
    (void)res;
    end_stream(data);
}

/* The page's "page=<boot>-<gen>": its generation when the page comes from
 * this server, false otherwise. */
static bool page_gen(const lusty_app_t *app, const char *query, unsigned *gen)
{
    const char *p = strstr(query, "page=");
    if (!p || (p != query && p[-1] != '&'))
        return false;
    char *end;
    uint64_t boot = strtoull(p + 5, &end, 16);
    if (boot != app->boot || *end != '-')
        return false;
    *gen = (unsigned)strtoul(end + 1, &end, 10);
    return *end == '\0' || *end == '&';
}

void lusty__app_live_serve(lusty_app_worker_t *w, const lusty_http_request_t *req,
                           lusty_http_response_t *res)
{
    lusty_app_t *app = w->app;
    if (w->stopping) {
        lusty_http_response_send_status(res, 503, NULL, NULL);
        return;
    }
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        lusty_http_response_send_status(res, 405, "Allow", "GET, HEAD");
        return;
    }
    lusty_http_response_add_header(res, "Content-Type", "text/event-stream");
    lusty_http_response_add_header(res, "Cache-Control", "no-store");
    if (lusty_http_response_is_head(res)) {
        lusty_http_response_end(res, NULL, 0);
        return;
    }
    char retry[32];
    int n = snprintf(retry, sizeof retry, "retry: %d\n\n", RETRY_MS);
    lusty_http_response_write(res, retry, (size_t)n);
    lusty__app_live_t *c = lusty_calloc(1, sizeof *c);
    c->w = w;
    c->res = res;
    c->next = w->live;
    if (w->live)
        w->live->prev = c;
    w->live = c;
    lusty_http_response_on_close(res, on_client_gone, c);
    unsigned live = atomic_load(&app->live_gen), full = atomic_load(&app->live_full);
    if (!page_gen(app, req->query, &c->gen)) {
        /* A page of an earlier server, or no page at all: reload it. */
        c->gen = live;
        send_event(c, "reload", live);
        return;
    }
    tell(c, live, full);
}

void lusty__app_live_notify(lusty_app_worker_t *w)
{
    unsigned live = atomic_load(&w->app->live_gen), full = atomic_load(&w->app->live_full);
    for (lusty__app_live_t *c = w->live; c; c = c->next)
        tell(c, live, full);
}

void lusty__app_live_close_all(lusty_app_worker_t *w)
{
    while (w->live)
        end_stream(w->live);
}

void lusty_app_worker_stopping(lusty_app_worker_t *w)
{
    if (!w)
        return;
    w->stopping = true;
    lusty__app_live_close_all(w);
}
