/*
 * cache/ttl.c: freshness decisions (RFC 9111 §4.2 with CloudFront's min/default/max TTL rules).
 *
 * Everything here is a pure function of its arguments, so the rules can be tested as a table. The easy
 * thing to break: the clamp to [min_ttl, max_ttl] applies to a lifetime the origin gave, while
 * default_ttl (or the Last-Modified heuristic) applies only when the origin gave none, and only to a
 * heuristically cacheable status with a validator; and no-cache means "store, but revalidate on every
 * use", which is a lifetime of 0, not "do not store".
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "cache/ttl.h"

void cache_ttl_cc_init(cache_cc_t *cc)
{
    cc->flags = 0;
    cc->max_age = cc->s_maxage = cc->stale_while_revalidate = cc->stale_if_error = cc->max_stale = cc->min_fresh = -1;
    cc->num_omit = 0;
}

/* A delta-seconds value (RFC 9111 §1.2.2): digits only, saturating at 2^31 as the RFC asks. */
static int64_t parse_delta(const char *s, size_t len)
{
    int64_t v = 0;
    if (len == 0)
        return -1;
    for (size_t i = 0; i != len; ++i) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        if (v < 2147483648)
            v = v * 10 + (s[i] - '0');
    }
    return v > 2147483648 ? 2147483648 : v;
}

static void set_min(int64_t *slot, int64_t v)
{
    if (*slot < 0 || v < *slot)
        *slot = v;
}

/* Records a qualified no-cache="…" / private="…" list; false when there is no room (the caller then
 * applies the directive unqualified, the conservative reading). */
static bool add_omit(cache_cc_t *cc, const char *list, size_t len)
{
    if (cc->num_omit == CACHE_CC_MAX_OMIT)
        return false;
    cc->omit[cc->num_omit].base = list;
    cc->omit[cc->num_omit].len = len;
    ++cc->num_omit;
    return true;
}

