/* budget.h - how much the bot asks of AWS at once and per second (prefix
 * aws_budget_).
 *
 * The account's API quotas are shared with everything else in it (the
 * deploy pipeline that may be fixing the incident), and ECS and CloudWatch
 * throttle per account and region. The budget keeps the bot well under
 * them, whatever people type:
 *   - in flight: at most in_flight requests at once over every service, and
 *     in_flight_per_service to one service endpoint (ECS, CloudWatch...);
 *     a request beyond waits its turn in a FIFO of small records (no
 *     connection, no signature yet);
 *   - per API (e.g. "ecs.DescribeServices"): a token bucket of `burst`
 *     tokens refilled at per_second; every attempt spends one, retries too;
 *   - asks: work started by a person (a service read) is checked as a whole
 *     first (aws_budget_check): refused at once with when to retry, rather
 *     than queued into a timeout.
 * Time is the caller's (monotonic ms), so tests need no clock. Memory is
 * fixed: at most AWS_BUDGET_MAX_APIS APIs are tracked (more pass
 * untracked, counted). Single thread.
 */
#ifndef ADAPTERS_AWS_BUDGET_H
#define ADAPTERS_AWS_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AWS_BUDGET_MAX_APIS 32
#define AWS_BUDGET_MAX_SVC  8

struct aws_budget;

struct aws_budget_opts {
	unsigned in_flight;             /* 0: 16 */
	unsigned in_flight_per_service; /* 0: 8 */
	unsigned per_second;            /* per API; 0: 3 */
	unsigned burst;                 /* per API; 0: 10 */
};

int aws_budget_create(const struct aws_budget_opts *o, struct aws_budget **out);
/* Waiters still queued are dropped without a call (their owners cancel
 * them first). NULL ok. */
void aws_budget_destroy(struct aws_budget *b);
/* New limits (a reload); tokens held are kept, capped at the new burst. */
void aws_budget_set(struct aws_budget *b, const struct aws_budget_opts *o);

/* Would one call of each of apis[0..n) pass now (a token each, and fewer
 * requests waiting for room in flight than may be in flight)? BOT_EOK, or
 * BOT_EBUSY and *retry_ms: when it may (counted as refused).
 * Spends nothing: the calls spend when they start. */
int aws_budget_check(struct aws_budget *b, const char *const *apis, size_t n, uint64_t now_ms,
		     uint64_t *retry_ms);

/* Spend one of api's tokens: 0 when spent, else the ms until one is there
 * (nothing spent; ask again then). */
uint64_t aws_budget_spend(struct aws_budget *b, const char *api, uint64_t now_ms);

/* A request to service svc (< AWS_BUDGET_MAX_SVC) waiting for room in
 * flight; embedded in the caller's record. */
struct aws_budget_waiter {
	struct aws_budget_waiter *prev, *next;
	int svc;
	bool queued;
	/* Room was made and is now the waiter's (it must aws_budget_leave
	 * later). Runs inside aws_budget_leave: defer real work. */
	void (*go)(struct aws_budget_waiter *w);
};

/* Take room in flight for a request to w->svc: true when taken now; false
 * when w was queued (w->go runs once room is its). */
bool aws_budget_enter(struct aws_budget *b, struct aws_budget_waiter *w);
/* A request to svc is over: its room goes to the first waiter that fits. */
void aws_budget_leave(struct aws_budget *b, int svc);
/* Take w out of the queue (cancel). No-op when not queued. */
void aws_budget_unwait(struct aws_budget *b, struct aws_budget_waiter *w);

struct aws_budget_api {
	char name[64];
	double tokens;           /* now (as last refilled) */
	uint64_t spent;
};

struct aws_budget_stats {
	unsigned in_flight, peak_in_flight, waiting, peak_waiting;
	unsigned in_flight_svc[AWS_BUDGET_MAX_SVC];
	uint64_t spent;          /* tokens spent (attempts) */
	uint64_t delayed;        /* spends that had to wait for a token */
	uint64_t refused;        /* asks refused (aws_budget_check) */
	uint64_t untracked;      /* spends of APIs beyond the table */
	unsigned per_second, burst, in_flight_max, in_flight_per_service;
	size_t n_apis;
	struct aws_budget_api apis[AWS_BUDGET_MAX_APIS];
};
void aws_budget_stats(struct aws_budget *b, uint64_t now_ms, struct aws_budget_stats *out);

#endif
