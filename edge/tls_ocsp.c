/*
 * edge/tls_ocsp.c: OCSP stapling (edge/tls_ocsp.h). One thread fetches (OpenSSL's blocking HTTP client, with a
 * timeout), the loops only copy a response out under a lock in the status callback of a handshake.
 *
 * Each certificate has an entry, found from the X509 through its ex_data, which holds a reference on the entry;
 * the registry holds one more. The invariants that are easy to break: the entry outlives every certificate that
 * points at it (OpenSSL frees a certificate with its context, which a connection may keep long after a reload,
 * and the ex_data free callback gives the reference back); the thread drops an entry only once no certificate
 * holds it; and nothing is stapled past its nextUpdate, whatever the thread managed to fetch.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/http.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>
#include "common/log.h"
#include "edge/tls_ocsp.h"

#define FETCH_TIMEOUT_S 10
#define MAX_RESPONSE (64 * 1024)
#define CLOCK_SKEW_S 300      /* a response from a responder whose clock is a little ahead is still good */
#define NO_NEXT_UPDATE_S 3600 /* a response without nextUpdate (any time is current) is used this long */
#define REFRESH_MIN_S 5       /* refresh after half the time left, but not more often than this ... */
#define REFRESH_MAX_S 3600    /* ... nor less often than this */
#define RETRY_MIN_S 5         /* after a failure, then doubling up to */
#define RETRY_MAX_S 300

typedef struct st_entry_t {
    struct st_entry_t *next;
    unsigned refs;          /* the registry's, each certificate's, and the thread's while it fetches */
    unsigned char hash[32]; /* SHA-256 of the certificate: its identity, and its file name on disk */
    OCSP_CERTID *id;
    X509 *issuer;
    char *url;          /* the certificate's own responder; NULL: none (only tls.ocsp.responder can serve it) */
    unsigned char *der; /* the response to staple, or NULL */
    long der_len;
    time_t next_update; /* stapled while now < next_update */
    time_t due;         /* when the thread asks again */
    time_t retry_s;     /* the wait after the next failure */
} entry_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static entry_t *entries;
static bool started, enabled = true;
static char *responder, *cache_dir;
static int ex_index = -1;
static pthread_once_t once = PTHREAD_ONCE_INIT;

void edge_tls_ocsp_configure(bool on, const char *url, const char *dir)
{
    pthread_mutex_lock(&lock);
    enabled = on;
    free(responder);
    responder = url != NULL ? strdup(url) : NULL;
    free(cache_dir);
    cache_dir = dir != NULL ? strdup(dir) : NULL;
    for (entry_t *e = entries; e != NULL; e = e->next)
        e->due = 0; /* (another responder: ask it now) */
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
}

/* --- checking a response ----------------------------------------------------------------------------------- */

static time_t to_time(const ASN1_GENERALIZEDTIME *t)
{
    struct tm tm;
    return ASN1_TIME_to_tm(t, &tm) == 1 ? timegm(&tm) : 0;
}

/* 0 when `der` is a successful response about `id`, signed by `issuer` or its delegate, current now, and not
 * "unknown"; its nextUpdate in *next_update. -1 with the reason in `why`. Any thread. */
static int check_response(const unsigned char *der, long len, OCSP_CERTID *id, X509 *issuer, time_t *next_update, char *why,
                          size_t whylen)
{
    OCSP_RESPONSE *rsp = d2i_OCSP_RESPONSE(NULL, &der, len);
    OCSP_BASICRESP *basic = NULL;
    X509_STORE *store = NULL;
    STACK_OF(X509) *certs = NULL;
    ASN1_GENERALIZEDTIME *this_upd = NULL, *next_upd = NULL;
    int status = -1, reason, ret = -1;

    if (rsp == NULL) {
        snprintf(why, whylen, "not an OCSP response");
        goto Exit;
    }
    if (OCSP_response_status(rsp) != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        snprintf(why, whylen, "responder status %s", OCSP_response_status_str(OCSP_response_status(rsp)));
        goto Exit;
    }
    if ((basic = OCSP_response_get1_basic(rsp)) == NULL) {
        snprintf(why, whylen, "no basic response");
        goto Exit;
    }
    /* the issuer is the trust anchor: a chain that ends in an intermediate is complete enough */
    if ((store = X509_STORE_new()) == NULL || (certs = sk_X509_new_null()) == NULL || X509_STORE_add_cert(store, issuer) != 1 ||
        sk_X509_push(certs, issuer) == 0) {
        snprintf(why, whylen, "out of memory");
        goto Exit;
    }
    X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
    if (OCSP_basic_verify(basic, certs, store, 0) != 1) {
        snprintf(why, whylen, "signature not verified: %s", ERR_reason_error_string(ERR_peek_last_error()));
        goto Exit;
    }
    if (OCSP_resp_find_status(basic, id, &status, &reason, NULL, &this_upd, &next_upd) != 1) {
        snprintf(why, whylen, "not about this certificate");
        goto Exit;
    }
    if (status == V_OCSP_CERTSTATUS_UNKNOWN) {
        snprintf(why, whylen, "the responder does not know this certificate");
        goto Exit;
    }
    if (OCSP_check_validity(this_upd, next_upd, CLOCK_SKEW_S, -1) != 1) {
        snprintf(why, whylen, "not current (thisUpdate/nextUpdate)");
        goto Exit;
    }
    *next_update = next_upd != NULL ? to_time(next_upd) : time(NULL) + NO_NEXT_UPDATE_S;
    if (status == V_OCSP_CERTSTATUS_REVOKED)
        common_log_warn("tls: OCSP: the responder says a listener's certificate is REVOKED (stapled as it says)");
    ret = 0;
Exit:
    ERR_clear_error();
    sk_X509_free(certs);
    X509_STORE_free(store);
    OCSP_BASICRESP_free(basic);
    OCSP_RESPONSE_free(rsp);
    return ret;
}

