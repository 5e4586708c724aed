/* The HTTP/1.1 server of the runtime.
 *
 * A server owns one or more workers; each worker is a thread with its own
 * libuv loop, and all of them accept on the same port (SO_REUSEPORT, so the
 * kernel spreads connections). Every complete request is handed to the
 * handler on the worker's loop as a read-only lusty_http_request_t and a
 * lusty_http_response_t to fill. The handler may answer at once or later
 * (from any callback on the same loop), but it must end every response with
 * lusty_http_response_end().
 *
 * The server owns the framing: it parses and limits requests (malformed,
 * ambiguous or over-limit requests get 400/413/414/431/501/503/505 and
 * never reach the handler),
 * answers `Expect: 100-continue`, keeps connections alive, honours
 * pipelining (one request at a time per connection, in order), adds `Date`
 * and `Server`, chooses Content-Length or chunked encoding, and drops bodies
 * of HEAD responses. */
#ifndef LUSTY_HTTP_H
#define LUSTY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* One request header. Names are lower-case; values have surrounding
 * whitespace removed. Both are NUL-terminated. */
typedef struct {
    const char *name;
    const char *value;
} lusty_http_header_t;

/* A parsed request. Every pointer is borrowed from the server and valid
 * until the response is ended; copy what must outlive it. */
typedef struct {
    const char *method; /* "GET", upper case */
    const char *target; /* the request target as sent: "/a%20b?x=1" */
    const char *path;   /* the target's path, still percent-encoded: "/a%20b" */
    const char *query;  /* after the '?', without it; "" when there is none */
    const lusty_http_header_t *headers;
    size_t nheaders;
    const char *body; /* NULL when the request has no body */
    size_t body_len;
    unsigned short version_major, version_minor;
    bool keep_alive; /* the client allows another request on this connection */
} lusty_http_request_t;

/* Finds a header by name, case-insensitively; NULL when absent. With
 * repeated headers, the first one. */
const char *lusty_http_request_header(const lusty_http_request_t *req, const char *name);

/* The response a handler fills. Owned by the server; valid from the handler
 * call until lusty_http_response_end() returns. */
typedef struct lusty_http_response_s lusty_http_response_t;

/* Handles one request. `data` is the handler data of the worker (see
 * lusty_http_worker_start_cb). */
typedef void (*lusty_http_handler_cb)(void *data, const lusty_http_request_t *req,
                                      lusty_http_response_t *res);

/* Sets the status (100..999 excluding 1xx, which the server owns); only
 * before the first write. Default 200. */
int lusty_http_response_set_status(lusty_http_response_t *res, int status);
/* Adds a header; only before the first write. The server manages
 * Transfer-Encoding and Connection itself and refuses them (LUSTY_EINVAL);
 * a Content-Length set here makes the server trust the handler to write
 * exactly that many bytes. Names and values with CR, LF or NUL are refused. */
int lusty_http_response_add_header(lusty_http_response_t *res, const char *name, const char *value);
/* Sends part of the body (the status line and headers go first, with
 * chunked encoding unless a Content-Length was set). Data is copied. Fails
 * with UV_ECONNRESET-like codes once the client is gone; the handler must
 * still call lusty_http_response_end(). */
int lusty_http_response_write(lusty_http_response_t *res, const void *data, size_t len);
/* Sends the last part of the body (may be empty) and finishes the response.
 * When nothing was written before, the body is framed with Content-Length.
 * The response must not be used afterwards. */
int lusty_http_response_end(lusty_http_response_t *res, const void *data, size_t len);
/* Ends the response with a small plain-text page for `status` ("404 Not
 * Found\n"), plus `extra_header: extra_value` when both are given. */
int lusty_http_response_send_status(lusty_http_response_t *res, int status,
                                    const char *extra_header, const char *extra_value);
/* Ends the response with `len` bytes of the open file `fd` from `offset`.
 * The fd stays the caller's (it is not closed) but must stay open until
 * `done` is called (it always is, also on failure, possibly before this
 * returns). Content-Length is set from `len`. Uses sendfile(2). */
typedef void (*lusty_http_file_done_cb)(void *data, int status);
int lusty_http_response_end_file(lusty_http_response_t *res, uv_file fd, int64_t offset, size_t len,
                                 lusty_http_file_done_cb done, void *data);
/* A handler that answers later can ask to be told when the client goes
 * away first (its connection failed or was closed, or it ended its side
 * while waiting). `cb` runs at most once, on the worker's loop, from a
 * plain loop callback, never from inside a lusty_http_response_* call.
 * The response must still be ended (writes then fail with UV_ECONNRESET
 * and send nothing); ending it inside `cb` is fine. Reset for every
 * request; NULL removes it. */
typedef void (*lusty_http_close_cb)(void *data, lusty_http_response_t *res);
void lusty_http_response_on_close(lusty_http_response_t *res, lusty_http_close_cb cb, void *data);
/* True once the client's connection is closed: nothing written now
 * reaches anybody. */
bool lusty_http_response_is_closed(const lusty_http_response_t *res);
/* True for HEAD requests, so that a handler can skip producing a body. */
bool lusty_http_response_is_head(const lusty_http_response_t *res);
/* The client's address as the connection's socket sees it ("127.0.0.1",
 * "::1"): behind a proxy, the proxy's. NULL when it cannot be had. Valid
 * while the response is. */
const char *lusty_http_response_peer(const lusty_http_response_t *res);

/* The loop of the worker serving this response. */
uv_loop_t *lusty_http_response_loop(const lusty_http_response_t *res);
/* The name of a status code ("Not Found"); "Unknown" when not known. */
const char *lusty_http_status_reason(int status);

