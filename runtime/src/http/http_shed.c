/* Who is closed when connections run short: the worker's connections in
 * the order they began waiting for a request, and a count of connections
 * per client address.
 *
 * A slow client (slowloris) costs us little memory but a connection slot;
 * enough of them hold every slot and nobody else is served. So when a
 * worker is full, or one address holds its share, a new connection does
 * not get a 503 as long as some connection is merely waiting: the one that
 * has waited longest for its request (idle, or trickling its head) is
 * closed to make room. Only when every connection is being answered is the
 * newcomer refused. */
#include "http_internal.h"

#include "lusty/alloc.h"

#include <string.h>
#include <sys/socket.h>

struct lusty__http_addr_s {
    struct lusty__http_addr_s *next; /* in its bucket */
    unsigned char key[17];           /* family byte, then up to 16 address bytes */
    size_t count;
};

#define ADDR_BUCKETS 1024 /* a power of two */

void lusty__http_conns_push(lusty__http_worker_t *w, lusty__http_conn_t *c)
{
    c->next = NULL;
    c->prev = w->conns_tail;
    if (w->conns_tail)
        w->conns_tail->next = c;
    else
        w->conns = c;
    w->conns_tail = c;
}

void lusty__http_conns_unlink(lusty__http_worker_t *w, lusty__http_conn_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        w->conns_tail = c->prev;
    c->prev = c->next = NULL;
}

void lusty__http_conns_touch(lusty__http_worker_t *w, lusty__http_conn_t *c)
{
    lusty__http_conns_unlink(w, c);
    lusty__http_conns_push(w, c);
}

/* The client's address as a key; false when it cannot be had. */
static bool addr_key(lusty__http_conn_t *c, unsigned char key[17])
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    memset(key, 0, 17);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
        return false;
    key[0] = (unsigned char)ss.ss_family;
    if (ss.ss_family == AF_INET)
        memcpy(key + 1, &((struct sockaddr_in *)&ss)->sin_addr, 4);
    else if (ss.ss_family == AF_INET6)
        memcpy(key + 1, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
    else
        return false;
    return true;
}

bool lusty__http_addr_key(lusty__http_conn_t *c, unsigned char key[17])
{
    if (c->addr) {
        memcpy(key, c->addr->key, sizeof c->addr->key);
        return true;
    }
    return addr_key(c, key);
}

static size_t addr_hash(const unsigned char key[17])
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (int i = 0; i < 17; i++)
        h = (h ^ key[i]) * 1099511628211ull;
    return (size_t)(h & (ADDR_BUCKETS - 1));
}

size_t lusty__http_addr_add(lusty__http_worker_t *w, lusty__http_conn_t *c)
{
    unsigned char key[17];
    if (!addr_key(c, key))
        return 0;
    if (!w->addr_buckets)
        w->addr_buckets = lusty_calloc(ADDR_BUCKETS, sizeof(*w->addr_buckets));
    lusty__http_addr_t **slot = &w->addr_buckets[addr_hash(key)], *a = *slot;
    while (a && memcmp(a->key, key, sizeof(key)) != 0)
        a = a->next;
    if (!a) {
        a = lusty_calloc(1, sizeof(*a));
        memcpy(a->key, key, sizeof(key));
        a->next = *slot;
        *slot = a;
    }
    a->count++;
    c->addr = a;
    return a->count;
}

void lusty__http_addr_remove(lusty__http_worker_t *w, lusty__http_conn_t *c)
{
    lusty__http_addr_t *a = c->addr;
    if (!a)
        return;
    c->addr = NULL;
    if (--a->count > 0)
        return;
    lusty__http_addr_t **p = &w->addr_buckets[addr_hash(a->key)];
    while (*p != a)
        p = &(*p)->next;
    *p = a->next;
    lusty_free(a);
}

void lusty__http_addr_table_free(lusty__http_worker_t *w)
{
    if (!w->addr_buckets)
        return;
    for (size_t i = 0; i < ADDR_BUCKETS; i++)
        for (lusty__http_addr_t *a = w->addr_buckets[i], *next; a; a = next) {
            next = a->next;
            lusty_free(a);
        }
    lusty_free(w->addr_buckets);
    w->addr_buckets = NULL;
}

/* Whether closing `c` loses no work: it waits for a request, and none of
 * its requests is being answered or written. The list's order makes the
 * newest connections the last choice, so a new client is not dropped
 * before its first bytes are read unless a whole backlog of newer ones
 * came in first. */
static bool sheddable(const lusty__http_conn_t *c)
{
    return !c->dead && !c->closing && !c->busy && !c->streaming && !c->finished &&
           c->pending_writes == 0;
}

lusty__http_conn_t *lusty__http_shed_victim(lusty__http_worker_t *w, const lusty__http_addr_t *addr,
                                            const lusty__http_conn_t *spare)
{
    for (lusty__http_conn_t *c = w->conns; c; c = c->next)
        if (c != spare && (!addr || c->addr == addr) && sheddable(c))
            return c;
    return NULL;
}
