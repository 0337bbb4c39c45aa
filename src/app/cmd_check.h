/* cmd_check.h: chorus check-config (docs/operations.md, "Checking a configuration"). */
#ifndef CHORUS_CMD_CHECK_H
#define CHORUS_CMD_CHECK_H

/* Validates what chorus serve would with the same arguments (argv borrowed), environment
 * and config file, without listening, creating anything or opening the store for writing.
 * Returns the exit code: 0 valid (a summary on stdout), 2 not (serve's message on stderr). */
int cmd_check_config(int argc, char **argv);

#endif
