/*
 * tests/unit/check_edge_config_tls.c: the TLS keys of the configuration. The profile of a listener
 * (edge/config_listen.c with edge/tls_profile.c's edge_tls_profile_check): the default, each profile's keys, what
 * OpenSSL or the loader refuses with the line of the key, and the warnings `edgecache check` prints
 * (edge_config_warnings). A behavior's viewer_protocol_policy and https_port (edge/config_behavior.c), and
 * the hsts of a site or of the top level (edge/config_sites.c). The fixture is config_fixture.h.
 */
#include "tests/unit/config_fixture.h"

#define TLS_FILES "certificate: cert.pem, key: key.pem"

START_TEST(test_profile_default_and_named)
{
    static const char yaml[] = "listen:\n"
                               "  - {address: 127.0.0.1, port: 80}\n"
                               "  - {address: 127.0.0.1, port: 443, tls: {" TLS_FILES "}}\n"
                               "  - {address: 127.0.0.1, port: 444, tls: {" TLS_FILES ", profile: modern}}\n"
                               "  - {address: 127.0.0.1, port: 445, tls: {" TLS_FILES ", profile: intermediate}}\n"
                               "origin: http://o\n";
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN], warnings[256];

    ck_assert_msg(parse(&conf, yaml, err) == 0, "%s", err);
    ck_assert_int_eq(conf.listens[1].tls_profile.kind, EDGE_TLS_PROFILE_INTERMEDIATE);
    ck_assert_int_eq(conf.listens[2].tls_profile.kind, EDGE_TLS_PROFILE_MODERN);
    ck_assert_int_eq(conf.listens[3].tls_profile.kind, EDGE_TLS_PROFILE_INTERMEDIATE);
    ck_assert_ptr_null(conf.listens[1].tls_profile.ciphers);
    ck_assert_uint_eq(conf.listens[1].tls_profile.min_version, 0);
    /* neither named profile has anything to warn about */
    ck_assert_uint_eq(edge_config_warnings(&conf, warnings, sizeof(warnings)), 0);
    ck_assert_str_eq(warnings, "");
    edge_config_dispose(&conf);
}
END_TEST

START_TEST(test_profile_custom)
{
    static const char yaml[] = "listen:\n"
                               "  - address: 127.0.0.1\n"
                               "    port: 443\n"
                               "    tls:\n"
                               "      certificate: cert.pem\n"
                               "      key: key.pem\n"
                               "      profile: custom\n"
                               "      ciphers: ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA\n"
                               "      ciphersuites: TLS_AES_128_GCM_SHA256\n"
                               "      groups: X25519\n"
                               "      min_version: 1.2\n"
                               "      max_version: 1.3\n"
                               "origin: http://o\n";
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN], warnings[512];

    ck_assert_msg(parse(&conf, yaml, err) == 0, "%s", err);
    ck_assert_int_eq(conf.listens[0].tls_profile.kind, EDGE_TLS_PROFILE_CUSTOM);
    ck_assert_str_eq(conf.listens[0].tls_profile.ciphers, "ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA");
    ck_assert_str_eq(conf.listens[0].tls_profile.ciphersuites, "TLS_AES_128_GCM_SHA256");
    ck_assert_str_eq(conf.listens[0].tls_profile.groups, "X25519");
    ck_assert_uint_eq(conf.listens[0].tls_profile.min_version, 0x0303);
    ck_assert_uint_eq(conf.listens[0].tls_profile.max_version, 0x0304);
    /* AES128-SHA: static RSA and CBC, one warning each */
    ck_assert_uint_eq(edge_config_warnings(&conf, warnings, sizeof(warnings)), 2);
    ck_assert_str_eq(warnings, "t.yaml: warning: listen 127.0.0.1 port 443: tls: ciphers without forward secrecy: AES128-SHA\n"
                               "t.yaml: warning: listen 127.0.0.1 port 443: tls: CBC ciphers (not AEAD): AES128-SHA\n");
    edge_config_dispose(&conf);
}
END_TEST

START_TEST(test_custom_tls13_only_ignores_tls12_ciphers)
{
    /* with TLS 1.3 only, OpenSSL's default TLS 1.2 list (CBC included) is never offered: nothing to warn */
    static const char yaml[] =
        "listen: [{address: 127.0.0.1, port: 443, tls: {" TLS_FILES ", profile: custom, min_version: \"1.3\"}}]\n"
        "origin: http://o\n";
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN], warnings[256];

    ck_assert_msg(parse(&conf, yaml, err) == 0, "%s", err);
    ck_assert_uint_eq(edge_config_warnings(&conf, warnings, sizeof(warnings)), 0);
    edge_config_dispose(&conf);
}
END_TEST

