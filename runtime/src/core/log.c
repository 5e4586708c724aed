/* The replaceable log sink. Atomics rather than a lock: the sink and level
 * are set once at start-up but read on every worker thread. */
#include "lusty/log.h"

#include <stdatomic.h>
#include <stdio.h>

typedef struct {
    lusty_log_cb cb;
    void *data;
} sink_t;

static _Atomic(lusty_log_level_t) log_level = LUSTY_LOG_INFO;
static sink_t sink;
static atomic_int sink_set;

void lusty_log_set_sink(lusty_log_cb cb, void *data)
{
    atomic_store(&sink_set, 0);
    sink.cb = cb;
    sink.data = data;
    atomic_store(&sink_set, cb != NULL);
}

void lusty_log_set_level(lusty_log_level_t level)
{
    atomic_store(&log_level, level);
}

int lusty_log_enabled(lusty_log_level_t level)
{
    return level >= atomic_load_explicit(&log_level, memory_order_relaxed) &&
           level < LUSTY_LOG_OFF && atomic_load_explicit(&sink_set, memory_order_acquire);
}

const char *lusty_log_level_name(lusty_log_level_t level)
{
    switch (level) {
    case LUSTY_LOG_DEBUG:
        return "DEBUG";
    case LUSTY_LOG_INFO:
        return "INFO";
    case LUSTY_LOG_WARN:
        return "WARN";
    case LUSTY_LOG_ERROR:
        return "ERROR";
    case LUSTY_LOG_OFF:
        break;
    }
    return "OFF";
}

void lusty_log_vwrite(lusty_log_level_t level, const char *module, const char *fmt, va_list ap)
{
    if (!lusty_log_enabled(level))
        return;
    /* A fixed buffer: a log line never needs the heap, and truncating an
     * absurdly long line is better than failing to log it. */
    char message[1024];
    vsnprintf(message, sizeof(message), fmt, ap);
    sink.cb(sink.data, level, module, message);
}

void lusty_log_write(lusty_log_level_t level, const char *module, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lusty_log_vwrite(level, module, fmt, ap);
    va_end(ap);
}
