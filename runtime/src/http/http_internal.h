/* Internals shared between the runtime's source files; nothing here is
 * public API. Names carry a `lusty__` prefix. Grouped by the file that
 * implements them. */
#ifndef LUSTY_INTERNAL_H
#define LUSTY_INTERNAL_H

#include "lusty/http.h"

#include <stdbool.h>
#include <stddef.h>

/* ---- http_parse.c: the only file that knows http-parser ----
 *
 * A request parser fed raw bytes; it enforces the limits and builds one
 * lusty_http_request_t at a time. Parsing stops after each complete request
 * so that pipelined requests are handled strictly one after the other. */
typedef struct lusty__http_parser_s lusty__http_parser_t;

typedef enum {
    LUSTY__HTTP_MORE,    /* every byte used; feed more */
    LUSTY__HTTP_REQUEST, /* a request is complete; bytes after it are unused */
    LUSTY__HTTP_ERROR,   /* a bad request: answer lusty__http_parser_error_status() */
} lusty__http_parse_result_t;

/* `limits` is copied (with defaults filled in). Free with
 * lusty__http_parser_free(). */
int lusty__http_parser_new(lusty__http_parser_t **out, const lusty_http_limits_t *limits);
void lusty__http_parser_free(lusty__http_parser_t *p);
/* Feeds `len` bytes; `*consumed` says how many were used. After REQUEST,
 * call lusty__http_parser_next() before feeding the rest. After ERROR the
 * parser is dead: the connection must be closed. */
lusty__http_parse_result_t lusty__http_parse(lusty__http_parser_t *p, const char *data, size_t len,
                                             size_t *consumed);
/* The complete request, valid until lusty__http_parser_next(). */
const lusty_http_request_t *lusty__http_parser_request(const lusty__http_parser_t *p);
/* Charges the bodies this parser holds to `*used` (shared by the parsers
 * of one worker), refusing with 503 a body that would take it over `max`. */
void lusty__http_parser_set_budget(lusty__http_parser_t *p, size_t *used, size_t max);
/* Forgets the current request and readies the parser for the next one. */
void lusty__http_parser_next(lusty__http_parser_t *p);
/* True once any byte of a request (beyond blank lines) has been seen. */
bool lusty__http_parser_started(const lusty__http_parser_t *p);
/* True when the head is complete (the body may still be arriving). */
bool lusty__http_parser_head_done(const lusty__http_parser_t *p);
/* True once, when the head asked for `100 Continue` and the body is still
 * to come; the caller sends the interim response. */
bool lusty__http_parser_take_continue(lusty__http_parser_t *p);
/* The status of a bad request (400, 413, 414, 431) and why, for the log. */
int lusty__http_parser_error_status(const lusty__http_parser_t *p);
const char *lusty__http_parser_error_reason(const lusty__http_parser_t *p);

/* ---- http_server.c, http_conn.c, http_response.c ----
 *
 * A worker is one thread with one loop; a connection belongs to one worker
 * and embeds the response of its current request (one at a time). */
#include "lusty/buf.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

typedef struct lusty__http_worker_s lusty__http_worker_t;
typedef struct lusty__http_conn_s lusty__http_conn_t;
typedef struct lusty__http_addr_s lusty__http_addr_t; /* connections of one client address */

struct lusty_http_response_s {
    lusty__http_conn_t *conn;
    const lusty_http_request_t *req;
    int status;
    lusty_buf_t headers;     /* extra header lines, "Name: value\r\n" each */
    uint64_t content_length; /* when has_length */
    uint64_t body_bytes;     /* body bytes given so far (sent unless HEAD) */
    uint64_t start_ns;
    bool has_length, head_sent, chunked, is_head, keep_alive, has_date, has_server;
    /* The file being sent by lusty_http_response_end_file(). */
    uv_file file;
    int64_t file_offset;
    uint64_t file_left;
    lusty_http_file_done_cb file_done;
    void *file_data;
    /* Told when the client leaves before the response ends. */
    lusty_http_close_cb on_close;
    void *on_close_data;
};

/* A test's stand-in for a client socket, so that the connection code can
 * be driven with raw bytes and no sockets (tests/runtime/test_http_conn.c).
 * The test owns it and keeps it until `conn` is NULL (the connection was
 * freed). Input is delivered from a uv_idle_t on the worker's loop. */
