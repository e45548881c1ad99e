/*
 * origin/fetch_file.c: a fetch from a file:// origin (a local directory, like a CloudFront S3 origin).
 *
 * origin/file.c resolves the path and opens the file; here the fetch goes from ROUTE straight to BODY
 * with a head made from what it found (or a static error page for a miss), and then reads the file one
 * block per loop turn on the loop's zero timeout, so a large file does not monopolise the loop. The read
 * pauses while the slowest subscriber is more than a window behind, as an HTTP origin would.
 */
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "errorpages/errorpages.h"
#include "origin/fetch_int.h"

/* In BODY, on the zero timeout: reads the next block. */
void fetch_file_read(fetch_t *f)
{
    uint8_t *buf = h2o_mem_alloc(FETCH_BLOCK_SIZE);
    ssize_t n = read(f->file_fd, buf, FETCH_BLOCK_SIZE);
    if (n > 0)
        fetch_append_body(f, buf, (size_t)n);
    free(buf);
    if (n < 0) {
        fetch_finish_body(f, ORIGIN_FETCH_ERR_FILE_READ, "read error");
        return;
    }
    if (n == 0 || f->super.received >= (uint64_t)f->super.content_length) {
        fetch_finish_body(f, ORIGIN_FETCH_OK, NULL);
        return;
    }
    fetch_notify(f);
    pthread_mutex_lock(&f->mutex);
    fetch_release_blocks(f);
    bool cancel = f->cancel_requested, pause = !cancel && fetch_behind_window(f);
    f->paused = pause;
    pthread_mutex_unlock(&f->mutex);
    if (cancel)
        fetch_finish_body(f, ORIGIN_FETCH_ERR_CANCELLED, "cancelled");
    else if (!pause)
        h2o_timeout_link(f->args.loop, f->args.zero_timeout, &f->defer);
}

/* In ROUTE, for a file:// origin: looks the file up and publishes the head. */
void fetch_file_start(fetch_t *f)
{
    origin_fetch_t *o = &f->super;
    origin_file_res_t res;

    f->request_time = fetch_now_sec(f);
    f->purge_seq = f->args.store != NULL ? cache_store_purge_seq(f->args.store) : 0;
    origin_file_lookup(f->args.file_roots[f->origin], f->args.method.base, f->args.method.len, f->args.path.base, f->args.path.len,
                       &res);
    o->status = res.status;
    if (res.status != 200) {
        const errorpages_page_t *page = errorpages_for_status(res.status);
        o->content_length = page != NULL ? (int64_t)page->len : 0;
        o->reason = h2o_iovec_init(H2O_STRLIT(res.status == 404 ? "Not Found" : "Error"));
        h2o_add_header(&o->pool, &o->headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/html; charset=utf-8"));
        if (res.status != 404) /* a 405 or a local 500 must not be cached for default_ttl */
            h2o_add_header(&o->pool, &o->headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
        fetch_head_decided(f);
        if (page != NULL && !o->error_page)
            fetch_append_body(f, page->body, page->len);
        fetch_finish_body(f, ORIGIN_FETCH_OK, NULL);
        return;
    }
    char *date = h2o_mem_alloc_pool(&o->pool, H2O_TIMESTR_RFC1123_LEN + 1);
    struct tm tm;
    gmtime_r(&res.mtime, &tm);
    h2o_time2str_rfc1123(date, &tm);
    o->reason = h2o_iovec_init(H2O_STRLIT("OK"));
    o->content_length = (int64_t)res.size;
    h2o_header_t hs[] = {{&H2O_TOKEN_CONTENT_TYPE->buf, NULL, h2o_iovec_init(res.content_type, strlen(res.content_type))},
                         {&H2O_TOKEN_LAST_MODIFIED->buf, NULL, h2o_iovec_init(date, H2O_TIMESTR_RFC1123_LEN)},
                         {&H2O_TOKEN_ETAG->buf, NULL, h2o_strdup(&o->pool, res.etag, strlen(res.etag))}};
    for (size_t i = 0; i != sizeof(hs) / sizeof(hs[0]); ++i) {
        h2o_vector_reserve(&o->pool, &o->headers, o->headers.size + 1);
        o->headers.entries[o->headers.size++] = hs[i];
    }
    f->file_fd = res.fd;
    fetch_head_decided(f);
    if (h2o_memis(f->args.method.base, f->args.method.len, H2O_STRLIT("HEAD")) || res.size == 0) {
        fetch_finish_body(f, ORIGIN_FETCH_OK, NULL);
        return;
    }
    f->file_reading = true;
    h2o_timeout_link(f->args.loop, f->args.zero_timeout, &f->defer);
}
