/* service_read.h - one read of a service as people ask about it: ECS
 * DescribeServices, its CPU and memory metrics over the last
 * SERVICE_READ_WINDOW_MIN minutes, and its alarms, all three at once, with
 * one error mapping. /investigate shows it; /scale reads it before it
 * opens a request.
 *
 * Errors: the service read is what matters. A service that is missing in
 * ECS is err.code BOT_ENOTFOUND however the cloud said it (an error, or no
 * service in the answer); a read the bot could not start carries that code
 * and its message; BOT_ECANCELLED means the bot is stopping. Metrics and
 * alarms are extras: when one fails it is NULL/0 and its own error says
 * why.
 *
 * Single thread. The callback runs exactly once, when the three answers are
 * in; it may run before service_read_start returns (every call refused at
 * once). Nothing here can be cancelled: the cloud answers every call once
 * (BOT_ECANCELLED when stopping), and the caller ignores what it no longer
 * wants.
 */
#ifndef BOT_SERVICE_READ_H
#define BOT_SERVICE_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapters/chat.h"
#include "adapters/cloud.h"
#include "config/config.h"

#define SERVICE_READ_WINDOW_MIN 30

struct service_read {
	const char *service;         /* the configured name */
	const char *cluster;
	const char *ecs_service;     /* the ECS name (ecs_service, else the name) */
	struct cloud_service *svc;   /* NULL when the read failed: err says why */
	struct cloud_metrics *metrics; /* NULL when unavailable: metrics_err */
	struct cloud_alarm *alarms;
	size_t n_alarms;
	struct cloud_error err;      /* the service read (code 0 when svc is set) */
	struct cloud_error metrics_err, alarms_err;
	int64_t read_at_ms;          /* wall clock when the answers were in (0: unknown) */
	uint64_t retry_ms;           /* err.code BOT_EBUSY: the cloud's budget is spent;
				      * a new read may start in this many ms */
	bool reused;                 /* served from an earlier read (service_reads) */
};

/* r and everything in it are valid only during the callback. */
typedef void (*service_read_cb)(void *ud, const struct service_read *r);

/* Read svc (its names are copied). 0 once the reads started (cb will run),
 * or BOT_ENOMEM (cb will not). */
int service_read_start(struct cloud *cloud, const struct config_service *svc, service_read_cb cb,
		       void *ud);

/* Why r has no service, for people, appended to t: "ECS service `x` was
 * not found in cluster `y`" or "Could not read *x* from AWS: <code>:
 * <message> (request id ...)". */
void service_read_explain(const struct service_read *r, struct chat_text *t);

/* "12:03:04 UTC", when r was read, into buf (empty when unknown). */
void service_read_when(const struct service_read *r, char *buf, size_t n);

/* ---- service_reads: one read per service at a time, reused briefly -------
 *
 * During an incident many people ask about one service at once. Every ask
 * (an /investigate, a /scale) of a service whose read is in flight joins
 * that read; a read that succeeded is reused for `window_ms` after its
 * answers came in (shown with its time wherever it is used), so a burst of
 * N asks costs the three AWS reads once. A failed read is never reused: the
 * next ask reads again. A reused read is marked r->reused.
 *
 * The report of a read (the /investigate post in a channel) is remembered
 * with the read, for as long as the read is reused: a repeated ask points
 * to it instead of posting it again (service_reads_claim_report).
 *
 * Memory: one entry per service asked about within the window, each with
 * its waiters (a callback and its pointer: 16 bytes per ask). Entries whose
 * window passed are dropped at the next ask. Callbacks run exactly once; a
 * kept read answers before service_reads_get returns. Single thread.
 */
struct service_reads;

/* now_ms: the wall clock (ms), e.g. the store's; window_ms 0: no reuse
 * (asks still share a read in flight). BOT_EOK or BOT_ENOMEM. */
int service_reads_create(struct cloud *cloud, int64_t (*now_ms)(void *ud), void *now_ud,
			 uint64_t window_ms, struct service_reads **out);
/* Reads in flight still answer their waiters (the cloud answers every
 * call); what they learn is no longer kept. NULL ok. */
void service_reads_destroy(struct service_reads *rd);
/* A new window (a configuration reload); reads already kept keep theirs. */
void service_reads_set_window(struct service_reads *rd, uint64_t window_ms);

/* Like service_read_start, shared: BOT_EOK (cb will run once) or
 * BOT_ENOMEM (it will not). reuse false: join a read in flight but never
 * take a kept one - for what decides on the read (/scale opens a request
 * against the desired count it shows; another replica may have scaled the
 * service since a kept read, which only its own process would forget). */
int service_reads_get(struct service_reads *rd, const struct config_service *svc, bool reuse,
		      service_read_cb cb, void *ud);

/* Join svc's read in flight only: BOT_EOK (cb will run once), or
 * BOT_ENOTFOUND when none is in flight (cb will not run), BOT_ENOMEM. */
int service_reads_follow(struct service_reads *rd, const struct config_service *svc,
			 service_read_cb cb, void *ud);

/* service changed (the bot scaled it): what was read of it is no longer
 * reused or pointed to, and a read in flight is not kept (its waiters are
 * still answered). */
void service_reads_forget(struct service_reads *rd, const char *service);

/* The report of svc's read in channel. */
struct service_report {
	bool pending;            /* being read or posted: no link yet */
	char user[32];           /* who asked for it */
	char ts[40];             /* the post (when not pending) */
	int64_t at_ms;           /* when the read it shows came in (not pending) */
};

struct service_report_claim;

/* Ask to post svc's report in channel for user. BOT_EOK: the caller posts
 * it and ends the claim with service_reads_report_done (*claim set); or
 * BOT_EDUPLICATE: a report of a read still reused is in that channel or being
 * made, *out says which (no claim). BOT_ENOMEM. */
int service_reads_claim_report(struct service_reads *rd, const struct config_service *svc,
			       const char *channel, const char *user, struct service_report *out,
			       struct service_report_claim **claim);
/* The claimed report was posted as ts, showing the read of at_ms (ts NULL:
 * it was not; the next ask posts). It is pointed to until at_ms + the
 * window. Ends the claim; safe after service_reads_destroy. */
void service_reads_report_done(struct service_report_claim *claim, const char *ts,
			       int64_t at_ms);

/* For /metrics and tests: reads started, asks that joined a read in
 * flight, asks served by a kept read, asks refused as busy. */
struct service_reads_stats {
	uint64_t reads, joined, reused, busy;
};
void service_reads_stats(const struct service_reads *rd, struct service_reads_stats *out);

#endif
