/*
 * tests/unit/check_edge_httpc.c: the blocking HTTP/1.1 client of the CLI tools (edge/httpc.c).
 *
 * A scripted server thread on 127.0.0.1 answers each request with the next canned reply, byte by byte
 * when asked to, so that every framing (Content-Length, chunked, close-delimited) is parsed across
 * arbitrary read boundaries. The server counts connections and records the last request, so a test can
 * prove that a connection was reused, or that a request was sent once more after a keep-alive race.
 */
#include "edge/httpc.h"

#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct st_reply_t {
    const char *bytes; /* NULL: read the request, then never answer (until the client leaves) */
    bool close_after;  /* close the connection after this reply */
    bool slow;         /* send it one byte per write */
} reply_t;

typedef struct st_server_t {
    int lfd;
    struct sockaddr_in addr;
    const reply_t *replies;
    size_t num_replies;
    pthread_t tid;
    /* written by the server thread, read after the join */
    unsigned accepts;
    unsigned requests;
    char last_req[20000];
} server_t;

/* Reads one request (head, then a Content-Length body) into s->last_req. false when the client left. */
static bool read_request(server_t *s, int fd)
{
    size_t len = 0;
    char *end = NULL;
    while ((end = strstr(s->last_req, "\r\n\r\n")) == NULL) {
        ssize_t n = read(fd, s->last_req + len, sizeof(s->last_req) - 1 - len);
        if (n <= 0)
            return false;
        len += (size_t)n;
        s->last_req[len] = '\0';
    }
    size_t want = (size_t)(end + 4 - s->last_req);
    const char *cl = strcasestr(s->last_req, "\r\ncontent-length:");
    if (cl != NULL && cl < end)
        want += strtoul(cl + 17, NULL, 10);
    while (len < want) {
        ssize_t n = read(fd, s->last_req + len, sizeof(s->last_req) - 1 - len);
        if (n <= 0)
            return false;
        len += (size_t)n;
        s->last_req[len] = '\0';
    }
    return true;
}

static void *server_main(void *arg)
{
    server_t *s = arg;
    size_t next = 0;
    while (next < s->num_replies) {
        int fd = accept(s->lfd, NULL, NULL), one = 1;
        if (fd < 0)
            break;
        ++s->accepts;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        while (next < s->num_replies) {
            s->last_req[0] = '\0';
            if (!read_request(s, fd))
                break;
            ++s->requests;
            const reply_t *r = &s->replies[next++];
            if (r->bytes == NULL) {
                char junk[256];
                while (read(fd, junk, sizeof(junk)) > 0)
                    ;
                break;
            }
            size_t len = strlen(r->bytes);
            if (r->slow) {
                for (size_t i = 0; i != len; ++i) {
                    if (write(fd, r->bytes + i, 1) != 1)
                        break;
                    if (i % 7 == 0)
                        usleep(100);
                }
            } else if (write(fd, r->bytes, len) != (ssize_t)len) {
                break;
            }
            if (r->close_after)
                break;
        }
        close(fd);
    }
    return NULL;
}

static void server_start(server_t *s, const reply_t *replies, size_t n)
{
    socklen_t alen = sizeof(s->addr);
    int one = 1;
    memset(s, 0, sizeof(*s));
    s->replies = replies;
    s->num_replies = n;
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(s->lfd, 0);
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    s->addr.sin_family = AF_INET;
    s->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&s->addr, sizeof(s->addr)), 0);
    ck_assert_int_eq(listen(s->lfd, 8), 0);
    ck_assert_int_eq(getsockname(s->lfd, (struct sockaddr *)&s->addr, &alen), 0);
    ck_assert_int_eq(pthread_create(&s->tid, NULL, server_main, s), 0);
}

static void server_stop(server_t *s)
{
    shutdown(s->lfd, SHUT_RDWR); /* wakes an accept() that waits for a connection nobody makes */
    pthread_join(s->tid, NULL);
    close(s->lfd);
}

typedef struct st_client_t {
    edge_httpc_t conn;
    edge_httpc_response_t res;
    char body[256];
} client_t;

static client_t *client_new(server_t *s)
{
    client_t *c = calloc(1, sizeof(*c));
    ck_assert_ptr_nonnull(c);
    edge_httpc_init(&c->conn, (struct sockaddr *)&s->addr, sizeof(s->addr));
    c->res.body = c->body;
    c->res.body_cap = sizeof(c->body);
    return c;
}

static void client_free(client_t *c)
{
    edge_httpc_close(&c->conn);
    free(c);
}

static int get(client_t *c, const char *method, const char *target, uint64_t timeout_ms)
{
    edge_httpc_request_t req = {.method = method, .target = target, .host = "test"};
    return edge_httpc_request(&c->conn, &req, &c->res, timeout_ms);
}

