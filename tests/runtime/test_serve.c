/* Tests of lusty/serve.h: assembling a project's server from options,
 * its events and stats, and a start/stop round on a loop. The project is
 * a temporary folder with one static folder and no app. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "lusty/alloc.h"
#include "lusty/error.h"
#include "lusty/serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char root[64];
    char public_dir[96];
} project_t;

static int make_project(void **state)
{
    project_t *p = lusty_calloc(1, sizeof *p);
    snprintf(p->root, sizeof p->root, "/tmp/lusty-serve-XXXXXX");
    assert_non_null(mkdtemp(p->root));
    snprintf(p->public_dir, sizeof p->public_dir, "%s/public", p->root);
    assert_int_equal(mkdir(p->public_dir, 0755), 0);
    *state = p;
    return 0;
}

static int remove_project(void **state)
{
    project_t *p = *state;
    rmdir(p->public_dir);
    rmdir(p->root);
    lusty_free(p);
    return 0;
}

typedef struct {
    int skipped;
    char path[160];
    char prefix[32];
    int err;
} events_t;

static void record(void *data, const lusty_serve_event_t *e)
{
    events_t *ev = data;
    if (e->kind != LUSTY_SERVE_STATIC_SKIPPED)
        return;
    ev->skipped++;
    snprintf(ev->path, sizeof ev->path, "%s", e->path);
    snprintf(ev->prefix, sizeof ev->prefix, "%s", e->prefix);
    ev->err = e->err;
}

static void test_a_prefix_that_is_not_a_url_path_is_refused(void **state)
{
    project_t *p = *state;
    lusty_serve_mount_t mounts[] = {{"/a/../b/", "public"}};
    lusty_serve_options_t o = {
        .root = p->root, .host = "127.0.0.1", .mounts = mounts, .nmounts = 1};
    lusty_serve_t *srv = (lusty_serve_t *)1;
    char *err = NULL;
    assert_int_equal(lusty_serve_new(&srv, &o, &err), LUSTY_EINVAL);
    assert_null(srv);
    assert_string_equal(err, "server.static prefix '/a/../b/' is not a plain URL path");
    lusty_free(err);
}

static void test_missing_folders_are_reported_and_skipped(void **state)
{
    project_t *p = *state;
    lusty_serve_mount_t mounts[] = {{"/gone/", "missing"}, {"/", "public"}};
    events_t ev = {0};
    lusty_serve_options_t o = {.root = p->root,
                               .host = "127.0.0.1",
                               .mounts = mounts,
                               .nmounts = 2,
                               .report = record,
                               .report_data = &ev};
    lusty_serve_t *srv = NULL;
    char *err = NULL;
    assert_int_equal(lusty_serve_new(&srv, &o, &err), 0);
    assert_null(err);
    assert_int_equal(ev.skipped, 1);
    assert_string_equal(ev.prefix, "/gone/");
    char want[160];
    snprintf(want, sizeof want, "%s/missing", p->root);
    assert_string_equal(ev.path, want);
    assert_int_equal(ev.err, LUSTY_ENOENT);

    lusty_serve_stats_t st;
    lusty_serve_stats(srv, &st);
    assert_int_equal(st.nserved, 1);
    assert_string_equal(st.served[0].prefix, "/");
    assert_string_equal(st.served[0].folder, "public");
    assert_string_equal(st.host, "127.0.0.1");
    assert_string_equal(st.app_file, "app/config.lua");
    assert_false(st.app.has_app);
    assert_null(st.app_error);
    assert_null(st.url);
    assert_int_equal(st.port, -1);
    lusty_serve_free(srv);
}

typedef struct {
    int calls;
    int status;
} done_t;

static void on_done(lusty_serve_t *srv, int status, void *data)
{
    (void)srv;
    done_t *d = data;
    d->calls++;
    d->status = status;
}

static void test_listen_start_and_stop(void **state)
{
    project_t *p = *state;
    lusty_serve_options_t o = {.root = p->root, .host = "localhost", .workers = 2};
    lusty_serve_t *srv = NULL;
    char *err = NULL;
    assert_int_equal(lusty_serve_new(&srv, &o, &err), 0);
    assert_int_equal(lusty_serve_listen(srv), 0);
    int port = lusty_serve_port(srv);
    assert_true(port > 0);
    lusty_serve_stats_t st;
    lusty_serve_stats(srv, &st);
    char url[64];
    snprintf(url, sizeof url, "http://%s%s%s:%d/", strchr(st.host, ':') ? "[" : "", st.host,
             strchr(st.host, ':') ? "]" : "", port);
    assert_string_equal(st.url, url);

    uv_loop_t loop;
    uv_loop_init(&loop);
    done_t done = {0};
    assert_int_equal(lusty_serve_start(srv, &loop, on_done, &done), 0);
    lusty_serve_stop(srv);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(done.calls, 1);
    assert_int_equal(done.status, 0);
    lusty_serve_free(srv);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_prefix_that_is_not_a_url_path_is_refused,
                                        make_project, remove_project),
        cmocka_unit_test_setup_teardown(test_missing_folders_are_reported_and_skipped, make_project,
                                        remove_project),
        cmocka_unit_test_setup_teardown(test_listen_start_and_stop, make_project, remove_project),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