void cache_ttl_parse_cc(cache_cc_t *cc, const char *value, size_t len)
{
    static const struct {
        const char *name;
        unsigned flag;
    } flags[] = {{"no-store", CACHE_CC_NO_STORE},
                 {"no-cache", CACHE_CC_NO_CACHE},
                 {"private", CACHE_CC_PRIVATE},
                 {"public", CACHE_CC_PUBLIC},
                 {"must-revalidate", CACHE_CC_MUST_REVALIDATE},
                 {"proxy-revalidate", CACHE_CC_PROXY_REVALIDATE},
                 {"immutable", CACHE_CC_IMMUTABLE},
                 {"no-transform", CACHE_CC_NO_TRANSFORM},
                 {"must-understand", CACHE_CC_MUST_UNDERSTAND},
                 {"only-if-cached", CACHE_CC_ONLY_IF_CACHED}};
    const char *p = value, *end = value + len;

    while (p < end) {
        /* one directive: token [ "=" ( token / quoted-string ) ]; no whitespace is allowed around the
         * "=", so "max-age = 5" is a malformed directive, not max-age=5 */
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            ++p;
        const char *name = p;
        while (p < end && *p != '=' && *p != ',' && *p != ' ' && *p != '\t')
            ++p;
        size_t namelen = (size_t)(p - name);
        bool malformed = false, quoted = false;
        const char *ws = p;
        while (p < end && (*p == ' ' || *p == '\t'))
            ++p;
        const char *arg = NULL;
        size_t arglen = 0;
        if (p < end && *p == '=') {
            malformed = p != ws;
            ++p;
            if (p < end && (*p == ' ' || *p == '\t'))
                malformed = true;
            while (p < end && (*p == ' ' || *p == '\t'))
                ++p;
            if (p < end && *p == '"') {
                quoted = true;
                arg = ++p;
                while (p < end && *p != '"')
                    p += *p == '\\' && p + 1 < end ? 2 : 1;
                arglen = (size_t)((p < end ? p : end) - arg);
                if (p < end)
                    ++p;
                else
                    malformed = true; /* an unterminated quoted string */
            } else {
                arg = p;
                while (p < end && *p != ',' && *p != ' ' && *p != '\t')
                    ++p;
                arglen = (size_t)(p - arg);
            }
        }
        while (p < end && *p != ',')
            ++p; /* skip junk up to the next directive */
        if (namelen == 0)
            continue;

#define IS(lit) (namelen == sizeof(lit) - 1 && strncasecmp(name, lit, namelen) == 0)
        if (IS("max-age") || IS("s-maxage") || IS("stale-while-revalidate") || IS("stale-if-error")) {
            /* the quoted form is for generic parsers; this one reads a lifetime only from the token form
             * RFC 9111 §5.2.2.1 tells senders to use, and treats anything else as invalid */
            int64_t v = arg != NULL && !quoted && !malformed ? parse_delta(arg, arglen) : -1;
            int64_t *slot = IS("max-age")                  ? &cc->max_age
                            : IS("s-maxage")               ? &cc->s_maxage
                            : IS("stale-while-revalidate") ? &cc->stale_while_revalidate
                                                           : &cc->stale_if_error;
            if (v >= 0)
                set_min(slot, v);
            else if (slot == &cc->max_age || slot == &cc->s_maxage)
                set_min(slot, 0); /* an invalid lifetime is treated as stale, the conservative reading */
            continue;
        }
        if (IS("max-stale") || IS("min-fresh")) {
            /* request directives: an invalid value makes the directive ask for less (no stale answer, or
             * more freshness than any response has), the conservative reading */
            int64_t v = arg == NULL ? (IS("max-stale") ? INT64_MAX : -1) : !quoted && !malformed ? parse_delta(arg, arglen) : -1;
            if (IS("max-stale"))
                cc->max_stale = v >= 0 && (cc->max_stale < 0 || v < cc->max_stale) ? v : cc->max_stale;
            else
                cc->min_fresh = v >= 0 ? (v > cc->min_fresh ? v : cc->min_fresh) : INT64_MAX;
            continue;
        }
        if ((IS("no-cache") || IS("private")) && arg != NULL && !malformed) {
            /* qualified (RFC 9111 §5.2.2.4, §5.2.2.7): the response may be stored, without these fields */
            while (arglen != 0 && (*arg == ' ' || *arg == '\t' || *arg == ','))
                ++arg, --arglen;
            if (arglen != 0 && add_omit(cc, arg, arglen))
                continue;
        }
        for (size_t i = 0; i != sizeof(flags) / sizeof(flags[0]); ++i) {
            if (namelen == strlen(flags[i].name) && strncasecmp(name, flags[i].name, namelen) == 0) {
                cc->flags |= flags[i].flag;
                break;
            }
        }
#undef IS
    }
}

bool cache_ttl_cc_omits(const cache_cc_t *cc, const char *name, size_t len)
{
    for (size_t i = 0; i != cc->num_omit; ++i) {
        const char *p = cc->omit[i].base, *end = p + cc->omit[i].len;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
                ++p;
            const char *s = p;
            while (p < end && *p != ',' && *p != ' ' && *p != '\t')
                ++p;
            if ((size_t)(p - s) == len && len != 0 && strncasecmp(s, name, len) == 0)
                return true;
        }
    }
    return false;
}

