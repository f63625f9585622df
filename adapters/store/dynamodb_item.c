/* dynamodb_item.c - the DynamoDB store's table layout and gate item (see
 * dynamodb_item.h). */
#include "adapters/store/dynamodb_item.h"
#include "adapters/aws/ddb.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- keys -------------------------------------------------------------- */

static json_t *key(const char *pk, const char *sk)
{
	return json_pack("{s:o, s:o}", "pk", aws_ddb_s(pk), "sk", aws_ddb_s(sk));
}

json_t *ddb_key_gate(uint64_t id)
{
	char pk[32];
	snprintf(pk, sizeof pk, "gate#%" PRIu64, id);
	return key(pk, "gate");
}

json_t *ddb_key_lock(const char *cluster, const char *ecs_service)
{
	char pk[1024];
	int n = snprintf(pk, sizeof pk, "svc#%s#%s", cluster, ecs_service);
	return n > 0 && (size_t)n < sizeof pk ? key(pk, "lock") : NULL;
}

json_t *ddb_key_seen(const char *event_id)
{
	char pk[1024];
	int n = snprintf(pk, sizeof pk, "seen#%s", event_id);
	return n > 0 && (size_t)n < sizeof pk ? key(pk, "seen") : NULL;
}

json_t *ddb_key_alarm(const char *alarm_key)
{
	char pk[STORE_ALARM_KEY_MAX + sizeof "alarm#"];

	if (!alarm_key || strlen(alarm_key) > STORE_ALARM_KEY_MAX)
		return NULL;
	snprintf(pk, sizeof pk, "alarm#%s", alarm_key);
	return key(pk, "alarm");
}

json_t *ddb_key_audit_head(void)
{
	return key("audit", "head");
}

int ddb_audit_sk(char out[DDB_AUDIT_SK_SIZE], int64_t ord, uint64_t chain, int64_t seq)
{
	if (ord < 0 || ord > DDB_AUDIT_ORD_MAX || seq < 0 || seq > DDB_AUDIT_SEQ_MAX)
		return BOT_EINVAL;
	snprintf(out, DDB_AUDIT_SK_SIZE, "e#%013" PRId64 "#%020" PRIu64 "#%010" PRId64, ord,
		 chain, seq);
	return BOT_EOK;
}

json_t *ddb_key_audit_event(int64_t ord, uint64_t chain, int64_t seq)
{
	char sk[DDB_AUDIT_SK_SIZE];
	return ddb_audit_sk(sk, ord, chain, seq) == BOT_EOK ? key("audit", sk) : NULL;
}

/* ---- the gate item, as a table of fields -------------------------------- */

enum ftype { F_STR, F_U64, F_INT, F_I64, F_BOOL, F_STATE, F_LIST };

struct field {
	const char *name;
	enum ftype type;
	size_t off, count_off; /* F_LIST: where the count is */
	bool required;
};

#define OFF(f) offsetof(struct store_gate, f)

static const struct field fields[] = {
	{"id", F_U64, OFF(id), 0, true},
	{"version", F_U64, OFF(version), 0, true},
	{"service", F_STR, OFF(service), 0, true},
	{"cluster", F_STR, OFF(cluster), 0, true},
	{"ecs_service", F_STR, OFF(ecs_service), 0, true},
	{"requester", F_STR, OFF(requester), 0, true},
	{"action", F_STR, OFF(action), 0, true},
	{"params", F_STR, OFF(params), 0, false},
	{"target", F_INT, OFF(target), 0, false},
	{"desired_at_request", F_INT, OFF(desired_at_request), 0, false},
	{"reason", F_STR, OFF(reason), 0, false},
	{"timer_ms", F_U64, OFF(timer_ms), 0, false},
	{"approvers", F_LIST, OFF(approvers), OFF(n_approvers), false},
	{"min_approvals", F_INT, OFF(min_approvals), 0, false},
	{"allow_self", F_BOOL, OFF(allow_self), 0, false},
	{"force_new_deployment", F_BOOL, OFF(force_new_deployment), 0, false},
	{"channel", F_STR, OFF(channel), 0, false},
	{"message_ts", F_STR, OFF(message_ts), 0, false},
	{"evidence", F_STR, OFF(evidence), 0, false},
	{"created_at", F_I64, OFF(created_at), 0, false},
	{"delivered_at", F_I64, OFF(delivered_at), 0, false},
	{"deadline", F_I64, OFF(deadline), 0, false},
	{"state", F_STATE, OFF(state), 0, true},
	{"decision", F_STATE, OFF(decision), 0, false},
	{"decided_by", F_STR, OFF(decided_by), 0, false},
	{"decided_at", F_I64, OFF(decided_at), 0, false},
	{"decision_detail", F_STR, OFF(decision_detail), 0, false},
	{"exec_intent", F_STR, OFF(exec_intent), 0, false},
	{"exec_from", F_INT, OFF(exec_from), 0, false},
	{"exec_started_at", F_I64, OFF(exec_started_at), 0, false},
	{"exec_owner", F_STR, OFF(exec_owner), 0, false},
	{"exec_lease_until", F_I64, OFF(exec_lease_until), 0, false},
	{"result_kind", F_STR, OFF(result_kind), 0, false},
	{"result_detail", F_STR, OFF(result_detail), 0, false},
	{"aws_code", F_STR, OFF(aws_code), 0, false},
	{"aws_request_id", F_STR, OFF(aws_request_id), 0, false},
	{"finished_at", F_I64, OFF(finished_at), 0, false},
	{"updated_at", F_I64, OFF(updated_at), 0, false},
	{"approved_by", F_LIST, OFF(approved_by), OFF(n_approved), false},
};

