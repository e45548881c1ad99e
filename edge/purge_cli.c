/*
 * edge/purge_cli.c: `edgecache purge` (see edge/purge_cli.h): post an invalidation to the admin API and
 * wait until it is done.
 *
 * The admin API answers JSON objects of one level (strings, numbers, booleans); the tiny reader below
 * extracts members by name and skips anything else, nested values included, so that fields the server
 * adds later do not break the client. It never trusts the id it gets back: the id goes into a request
 * target, so only [A-Za-z0-9_-] is accepted.
 *
 * The invariant that is easy to break: one deadline (--timeout) bounds the whole wait, the polls and
 * their requests included; a request is never given more time than is left.
 */
#include "edge/purge_cli.h"
#include "edge/purge_int.h"
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "edge/adminc.h"
#include "edge/cli.h"
#include "edge/config.h"
#include "edge/httpc.h"
#include "edge/purge_fleet.h"

#define DEFAULT_TIMEOUT_MS 30000
#define POLL_INTERVAL_MS 100
#define MAX_TARGET_LEN 4096 /* a URL, prefix or tag; the form-encoded body must fit the client's buffer */

static const char usage[] =
    "usage: edgecache purge [-c FILE] [--admin ADDR:PORT] [--token-file F] (URL | --prefix P | --tag T)\n"
    "                       [--site NAME] [--soft] [--no-wait] [--timeout S]\n"
    "       edgecache purge --fleet FLEET.yaml [--edges NAME,...] (URL | --prefix P | --tag T)\n"
    "                       [--site NAME] [--soft] [--timeout S]\n"
    "\n"
    "Invalidates cached objects through the admin API and waits until it is done.\n"
    "\n"
    "  URL                an absolute URL (http://shop.example.com/a?b): every stored variant of it on\n"
    "                     that host; or a path (/a?b): on every host (or --site's)\n"
    "  --prefix P         every object whose path (and query) starts with P\n"
    "  --tag T            every object whose response named T in Surrogate-Key or Cache-Tag\n"
    "  --site NAME        only the objects of the hosts that site NAME names (sites of the config)\n"
    "  --soft             mark the objects stale (revalidated on next use, still served on origin errors)\n"
    "                     instead of deleting them\n"
    "  -c FILE            the edge's configuration: admin.listen and admin.token_file\n"
    "  --admin ADDR:PORT  the admin listener (default: admin.listen of -c)\n"
    "  --token-file F     the file holding the bearer token (default: admin.token_file of -c)\n"
    "  --no-wait          print the invalidation's id and return without waiting\n"
    "  --timeout S        seconds to wait for completion, 1..3600 (default 30; with --fleet, per tier)\n"
    "  --fleet FLEET.yaml every edge of the fleet file: the parents first, all at once, then (once every\n"
    "                     parent is done) the edges, all at once; a table of the results. When a parent\n"
    "                     fails, the edges are not purged (they would refill from its stale copy).\n"
    "  --edges NAME,...   with --fleet: only these edges (what the retry line printed after a failure names)\n"
    "\n"
    "Exit status: 0 done (accepted, with --no-wait); 1 HTTP, connection error or timeout (with --fleet: any\n"
    "edge failed or was skipped; they are named, with the command that retries only them); 2 usage error.\n";

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sleeps `ms`, whatever signals interrupt it. */
static void sleep_ms(uint64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* --- a reader of flat JSON objects ------------------------------------------------------------------ */

static const char *ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        ++p;
    return p;
}

/* Reads the string at `p` (its opening quote) into `out` (NULL: skip it; truncated to `outlen`). Returns the
 * byte after the closing quote, or NULL when it is malformed. \uXXXX outside ASCII becomes '?': the values
 * read here (ids, statuses, targets for display) need no more. */
