/*
 * edge/config_limits.c: the "limits" section of the configuration: what one client, one connection or an
 * attack made of many may cost the edge — clientless origin fetches, slow request heads, HTTP/2 streams at
 * once, HTTP/2 streams reset early (CVE-2023-44487) and clients that stop reading a response.
 *
 * The invariant that is easy to break: every key has a default that is safe on the open Internet, applied
 * whether or not the section is written, and none of them may be 0 where 0 would mean "no protection" by
 * accident (timeouts, stream counts); only h2_reset_limit takes 0, documented as "no limit".
 */
#include "edge/config_int.h"

enum { L_BACKGROUND_FETCHES, L_HEADER_TIMEOUT, L_H2_MAX_STREAMS, L_H2_RESET_LIMIT, L_H2_RESET_WINDOW, L_SEND_TIMEOUT };
static const char *const limits_keys[] = {[L_BACKGROUND_FETCHES] = "background_fetches",    [L_HEADER_TIMEOUT] = "header_timeout",
                                          [L_H2_MAX_STREAMS] = "h2_max_concurrent_streams", [L_H2_RESET_LIMIT] = "h2_reset_limit",
                                          [L_H2_RESET_WINDOW] = "h2_reset_window",          [L_SEND_TIMEOUT] = "send_timeout"};

int edge_config_parse_limits(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n)
{
    yaml_node_t *v[NKEYS(limits_keys)] = {NULL};
    uint64_t u;

    conf->limits.background_fetches = 64;
    conf->limits.header_timeout_ms = 10000;
    conf->limits.h2_max_streams = 100;
    conf->limits.h2_reset_limit = 100;
    conf->limits.h2_reset_window_ms = 10000;
    conf->limits.send_timeout_ms = 60000;
    if (n == NULL)
        return 0;
    if (edge_config_collect(c, n, "limits", limits_keys, NKEYS(limits_keys), v) != 0)
        return -1;
    /* 0 is allowed: every miss whose clients all left is cancelled at once */
    if (v[L_BACKGROUND_FETCHES] != NULL) {
        if (edge_config_integer(c, v[L_BACKGROUND_FETCHES], "background_fetches", 0, 1000000, &u) != 0)
            return -1;
        conf->limits.background_fetches = (unsigned)u;
    }
    if (v[L_HEADER_TIMEOUT] != NULL &&
        edge_config_timeout_ms(c, v[L_HEADER_TIMEOUT], "header_timeout", &conf->limits.header_timeout_ms) != 0)
        return -1;
    /* libh2o accepts at most 256 open streams per connection and handles this many of them at once */
    if (v[L_H2_MAX_STREAMS] != NULL) {
        if (edge_config_integer(c, v[L_H2_MAX_STREAMS], "h2_max_concurrent_streams", 1, 256, &u) != 0)
            return -1;
        conf->limits.h2_max_streams = (unsigned)u;
    }
    if (v[L_H2_RESET_LIMIT] != NULL) {
        if (edge_config_integer(c, v[L_H2_RESET_LIMIT], "h2_reset_limit", 0, 1000000, &u) != 0)
            return -1;
        conf->limits.h2_reset_limit = (unsigned)u;
    }
    if (v[L_H2_RESET_WINDOW] != NULL &&
        edge_config_timeout_ms(c, v[L_H2_RESET_WINDOW], "h2_reset_window", &conf->limits.h2_reset_window_ms) != 0)
        return -1;
    if (v[L_SEND_TIMEOUT] != NULL &&
        edge_config_timeout_ms(c, v[L_SEND_TIMEOUT], "send_timeout", &conf->limits.send_timeout_ms) != 0)
        return -1;
    return 0;
}
