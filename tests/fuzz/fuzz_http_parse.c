/* libFuzzer target: arbitrary bytes into the request parser, in pieces
 * whose size comes from the first input byte (requests arrive split across
 * reads), every complete request taken and the parser moved on, as the
 * server does. Checks the parser's promises on top of the sanitizers'. */
#include "http_internal.h"

#include <assert.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)data[0] % 64 + 1;
    data++;
    size--;
    static const lusty_http_limits_t limits = {
        .header_bytes = 512, .url_bytes = 128, .body_bytes = 256};
    lusty__http_parser_t *p = NULL;
    lusty__http_parser_new(&p, &limits);
    /* A budget below the body limit, so that both refusals are reached. */
    size_t budget = 0;
    lusty__http_parser_set_budget(p, &budget, 200);
    size_t off = 0;
    while (off < size) {
        size_t n = size - off < step ? size - off : step, used = 0;
        lusty__http_parse_result_t r = lusty__http_parse(p, (const char *)data + off, n, &used);
        assert(used <= n);
        off += used;
        if (r == LUSTY__HTTP_ERROR) {
            int status = lusty__http_parser_error_status(p);
            assert(status == 400 || status == 413 || status == 414 || status == 431 ||
                   status == 501 || status == 503 || status == 505);
            break;
        }
        if (r == LUSTY__HTTP_REQUEST) {
            const lusty_http_request_t *req = lusty__http_parser_request(p);
            assert(req && req->method && req->target && req->path && req->query);
            assert(req->path[0] == '/' || req->path[0] == '*');
            assert(strlen(req->target) <= limits.url_bytes);
            assert(req->body_len <= limits.body_bytes);
            for (size_t i = 0; i < req->nheaders; i++)
                assert(req->headers[i].name[0] && req->headers[i].value);
            lusty__http_parser_next(p);
            continue;
        }
        assert(used == n);
    }
    lusty__http_parser_free(p);
    assert(budget == 0); /* every byte of body memory came back */
    return 0;
}
