/* store.c - the store interface: the record's vocabulary and the calls
 * into a backend (see store.h). */
#include "adapters/store.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const state_text[] = {
#define GATE_STATE_TEXT(name, text) [GATE_##name] = text,
	GATE_STATE_MAP(GATE_STATE_TEXT)
#undef GATE_STATE_TEXT
};

const char *store_state_name(enum gate_state s)
{
	return (unsigned)s < GATE_STATE_COUNT ? state_text[s] : "?";
}

int store_state_parse(const char *text, enum gate_state *out)
{
	for (unsigned i = 0; text && i < GATE_STATE_COUNT; i++) {
		if (strcmp(text, state_text[i]) == 0) {
			*out = (enum gate_state)i;
			return BOT_EOK;
		}
	}
	return BOT_EPARSE;
}

bool store_state_final(enum gate_state s)
{
	return (unsigned)s < GATE_STATE_COUNT && !(GATE_LIVE_MASK & GATE_STATE_BIT(s));
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void store_gate_clear(struct store_gate *g)
{
	if (!g)
		return;
	free(g->service);
	free(g->cluster);
	free(g->ecs_service);
	free(g->requester);
	free(g->action);
	free(g->params);
	free(g->reason);
	free_strv(g->approvers, g->n_approvers);
	free(g->channel);
	free(g->message_ts);
	free(g->evidence);
	free(g->decided_by);
	free(g->decision_detail);
	free(g->exec_intent);
	free(g->exec_owner);
	free(g->result_kind);
	free(g->result_detail);
	free(g->aws_code);
	free(g->aws_request_id);
	free_strv(g->approved_by, g->n_approved);
	memset(g, 0, sizeof *g);
}

void store_gate_array_free(struct store_gate *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		store_gate_clear(&v[i]);
	free(v);
}

static int64_t real_clock(void *ud)
{
	struct timespec ts;
	(void)ud;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void store_init(struct store *s, const struct store_ops *ops, store_clock_fn clock,
		void *clock_ud, uint64_t retention_ms)
{
	s->ops = ops;
	s->clock = clock ? clock : real_clock;
	s->clock_ud = clock_ud;
	s->retention_ms = retention_ms ? retention_ms : STORE_DEFAULT_RETENTION_MS;
}

void store_close(struct store *s)
{
	if (s)
		s->ops->close(s);
}

int64_t store_now(const struct store *s)
{
	return s->clock(s->clock_ud);
}

const char *store_where(const struct store *s)
{
	return s->ops->where(s);
}

const char *store_backend(const struct store *s)
{
	return s->ops->name;
}

int store_gate_open(struct store *s, struct store_gate *g, enum store_result *res,
		    uint64_t *holder, struct bot_error *err)
{
	*res = STORE_LOST;
	*holder = 0;
	return s->ops->gate_open(s, g, res, holder, err);
}

int store_gate_get(struct store *s, uint64_t id, struct store_gate *out, struct bot_error *err)
{
	store_gate_clear(out);
	return s->ops->gate_get(s, id, out, err);
}

int store_service_holder(struct store *s, const char *cluster, const char *ecs_service,
			 uint64_t *holder, struct bot_error *err)
{
	*holder = 0;
	if (!cluster || !ecs_service)
		return bot_error_set(err, BOT_EINVAL, "store: a service needs cluster and name");
	return s->ops->service_holder(s, cluster, ecs_service, holder, err);
}

int store_gate_list(struct store *s, unsigned mask, struct store_gate **out, size_t *n,
		    struct bot_error *err)
{
	*out = NULL;
	*n = 0;
	return s->ops->gate_list(s, mask, out, n, err);
}

int store_gate_recent(struct store *s, size_t limit, struct store_gate **out, size_t *n,
		      struct bot_error *err)
{
	*out = NULL;
	*n = 0;
	if (limit == 0)
		return BOT_EOK;
	return s->ops->gate_recent(s, limit > 1000 ? 1000 : limit, out, n, err);
}

int store_gate_counts(struct store *s, uint64_t counts[GATE_STATE_COUNT], struct bot_error *err)
{
	memset(counts, 0, sizeof(uint64_t) * GATE_STATE_COUNT);
	return s->ops->gate_counts(s, counts, err);
}

int store_gate_delivered(struct store *s, uint64_t id, const char *channel, const char *ts,
			 bool *armed, struct bot_error *err)
{
	*armed = false;
	return s->ops->gate_delivered(s, id, channel, ts, armed, err);
}

int store_gate_change(struct store *s, const struct store_change *c, enum store_result *res,
		      struct bot_error *err)
{
	*res = STORE_LOST;
	if (!c->actor || (unsigned)c->from >= GATE_STATE_COUNT ||
	    (unsigned)c->to >= GATE_STATE_COUNT || c->from == c->to)
		return bot_error_set(err, BOT_EINVAL, "store: %s -> %s is not a change",
				     store_state_name(c->from), store_state_name(c->to));
	return s->ops->gate_change(s, c, res, err);
}

int store_gate_vote(struct store *s, const struct store_vote *v, enum store_result *res,
		    struct bot_error *err)
{
	*res = STORE_LOST;
	if (!v->actor || !v->kind || (unsigned)v->to >= GATE_STATE_COUNT ||
	    ((v->approve_user || v->to != GATE_PENDING) && (!v->gate_id || v->gate_missing)))
		return bot_error_set(err, BOT_EINVAL, "store: malformed vote");
	return s->ops->gate_vote(s, v, res, err);
}

int store_seen_event(struct store *s, const char *id, bool *seen, struct bot_error *err)
{
	*seen = false;
	if (!id || !id[0])
		return bot_error_set(err, BOT_EINVAL, "store: empty event id");
	return s->ops->seen_event(s, id, seen, err);
}

int store_purge_events(struct store *s, int64_t older_than, int *n, struct bot_error *err)
{
	if (n)
		*n = 0;
	return s->ops->purge_events(s, older_than, n, err);
}

int store_audit_add(struct store *s, uint64_t gate_id, const char *actor, const char *kind,
		    const char *detail, struct bot_error *err)
{
	if (!kind || !kind[0])
		return bot_error_set(err, BOT_EINVAL, "store: an audit event needs a kind");
	return s->ops->audit_add(s, gate_id, actor ? actor : "system", kind, detail, err);
}

int store_audit_each(struct store *s, int64_t since_ms, store_audit_fn fn, void *ud,
		     struct bot_error *err)
{
	return s->ops->audit_each(s, since_ms, fn, ud, err);
}
