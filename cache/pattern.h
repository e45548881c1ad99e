/*
 * cache/pattern.h: CloudFront-style path patterns.
 *
 * '*' matches any run of characters, '/' included; '?' matches exactly one character; everything else
 * matches itself, case-sensitively. A pattern without a leading '/' matches as if it had one, as
 * CloudFront's behaviors do: "images/x.png" and "/images/x.png" are the same pattern.
 */
#ifndef CACHE_PATTERN_H
#define CACHE_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

/** True when `pattern` (NUL-terminated) matches the `len` bytes at `s`. Pure; any thread. */
bool cache_pattern_match(const char *pattern, const char *s, size_t len);

/**
 * True when every path that `later` matches is also matched by `earlier`, so that a behavior with
 * `later` listed after one with `earlier` can never be chosen. Sound but not complete: a true answer
 * is always right; some covered patterns with several '*' are not detected.
 */
bool cache_pattern_covers(const char *earlier, const char *later);

#endif
