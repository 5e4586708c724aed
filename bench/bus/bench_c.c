/* The bus benchmark with C subscribers: the same request-shaped workload
 * as bench.lua (a fresh context per iteration, 100 distinct paths under
 * request:api, 3 subscribers over 3 levels, all continuing, effects checked
 * after the loop), published from C. Built and run by bench/bus/run. */
#include "lusty/bus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const char *id;
    long count, bytes, users;
} ctx_t;

static int on_request(lusty_bus_event_t *ev, void *args, void *ud)
{
    (void)ev;
    (void)ud;
    ((ctx_t *)args)->count++;
    return LUSTY_BUS_CONTINUE;
}

static int on_api(lusty_bus_event_t *ev, void *args, void *ud)
{
    (void)ev;
    (void)ud;
    ctx_t *c = args;
    c->bytes += (long)strlen(c->id);
    return LUSTY_BUS_CONTINUE;
}

static int on_users(lusty_bus_event_t *ev, void *args, void *ud)
{
    (void)ud;
    ctx_t *c = args;
    c->users++;
    lusty_bus_event_push(ev, (lusty_bus_value_t){.ptr = (void *)c->id});
    return LUSTY_BUS_CONTINUE;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    n *= 5; /* C is fast: more iterations for a stable figure */
    lusty_bus_t *bus = lusty_bus_new();
    lusty_bus_handler_t h1 = {.cb = on_request}, h2 = {.cb = on_api}, h3 = {.cb = on_users};
    lusty_bus_subscribe(NULL, bus, "request", &h1, 0);
    lusty_bus_subscribe(NULL, bus, "request:api", &h2, 0);
    lusty_bus_subscribe(NULL, bus, "request:api:users", &h3, 0);
    char ids[100][8];
    const char *kinds[100];
    for (int i = 0; i < 100; i++) {
        snprintf(ids[i], sizeof ids[i], "%d", i + 1);
        kinds[i] = i < 50 ? "users" : "posts";
    }
    lusty_bus_result_t res = LUSTY_BUS_RESULT_INIT;
    long count = 0, users = 0, results = 0;
    double best = 0;
    for (int round = 0; round < 3; round++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long i = 0; i < n; i++) {
            int k = (int)(i % 100);
            ctx_t c = {ids[k], 0, 0, 0};
            const char *parts[4] = {"request", "api", kinds[k], ids[k]};
            lusty_bus_result_clear(&res);
            lusty_bus_publishv(&res, bus, parts, 4, &c);
            count += c.count;
            users += c.users;
            results += (long)res.len;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        if (n / dt > best)
            best = n / dt;
    }
    if (count != 3 * n || users != 3 * n / 2 || results != 3 * n / 2) {
        fprintf(stderr, "bench_c: subscribers did not all run\n");
        return 1;
    }
    size_t channels = lusty_bus_channel_total(bus);
    printf("lusty bus, C subscribers   %12.0f publishes/s  (%zu channels)\n", best, channels);
    lusty_bus_result_free(&res);
    lusty_bus_free(bus);
    return 0;
}