#define OK200(body) "HTTP/1.1 200 OK\r\nContent-Length: " #body "\r\n\r\n"

/* --- framing ------------------------------------------------------------------------------------ */

START_TEST(test_content_length_keep_alive)
{
    static const reply_t replies[] = {{.bytes = "HTTP/1.1 200 OK\r\nX-Cache: HIT\r\nContent-Length: 5\r\n\r\nhello"},
                                      {.bytes = "HTTP/1.1 404 Not Found\r\ncontent-length: 3\r\n\r\nno\n", .slow = true}};
    server_t s;
    server_start(&s, replies, 2);
    client_t *c = client_new(&s);
    size_t len;

    ck_assert_int_eq(get(c, "GET", "/a", 5000), 0);
    ck_assert_int_eq(c->res.status, 200);
    ck_assert_str_eq(c->body, "hello");
    ck_assert_uint_eq(c->res.body_total, 5);
    const char *v = edge_httpc_header(&c->res, "x-CACHE", &len);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(len, 3);
    ck_assert(memcmp(v, "HIT", 3) == 0);
    ck_assert_ptr_null(edge_httpc_header(&c->res, "x-missing", &len));

    ck_assert_int_eq(get(c, "GET", "/b", 5000), 0);
    ck_assert_int_eq(c->res.status, 404);
    ck_assert_str_eq(c->body, "no\n");
    client_free(c);
    server_stop(&s);
    ck_assert_uint_eq(s.accepts, 1); /* the second request reused the connection */
    ck_assert_uint_eq(s.requests, 2);
}
END_TEST

START_TEST(test_chunked_across_reads)
{
    static const reply_t replies[] = {{.bytes = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                                                "5;ext=1\r\nhello\r\n"
                                                "9\r\n, world!!\r\n"
                                                "0\r\nTrailer: x\r\n\r\n",
                                       .slow = true},
                                      {.bytes = OK200(2) "ok"}};
    server_t s;
    server_start(&s, replies, 2);
    client_t *c = client_new(&s);

    ck_assert_int_eq(get(c, "GET", "/c", 5000), 0);
    ck_assert_int_eq(c->res.status, 200);
    ck_assert_str_eq(c->body, "hello, world!!");
    ck_assert_uint_eq(c->res.body_total, 14);
    ck_assert_int_eq(get(c, "GET", "/d", 5000), 0);
    ck_assert_str_eq(c->body, "ok");
    client_free(c);
    server_stop(&s);
    ck_assert_uint_eq(s.accepts, 1);
}
END_TEST

START_TEST(test_close_delimited)
{
    static const reply_t replies[] = {{.bytes = "HTTP/1.1 200 OK\r\n\r\nuntil the end", .close_after = true},
                                      {.bytes = OK200(1) "x"}};
    server_t s;
    server_start(&s, replies, 2);
    client_t *c = client_new(&s);

    ck_assert_int_eq(get(c, "GET", "/e", 5000), 0);
    ck_assert_str_eq(c->body, "until the end");
    ck_assert_int_eq(get(c, "GET", "/f", 5000), 0);
    ck_assert_str_eq(c->body, "x");
    client_free(c);
    server_stop(&s);
    ck_assert_uint_eq(s.accepts, 2); /* a close-delimited body cannot leave the connection usable */
}
END_TEST