START_TEST(test_viewer_policy_and_hsts_top_level)
{
    static const char yaml[] = "origin: http://o\n"
                               "hsts: {max_age: 2y, include_subdomains: true, preload: true}\n"
                               "behaviors:\n"
                               "  - {path: /r/*, viewer_protocol_policy: redirect_to_https, https_port: 8443}\n"
                               "  - {path: /s/*, viewer_protocol_policy: https_only}\n"
                               "  - {path: /a/*, viewer_protocol_policy: allow_all}\n";
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN];

    ck_assert_msg(parse(&conf, yaml, err) == 0, "%s", err);
    ck_assert_uint_eq(conf.num_behaviors, 4);
    ck_assert_int_eq(conf.behaviors[0].viewer_policy, EDGE_VIEWER_REDIRECT_TO_HTTPS);
    ck_assert_uint_eq(conf.behaviors[0].https_port, 8443);
    ck_assert_int_eq(conf.behaviors[1].viewer_policy, EDGE_VIEWER_HTTPS_ONLY);
    ck_assert_uint_eq(conf.behaviors[1].https_port, 0);
    ck_assert_int_eq(conf.behaviors[2].viewer_policy, EDGE_VIEWER_ALLOW_ALL);
    ck_assert_int_eq(conf.behaviors[3].viewer_policy, EDGE_VIEWER_ALLOW_ALL); /* the implicit "*" */
    ck_assert_str_eq(conf.sites[0].hsts, "max-age=63072000; includeSubDomains; preload");
    edge_config_dispose(&conf);
}
END_TEST

START_TEST(test_hsts_defaults_and_per_site)
{
    static const char yaml[] = "sites:\n"
                               "  - name: shop\n"
                               "    hosts: [shop.example]\n"
                               "    origin: http://o\n"
                               "    hsts: {}\n"
                               "  - name: blog\n"
                               "    hosts: [blog.example]\n"
                               "    origin: http://o\n"
                               "    hsts: {max_age: 1h}\n"
                               "  - name: plain\n"
                               "    hosts: [plain.example]\n"
                               "    origin: http://o\n";
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN];

    ck_assert_msg(parse(&conf, yaml, err) == 0, "%s", err);
    ck_assert_str_eq(conf.sites[0].hsts, "max-age=31536000");
    ck_assert_str_eq(conf.sites[1].hsts, "max-age=3600");
    ck_assert_ptr_null(conf.sites[2].hsts);
    edge_config_dispose(&conf);

    ck_assert_msg(parse(&conf, "origin: http://o\n", err) == 0, "%s", err);
    ck_assert_ptr_null(conf.sites[0].hsts);
    ck_assert_int_eq(conf.behaviors[0].viewer_policy, EDGE_VIEWER_ALLOW_ALL);
    edge_config_dispose(&conf);
}
END_TEST