/* --- the disk ---------------------------------------------------------------------------------------------- */

static void file_name(char *out, size_t outlen, const char *dir, const unsigned char *hash, const char *suffix)
{
    size_t n = (size_t)snprintf(out, outlen, "%s/", dir);
    for (size_t i = 0; i != 32 && n + 2 < outlen; ++i, n += 2)
        snprintf(out + n, outlen - n, "%02x", hash[i]);
    snprintf(out + n, outlen > n ? outlen - n : 0, "%s", suffix);
}

static unsigned char *load_file(const char *dir, const unsigned char *hash, long *len)
{
    char path[4096];
    unsigned char *buf = malloc(MAX_RESPONSE);
    ssize_t n;
    int fd;

    file_name(path, sizeof(path), dir, hash, ".der");
    if (buf == NULL || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        free(buf);
        return NULL;
    }
    n = read(fd, buf, MAX_RESPONSE);
    close(fd);
    if (n <= 0) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Writes the response beside the others, whole or not at all (a new name, then a rename). */
static void save_file(const char *dir, const unsigned char *hash, const unsigned char *der, long len)
{
    char path[4096], tmp[4096];
    int fd;

    /* the directory, and the cache directory it is in by default, may not exist yet at start */
    snprintf(path, sizeof(path), "%s", dir);
    char *slash = strrchr(path, '/');
    if (slash != NULL && slash != path) {
        *slash = '\0';
        mkdir(path, 0755);
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        common_log_warn("tls: OCSP: cannot make %s: %s", dir, strerror(errno));
        return;
    }
    file_name(path, sizeof(path), dir, hash, ".der");
    file_name(tmp, sizeof(tmp), dir, hash, ".tmp");
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
        common_log_warn("tls: OCSP: cannot write %s: %s", tmp, strerror(errno));
        return;
    }
    bool ok = write(fd, der, (size_t)len) == len;
    if (close(fd) != 0 || !ok || rename(tmp, path) != 0) {
        common_log_warn("tls: OCSP: cannot write %s", path);
        unlink(tmp);
    }
}

/* --- the thread -------------------------------------------------------------------------------------------- */