#define AT(g, f, type) ((type *)(void *)((char *)(g) + (f)->off))
#define CAT(g, f, type) ((const type *)(const void *)((const char *)(g) + (f)->off))

static json_t *list_value(char *const *v, size_t n)
{
	json_t *l = json_array();
	for (size_t i = 0; l && i < n; i++)
		if (json_array_append_new(l, aws_ddb_s(v[i])) != 0) {
			json_decref(l);
			return NULL;
		}
	return l ? json_pack("{s:o}", "L", l) : NULL;
}

/* The attribute value of field f of g; NULL when it is not set (or OOM:
 * *oom). */
static json_t *value_of(const struct store_gate *g, const struct field *f, bool *oom)
{
	json_t *v = NULL;

	switch (f->type) {
	case F_STR: {
		const char *s = *CAT(g, f, char *);
		if (!s)
			return NULL;
		v = aws_ddb_s(s);
		break;
	}
	case F_U64:
		v = aws_ddb_n((int64_t)*CAT(g, f, uint64_t));
		break;
	case F_INT:
		v = aws_ddb_n(*CAT(g, f, int));
		break;
	case F_I64:
		if (!*CAT(g, f, int64_t))
			return NULL;
		v = aws_ddb_n(*CAT(g, f, int64_t));
		break;
	case F_BOOL:
		v = json_pack("{s:b}", "BOOL", *CAT(g, f, bool));
		break;
	case F_STATE:
		v = aws_ddb_s(store_state_name(*CAT(g, f, enum gate_state)));
		break;
	case F_LIST:
		v = list_value(*(char **const *)(const void *)((const char *)g + f->off),
			       *(const size_t *)(const void *)((const char *)g + f->count_off));
		break;
	}
	if (!v)
		*oom = true;
	return v;
}

json_t *ddb_gate_item(const struct store_gate *g)
{
	json_t *item = ddb_key_gate(g->id);
	bool oom = !item;

	for (size_t i = 0; !oom && i < sizeof fields / sizeof *fields; i++) {
		json_t *v = value_of(g, &fields[i], &oom);
		if (v && json_object_set_new(item, fields[i].name, v) != 0)
			oom = true;
	}
	/* what the indexes are keyed on */
	if (!oom && (json_object_set_new(item, "gstate", aws_ddb_s(store_state_name(g->state))) ||
		     json_object_set_new(item, "gkind", aws_ddb_s("gate")) ||
		     json_object_set_new(item, "gid", aws_ddb_n((int64_t)g->id))))
		oom = true;
	if (oom) {
		json_decref(item);
		return NULL;
	}
	return item;
}

static int read_list(const json_t *v, char ***out, size_t *n)
{
	const json_t *l = json_object_get(v, "L");
	size_t len = json_array_size(l);
	char **a;

	if (!json_is_array(l))
		return BOT_ECORRUPT;
	a = len ? calloc(len, sizeof *a) : NULL;
	if (len && !a)
		return BOT_ENOMEM;
	*out = a;
	for (size_t i = 0; i < len; i++) {
		const char *s = json_string_value(json_object_get(json_array_get(l, i), "S"));
		if (!s)
			return BOT_ECORRUPT; /* the caller clears what was read */
		if (!(a[i] = strdup(s)))
			return BOT_ENOMEM;
		*n = i + 1;
	}
	return BOT_EOK;
}

