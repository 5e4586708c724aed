/* N concurrent store calls on the MongoDB backend, run as the store's glue
 * runs them: each on libuv's thread pool (uv_queue_work), from one loop,
 * as one worker would. Prints the time until the last one answered.
 *
 *   mongo_calls URI N        (UV_THREADPOOL_SIZE as the environment says)
 *
 * Built and run by bench/store/mongo; not a test. */
#include "../../runtime/src/store/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

static lusty__store_backend_t *backend;
static int failed, done;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static const char op[] = "{\"collection\":\"bench\",\"method\":\"get\","
                         "\"filter\":{\"_id\":\"b1\"}}";

static void work(uv_work_t *req)
{
    char *answer = NULL;
    if (backend->run(backend, op, strlen(op), &answer) != LUSTY__STORE_OK ||
        strcmp(answer, "[{\"_id\":\"b1\",\"n\":1}]") != 0) {
        fprintf(stderr, "mongo_calls: %s\n", answer ? answer : "(no answer)");
        __atomic_add_fetch(&failed, 1, __ATOMIC_SEQ_CST);
    }
    free(answer);
    (void)req;
}

static void after(uv_work_t *req, int status)
{
    (void)req, (void)status;
    done++;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: mongo_calls URI N\n");
        return 2;
    }
    int n = atoi(argv[2]);
    char *error = NULL;
    char config[512];
    snprintf(config, sizeof config, "{\"uri\": \"%s\", \"database\": \"bench\"}", argv[1]);
    backend = lusty__store_mongo_open(config, &error);
    if (!backend) {
        fprintf(stderr, "mongo_calls: %s\n", error);
        return 1;
    }
    /* The document the calls read, and one call to connect first. */
    const char *post = "{\"collection\":\"bench\",\"method\":\"put\",\"filter\":{\"_id\":\"b1\"},"
                       "\"doc\":{\"n\":1}}";
    char *answer = NULL;
    if (backend->run(backend, post, strlen(post), &answer) != LUSTY__STORE_OK) {
        fprintf(stderr, "mongo_calls: %s\n", answer);
        return 1;
    }
    free(answer);
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_work_t *reqs = calloc((size_t)n, sizeof *reqs);
    double t0 = now_ms();
    for (int i = 0; i < n; i++)
        uv_queue_work(&loop, &reqs[i], work, after);
    uv_run(&loop, UV_RUN_DEFAULT);
    double ms = now_ms() - t0;
    printf("%d calls in %.0f ms (%d failed)\n", done, ms, failed);
    uv_loop_close(&loop);
    free(reqs);
    backend->free(backend);
    return failed ? 1 : 0;
}
