/* Failing fast while MongoDB is away. The driver makes every call wait
 * the whole server selection timeout (2 s) before it says the server is
 * unreachable, and each waiting call holds a thread of libuv's pool, which
 * every store call and file operation of the process shares. So once a
 * call found the server unreachable, calls in the next RETRY_MS answer
 * UNAVAILABLE at once with the same reason, and after that one call at a
 * time goes to the driver to see whether the server is back while the
 * others still answer at once. The first call that reaches the server
 * ends the outage. */
#include "store_mongo_internal.h"

#include <time.h>

#define RETRY_MS 500

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

bool lusty__mongo_outage_check(lusty__mongo_outage_t *o, char **reason, bool *probe)
{
    bool away = false;
    *probe = false;
    pthread_mutex_lock(&o->lock);
    if (o->reason) {
        if (o->probing || now_ms() - o->failed_at < RETRY_MS) {
            away = true;
            *reason = bson_strdup(o->reason);
        } else {
            o->probing = *probe = true;
        }
    }
    pthread_mutex_unlock(&o->lock);
    return away;
}

void lusty__mongo_outage_note(lusty__mongo_outage_t *o, lusty__store_status_t status,
                              const char *message, bool probe)
{
    pthread_mutex_lock(&o->lock);
    if (probe)
        o->probing = false;
    if (status == LUSTY__STORE_UNAVAILABLE) {
        bson_free(o->reason);
        o->reason = bson_strdup(message);
        o->failed_at = now_ms();
    } else if (o->reason) {
        /* Anything but "unreachable" means the server answered. */
        bson_free(o->reason);
        o->reason = NULL;
    }
    pthread_mutex_unlock(&o->lock);
}
