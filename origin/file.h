/*
 * origin/file.h: the file:// origin, a local directory served like a CloudFront S3 origin.
 *
 * A request path is resolved under the root without ever leaving it: ".." segments, percent-encoded
 * dot segments ("%2e%2e", "%2f"), NUL bytes and symlinks that lead outside the root are all refused with
 * 404 (the same answer as a missing file, so nothing is disclosed). Directories answer "index.html"
 * inside them when it exists. Responses carry Content-Type by extension, Last-Modified, and a strong
 * ETag built from the file's device, inode, size and modification time.
 */
#ifndef ORIGIN_FILE_H
#define ORIGIN_FILE_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

typedef struct st_origin_file_root_t origin_file_root_t;

typedef struct st_origin_file_res_t {
    int status;               /* 200; 404 (absent or refused); 405 (not GET or HEAD); 500 (out of descriptors, memory, I/O error) */
    int fd;                   /* status 200: an open descriptor the caller owns and must close; else -1 */
    uint64_t size;            /* status 200: the file's size */
    time_t mtime;             /* status 200: the Last-Modified time */
    const char *content_type; /* status 200: a static string, e.g. "text/html; charset=utf-8" */
    char etag[48];            /* status 200: the strong ETag with its quotes, NUL-terminated */
} origin_file_res_t;

/**
 * Opens the directory at `url` ("file:///abs/dir" or "file:dir", relative to the working directory).
 * Returns NULL with a message in `err` (`errlen` bytes) when it is not a readable directory. The root
 * is immutable and may be shared by every thread; free it with origin_file_close.
 */
origin_file_root_t *origin_file_open(const char *url, char *err, size_t errlen);
void origin_file_close(origin_file_root_t *root);

/**
 * Resolves `path` (the request path as received: percent-encoded, possibly with a query, which is
 * ignored) for the method `method` (e.g. "GET") under `root` and fills `res`. Synchronous: it only
 * stats and opens a local file. Any thread.
 */
void origin_file_lookup(origin_file_root_t *root, const char *method, size_t method_len, const char *path, size_t path_len,
                        origin_file_res_t *res);

/** Content-Type for a file name by its extension; "application/octet-stream" when unknown. */
const char *origin_file_mime_type(const char *name, size_t len);

#endif
