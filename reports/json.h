/*
 * reports/json.h: the little JSON the reports need: writing strings, and parsing a report back (the
 * input of `edgecache report popular --merge`).
 *
 * The parser builds a tree in one malloc'd block per node. Input comes from files an operator passes:
 * it is never trusted (depth, lengths and escapes are checked, numbers that are not non-negative integers
 * below 2^64 are kept only as doubles).
 */
#ifndef REPORTS_JSON_H
#define REPORTS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define REPORTS_JSON_MAX_DEPTH 32

typedef enum en_reports_json_type_t {
    REPORTS_JSON_NULL,
    REPORTS_JSON_BOOL,
    REPORTS_JSON_NUMBER,
    REPORTS_JSON_STRING,
    REPORTS_JSON_ARRAY,
    REPORTS_JSON_OBJECT
} reports_json_type_t;

typedef struct st_reports_json_t reports_json_t;
struct st_reports_json_t {
    reports_json_type_t type;
    bool boolean;
    double number;
    bool is_uint; /* the number is an integer in [0, 2^64): `uint` holds it exactly */
    uint64_t uint;
    char *string; /* STRING: NUL-terminated (an embedded NUL is rejected); also an OBJECT member's name */
    size_t string_len;
    reports_json_t **items; /* ARRAY: the elements; OBJECT: the members, each with its name in `name` */
    size_t num_items;
    char *name; /* a member of an OBJECT: its name */
};

/**
 * Parses `len` bytes of `text`. Returns the tree (free with reports_json_free), or NULL with a message
 * naming the byte offset in `err` (`errlen` bytes).
 */
reports_json_t *reports_json_parse(const char *text, size_t len, char *err, size_t errlen);
void reports_json_free(reports_json_t *v);
/** The member `name` of an object, or NULL (also when `obj` is not an object). */
const reports_json_t *reports_json_get(const reports_json_t *obj, const char *name);

/** Writes `s` (`len` bytes) as a JSON string, quotes included; control characters are escaped. */
void reports_json_write_string(FILE *out, const char *s, size_t len);

#endif
