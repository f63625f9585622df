/* audit.h - export and verify the tamper-evident audit log of the store.
 *
 * Every audit event carries the SHA-256 of the previous one (prev_hash) and
 * its own hash over prev_hash and its canonical fields (chain_hash(),
 * bot/domain/chain.h),
 * so editing, inserting or deleting a row breaks the chain at that row.
 * Limitation: removing the newest events (truncating the tail) leaves a
 * valid shorter chain; compare the exported head hash with an earlier
 * export to detect that.
 * The command line around it is bot/audit_cmd.h.
 */
#ifndef BOT_AUDIT_H
#define BOT_AUDIT_H

#include <stdint.h>
#include <stdio.h>

#include "bot/base/error.h"
#include "adapters/store.h"

enum audit_format { AUDIT_JSONL = 0, AUDIT_CSV };

/* Write every event with at >= since_ms (0 = all) to out, oldest first.
 * JSONL: one object per line {seq, at, at_ms, gate_id, actor, kind, from,
 * to, detail (object), prev_hash, hash}. CSV: RFC 4180 with a header line.
 * *n (may be NULL) receives the number of events written. */
int audit_export(struct store *s, int64_t since_ms, enum audit_format fmt, FILE *out,
		 size_t *n, struct bot_error *err);

/* Recompute the whole chain. 0 when intact (*n = events checked; may be
 * NULL); BOT_ECORRUPT naming the first bad seq in err ("audit chain broken at
 * seq 17: ..."), and *bad_seq (may be NULL) set to it. */
int audit_verify(struct store *s, size_t *n, int64_t *bad_seq, struct bot_error *err);

/* "2026-11-24T09:00:00Z", "2026-11-24", "2026-11-24T09:00:00.123Z", or a
 * duration back from now ("30m", "2h", "7d", "90s"). now_ms is the
 * reference for durations. 0 or BOT_EINVAL. */
int audit_parse_since(const char *s, int64_t now_ms, int64_t *out);

#endif
