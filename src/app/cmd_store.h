/* cmd_store.h: the commands that work on the database without serving: chorus export,
 * import, migrate and backup (docs/operations.md, "Moving and backing up data"). */
#ifndef CHORUS_CMD_STORE_H
#define CHORUS_CMD_STORE_H

/* Each runs one command on the arguments after its name (argv borrowed) and returns the
 * process's exit code: 0 done, 1 failed (the reason on stderr), 2 bad usage. */
int cmd_store_export(int argc, char **argv);
int cmd_store_import(int argc, char **argv);
int cmd_store_migrate(int argc, char **argv);
int cmd_store_backup(int argc, char **argv);

#include "store/store.h"

/* A database opened as these commands open it, for other commands (chorus apikey): the
 * backend the server would use, created and migrated when missing. */
typedef struct cmd_store_db_s cmd_store_db_t;

/* Loads the server options in argv (borrowed; the command's own flags removed) and opens
 * the database. Returns a new handle, or NULL with the exit code in *code (2: bad usage,
 * 1: the database could not be opened; the reason printed, prefixed "chorus name:"). */
cmd_store_db_t *cmd_store_db_open(const char *name, int argc, char **argv, int *code);

/* Runs req (borrowed) alone in one transaction, as the store worker would. Returns
 * req->err (STORE_EIO when the transaction failed). */
int cmd_store_db_run(cmd_store_db_t *db, store_req_t *req);

/* Closes the database and frees db; NULL is a no-op. */
void cmd_store_db_close(cmd_store_db_t *db);

#endif
