/*
 * edge/ctl_cli.c: `edgecache reload | drain | undrain | upgrade` (edge/ctl_cli.h).
 *
 * Each is one admin request whose answer is printed as it comes: the server words its own outcome
 * ("reloaded: generation 7", or the file:line:col of a file that does not validate), so the client adds
 * nothing but the exit status.
 */
#include <stdio.h>
#include <string.h>
#include "edge/adminc.h"
#include "edge/cli.h"
#include "edge/ctl_cli.h"
#include "edge/httpc.h"

#define TIMEOUT_MS 30000

static const char usage[] = "usage: edgecache reload|drain|undrain|upgrade [-c FILE] [--admin ADDR:PORT] [--token-file F]\n"
                            "\n"
                            "  reload   read the configuration file again; a file that does not validate is refused and\n"
                            "           the running configuration stays (as SIGHUP)\n"
                            "  drain    /healthz answers 503 from now on, so that health checks move clients away; the\n"
                            "           edge still serves whoever comes\n"
                            "  undrain  /healthz answers again\n"
                            "  upgrade  a new process (the binary on disk) takes the sockets and the cache over; this one\n"
                            "           drains and exits (as SIGUSR2)\n"
                            "\n"
                            "  -c FILE            the edge's configuration: admin.listen and admin.token_file\n"
                            "  --admin ADDR:PORT  the admin listener (default: admin.listen of -c)\n"
                            "  --token-file F     the file holding the bearer token (default: admin.token_file of -c)\n"
                            "\n"
                            "Exit status: 0 done; 1 refused or unreachable; 2 usage error.\n";

int edge_ctl_cli_main(int argc, char **argv)
{
    static const struct {
        const char *cmd, *method, *target;
    } cmds[] = {{"reload", "POST", "/reload"},
                {"drain", "POST", "/drain"},
                {"undrain", "DELETE", "/drain"},
                {"upgrade", "POST", "/upgrade"}};
    const char *file = NULL, *admin = NULL, *token_file = NULL;
    size_t c = 0;
    int nargs, ret;

    while (c != sizeof(cmds) / sizeof(cmds[0]) && strcmp(cmds[c].cmd, argv[0]) != 0)
        ++c;
    const edge_cli_opt_t opts[] = {{.name = "config", .letter = 'c', .kind = EDGE_CLI_STRING, .dest = &file},
                                   {.name = "admin", .kind = EDGE_CLI_STRING, .dest = &admin},
                                   {.name = "token-file", .kind = EDGE_CLI_STRING, .dest = &token_file},
                                   {0}};
    const edge_cli_t cli = {.prog = argv[0], .usage = usage, .opts = opts};
    if (c == sizeof(cmds) / sizeof(cmds[0]))
        return edge_cli_usage_error(&cli, "unknown control command");
    if ((ret = edge_cli_parse(&cli, argc, argv, &nargs)) != EDGE_CLI_CONTINUE)
        return ret;

    edge_adminc_t a;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char err[256], auth[4200], body[4096];
    if (edge_adminc_setup(&a, argv[0], file, admin, token_file) != 0)
        return 1;
    if (edge_httpc_resolve(a.hostport, &addr, &addrlen, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: admin address %s\n", argv[0], err);
        edge_adminc_dispose(&a);
        return 1;
    }
    const char *headers[1];
    size_t nh = 0;
    if (a.token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", a.token);
        headers[nh++] = auth;
    }
    edge_httpc_t conn;
    edge_httpc_response_t res = {.body = body, .body_cap = sizeof(body)};
    edge_httpc_request_t req = {.method = cmds[c].method,
                                .target = cmds[c].target,
                                .host = a.hostport,
                                .headers = headers,
                                .num_headers = nh,
                                .body = "",
                                .body_len = 0};
    edge_httpc_init(&conn, (const struct sockaddr *)&addr, addrlen);
    int r = edge_httpc_request(&conn, &req, &res, TIMEOUT_MS);
    edge_httpc_close(&conn);
    edge_adminc_dispose(&a);
    if (r != 0) {
        fprintf(stderr, "%s: %s %s on %s: %s\n", argv[0], cmds[c].method, cmds[c].target, a.hostport, edge_httpc_strerror(r));
        return 1;
    }
    fputs(body, res.status / 100 == 2 ? stdout : stderr);
    return res.status / 100 == 2 ? 0 : 1;
}
