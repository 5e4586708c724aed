/* The event bus: hierarchical channels with ordered subscribers.
 *
 * Channels form a tree under an unnamed root. A channel is addressed either
 * by a string whose parts are separated by ':' ("data:request:user") or by an
 * array of parts ({"data", "request", "user"}); every function that takes a
 * channel path comes in both forms, the array form with a `v` suffix. In the
 * string form empty parts are skipped ("a::b" is "a:b", "" is the root); in
 * the array form each element is one name taken as is, so {"a:b"} names a
 * single child called "a:b". The array form with n == 0 is the root.
 *
 * Each channel holds an ordered list of subscribers. A subscriber is a
 * lusty_bus_handler_t (callback, user data, optional predicate, optional
 * destroy callback) and an id: unique, stable, never reused, never 0. Its
 * priority is its 1-based position in its channel's list.
 *
 * Publishing on channel C with an opaque `args` pointer runs C's subscribers
 * in order, then those of C's parent, and so on up to the root, until a
 * subscriber says stop (the default) or fails:
 *  - a subscriber whose predicate returns 0 is skipped for that publish;
 *  - a callback returns LUSTY_BUS_CONTINUE to let the publish go on,
 *    LUSTY_BUS_STOP (0) to end it right there (no further subscriber of C and
 *    no ancestor), or a negative LUSTY_E* code to abort it: the publish then
 *    returns that code and the message set with lusty_bus_event_error();
 *  - a callback may append values to the publish's result list with
 *    lusty_bus_event_push(); the publisher gets them in order.
 * Publishing on a path that does not exist creates nothing: it starts at the
 * deepest existing channel on that path. Only lusty_bus_get() and the
 * subscribe functions create channels. Looking a channel up allocates
 * nothing, and a publish on existing channels allocates nothing besides the
 * growth of the caller's result list and, on the first publish at a channel
 * after the bus changed, that channel's plan (the flattened list of the
 * subscribers from it up to the root, kept with the channel and reused
 * until the next change: memory grows with the channels, never with the
 * paths published on).
 *
 * Re-entrancy. A callback or predicate may subscribe, unsubscribe, change
 * priorities, publish (on any channel) and remove channels while a publish is
 * in flight. The rules:
 *  - A subscriber removed during a publish is taken out of its channel at once
 *    (lookups no longer find it), is skipped by every publish in flight, and is
 *    freed (its destroy callback runs) when the outermost publish returns.
 *  - A subscriber added during a publish does not see any publish that was
 *    already in flight when it was added, on its channel or on any other; it
 *    sees the publishes that start afterwards, including nested ones. Ids grow
 *    monotonically, so the id counter serves as the bus generation.
 *  - A priority change during a publish reorders the list at once for lookups
 *    and for publishes that start afterwards; the publishes in flight keep the
 *    order their channel had when they reached it, so nobody runs twice or is
 *    skipped because of a move.
 *  - A channel removed during a publish is detached at once and freed when the
 *    outermost publish returns.
 * The bus is not thread-safe: use it from one thread (one bus per event loop).
 *
 * Ownership: the bus owns its channels and subscribers; channel pointers are
 * borrowed and stay valid until the channel is removed or the bus freed. The
 * user data of a subscriber belongs to the caller unless a destroy callback is
 * given, which the bus calls exactly once when the subscriber is freed (on
 * unsubscribe, after the outermost publish, or by lusty_bus_free()). */
#ifndef LUSTY_BUS_H
#define LUSTY_BUS_H

#include "lusty/buf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct lusty_bus lusty_bus_t;
typedef struct lusty_bus_channel lusty_bus_channel_t;
/* The publish in flight, handed to callbacks and predicates; only valid
 * during that call. */
typedef struct lusty_bus_event lusty_bus_event_t;

/* What a callback returns when it does not fail. */
#define LUSTY_BUS_STOP 0
#define LUSTY_BUS_CONTINUE 1

/* A subscriber callback: `args` is the publisher's pointer, `ud` the
 * handler's. Returns LUSTY_BUS_CONTINUE, LUSTY_BUS_STOP or a negative code. */
typedef int (*lusty_bus_cb)(lusty_bus_event_t *ev, void *args, void *ud);
/* A predicate: returns 1 to run the subscriber, 0 to skip it for this
 * publish, or a negative code to abort the publish as a callback would. */
typedef int (*lusty_bus_predicate_cb)(lusty_bus_event_t *ev, void *args, void *predicate_ud);
/* Releases a subscriber's user data; called once when it is freed. It must
 * not call into the bus being freed by lusty_bus_free(). */
typedef void (*lusty_bus_destroy_cb)(void *ud, void *predicate_ud);

typedef struct {
    lusty_bus_cb cb;                  /* required */
    void *ud;                         /* passed to cb */
    lusty_bus_predicate_cb predicate; /* optional (NULL: always run) */
    void *predicate_ud;               /* passed to predicate */
    lusty_bus_destroy_cb destroy;     /* optional: called with ud, predicate_ud */
} lusty_bus_handler_t;