/* RFC 8941 §3.2: key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ) */
static bool sf_key(const char **p, const char *end, const char **key, size_t *keylen)
{
    const char *s = *p;
    if (s == end || !((*s >= 'a' && *s <= 'z') || *s == '*'))
        return false;
    while (s < end && ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.' || *s == '*'))
        ++s;
    *key = *p;
    *keylen = (size_t)(s - *p);
    *p = s;
    return true;
}

/* A bare item (RFC 8941 §3.3): integer or decimal, string, token, byte sequence or boolean. For an
 * integer, *num is set (else -1); for a boolean, *boolean. */
static bool sf_item(const char **p, const char *end, int64_t *num, int *boolean)
{
    const char *s = *p;
    *num = -1;
    *boolean = -1;
    if (s == end)
        return false;
    if (*s == '-' || (*s >= '0' && *s <= '9')) {
        bool neg = *s == '-';
        if (neg)
            ++s;
        int64_t v = 0;
        int digits = 0;
        while (s < end && *s >= '0' && *s <= '9' && digits < 15)
            v = v * 10 + (*s++ - '0'), ++digits;
        if (digits == 0)
            return false;
        if (s < end && *s == '.') { /* a decimal: valid, but no directive we know takes one */
            ++s;
            while (s < end && *s >= '0' && *s <= '9')
                ++s;
        } else if (s < end && *s >= '0' && *s <= '9') {
            return false; /* more than 15 digits */
        } else if (!neg) {
            *num = v;
        }
    } else if (*s == '"') {
        for (++s; s < end && *s != '"'; ++s)
            if (*s == '\\' && ++s == end)
                return false;
        if (s == end)
            return false;
        ++s;
    } else if (*s == '?') {
        if (end - s < 2 || (s[1] != '0' && s[1] != '1'))
            return false;
        *boolean = s[1] == '1';
        s += 2;
    } else if (*s == ':') {
        for (++s; s < end && *s != ':'; ++s)
            ;
        if (s == end)
            return false;
        ++s;
    } else if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '*') {
        while (s < end && *s != ',' && *s != ';' && *s != ' ' && *s != '\t')
            ++s;
    } else {
        return false;
    }
    *p = s;
    return true;
}

bool cache_ttl_parse_targeted(cache_cc_t *cc, const char *value, size_t len)
{
    const char *p = value, *end = value + len;
    bool any = false;

    cache_ttl_cc_init(cc);
    while (p < end) {
        const char *key;
        size_t keylen;
        int64_t num = -1;
        int boolean = 1; /* a key without a value is true */
        while (p < end && (*p == ' ' || *p == '\t'))
            ++p;
        if (!sf_key(&p, end, &key, &keylen))
            return false;
        if (p < end && *p == '=') {
            ++p;
            if (!sf_item(&p, end, &num, &boolean))
                return false;
        }
        while (p < end && *p == ';') { /* parameters: allowed, ignored */
            const char *pk;
            size_t pklen;
            int64_t pn;
            int pb;
            ++p;
            if (!sf_key(&p, end, &pk, &pklen) || (p < end && *p == '=' && (++p, !sf_item(&p, end, &pn, &pb))))
                return false;
        }
        while (p < end && (*p == ' ' || *p == '\t'))
            ++p;
        if (p < end) {
            if (*p++ != ',')
                return false;
            while (p < end && (*p == ' ' || *p == '\t'))
                ++p;
            if (p == end)
                return false; /* a trailing comma (RFC 8941 §4.2.2) */
        }
        any = true;

#define IS(lit) (keylen == sizeof(lit) - 1 && memcmp(key, lit, keylen) == 0)
        if (IS("max-age") || IS("s-maxage") || IS("stale-while-revalidate") || IS("stale-if-error")) {
            if (num < 0)
                return false; /* RFC 9213 §2.1: a directive with an invalid value invalidates the field */
            if (num > CACHE_TTL_DELTA_MAX)
                num = CACHE_TTL_DELTA_MAX; /* an sf-integer has up to 15 digits; a delta-seconds saturates (RFC 9111 §1.2.2) */
            int64_t *slot = IS("max-age")                  ? &cc->max_age
                            : IS("s-maxage")               ? &cc->s_maxage
                            : IS("stale-while-revalidate") ? &cc->stale_while_revalidate
                                                           : &cc->stale_if_error;
            set_min(slot, num);
        } else if (boolean != 0) {
            static const struct {
                const char *name;
                unsigned flag;
            } flags[] = {{"no-store", CACHE_CC_NO_STORE},
                         {"no-cache", CACHE_CC_NO_CACHE},
                         {"private", CACHE_CC_PRIVATE},
                         {"public", CACHE_CC_PUBLIC},
                         {"must-revalidate", CACHE_CC_MUST_REVALIDATE},
                         {"proxy-revalidate", CACHE_CC_PROXY_REVALIDATE},
                         {"immutable", CACHE_CC_IMMUTABLE}};
            for (size_t i = 0; i != sizeof(flags) / sizeof(flags[0]); ++i)
                if (keylen == strlen(flags[i].name) && memcmp(key, flags[i].name, keylen) == 0)
                    cc->flags |= flags[i].flag;
        }
#undef IS
    }
    return any;
}

