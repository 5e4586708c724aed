/* Who the client is behind a reverse proxy: the request context's
 * remoteAddr and scheme come from X-Forwarded-For and X-Forwarded-Proto
 * only when the connection comes from a trusted proxy (lusty.json
 * server.trusted_proxies); anybody else could send those headers. */
#include "app_internal.h"

#include "lusty/alloc.h"
#include "lusty/error.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One trusted address or network ("10.0.0.0/8", "::1"). */
struct lusty__app_net {
    int family;
    unsigned char bytes[16];
    unsigned bits;
};

/* Parses "addr" or "addr/bits" of `len` bytes; false when it is neither. */
static bool parse_net(const char *s, size_t len, lusty__app_net_t *out)
{
    char text[64];
    if (len == 0 || len >= sizeof(text))
        return false;
    memcpy(text, s, len);
    text[len] = '\0';
    char *slash = strchr(text, '/');
    long bits = -1;
    if (slash) {
        char *end = NULL;
        *slash = '\0';
        bits = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end || bits < 0)
            return false;
    }
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, text, out->bytes) == 1)
        out->family = AF_INET;
    else if (inet_pton(AF_INET6, text, out->bytes) == 1)
        out->family = AF_INET6;
    else
        return false;
    unsigned max = out->family == AF_INET ? 32 : 128;
    if (bits > (long)max)
        return false;
    out->bits = bits < 0 ? max : (unsigned)bits;
    return true;
}

static bool net_contains(const lusty__app_net_t *net, const lusty__app_net_t *addr)
{
    if (net->family != addr->family)
        return false;
    unsigned full = net->bits / 8, rest = net->bits % 8;
    if (memcmp(net->bytes, addr->bytes, full) != 0)
        return false;
    if (!rest)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (net->bytes[full] & mask) == (addr->bytes[full] & mask);
}

int lusty__app_set_trusted(lusty_app_t *app, const char *const *nets, size_t n)
{
    app->trusted = n ? lusty_calloc(n, sizeof(*app->trusted)) : NULL;
    app->ntrusted = 0;
    for (size_t i = 0; i < n; i++) {
        if (!parse_net(nets[i], strlen(nets[i]), &app->trusted[app->ntrusted]))
            return LUSTY_EINVAL;
        app->ntrusted++;
    }
    return 0;
}

static bool trusted(const lusty_app_t *app, const char *s, size_t len)
{
    lusty__app_net_t a;
    if (!parse_net(s, len, &a) || a.bits != (a.family == AF_INET ? 32u : 128u))
        return false;
    for (size_t i = 0; i < app->ntrusted; i++)
        if (net_contains(&app->trusted[i], &a))
            return true;
    return false;
}

void lusty__app_client(const lusty_app_t *app, const lusty_http_request_t *req,
                       const lusty_http_response_t *res, const char **addr, size_t *addr_len,
                       bool *https)
{
    const char *peer = lusty_http_response_peer(res);
    *addr = peer;
    *addr_len = peer ? strlen(peer) : 0;
    *https = false;
    if (!peer || !app->ntrusted || !trusted(app, peer, *addr_len))
        return;
    /* X-Forwarded-For: "client, proxy1, proxy2": each proxy appends the
     * address it got the request from. Read from the right, the first
     * address that is not a trusted proxy is the client; what is left of
     * it anybody could have written. */
    const char *xff = lusty_http_request_header(req, "x-forwarded-for");
    for (const char *end = xff ? xff + strlen(xff) : NULL; end && end > xff;) {
        const char *start = end;
        while (start > xff && start[-1] != ',')
            start--;
        const char *s = start, *e = end;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > s) {
            *addr = s;
            *addr_len = (size_t)(e - s);
            if (!trusted(app, s, (size_t)(e - s)))
                break;
        }
        end = start > xff ? start - 1 : xff;
    }
    const char *proto = lusty_http_request_header(req, "x-forwarded-proto");
    *https = proto && strncasecmp(proto, "https", 5) == 0 && (proto[5] == '\0' || proto[5] == ',');
}