/* One subscriber as seen by lookups and iteration (a copy; borrows). */
typedef struct {
    uint64_t id;
    lusty_bus_channel_t *channel; /* the channel it is subscribed to */
    size_t priority;              /* its 1-based position in that channel */
    lusty_bus_handler_t handler;
} lusty_bus_subscriber_t;

/* A value a subscriber hands back; which member is meant is a convention
 * between subscribers and publisher (the Lua host stores registry refs). */
typedef union {
    void *ptr;
    int64_t i;
    double n;
} lusty_bus_value_t;

/* The result list of a publish, owned by the publisher. A publish appends to
 * it (it is not cleared first), so one list can collect several publishes.
 * `error` is the message of the subscriber that made a publish fail, or
 * NULL. The values themselves are not owned by the list. */
typedef struct {
    lusty_bus_value_t *values;
    size_t len;
    size_t cap;
    char *error; /* owned by the list */
} lusty_bus_result_t;

#define LUSTY_BUS_RESULT_INIT {NULL, 0, 0, NULL}

void lusty_bus_result_init(lusty_bus_result_t *res);
/* Empties the list (frees the error, keeps the capacity). */
void lusty_bus_result_clear(lusty_bus_result_t *res);
/* Frees the storage and the error and leaves the list empty; accepts NULL. */
void lusty_bus_result_free(lusty_bus_result_t *res);
void lusty_bus_result_push(lusty_bus_result_t *res, lusty_bus_value_t value);

/* The bus. Free with lusty_bus_free(), which frees every channel and
 * subscriber (calling destroy callbacks); accepts NULL; not during a publish. */
lusty_bus_t *lusty_bus_new(void);
void lusty_bus_free(lusty_bus_t *bus);
/* The unnamed root channel. */
lusty_bus_channel_t *lusty_bus_root(lusty_bus_t *bus);
/* How many channels the bus holds, the root included. */
size_t lusty_bus_channel_total(const lusty_bus_t *bus);

/* The channel at `path`, created (with its missing ancestors) when absent.
 * Never NULL. */
lusty_bus_channel_t *lusty_bus_get(lusty_bus_t *bus, const char *path);
lusty_bus_channel_t *lusty_bus_getv(lusty_bus_t *bus, const char *const *parts, size_t n);
/* The channel at `path`, or NULL when it does not exist; creates nothing. */
lusty_bus_channel_t *lusty_bus_find(lusty_bus_t *bus, const char *path);
lusty_bus_channel_t *lusty_bus_findv(lusty_bus_t *bus, const char *const *parts, size_t n);

/* The deepest existing channel on `path`: the channel a publish on `path`
 * starts at. Creates nothing; never NULL (the root at worst). In the array
 * form `lens` (may be NULL: strlen) gives each part's length, so a binding
 * that knows them saves the strlen. */
lusty_bus_channel_t *lusty_bus_nearest(lusty_bus_t *bus, const char *path);
lusty_bus_channel_t *lusty_bus_nearestv(lusty_bus_t *bus, const char *const *parts,
                                        const size_t *lens, size_t n);

/* For bindings that cache what they derive from the bus (the Lua binding
 * caches, per channel, the subscribers a publish runs). The mutation counter
 * moves on every subscribe, unsubscribe, priority change and channel removal
 * (not on channel creation); a cache made at one value is valid while the
 * counter keeps it. lusty_bus_mutations_ptr() gives its address, valid for
 * the bus's life, for bindings that poll it cheaply. lusty_bus_next_id() is
 * the id the next subscriber will get: a publish skips every subscriber
 * whose id is at or above the value it had when the publish started. */
uint64_t lusty_bus_mutations(const lusty_bus_t *bus);
const uint64_t *lusty_bus_mutations_ptr(const lusty_bus_t *bus);
uint64_t lusty_bus_next_id(const lusty_bus_t *bus);

/* For bindings that run a publish's subscribers themselves: marks a publish
 * in flight, as lusty_bus_publish() does for its duration. Until the
 * matching lusty_bus_leave(), removed subscribers and channels stay
 * allocated (and dead), so pointers taken before stay valid; the outermost
 * leave frees them, calling destroy callbacks. Calls nest and must pair up,
 * errors included. */
void lusty_bus_enter(lusty_bus_t *bus);
void lusty_bus_leave(lusty_bus_t *bus);

/* Subscribes `handler` (copied) on the channel at `path`, creating it, at
 * position `priority` when 1 <= priority <= the current count, else last.
 * Sets *out (may be NULL) to the new id. Returns 0, or LUSTY_EINVAL when
 * handler->cb is NULL (then *out is 0 and destroy is not called). */
int lusty_bus_subscribe(uint64_t *out, lusty_bus_t *bus, const char *path,
                        const lusty_bus_handler_t *handler, long priority);
int lusty_bus_subscribev(uint64_t *out, lusty_bus_t *bus, const char *const *parts, size_t n,
                         const lusty_bus_handler_t *handler, long priority);

/* Publishes `args` on `path` (see the top of this file), appending results
 * to `out` (may be NULL to drop them). Returns 0 when the publish ran to a
 * stop or to the root, or the negative code of the subscriber that failed,
 * with its message in out->error (never NULL then: the code's message when
 * the subscriber set none); values pushed before the failure stay in `out`
 * so the caller can release them. */