/* Asks `url` about `id`: the DER response, or NULL with the reason in `why`. Blocks (FETCH_TIMEOUT_S at most). */
static unsigned char *fetch(const char *url, OCSP_CERTID *id, long *len, char *why, size_t whylen)
{
    char *host = NULL, *port = NULL, *path = NULL;
    int use_tls = 0;
    OCSP_REQUEST *req = NULL;
    BIO *body = NULL, *rsp = NULL;
    unsigned char *der = NULL;

    if (OSSL_HTTP_parse_url(url, &use_tls, NULL, &host, &port, NULL, &path, NULL, NULL) != 1) {
        snprintf(why, whylen, "%s: not a URL", url);
        goto Exit;
    }
    if (use_tls) {
        snprintf(why, whylen, "%s: only http:// responders are asked (OCSP responses are signed, not secret)", url);
        goto Exit;
    }
    OCSP_CERTID *dup = OCSP_CERTID_dup(id);
    if ((req = OCSP_REQUEST_new()) == NULL || dup == NULL || OCSP_request_add0_id(req, dup) == NULL) {
        OCSP_CERTID_free(dup);
        snprintf(why, whylen, "out of memory");
        goto Exit;
    }
    body = ASN1_item_i2d_mem_bio(ASN1_ITEM_rptr(OCSP_REQUEST), (const ASN1_VALUE *)req);
    /* (proxy "": a responder is asked directly, whatever http_proxy says) */
    if (body == NULL ||
        (rsp = OSSL_HTTP_transfer(NULL, host, port, path, 0, "", NULL, NULL, NULL, NULL, NULL, 0, NULL, "application/ocsp-request",
                                  body, "application/ocsp-response", 1, MAX_RESPONSE, FETCH_TIMEOUT_S, 0)) == NULL) {
        snprintf(why, whylen, "%s: %s", url, ERR_reason_error_string(ERR_peek_last_error()));
        goto Exit;
    }
    der = malloc(MAX_RESPONSE);
    int n = der != NULL ? BIO_read(rsp, der, MAX_RESPONSE) : -1;
    if (n <= 0) {
        free(der);
        der = NULL;
        snprintf(why, whylen, "%s: empty answer", url);
        goto Exit;
    }
    *len = n;
Exit:
    ERR_clear_error();
    BIO_free(rsp);
    BIO_free(body);
    OCSP_REQUEST_free(req);
    OPENSSL_free(host);
    OPENSSL_free(port);
    OPENSSL_free(path);
    return der;
}

static time_t clamp(time_t v, time_t lo, time_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Under `lock`: takes `der` as the entry's response (it was checked), and plans the next fetch. */
static void set_response(entry_t *e, unsigned char *der, long len, time_t next_update, time_t now)
{
    free(e->der);
    e->der = der;
    e->der_len = len;
    e->next_update = next_update;
    e->due = now + clamp((next_update - now) / 2, REFRESH_MIN_S, REFRESH_MAX_S);
    e->retry_s = RETRY_MIN_S;
}

static void entry_free(entry_t *e)
{
    OCSP_CERTID_free(e->id);
    X509_free(e->issuer);
    free(e->url);
    free(e->der);
    free(e);
}

/* One fetch of entry `e`, which the caller holds; called and returns with `lock` held. */
static void refresh(entry_t *e)
{
    char why[256], *url = strdup(responder != NULL ? responder : e->url), *dir = cache_dir != NULL ? strdup(cache_dir) : NULL;
    unsigned char *der = NULL;
    long len = 0;
    time_t next_update = 0;

    pthread_mutex_unlock(&lock);
    if (url != NULL && (der = fetch(url, e->id, &len, why, sizeof(why))) != NULL &&
        check_response(der, len, e->id, e->issuer, &next_update, why, sizeof(why)) != 0) {
        free(der);
        der = NULL;
    }
    if (der != NULL && dir != NULL)
        save_file(dir, e->hash, der, len);
    pthread_mutex_lock(&lock);
    time_t now = time(NULL);
    if (der != NULL) {
        set_response(e, der, len, next_update, now);
        common_log_debug("tls: OCSP: a response from %s, good for %lld s", url, (long long)(next_update - now));
    } else {
        common_log_warn("tls: OCSP: %s; asking again in %lld s%s", url != NULL ? why : "out of memory", (long long)e->retry_s,
                        e->der != NULL && now < e->next_update ? " (the response held is still stapled)" : "");
        e->due = now + e->retry_s;
        e->retry_s = clamp(e->retry_s * 2, RETRY_MIN_S, RETRY_MAX_S);
    }
    free(url);
    free(dir);
}

static void *run(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    for (;;) {
        time_t now = time(NULL), next = now + REFRESH_MAX_S;
        entry_t *due = NULL;
        /* entries no certificate holds any more go; the first one due is fetched */
        for (entry_t **p = &entries; *p != NULL;) {
            entry_t *e = *p;
            if (e->refs == 1) {
                *p = e->next;
                entry_free(e);
                continue;
            }
            if (enabled && (e->url != NULL || responder != NULL)) {
                if (e->due <= now && due == NULL)
                    due = e;
                else if (e->due < next)
                    next = e->due;
            }
            p = &e->next;
        }
        if (due != NULL) {
            ++due->refs;
            refresh(due);
            --due->refs;
            continue;
        }
        struct timespec until = {.tv_sec = next};
        pthread_cond_timedwait(&wake, &lock, &until);
    }
    return NULL;
}

/* --- the certificates -------------------------------------------------------------------------------------- */

static void on_cert_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    if (ptr == NULL)
        return;
    pthread_mutex_lock(&lock);
    --((entry_t *)ptr)->refs;
    pthread_mutex_unlock(&lock);
}

static void init_once(void)
{
    ex_index = X509_get_ex_new_index(0, NULL, NULL, NULL, on_cert_free);
}

