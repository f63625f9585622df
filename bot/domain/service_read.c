/* service_read.c - describe + metrics + alarms, at once (see service_read.h). */
#include "bot/domain/service_read.h"
#include "bot/base/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct read_op {
	struct service_read r;
	char *service, *cluster, *ecs_service;
	int waiting;           /* answers still to come, plus the starter's count */
	service_read_cb cb;
	void *ud;
	bool kept;             /* the callback kept it (service_reads) */
};

static void op_free(struct read_op *op)
{
	free(op->service);
	free(op->cluster);
	free(op->ecs_service);
	cloud_service_free(op->r.svc);
	cloud_metrics_free(op->r.metrics);
	cloud_alarms_free(op->r.alarms, op->r.n_alarms);
	free(op);
}

static void one_done(struct read_op *op)
{
	if (--op->waiting > 0)
		return;
	op->cb(op->ud, &op->r);
	if (!op->kept)
		op_free(op);
}

/* A call that could not start counts as answered with its error. */
static void not_started(struct read_op *op, struct cloud_error *e, int rc)
{
	memset(e, 0, sizeof *e);
	e->code = rc;
	snprintf(e->message, sizeof e->message, "%s", bot_strerror(rc));
	op->waiting--;
}

static void on_describe(void *ud, const struct cloud_error *err, const struct cloud_service *s)
{
	struct read_op *op = ud;

	if (err && err->code)
		op->r.err = *err;
	else if (!s)
		op->r.err.code = BOT_ENOTFOUND; /* no error, no service: missing all the same */
	else if (!(op->r.svc = cloud_service_dup(s)))
		op->r.err.code = BOT_ENOMEM;
	one_done(op);
}

static void on_metrics(void *ud, const struct cloud_error *err, const struct cloud_metrics *m)
{
	struct read_op *op = ud;

	if (err && err->code)
		op->r.metrics_err = *err;
	else if (m && !(op->r.metrics = cloud_metrics_dup(m)))
		op->r.metrics_err.code = BOT_ENOMEM;
	one_done(op);
}

static void on_alarms(void *ud, const struct cloud_error *err, const struct cloud_alarm *a, size_t n)
{
	struct read_op *op = ud;

	if (err && err->code)
		op->r.alarms_err = *err;
	else if (n && !(op->r.alarms = cloud_alarms_dup(a, n)))
		op->r.alarms_err.code = BOT_ENOMEM;
	else if (n)
		op->r.n_alarms = n;
	one_done(op);
}

int service_read_start(struct cloud *cloud, const struct config_service *svc, service_read_cb cb,
		       void *ud)
{
	struct read_op *op = calloc(1, sizeof *op);
	int rc;

	if (!op)
		return BOT_ENOMEM;
	op->service = strdup(svc->name);
	op->cluster = strdup(svc->cluster);
	op->ecs_service = strdup(svc->ecs_service ? svc->ecs_service : svc->name);
	if (!op->service || !op->cluster || !op->ecs_service) {
		op_free(op);
		return BOT_ENOMEM;
	}
	op->r.service = op->service;
	op->r.cluster = op->cluster;
	op->r.ecs_service = op->ecs_service;
	op->cb = cb;
	op->ud = ud;
	/* three reads at once; each answer counts down */
	op->waiting = 4;
	rc = cloud->ops->describe(cloud, op->cluster, op->ecs_service, on_describe, op);
	if (rc)
		not_started(op, &op->r.err, rc);
	rc = cloud->ops->metrics(cloud, op->cluster, op->ecs_service, SERVICE_READ_WINDOW_MIN,
				 on_metrics, op);
	if (rc)
		not_started(op, &op->r.metrics_err, rc);
	rc = cloud->ops->alarms(cloud, op->cluster, op->ecs_service, on_alarms, op);
	if (rc)
		not_started(op, &op->r.alarms_err, rc);
	one_done(op); /* drop the starter's count */
	return BOT_EOK;
}