START_TEST(test_site_certificates_and_process_tls)
{
    static const char yaml[] =
        "listen: [{address: 127.0.0.1, port: 443, tls: {" TLS_FILES ", unknown_sni: refuse}},\n"
        "         {address: 127.0.0.1, port: 444, tls: {" TLS_FILES ", unknown_sni: default}}]\n"
        "tls:\n"
        "  session_tickets: {key_file: tickets.key}\n"
        "  ocsp: {stapling: false, responder: \"http://ocsp.example/\", cache_dir: ocsp}\n"
        "sites:\n"
        "  - name: a\n"
        "    hosts: [a.example]\n"
        "    origin: http://o\n"
        "    tls: {certificates: [{certificate: cert.pem, key: key.pem}, {certificate: cert.pem, key: key.pem}]}\n"
        "  - {name: b, hosts: [b.example], origin: http://o}\n";
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN], expect[256], keys[160] = {0};

    write_file("tickets.key", keys, sizeof(keys));
    ck_assert_msg(parse(&conf, yaml, err) == 0, "%s", err);
    ck_assert(conf.listens[0].tls_refuse_unknown_sni);
    ck_assert(!conf.listens[1].tls_refuse_unknown_sni);
    ck_assert_uint_eq(conf.sites[0].num_certs, 2);
    snprintf(expect, sizeof(expect), "%s/cert.pem", base);
    ck_assert_str_eq(conf.sites[0].certs[1].certificate, expect);
    snprintf(expect, sizeof(expect), "%s/key.pem", base);
    ck_assert_str_eq(conf.sites[0].certs[1].key, expect);
    ck_assert_uint_eq(conf.sites[1].num_certs, 0);
    snprintf(expect, sizeof(expect), "%s/tickets.key", base);
    ck_assert_str_eq(conf.tls.ticket_key_file, expect);
    ck_assert_uint_eq(conf.tls.ticket_rotate_ms, EDGE_CONF_DEFAULT_TICKET_ROTATE_MS);
    ck_assert(!conf.tls.ocsp_stapling);
    ck_assert_str_eq(conf.tls.ocsp_responder, "http://ocsp.example/");
    snprintf(expect, sizeof(expect), "%s/ocsp", base);
    ck_assert_str_eq(conf.tls.ocsp_cache_dir, expect);
    edge_config_dispose(&conf);

    /* the defaults */
    ck_assert_msg(parse(&conf,
                        "listen: [{address: 127.0.0.1, port: 443, tls: {" TLS_FILES "}}]\norigin: http://o\n"
                        "tls: {session_tickets: {rotate: 1h}}\n",
                        err) == 0,
                  "%s", err);
    ck_assert(!conf.listens[0].tls_refuse_unknown_sni);
    ck_assert_ptr_null(conf.tls.ticket_key_file);
    ck_assert_uint_eq(conf.tls.ticket_rotate_ms, 3600 * 1000);
    ck_assert(conf.tls.ocsp_stapling);
    ck_assert_ptr_null(conf.tls.ocsp_responder);
    ck_assert_ptr_null(conf.tls.ocsp_cache_dir);
    ck_assert_uint_eq(conf.sites[0].num_certs, 0);
    edge_config_dispose(&conf);
}
END_TEST