static int month_of(const char *s)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int i = 0; i != 12; ++i)
        if (strncmp(months + i * 3, s, 3) == 0)
            return i;
    return -1;
}

/* Reads exactly `n` digits. */
static bool digits(const char **p, const char *end, int n, int *out)
{
    int v = 0;
    if (end - *p < n)
        return false;
    for (int i = 0; i != n; ++i) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool lit(const char **p, const char *end, const char *s)
{
    size_t n = strlen(s);
    if ((size_t)(end - *p) < n || memcmp(*p, s, n) != 0)
        return false;
    *p += n;
    return true;
}

static bool hms(const char **p, const char *end, struct tm *tm)
{
    return digits(p, end, 2, &tm->tm_hour) && lit(p, end, ":") && digits(p, end, 2, &tm->tm_min) && lit(p, end, ":") &&
           digits(p, end, 2, &tm->tm_sec);
}

bool cache_ttl_parse_date(const char *s, size_t len, int64_t *t)
{
    const char *p = s, *end = s + len, *comma;
    struct tm tm = {0};
    bool two_digit_year = false;

    while (p < end && *p == ' ')
        ++p;
    while (end > p && end[-1] == ' ')
        --end;
    if ((comma = memchr(p, ',', (size_t)(end - p))) != NULL) {
        p = comma + 1;
        if (!lit(&p, end, " "))
            return false;
        if (end - p >= 11 && p[2] == ' ') {
            /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
            if (!digits(&p, end, 2, &tm.tm_mday) || !lit(&p, end, " ") || end - p < 3 || (tm.tm_mon = month_of(p)) < 0)
                return false;
            p += 3;
            if (!lit(&p, end, " ") || !digits(&p, end, 4, &tm.tm_year) || !lit(&p, end, " ") || !hms(&p, end, &tm) ||
                !lit(&p, end, " GMT") || p != end)
                return false;
            tm.tm_year -= 1900;
        } else {
            /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT; two-digit years within 50 years of now (RFC 9110 §5.6.7) */
            int yy;
            if (!digits(&p, end, 2, &tm.tm_mday) || !lit(&p, end, "-") || end - p < 3 || (tm.tm_mon = month_of(p)) < 0)
                return false;
            p += 3;
            if (!lit(&p, end, "-") || !digits(&p, end, 2, &yy) || !lit(&p, end, " ") || !hms(&p, end, &tm) ||
                !lit(&p, end, " GMT") || p != end)
                return false;
            tm.tm_year = yy; /* 19yy for now; moved into the 50-year window below */
            two_digit_year = true;
        }
    } else {
        /* asctime: Sun Nov  6 08:49:37 1994 */
        if (end - p < 24)
            return false;
        p += 4;
        if ((tm.tm_mon = month_of(p)) < 0)
            return false;
        p += 4;
        if (*p == ' ')
            ++p;
        if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1])) {
            if (!digits(&p, end, 2, &tm.tm_mday))
                return false;
        } else if (!digits(&p, end, 1, &tm.tm_mday)) {
            return false;
        }
        if (!lit(&p, end, " ") || !hms(&p, end, &tm) || !lit(&p, end, " ") || !digits(&p, end, 4, &tm.tm_year) || p != end)
            return false;
        tm.tm_year -= 1900;
    }
    if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return false;
    int mday = tm.tm_mday, mon = tm.tm_mon;
    int64_t v = (int64_t)timegm(&tm);
    if (two_digit_year) {
        /* RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is in the past century */
        struct tm now;
        time_t n = time(NULL);
        gmtime_r(&n, &now);
        int year = now.tm_year - now.tm_year % 100 + tm.tm_year % 100;
        if (year > now.tm_year + 50)
            year -= 100;
        else if (year <= now.tm_year - 50)
            year += 100;
        tm.tm_year = year;
        tm.tm_mday = mday;
        tm.tm_mon = mon;
        v = (int64_t)timegm(&tm);
    }
    if (tm.tm_mday != mday || tm.tm_mon != mon)
        return false; /* timegm normalised an impossible date such as 31 Feb */
    *t = v;
    return true;
}

