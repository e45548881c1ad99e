/*
 * edge/adminc.c: the admin API's address and token for a subcommand (edge/adminc.h).
 *
 * The token goes into a header line, so it must be one line of visible characters; it is read from a file,
 * never from the command line, where other users of the machine could see it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "edge/adminc.h"
#include "edge/config.h"

#define MAX_TOKEN_FILE 4096 /* as the configuration reads admin.token_file */

/* The token in `path`: its content, whitespace trimmed. NULL after printing why. */
static char *read_token(const char *prog, const char *path)
{
    FILE *fp = fopen(path, "r");
    char *buf;
    size_t len;

    if (fp == NULL) {
        fprintf(stderr, "%s: --token-file %s: %s\n", prog, path, strerror(errno));
        return NULL;
    }
    if ((buf = malloc(MAX_TOKEN_FILE + 1)) == NULL) {
        fclose(fp);
        fprintf(stderr, "%s: out of memory\n", prog);
        return NULL;
    }
    len = fread(buf, 1, MAX_TOKEN_FILE + 1, fp);
    bool bad = ferror(fp) != 0;
    fclose(fp);
    if (bad || len > MAX_TOKEN_FILE) {
        fprintf(stderr, "%s: --token-file %s: %s\n", prog, path, bad ? "read error" : "larger than 4096 bytes");
        free(buf);
        return NULL;
    }
    size_t b = 0;
    while (b < len && strchr(" \t\r\n", buf[b]) != NULL)
        ++b;
    while (len > b && strchr(" \t\r\n", buf[len - 1]) != NULL)
        --len;
    memmove(buf, buf + b, len - b);
    buf[len - b] = '\0';
    /* the token goes into a header line: it must be one line of visible characters */
    bool ok = len != b;
    for (const char *q = buf; *q != '\0'; ++q)
        if ((unsigned char)*q < 0x21 || *q == 0x7f)
            ok = false;
    if (!ok) {
        fprintf(stderr, "%s: --token-file %s: expected one token of visible characters\n", prog, path);
        free(buf);
        return NULL;
    }
    return buf;
}

/* Fills what the flags left open from the configuration. 0, or -1 after printing why. */
static int from_config(edge_adminc_t *p, const char *prog, const char *file, bool need_addr, bool need_token)
{
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN];

    if (edge_config_load(&conf, file, err) != 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        return -1;
    }
    int ret = 0;
    if (need_addr && conf.admin.address != NULL)
        snprintf(p->hostport, sizeof(p->hostport), strchr(conf.admin.address, ':') != NULL ? "[%s]:%u" : "%s:%u",
                 conf.admin.address, (unsigned)conf.admin.port);
    if (need_token && conf.admin.token != NULL && (p->token = strdup(conf.admin.token)) == NULL) {
        fprintf(stderr, "%s: out of memory\n", prog);
        ret = -1;
    }
    edge_config_dispose(&conf);
    return ret;
}

int edge_adminc_setup(edge_adminc_t *a, const char *prog, const char *file, const char *admin, const char *token_file)
{
    memset(a, 0, sizeof(*a));
    if (admin != NULL)
        snprintf(a->hostport, sizeof(a->hostport), "%s", admin);
    if (token_file != NULL && (a->token = read_token(prog, token_file)) == NULL)
        return -1;
    if (file != NULL && from_config(a, prog, file, admin == NULL, token_file == NULL) != 0)
        goto Fail;
    if (a->hostport[0] == '\0') {
        fprintf(stderr, "%s: no admin listener: give --admin ADDR:PORT, or -c with admin.listen\n", prog);
        goto Fail;
    }
    if (a->token == NULL)
        fprintf(stderr, "%s: warning: no token (--token-file, or admin.token_file of -c): expect 401\n", prog);
    return 0;
Fail:
    edge_adminc_dispose(a);
    return -1;
}

void edge_adminc_dispose(edge_adminc_t *a)
{
    free(a->token);
    a->token = NULL;
}
