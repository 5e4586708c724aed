/* Logging of the runtime.
 *
 * The runtime never writes to the terminal itself: every log line goes to a
 * sink that the embedding program installs (the CLI prints to stderr). With
 * no sink installed, logs are dropped. Lines are `LEVEL module: message`.
 *
 * lusty_log() checks the level before its arguments are evaluated, so a
 * debug line costs one comparison when debug logging is off. The level and
 * the sink are process-wide and may be read from any thread; set them before
 * starting worker threads. */
#ifndef LUSTY_LOG_H
#define LUSTY_LOG_H

#include <stdarg.h>

typedef enum {
    LUSTY_LOG_DEBUG = 0,
    LUSTY_LOG_INFO,
    LUSTY_LOG_WARN,
    LUSTY_LOG_ERROR,
    LUSTY_LOG_OFF,
} lusty_log_level_t;

/* Receives one formatted message (no trailing newline); `module` is "http",
 * "static" …. Called on whatever thread logged, so it must be thread-safe. */
typedef void (*lusty_log_cb)(void *data, lusty_log_level_t level, const char *module,
                             const char *message);

/* Installs the sink (NULL drops every line). */
void lusty_log_set_sink(lusty_log_cb cb, void *data);
/* Lines below `level` are dropped; the default is LUSTY_LOG_INFO. */
void lusty_log_set_level(lusty_log_level_t level);
/* True when a line of `level` would reach a sink. */
int lusty_log_enabled(lusty_log_level_t level);
/* "DEBUG", "INFO", "WARN", "ERROR". */
const char *lusty_log_level_name(lusty_log_level_t level);

/* Formats and hands a line to the sink; prefer the lusty_log() macro. */
void lusty_log_write(lusty_log_level_t level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void lusty_log_vwrite(lusty_log_level_t level, const char *module, const char *fmt, va_list ap);

#define lusty_log(level, module, ...)                                                              \
    do {                                                                                           \
        if (lusty_log_enabled(level))                                                              \
            lusty_log_write((level), (module), __VA_ARGS__);                                       \
    } while (0)

#endif