static const char *json_string(const char *p, char *out, size_t outlen)
{
    size_t n = 0;

    if (*p++ != '"')
        return NULL;
    for (;;) {
        char ch = *p++;
        if (ch == '\0')
            return NULL;
        if (ch == '"')
            break;
        if (ch == '\\') {
            switch (*p++) {
            case '"':
                ch = '"';
                break;
            case '\\':
                ch = '\\';
                break;
            case '/':
                ch = '/';
                break;
            case 'b':
                ch = '\b';
                break;
            case 'f':
                ch = '\f';
                break;
            case 'n':
                ch = '\n';
                break;
            case 'r':
                ch = '\r';
                break;
            case 't':
                ch = '\t';
                break;
            case 'u': {
                unsigned v = 0;
                for (int i = 0; i != 4; ++i, ++p) {
                    char h = *p;
                    if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F')))
                        return NULL;
                    v = v * 16 + (unsigned)(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
                }
                ch = v >= 0x20 && v < 0x7f ? (char)v : '?';
                break;
            }
            default:
                return NULL;
            }
        }
        if (out != NULL && n + 1 < outlen)
            out[n++] = ch;
    }
    if (out != NULL && outlen != 0)
        out[n] = '\0';
    return p;
}

/* Skips the value at `p`: a string, a nested object or array, or a bare token. NULL when malformed. */
static const char *json_skip(const char *p)
{
    if (*p == '"')
        return json_string(p, NULL, 0);
    if (*p == '{' || *p == '[') {
        unsigned depth = 0;
        do {
            if (*p == '"') {
                if ((p = json_string(p, NULL, 0)) == NULL)
                    return NULL;
                continue;
            }
            if (*p == '\0')
                return NULL;
            if (*p == '{' || *p == '[')
                ++depth;
            else if (*p == '}' || *p == ']')
                --depth;
            ++p;
        } while (depth != 0);
        return p;
    }
    const char *start = p;
    while (*p != '\0' && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
        ++p;
    return p != start ? p : NULL;
}

/* Copies the member `key` of the object `json` into `out`: a string unescaped, a number or literal as its
 * text. Returns false when the member is absent, is an object or array, or the text is not an object. */
static bool json_member(const char *json, const char *key, char *out, size_t outlen)
{
    char name[64];
    const char *p = ws(json);

    if (*p++ != '{')
        return false;
    for (p = ws(p); *p != '}';) {
        if ((p = json_string(p, name, sizeof(name))) == NULL || *(p = ws(p)) != ':')
            return false;
        p = ws(p + 1);
        if (strcmp(name, key) == 0) {
            if (*p == '"')
                return json_string(p, out, outlen) != NULL;
            const char *end = json_skip(p);
            if (end == NULL || *p == '{' || *p == '[' || (size_t)(end - p) >= outlen)
                return false;
            memcpy(out, p, end - p);
            out[end - p] = '\0';
            return true;
        }
        if ((p = json_skip(p)) == NULL)
            return false;
        p = ws(p);
        if (*p == ',')
            p = ws(p + 1);
        else if (*p != '}')
            return false;
    }
    return false;
}

/* --- requests ------------------------------------------------------------------------------------- */

/* application/x-www-form-urlencoded (WHATWG): unreserved bytes as they are, space as '+', the rest %XX. */
static void form_encode(char *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s != '\0'; ++s) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '*' || ch == '-' ||
            ch == '.' || ch == '_') {
            *out++ = (char)ch;
        } else if (ch == ' ') {
            *out++ = '+';
        } else {
            *out++ = '%';
            *out++ = hex[ch >> 4];
            *out++ = hex[ch & 15];
        }
    }
    *out = '\0';
}

/* Sends one request with the token and reads the answer into p->res / p->body. 0, or 1 after printing why. */
static int call(edge_purge_t *p, const char *method, const char *target, const char *form, uint64_t deadline)
{
    const char *headers[2];
    size_t nh = 0;
    char *auth = NULL;
    uint64_t now = now_ms();

    if (now >= deadline) {
        snprintf(p->why, sizeof(p->why), "purge: %s %s: timeout", method, target);
        return 1;
    }
    if (p->token != NULL) {
        size_t len = strlen("Authorization: Bearer ") + strlen(p->token) + 1;
        if ((auth = malloc(len)) == NULL) {
            snprintf(p->why, sizeof(p->why), "purge: out of memory");
            return 1;
        }
        snprintf(auth, len, "Authorization: Bearer %s", p->token);
        headers[nh++] = auth;
    }
    if (form != NULL)
        headers[nh++] = "Content-Type: application/x-www-form-urlencoded";
    edge_httpc_request_t req = {.method = method,
                                .target = target,
                                .host = p->hostport,
                                .headers = headers,
                                .num_headers = nh,
                                .body = form,
                                .body_len = form != NULL ? strlen(form) : 0};
    p->res.body = p->body;
    p->res.body_cap = sizeof(p->body);
    int r = edge_httpc_request(&p->conn, &req, &p->res, deadline - now);
    free(auth);
    if (r != 0) {
        if (p->conn.sys_errno != 0)
            snprintf(p->why, sizeof(p->why), "purge: %s %s on %s: %s: %s", method, target, p->hostport, edge_httpc_strerror(r),
                     strerror(p->conn.sys_errno));
        else
            snprintf(p->why, sizeof(p->why), "purge: %s %s on %s: %s", method, target, p->hostport, edge_httpc_strerror(r));
        return 1;
    }
    return 0;
}

