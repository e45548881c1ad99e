/*
 * edge/behavior.c: the choice of a cache behavior for a request's path, first match wins.
 *
 * Run-time matching lives apart from the configuration loader: the loader (edge/config*.c) runs once before any
 * thread starts, this runs on every request. The order is the operator's: the loader refuses a behavior that an
 * earlier one covers, so the first match is also the only intended one.
 */
#include "cache/pattern.h"
#include "edge/behavior.h"

const edge_conf_behavior_t *edge_behavior_match(const edge_conf_behavior_t *behaviors, size_t num, const char *path, size_t len)
{
    for (size_t i = 0; i != num; ++i)
        if (cache_pattern_match(behaviors[i].path, path, len))
            return &behaviors[i];
    return NULL;
}