int64_t cache_ttl_parse_age(const char *s, size_t len)
{
    const char *p = s, *end = s + len;

    /* RFC 9111 §5.1: a list is read as its first member, the others discarded; a value that is then
     * not a delta-seconds is ignored, as if there were no Age at all */
    while (p < end && (*p == ' ' || *p == '\t'))
        ++p;
    const char *m = p;
    while (p < end && *p != ',')
        ++p;
    while (p > m && (p[-1] == ' ' || p[-1] == '\t'))
        --p;
    return parse_delta(m, (size_t)(p - m));
}

bool cache_ttl_status_is_heuristic(int status)
{
    switch (status) {
    case 200:
    case 203:
    case 204:
    case 206:
    case 300:
    case 301:
    case 308:
    case 404:
    case 405:
    case 410:
    case 414:
    case 501:
        return true;
    default:
        return false;
    }
}

bool cache_ttl_status_is_known(int status)
{
    /* RFC 9110 §15, less 206 (never stored here) and 304 (never stored as such) */
    static const short known[] = {200, 201, 202, 203, 204, 205, 300, 301, 302, 303, 305, 307, 308, 400,
                                  401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414,
                                  415, 416, 417, 421, 422, 426, 500, 501, 502, 503, 504, 505};
    for (size_t i = 0; i != sizeof(known) / sizeof(known[0]); ++i)
        if (known[i] == status)
            return true;
    return false;
}

static bool status_understood(int status)
{
    /* a partial response is never stored (the origin is always asked for the whole object), nor a 304 as such */
    return status >= 200 && status < 600 && status != 206 && status != 304;
}

bool cache_ttl_may_serve_stale(unsigned flags)
{
    return (flags & (CACHE_TTL_MUST_REVALIDATE | CACHE_TTL_NO_CACHE | CACHE_TTL_ERROR_PAGE)) == 0;
}

int64_t cache_ttl_current_age(int64_t initial_age, int64_t response_time, int64_t now)
{
    int64_t resident = now - response_time;
    return initial_age + (resident > 0 ? resident : 0);
}

/* The lifetime of a response without explicit freshness, that is heuristically cacheable and has a
 * validator (RFC 9111 §4.2.2). */
static int64_t heuristic_lifetime(const cache_ttl_in_t *in, const cache_ttl_rules_t *b, int64_t date)
{
    int64_t lifetime = 0;
    if (b->default_ttl_set) {
        lifetime = (int64_t)b->default_ttl; /* the operator's choice, as CloudFront applies it */
    } else if (in->has_last_modified) {
        /* the customary 10 % of the time since the last change, capped at default_ttl */
        lifetime = date > in->last_modified ? (date - in->last_modified) / 10 : 0;
        if (lifetime > (int64_t)b->default_ttl)
            lifetime = (int64_t)b->default_ttl;
    }
    /* else an ETag only: no basis for a guess; stored so that it can be revalidated */
    return lifetime > (int64_t)b->min_ttl ? lifetime : (int64_t)b->min_ttl;
}