int lusty_bus_publish(lusty_bus_result_t *out, lusty_bus_t *bus, const char *path, void *args);
int lusty_bus_publishv(lusty_bus_result_t *out, lusty_bus_t *bus, const char *const *parts,
                       size_t n, void *args);

/* Finds subscriber `id` on the channel at `path` or any channel below it.
 * Returns 0 and fills *out, or LUSTY_ENOENT (no such channel or id). */
int lusty_bus_lookup(lusty_bus_subscriber_t *out, lusty_bus_t *bus, const char *path, uint64_t id);
int lusty_bus_lookupv(lusty_bus_subscriber_t *out, lusty_bus_t *bus, const char *const *parts,
                      size_t n, uint64_t id);
/* Removes subscriber `id` from the channel at `path` or any channel below
 * it. Returns 0 or LUSTY_ENOENT. */
int lusty_bus_unsubscribe(lusty_bus_t *bus, const char *path, uint64_t id);
int lusty_bus_unsubscribev(lusty_bus_t *bus, const char *const *parts, size_t n, uint64_t id);

/* Channel operations; the path functions above are shorthands for these. */
int lusty_bus_channel_subscribe(uint64_t *out, lusty_bus_channel_t *ch,
                                const lusty_bus_handler_t *handler, long priority);
/* Publishes starting at `ch`; as lusty_bus_publish(). */
int lusty_bus_channel_publish(lusty_bus_result_t *out, lusty_bus_channel_t *ch, void *args);
/* Searches `ch`, then its sub-channels depth first (children in name order). */
int lusty_bus_channel_lookup(lusty_bus_subscriber_t *out, lusty_bus_channel_t *ch, uint64_t id);
int lusty_bus_channel_unsubscribe(lusty_bus_channel_t *ch, uint64_t id);
/* Moves subscriber `id` (found as by lookup) to position `priority` in its
 * own channel, clamped to 1..count. Returns 0 or LUSTY_ENOENT. */
int lusty_bus_channel_set_priority(lusty_bus_channel_t *ch, uint64_t id, long priority);

/* The subscribers of `ch` in order: count, and the one at 0-based `index`
 * (returns 0, or LUSTY_ENOENT when index >= count). */
size_t lusty_bus_channel_count(const lusty_bus_channel_t *ch);
int lusty_bus_channel_at(lusty_bus_subscriber_t *out, lusty_bus_channel_t *ch, size_t index);

/* The direct child called name[0..len), or NULL. Allocates nothing. */
lusty_bus_channel_t *lusty_bus_channel_child(lusty_bus_channel_t *ch, const char *name, size_t len);
/* The direct child called name[0..len), created when absent. Never NULL. */
lusty_bus_channel_t *lusty_bus_channel_add_child(lusty_bus_channel_t *ch, const char *name,
                                                 size_t len);
/* The children of `ch` in name order (bytewise): count and the one at
 * 0-based `index` (NULL when out of range). Creating or removing a child
 * shifts the indexes. */
size_t lusty_bus_channel_child_count(const lusty_bus_channel_t *ch);
lusty_bus_channel_t *lusty_bus_channel_child_at(lusty_bus_channel_t *ch, size_t index);

/* The channel's own name (its namespace; "" for the root), borrowed and
 * NUL-terminated; *len (may be NULL) gets its length. */
const char *lusty_bus_channel_name(const lusty_bus_channel_t *ch, size_t *len);
/* The parent, or NULL for the root. */
lusty_bus_channel_t *lusty_bus_channel_parent(const lusty_bus_channel_t *ch);
lusty_bus_t *lusty_bus_channel_bus(const lusty_bus_channel_t *ch);
/* The number of names on the channel's path (0 for the root). */
size_t lusty_bus_channel_depth(const lusty_bus_channel_t *ch);
/* Appends the channel's full path, parts joined by ':', to `out` (nothing for
 * the root). */
void lusty_bus_channel_path(const lusty_bus_channel_t *ch, lusty_buf_t *out);
/* Removes `ch` when it has no subscribers and no children. Returns 0 (the
 * pointer is then invalid), or LUSTY_EINVAL for the root or a channel that
 * is not empty. */
int lusty_bus_channel_remove(lusty_bus_channel_t *ch);

/* Inside a callback or predicate. */
/* Appends `value` to the publish's result list (dropped when the publisher
 * passed none). */
void lusty_bus_event_push(lusty_bus_event_t *ev, lusty_bus_value_t value);
/* Sets the message of the failure the caller is about to return (replacing
 * any earlier one) and returns `code`, so that a callback can end with
 * `return lusty_bus_event_error(ev, LUSTY_ERUNTIME, "...");`. The message is
 * discarded if the callback then does not return a negative code. */
int lusty_bus_event_error(lusty_bus_event_t *ev, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The channel whose subscriber is running (not necessarily the one the
 * publish started on) and that subscriber's id. */
lusty_bus_channel_t *lusty_bus_event_channel(const lusty_bus_event_t *ev);
uint64_t lusty_bus_event_id(const lusty_bus_event_t *ev);

#endif
