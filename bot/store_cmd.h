/* store_cmd.h - the `chatops-bot store` subcommand (prefix store_cmd_):
 * make the DynamoDB table of a store (`store init`) and move a SQLite
 * store into one with its audit chain intact (`store copy`).
 *
 * Both are tools: they open their own loop and AWS backend (bot_tool,
 * store_open.h) and call the store synchronously. Output is for people,
 * on stdout; problems on stderr.
 */
#ifndef BOT_STORE_CMD_H
#define BOT_STORE_CMD_H

/* argv[0] is "store". Returns the exit status: 0 done, 1 failed or refused
 * (the reason is printed), 2 usage or configuration errors. */
int store_cmd_main(int argc, char **argv);

#endif
