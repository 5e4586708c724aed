/* The event bus: a tree of channels, each with an ordered subscriber list,
 * and the publish that bubbles from a channel up to the root.
 *
 * Children are kept in a sorted array per channel and found by a linear scan
 * (up to LINEAR_CHILDREN of them, comparing lengths first) or a binary search
 * on (pointer, length), so a path string is walked in place: looking up or
 * publishing on an existing channel allocates nothing. Subscribers are heap
 * objects referenced from their channel's array, so a publish can hold on to
 * them while callbacks reshape the lists; see the re-entrancy rules in
 * lusty/bus.h and the comment above publish().
 *
 * Publishing runs from a per-channel "plan": the flattened list of the
 * subscribers from that channel up to the root, built on the first publish
 * and rebuilt when the bus's mutation counter has moved since. While no
 * callback mutates the bus, a publish walks the plan without copying
 * anything; when one does, the publish switches to the per-level snapshots
 * for the rest of its run (see publish_rest()). */
#include "lusty/bus.h"

#include "lusty/alloc.h"
#include "lusty/error.h"

#include <assert.h>
#include <stdarg.h>
#include <string.h>

typedef struct sub {
    uint64_t id;
    lusty_bus_handler_t h;
    lusty_bus_channel_t *channel;
    int dead;              /* removed during a publish, waiting to be freed */
    struct sub *next_dead; /* the bus's list of dead subscribers */
} sub_t;

/* The subscribers a publish starting at a channel runs when nobody mutates
 * the bus meanwhile: the channel's own, then its parent's, up to the root.
 * Immutable once built; a stale plan that a publish in flight may still be
 * walking is kept on the bus's dead list until the outermost publish ends. */
typedef struct plan {
    uint64_t mutations; /* the bus's counter when it was built */
    size_t n;
    struct plan *next_dead;
    sub_t *subs[];
} plan_t;

struct lusty_bus_channel {
    lusty_bus_t *bus;
    lusty_bus_channel_t *parent;
    lusty_bus_channel_t **children; /* sorted by name */
    size_t nchildren;
    size_t children_cap;
    sub_t **subs; /* in priority order */
    size_t nsubs;
    size_t subs_cap;
    plan_t *plan;                   /* built by the first publish here, or NULL */
    lusty_bus_channel_t *next_dead; /* the bus's list of detached channels */
    size_t name_len;
    char name[]; /* NUL-terminated */
};

struct lusty_bus {
    lusty_bus_channel_t *root;
    uint64_t next_id; /* the next subscriber id, also the bus generation */
    /* Moves on every change that can alter a publish's plan: subscribe,
     * unsubscribe, set_priority, channel removal. */
    uint64_t mutations;
    size_t channels; /* attached channels, the root included */
    unsigned depth;  /* publishes in flight */
    /* A stack of subscriber lists: each publish in flight copies the list of
     * the channel it is running on above those of the publishes below it. */
    sub_t **snap;
    size_t snap_len;
    size_t snap_cap;
    sub_t *dead_subs;                   /* freed when depth drops to 0 */
    lusty_bus_channel_t *dead_channels; /* likewise */
    plan_t *dead_plans;                 /* likewise */
};

struct lusty_bus_event {
    lusty_bus_t *bus;
    lusty_bus_result_t *out; /* may be NULL */
    lusty_bus_channel_t *channel;
    sub_t *sub;
    char *error; /* set by lusty_bus_event_error(), owned */
};

/* ---- result lists ---- */

void lusty_bus_result_init(lusty_bus_result_t *res)
{
    res->values = NULL;
    res->len = 0;
    res->cap = 0;
    res->error = NULL;
}

void lusty_bus_result_clear(lusty_bus_result_t *res)
{
    res->len = 0;
    if (res->error) {
        lusty_free(res->error);
        res->error = NULL;
    }
}

void lusty_bus_result_free(lusty_bus_result_t *res)
{
    if (!res)
        return;
    lusty_free(res->values);
    lusty_free(res->error);
    lusty_bus_result_init(res);
}

void lusty_bus_result_push(lusty_bus_result_t *res, lusty_bus_value_t value)
{
    if (res->len == res->cap)
        res->values = lusty_grow(res->values, &res->cap, res->len + 1, sizeof *res->values);
    res->values[res->len++] = value;
}

/* ---- paths ---- */

/* ---- channels ---- */

