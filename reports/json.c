/*
 * reports/json.c: a recursive-descent JSON parser (RFC 8259) for the reports' own output, and the string
 * writer.
 *
 * The parser recurses at most REPORTS_JSON_MAX_DEPTH levels, so a file of "[[[[..." cannot exhaust the
 * stack; every error frees what was built so far.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <h2o.h>
#include "reports/json.h"

typedef struct st_parser_t {
    const char *p, *start, *end;
    char *err;
    size_t errlen;
    bool failed;
} parser_t;

static void fail(parser_t *ps, const char *fmt, ...)
{
    if (ps->failed)
        return;
    ps->failed = true;
    int n = snprintf(ps->err, ps->errlen, "at byte %zu: ", (size_t)(ps->p - ps->start));
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < ps->errlen)
        vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

static void skip_ws(parser_t *ps)
{
    while (ps->p != ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ++ps->p;
}

static reports_json_t *new_node(reports_json_type_t type)
{
    reports_json_t *v = h2o_mem_alloc(sizeof(*v));
    memset(v, 0, sizeof(*v));
    v->type = type;
    return v;
}

void reports_json_free(reports_json_t *v)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i != v->num_items; ++i)
        reports_json_free(v->items[i]);
    free(v->items);
    free(v->string);
    free(v->name);
    free(v);
}

static void put_utf8(char *out, size_t *n, uint32_t cp)
{
    if (cp < 0x80) {
        out[(*n)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*n)++] = (char)(0xc0 | cp >> 6);
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out[(*n)++] = (char)(0xe0 | cp >> 12);
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    } else {
        out[(*n)++] = (char)(0xf0 | cp >> 18);
        out[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[(*n)++] = (char)(0x80 | (cp & 0x3f));
    }
}

static int hex4(parser_t *ps, uint32_t *out)
{
    *out = 0;
    for (int i = 0; i != 4; ++i, ++ps->p) {
        if (ps->p == ps->end)
            return -1;
        char c = *ps->p;
        uint32_t d = c >= '0' && c <= '9'   ? (uint32_t)(c - '0')
                     : c >= 'a' && c <= 'f' ? (uint32_t)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (uint32_t)(c - 'A' + 10)
                                            : 16;
        if (d == 16)
            return -1;
        *out = *out << 4 | d;
    }
    return 0;
}

/* A string at ps->p (the opening quote); the decoded text (malloc'd) and its length. */
static char *parse_string(parser_t *ps, size_t *len)
{
    ++ps->p;
    /* decoded text is never longer than its escaped form: one allocation of the remaining length */
    const char *close = ps->p;
    while (close != ps->end && *close != '"')
        close += *close == '\\' && close + 1 != ps->end ? 2 : 1;
    if (close >= ps->end) {
        fail(ps, "unterminated string");
        return NULL;
    }
    char *out = h2o_mem_alloc((size_t)(close - ps->p) + 1);
    size_t n = 0;
    while (ps->p != close) {
        unsigned char c = (unsigned char)*ps->p++;
        if (c < 0x20) {
            fail(ps, "control character in a string");
            goto Fail;
        }
        if (c != '\\') {
            out[n++] = (char)c;
            continue;
        }
        switch (*ps->p++) {
        case '"':
            out[n++] = '"';
            break;
        case '\\':
            out[n++] = '\\';
            break;
        case '/':
            out[n++] = '/';
            break;
        case 'b':
            out[n++] = '\b';
            break;
        case 'f':
            out[n++] = '\f';
            break;
        case 'n':
            out[n++] = '\n';
            break;
        case 'r':
            out[n++] = '\r';
            break;
        case 't':
            out[n++] = '\t';
            break;
        case 'u': {
            uint32_t cp, lo;
            if (hex4(ps, &cp) != 0 || ps->p > close) {
                fail(ps, "bad \\u escape");
                goto Fail;
            }
            if (cp >= 0xd800 && cp < 0xdc00) { /* a surrogate pair: 6 escaped bytes yield at most 4 */
                if (close - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' || (ps->p += 2, hex4(ps, &lo) != 0) || lo < 0xdc00 ||
                    lo >= 0xe000) {
                    fail(ps, "bad surrogate pair");
                    goto Fail;
                }
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                fail(ps, "lone low surrogate");
                goto Fail;
            }
            if (cp == 0) {
                fail(ps, "NUL in a string");
                goto Fail;
            }
            put_utf8(out, &n, cp);
            break;
        }
        default:
            fail(ps, "bad escape");
            goto Fail;
        }
    }
    ++ps->p; /* the closing quote */
    out[n] = '\0';
    *len = n;
    return out;
Fail:
    free(out);
    return NULL;
}

static reports_json_t *parse_value(parser_t *ps, unsigned depth);

static void push(reports_json_t *parent, reports_json_t *child)
{
    parent->items = h2o_mem_realloc(parent->items, sizeof(*parent->items) * (parent->num_items + 1));
    parent->items[parent->num_items++] = child;
}

