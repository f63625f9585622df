/* dynamodb_req.c - pieces of the DynamoDB store's requests (see
 * dynamodb_req.h). Pure: values in, DynamoDB JSON out. */
#include "adapters/store/dynamodb_req.h"
#include "adapters/aws/ddb.h"
#include "adapters/store/dynamodb_item.h"
#include "bot/domain/chain.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* ---- expressions -------------------------------------------------------- */

void ddb__ex_init(struct ddb__ex *e)
{
	memset(e, 0, sizeof *e);
	e->names = json_object();
	e->values = json_object();
	e->bad = !e->names || !e->values;
}

void ddb__ex_free(struct ddb__ex *e)
{
	json_decref(e->names);
	json_decref(e->values);
	e->names = e->values = NULL;
}

/* Register #attr. */
void ddb__ex_name(struct ddb__ex *e, const char *attr)
{
	char ph[64];
	snprintf(ph, sizeof ph, "#%s", attr);
	if (!e->bad && json_object_set_new(e->names, ph, json_string(attr)) != 0)
		e->bad = true;
}

/* Register the value placeholder ph (":x"); v is stolen. */
void ddb__ex_val(struct ddb__ex *e, const char *ph, json_t *v)
{
	if (!v || e->bad || json_object_set_new(e->values, ph, v) != 0) {
		if (v && !e->bad)
			json_decref(v);
		e->bad = true;
	}
}

void ddb__ex_append(struct ddb__ex *e, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(e->set + e->len, sizeof e->set - e->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof e->set - e->len)
		e->bad = true;
	else
		e->len += (size_t)n;
}

/* SET #attr = :attr (v stolen; NULL = leave it: nothing is added). */
void ddb__ex_set(struct ddb__ex *e, const char *attr, json_t *v)
{
	char ph[64];
	if (!v)
		return;
	snprintf(ph, sizeof ph, ":%s", attr);
	ddb__ex_name(e, attr);
	ddb__ex_val(e, ph, v);
	ddb__ex_append(e, "%s#%s = %s", e->len ? ", " : "", attr, ph);
}

void ddb__ex_set_s(struct ddb__ex *e, const char *attr, const char *s)
{
	if (s)
		ddb__ex_set(e, attr, aws_ddb_s(s));
}

/* Put the expression parts into a transaction item / request. */
void ddb__ex_into(struct ddb__ex *e, json_t *obj, const char *cond)
{
	if (e->bad)
		return;
	if (e->len && json_object_set_new(obj, "UpdateExpression",
					  json_sprintf("SET %s", e->set)) != 0)
		e->bad = true;
	if (cond && json_object_set_new(obj, "ConditionExpression", json_string(cond)) != 0)
		e->bad = true;
	if (json_object_size(e->names) &&
	    json_object_set(obj, "ExpressionAttributeNames", e->names) != 0)
		e->bad = true;
	if (json_object_size(e->values) &&
	    json_object_set(obj, "ExpressionAttributeValues", e->values) != 0)
		e->bad = true;
}

/* One TransactWriteItems entry: {verb: {TableName, Key|Item, ...}}. key
 * (or item for Put) is stolen. NULL on OOM. */
json_t *ddb__tx_item(const char *table, const char *verb, json_t *key, struct ddb__ex *e,
		     const char *cond)
{
	json_t *inner = json_pack("{s:s, s:o, s:s}", "TableName", table,
				  strcmp(verb, "Put") == 0 ? "Item" : "Key", key,
				  "ReturnValuesOnConditionCheckFailure", "ALL_OLD");
	if (!inner)
		return NULL;
	ddb__ex_into(e, inner, cond);
	if (e->bad) {
		json_decref(inner);
		return NULL;
	}
	return json_pack("{s:o}", verb, inner);
}

/* The item of one audit row (new reference; NULL on OOM). */
json_t *ddb__audit_item(const struct store_audit_row *r, int64_t ord)
{
	json_t *it = ddb_key_audit_event(ord, r->chain, r->seq);
	bool bad = !it;

	bad = bad || json_object_set_new(it, "seq", aws_ddb_n(r->seq)) ||
	      json_object_set_new(it, "chain", aws_ddb_n((int64_t)r->chain)) ||
	      json_object_set_new(it, "ord", aws_ddb_n(ord)) ||
	      json_object_set_new(it, "at", aws_ddb_n(r->at)) ||
	      json_object_set_new(it, "actor", aws_ddb_s(r->actor)) ||
	      json_object_set_new(it, "kind", aws_ddb_s(r->kind)) ||
	      json_object_set_new(it, "detail", aws_ddb_s(r->detail)) ||
	      json_object_set_new(it, "prev_hash", aws_ddb_s(r->prev_hash)) ||
	      json_object_set_new(it, "hash", aws_ddb_s(r->hash));
	if (!bad && r->gate_id)
		bad = json_object_set_new(it, "gate_id", aws_ddb_n((int64_t)r->gate_id)) != 0;
	if (!bad && r->from_state)
		bad = json_object_set_new(it, "from_state", aws_ddb_s(r->from_state)) != 0;
	if (!bad && r->to_state)
		bad = json_object_set_new(it, "to_state", aws_ddb_s(r->to_state)) != 0;
	if (bad) {
		json_decref(it);
		return NULL;
	}
	return it;
}