static lusty_bus_channel_t *channel_new(lusty_bus_t *bus, lusty_bus_channel_t *parent,
                                        const char *name, size_t len)
{
    lusty_bus_channel_t *ch = lusty_calloc(1, sizeof *ch + len + 1);
    ch->bus = bus;
    ch->parent = parent;
    ch->name_len = len;
    if (len)
        memcpy(ch->name, name, len);
    ch->name[len] = '\0';
    bus->channels++;
    return ch;
}

static void sub_free(sub_t *s)
{
    if (s->h.destroy)
        s->h.destroy(s->h.ud, s->h.predicate_ud);
    lusty_free(s);
}

/* Frees `ch`, its subtree and their subscribers, calling destroy callbacks. */
static void channel_free(lusty_bus_channel_t *ch)
{
    for (size_t i = 0; i < ch->nchildren; i++)
        channel_free(ch->children[i]);
    for (size_t i = 0; i < ch->nsubs; i++)
        sub_free(ch->subs[i]);
    lusty_free(ch->plan);
    lusty_free(ch->children);
    lusty_free(ch->subs);
    lusty_free(ch);
}

static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c)
        return c;
    return (alen > blen) - (alen < blen);
}

/* Whether a[0..len) equals b[0..len). Names are short: a byte loop the
 * compiler inlines beats a call to memcmp. */