static const struct {
    const char *yaml;
    const char *prefix;
    const char *part;
} bad[] = {
    {"listen: [{address: 127.0.0.1, port: 443, tls: {" TLS_FILES ", unknown_sni: drop}}]\norigin: http://o\n",
     "t.yaml:1:", "unknown_sni: expected default or refuse, found \"drop\""},
    {"sites:\n  - {name: a, hosts: [a.example], origin: http://o, tls: {}}\n", "t.yaml:2:", "certificates"},
    {"sites:\n  - {name: a, hosts: [a.example], origin: http://o, tls: {certificates: []}}\n",
     "t.yaml:2:", "certificates: expected 1 to 8 certificate/key pairs, found 0"},
    {"sites:\n  - {name: a, hosts: [a.example], origin: http://o, tls: {certificates: [{certificate: cert.pem}]}}\n",
     "t.yaml:2:", "key"},
    {"sites:\n  - {name: a, hosts: [a.example], origin: http://o, tls: {certificates: [{certificate: no.pem, key: key.pem}]}}\n",
     "t.yaml:2:", "certificate: cannot read"},
    {"sites:\n  - {name: a, hosts: [a.example], origin: http://o, tls: {certificates: {certificate: cert.pem, key: key.pem}}}\n",
     "t.yaml:2:", "certificates: expected a list"},
    {"origin: http://o\ntls: {session_tickets: {key_file: cert.pem}}\n",
     "t.yaml:2:", "key_file: 28 bytes: expected one or more keys of 80 bytes each"},
    {"origin: http://o\ntls: {session_tickets: {key_file: nope.key}}\n", "t.yaml:2:", "key_file: cannot read"},
    {"origin: http://o\ntls: {session_tickets: {rotate: 10s}}\n", "t.yaml:2:", "rotate: at least 1m"},
    {"origin: http://o\ntls: {session_tickets: {rotate: 1h, key_file: cert.pem}}\n", "t.yaml:2:", "rotate: not with key_file"},
    {"origin: http://o\ntls: {ocsp: {responder: \"ftp://x\"}}\n", "t.yaml:2:", "responder: expected an http:// URL"},
    {"origin: http://o\ntls: {ocsp: {stapling: maybe}}\n", "t.yaml:2:", "stapling"},
    {"origin: http://o\ntls: {tickets: {}}\n", "t.yaml:2:", "tickets"},
    {"listen: [{address: 127.0.0.1, port: 443, tls: {" TLS_FILES ", profile: old}}]\norigin: http://o\n",
     "t.yaml:1:", "profile: expected intermediate, modern or custom, found \"old\""},
    {"listen: [{address: 127.0.0.1, port: 443, tls: {" TLS_FILES ", ciphers: AES128-SHA}}]\norigin: http://o\n",
     "t.yaml:1:", "ciphers: only with profile: custom"},
    {"listen: [{address: 127.0.0.1, port: 443, tls: {" TLS_FILES ", profile: modern, min_version: 1.2}}]\norigin: http://o\n",
     "t.yaml:1:", "min_version: only with profile: custom"},
    {"listen: [{address: 127.0.0.1, port: 443, tls: {" TLS_FILES ", profile: custom, min_version: 1.1}}]\norigin: http://o\n",
     "t.yaml:1:", "min_version: \"1.1\": TLS below 1.2 is refused"},
    {"listen: [{address: 127.0.0.1, port: 443, tls: {" TLS_FILES ", profile: custom, max_version: 1.0}}]\norigin: http://o\n",
     "t.yaml:1:", "max_version: \"1.0\": TLS below 1.2 is refused"},
    {"listen: [{address: 127.0.0.1, port: 443, tls: {" TLS_FILES ", profile: custom, min_version: \"2\"}}]\norigin: http://o\n",
     "t.yaml:1:", "min_version: expected \"1.2\" or \"1.3\", found \"2\""},
    {"listen: [{address: 127.0.0.1, port: 443, tls: {" TLS_FILES
     ", profile: custom, min_version: 1.3, max_version: 1.2}}]\norigin: http://o\n",
     "t.yaml:1:", "max_version: below min_version"},
    {"listen: [{address: 127.0.0.1, port: 443, tls: {" TLS_FILES ", profile: custom, ciphers: NOT-A-CIPHER}}]\norigin: http://o\n",
     "t.yaml:1:", "tls: ciphers: refused by OpenSSL"},
    {"listen: [{address: 127.0.0.1, port: 443, tls: {" TLS_FILES ", profile: custom, ciphersuites: TLS_NOPE}}]\norigin: http://o\n",
     "t.yaml:1:", "tls: ciphersuites: refused by OpenSSL"},
    {"listen: [{address: 127.0.0.1, port: 443, tls: {" TLS_FILES ", profile: custom, groups: nope}}]\norigin: http://o\n",
     "t.yaml:1:", "tls: groups: refused by OpenSSL"},
    {"origin: http://o\nbehaviors: [{path: \"*\", viewer_protocol_policy: redirect}]\n",
     "t.yaml:2:", "viewer_protocol_policy: expected allow_all, redirect_to_https or https_only, found \"redirect\""},
    {"origin: http://o\nbehaviors: [{path: \"*\", https_port: 0}]\n", "t.yaml:2:", "https_port"},
    {"origin: http://o\nhsts: {max_age: forever}\n", "t.yaml:2:", "max_age"},
    {"origin: http://o\nhsts: {preload: true}\n", "t.yaml:2:", "preload: needs include_subdomains: true"},
    {"origin: http://o\nhsts: {max_age: 1d, include_subdomains: true, preload: true}\n",
     "t.yaml:2:", "preload: needs include_subdomains: true and a max_age of at least 1y"},
    {"origin: http://o\nhsts: {max-age: 1y}\n", "t.yaml:2:", "max-age"},
    {"sites:\n  - {name: a, hosts: [a.example], origin: http://o}\nhsts: {}\n",
     "t.yaml:3:", "hsts: with sites, each site has its own"},
};

START_TEST(test_errors)
{
    assert_parse_error(_i, bad[_i].yaml, strlen(bad[_i].yaml), bad[_i].prefix, bad[_i].part);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("edge_config_tls");
    TCase *tc = tcase_create("config_tls");

    tcase_add_test(tc, test_profile_default_and_named);
    tcase_add_test(tc, test_profile_custom);
    tcase_add_test(tc, test_custom_tls13_only_ignores_tls12_ciphers);
    tcase_add_test(tc, test_viewer_policy_and_hsts_top_level);
    tcase_add_test(tc, test_hsts_defaults_and_per_site);
    tcase_add_test(tc, test_site_certificates_and_process_tls);
    tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return fixture_main(suite());
}
