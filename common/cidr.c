/*
 * common/cidr.c: IPv4 and IPv6 networks, parsed from text and matched against socket addresses.
 *
 * The invariant that is easy to break: a network is compared over its first prefix_len bits only, so the bits
 * after them in `addr` may be anything ("10.1.2.3/8" is the network 10.0.0.0/8); and an IPv4 client that
 * reaches a dual-stack socket arrives as ::ffff:a.b.c.d, which must still match the IPv4 networks an operator
 * wrote.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include "common/cidr.h"

int common_cidr_parse(common_cidr_t *out, const char *s)
{
    const char *slash = strchr(s, '/');
    size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
    char addr[INET6_ADDRSTRLEN];
    unsigned max, len = 0;

    if (alen == 0 || alen >= sizeof(addr))
        return COMMON_CIDR_ERROR_SYNTAX;
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, addr, out->addr) == 1)
        out->family = AF_INET;
    else if (inet_pton(AF_INET6, addr, out->addr) == 1)
        out->family = AF_INET6;
    else
        return COMMON_CIDR_ERROR_ADDRESS;
    max = out->family == AF_INET ? 32 : 128;
    out->prefix_len = max;
    if (slash == NULL)
        return 0;
    /* digits only: no sign, no base prefix; any number of leading zeros */
    if (slash[1] == '\0')
        return COMMON_CIDR_ERROR_PREFIX;
    for (const char *p = slash + 1; *p != '\0'; ++p) {
        if (*p < '0' || *p > '9')
            return COMMON_CIDR_ERROR_PREFIX;
        len = len * 10 + (unsigned)(*p - '0');
        if (len > max)
            return COMMON_CIDR_ERROR_PREFIX;
    }
    out->prefix_len = len;
    return 0;
}

const char *common_cidr_strerror(int err)
{
    switch (err) {
    case 0:
        return "no error";
    case COMMON_CIDR_ERROR_SYNTAX:
        return "not an address or a network";
    case COMMON_CIDR_ERROR_ADDRESS:
        return "not a numeric IPv4 or IPv6 address";
    case COMMON_CIDR_ERROR_PREFIX:
        return "prefix length out of range";
    default:
        return "unknown error";
    }
}

bool common_cidr_match(const common_cidr_t *cidrs, size_t num, const struct sockaddr *sa)
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    uint8_t a[16];
    int family = sa->sa_family;

    if (family == AF_INET) {
        memcpy(a, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (family == AF_INET6) {
        memcpy(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        if (memcmp(a, v4mapped, 12) == 0) {
            memmove(a, a + 12, 4);
            family = AF_INET;
        }
    } else {
        return false;
    }
    for (size_t i = 0; i != num; ++i) {
        const common_cidr_t *n = &cidrs[i];
        unsigned full = n->prefix_len / 8, rest = n->prefix_len % 8;
        if (n->family != family)
            continue;
        if (memcmp(a, n->addr, full) != 0)
            continue;
        if (rest != 0 && ((a[full] ^ n->addr[full]) & (uint8_t)(0xff << (8 - rest))) != 0)
            continue;
        return true;
    }
    return false;
}
