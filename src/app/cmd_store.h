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

#endif