void cache_ttl_decide(const cache_ttl_in_t *in, const cache_ttl_rules_t *b, cache_ttl_out_t *out)
{
    const cache_cc_t *cc = &in->cc;
    unsigned flags = cc->flags;
    int64_t lifetime = -1;

    *out = (cache_ttl_out_t){0};
    out->stale_while_revalidate = cc->stale_while_revalidate > 0 ? cc->stale_while_revalidate : 0;
    out->stale_if_error = cc->stale_if_error > 0 ? cc->stale_if_error : 0;
    if (!in->has_cache_control && in->pragma_no_cache)
        flags |= CACHE_CC_NO_CACHE; /* RFC 9111 §5.4 defines it for requests; read the same in a response */

    /* age (RFC 9111 §4.2.3) */
    int64_t date = in->has_date ? in->date : in->response_time;
    int64_t apparent = in->response_time - date > 0 ? in->response_time - date : 0;
    int64_t delay = in->response_time - in->request_time > 0 ? in->response_time - in->request_time : 0;
    int64_t corrected = (in->age > 0 ? in->age : 0) + delay;
    out->initial_age = apparent > corrected ? apparent : corrected;

    /* what may never be stored by a shared cache (RFC 9111 §3) */
    if (!status_understood(in->status)) {
        out->why = "status";
        return;
    }
    if (flags & CACHE_CC_MUST_UNDERSTAND) {
        /* RFC 9111 §5.2.2.3: stored only by a cache that knows the status code's rules, which may then
         * ignore the no-store that comes with it for older caches */
        if (!cache_ttl_status_is_known(in->status)) {
            out->why = "must-understand";
            return;
        }
        flags &= ~CACHE_CC_NO_STORE;
    }
    if (flags & CACHE_CC_NO_STORE) {
        out->why = "no-store";
        return;
    }
    if (flags & CACHE_CC_PRIVATE) {
        out->why = "private";
        return;
    }
    if (in->has_set_cookie && !b->cache_set_cookie && !cache_ttl_cc_omits(cc, "set-cookie", sizeof("set-cookie") - 1)) {
        out->why = "set-cookie";
        return;
    }
    if (in->vary_star) {
        out->why = "vary-star";
        return;
    }
    bool auth_ok = (flags & (CACHE_CC_PUBLIC | CACHE_CC_MUST_REVALIDATE)) != 0 || cc->s_maxage >= 0;
    if (in->has_authorization && !auth_ok) {
        out->why = "authorization"; /* RFC 9111 §3.5 */
        return;
    }

    /* the origin's lifetime (RFC 9111 §4.2.1), then the behavior's clamp */
    if (cc->s_maxage >= 0)
        lifetime = cc->s_maxage;
    else if (cc->max_age >= 0)
        lifetime = cc->max_age;
    else if (in->has_expires)
        lifetime = in->expires_valid && in->expires > date ? in->expires - date : 0;
    if (lifetime >= 0) {
        if (lifetime < (int64_t)b->min_ttl)
            lifetime = (int64_t)b->min_ttl;
        if (lifetime > (int64_t)b->max_ttl)
            lifetime = (int64_t)b->max_ttl;
    } else if (!cache_ttl_status_is_heuristic(in->status)) {
        out->why = "no-lifetime";
        return;
    } else if (in->has_validator) {
        lifetime = heuristic_lifetime(in, b, date);
    } else if (b->min_ttl > 0) {
        lifetime = (int64_t)b->min_ttl; /* the operator's floor */
    } else {
        out->why = "no-freshness"; /* never fresh and never revalidatable: it could never be reused */
        return;
    }

    if (flags & (CACHE_CC_MUST_REVALIDATE | CACHE_CC_PROXY_REVALIDATE) || cc->s_maxage >= 0)
        out->flags |= CACHE_TTL_MUST_REVALIDATE;
    if (auth_ok)
        out->flags |= CACHE_TTL_AUTH_OK;
    if (flags & CACHE_CC_IMMUTABLE)
        out->flags |= CACHE_TTL_IMMUTABLE;
    if (flags & CACHE_CC_NO_CACHE) {
        out->flags |= CACHE_TTL_NO_CACHE;
        lifetime = 0;
    }
    /* a response that is never fresh and cannot be validated can never be used (RFC 9111 §4) */
    if (lifetime <= out->initial_age && !in->has_validator) {
        out->why = "stale-without-validator";
        return;
    }
    out->lifetime = lifetime;
    out->store = true;
}