static int http_error(edge_purge_t *p, const char *method, const char *target)
{
    size_t len = strlen(p->body);
    while (len != 0 && (p->body[len - 1] == '\n' || p->body[len - 1] == '\r'))
        p->body[--len] = '\0';
    snprintf(p->why, sizeof(p->why), "purge: %s %s: status %d%s%.200s", method, target, p->res.status, len != 0 ? ": " : "",
             p->body);
    return 1;
}

static bool id_ok(const char *id)
{
    if (*id == '\0')
        return false;
    for (; *id != '\0'; ++id)
        if (!((*id >= 'a' && *id <= 'z') || (*id >= 'A' && *id <= 'Z') || (*id >= '0' && *id <= '9') || *id == '-' || *id == '_'))
            return false;
    return true;
}

/* Prints the "done" line when the status says so. 1: done; 0: not yet; -1: the invalidation failed. */
static int check_done(edge_purge_t *p, const char *id)
{
    char status[32];

    if (!json_member(p->body, "status", status, sizeof(status)))
        return 0;
    if (strcmp(status, "done") == 0) {
        if (!json_member(p->body, "objects", p->objects, sizeof(p->objects)))
            snprintf(p->objects, sizeof(p->objects), "?");
        if (!p->quiet)
            printf("purge %s done: %s object%s\n", id, p->objects, strcmp(p->objects, "1") == 0 ? "" : "s");
        return 1;
    }
    if (strcmp(status, "failed") == 0 || strcmp(status, "error") == 0) {
        snprintf(p->why, sizeof(p->why), "purge %s %s: %.300s", id, status, p->body);
        return -1;
    }
    return 0; /* "pending", "running", or a state this client does not know yet: keep waiting */
}

int edge_purge_run(edge_purge_t *p, bool wait, uint64_t timeout_ms)
{
    uint64_t deadline = now_ms() + timeout_ms;
    size_t tlen = strlen(p->target);
    size_t slen = p->site != NULL ? strlen(p->site) : 0;
    char *form = malloc(strlen(p->kind) + 1 + tlen * 3 + sizeof("&soft=1") + sizeof("&site=") + slen * 3), *id = p->id, type[16],
         target[256], path[80];
    int ret = 1, done;

    p->why[0] = p->id[0] = p->objects[0] = '\0';
    if (form == NULL) {
        snprintf(p->why, sizeof(p->why), "purge: out of memory");
        goto Exit;
    }
    size_t n = (size_t)sprintf(form, "%s=", p->kind);
    form_encode(form + n, p->target);
    if (p->soft)
        strcat(form, "&soft=1");
    if (p->site != NULL) {
        strcat(form, "&site=");
        form_encode(form + strlen(form), p->site);
    }

    if (call(p, "POST", "/purge", form, deadline) != 0)
        goto Exit;
    if (p->res.status / 100 != 2) {
        http_error(p, "POST", "/purge");
        goto Exit;
    }
    if (!json_member(p->body, "id", id, sizeof(p->id)) || !id_ok(id)) {
        snprintf(p->why, sizeof(p->why), "purge: POST /purge: status %d without a usable id: %.200s", p->res.status, p->body);
        id[0] = '\0';
        goto Exit;
    }
    if (!json_member(p->body, "type", type, sizeof(type)))
        snprintf(type, sizeof(type), "%s", p->kind);
    if (!json_member(p->body, "target", target, sizeof(target)))
        snprintf(target, sizeof(target), "%s", p->target);
    if (!p->quiet) {
        printf("purge %s accepted: %s %s%s\n", id, type, target, p->soft ? " (soft)" : "");
        fflush(stdout);
    }
    if (!wait) {
        ret = 0;
        goto Exit;
    }

    snprintf(path, sizeof(path), "/purge/%s", id);
    while ((done = check_done(p, id)) == 0) {
        uint64_t now = now_ms();
        if (now + POLL_INTERVAL_MS >= deadline) {
            snprintf(p->why, sizeof(p->why), "purge %s: not done after %" PRIu64 " s", id, timeout_ms / 1000);
            goto Exit;
        }
        sleep_ms(POLL_INTERVAL_MS);
        if (call(p, "GET", path, NULL, deadline) != 0)
            goto Exit;
        if (p->res.status != 200) {
            http_error(p, "GET", path);
            goto Exit;
        }
    }
    ret = done == 1 ? 0 : 1;

Exit:
    if (ret != 0 && !p->quiet && p->why[0] != '\0')
        fprintf(stderr, "%s\n", p->why);
    free(form);
    edge_httpc_close(&p->conn);
    return ret;
}

/* --- options -------------------------------------------------------------------------------------- */

/* --prefix P and --tag T: a target, like the URL argument; edge_purge_cli_main checks there is one. */
static const char *parse_prefix(void *dest, const char *value)
{
    edge_purge_t *p = dest;
    p->kind = "prefix";
    p->target = value;
    ++p->targets;
    return NULL;
}

