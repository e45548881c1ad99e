/*
 * tests/unit/check_origin_fetch.c: the origin fetch state machine (origin/fetch*.c) at its module
 * boundary: a real h2o event loop in the test, a tiny scripted origin on 127.0.0.1 served by a thread,
 * and a real store (LMDB in a temporary directory).
 *
 * Each test starts one fetch with one subscriber on the test's loop, runs the loop until the subscriber
 * has seen the fetch end, and asserts on the final state, the error identity and what the store holds
 * (a truncated body is never stored). The scripted origin holds a "slow" answer on a gate that the test
 * opens after the fetch has given up, so no test waits on a sleep: the only clock is the fetch's own
 * read timeout, which is what that test is about. The first test checks that the transition list in
 * origin/fetch.h and the exported table agree.
 */
#define CHUNK CACHE_STORE_CHUNK_SIZE
#define MAX_READERS 8
#pragma GCC diagnostic ignored "-Wunused-function" /* the fixture's chunk helpers are not used here */
#include "tests/unit/store_fixture.h"

#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include "errorpages/errorpages.h"
#include "origin/fetch.h"

/* --- the scripted origin --------------------------------------------------------------------------- */

typedef enum en_script_t {
    SCRIPT_200_LENGTH,  /* 200, Content-Length, cacheable */
    SCRIPT_200_CHUNKED, /* 200, chunked, cacheable */
    SCRIPT_503,         /* 503 with a small body */
    SCRIPT_BAD_TE,      /* 200 with Transfer-Encoding: foo and a Content-Length: refused */
    SCRIPT_RESET_BODY,  /* a cacheable head announcing 100000 bytes, 10 of them, then a reset */
    SCRIPT_SLOW_HEAD    /* read the request, then answer nothing until the gate opens */
} script_t;

typedef struct st_origin_t {
    int lfd;
    uint16_t port;
    script_t script;
    int gate[2]; /* SCRIPT_SLOW_HEAD waits for the test to close gate[1] */
    pthread_t tid;
} origin_t;

static void write_all(int fd, const char *s)
{
    size_t len = strlen(s);
    while (len != 0) {
        ssize_t n = write(fd, s, len);
        if (n <= 0)
            return;
        s += n;
        len -= (size_t)n;
    }
}

