/*
 * cache/pattern.c: glob matching for behavior path patterns.
 *
 * The matcher is the classic greedy algorithm with one backtrack point (the last '*'), which is linear
 * in practice and never recursive, so a hostile request path cannot make it blow the stack or go
 * exponential. The implicit leading '/' is handled once at the start of each call.
 */
#include "cache/pattern.h"

/* Matches pattern p against s, where '*' in s (when `symbolic`) stands for "any run" and can only be
 * matched by a '*' in p, and '?' in s can only be matched by '?' or '*' in p. With symbolic false, s is
 * a literal path. */
static bool match(const char *p, size_t plen, const char *s, size_t slen, bool symbolic)
{
    size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;

    while (si < slen) {
        if (pi < plen && p[pi] == '*') {
            star_p = pi++;
            star_s = si;
            continue;
        }
        if (pi < plen) {
            char pc = p[pi], sc = s[si];
            bool ok;
            if (symbolic && sc == '*')
                ok = false; /* only a '*' in the earlier pattern covers a '*' */
            else if (symbolic && sc == '?')
                ok = pc == '?';
            else
                ok = pc == '?' || pc == sc;
            if (ok) {
                ++pi;
                ++si;
                continue;
            }
        }
        if (star_p == (size_t)-1)
            return false;
        pi = star_p + 1;
        si = ++star_s;
    }
    while (pi < plen && p[pi] == '*')
        ++pi;
    return pi == plen;
}

/* Skips the optional leading '/' of a pattern, and reports whether the subject must lose one too. */
static void strip_slash(const char **p, size_t *plen)
{
    if (*plen != 0 && (*p)[0] == '/') {
        ++*p;
        --*plen;
    }
}

bool cache_pattern_match(const char *pattern, const char *s, size_t len)
{
    size_t plen = 0;
    while (pattern[plen] != '\0')
        ++plen;
    strip_slash(&pattern, &plen);
    strip_slash(&s, &len);
    return match(pattern, plen, s, len, false);
}

bool cache_pattern_covers(const char *earlier, const char *later)
{
    size_t elen = 0, llen = 0;
    while (earlier[elen] != '\0')
        ++elen;
    while (later[llen] != '\0')
        ++llen;
    strip_slash(&earlier, &elen);
    strip_slash(&later, &llen);
    return match(earlier, elen, later, llen, true);
}