/* ---- chain tails ---------------------------------------------------------- */

static void head_empty(struct ddb__head *h, uint64_t chain)
{
	h->chain = chain;
	h->seq = h->ord = 0;
	snprintf(h->hash, sizeof h->hash, "%s", CHAIN_GENESIS);
}

/* seq/hash/ord attributes named s, hs, o (a missing ord reads as 0). */
static void head_from(const json_t *item, const char *s, const char *hs, const char *o,
		      uint64_t chain, struct ddb__head *h)
{
	const char *hash = aws_ddb_get_s(item, hs);

	head_empty(h, chain);
	if (!item || !aws_ddb_get_n(item, s, &h->seq) || h->seq <= 0 || !hash ||
	    strlen(hash) != 64) {
		h->seq = 0;
		return;
	}
	snprintf(h->hash, sizeof h->hash, "%s", hash);
	if (!aws_ddb_get_n(item, o, &h->ord) || h->ord < 0)
		h->ord = 0;
}

void ddb__head_of_gate(const json_t *gate, uint64_t id, struct ddb__head *h)
{
	head_from(gate, "a_seq", "a_hash", "a_ord", id, h);
}

void ddb__head_of_log(const json_t *item, struct ddb__head *h)
{
	head_from(item, "seq", "hash", "ord", 0, h);
}

int ddb__append_events(const char *table, json_t *tx, const struct ddb__head *h,
		       const struct ddb__event *ev, size_t n, int64_t now,
		       struct ddb__head *tail)
{
	char prev[65], hash[65];
	int64_t seq = h->seq, ord = now > h->ord ? now : h->ord;
	struct ddb__ex e;
	json_t *it, *item;

	snprintf(prev, sizeof prev, "%s", h->hash);
	for (size_t i = 0; i < n; i++) {
		struct store_audit_row r = {
			.chain = h->chain, .seq = ++seq, .gate_id = ev[i].gate_id, .at = now,
			.actor = ev[i].actor ? ev[i].actor : "system", .kind = ev[i].kind,
			.from_state = ev[i].from, .to_state = ev[i].to,
			.detail = ev[i].detail ? ev[i].detail : "{}", .prev_hash = prev,
		};
		if (ord > DDB_AUDIT_ORD_MAX || seq > DDB_AUDIT_SEQ_MAX)
			return BOT_EINVAL;
		if (chain_hash(&r, hash) != BOT_EOK)
			return BOT_ENOMEM;
		r.hash = hash;
		item = ddb__audit_item(&r, ord);
		if (!item)
			return BOT_ENOMEM;
		ddb__ex_init(&e);
		ddb__ex_name(&e, "pk");
		it = ddb__tx_item(table, "Put", item, &e, "attribute_not_exists(#pk)");
		ddb__ex_free(&e);
		if (!it || json_array_append_new(tx, it) != 0)
			return BOT_ENOMEM;
		memcpy(prev, hash, sizeof prev);
	}
	tail->chain = h->chain;
	tail->seq = seq;
	tail->ord = ord;
	memcpy(tail->hash, prev, sizeof tail->hash);
	return BOT_EOK;
}

json_t *ddb__log_head_item(const char *table, const struct ddb__head *old,
			   const struct ddb__head *tail)
{
	struct ddb__ex e;
	json_t *it;

	ddb__ex_init(&e);
	ddb__ex_set(&e, "seq", aws_ddb_n(tail->seq));
	ddb__ex_set(&e, "hash", aws_ddb_s(tail->hash));
	ddb__ex_set(&e, "ord", aws_ddb_n(tail->ord));
	if (old->seq) {
		ddb__ex_val(&e, ":oldseq", aws_ddb_n(old->seq));
		it = ddb__tx_item(table, "Update", ddb_key_audit_head(), &e, "#seq = :oldseq");
	} else {
		ddb__ex_name(&e, "pk");
		it = ddb__tx_item(table, "Update", ddb_key_audit_head(), &e,
				  "attribute_not_exists(#pk)");
	}
	ddb__ex_free(&e);
	return it;
}