static void *origin_main(void *arg)
{
    origin_t *o = arg;
    int fd = accept(o->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    char req[8192];
    size_t len = 0;
    req[0] = '\0';
    while (strstr(req, "\r\n\r\n") == NULL && len < sizeof(req) - 1) {
        ssize_t n = read(fd, req + len, sizeof(req) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        req[len] = '\0';
    }
    switch (o->script) {
    case SCRIPT_200_LENGTH:
        write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nCache-Control: max-age=60\r\nConnection: close\r\n\r\nhello");
        break;
    case SCRIPT_200_CHUNKED:
        write_all(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nCache-Control: max-age=60\r\nConnection: close\r\n\r\n"
                      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
        break;
    case SCRIPT_BAD_TE: /* libh2o's own client asserted on this one */
        write_all(fd, "HTTP/1.1 200 OK\r\nCache-Control: max-age=3600\r\nTransfer-Encoding: foo\r\nContent-Length: 5\r\n\r\nhello");
        break;
    case SCRIPT_503:
        write_all(fd, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy");
        break;
    case SCRIPT_RESET_BODY: {
        write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nCache-Control: max-age=60\r\n\r\n0123456789");
        struct linger lg = {.l_onoff = 1, .l_linger = 0}; /* close with a RST, not a FIN */
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        break;
    }
    case SCRIPT_SLOW_HEAD: {
        char c;
        while (read(o->gate[0], &c, 1) > 0) /* until the test closes the gate */
            ;
        break;
    }
    }
    close(fd);
    return NULL;
}

static void origin_start(origin_t *o, script_t script)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sin);
    o->script = script;
    ck_assert_int_eq(pipe(o->gate), 0);
    ck_assert_int_ge(o->lfd = socket(AF_INET, SOCK_STREAM, 0), 0);
    ck_assert_int_eq(bind(o->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(listen(o->lfd, 8), 0);
    ck_assert_int_eq(getsockname(o->lfd, (struct sockaddr *)&sin, &sl), 0);
    o->port = ntohs(sin.sin_port);
    ck_assert_int_eq(pthread_create(&o->tid, NULL, origin_main, o), 0);
}

static void origin_stop(origin_t *o)
{
    close(o->gate[1]);
    shutdown(o->lfd, SHUT_RDWR); /* an accept() still waiting returns */
    pthread_join(o->tid, NULL);
    close(o->lfd);
    close(o->gate[0]);
}

/* A port where nothing listens: bound, never listened on, so a connect is refused at once. */
static int refusing_port(uint16_t *port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

/* --- the edge side: a loop, the origin's per-loop state, one subscriber -------------------------------- */

typedef struct st_client_t {
    origin_fetch_sub_t super;
    origin_fetch_t *fetch;
    bool head_seen;
    bool finished;
    origin_fetch_state_t end; /* DONE or FAILED */
    char body[256];
    size_t len;
} client_t;

static void drain(client_t *c)
{
    for (;;) {
        h2o_iovec_t vec;
        origin_fetch_state_t st = origin_fetch_peek(c->fetch, &c->super, &vec);
        if (vec.len != 0) {
            size_t n = vec.len < sizeof(c->body) - c->len ? vec.len : sizeof(c->body) - c->len;
            memcpy(c->body + c->len, vec.base, n);
            c->len += n;
            origin_fetch_consume(c->fetch, &c->super, vec.len);
        }
        if (st == ORIGIN_FETCH_DONE || st == ORIGIN_FETCH_FAILED) {
            c->finished = true;
            c->end = st;
            return;
        }
        if (vec.len == 0)
            return;
    }
}

static void on_head(origin_fetch_sub_t *sub)
{
    client_t *c = (client_t *)sub;
    c->head_seen = true;
    ck_assert(origin_fetch_head_ready(c->fetch));
    if (c->fetch->state == ORIGIN_FETCH_FAILED && c->fetch->failure != 0) {
        c->finished = true; /* failed before the head: there is no body to read */
        c->end = ORIGIN_FETCH_FAILED;
        return;
    }
    drain(c);
}

static void on_body(origin_fetch_sub_t *sub)
{
    drain((client_t *)sub);
}

typedef struct st_env_t {
    h2o_loop_t *loop;
    h2o_timeout_t zero_timeout;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t receiver, getaddr_receiver;
    char name[8];
    char server[64];
    char *servers[1];
    origin_conf_t origin;
    origin_conf_set_t set;
    origin_router_t *router;
    origin_http_t http;
    origin_file_root_t *file_roots[1];
    cache_store_t *store;
    cache_ttl_rules_t rules;
} env_t;

static void env_init(env_t *e, uint16_t port, uint64_t read_timeout_ms, bool with_store)
{
    char err[256] = "";
    memset(e, 0, sizeof(*e));
    e->loop = h2o_evloop_create();
    h2o_timeout_init(e->loop, &e->zero_timeout, 0);
    e->queue = h2o_multithread_create_queue(e->loop);
    h2o_multithread_register_receiver(e->queue, &e->receiver, origin_fetch_receive);
    h2o_multithread_register_receiver(e->queue, &e->getaddr_receiver, h2o_hostinfo_getaddr_receiver);
    strcpy(e->name, "test");
    snprintf(e->server, sizeof(e->server), "http://127.0.0.1:%u", (unsigned)port);
    e->servers[0] = e->server;
    e->origin = (origin_conf_t){.name = e->name,
                                .servers = e->servers,
                                .num_servers = 1,
                                .connect_timeout_ms = 10000,
                                .connect_attempts = 1,
                                .read_timeout_ms = read_timeout_ms,
                                .keepalive_timeout_ms = 5000,
                                .health = {.unhealthy_threshold = 2, .healthy_threshold = 3}};
    e->set = (origin_conf_set_t){.origins = &e->origin, .num_origins = 1};
    ck_assert_ptr_nonnull(e->router = origin_router_new(&e->set, NULL));
    ck_assert_msg(origin_http_init(&e->http, e->loop, &e->getaddr_receiver, &e->origin, NULL, err, sizeof(err)) == 0, "%s", err);
    e->rules = (cache_ttl_rules_t){.default_ttl = 86400, .max_ttl = 31536000};
    if (with_store)
        e->store = open_store(64 << 20);
}

static void env_dispose(env_t *e)
{
    origin_http_dispose(&e->http);
    origin_router_free(e->router);
    if (e->store != NULL)
        cache_store_close(e->store);
}

#define KEY "http://t.example/a"

/* Runs one GET of /a through a fetch and returns when the subscriber has seen it end. */
static void run_fetch(env_t *e, client_t *c)
{
    origin_fetch_args_t args = {.loop = e->loop,
                                .zero_timeout = &e->zero_timeout,
                                .receiver = &e->receiver,
                                .router = e->router,
                                .http = &e->http,
                                .file_roots = e->file_roots,
                                .origin_index = 0,
                                .group_index = SIZE_MAX,
                                .method = h2o_iovec_init(H2O_STRLIT("GET")),
                                .path = h2o_iovec_init(H2O_STRLIT("/a")),
                                .store = e->store,
                                .hash = hash_of(KEY),
                                .key = h2o_iovec_init(H2O_STRLIT(KEY)),
                                .ttl_rules = &e->rules,
                                .background_fetch_max = 1 << 20};
    memset(c, 0, sizeof(*c));
    c->super.on_head = on_head;
    c->super.on_body = on_body;
    c->super.receiver = &e->receiver;
    c->fetch = origin_fetch_join_or_start(&args, &c->super);
    ck_assert(!c->super.joined);
    ck_assert_int_eq(c->fetch->state, ORIGIN_FETCH_ROUTE); /* nothing happens before the next loop turn */
    while (!c->finished)
        h2o_evloop_run(e->loop, INT32_MAX);
    ck_assert(c->head_seen);
}

static void finish(env_t *e, client_t *c)
{
    origin_fetch_unsubscribe(c->fetch, &c->super);
    c->fetch = NULL;
}

static int stored(env_t *e, cache_record_t *rec)
{
    cache_store_flush(e->store);
    cache_store_reader_t *r = cache_store_reader_new(e->store);
    int ret = get_record(r, KEY, rec);
    cache_store_reader_free(r);
    return ret;
}

/* --- the tests -------------------------------------------------------------------------------------- */

static int state_of(const char *name, size_t len)
{
    for (int s = 0; s != ORIGIN_FETCH_NUM_STATES; ++s)
        if (strlen(origin_fetch_state_name(s)) == len && memcmp(origin_fetch_state_name(s), name, len) == 0)
            return s;
    return -1;
}

START_TEST(test_graph_matches_table)
{
    char path[1024];
    const char *top = getenv("TOP_SRCDIR");
    snprintf(path, sizeof(path), "%s/origin/fetch.h", top != NULL ? top : ".");
    FILE *fp = fopen(path, "r");
    ck_assert_msg(fp != NULL, "cannot open %s", path);
    bool doc[ORIGIN_FETCH_NUM_STATES][ORIGIN_FETCH_NUM_STATES] = {{false}}, listed[ORIGIN_FETCH_NUM_STATES] = {false};
    char line[512];
    while (fgets(line, sizeof(line), fp) != NULL) {
        /* " *   FROM -> TO (why), TO, ..." */
        char *arrow = strstr(line, " -> ");
        if (strncmp(line, " *   ", 5) != 0 || arrow == NULL)
            continue;
        char *p = line + 5, *q = p;
        while (*q >= 'A' && *q <= 'Z')
            ++q;
        int from = state_of(p, (size_t)(q - p));
        ck_assert_msg(from >= 0, "fetch.h names an unknown state: %s", line);
        listed[from] = true;
        for (p = arrow + 4; *p != '\0';) {
            if (*p == '(') { /* a comment, or "(final)" */
                while (*p != '\0' && *p != ')')
                    ++p;
                continue;
            }
            if (*p >= 'A' && *p <= 'Z') {
                for (q = p; *q >= 'A' && *q <= 'Z'; ++q)
                    ;
                int to = state_of(p, (size_t)(q - p));
                ck_assert_msg(to >= 0, "fetch.h names an unknown state in: %s", line);
                doc[from][to] = true;
                p = q;
                continue;
            }
            ++p;
        }
    }
    fclose(fp);
    for (int from = 0; from != ORIGIN_FETCH_NUM_STATES; ++from) {
        ck_assert_msg(listed[from], "fetch.h lists no transitions from %s", origin_fetch_state_name(from));
        for (int to = 0; to != ORIGIN_FETCH_NUM_STATES; ++to)
            ck_assert_msg(doc[from][to] == origin_fetch_transition_allowed(from, to), "%s -> %s: fetch.h says %d, the table %d",
                          origin_fetch_state_name(from), origin_fetch_state_name(to), doc[from][to],
                          origin_fetch_transition_allowed(from, to));
    }
    ck_assert(!origin_fetch_transition_allowed(ORIGIN_FETCH_NUM_STATES, ORIGIN_FETCH_DONE));
    ck_assert_str_eq(origin_fetch_state_name(ORIGIN_FETCH_NUM_STATES), "?");
    for (int err = 0; err != ORIGIN_FETCH_NUM_ERRORS; ++err)
        ck_assert_str_ne(origin_fetch_error_name(err), "?");
    ck_assert_uint_eq(origin_fetch_error_failure(ORIGIN_FETCH_OK), 0);
    ck_assert_uint_eq(origin_fetch_error_failure(ORIGIN_FETCH_ERR_TIMEOUT_READ), ERRORPAGES_FAIL_TIMEOUT);
    ck_assert_uint_eq(origin_fetch_error_failure(ORIGIN_FETCH_ERR_TIMEOUT_CONNECT), ERRORPAGES_FAIL_CONNECT);
    ck_assert_uint_eq(origin_fetch_error_failure(ORIGIN_FETCH_ERR_RESET), ERRORPAGES_FAIL_RESET);
    ck_assert_uint_eq(origin_fetch_error_failure(ORIGIN_FETCH_ERR_MALFORMED), ERRORPAGES_FAIL_RESET);
    ck_assert_uint_eq(origin_fetch_error_failure(ORIGIN_FETCH_ERR_BAD_FRAMING), ERRORPAGES_FAIL_RESET);
    ck_assert_uint_eq(origin_fetch_error_failure(ORIGIN_FETCH_ERR_POOL_FULL), ERRORPAGES_FAIL_CONNECT);
}
END_TEST

START_TEST(test_200_content_length_is_stored)
{
    origin_t o;
    env_t e;
    client_t c;
    cache_record_t rec;

    origin_start(&o, SCRIPT_200_LENGTH);
    env_init(&e, o.port, 30000, true);
    run_fetch(&e, &c);
    ck_assert_int_eq(c.end, ORIGIN_FETCH_DONE);
    ck_assert_int_eq(c.fetch->state, ORIGIN_FETCH_DONE);
    ck_assert_int_eq(c.fetch->error, ORIGIN_FETCH_OK);
    ck_assert_int_eq(c.fetch->failure, 0);
    ck_assert_int_eq(c.fetch->status, 200);
    ck_assert(c.fetch->stored);
    ck_assert_uint_eq(c.len, 5);
    ck_assert_mem_eq(c.body, "hello", 5);
    finish(&e, &c);
    ck_assert_int_eq(stored(&e, &rec), 0);
    ck_assert_int_eq(rec.status, 200);
    ck_assert_uint_eq(rec.body_len, 5);
    ck_assert(h2o_memis(rec.body.base, rec.body.len, H2O_STRLIT("hello")));
    origin_stop(&o);
    env_dispose(&e);
}
END_TEST

START_TEST(test_200_chunked_is_stored)
{
    origin_t o;
    env_t e;
    client_t c;
    cache_record_t rec;

    origin_start(&o, SCRIPT_200_CHUNKED);
    env_init(&e, o.port, 30000, true);
    run_fetch(&e, &c);
    ck_assert_int_eq(c.end, ORIGIN_FETCH_DONE);
    ck_assert_int_eq(c.fetch->error, ORIGIN_FETCH_OK);
    ck_assert_int_eq(c.fetch->content_length, -1);
    ck_assert_uint_eq(c.len, 11);
    ck_assert_mem_eq(c.body, "hello world", 11);
    finish(&e, &c);
    ck_assert_int_eq(stored(&e, &rec), 0);
    ck_assert_uint_eq(rec.body_len, 11);
    ck_assert(h2o_memis(rec.body.base, rec.body.len, H2O_STRLIT("hello world")));
    origin_stop(&o);
    env_dispose(&e);
}
END_TEST

START_TEST(test_503_is_an_answer_not_a_failure)
{
    origin_t o;
    env_t e;
    client_t c;

    origin_start(&o, SCRIPT_503);
    env_init(&e, o.port, 30000, false);
    run_fetch(&e, &c);
    ck_assert_int_eq(c.end, ORIGIN_FETCH_DONE);
    ck_assert_int_eq(c.fetch->status, 503);
    ck_assert_int_eq(c.fetch->error, ORIGIN_FETCH_OK);
    ck_assert_int_eq(c.fetch->failure, 0);
    ck_assert(!c.fetch->stored); /* no store given */
    ck_assert_mem_eq(c.body, "busy", 4);
    finish(&e, &c);
    origin_stop(&o);
    env_dispose(&e);
}
END_TEST

START_TEST(test_reset_mid_body_is_not_stored)
{
    origin_t o;
    env_t e;
    client_t c;
    cache_record_t rec;

    origin_start(&o, SCRIPT_RESET_BODY);
    env_init(&e, o.port, 30000, true);
    run_fetch(&e, &c);
    ck_assert_int_eq(c.end, ORIGIN_FETCH_FAILED);
    ck_assert_int_eq(c.fetch->state, ORIGIN_FETCH_FAILED);
    ck_assert_int_eq(c.fetch->status, 200);
    /* origin/client reports a reset inside a Content-Length body as the body ending early */
    ck_assert_msg(c.fetch->error == ORIGIN_FETCH_ERR_TRUNCATED, "error %s", origin_fetch_error_name(c.fetch->error));
    ck_assert_ptr_nonnull(c.fetch->errstr);
    ck_assert_int_eq(c.fetch->failure, 0); /* the head was in: not a failure before it */
    ck_assert_uint_eq(c.len, 10);
    finish(&e, &c);
    ck_assert_int_eq(stored(&e, &rec), CACHE_STORE_ENOTFOUND);
    origin_stop(&o);
    env_dispose(&e);
}
END_TEST

START_TEST(test_bad_transfer_encoding_is_502_not_stored)
{
    origin_t o;
    env_t e;
    client_t c;
    cache_record_t rec;

    origin_start(&o, SCRIPT_BAD_TE);
    env_init(&e, o.port, 30000, true);
    run_fetch(&e, &c);
    ck_assert_int_eq(c.end, ORIGIN_FETCH_FAILED);
    ck_assert_msg(c.fetch->error == ORIGIN_FETCH_ERR_BAD_FRAMING, "error %s", origin_fetch_error_name(c.fetch->error));
    ck_assert_uint_eq(c.fetch->failure, ERRORPAGES_FAIL_RESET); /* 502 */
    ck_assert(!c.fetch->stored);
    finish(&e, &c);
    ck_assert_int_eq(stored(&e, &rec), CACHE_STORE_ENOTFOUND);
    origin_stop(&o);
    env_dispose(&e);
}
END_TEST

START_TEST(test_slow_head_times_out)
{
    origin_t o;
    env_t e;
    client_t c;
    cache_record_t rec;

    origin_start(&o, SCRIPT_SLOW_HEAD);
    env_init(&e, o.port, 200, true);
    run_fetch(&e, &c);
    ck_assert_int_eq(c.end, ORIGIN_FETCH_FAILED);
    ck_assert_msg(c.fetch->error == ORIGIN_FETCH_ERR_TIMEOUT_READ, "error %s", origin_fetch_error_name(c.fetch->error));
    ck_assert_uint_eq(c.fetch->failure, ERRORPAGES_FAIL_TIMEOUT);
    finish(&e, &c);
    origin_stop(&o); /* opens the gate */
    ck_assert_int_eq(stored(&e, &rec), CACHE_STORE_ENOTFOUND);
    env_dispose(&e);
}
END_TEST

START_TEST(test_connection_refused)
{
    env_t e;
    client_t c;
    uint16_t port;
    int fd = refusing_port(&port);

    env_init(&e, port, 30000, false);
    run_fetch(&e, &c);
    ck_assert_int_eq(c.end, ORIGIN_FETCH_FAILED);
    ck_assert_msg(c.fetch->error == ORIGIN_FETCH_ERR_CONNECT, "error %s", origin_fetch_error_name(c.fetch->error));
    ck_assert_uint_eq(c.fetch->failure, ERRORPAGES_FAIL_CONNECT);
    ck_assert(origin_fetch_shared(c.fetch));
    finish(&e, &c);
    close(fd);
    env_dispose(&e);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("origin_fetch");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_graph_matches_table);
    tcase_add_test(tc, test_200_content_length_is_stored);
    tcase_add_test(tc, test_200_chunked_is_stored);
    tcase_add_test(tc, test_503_is_an_answer_not_a_failure);
    tcase_add_test(tc, test_reset_mid_body_is_not_stored);
    tcase_add_test(tc, test_bad_transfer_encoding_is_502_not_stored);
    tcase_add_test(tc, test_slow_head_times_out);
    tcase_add_test(tc, test_connection_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    return fixture_main("check_origin_fetch", suite());
}
