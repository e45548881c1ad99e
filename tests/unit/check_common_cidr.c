/*
 * tests/unit/check_common_cidr.c: networks (common/cidr.c): parsing "ADDR[/LEN]" with its three errors, and
 * matching IPv4, IPv6 and IPv4-mapped IPv6 peers, on and off byte boundaries.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <string.h>
#include "common/cidr.h"

static struct sockaddr_storage peer(const char *addr)
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof(ss));
    if (strchr(addr, ':') != NULL) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        ck_assert_int_eq(inet_pton(AF_INET6, addr, &sin6->sin6_addr), 1);
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        ck_assert_int_eq(inet_pton(AF_INET, addr, &sin->sin_addr), 1);
    }
    return ss;
}

static bool in(const char *network, const char *addr)
{
    common_cidr_t n;
    struct sockaddr_storage ss = peer(addr);

    ck_assert_int_eq(common_cidr_parse(&n, network), 0);
    return common_cidr_match(&n, 1, (struct sockaddr *)&ss);
}

START_TEST(test_parse)
{
    common_cidr_t n;

    ck_assert_int_eq(common_cidr_parse(&n, "10.0.0.0/8"), 0);
    ck_assert_int_eq(n.family, AF_INET);
    ck_assert_uint_eq(n.prefix_len, 8);
    ck_assert_int_eq(common_cidr_parse(&n, "::1"), 0);
    ck_assert_int_eq(n.family, AF_INET6);
    ck_assert_uint_eq(n.prefix_len, 128);
    ck_assert_int_eq(common_cidr_parse(&n, "127.0.0.1"), 0);
    ck_assert_uint_eq(n.prefix_len, 32);
    ck_assert_int_eq(common_cidr_parse(&n, "0.0.0.0/0"), 0);
    ck_assert_uint_eq(n.prefix_len, 0);
    ck_assert_int_eq(common_cidr_parse(&n, "10.0.0.0/008"), 0); /* leading zeros are digits too */
    ck_assert_uint_eq(n.prefix_len, 8);

    ck_assert_int_eq(common_cidr_parse(&n, ""), COMMON_CIDR_ERROR_SYNTAX);
    ck_assert_int_eq(common_cidr_parse(&n, "/8"), COMMON_CIDR_ERROR_SYNTAX);
    ck_assert_int_eq(common_cidr_parse(&n, "0000:0000:0000:0000:0000:ffff:255.255.255.255x/8"), COMMON_CIDR_ERROR_SYNTAX);
    ck_assert_int_eq(common_cidr_parse(&n, "localhost"), COMMON_CIDR_ERROR_ADDRESS);
    ck_assert_int_eq(common_cidr_parse(&n, "10.0.0/8"), COMMON_CIDR_ERROR_ADDRESS);
    ck_assert_int_eq(common_cidr_parse(&n, "10.0.0.0/33"), COMMON_CIDR_ERROR_PREFIX);
    ck_assert_uint_eq(n.prefix_len, 32); /* the full length, for the message */
    ck_assert_int_eq(common_cidr_parse(&n, "::/129"), COMMON_CIDR_ERROR_PREFIX);
    ck_assert_uint_eq(n.prefix_len, 128);
    ck_assert_int_eq(common_cidr_parse(&n, "10.0.0.0/"), COMMON_CIDR_ERROR_PREFIX);
    ck_assert_int_eq(common_cidr_parse(&n, "10.0.0.0/-1"), COMMON_CIDR_ERROR_PREFIX);
    ck_assert_int_eq(common_cidr_parse(&n, "10.0.0.0/+8"), COMMON_CIDR_ERROR_PREFIX);
    ck_assert_int_eq(common_cidr_parse(&n, "10.0.0.0/99999999999999999999"), COMMON_CIDR_ERROR_PREFIX);
    ck_assert_str_eq(common_cidr_strerror(COMMON_CIDR_ERROR_PREFIX), "prefix length out of range");
}
END_TEST

START_TEST(test_match)
{
    ck_assert(in("10.0.0.0/8", "10.200.3.4"));
    ck_assert(!in("10.0.0.0/8", "11.0.0.1"));
    ck_assert(in("192.168.4.0/22", "192.168.7.255")); /* off a byte boundary */
    ck_assert(!in("192.168.4.0/22", "192.168.8.0"));
    ck_assert(in("10.1.2.3/8", "10.9.9.9")); /* the host bits of the network do not count */
    ck_assert(in("0.0.0.0/0", "203.0.113.9"));
    ck_assert(in("127.0.0.1", "127.0.0.1"));
    ck_assert(!in("127.0.0.1", "127.0.0.2"));
    ck_assert(in("::1", "::1"));
    ck_assert(in("2001:db8::/32", "2001:db8:ffff::1"));
    ck_assert(!in("2001:db8::/33", "2001:db8:8000::1"));
    ck_assert(in("127.0.0.0/8", "::ffff:127.0.0.1")); /* IPv4-mapped: matched as IPv4 */
    ck_assert(!in("::/0", "127.0.0.1"));              /* families do not mix otherwise */

    common_cidr_t two[2];
    struct sockaddr_storage ss = peer("10.0.0.1");
    ck_assert_int_eq(common_cidr_parse(&two[0], "192.168.0.0/16"), 0);
    ck_assert_int_eq(common_cidr_parse(&two[1], "10.0.0.0/8"), 0);
    ck_assert(common_cidr_match(two, 2, (struct sockaddr *)&ss));
    ck_assert(!common_cidr_match(two, 0, (struct sockaddr *)&ss));
    struct sockaddr un = {.sa_family = AF_UNIX};
    ck_assert(!common_cidr_match(two, 2, &un));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("common_cidr");
    TCase *tc = tcase_create("cidr");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_parse);
    tcase_add_test(tc, test_match);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
