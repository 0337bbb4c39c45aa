/* cmd_check.h: chorus check-config (docs/operations.md, "Checking a configuration"). */
#ifndef CHORUS_CMD_CHECK_H
#define CHORUS_CMD_CHECK_H

#include "util/config.h"
#include "util/log.h"

/* A check of the layer above (the TLS certificate and key, which the I/O layer loads): 0,
 * or -1 once it logged serve's message. Borrows both. */
typedef int (*cmd_check_fn)(const chorus_config_t *cfg, log_t *log);

/* Validates what chorus serve would with the same arguments (argv borrowed), environment
 * and config file, without listening, creating anything or opening the store for writing;
 * io_check (NULL: none) runs last. Returns the exit code: 0 valid (a summary on stdout), 2
 * not (serve's message on stderr). */
int cmd_check_config(int argc, char **argv, cmd_check_fn io_check);

#endif