START_TEST(test_head_204_interim)
{
    static const reply_t replies[] = {
        {.bytes = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"},
        {.bytes = "HTTP/1.1 204 No Content\r\n\r\n"},
        {.bytes = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" OK200(3) "fin"}};
    server_t s;
    server_start(&s, replies, 3);
    client_t *c = client_new(&s);

    ck_assert_int_eq(get(c, "HEAD", "/g", 5000), 0);
    ck_assert_int_eq(c->res.status, 200);
    ck_assert_uint_eq(c->res.body_total, 0);
    ck_assert_int_eq(get(c, "GET", "/h", 5000), 0);
    ck_assert_int_eq(c->res.status, 204);
    ck_assert_int_eq(get(c, "GET", "/i", 5000), 0);
    ck_assert_int_eq(c->res.status, 200);
    ck_assert_str_eq(c->body, "fin");
    client_free(c);
    server_stop(&s);
    ck_assert_uint_eq(s.accepts, 1);
}
END_TEST

START_TEST(test_body_truncated_to_cap)
{
    static const reply_t replies[] = {{.bytes = OK200(10) "0123456789"}};
    server_t s;
    server_start(&s, replies, 1);
    client_t *c = client_new(&s);

    c->res.body_cap = 4;
    ck_assert_int_eq(get(c, "GET", "/j", 5000), 0);
    ck_assert_str_eq(c->body, "012");
    ck_assert_uint_eq(c->res.body_len, 3);
    ck_assert_uint_eq(c->res.body_total, 10);
    client_free(c);
    server_stop(&s);
}
END_TEST

/* --- errors ------------------------------------------------------------------------------------- */

START_TEST(test_truncated_body_is_an_error)
{
    static const reply_t replies[] = {{.bytes = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", .close_after = true}};
    server_t s;
    server_start(&s, replies, 1);
    client_t *c = client_new(&s);

    ck_assert_int_eq(get(c, "GET", "/k", 5000), EDGE_HTTPC_ECLOSED);
    client_free(c);
    server_stop(&s);
    ck_assert_uint_eq(s.requests, 1); /* answered in part: never sent again */
}
END_TEST

START_TEST(test_malformed)
{
    static const reply_t replies[] = {
        {.bytes = "HTTP/2 200 OK\r\n\r\n", .close_after = true},
        {.bytes = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", .close_after = true},
        {.bytes = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", .close_after = true},
        {.bytes = "HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n", .close_after = true},
        {.bytes = "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\nContent-Length: 0\r\n\r\n", .close_after = true},
        {.bytes = "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", .close_after = true},
    };
    server_t s;
    server_start(&s, replies, 6);
    client_t *c = client_new(&s);

    for (size_t i = 0; i != 6; ++i)
        ck_assert_int_eq(get(c, "GET", "/m", 5000), EDGE_HTTPC_EPROTO);
    client_free(c);
    server_stop(&s);
}
END_TEST

START_TEST(test_keep_alive_race_retried_once)
{
    /* the server answers, then closes without saying so: the next request meets a dead connection */
    static const reply_t replies[] = {{.bytes = OK200(1) "a", .close_after = true}, {.bytes = OK200(1) "b"}};
    server_t s;
    server_start(&s, replies, 2);
    client_t *c = client_new(&s);

    ck_assert_int_eq(get(c, "GET", "/n", 5000), 0);
    usleep(20000); /* let the close arrive, so that the race is the one the retry is for */
    ck_assert_int_eq(get(c, "GET", "/o", 5000), 0);
    ck_assert_str_eq(c->body, "b");
    client_free(c);
    server_stop(&s);
    ck_assert_uint_eq(s.accepts, 2);
    ck_assert_uint_eq(s.requests, 2); /* the dead connection never delivered the request */
}
END_TEST

START_TEST(test_post_never_retried)
{
    static const reply_t replies[] = {{.bytes = OK200(1) "a", .close_after = true}, {.bytes = OK200(1) "b"}};
    server_t s;
    server_start(&s, replies, 2);
    client_t *c = client_new(&s);
    edge_httpc_request_t post = {.method = "POST", .target = "/purge", .host = "test", .body = "x=1", .body_len = 3};

    ck_assert_int_eq(get(c, "GET", "/n", 5000), 0);
    usleep(20000);
    ck_assert_int_eq(edge_httpc_request(&c->conn, &post, &c->res, 5000), EDGE_HTTPC_ECLOSED);
    /* the next request opens a fresh connection, and works */
    ck_assert_int_eq(edge_httpc_request(&c->conn, &post, &c->res, 5000), 0);
    ck_assert_str_eq(c->body, "b");
    client_free(c);
    server_stop(&s);
    ck_assert_uint_eq(s.accepts, 2);
}
END_TEST

START_TEST(test_timeout)
{
    static const reply_t replies[] = {{.bytes = NULL}};
    server_t s;
    server_start(&s, replies, 1);
    client_t *c = client_new(&s);
    struct timespec t0, t1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(get(c, "GET", "/p", 200), EDGE_HTTPC_ETIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    ck_assert_int_ge(ms, 190);
    ck_assert_int_lt(ms, 2000);
    client_free(c); /* closing wakes the server's read */
    server_stop(&s);
}
END_TEST

START_TEST(test_connection_refused)
{
    /* a port that was just bound and released: nobody listens there */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    close(fd);

    client_t *c = calloc(1, sizeof(*c));
    ck_assert_ptr_nonnull(c);
    edge_httpc_init(&c->conn, (struct sockaddr *)&a, sizeof(a));
    ck_assert_int_eq(get(c, "GET", "/", 2000), EDGE_HTTPC_ECONNECT);
    ck_assert_int_eq(c->conn.sys_errno, ECONNREFUSED);
    client_free(c);
}
END_TEST

/* --- the request ---------------------------------------------------------------------------------- */

START_TEST(test_request_bytes)
{
    static const reply_t replies[] = {{.bytes = OK200(0)}};
    static const char *const headers[] = {"Authorization: Bearer t0k3n", "Content-Type: text/plain"};
    server_t s;
    server_start(&s, replies, 1);
    client_t *c = client_new(&s);
    edge_httpc_request_t req = {.method = "POST",
                                .target = "/purge",
                                .host = "[::1]:9",
                                .headers = headers,
                                .num_headers = 2,
                                .body = "a=b",
                                .body_len = 3};

    ck_assert_int_eq(edge_httpc_request(&c->conn, &req, &c->res, 5000), 0);
    client_free(c);
    server_stop(&s);
    ck_assert_str_eq(s.last_req, "POST /purge HTTP/1.1\r\nHost: [::1]:9\r\nAuthorization: Bearer t0k3n\r\n"
                                 "Content-Type: text/plain\r\nContent-Length: 3\r\n\r\na=b");
}
END_TEST

START_TEST(test_request_invalid_or_too_big)
{
    static const char *const crlf[] = {"X: a\r\nInjected: b"};
    static const reply_t replies[] = {{.bytes = OK200(0)}};
    client_t *c = calloc(1, sizeof(*c));
    char *big = malloc(EDGE_HTTPC_BUFSIZE + 1);
    server_t s;
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(big);
    memset(big, 'a', EDGE_HTTPC_BUFSIZE);
    big[0] = '/';
    big[EDGE_HTTPC_BUFSIZE] = '\0';

    /* refused before connecting: the server sees only the last, valid request */
    server_start(&s, replies, 1);
    edge_httpc_init(&c->conn, (struct sockaddr *)&s.addr, sizeof(s.addr));
    edge_httpc_request_t req = {.method = "GET", .target = "/", .host = "h", .headers = crlf, .num_headers = 1};
    ck_assert_int_eq(edge_httpc_request(&c->conn, &req, &c->res, 5000), EDGE_HTTPC_EINVAL);
    req = (edge_httpc_request_t){.method = "GET", .target = "/a b", .host = "h"};
    ck_assert_int_eq(edge_httpc_request(&c->conn, &req, &c->res, 5000), EDGE_HTTPC_EINVAL);
    req = (edge_httpc_request_t){.method = "GET", .target = big, .host = "h"};
    ck_assert_int_eq(edge_httpc_request(&c->conn, &req, &c->res, 5000), EDGE_HTTPC_ETOOBIG);
    req = (edge_httpc_request_t){.method = "GET", .target = "/", .host = "h"};
    ck_assert_int_eq(edge_httpc_request(&c->conn, &req, &c->res, 5000), 0);
    client_free(c);
    free(big);
    server_stop(&s);
    ck_assert_uint_eq(s.accepts, 1);
    ck_assert_uint_eq(s.requests, 1);
}
END_TEST

START_TEST(test_resolve)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char err[256];

    ck_assert_int_eq(edge_httpc_resolve("127.0.0.1:8080", &ss, &len, err, sizeof(err)), 0);
    ck_assert_int_eq(ss.ss_family, AF_INET);
    ck_assert_int_eq(ntohs(((struct sockaddr_in *)&ss)->sin_port), 8080);
    ck_assert_int_eq(edge_httpc_resolve("[::1]:9090", &ss, &len, err, sizeof(err)), 0);
    ck_assert_int_eq(ss.ss_family, AF_INET6);
    ck_assert_int_eq(edge_httpc_resolve("127.0.0.1", &ss, &len, err, sizeof(err)), -1);
    ck_assert_int_eq(edge_httpc_resolve("::1:80", &ss, &len, err, sizeof(err)), -1);
    ck_assert_int_eq(edge_httpc_resolve("127.0.0.1:0", &ss, &len, err, sizeof(err)), -1);
    ck_assert_int_eq(edge_httpc_resolve("127.0.0.1:65536", &ss, &len, err, sizeof(err)), -1);
    ck_assert_int_eq(edge_httpc_resolve("127.0.0.1:80x", &ss, &len, err, sizeof(err)), -1);
    ck_assert_int_eq(edge_httpc_resolve(":80", &ss, &len, err, sizeof(err)), -1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("edge_httpc");
    TCase *tc = tcase_create("framing");
    tcase_add_test(tc, test_content_length_keep_alive);
    tcase_add_test(tc, test_chunked_across_reads);
    tcase_add_test(tc, test_close_delimited);
    tcase_add_test(tc, test_head_204_interim);
    tcase_add_test(tc, test_body_truncated_to_cap);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_truncated_body_is_an_error);
    tcase_add_test(tc, test_malformed);
    tcase_add_test(tc, test_keep_alive_race_retried_once);
    tcase_add_test(tc, test_post_never_retried);
    tcase_add_test(tc, test_timeout);
    tcase_add_test(tc, test_connection_refused);
    suite_add_tcase(s, tc);
    tc = tcase_create("request");
    tcase_add_test(tc, test_request_bytes);
    tcase_add_test(tc, test_request_invalid_or_too_big);
    tcase_add_test(tc, test_resolve);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
