/* cmd_apikey.h: chorus apikey create|list|revoke, the API keys of app backends
 * (docs/api.md, "Backends"; docs/operations.md). */
#ifndef CHORUS_CMD_APIKEY_H
#define CHORUS_CMD_APIKEY_H

/* Runs chorus apikey on the arguments after "apikey" (argv borrowed) and returns the exit
 * code: 0 done, 1 failed (the reason on stderr), 2 bad usage. */
int cmd_apikey(int argc, char **argv);

#endif
