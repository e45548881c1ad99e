/*
 * common/cidr.h: IPv4 and IPv6 networks ("10.0.0.0/8", "::1"), parsed once from configuration text and matched
 * against peer addresses on every request. Pure functions on caller-owned memory: any thread may call them.
 */
#ifndef COMMON_CIDR_H
#define COMMON_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A network; a plain address is a /32 or a /128. */
typedef struct st_common_cidr_t {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    unsigned prefix_len;
} common_cidr_t;

/* The errors of common_cidr_parse, each a negative int. */
#define COMMON_CIDR_ERROR_SYNTAX (-1)  /* no address before the '/', or one longer than any numeric address */
#define COMMON_CIDR_ERROR_ADDRESS (-2) /* the part before the '/' is not a numeric IPv4 or IPv6 address */
#define COMMON_CIDR_ERROR_PREFIX (-3)  /* the prefix length is not a decimal number in 0..32 (IPv4) or 0..128 (IPv6) */

/**
 * Parses "ADDR" or "ADDR/LEN" (ADDR numeric IPv4 or IPv6, LEN decimal) into *out. Returns 0 or a
 * COMMON_CIDR_ERROR_*. On COMMON_CIDR_ERROR_PREFIX, *out already holds the address with its family's full length
 * (32 or 128), so that a message can give the allowed range; on other errors *out is unspecified.
 */
int common_cidr_parse(common_cidr_t *out, const char *s);
/** A short English description of a COMMON_CIDR_ERROR_* (static storage). */
const char *common_cidr_strerror(int err);
/**
 * True when `sa` (an AF_INET or AF_INET6 address; any other family never matches) is in one of the `num`
 * networks. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is matched as the IPv4 address it carries.
 */
bool common_cidr_match(const common_cidr_t *cidrs, size_t num, const struct sockaddr *sa);

#endif