typedef struct lusty__http_fake_s {
    lusty_buf_t out; /* every byte the server wrote */
    lusty_buf_t in;  /* what the client sent; read from in_pos */
    size_t in_pos;
    bool in_eof;                     /* the client ended its side after `in` */
    bool shutdown_pending, shut;     /* the server's FIN: asked, done */
    bool closed;                     /* the server closed the connection */
    struct lusty__http_conn_s *conn; /* NULL once freed */
    uv_idle_t idle;
} lusty__http_fake_t;

typedef enum {
    LUSTY__TIMER_NONE,
    LUSTY__TIMER_IDLE,   /* waiting for a request to start */
    LUSTY__TIMER_HEAD,   /* waiting for the rest of a head: absolute */
    LUSTY__TIMER_BODY,   /* waiting for more of a body: reset on each read */
    LUSTY__TIMER_WRITE,  /* waiting for the client to read our output */
    LUSTY__TIMER_LINGER, /* draining input after our FIN */
} lusty__timer_kind_t;

#define LUSTY__HTTP_READ_BUF 16384

struct lusty__http_conn_s {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown_req;
    lusty__http_worker_t *w;
    lusty__http_conn_t *prev, *next; /* the worker's list, longest waiting first */
    lusty__http_addr_t *addr;        /* its client address's count, if known */
    lusty__http_parser_t *parser;
    /* LUSTY__HTTP_READ_BUF bytes while there is input to parse (NULL
     * otherwise, see drop_input()); unparsed input is in[in_pos, in_len) */
    char *in;
    size_t in_pos, in_len;
    lusty_http_response_t res;
    lusty__http_fake_t *fake; /* a test's client instead of `tcp` */
    char peer[48];            /* the client's address, "" until first asked */
    lusty__timer_kind_t timer_kind;
    /* Loop times (ms): when the current kind's time is up, and when the
     * libuv timer is due. The timer is only moved when it would fire too
     * late; one that fires early is set again (see arm() in http_conn.c). */
    uint64_t deadline, timer_due;
    unsigned handles_open;   /* tcp and timer, until their close callbacks */
    unsigned pending_writes; /* uv_write requests in flight */
    unsigned nrequests;
    bool reading;
    bool busy;      /* a handler owns the response */
    bool streaming; /* a file is being sent */
    bool finished;  /* a response ended; the next request waits for the flush */
    bool processing, eof, closing, dead;
};

struct lusty__http_worker_s {
    lusty_http_server_t *srv;
    unsigned index;
    uv_thread_t thread;
    bool thread_started;
    uv_loop_t loop;
    /* Its listening sockets (usually one; more when a restart with fewer
     * workers inherits more sockets than it has workers): the descriptors
     * until the worker opens them, then its handles. */
    uv_tcp_t *listeners;
    int *fds;
    unsigned nlisteners;
    unsigned listening; /* handles open */
    uv_async_t stop_async;
    uv_timer_t deadline;
    void *handler_data;
    lusty__http_conn_t *conns, *conns_tail; /* see http_shed.c */
    size_t nconns;                          /* until freed, closing ones too */
    size_t nlive;                           /* not closing: what the limits count */
    size_t max_conns, max_per_addr;
    size_t body_bytes, max_body_bytes; /* request bodies held, and the cap */
    lusty__http_addr_t **addr_buckets;
    uint64_t shed_logged; /* loop time of the last shedding warning */
    uint64_t fd_logged;   /* of the last out-of-descriptors error */
    bool stopping, finished, stop_called;
    bool async_closed; /* guarded by the server's lock: no more stop requests */
    int status;
    lusty_buf_t out; /* where responses are built before they are sent */
    char *spare_in;  /* a read buffer no connection holds (http_conn.c) */
    time_t date_sec;
    char date[40];
};

struct lusty_http_server_s {
    lusty_http_config_t cfg; /* strings point into the copies below */
    char *host, *server_name;
    int port;           /* bound */
    int requested_port; /* as configured (0: any) */
    /* The listening sockets, one per worker or more (see inherit in
     * lusty_http_config_t); closed by lusty_http_server_stop() (guarded
     * by `lock`), the workers keeping duplicates until they stop. */
    int *socks;
    unsigned nsocks;
    unsigned nworkers;
    lusty__http_worker_t *workers;
    uv_async_t done_async;
    lusty_http_server_done_cb done;
    void *done_data;
    atomic_uint running;
    pthread_mutex_t lock; /* guards status and the workers' async_closed */
    int status;
    bool started;
};

