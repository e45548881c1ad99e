/*
 * edge/ctl_cli.h: `edgecache reload | drain | undrain | upgrade`: the operator's controls of a running edge,
 * through its admin API (POST /reload, POST /drain, DELETE /drain, POST /upgrade).
 */
#ifndef EDGE_CTL_CLI_H
#define EDGE_CTL_CLI_H

/** `argv[0]` is the command. Exit status: 0 done; 1 refused (a reload's file:line:col is printed) or
 * unreachable; 2 usage. */
int edge_ctl_cli_main(int argc, char **argv);

#endif