/* Limits on what clients may send; 0 means the default. */
typedef struct {
    size_t header_bytes;                /* request line and headers; 431 beyond; 16 KiB */
    size_t url_bytes;                   /* request target; 414 beyond; 8 KiB */
    size_t body_bytes;                  /* request body; 413 beyond; 1 MiB */
    uint64_t header_timeout_ms;         /* to receive a request's head (and between
                                           body reads); 10 s */
    uint64_t idle_timeout_ms;           /* a kept-alive connection may wait for its
                                           next request; 30 s */
    size_t max_connections;             /* open client connections over all workers;
                                           1024. When full, the connection that has
                                           waited longest for a request is closed for
                                           a new one; 503 when all are busy */
    size_t max_connections_per_address; /* of one client address, over all
                                   workers, the same way; 512 */
    size_t body_memory_bytes;           /* request bodies held in memory at once, over
                                           all workers; 503 beyond; 64 MiB */
} lusty_http_limits_t;

#define LUSTY_HTTP_DEFAULT_HEADER_BYTES (16u * 1024)
#define LUSTY_HTTP_DEFAULT_URL_BYTES (8u * 1024)
#define LUSTY_HTTP_DEFAULT_BODY_BYTES (1024u * 1024)
#define LUSTY_HTTP_DEFAULT_HEADER_TIMEOUT_MS 10000
#define LUSTY_HTTP_DEFAULT_IDLE_TIMEOUT_MS 30000
#define LUSTY_HTTP_DEFAULT_MAX_CONNECTIONS 1024
#define LUSTY_HTTP_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS 512
#define LUSTY_HTTP_DEFAULT_BODY_MEMORY_BYTES (64u * 1024 * 1024)

/* Replaces every 0 in `limits` by its default. */
void lusty_http_limits_fill(lusty_http_limits_t *limits);

/* What the access log gets for every finished response. Strings are
 * borrowed for the duration of the call. */
typedef struct {
    const char *method;
    const char *target;
    int status;
    uint64_t bytes; /* body bytes sent */
    double ms;      /* from the request's first byte to the response's end */
    unsigned worker;
} lusty_http_access_t;

/* Called on the worker thread after each response; must be thread-safe. */
typedef void (*lusty_http_access_cb)(void *data, const lusty_http_access_t *entry);

/* Called on each worker's thread, on its loop, before it accepts anything;
 * sets the handler data of that worker in `*handler_data`. A non-zero
 * return stops the server with that error. */
typedef int (*lusty_http_worker_start_cb)(void *data, unsigned worker, uv_loop_t *loop,
                                          void **handler_data);
/* Called on each worker's thread after its last response, before its loop
 * is closed: the place to close the worker's own handles. */
typedef void (*lusty_http_worker_stop_cb)(void *data, unsigned worker, uv_loop_t *loop,
                                          void *handler_data);

typedef struct {
    const char *host;        /* numeric IPv4 or IPv6 address; "127.0.0.1" when NULL */
    int port;                /* 0 picks a free port */
    unsigned workers;        /* threads; 1 when 0 */
    const char *server_name; /* the Server header; "lusty" when NULL */
    lusty_http_limits_t limits;
    lusty_http_handler_cb handler;           /* required */
    lusty_http_worker_start_cb worker_start; /* optional */
    lusty_http_worker_stop_cb worker_stop;   /* optional */
    /* Optional: the worker begins to stop (its listeners are closing),
     * before in-flight responses are waited for: the place to end
     * responses that would otherwise never end (event streams). Same
     * arguments as worker_stop; runs once, on the worker's thread. */
    lusty_http_worker_stop_cb worker_stopping;
    void *worker_data;               /* for worker_start/worker_stop */
    lusty_http_access_cb access_log; /* optional */
    void *access_log_data;
    uint64_t shutdown_deadline_ms; /* in-flight requests get this long on stop; 5 s */
    /* A restart: a running server whose listening sockets this one shares
     * when both are on the same host and configured port, so that no
     * connection is refused while one hands over to the other (stop the
     * old one once this one has started). NULL, or another address: bind. */
    struct lusty_http_server_s *inherit;
} lusty_http_config_t;

typedef struct lusty_http_server_s lusty_http_server_t;

/* Creates a server and binds its port, so that an address in use is
 * reported here (UV_EADDRINUSE) before anything runs. The config is copied
 * (strings too). Free with lusty_http_server_free(). */
int lusty_http_server_new(lusty_http_server_t **out, const lusty_http_config_t *config);
/* The port actually bound (useful with port 0). */
int lusty_http_server_port(const lusty_http_server_t *srv);
/* Called on `loop` (the caller's) once every worker has finished, with the
 * first error of any worker (0 after a clean stop). */
typedef void (*lusty_http_server_done_cb)(lusty_http_server_t *srv, int status, void *data);
/* Starts the worker threads. `done` runs on `loop`, which must be run by the
 * caller; the server holds a handle on it until done has run. */
int lusty_http_server_start(lusty_http_server_t *srv, uv_loop_t *loop,
                            lusty_http_server_done_cb done, void *data);
/* Asks every worker to stop: close the listening socket and idle
 * connections, finish in-flight requests (with `Connection: close`), and
 * drop what is left after the shutdown deadline. Thread-safe; returns at
 * once. */
void lusty_http_server_stop(lusty_http_server_t *srv);
/* Joins the workers (call after done has run, or before start) and frees
 * everything; accepts NULL. */
void lusty_http_server_free(lusty_http_server_t *srv);

#endif
