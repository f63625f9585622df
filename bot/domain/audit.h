/* audit.h - export and verify the tamper-evident audit log of the store.
 *
 * Events belong to chains (struct store_audit_row: chain 0 is the store's
 * log chain, a gate's chain is its id; SQLite keeps every event in chain
 * 0). Every event carries the SHA-256 of the previous one of its chain
 * (prev_hash) and its own hash over prev_hash and its canonical fields
 * (chain_hash(), bot/domain/chain.h), so editing, inserting or deleting a
 * row breaks its chain at that row; an event of a gate's chain must name
 * that gate.
 * Limitation: removing the newest events of a chain (truncating its tail,
 * or a whole chain) leaves valid shorter chains; compare the exported
 * hashes with an earlier export to detect that.
 * The command line around it is bot/audit_cmd.h.
 */
#ifndef BOT_AUDIT_H
#define BOT_AUDIT_H

#include <stdint.h>
#include <stdio.h>

#include "bot/base/error.h"
#include "adapters/store.h"

enum audit_format { AUDIT_JSONL = 0, AUDIT_CSV };

/* Write every event with at >= since_ms (0 = all) to out, oldest first
 * (each chain in seq order, chains interleaved by time).
 * JSONL: one object per line {seq, chain (null for the log chain, else the
 * gate id), at, at_ms, gate_id, actor, kind, from, to, detail (object),
 * prev_hash, hash}. CSV: RFC 4180 with a header line, columns seq, at,
 * gate_id, actor, kind, from, to, detail, prev_hash, hash, chain (empty for
 * the log chain).
 * *n (may be NULL) receives the number of events written. */
int audit_export(struct store *s, int64_t since_ms, enum audit_format fmt, FILE *out,
		 size_t *n, struct bot_error *err);

/* Recompute every chain. 0 when all are intact (*n = events checked; may
 * be NULL); BOT_ECORRUPT naming the first bad event in err ("audit log
 * chain broken at seq 17: ...", "audit chain of gate 12 broken at seq 3:
 * ..."), and *bad_chain and *bad_seq (each may be NULL) set to its chain
 * (0 = the log chain) and seq. */
int audit_verify(struct store *s, size_t *n, uint64_t *bad_chain, int64_t *bad_seq,
		 struct bot_error *err);

/* "2026-11-24T09:00:00Z", "2026-11-24", "2026-11-24T09:00:00.123Z", or a
 * duration back from now ("30m", "2h", "7d", "90s"). now_ms is the
 * reference for durations. 0 or BOT_EINVAL. */
int audit_parse_since(const char *s, int64_t now_ms, int64_t *out);

#endif