const char *ddb__gate_head_sets(struct ddb__ex *e, const struct ddb__head *old,
				const struct ddb__head *tail)
{
	ddb__ex_set(e, "a_seq", aws_ddb_n(tail->seq));
	ddb__ex_set(e, "a_hash", aws_ddb_s(tail->hash));
	ddb__ex_set(e, "a_ord", aws_ddb_n(tail->ord));
	ddb__ex_val(e, ":olda", aws_ddb_n(old->seq));
	/* an imported gate's chain may have no a_seq yet: empty, as a_seq 0 */
	return old->seq ? "#a_seq = :olda" : "(attribute_not_exists(#a_seq) OR #a_seq = :olda)";
}

uint32_t ddb__random32(void)
{
	uint32_t v = 0;
	if (uv_random(NULL, NULL, &v, sizeof v, 0, NULL) != 0)
		v = (uint32_t)rand(); /* jitter only: any spread will do */
	return v;
}

/* A random ClientRequestToken (idempotency of the aws client's retries). */
json_t *ddb__request_token(void)
{
	char tok[33];
	for (int i = 0; i < 4; i++)
		snprintf(tok + i * 8, 9, "%08" PRIx32, ddb__random32());
	return json_string(tok);
}

/* The SET list of a transition c, applied at now. */
void ddb__change_sets(struct ddb__ex *e, const struct store_change *c, int64_t now)
{
	const char *to = store_state_name(c->to);

	ddb__ex_set_s(e, "state", to);
	ddb__ex_name(e, "gstate");
	ddb__ex_append(e, ", #gstate = :state");
	ddb__ex_set(e, "updated_at", aws_ddb_n(now));
	if (c->from == GATE_PENDING) {
		ddb__ex_name(e, "decision");
		ddb__ex_append(e, ", #decision = :state");
		ddb__ex_set(e, "decided_at", aws_ddb_n(now));
	}
	ddb__ex_set_s(e, "decided_by", c->decided_by);
	ddb__ex_set_s(e, "decision_detail", c->decision_detail);
	ddb__ex_set_s(e, "exec_intent", c->exec_intent);
	if (c->set_exec_from)
		ddb__ex_set(e, "exec_from", aws_ddb_n(c->exec_from));
	if (c->to == GATE_EXECUTING) {
		ddb__ex_set(e, "exec_started_at", aws_ddb_n(now));
		ddb__ex_set_s(e, "exec_owner", c->owner);
		if (c->lease_ms)
			ddb__ex_set(e, "exec_lease_until", aws_ddb_n(now + (int64_t)c->lease_ms));
	}
	ddb__ex_set_s(e, "result_kind", c->result_kind);
	ddb__ex_set_s(e, "result_detail", c->result_detail);
	ddb__ex_set_s(e, "aws_code", c->aws_code);
	ddb__ex_set_s(e, "aws_request_id", c->aws_request_id);
	if (store_state_final(c->to))
		ddb__ex_set(e, "finished_at", aws_ddb_n(now));
}

json_t *ddb__change_item(const char *table, const struct store_change *c, int64_t now,
			 const struct ddb__head *old, const struct ddb__head *tail)
{
	struct ddb__ex e;
	char cond[160];
	json_t *it;

	ddb__ex_init(&e);
	ddb__change_sets(&e, c, now);
	ddb__ex_name(&e, "version");
	ddb__ex_val(&e, ":one", aws_ddb_n(1));
	ddb__ex_append(&e, ", #version = #version + :one");
	ddb__ex_val(&e, ":from", aws_ddb_s(store_state_name(c->from)));
	snprintf(cond, sizeof cond, "#state = :from AND %s", ddb__gate_head_sets(&e, old, tail));
	it = ddb__tx_item(table, "Update", ddb_key_gate(c->gate_id), &e, cond);
	ddb__ex_free(&e);
	return it;
}

int ddb__push(json_t *tx, json_t *it)
{
	return it && json_array_append_new(tx, it) == 0 ? BOT_EOK : BOT_ENOMEM;
}

json_t *ddb__seen_item(const char *event_id, int64_t now, uint64_t retention_ms)
{
	int64_t expires = now + (int64_t)retention_ms;
	json_t *it = ddb_key_seen(event_id);
	if (it && (json_object_set_new(it, "at", aws_ddb_n(now)) ||
		   json_object_set_new(it, "expires_at", aws_ddb_n(expires)) ||
		   /* DynamoDB's TTL is in seconds: never before the expiry */
		   json_object_set_new(it, "ttl", aws_ddb_n(expires / 1000 + 1)))) {
		json_decref(it);
		it = NULL;
	}
	return it;
}

/* DynamoDB's rule for table names: 3 to 255 of [A-Za-z0-9_.-]. */
bool ddb__table_name_ok(const char *t)
{
	size_t n = t ? strlen(t) : 0;
	if (n < 3 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

