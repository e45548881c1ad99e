/*
 * edge/tls_cert.c: `edgecache check`'s look at the certificates (edge/tls_cert.h).
 *
 * The invariant that is easy to break: a host is covered by the rule a browser follows, not by a looser one — a
 * wildcard SAN covers one label only (OpenSSL's X509_check_host with partial wildcards off), the subject's CN is
 * never read, and a site's wildcard host needs the very same wildcard in the certificate, since the site answers
 * names a narrower certificate would not cover.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include "edge/tls_cert.h"

/* A site host ("*.example.com", "shop.example.com", "192.0.2.1", "[2001:db8::1]") that `cert` names. */
static bool covers(X509 *cert, const char *host)
{
    const unsigned int flags = X509_CHECK_FLAG_NEVER_CHECK_SUBJECT | X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS;

    if (host[0] == '[') {
        char ip[64];
        snprintf(ip, sizeof(ip), "%.*s", (int)strlen(host) - 2, host + 1);
        return X509_check_ip_asc(cert, ip, 0) == 1;
    }
    if (host[0] != '*')
        return X509_check_ip_asc(cert, host, 0) == 1 || X509_check_host(cert, host, 0, flags, NULL) == 1;
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    bool found = false;
    for (int i = 0; names != NULL && i != sk_GENERAL_NAME_num(names) && !found; ++i) {
        const GENERAL_NAME *n = sk_GENERAL_NAME_value(names, i);
        if (n->type == GEN_DNS) {
            const unsigned char *s = ASN1_STRING_get0_data(n->d.dNSName);
            int len = ASN1_STRING_length(n->d.dNSName);
            found = (size_t)len == strlen(host) && strncasecmp((const char *)s, host, (size_t)len) == 0;
        }
    }
    GENERAL_NAMES_free(names);
    return found;
}

int edge_tls_cert_check(const char *cert_file, const char *key_file, char *const *hosts, size_t num_hosts, time_t *not_after,
                        char *msg, size_t msglen)
{
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    FILE *fp;
    int ret = -1;

    if ((fp = fopen(cert_file, "r")) == NULL || (cert = PEM_read_X509(fp, NULL, NULL, NULL)) == NULL) {
        snprintf(msg, msglen, "certificate %s: not a PEM certificate", cert_file);
        goto Exit;
    }
    fclose(fp);
    if ((fp = fopen(key_file, "r")) == NULL || (key = PEM_read_PrivateKey(fp, NULL, NULL, NULL)) == NULL) {
        snprintf(msg, msglen, "key %s: not a PEM private key (or one with a passphrase)", key_file);
        goto Exit;
    }
    fclose(fp);
    fp = NULL;
    if (X509_check_private_key(cert, key) != 1) {
        snprintf(msg, msglen, "certificate %s does not match key %s", cert_file, key_file);
        goto Exit;
    }
    for (size_t i = 0; i != num_hosts; ++i) {
        if (!covers(cert, hosts[i])) {
            snprintf(msg, msglen, "certificate %s does not cover host %s (its subjectAltName does not name it)", cert_file,
                     hosts[i]);
            goto Exit;
        }
    }
    struct tm tm;
    *not_after = ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1 ? timegm(&tm) : 0;
    ret = 0;
Exit:
    if (fp != NULL)
        fclose(fp);
    ERR_clear_error();
    X509_free(cert);
    EVP_PKEY_free(key);
    return ret;
}

/* Appends one finding. */
static void add(char *buf, size_t len, size_t *used, const char *source, const char *kind, const char *where, const char *msg)
{
    if (*used >= len)
        return;
    int w = snprintf(buf + *used, len - *used, "%s: %s: %s: %s\n", source, kind, where, msg);
    *used += w > 0 ? (size_t)w : 0;
}

static void check_one(const edge_conf_t *conf, const char *where, const char *cert, const char *key, char *const *hosts,
                      size_t num_hosts, time_t now, char *buf, size_t len, size_t *used, size_t *errors, size_t *warnings)
{
    char msg[512];
    time_t not_after;

    if (edge_tls_cert_check(cert, key, hosts, num_hosts, &not_after, msg, sizeof(msg)) != 0) {
        add(buf, len, used, conf->source, "error", where, msg);
        ++*errors;
    } else if (not_after <= now) {
        snprintf(msg, sizeof(msg), "certificate %s has expired", cert);
        add(buf, len, used, conf->source, "error", where, msg);
        ++*errors;
    } else if (not_after - now < (time_t)EDGE_TLS_CERT_WARN_DAYS * 86400) {
        snprintf(msg, sizeof(msg), "certificate %s expires in %lld hours", cert, (long long)(not_after - now) / 3600);
        add(buf, len, used, conf->source, "warning", where, msg);
        ++*warnings;
    }
}

size_t edge_tls_cert_check_all(const edge_conf_t *conf, time_t now, char *buf, size_t len, size_t *warnings)
{
    size_t errors = 0, used = 0;
    char where[300];

    buf[0] = '\0';
    *warnings = 0;
    for (size_t i = 0; i != conf->num_listens; ++i) {
        const edge_conf_listen_t *l = &conf->listens[i];
        if (l->tls_certificate == NULL)
            continue;
        snprintf(where, sizeof(where), "listen %s port %u: tls", l->address, l->port);
        check_one(conf, where, l->tls_certificate, l->tls_key, NULL, 0, now, buf, len, &used, &errors, warnings);
    }
    for (size_t i = 0; i != conf->num_sites; ++i) {
        const edge_conf_site_t *s = &conf->sites[i];
        snprintf(where, sizeof(where), "site \"%s\": tls", s->name);
        for (size_t j = 0; j != s->num_certs; ++j)
            check_one(conf, where, s->certs[j].certificate, s->certs[j].key, s->hosts, s->num_hosts, now, buf, len, &used, &errors,
                      warnings);
    }
    return errors;
}