static reports_json_t *parse_container(parser_t *ps, unsigned depth, bool object)
{
    reports_json_t *v = new_node(object ? REPORTS_JSON_OBJECT : REPORTS_JSON_ARRAY);
    char close = object ? '}' : ']';
    ++ps->p;
    skip_ws(ps);
    if (ps->p != ps->end && *ps->p == close) {
        ++ps->p;
        return v;
    }
    for (;;) {
        char *name = NULL;
        size_t name_len;
        skip_ws(ps);
        if (object) {
            if (ps->p == ps->end || *ps->p != '"') {
                fail(ps, "expected a member name");
                goto Fail;
            }
            if ((name = parse_string(ps, &name_len)) == NULL)
                goto Fail;
            skip_ws(ps);
            if (ps->p == ps->end || *ps->p != ':') {
                free(name);
                fail(ps, "expected ':'");
                goto Fail;
            }
            ++ps->p;
        }
        reports_json_t *item = parse_value(ps, depth + 1);
        if (item == NULL) {
            free(name);
            goto Fail;
        }
        item->name = name;
        push(v, item);
        skip_ws(ps);
        if (ps->p != ps->end && *ps->p == ',') {
            ++ps->p;
            continue;
        }
        if (ps->p != ps->end && *ps->p == close) {
            ++ps->p;
            return v;
        }
        fail(ps, "expected ',' or '%c'", close);
        goto Fail;
    }
Fail:
    reports_json_free(v);
    return NULL;
}

static reports_json_t *parse_number(parser_t *ps)
{
    const char *s = ps->p;
    bool integral = true;
    if (ps->p != ps->end && *ps->p == '-')
        ++ps->p;
    while (ps->p != ps->end && ((*ps->p >= '0' && *ps->p <= '9') || *ps->p == '.' || *ps->p == 'e' || *ps->p == 'E' ||
                                *ps->p == '+' || *ps->p == '-')) {
        if (*ps->p == '.' || *ps->p == 'e' || *ps->p == 'E')
            integral = false;
        ++ps->p;
    }
    char buf[64];
    size_t n = (size_t)(ps->p - s);
    if (n == 0 || n >= sizeof(buf)) {
        fail(ps, "bad number");
        return NULL;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *endp;
    reports_json_t *v = new_node(REPORTS_JSON_NUMBER);
    v->number = strtod(buf, &endp);
    if (*endp != '\0' || !isfinite(v->number)) {
        free(v);
        fail(ps, "bad number");
        return NULL;
    }
    if (integral && buf[0] != '-') {
        errno = 0;
        unsigned long long u = strtoull(buf, &endp, 10);
        if (errno == 0 && *endp == '\0') {
            v->is_uint = true;
            v->uint = u;
        }
    }
    return v;
}

static bool literal(parser_t *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return false;
    ps->p += n;
    return true;
}

static reports_json_t *parse_value(parser_t *ps, unsigned depth)
{
    reports_json_t *v;
    if (depth > REPORTS_JSON_MAX_DEPTH) {
        fail(ps, "nested too deeply");
        return NULL;
    }
    skip_ws(ps);
    if (ps->p == ps->end) {
        fail(ps, "unexpected end");
        return NULL;
    }
    switch (*ps->p) {
    case '{':
        return parse_container(ps, depth, true);
    case '[':
        return parse_container(ps, depth, false);
    case '"': {
        size_t len;
        char *s = parse_string(ps, &len);
        if (s == NULL)
            return NULL;
        v = new_node(REPORTS_JSON_STRING);
        v->string = s;
        v->string_len = len;
        return v;
    }
    default:
        if (literal(ps, "null"))
            return new_node(REPORTS_JSON_NULL);
        if (literal(ps, "true") || literal(ps, "false")) {
            v = new_node(REPORTS_JSON_BOOL);
            v->boolean = ps->p[-1] == 'e' && ps->p[-2] == 'u';
            return v;
        }
        return parse_number(ps);
    }
}

reports_json_t *reports_json_parse(const char *text, size_t len, char *err, size_t errlen)
{
    parser_t ps = {text, text, text + len, err, errlen, false};
    reports_json_t *v = parse_value(&ps, 0);
    if (v == NULL)
        return NULL;
    skip_ws(&ps);
    if (ps.p != ps.end) {
        fail(&ps, "trailing data");
        reports_json_free(v);
        return NULL;
    }
    return v;
}

const reports_json_t *reports_json_get(const reports_json_t *obj, const char *name)
{
    if (obj == NULL || obj->type != REPORTS_JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i != obj->num_items; ++i)
        if (strcmp(obj->items[i]->name, name) == 0)
            return obj->items[i];
    return NULL;
}

void reports_json_write_string(FILE *out, const char *s, size_t len)
{
    fputc('"', out);
    for (size_t i = 0; i != len; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\u%04x", c);
        else if (c == '<')
            fputs("\\u003c", out); /* safe inside an HTML <script> element too */
        else
            fputc(c, out);
    }
    fputc('"', out);
}
