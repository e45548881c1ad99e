/*
 * edge/config_tls.c: the TLS keys that are not one listener's: the top-level "tls" section (session tickets and
 * OCSP stapling, shared by every TLS listener of the process) and a site's "tls" (its certificates, chosen by
 * SNI).
 *
 * The invariant that is easy to break: what the files hold is checked here only as far as a reload must refuse
 * it with a line (a ticket key file of the wrong size, a certificate file that is not readable). Whether a
 * certificate matches its key and covers its site's hosts is `edgecache check`'s (edge/tls_cert.h), and the
 * server's when it builds the contexts, so that a parse stays free of OpenSSL and cheap to fuzz.
 */
#include <stdlib.h>
#include <string.h>
#include "edge/config_int.h"

#define TICKET_KEY_LEN 80 /* 16 name, 32 HMAC secret, 32 AES key: nginx's ssl_session_ticket_key format */
#define MAX_TICKET_KEYS 16
#define MAX_CERTS 8 /* per site: one per key type is what OpenSSL can choose between; a few more for a renewal */

enum { T_SESSION_TICKETS, T_OCSP };
static const char *const tls_keys[] = {[T_SESSION_TICKETS] = "session_tickets", [T_OCSP] = "ocsp"};
enum { ST_KEY_FILE, ST_ROTATE };
static const char *const ticket_keys[] = {[ST_KEY_FILE] = "key_file", [ST_ROTATE] = "rotate"};
enum { O_STAPLING, O_RESPONDER, O_CACHE_DIR };
static const char *const ocsp_keys[] = {[O_STAPLING] = "stapling", [O_RESPONDER] = "responder", [O_CACHE_DIR] = "cache_dir"};
enum { SC_CERTIFICATES };
static const char *const site_tls_keys[] = {[SC_CERTIFICATES] = "certificates"};
enum { C_CERTIFICATE, C_KEY };
static const char *const cert_keys[] = {[C_CERTIFICATE] = "certificate", [C_KEY] = "key"};

static int session_tickets(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n)
{
    yaml_node_t *v[NKEYS(ticket_keys)];

    if (edge_config_collect(c, n, "session_tickets", ticket_keys, NKEYS(ticket_keys), v) != 0)
        return -1;
    if (v[ST_ROTATE] != NULL) {
        if (edge_config_timeout_ms(c, v[ST_ROTATE], "rotate", &conf->tls.ticket_rotate_ms) != 0)
            return -1;
        /* a ticket lives as long as two periods: under a minute, a client's ticket would rarely be usable */
        if (conf->tls.ticket_rotate_ms < 60000)
            return edge_config_fail(c, v[ST_ROTATE], "rotate: at least 1m");
    }
    if (v[ST_KEY_FILE] != NULL) {
        char *data, msg[MSGLEN];
        size_t len;
        if (v[ST_ROTATE] != NULL)
            return edge_config_fail(c, v[ST_ROTATE], "rotate: not with key_file (the keys are rotated by replacing the file)");
        /* (the key file is a secret: it is read again when the server starts or reloads, not kept here) */
        if (edge_config_tls_file(c, v[ST_KEY_FILE], "key_file", &conf->tls.ticket_key_file) != 0)
            return -1;
        if (edge_config_slurp(conf->tls.ticket_key_file, TICKET_KEY_LEN * MAX_TICKET_KEYS, &data, &len, msg, sizeof(msg)) != 0)
            return edge_config_fail(c, v[ST_KEY_FILE], "key_file: %s", msg);
        free(data);
        if (len == 0 || len % TICKET_KEY_LEN != 0)
            return edge_config_fail(
                c, v[ST_KEY_FILE], "key_file: %zu bytes: expected one or more keys of 80 bytes each (e.g. `openssl rand 80`)", len);
    }
    return 0;
}

