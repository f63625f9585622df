/* chain.h - the audit chain's canonical form (prefix chain_).
 *
 * Every audit event is sealed with the SHA-256 of its canonical form, which
 * includes the hash of the event before it: changing, removing or
 * reordering any event breaks every hash after it. This is domain
 * knowledge, written once: every store backend seals with it when it
 * appends (inside its atomic step, where it knows the previous hash), and
 * `chatops-bot audit --verify` (audit.c) checks with it.
 *
 * Canonical form: prev_hash, seq, gate_id, at, actor, kind, from, to,
 * detail, each written as "<len>:<bytes>;" (NULL, and gate_id 0, as "~;");
 * integers in decimal. The first event's prev_hash is CHAIN_GENESIS.
 */
#ifndef BOT_DOMAIN_CHAIN_H
#define BOT_DOMAIN_CHAIN_H

#include "adapters/store.h"

#define CHAIN_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

/* Lower-case hex SHA-256 (64 chars + NUL) of r's canonical form; r->hash
 * is not read. BOT_EOK, or BOT_ENOMEM if the digest cannot be made. */
int chain_hash(const struct store_audit_row *r, char out[65]);

#endif