static const char *parse_tag(void *dest, const char *value)
{
    edge_purge_t *p = dest;
    p->kind = "tag";
    p->target = value;
    ++p->targets;
    return NULL;
}

int edge_purge_cli_main(int argc, char **argv)
{
    const char *file = NULL, *admin = NULL, *token_file = NULL, *fleet = NULL, *edges = NULL;
    unsigned long timeout_s = DEFAULT_TIMEOUT_MS / 1000;
    bool no_wait = false;
    int nargs, ret;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char err[256];
    edge_purge_t *p = calloc(1, sizeof(*p)); /* 30 KiB of buffers: not on the stack */

    if (p == NULL) {
        fprintf(stderr, "purge: out of memory\n");
        return 1;
    }
    const edge_cli_opt_t opts[] = {
        {.name = "config", .letter = 'c', .kind = EDGE_CLI_STRING, .dest = &file},
        {.name = "admin", .kind = EDGE_CLI_STRING, .dest = &admin},
        {.name = "token-file", .kind = EDGE_CLI_STRING, .dest = &token_file},
        {.name = "prefix", .kind = EDGE_CLI_CALL, .dest = p, .parse = parse_prefix},
        {.name = "tag", .kind = EDGE_CLI_CALL, .dest = p, .parse = parse_tag},
        {.name = "site", .kind = EDGE_CLI_STRING, .dest = &p->site},
        {.name = "soft", .kind = EDGE_CLI_FLAG, .dest = &p->soft},
        {.name = "no-wait", .kind = EDGE_CLI_FLAG, .dest = &no_wait},
        {.name = "timeout", .kind = EDGE_CLI_UINT, .dest = &timeout_s, .min = 1, .max = 3600, .unit = "seconds"},
        {.name = "fleet", .kind = EDGE_CLI_STRING, .dest = &fleet},
        {.name = "edges", .kind = EDGE_CLI_STRING, .dest = &edges},
        {0}};
    const edge_cli_t cli = {.prog = "purge", .usage = usage, .opts = opts, .args_name = "URL", .min_args = 0, .max_args = -1};

    if ((ret = edge_cli_parse(&cli, argc, argv, &nargs)) != EDGE_CLI_CONTINUE)
        goto Exit;
    ret = 2;
    for (int i = 1; i <= nargs; ++i) {
        p->kind = "url";
        p->target = argv[i];
        ++p->targets;
    }
    if (p->targets != 1) {
        ret = edge_cli_usage_error(&cli, "give exactly one of URL, --prefix P, --tag T");
        goto Exit;
    }
    if (p->site != NULL && (p->site[0] == '\0' || strlen(p->site) > MAX_TARGET_LEN)) {
        fprintf(stderr, "purge: the site must be 1..%d bytes\n", MAX_TARGET_LEN);
        goto Exit;
    }
    if (p->target[0] == '\0' || strlen(p->target) > MAX_TARGET_LEN || strpbrk(p->target, "\r\n") != NULL) {
        fprintf(stderr, "purge: the %s must be 1..%d bytes on one line\n", p->kind, MAX_TARGET_LEN);
        goto Exit;
    }
    if (fleet != NULL && (file != NULL || admin != NULL || token_file != NULL || no_wait)) {
        ret = edge_cli_usage_error(&cli, "--fleet takes each edge's admin address and token from the fleet file: no -c, "
                                         "--admin, --token-file or --no-wait");
        goto Exit;
    }
    if (edges != NULL && fleet == NULL) {
        ret = edge_cli_usage_error(&cli, "--edges applies to --fleet");
        goto Exit;
    }
    if (fleet != NULL) {
        edge_purge_fleet_t f = {.fleet_path = fleet,
                                .edges = edges,
                                .kind = p->kind,
                                .target = p->target,
                                .site = p->site,
                                .soft = p->soft,
                                .timeout_ms = (uint64_t)timeout_s * 1000,
                                .timeout_s = timeout_s};
        ret = edge_purge_fleet_run(&f);
        goto Exit;
    }

    edge_adminc_t a;
    if (edge_adminc_setup(&a, "purge", file, admin, token_file) != 0)
        goto Exit;
    snprintf(p->hostport, sizeof(p->hostport), "%s", a.hostport);
    p->token = a.token; /* (freed below) */
    if (edge_httpc_resolve(p->hostport, &addr, &addrlen, err, sizeof(err)) != 0) {
        fprintf(stderr, "purge: admin address %s\n", err);
        goto Exit;
    }
    edge_httpc_init(&p->conn, (const struct sockaddr *)&addr, addrlen);
    ret = edge_purge_run(p, !no_wait, (uint64_t)timeout_s * 1000);

Exit:
    free(p->token);
    free(p);
    return ret;
}
