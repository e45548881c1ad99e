/*
 * tests/fuzz/fuzz_json.c: libFuzzer target for the JSON reader (reports/json.c), which reads the report
 * files an operator passes to `edgecache report popular --merge`.
 *
 * The input is the JSON text, copied to a buffer of exactly its size. The driver checks the promises of
 * json.h: parse returns a tree or NULL with a NUL-terminated message; the tree is no deeper than
 * REPORTS_JSON_MAX_DEPTH; strings are NUL-terminated at their length; an is_uint number equals its
 * double; reports_json_get finds each member of an object by its name (the first of duplicates); and
 * freeing the tree leaks nothing (LeakSanitizer). The writer is fed every string found.
 *
 * FUZZ_SOURCES: reports/json.c
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "reports/json.h"

static FILE *sink;

static void check(const reports_json_t *v, unsigned depth)
{
    if (depth > REPORTS_JSON_MAX_DEPTH + 1)
        __builtin_trap();
    switch (v->type) {
    case REPORTS_JSON_STRING:
        if (v->string == NULL || v->string[v->string_len] != '\0' || strlen(v->string) != v->string_len)
            __builtin_trap();
        reports_json_write_string(sink, v->string, v->string_len);
        break;
    case REPORTS_JSON_NUMBER:
        if (v->is_uint && (double)v->uint != v->number)
            __builtin_trap();
        break;
    case REPORTS_JSON_ARRAY:
    case REPORTS_JSON_OBJECT:
        for (size_t i = 0; i != v->num_items; ++i) {
            const reports_json_t *m = v->items[i];
            if (v->type == REPORTS_JSON_OBJECT) {
                if (m->name == NULL)
                    __builtin_trap();
                const reports_json_t *found = reports_json_get(v, m->name);
                if (found == NULL || strcmp(found->name, m->name) != 0)
                    __builtin_trap();
                reports_json_write_string(sink, m->name, strlen(m->name));
            }
            check(m, depth + 1);
        }
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (sink == NULL && (sink = fopen("/dev/null", "w")) == NULL)
        __builtin_trap();
    char *text = malloc(size != 0 ? size : 1);
    memcpy(text, data, size);
    char err[128];
    memset(err, 'x', sizeof(err));
    reports_json_t *v = reports_json_parse(text, size, err, sizeof(err));
    if (v == NULL) {
        if (memchr(err, '\0', sizeof(err)) == NULL)
            __builtin_trap();
    } else {
        check(v, 1);
        if (reports_json_get(v, "") != NULL && v->type != REPORTS_JSON_OBJECT)
            __builtin_trap();
        reports_json_free(v);
    }
    free(text);
    return 0;
}