static int ocsp(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n)
{
    yaml_node_t *v[NKEYS(ocsp_keys)];

    if (edge_config_collect(c, n, "ocsp", ocsp_keys, NKEYS(ocsp_keys), v) != 0)
        return -1;
    if (v[O_STAPLING] != NULL && edge_config_boolean(c, v[O_STAPLING], "stapling", &conf->tls.ocsp_stapling) != 0)
        return -1;
    if (v[O_RESPONDER] != NULL) {
        if (edge_config_dupstr(c, v[O_RESPONDER], "responder", &conf->tls.ocsp_responder) != 0)
            return -1;
        /* (OCSP responses are signed: a responder is asked in the clear, as browsers ask it) */
        if (strncmp(conf->tls.ocsp_responder, "http://", 7) != 0)
            return edge_config_fail(c, v[O_RESPONDER], "responder: expected an http:// URL, found \"%s\"",
                                    conf->tls.ocsp_responder);
    }
    if (v[O_CACHE_DIR] != NULL) {
        char *written;
        if (edge_config_dupstr(c, v[O_CACHE_DIR], "cache_dir", &written) != 0)
            return -1;
        conf->tls.ocsp_cache_dir = edge_config_resolve(c->basedir, written);
        free(written);
        if (conf->tls.ocsp_cache_dir == NULL)
            return edge_config_nomem(c, v[O_CACHE_DIR]);
    }
    return 0;
}

int edge_config_parse_tls(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n)
{
    yaml_node_t *v[NKEYS(tls_keys)];

    conf->tls.ticket_rotate_ms = EDGE_CONF_DEFAULT_TICKET_ROTATE_MS;
    conf->tls.ocsp_stapling = true;
    if (n == NULL)
        return 0;
    if (edge_config_collect(c, n, "tls", tls_keys, NKEYS(tls_keys), v) != 0)
        return -1;
    if (v[T_SESSION_TICKETS] != NULL && session_tickets(c, conf, v[T_SESSION_TICKETS]) != 0)
        return -1;
    if (v[T_OCSP] != NULL && ocsp(c, conf, v[T_OCSP]) != 0)
        return -1;
    return 0;
}

int edge_config_parse_site_tls(ctx_t *c, edge_conf_site_t *site, const yaml_node_t *n)
{
    yaml_node_t *v[NKEYS(site_tls_keys)];
    const yaml_node_t *list;
    size_t count;

    if (edge_config_collect(c, n, "tls", site_tls_keys, NKEYS(site_tls_keys), v) != 0)
        return -1;
    if ((list = v[SC_CERTIFICATES]) == NULL)
        return edge_config_missing(c, n, "tls", "certificates");
    if (list->type != YAML_SEQUENCE_NODE)
        return edge_config_fail(c, list, "certificates: expected a list of {certificate, key}, found %s", edge_config_kind(list));
    if ((count = edge_config_num_items(list)) == 0 || count > MAX_CERTS)
        return edge_config_fail(c, list, "certificates: expected 1 to %d certificate/key pairs, found %zu", MAX_CERTS, count);
    if ((site->certs = calloc(count, sizeof(*site->certs))) == NULL)
        return edge_config_nomem(c, list);
    for (size_t i = 0; i != count; ++i) {
        const yaml_node_t *e = edge_config_item(c, list, i);
        yaml_node_t *f[NKEYS(cert_keys)];
        edge_conf_cert_t *cert = &site->certs[site->num_certs++];
        if (edge_config_collect(c, e, "certificates", cert_keys, NKEYS(cert_keys), f) != 0)
            return -1;
        if (f[C_CERTIFICATE] == NULL || f[C_KEY] == NULL)
            return edge_config_missing(c, e, "certificates", f[C_KEY] == NULL ? "key" : "certificate");
        if (edge_config_tls_file(c, f[C_CERTIFICATE], "certificate", &cert->certificate) != 0 ||
            edge_config_tls_file(c, f[C_KEY], "key", &cert->key) != 0)
            return -1;
    }
    return 0;
}