static inline int name_eq(const char *a, const char *b, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

/* Up to this many children are searched linearly, comparing lengths first:
 * cheaper than a binary search on the few children most channels have. */
#define LINEAR_CHILDREN 8

/* Searches the children of `ch` (sorted by name) for `name`: returns the
 * child, or NULL with *pos (may be NULL) set to where it would be
 * inserted. */
static lusty_bus_channel_t *child_search(const lusty_bus_channel_t *ch, const char *name,
                                         size_t len, size_t *pos)
{
    size_t lo = 0, hi = ch->nchildren;
    if (hi <= LINEAR_CHILDREN && !pos) {
        for (size_t i = 0; i < hi; i++) {
            lusty_bus_channel_t *c = ch->children[i];
            if (c->name_len == len && name_eq(c->name, name, len))
                return c;
        }
        return NULL;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        lusty_bus_channel_t *c = ch->children[mid];
        int cmp = name_cmp(name, len, c->name, c->name_len);
        if (cmp == 0) {
            if (pos)
                *pos = mid;
            return c;
        }
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (pos)
        *pos = lo;
    return NULL;
}

static lusty_bus_channel_t *child_insert(lusty_bus_channel_t *ch, size_t pos, const char *name,
                                         size_t len)
{
    lusty_bus_channel_t *c = channel_new(ch->bus, ch, name, len);
    ch->children =
        lusty_grow(ch->children, &ch->children_cap, ch->nchildren + 1, sizeof *ch->children);
    memmove(ch->children + pos + 1, ch->children + pos,
            (ch->nchildren - pos) * sizeof *ch->children);
    ch->children[pos] = c;
    ch->nchildren++;
    return c;
}

/* The child of `ch` called by the NUL-terminated `name`: on the few
 * children most channels have, compared without measuring `name` first. */
static lusty_bus_channel_t *child_cstr(const lusty_bus_channel_t *ch, const char *name)
{
    if (ch->nchildren > LINEAR_CHILDREN)
        return child_search(ch, name, strlen(name), NULL);
    for (size_t i = 0; i < ch->nchildren; i++) {
        lusty_bus_channel_t *c = ch->children[i];
        size_t k = 0;
        while (k < c->name_len && name[k] == c->name[k] && name[k])
            k++;
        if (k == c->name_len && name[k] == '\0')
            return c;
    }
    return NULL;
}

/* How a walk treats a missing name: WALK_FIND gives NULL, WALK_CREATE
 * creates it and WALK_DEEPEST stops at the last channel found. */
enum { WALK_FIND, WALK_CREATE, WALK_DEEPEST };

/* The child of `ch` called name[0..len); created when missing under
 * WALK_CREATE, else NULL. */
static lusty_bus_channel_t *step(lusty_bus_channel_t *ch, const char *name, size_t len, int mode)
{
    lusty_bus_channel_t *next = child_search(ch, name, len, NULL);
    if (!next && mode == WALK_CREATE) {
        size_t pos;
        child_search(ch, name, len, &pos);
        next = child_insert(ch, pos, name, len);
    }
    return next;
}

/* Follows the string path `s` ("a:b", empty parts skipped) from the root,
 * in place: nothing is copied or allocated for existing channels. */
static lusty_bus_channel_t *walk_str(lusty_bus_t *bus, const char *s, int mode)
{
    assert(s);
    lusty_bus_channel_t *ch = bus->root;
    for (;;) {
        while (*s == ':')
            s++;
        if (!*s)
            return ch;
        const char *e = s;
        while (*e && *e != ':')
            e++;
        lusty_bus_channel_t *next = step(ch, s, (size_t)(e - s), mode);
        if (!next)
            return mode == WALK_DEEPEST ? ch : NULL;
        ch = next;
        s = e;
    }
}

/* Follows the array path parts[0..n) from the root; `lens` (may be NULL)
 * gives the parts' lengths. */
static lusty_bus_channel_t *walk_parts(lusty_bus_t *bus, const char *const *parts,
                                       const size_t *lens, size_t n, int mode)
{
    assert(parts || n == 0);
    lusty_bus_channel_t *ch = bus->root;
    for (size_t i = 0; i < n; i++) {
        lusty_bus_channel_t *next;
        if (lens) {
            next = step(ch, parts[i], lens[i], mode);
        } else {
            next = child_cstr(ch, parts[i]);
            if (!next && mode == WALK_CREATE)
                next = step(ch, parts[i], strlen(parts[i]), mode);
        }
        if (!next)
            return mode == WALK_DEEPEST ? ch : NULL;
        ch = next;
    }
    return ch;
}

lusty_bus_channel_t *lusty_bus_channel_child(lusty_bus_channel_t *ch, const char *name, size_t len)
{
    return child_search(ch, name, len, NULL);
}

lusty_bus_channel_t *lusty_bus_channel_add_child(lusty_bus_channel_t *ch, const char *name,
                                                 size_t len)
{
    size_t pos;
    lusty_bus_channel_t *c = child_search(ch, name, len, &pos);
    return c ? c : child_insert(ch, pos, name, len);
}

size_t lusty_bus_channel_child_count(const lusty_bus_channel_t *ch)
{
    return ch->nchildren;
}

lusty_bus_channel_t *lusty_bus_channel_child_at(lusty_bus_channel_t *ch, size_t index)
{
    return index < ch->nchildren ? ch->children[index] : NULL;
}

const char *lusty_bus_channel_name(const lusty_bus_channel_t *ch, size_t *len)
{
    if (len)
        *len = ch->name_len;
    return ch->name;
}

lusty_bus_channel_t *lusty_bus_channel_parent(const lusty_bus_channel_t *ch)
{
    return ch->parent;
}

lusty_bus_t *lusty_bus_channel_bus(const lusty_bus_channel_t *ch)
{
    return ch->bus;
}

size_t lusty_bus_channel_depth(const lusty_bus_channel_t *ch)
{
    size_t depth = 0;
    for (; ch->parent; ch = ch->parent)
        depth++;
    return depth;
}

/* Writes the names from the root down, right to left into reserved space. */
void lusty_bus_channel_path(const lusty_bus_channel_t *ch, lusty_buf_t *out)
{
    size_t total = 0;
    for (const lusty_bus_channel_t *c = ch; c->parent; c = c->parent)
        total += c->name_len + 1;
    if (total == 0)
        return;
    total--; /* no separator before the first name */
    lusty_buf_reserve(out, total);
    char *end = out->data + out->len + total;
    for (const lusty_bus_channel_t *c = ch; c->parent; c = c->parent) {
        end -= c->name_len;
        memcpy(end, c->name, c->name_len);
        if (c->parent->parent)
            *--end = ':';
    }
    out->len += total;
    out->data[out->len] = '\0';
}

int lusty_bus_channel_remove(lusty_bus_channel_t *ch)
{
    lusty_bus_channel_t *parent = ch->parent;
    if (!parent || ch->nsubs || ch->nchildren)
        return LUSTY_EINVAL;
    size_t pos;
    lusty_bus_channel_t *found = child_search(parent, ch->name, ch->name_len, &pos);
    assert(found == ch);
    (void)found;
    memmove(parent->children + pos, parent->children + pos + 1,
            (parent->nchildren - pos - 1) * sizeof *parent->children);
    parent->nchildren--;

    lusty_bus_t *bus = ch->bus;
    bus->channels--;
    bus->mutations++; /* bindings may key caches by channel address */
    if (bus->depth) {
        /* A publish may be bubbling through it: keep it (and its parent
         * pointer) alive until the outermost publish ends. */
        ch->next_dead = bus->dead_channels;
        bus->dead_channels = ch;
    } else {
        channel_free(ch);
    }
    return 0;
}

/* ---- the bus ---- */

lusty_bus_t *lusty_bus_new(void)
{
    lusty_bus_t *bus = lusty_calloc(1, sizeof *bus);
    bus->next_id = 1;
    bus->root = channel_new(bus, NULL, "", 0);
    return bus;
}

/* Frees what was removed during the publishes that just ended. A destroy
 * callback may use the bus again, so the lists are popped one at a time. */
static void sweep(lusty_bus_t *bus)
{
    while (bus->dead_subs) {
        sub_t *s = bus->dead_subs;
        bus->dead_subs = s->next_dead;
        sub_free(s);
    }
    while (bus->dead_channels) {
        lusty_bus_channel_t *ch = bus->dead_channels;
        bus->dead_channels = ch->next_dead;
        channel_free(ch);
    }
    while (bus->dead_plans) {
        plan_t *p = bus->dead_plans;
        bus->dead_plans = p->next_dead;
        lusty_free(p);
    }
}

void lusty_bus_free(lusty_bus_t *bus)
{
    if (!bus)
        return;
    assert(bus->depth == 0 && "lusty_bus_free() during a publish");
    sweep(bus);
    channel_free(bus->root);
    lusty_free(bus->snap);
    lusty_free(bus);
}

lusty_bus_channel_t *lusty_bus_root(lusty_bus_t *bus)
{
    return bus->root;
}

size_t lusty_bus_channel_total(const lusty_bus_t *bus)
{
    return bus->channels;
}

lusty_bus_channel_t *lusty_bus_get(lusty_bus_t *bus, const char *path)
{
    return walk_str(bus, path, WALK_CREATE);
}

lusty_bus_channel_t *lusty_bus_getv(lusty_bus_t *bus, const char *const *parts, size_t n)
{
    return walk_parts(bus, parts, NULL, n, WALK_CREATE);
}

lusty_bus_channel_t *lusty_bus_find(lusty_bus_t *bus, const char *path)
{
    return walk_str(bus, path, WALK_FIND);
}

lusty_bus_channel_t *lusty_bus_findv(lusty_bus_t *bus, const char *const *parts, size_t n)
{
    return walk_parts(bus, parts, NULL, n, WALK_FIND);
}

lusty_bus_channel_t *lusty_bus_nearest(lusty_bus_t *bus, const char *path)
{
    return walk_str(bus, path, WALK_DEEPEST);
}

lusty_bus_channel_t *lusty_bus_nearestv(lusty_bus_t *bus, const char *const *parts,
                                        const size_t *lens, size_t n)
{
    return walk_parts(bus, parts, lens, n, WALK_DEEPEST);
}

uint64_t lusty_bus_mutations(const lusty_bus_t *bus)
{
    return bus->mutations;
}

const uint64_t *lusty_bus_mutations_ptr(const lusty_bus_t *bus)
{
    return &bus->mutations;
}

uint64_t lusty_bus_next_id(const lusty_bus_t *bus)
{
    return bus->next_id;
}

void lusty_bus_enter(lusty_bus_t *bus)
{
    bus->depth++;
}

void lusty_bus_leave(lusty_bus_t *bus)
{
    assert(bus->depth > 0);
    if (--bus->depth == 0)
        sweep(bus);
}

/* ---- subscribers ---- */

/* Depth-first search for `id` under `ch`; sets *index to its position. */
static sub_t *sub_search(const lusty_bus_channel_t *ch, uint64_t id, size_t *index)
{
    for (size_t i = 0; i < ch->nsubs; i++) {
        if (ch->subs[i]->id == id) {
            *index = i;
            return ch->subs[i];
        }
    }
    for (size_t i = 0; i < ch->nchildren; i++) {
        sub_t *s = sub_search(ch->children[i], id, index);
        if (s)
            return s;
    }
    return NULL;
}

static void sub_info(lusty_bus_subscriber_t *out, const sub_t *s, size_t index)
{
    out->id = s->id;
    out->channel = s->channel;
    out->priority = index + 1;
    out->handler = s->h;
}

int lusty_bus_channel_subscribe(uint64_t *out, lusty_bus_channel_t *ch,
                                const lusty_bus_handler_t *handler, long priority)
{
    if (out)
        *out = 0;
    if (!handler || !handler->cb)
        return LUSTY_EINVAL;

    sub_t *s = lusty_calloc(1, sizeof *s);
    s->id = ch->bus->next_id++;
    ch->bus->mutations++;
    s->h = *handler;
    s->channel = ch;

    size_t n = ch->nsubs;
    size_t pos = priority >= 1 && (unsigned long)priority <= n ? (size_t)priority - 1 : n;
    ch->subs = lusty_grow(ch->subs, &ch->subs_cap, n + 1, sizeof *ch->subs);
    memmove(ch->subs + pos + 1, ch->subs + pos, (n - pos) * sizeof *ch->subs);
    ch->subs[pos] = s;
    ch->nsubs++;
    if (out)
        *out = s->id;
    return 0;
}

int lusty_bus_channel_lookup(lusty_bus_subscriber_t *out, lusty_bus_channel_t *ch, uint64_t id)
{
    size_t index;
    sub_t *s = sub_search(ch, id, &index);
    if (!s)
        return LUSTY_ENOENT;
    sub_info(out, s, index);
    return 0;
}

int lusty_bus_channel_unsubscribe(lusty_bus_channel_t *ch, uint64_t id)
{
    size_t i;
    sub_t *s = sub_search(ch, id, &i);
    if (!s)
        return LUSTY_ENOENT;
    lusty_bus_channel_t *c = s->channel;
    memmove(c->subs + i, c->subs + i + 1, (c->nsubs - i - 1) * sizeof *c->subs);
    c->nsubs--;

    lusty_bus_t *bus = c->bus;
    bus->mutations++;
    if (bus->depth) {
        /* Publishes in flight may hold it in their snapshots. */
        s->dead = 1;
        s->next_dead = bus->dead_subs;
        bus->dead_subs = s;
    } else {
        sub_free(s);
    }
    return 0;
}

int lusty_bus_channel_set_priority(lusty_bus_channel_t *ch, uint64_t id, long priority)
{
    size_t i;
    sub_t *s = sub_search(ch, id, &i);
    if (!s)
        return LUSTY_ENOENT;
    lusty_bus_channel_t *c = s->channel;
    c->bus->mutations++;
    size_t n = c->nsubs;
    size_t pos = priority < 1 ? 0 : (unsigned long)priority > n ? n - 1 : (size_t)priority - 1;
    if (pos < i)
        memmove(c->subs + pos + 1, c->subs + pos, (i - pos) * sizeof *c->subs);
    else if (pos > i)
        memmove(c->subs + i, c->subs + i + 1, (pos - i) * sizeof *c->subs);
    c->subs[pos] = s;
    return 0;
}

size_t lusty_bus_channel_count(const lusty_bus_channel_t *ch)
{
    return ch->nsubs;
}

int lusty_bus_channel_at(lusty_bus_subscriber_t *out, lusty_bus_channel_t *ch, size_t index)
{
    if (index >= ch->nsubs)
        return LUSTY_ENOENT;
    sub_info(out, ch->subs[index], index);
    return 0;
}

int lusty_bus_subscribe(uint64_t *out, lusty_bus_t *bus, const char *path,
                        const lusty_bus_handler_t *handler, long priority)
{
    if (!handler || !handler->cb) {
        if (out)
            *out = 0;
        return LUSTY_EINVAL; /* before creating the channel */
    }
    return lusty_bus_channel_subscribe(out, lusty_bus_get(bus, path), handler, priority);
}

int lusty_bus_subscribev(uint64_t *out, lusty_bus_t *bus, const char *const *parts, size_t n,
                         const lusty_bus_handler_t *handler, long priority)
{
    if (!handler || !handler->cb) {
        if (out)
            *out = 0;
        return LUSTY_EINVAL;
    }
    return lusty_bus_channel_subscribe(out, lusty_bus_getv(bus, parts, n), handler, priority);
}

int lusty_bus_lookup(lusty_bus_subscriber_t *out, lusty_bus_t *bus, const char *path, uint64_t id)
{
    lusty_bus_channel_t *ch = lusty_bus_find(bus, path);
    return ch ? lusty_bus_channel_lookup(out, ch, id) : LUSTY_ENOENT;
}

int lusty_bus_lookupv(lusty_bus_subscriber_t *out, lusty_bus_t *bus, const char *const *parts,
                      size_t n, uint64_t id)
{
    lusty_bus_channel_t *ch = lusty_bus_findv(bus, parts, n);
    return ch ? lusty_bus_channel_lookup(out, ch, id) : LUSTY_ENOENT;
}

int lusty_bus_unsubscribe(lusty_bus_t *bus, const char *path, uint64_t id)
{
    lusty_bus_channel_t *ch = lusty_bus_find(bus, path);
    return ch ? lusty_bus_channel_unsubscribe(ch, id) : LUSTY_ENOENT;
}

int lusty_bus_unsubscribev(lusty_bus_t *bus, const char *const *parts, size_t n, uint64_t id)
{
    lusty_bus_channel_t *ch = lusty_bus_findv(bus, parts, n);
    return ch ? lusty_bus_channel_unsubscribe(ch, id) : LUSTY_ENOENT;
}

/* ---- publishing ---- */

void lusty_bus_event_push(lusty_bus_event_t *ev, lusty_bus_value_t value)
{
    if (ev->out)
        lusty_bus_result_push(ev->out, value);
}

int lusty_bus_event_error(lusty_bus_event_t *ev, int code, const char *fmt, ...)
{
    lusty_buf_t buf = LUSTY_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    lusty_buf_vprintf(&buf, fmt, ap);
    va_end(ap);
    lusty_free(ev->error);
    ev->error = lusty_buf_detach(&buf, NULL);
    return code;
}

lusty_bus_channel_t *lusty_bus_event_channel(const lusty_bus_event_t *ev)
{
    return ev->channel;
}

uint64_t lusty_bus_event_id(const lusty_bus_event_t *ev)
{
    return ev->sub->id;
}

/* Runs one subscriber: returns a negative code, LUSTY_BUS_STOP, or
 * LUSTY_BUS_CONTINUE (also when its predicate skipped it). */
static int run_sub(lusty_bus_event_t *ev, sub_t *s, void *args)
{
    int rc = 1;
    if (s->h.predicate)
        rc = s->h.predicate(ev, args, s->h.predicate_ud);
    if (rc > 0) {
        rc = s->h.cb(ev, args, s->h.ud);
        if (rc == 0)
            rc = LUSTY_BUS_STOP;
        else if (rc > 0)
            rc = LUSTY_BUS_CONTINUE;
    } else if (rc == 0) {
        rc = LUSTY_BUS_CONTINUE; /* skipped */
    }
    if (rc >= 0 && ev->error) {
        /* A message without a failure means nothing. */
        lusty_free(ev->error);
        ev->error = NULL;
    }
    return rc;
}

/* Hands the failing subscriber's message (or the code's) to the publisher. */
static void report_error(lusty_bus_event_t *ev, int rc)
{
    char *msg = ev->error ? ev->error : lusty_strdup(lusty_strerror(rc));
    ev->error = NULL;
    if (ev->out) {
        lusty_free(ev->out->error);
        ev->out->error = msg;
    } else {
        lusty_free(msg);
    }
}

/* The plan of `ch`, rebuilt when the bus changed since it was made. A
 * stale plan is freed at once when no publish is in flight, else kept until
 * the outermost publish ends (one of them may be walking it). */
static plan_t *plan_get(lusty_bus_channel_t *ch)
{
    lusty_bus_t *bus = ch->bus;
    plan_t *p = ch->plan;
    if (p && p->mutations == bus->mutations)
        return p;
    size_t n = 0;
    for (const lusty_bus_channel_t *c = ch; c; c = c->parent)
        n += c->nsubs;
    if (p) {
        if (bus->depth) {
            p->next_dead = bus->dead_plans;
            bus->dead_plans = p;
        } else {
            lusty_free(p);
        }
    }
    p = lusty_malloc(sizeof *p + n * sizeof *p->subs);
    p->mutations = bus->mutations;
    p->n = n;
    p->next_dead = NULL;
    n = 0;
    for (const lusty_bus_channel_t *c = ch; c; c = c->parent) {
        if (c->nsubs)
            memcpy(p->subs + n, c->subs, c->nsubs * sizeof *c->subs);
        n += c->nsubs;
    }
    ch->plan = p;
    return p;
}

/* Runs `s` unless it was removed or added since the publish started;
 * returns as run_sub(), reporting a failure. */
static int run_checked(lusty_bus_event_t *ev, sub_t *s, uint64_t gen, void *args)
{
    if (s->dead || s->id >= gen)
        return LUSTY_BUS_CONTINUE;
    ev->channel = s->channel;
    ev->sub = s;
    int rc = run_sub(ev, s, args);
    if (rc < 0)
        report_error(ev, rc);
    return rc;
}

/* The rest of a publish after the callback of plan entry `i` changed the
 * bus. Up to that callback nothing had changed, so the plan's entries for
 * the channel of entry `i` are the very list that channel had when the
 * publish reached it: the rest of them run from the plan (which stays
 * allocated until the outermost publish ends). Each ancestor then runs from
 * a copy of its list taken when the publish reaches it, on the bus's
 * snapshot stack, so that callbacks may insert, remove or move subscribers
 * without disturbing the iteration. Removed subscribers stay allocated (and
 * marked dead) until the outermost publish ends, so neither the plan nor a
 * snapshot dangles; subscribers created after the publish started have ids
 * >= `gen` and are skipped. Nested publishes push their snapshots above ours
 * and pop them before returning; the stack may move when it grows, hence
 * the indexing from `base`. */
static int publish_rest(lusty_bus_event_t *ev, const plan_t *plan, size_t i, uint64_t gen,
                        void *args)
{
    lusty_bus_t *bus = ev->bus;
    lusty_bus_channel_t *c = plan->subs[i]->channel;
    int rc = LUSTY_BUS_CONTINUE;
    for (size_t j = i + 1; j < plan->n && plan->subs[j]->channel == c; j++) {
        rc = run_checked(ev, plan->subs[j], gen, args);
        if (rc <= 0)
            return rc;
    }
    const size_t base = bus->snap_len;
    for (c = c->parent; c; c = c->parent) {
        size_t n = c->nsubs;
        if (n == 0)
            continue;
        bus->snap = lusty_grow(bus->snap, &bus->snap_cap, base + n, sizeof *bus->snap);
        memcpy(bus->snap + base, c->subs, n * sizeof *c->subs);
        bus->snap_len = base + n;
        for (size_t k = 0; k < n; k++) {
            rc = run_checked(ev, bus->snap[base + k], gen, args);
            if (rc <= 0)
                goto done;
        }
    }
done:
    bus->snap_len = base;
    return rc;
}

/* The publish loop: walks the plan of `ch` while the bus stays unchanged,
 * checking the mutation counter after each subscriber, and hands over to
 * publish_rest() as soon as a callback or predicate changed it. */
static int publish(lusty_bus_result_t *out, lusty_bus_channel_t *ch, void *args)
{
    lusty_bus_t *bus = ch->bus;
    const plan_t *plan = plan_get(ch);
    lusty_bus_event_t ev = {bus, out, NULL, NULL, NULL};
    const uint64_t gen = bus->next_id;
    const uint64_t mut = bus->mutations;
    int rc = 0;

    bus->depth++;
    for (size_t i = 0; i < plan->n; i++) {
        sub_t *s = plan->subs[i];
        ev.channel = s->channel;
        ev.sub = s;
        rc = run_sub(&ev, s, args);
        if (rc < 0) {
            report_error(&ev, rc);
            goto cleanup;
        }
        if (rc == LUSTY_BUS_STOP)
            goto cleanup;
        if (bus->mutations != mut) {
            rc = publish_rest(&ev, plan, i, gen, args);
            goto cleanup;
        }
    }
    rc = 0;

cleanup:
    if (--bus->depth == 0)
        sweep(bus);
    return rc < 0 ? rc : 0;
}

int lusty_bus_channel_publish(lusty_bus_result_t *out, lusty_bus_channel_t *ch, void *args)
{
    return publish(out, ch, args);
}

int lusty_bus_publish(lusty_bus_result_t *out, lusty_bus_t *bus, const char *path, void *args)
{
    return publish(out, walk_str(bus, path, WALK_DEEPEST), args);
}

int lusty_bus_publishv(lusty_bus_result_t *out, lusty_bus_t *bus, const char *const *parts,
                       size_t n, void *args)
{
    return publish(out, walk_parts(bus, parts, NULL, n, WALK_DEEPEST), args);
}