static int read_field(const json_t *item, const struct field *f, struct store_gate *g)
{
	const json_t *v = json_object_get(item, f->name);
	int64_t n = 0;

	if (!v)
		return f->required ? BOT_ECORRUPT : BOT_EOK;
	switch (f->type) {
	case F_STR: {
		const char *s = json_string_value(json_object_get(v, "S"));
		if (!s)
			return BOT_ECORRUPT;
		return (*AT(g, f, char *) = strdup(s)) ? BOT_EOK : BOT_ENOMEM;
	}
	case F_U64:
	case F_INT:
	case F_I64:
		if (!aws_ddb_get_n(item, f->name, &n))
			return BOT_ECORRUPT;
		if (f->type == F_U64) {
			if (n < 0)
				return BOT_ECORRUPT;
			*AT(g, f, uint64_t) = (uint64_t)n;
		} else if (f->type == F_INT) {
			if (n < INT32_MIN || n > INT32_MAX)
				return BOT_ECORRUPT;
			*AT(g, f, int) = (int)n;
		} else {
			*AT(g, f, int64_t) = n;
		}
		return BOT_EOK;
	case F_BOOL: {
		const json_t *b = json_object_get(v, "BOOL");
		if (!json_is_boolean(b))
			return BOT_ECORRUPT;
		*AT(g, f, bool) = json_is_true(b);
		return BOT_EOK;
	}
	case F_STATE:
		return store_state_parse(json_string_value(json_object_get(v, "S")),
					 AT(g, f, enum gate_state)) == BOT_EOK ? BOT_EOK : BOT_ECORRUPT;
	case F_LIST:
		return read_list(v, AT(g, f, char **), (size_t *)(void *)((char *)g + f->count_off));
	}
	return BOT_ECORRUPT;
}

int ddb_gate_from_item(const json_t *item, struct store_gate *out, struct bot_error *err)
{
	int rc = json_is_object(item) ? BOT_EOK : BOT_ECORRUPT;
	const char *bad = "item";

	out->decision = GATE_PENDING; /* when absent: not decided yet */
	for (size_t i = 0; rc == BOT_EOK && i < sizeof fields / sizeof *fields; i++) {
		rc = read_field(item, &fields[i], out);
		bad = fields[i].name;
	}
	if (rc == BOT_EOK)
		return BOT_EOK;
	store_gate_clear(out);
	if (rc == BOT_ENOMEM)
		return bot_error_set(err, rc, "store: out of memory");
	return bot_error_set(err, rc, "store: a gate item in DynamoDB is malformed (%s)", bad);
}

/* ---- the table ---------------------------------------------------------- */

json_t *ddb_table_definition(const char *table)
{
	return json_pack(
		"{s:s, s:s,"
		" s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}],"
		" s:[{s:s, s:s}, {s:s, s:s}],"
		" s:[{s:s, s:[{s:s, s:s}, {s:s, s:s}], s:{s:s}},"
		"    {s:s, s:[{s:s, s:s}, {s:s, s:s}], s:{s:s}}]}",
		"TableName", table, "BillingMode", "PAY_PER_REQUEST",
		"AttributeDefinitions",
		"AttributeName", "pk", "AttributeType", "S",
		"AttributeName", "sk", "AttributeType", "S",
		"AttributeName", "gstate", "AttributeType", "S",
		"AttributeName", "gkind", "AttributeType", "S",
		"AttributeName", "gid", "AttributeType", "N",
		"KeySchema",
		"AttributeName", "pk", "KeyType", "HASH",
		"AttributeName", "sk", "KeyType", "RANGE",
		"GlobalSecondaryIndexes",
		"IndexName", DDB_INDEX_BY_STATE, "KeySchema",
		"AttributeName", "gstate", "KeyType", "HASH",
		"AttributeName", "gid", "KeyType", "RANGE",
		"Projection", "ProjectionType", "ALL",
		"IndexName", DDB_INDEX_BY_KIND, "KeySchema",
		"AttributeName", "gkind", "KeyType", "HASH",
		"AttributeName", "gid", "KeyType", "RANGE",
		"Projection", "ProjectionType", "ALL");
}