void service_read_explain(const struct service_read *r, struct chat_text *t)
{
	const struct cloud_error *e = &r->err;

	if (e->code == BOT_EBUSY) {
		chat_text_printf(t, "The bot is busy: its AWS request budget is spent, so ");
		chat_text_bold(t, "%s", r->service);
		chat_text_printf(t, " was not read; retry in %llu s",
				 (unsigned long long)((r->retry_ms + 999) / 1000));
		return;
	}
	if (e->code == BOT_ENOTFOUND) {
		chat_text_printf(t, "ECS service ");
		chat_text_code(t, "%s", r->ecs_service);
		chat_text_printf(t, " was not found in cluster ");
		chat_text_code(t, "%s", r->cluster);
		return;
	}
	chat_text_printf(t, "Could not read ");
	chat_text_bold(t, "%s", r->service);
	chat_text_printf(t, " from AWS: %s", e->aws_code[0] ? e->aws_code : bot_err_name(e->code));
	if (e->message[0])
		chat_text_printf(t, ": %s", e->message);
	if (e->request_id[0])
		chat_text_printf(t, " (request id %s)", e->request_id);
}

void service_read_when(const struct service_read *r, char *buf, size_t n)
{
	time_t secs = (time_t)(r->read_at_ms / 1000);
	struct tm tm;

	if (!n)
		return;
	buf[0] = '\0';
	if (r->read_at_ms > 0 && gmtime_r(&secs, &tm))
		strftime(buf, n, "%H:%M:%S UTC", &tm);
}

/* ---- service_reads ------------------------------------------------------ */

struct waiter {
	service_read_cb cb;
	void *ud;
};

struct entry;

/* A shared read in flight: it answers its waiters even when the entry (or
 * the whole service_reads) is gone by then. */
struct flight {
	struct entry *e;        /* NULL once forgotten */
	struct waiter *w;
	size_t n, cap;
};

struct service_report_claim {
	struct entry *e;        /* NULL once forgotten (or never tracked) */
};

struct entry {
	struct entry *next;
	struct service_reads *rd;
	char *service, *cluster, *ecs_service;
	struct flight *flight;  /* the read in flight, or NULL */
	struct read_op *kept;   /* the last good read, reused until kept_until */
	int64_t kept_until;
	unsigned in_use;        /* kept is answering (callbacks may ask again) */
	/* the report of a read in one channel */
	char *report_channel;   /* NULL: none */
	struct service_report report;
	int64_t report_until;
	struct service_report_claim *claim; /* the report being made */
};

struct service_reads {
	struct cloud *cloud;
	int64_t (*now_ms)(void *ud);
	void *now_ud;
	uint64_t window_ms;
	struct entry *entries;
	struct service_reads_stats stats;
};

int service_reads_create(struct cloud *cloud, int64_t (*now_ms)(void *ud), void *now_ud,
			 uint64_t window_ms, struct service_reads **out)
{
	struct service_reads *rd = calloc(1, sizeof *rd);

	*out = NULL;
	if (!rd)
		return BOT_ENOMEM;
	rd->cloud = cloud;
	rd->now_ms = now_ms;
	rd->now_ud = now_ud;
	rd->window_ms = window_ms;
	*out = rd;
	return BOT_EOK;
}

void service_reads_set_window(struct service_reads *rd, uint64_t window_ms)
{
	rd->window_ms = window_ms;
}

static int64_t rd_now(const struct service_reads *rd)
{
	return rd->now_ms(rd->now_ud);
}

static void drop_kept(struct entry *e)
{
	if (e->kept)
		op_free(e->kept);
	e->kept = NULL;
}

static void entry_free(struct entry *e)
{
	if (e->flight)
		e->flight->e = NULL;
	if (e->claim)
		e->claim->e = NULL;
	drop_kept(e);
	free(e->report_channel);
	free(e->service);
	free(e->cluster);
	free(e->ecs_service);
	free(e);
}

