/*
 * edge/tls_tickets.c: the session ticket keys of the process (edge/tls_tickets.h) and OpenSSL's ticket key
 * callback over them: AES-256-CBC with HMAC-SHA256, as OpenSSL's own tickets and nginx's 80-byte keys.
 *
 * The invariant that is easy to break: the keys are read under `lock` by every loop's handshakes and replaced
 * by a rotation (in a handshake, whichever loop sees the key expire first), a reload or a handover; the callback
 * copies the key it uses out under the lock and never keeps a pointer into the set. A key must not be reused
 * after its name was retired, so a rotation makes a fresh name with the fresh secrets.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include "common/log.h"
#include "edge/tls_tickets.h"

typedef struct st_ticket_key_t {
    unsigned char name[16];
    unsigned char hmac[32];
    unsigned char aes[32];
} ticket_key_t;
_Static_assert(sizeof(ticket_key_t) == EDGE_TLS_TICKET_KEY_LEN, "a key is the file's 80 bytes");

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static ticket_key_t keys[EDGE_TLS_TICKETS_MAX]; /* keys[0] encrypts */
static size_t num_keys;
static bool from_file;
static uint64_t rotate_ms, rotated_at_ms; /* (own keys only) */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int make_key(ticket_key_t *k)
{
    return RAND_bytes((unsigned char *)k, sizeof(*k)) == 1 ? 0 : -1;
}

/* A new encrypting key; the one before it stays to decrypt what it encrypted. Under `lock`. */
static void rotate(uint64_t now)
{
    ticket_key_t k;
    if (make_key(&k) != 0)
        return; /* (the old key serves on; the next handshake tries again) */
    keys[1] = keys[0];
    keys[0] = k;
    num_keys = num_keys == 0 ? 1 : 2;
    rotated_at_ms = now;
}

static int read_file(const char *path, ticket_key_t *out, size_t *num, char *err, size_t errlen)
{
    unsigned char buf[EDGE_TLS_TICKET_KEY_LEN * EDGE_TLS_TICKETS_MAX + 1];
    size_t len = 0;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        snprintf(err, errlen, "session ticket key file %s: %s", path, strerror(errno));
        return -1;
    }
    while (len < sizeof(buf) && ((n = read(fd, buf + len, sizeof(buf) - len)) > 0 || (n < 0 && errno == EINTR)))
        len += n > 0 ? (size_t)n : 0;
    close(fd);
    if (len == 0 || len % EDGE_TLS_TICKET_KEY_LEN != 0 || len > EDGE_TLS_TICKET_KEY_LEN * EDGE_TLS_TICKETS_MAX) {
        snprintf(err, errlen, "session ticket key file %s: expected 1 to %d keys of 80 bytes, found %zu bytes", path,
                 EDGE_TLS_TICKETS_MAX, len);
        return -1;
    }
    *num = len / EDGE_TLS_TICKET_KEY_LEN;
    memcpy(out, buf, len); /* (ticket_key_t is the file's layout: 16 + 32 + 32 bytes, no padding) */
    OPENSSL_cleanse(buf, sizeof(buf));
    return 0;
}

int edge_tls_tickets_configure(const char *key_file, uint64_t rotate_every_ms, char *err, size_t errlen)
{
    ticket_key_t read[EDGE_TLS_TICKETS_MAX];
    size_t num = 0;

    if (key_file != NULL && read_file(key_file, read, &num, err, errlen) != 0)
        return -1;
    pthread_mutex_lock(&lock);
    rotate_ms = rotate_every_ms;
    if (key_file != NULL) {
        memcpy(keys, read, num * sizeof(read[0]));
        num_keys = num;
        from_file = true;
    } else if (num_keys == 0 || from_file) {
        /* own keys: made once, then kept across reloads */
        from_file = false;
        num_keys = 0;
        if (make_key(&keys[0]) == 0) {
            num_keys = 1;
            rotated_at_ms = now_ms();
        }
    }
    pthread_mutex_unlock(&lock);
    OPENSSL_cleanse(read, sizeof(read));
    if (num_keys == 0) {
        snprintf(err, errlen, "session tickets: no random bytes for a key");
        return -1;
    }
    return 0;
}

/* OpenSSL's ticket callback: `enc` 1 to issue a ticket (name and IV out), 0 to open one (name and IV in).
 * Returns 1 (use the ticket), 2 (use it, and issue a fresh one: it was made with an older key), 0 (unknown key:
 * a full handshake), -1 (failure). */
static int on_ticket(SSL *ssl, unsigned char *name, unsigned char *iv, EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    ticket_key_t k;
    size_t which = 0;
    (void)ssl;

    pthread_mutex_lock(&lock);
    if (enc) {
        uint64_t now = now_ms();
        /* (no keys yet: a context used before edge_tls_tickets_configure, as in a unit test, makes its own) */
        if (num_keys == 0 || (!from_file && rotate_ms != 0 && now - rotated_at_ms >= rotate_ms))
            rotate(now);
        if (num_keys == 0) {
            pthread_mutex_unlock(&lock);
            return -1;
        }
    } else {
        for (which = 0; which != num_keys && memcmp(keys[which].name, name, sizeof(k.name)) != 0; ++which)
            ;
        if (which == num_keys) {
            pthread_mutex_unlock(&lock);
            return 0;
        }
    }
    k = keys[which];
    pthread_mutex_unlock(&lock);

    OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k.hmac, sizeof(k.hmac)),
                           OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
                           OSSL_PARAM_construct_end()};
    int ret = -1;
    if (enc) {
        memcpy(name, k.name, sizeof(k.name));
        if (RAND_bytes(iv, 16) == 1 && EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) == 1 &&
            EVP_MAC_CTX_set_params(hctx, params) == 1)
            ret = 1;
    } else if (EVP_MAC_CTX_set_params(hctx, params) == 1 && EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv) == 1) {
        ret = which == 0 ? 1 : 2;
    }
    OPENSSL_cleanse(&k, sizeof(k));
    return ret;
}

void edge_tls_tickets_attach(SSL_CTX *ctx)
{
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket);
}

size_t edge_tls_tickets_export(unsigned char *buf, size_t len)
{
    pthread_mutex_lock(&lock);
    size_t n = num_keys < len / EDGE_TLS_TICKET_KEY_LEN ? num_keys : len / EDGE_TLS_TICKET_KEY_LEN;
    memcpy(buf, keys, n * sizeof(keys[0]));
    pthread_mutex_unlock(&lock);
    return n;
}

void edge_tls_tickets_import(const unsigned char *buf, size_t num)
{
    if (num == 0)
        return;
    if (num > EDGE_TLS_TICKETS_MAX)
        num = EDGE_TLS_TICKETS_MAX;
    pthread_mutex_lock(&lock);
    if (!from_file) {
        memcpy(keys, buf, num * sizeof(keys[0]));
        num_keys = num;
        /* (the previous process's age of the key is not known: a full period from now) */
        rotated_at_ms = now_ms();
        common_log_info("tls: %zu session ticket key%s taken over from the previous process", num, num == 1 ? "" : "s");
    }
    pthread_mutex_unlock(&lock);
}
