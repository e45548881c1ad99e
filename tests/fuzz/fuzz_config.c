/*
 * tests/fuzz/fuzz_config.c: libFuzzer target for the YAML configuration loader (edge/config*.c over
 * libyaml): what `edgecache check` and `serve -c` read from an operator's file.
 *
 * The input is the YAML text. The driver checks the promises of config.h: edge_config_parse returns 0
 * or -1; on -1 the message is one NUL-terminated line within EDGE_CONF_ERRLEN that starts with the
 * name given, and `conf` holds nothing to free (LeakSanitizer checks that); on 0 the configuration
 * is disposed of without a leak. Relative paths resolve against a directory that does not exist, so
 * the loader reads no file the input names relatively; absolute ones it may read (never write).
 *
 * FUZZ_SOURCES: edge/config.c edge/config_admin.c edge/config_behavior.c edge/config_limits.c edge/config_listen.c
 * FUZZ_SOURCES: edge/config_origin.c edge/config_yaml.c edge/behavior.c common/cidr.c common/log.c cache/pattern.c
 * FUZZ_SOURCES: cache/key.c errorpages/errorpages.c build-fuzz/errorpages/pages.c edge/config_sites.c
 * FUZZ_SOURCES: edge/tls_profile.c edge/config_tls.c
 * FUZZ_LIBS: -lyaml -lssl -lcrypto
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "edge/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';

    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN];
    err[0] = '\0';
    int ret = edge_config_parse(&conf, "fuzz.yaml", "/nonexistent-fuzz-dir", text, size, err);
    if (ret == 0) {
        edge_config_dispose(&conf);
    } else {
        if (ret != -1 || memchr(err, '\0', sizeof(err)) == NULL || strncmp(err, "fuzz.yaml", 9) != 0)
            __builtin_trap();
    }
    free(text);
    return 0;
}