void service_reads_destroy(struct service_reads *rd)
{
	if (!rd)
		return;
	while (rd->entries) {
		struct entry *e = rd->entries;
		rd->entries = e->next;
		entry_free(e);
	}
	free(rd);
}

/* Forget what the window has passed for; drop entries left with nothing. */
static void prune(struct service_reads *rd, int64_t now)
{
	for (struct entry **pe = &rd->entries; *pe;) {
		struct entry *e = *pe;
		if (e->kept && !e->in_use && now >= e->kept_until)
			drop_kept(e);
		if (e->report_channel && !e->claim && now >= e->report_until) {
			free(e->report_channel);
			e->report_channel = NULL;
		}
		if (!e->flight && !e->kept && !e->report_channel && !e->claim) {
			*pe = e->next;
			entry_free(e);
		} else {
			pe = &e->next;
		}
	}
}

static const char *ecs_name(const struct config_service *svc)
{
	return svc->ecs_service ? svc->ecs_service : svc->name;
}

/* svc's entry, or NULL. */
static struct entry *entry_find(struct service_reads *rd, const struct config_service *svc)
{
	for (struct entry *e = rd->entries; e; e = e->next)
		if (strcmp(e->service, svc->name) == 0 && strcmp(e->cluster, svc->cluster) == 0 &&
		    strcmp(e->ecs_service, ecs_name(svc)) == 0)
			return e;
	return NULL;
}

/* svc's entry (created when absent), or NULL when out of memory. */
static struct entry *entry_for(struct service_reads *rd, const struct config_service *svc)
{
	struct entry *e = entry_find(rd, svc);

	if (e)
		return e;
	e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->rd = rd;
	e->service = strdup(svc->name);
	e->cluster = strdup(svc->cluster);
	e->ecs_service = strdup(ecs_name(svc));
	if (!e->service || !e->cluster || !e->ecs_service) {
		entry_free(e);
		return NULL;
	}
	e->next = rd->entries;
	rd->entries = e;
	return e;
}

static void flight_done(void *ud, const struct service_read *r)
{
	struct flight *f = ud;
	struct read_op *op = container_of(r, struct read_op, r);
	struct entry *e = f->e;

	if (!e) { /* forgotten: the wall clock still dates it */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		op->r.read_at_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	} else {
		e->flight = NULL;
		op->r.read_at_ms = rd_now(e->rd);
		/* kept while no one is answered from the kept one (it is freed) */
		if (op->r.svc && e->rd->window_ms && !e->in_use) {
			drop_kept(e);
			e->kept = op;
			e->kept_until = op->r.read_at_ms + (int64_t)e->rd->window_ms;
			op->kept = true;
			e->in_use++;
		}
	}
	for (size_t i = 0; i < f->n; i++)
		f->w[i].cb(f->w[i].ud, &op->r);
	if (e && op->kept)
		e->in_use--;
	free(f->w);
	free(f);
}

static int add_waiter(struct flight *f, service_read_cb cb, void *ud)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 4;
		struct waiter *w = realloc(f->w, cap * sizeof *w);
		if (!w)
			return BOT_ENOMEM;
		f->w = w;
		f->cap = cap;
	}
	f->w[f->n++] = (struct waiter){cb, ud};
	return BOT_EOK;
}