/* The cached `Date` header value of the worker, refreshed once a second. */
const char *lusty__http_worker_date(lusty__http_worker_t *w);
/* Records a worker's failure (the first one wins) and stops the server. */
void lusty__http_worker_fail(lusty__http_worker_t *w, int status);
/* A connection was freed: the stopping worker may be finished. */
void lusty__http_worker_check_done(lusty__http_worker_t *w);

/* http_shed.c: the worker's connection list, in the order connections
 * began waiting for a request (push and touch put one last), a count of
 * connections per client address, and the choice of whom to close. */
void lusty__http_conns_push(lusty__http_worker_t *w, lusty__http_conn_t *c);
void lusty__http_conns_unlink(lusty__http_worker_t *w, lusty__http_conn_t *c);
void lusty__http_conns_touch(lusty__http_worker_t *w, lusty__http_conn_t *c);
/* Counts `c` under its client's address; returns the new count (0 when
 * the address is unknown). */
size_t lusty__http_addr_add(lusty__http_worker_t *w, lusty__http_conn_t *c);
void lusty__http_addr_remove(lusty__http_worker_t *w, lusty__http_conn_t *c);
/* The client's address of `c` as a key: its family (AF_INET, AF_INET6),
 * then its bytes. From its count when it has one (no system call), else
 * from the socket; false when it cannot be had. */
bool lusty__http_addr_key(lusty__http_conn_t *c, unsigned char key[17]);
void lusty__http_addr_table_free(lusty__http_worker_t *w);
/* The connection that can be closed at the least loss (the longest
 * waiting for a request), of address `addr` when not NULL, never `spare`
 * (the newcomer it would make room for); NULL when every one is being
 * answered. */
lusty__http_conn_t *lusty__http_shed_victim(lusty__http_worker_t *w, const lusty__http_addr_t *addr,
                                            const lusty__http_conn_t *spare);
/* Closes the longest-waiting connection but `spare` to free a slot or a
 * descriptor; false when there is none. */
bool lusty__http_conn_shed(lusty__http_worker_t *w, const lusty__http_addr_t *addr,
                           const lusty__http_conn_t *spare, const char *why);

/* http_server.c: says (now and then) that descriptors run out, `code`
 * being EMFILE or ENFILE and `fd` the descriptor `newcomer` was just
 * given (-1: none), and closes an idle connection to free one. */
void lusty__http_worker_out_of_fds(lusty__http_worker_t *w, const char *code,
                                   const lusty__http_conn_t *newcomer, int fd);
/* Checks whether the descriptor `fd` of connection `newcomer`, just
 * accepted, is close to the limit. */
void lusty__http_worker_check_fds(lusty__http_worker_t *w, const lusty__http_conn_t *newcomer,
                                  int fd);

/* Accepts a connection from one of the worker's listeners (http_conn.c). */
void lusty__http_conn_accept(lusty__http_worker_t *w, uv_stream_t *listener);
/* The server stops: an idle connection gets `ms` more for a request that
 * may already be on its way (answered with Connection: close), rather
 * than being closed under a client about to use it. */
void lusty__http_conn_drain(lusty__http_conn_t *c, uint64_t ms);
/* The test seam: opens a connection of `w` whose client is `f`; bytes
 * the client sends and its end of input are given with the two calls
 * below, and are read on the worker's loop. */
void lusty__http_conn_open_fake(lusty__http_worker_t *w, lusty__http_fake_t *f);
void lusty__http_fake_send(lusty__http_fake_t *f, const void *data, size_t len);
void lusty__http_fake_end(lusty__http_fake_t *f);
/* Closes at once (shutdown deadline, idle at stop). */
void lusty__http_conn_close(lusty__http_conn_t *c);
/* True when nothing of a request is in progress on the connection. */
bool lusty__http_conn_idle(const lusty__http_conn_t *c);
/* Queues bytes for the client: written at once when the socket takes
 * them, otherwise copied and written in order. */
int lusty__http_conn_send(lusty__http_conn_t *c, const char *data, size_t len);
/* The response ended (or its file was sent): moves on to the next request. */
void lusty__http_conn_response_done(lusty__http_conn_t *c);
/* Resumes after the write queue drained (http_response.c's file pump). */
void lusty__http_response_pump(lusty_http_response_t *res);
/* Gives up a file being sent because the connection died. */
void lusty__http_response_abort_file(lusty_http_response_t *res, int status);
/* Writes a complete error response for a request that never reached a
 * handler (`method` and `target` may be NULL) and logs it. */
void lusty__http_conn_send_error(lusty__http_conn_t *c, int status);

#endif
