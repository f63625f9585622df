/* budget.c - in-flight caps and per-API token buckets (see budget.h). */
#include "adapters/aws/budget.h"
#include "bot/base/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bucket {
	char name[64];
	double tokens;
	uint64_t at_ms;         /* when tokens was last refilled */
	uint64_t spent;
};

struct aws_budget {
	struct aws_budget_opts o;
	struct bucket apis[AWS_BUDGET_MAX_APIS];
	size_t n_apis;
	unsigned in_flight, in_flight_svc[AWS_BUDGET_MAX_SVC];
	struct aws_budget_waiter *head, *tail;
	unsigned waiting;
	struct aws_budget_stats st; /* the counters */
};

static void fill_defaults(struct aws_budget_opts *o)
{
	if (!o->in_flight)
		o->in_flight = 16;
	if (!o->in_flight_per_service)
		o->in_flight_per_service = 8;
	if (o->in_flight_per_service > o->in_flight)
		o->in_flight_per_service = o->in_flight;
	if (!o->per_second)
		o->per_second = 3;
	if (!o->burst)
		o->burst = 10;
}

int aws_budget_create(const struct aws_budget_opts *o, struct aws_budget **out)
{
	struct aws_budget *b = calloc(1, sizeof *b);

	*out = NULL;
	if (!b)
		return BOT_ENOMEM;
	if (o)
		b->o = *o;
	fill_defaults(&b->o);
	*out = b;
	return BOT_EOK;
}

void aws_budget_destroy(struct aws_budget *b)
{
	free(b);
}

void aws_budget_set(struct aws_budget *b, const struct aws_budget_opts *o)
{
	b->o = *o;
	fill_defaults(&b->o);
	for (size_t i = 0; i < b->n_apis; i++)
		if (b->apis[i].tokens > b->o.burst)
			b->apis[i].tokens = b->o.burst;
	/* more room may have been made */
	aws_budget_leave(b, -1);
}

/* api's bucket refilled to now; NULL when the table is full. */
static struct bucket *bucket_for(struct aws_budget *b, const char *api, uint64_t now)
{
	struct bucket *k = NULL;

	for (size_t i = 0; i < b->n_apis; i++)
		if (strcmp(b->apis[i].name, api) == 0) {
			k = &b->apis[i];
			break;
		}
	if (!k) {
		if (b->n_apis == AWS_BUDGET_MAX_APIS)
			return NULL;
		k = &b->apis[b->n_apis++];
		snprintf(k->name, sizeof k->name, "%s", api);
		k->tokens = b->o.burst; /* a new API starts full */
		k->at_ms = now;
	}
	if (now > k->at_ms) {
		k->tokens += (double)(now - k->at_ms) * b->o.per_second / 1000.0;
		if (k->tokens > b->o.burst)
			k->tokens = b->o.burst;
	}
	k->at_ms = now > k->at_ms ? now : k->at_ms;
	return k;
}

/* ms until k has one whole token (0: it has). */
static uint64_t token_wait(const struct aws_budget *b, const struct bucket *k)
{
	if (k->tokens >= 1.0)
		return 0;
	double ms = (1.0 - k->tokens) * 1000.0 / b->o.per_second;
	uint64_t w = (uint64_t)ms;
	return w < ms || !w ? w + 1 : w; /* rounded up, never 0 */
}

int aws_budget_check(struct aws_budget *b, const char *const *apis, size_t n, uint64_t now_ms,
		     uint64_t *retry_ms)
{
	uint64_t wait = 0;

	for (size_t i = 0; i < n; i++) {
		struct bucket *k = bucket_for(b, apis[i], now_ms);
		uint64_t w = k ? token_wait(b, k) : 0;
		if (w > wait)
			wait = w;
	}
	/* a queue as long as what may be in flight: a second's worth of wait */
	if (!wait && b->waiting >= b->o.in_flight)
		wait = 1000;
	if (!wait)
		return BOT_EOK;
	b->st.refused++;
	if (retry_ms)
		*retry_ms = wait;
	return BOT_EBUSY;
}