int service_reads_get(struct service_reads *rd, const struct config_service *svc, bool reuse,
		      service_read_cb cb, void *ud)
{
	int64_t now = rd_now(rd);
	struct entry *e;
	int rc;

	prune(rd, now);
	if (!(e = entry_for(rd, svc)))
		return BOT_ENOMEM;
	if (reuse && e->kept && now < e->kept_until) {
		struct service_read r = e->kept->r;
		r.reused = true;
		rd->stats.reused++;
		e->in_use++;
		cb(ud, &r);
		e->in_use--;
		return BOT_EOK;
	}
	if (e->flight) {
		rc = add_waiter(e->flight, cb, ud);
		if (!rc)
			rd->stats.joined++;
		return rc;
	}
	uint64_t retry_ms = 0;
	if (rd->cloud->ops->admit &&
	    rd->cloud->ops->admit(rd->cloud, CLOUD_ASK_SERVICE_READ, &retry_ms) == BOT_EBUSY) {
		struct service_read r = {
			.service = svc->name, .cluster = svc->cluster, .ecs_service = ecs_name(svc),
			.retry_ms = retry_ms,
		};
		r.err.code = BOT_EBUSY;
		snprintf(r.err.message, sizeof r.err.message, "the bot's AWS request budget is "
			 "spent");
		rd->stats.busy++;
		cb(ud, &r);
		return BOT_EOK;
	}
	struct flight *f = calloc(1, sizeof *f);
	if (!f || add_waiter(f, cb, ud)) {
		free(f);
		return BOT_ENOMEM;
	}
	f->e = e;
	e->flight = f;
	rd->stats.reads++;
	rc = service_read_start(rd->cloud, svc, flight_done, f);
	if (rc) {
		e->flight = NULL;
		free(f->w);
		free(f);
	}
	return rc;
}

int service_reads_follow(struct service_reads *rd, const struct config_service *svc,
			 service_read_cb cb, void *ud)
{
	struct entry *e = entry_find(rd, svc);

	if (!e || !e->flight)
		return BOT_ENOTFOUND;
	int rc = add_waiter(e->flight, cb, ud);
	if (!rc)
		rd->stats.joined++;
	return rc;
}

void service_reads_forget(struct service_reads *rd, const char *service)
{
	for (struct entry *e = rd->entries; e; e = e->next) {
		if (strcmp(e->service, service) != 0)
			continue;
		if (e->flight) {
			e->flight->e = NULL;
			e->flight = NULL;
		}
		if (e->claim) { /* a report of the old read is no longer pointed to */
			e->claim->e = NULL;
			e->claim = NULL;
		}
		free(e->report_channel);
		e->report_channel = NULL;
		if (!e->in_use)
			drop_kept(e);
		e->kept_until = 0;
		e->report_until = 0;
	}
	prune(rd, rd_now(rd));
}

int service_reads_claim_report(struct service_reads *rd, const struct config_service *svc,
			       const char *channel, const char *user, struct service_report *out,
			       struct service_report_claim **claim)
{
	int64_t now = rd_now(rd);
	struct service_report_claim *c;
	struct entry *e;

	*claim = NULL;
	prune(rd, now);
	if (!(e = entry_for(rd, svc)))
		return BOT_ENOMEM;
	if (e->report_channel && strcmp(e->report_channel, channel) == 0 &&
	    (e->claim || now < e->report_until)) {
		*out = e->report;
		return BOT_EDUPLICATE;
	}
	if (!(c = calloc(1, sizeof *c)))
		return BOT_ENOMEM;
	if (!e->claim) { /* else another channel's report is being made: not tracked */
		char *ch = strdup(channel);
		if (!ch) {
			free(c);
			return BOT_ENOMEM;
		}
		free(e->report_channel);
		e->report_channel = ch;
		memset(&e->report, 0, sizeof e->report);
		e->report.pending = true;
		snprintf(e->report.user, sizeof e->report.user, "%s", user);
		e->claim = c;
		c->e = e;
	}
	*claim = c;
	return BOT_EOK;
}

void service_reads_report_done(struct service_report_claim *c, const char *ts, int64_t at_ms)
{
	struct entry *e;

	if (!c)
		return;
	if ((e = c->e)) {
		e->claim = NULL;
		e->report.pending = false;
		if (ts && ts[0] && e->rd->window_ms) {
			snprintf(e->report.ts, sizeof e->report.ts, "%s", ts);
			e->report.at_ms = at_ms;
			e->report_until = at_ms + (int64_t)e->rd->window_ms;
		} else {
			free(e->report_channel); /* the next ask posts */
			e->report_channel = NULL;
		}
	}
	free(c);
}

void service_reads_stats(const struct service_reads *rd, struct service_reads_stats *out)
{
	*out = rd->stats;
}