/* The status callback of a handshake whose client asked for a staple: the response of the certificate chosen
 * (RSA or ECDSA), when it is current. */
static int on_status(SSL *ssl, void *arg)
{
    (void)arg;
    X509 *cert = SSL_get_certificate(ssl);
    entry_t *e = cert != NULL ? X509_get_ex_data(cert, ex_index) : NULL;
    unsigned char *copy = NULL;
    long len = 0;

    if (e == NULL)
        return SSL_TLSEXT_ERR_NOACK;
    pthread_mutex_lock(&lock);
    if (enabled && e->der != NULL && time(NULL) < e->next_update && (copy = OPENSSL_malloc((size_t)e->der_len)) != NULL) {
        memcpy(copy, e->der, (size_t)e->der_len);
        len = e->der_len;
    }
    pthread_mutex_unlock(&lock);
    if (copy == NULL)
        return SSL_TLSEXT_ERR_NOACK;
    SSL_set_tlsext_status_ocsp_resp(ssl, copy, len); /* (OpenSSL frees it) */
    return SSL_TLSEXT_ERR_OK;
}

/* The first certificate of `chain` that issued `cert`. */
static X509 *find_issuer(X509 *cert, STACK_OF(X509) * chain)
{
    for (int i = 0; chain != NULL && i != sk_X509_num(chain); ++i)
        if (X509_check_issued(sk_X509_value(chain, i), cert) == X509_V_OK)
            return sk_X509_value(chain, i);
    return NULL;
}

/* The entry of `cert`, found or made (with its response from disk when that is still good); under `lock`. */
static entry_t *entry_for(X509 *cert, X509 *issuer, const unsigned char *hash)
{
    entry_t *e;
    for (e = entries; e != NULL; e = e->next)
        if (memcmp(e->hash, hash, sizeof(e->hash)) == 0)
            return e;
    if ((e = calloc(1, sizeof(*e))) == NULL || (e->id = OCSP_cert_to_id(NULL, cert, issuer)) == NULL) {
        free(e);
        return NULL;
    }
    memcpy(e->hash, hash, sizeof(e->hash));
    X509_up_ref(issuer);
    e->issuer = issuer;
    STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(cert);
    if (urls != NULL && sk_OPENSSL_STRING_num(urls) > 0)
        e->url = strdup(sk_OPENSSL_STRING_value(urls, 0));
    X509_email_free(urls);
    e->refs = 1;
    e->retry_s = RETRY_MIN_S;
    if (cache_dir != NULL) {
        long len;
        unsigned char *der = load_file(cache_dir, hash, &len);
        time_t next_update;
        char why[256];
        if (der != NULL && check_response(der, len, e->id, issuer, &next_update, why, sizeof(why)) == 0)
            set_response(e, der, len, next_update, time(NULL));
        else
            free(der);
    }
    e->next = entries;
    entries = e;
    return e;
}

static void start_thread(void)
{
    pthread_t tid;
    sigset_t all, old;
    /* the thread takes no signal: the main thread waits for them (sigwait) */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    if (pthread_create(&tid, NULL, run, NULL) == 0) {
        pthread_detach(tid);
        started = true;
    } else {
        common_log_error("tls: OCSP: cannot start the stapler's thread: nothing is stapled");
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void edge_tls_ocsp_staple(SSL_CTX *ctx)
{
    pthread_once(&once, init_once);
    SSL_CTX_set_tlsext_status_cb(ctx, on_status);
    pthread_mutex_lock(&lock);
    for (int r = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_FIRST); r == 1; r = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_NEXT)) {
        X509 *cert = SSL_CTX_get0_certificate(ctx), *issuer;
        STACK_OF(X509) *chain = NULL;
        unsigned char hash[32];
        unsigned hlen = sizeof(hash);
        entry_t *e;
        if (cert == NULL || X509_get_ex_data(cert, ex_index) != NULL)
            continue;
        SSL_CTX_get0_chain_certs(ctx, &chain);
        if ((issuer = find_issuer(cert, chain)) == NULL) {
            common_log_debug("tls: OCSP: a certificate without its issuer in the chain file is not stapled");
            continue;
        }
        if (X509_digest(cert, EVP_sha256(), hash, &hlen) != 1 || (e = entry_for(cert, issuer, hash)) == NULL)
            continue;
        if (e->url == NULL && responder == NULL)
            common_log_debug("tls: OCSP: a certificate without an OCSP URL (and no tls.ocsp.responder) is not stapled");
        if (X509_set_ex_data(cert, ex_index, e) == 1)
            ++e->refs;
    }
    SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_FIRST);
    if (!started)
        start_thread();
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
}