uint64_t aws_budget_spend(struct aws_budget *b, const char *api, uint64_t now_ms)
{
	struct bucket *k = bucket_for(b, api, now_ms);
	uint64_t w;

	if (!k) {
		b->st.untracked++;
		return 0;
	}
	if ((w = token_wait(b, k))) {
		b->st.delayed++;
		return w;
	}
	k->tokens -= 1.0;
	k->spent++;
	b->st.spent++;
	return 0;
}

static bool fits(const struct aws_budget *b, int svc)
{
	return b->in_flight < b->o.in_flight && b->in_flight_svc[svc] < b->o.in_flight_per_service;
}

static void take(struct aws_budget *b, int svc)
{
	b->in_flight++;
	b->in_flight_svc[svc]++;
	if (b->in_flight > b->st.peak_in_flight)
		b->st.peak_in_flight = b->in_flight;
}

static void unlink_waiter(struct aws_budget *b, struct aws_budget_waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		b->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		b->tail = w->prev;
	w->prev = w->next = NULL;
	w->queued = false;
	b->waiting--;
}

bool aws_budget_enter(struct aws_budget *b, struct aws_budget_waiter *w)
{
	if (w->svc < 0 || w->svc >= AWS_BUDGET_MAX_SVC)
		w->svc = AWS_BUDGET_MAX_SVC - 1;
	/* first come first served: nobody overtakes a waiter of its service */
	bool ahead = false;
	for (struct aws_budget_waiter *q = b->head; q && !ahead; q = q->next)
		ahead = q->svc == w->svc;
	if (!ahead && fits(b, w->svc)) {
		take(b, w->svc);
		return true;
	}
	w->next = NULL;
	w->prev = b->tail;
	if (b->tail)
		b->tail->next = w;
	else
		b->head = w;
	b->tail = w;
	w->queued = true;
	if (++b->waiting > b->st.peak_waiting)
		b->st.peak_waiting = b->waiting;
	return false;
}

void aws_budget_leave(struct aws_budget *b, int svc)
{
	if (svc >= AWS_BUDGET_MAX_SVC)
		svc = AWS_BUDGET_MAX_SVC - 1;
	if (svc >= 0 && b->in_flight_svc[svc] > 0) {
		b->in_flight--;
		b->in_flight_svc[svc]--;
	}
	/* hand room to waiters in order; one of a full service does not hold
	 * up another service's */
	for (struct aws_budget_waiter *w = b->head, *next; w && b->in_flight < b->o.in_flight;
	     w = next) {
		next = w->next;
		if (!fits(b, w->svc))
			continue;
		unlink_waiter(b, w);
		take(b, w->svc);
		w->go(w);
		next = b->head; /* go may have changed the queue: from the top */
	}
}

void aws_budget_unwait(struct aws_budget *b, struct aws_budget_waiter *w)
{
	if (w->queued)
		unlink_waiter(b, w);
}

void aws_budget_stats(struct aws_budget *b, uint64_t now_ms, struct aws_budget_stats *out)
{
	*out = b->st;
	out->in_flight = b->in_flight;
	memcpy(out->in_flight_svc, b->in_flight_svc, sizeof out->in_flight_svc);
	out->waiting = b->waiting;
	out->per_second = b->o.per_second;
	out->burst = b->o.burst;
	out->in_flight_max = b->o.in_flight;
	out->in_flight_per_service = b->o.in_flight_per_service;
	out->n_apis = b->n_apis;
	for (size_t i = 0; i < b->n_apis; i++) {
		struct bucket *k = bucket_for(b, b->apis[i].name, now_ms);
		snprintf(out->apis[i].name, sizeof out->apis[i].name, "%s", k->name);
		out->apis[i].tokens = k->tokens;
		out->apis[i].spent = k->spent;
	}
}
