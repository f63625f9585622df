/* audit_cmd.h - `chatops-bot audit`: print or verify the audit log.
 *
 *   chatops-bot audit [--config FILE | --db PATH] [--since WHEN]
 *                     [--format jsonl|csv] [--verify]
 *
 * Opens the configured store read-only (bot/store_open.h) and runs
 * bot/domain/audit.h's export or verification on it.
 */
#ifndef BOT_AUDIT_CMD_H
#define BOT_AUDIT_CMD_H

/* argv[0] is "audit". Returns the exit status: 0 ok, 1 verification
 * failed / store error, 2 usage. */
int audit_main(int argc, char **argv);

#endif
