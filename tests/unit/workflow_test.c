/* The workflow through the app: chat events in (commands, clicks), the
 * approval card and its thread out, against a real SQLite store and the
 * real gate engine. Chat and cloud are in-test backends that record every
 * call, answer asynchronously like the real ones, and can be told to fail
 * (delivery failure, AccessDenied), so each path is exercised for real.
 * The end-to-end versions against the fake Slack and moto live in
 * tests/integration/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "adapters/console/console.h"
#include "adapters/slack/mrkdwn.h"
#include "bot/app.h"
#include "bot/domain/alarm_intake.h"
#include "bot/domain/audit.h"
#include "bot/domain/card.h"
#include "bot/base/log.h"
#include "adapters/store.h"
#include "adapters/store/sqlite.h"

#define MAX_MSG 256
#define WAIT_MS 5000

/* ---- recording chat --------------------------------------------------- */

struct rec_msg {
	char method[16];        /* post | update | ephemeral */
	char channel[32], ts[32], thread[32], user[32];
	char text[6000];        /* fallback + every markup block's text */
	char plain[800];        /* plain-text blocks (shown as typed) */
	int n_buttons;
	char action[2][32], value[2][32];
};

struct reply {
	uv_timer_t t;
	chat_result_cb cb;
	void *ud;
	int rc;
	char ts[32];
};

struct rec_chat {
	struct chat base;
	uv_loop_t *loop;
	struct rec_msg msg[MAX_MSG];
	int n, next_ts;
	int fail_posts;        /* card posts (top level) to fail */
	uint64_t reply_ms;     /* answers come this much later (0: 1 ms) */
};

static void reply_closed(uv_handle_t *h)
{
	free(h);
}

static void reply_fire(uv_timer_t *t)
{
	struct reply *r = (struct reply *)t;
	if (r->cb)
		r->cb(r->ud, r->rc, r->rc ? NULL : r->ts, r->rc ? "channel_not_found" : NULL);
	uv_close((uv_handle_t *)t, reply_closed);
}

static void answer(struct rec_chat *c, chat_result_cb cb, void *ud, int rc, const char *ts)
{
	struct reply *r = calloc(1, sizeof *r);
	assert_non_null(r);
	r->cb = cb;
	r->ud = ud;
	r->rc = rc;
	snprintf(r->ts, sizeof r->ts, "%s", ts ? ts : "");
	uv_timer_init(c->loop, &r->t);
	uv_timer_start(&r->t, reply_fire, c->reply_ms ? c->reply_ms : 1, 0);
}

/* The Slack markup in s, or NULL: a mention, channel, date or link
 * (<@ <# <! <http), an entity, a star or a backtick, or _italic_ (an
 * underscore opening a word and one closing it; "ecs_service" is a name). */
static const char *markup_in(const char *s)
{
	static const char *const marks[] = {"<@", "<#", "<!", "<http", "&amp;", "&lt;", "&gt;",
					    "*", "`"};

	for (size_t i = 0; i < BOT_ARRAY_LEN(marks); i++)
		if (strstr(s, marks[i]))
			return marks[i];
	for (const char *p = strchr(s, '_'); p; p = strchr(p + 1, '_')) {
		bool opens = (p == s || strchr(" \n(", p[-1])) && p[1] && !strchr(" \n_", p[1]);
		const char *q = opens ? strchr(p + 1, '_') : NULL;
		if (q && !strchr(" \n", q[-1]) && (!q[1] || strchr(" \n.,;:)", q[1])) &&
		    !memchr(p, '\n', (size_t)(q - p)))
			return "_italic_";
	}
	return NULL;
}

/* Everything the domain and commands/ say, as the console shows it, holds
 * no Slack markup: they say what, each chat backend writes its own markup
 * (adapters/chat.h). Plain text that people typed (CHAT_BLOCK_PLAIN) is
 * theirs, and not checked. */
static void assert_no_markup_in(const char *what, const char *s)
{
	const char *m = s ? markup_in(s) : NULL;
	if (m)
		fail_msg("Slack markup '%s' in %s: %s", m, what, s);
}

static void assert_no_markup(const struct chat_text *t)
{
	char *plain = console_render_rich(t);

	assert_non_null(plain);
	assert_no_markup_in("structured text", plain);
	free(plain);
}

/* A text as Slack gets it (mrkdwn): structured text rendered, at buf + *o. */
static void put_text(char *buf, size_t n, size_t *o, const struct chat_text *rich, const char *text)
{
	char *mine = NULL;

	if (rich) {
		assert_no_markup(rich);
		assert_non_null(mine = slack_mrkdwn(rich));
		text = mine;
	}
	if (text && *o < n)
		*o += (size_t)snprintf(buf + *o, n - *o, "%s\n", text);
	if (*o > n)
		*o = n;
	free(mine);
}

static struct rec_msg *record(struct rec_chat *c, const char *method, const struct chat_message *m)
{
	assert_true(c->n < MAX_MSG);
	struct rec_msg *r = &c->msg[c->n++];
	size_t o;
	memset(r, 0, sizeof *r);
	snprintf(r->method, sizeof r->method, "%s", method);
	snprintf(r->channel, sizeof r->channel, "%s", m->channel ? m->channel : "");
	snprintf(r->thread, sizeof r->thread, "%s", m->thread_ts ? m->thread_ts : "");
	assert_non_null(m->rich); /* a fallback text is required */
	o = 0;
	put_text(r->text, sizeof r->text, &o, m->rich, NULL);
	for (size_t i = 0; i < m->n_blocks; i++) {
		const struct chat_block *b = &m->blocks[i];
		if (b->type == CHAT_BLOCK_PLAIN)
			snprintf(r->plain + strlen(r->plain), sizeof r->plain - strlen(r->plain),
				 "%s\n", b->text);
		else
			put_text(r->text, sizeof r->text, &o, b->rich, b->text);
		if (b->type == CHAT_BLOCK_HEADER)
			assert_no_markup_in("a header", b->text);
		for (size_t k = 0; k < b->n_buttons; k++) {
			const struct chat_confirm *cf = b->buttons[k].confirm;
			assert_no_markup_in("a button", b->buttons[k].text);
			if (cf) {
				assert_no_markup_in("a confirm title", cf->title);
				assert_no_markup_in("a confirm text", cf->text);
				assert_no_markup_in("a confirm yes", cf->yes);
				assert_no_markup_in("a confirm no", cf->no);
			}
		}
		for (size_t k = 0; k < b->n_buttons && r->n_buttons < 2; k++, r->n_buttons++) {
			snprintf(r->action[r->n_buttons], 32, "%s", b->buttons[k].action_id);
			snprintf(r->value[r->n_buttons], 32, "%s", b->buttons[k].value);
		}
	}
	return r;
}

static int rc_start(struct chat *c) { (void)c; return 0; }

static int rc_post(struct chat *base, const struct chat_message *m, chat_result_cb cb, void *ud)
{
	struct rec_chat *c = (struct rec_chat *)base;
	struct rec_msg *r = record(c, "post", m);
	if (!m->thread_ts && c->fail_posts > 0) {
		c->fail_posts--;
		snprintf(r->method, sizeof r->method, "post-failed");
		answer(c, cb, ud, BOT_EREMOTE, NULL);
		return 0;
	}
	snprintf(r->ts, sizeof r->ts, "1700000000.%06d", ++c->next_ts);
	answer(c, cb, ud, 0, r->ts);
	return 0;
}

static int rc_update(struct chat *base, const char *channel, const char *ts,
		     const struct chat_message *m, chat_result_cb cb, void *ud)
{
	struct rec_chat *c = (struct rec_chat *)base;
	struct rec_msg *r = record(c, "update", m);
	snprintf(r->channel, sizeof r->channel, "%s", channel);
	snprintf(r->ts, sizeof r->ts, "%s", ts);
	answer(c, cb, ud, 0, ts);
	return 0;
}

static int rc_ephemeral(struct chat *base, const char *user, const struct chat_message *m,
			chat_result_cb cb, void *ud)
{
	struct rec_chat *c = (struct rec_chat *)base;
	struct rec_msg *r = record(c, "ephemeral", m);
	snprintf(r->user, sizeof r->user, "%s", user);
	answer(c, cb, ud, 0, "1.1");
	return 0;
}

static void rc_stop(struct chat *c, void (*done)(void *), void *ud) { (void)c; done(ud); }
static void rc_destroy(struct chat *c) { (void)c; }

static const struct chat_ops rec_ops = {
	.name = "recording", .start = rc_start, .post = rc_post, .update = rc_update,
	.ephemeral = rc_ephemeral, .stop = rc_stop, .destroy = rc_destroy,
};

/* ---- in-test cloud ------------------------------------------------------ */

struct creply {
	uv_timer_t t;
	struct tcloud *tc;
	enum { R_DESCRIBE, R_SCALE, R_METRICS, R_ALARMS, R_NOTIFY, R_DEPLOY } kind;
	union {
		cloud_describe_cb d;
		cloud_scale_cb s;
		cloud_metrics_cb m;
		cloud_alarms_cb a;
		cloud_notify_cb n;
	} cb;
	void *ud;
	int desired;
};

struct tcloud {
	struct cloud base;
	uv_loop_t *loop;
	int desired;
	int describes, scales, metric_calls, notifies;
	uint64_t reply_ms;     /* answers come this much later (0: 2 ms) */
	bool deny_scale;       /* answer UpdateService with AccessDeniedException */
	/* restart: the task definition it runs and its one deployment, whose
	 * id a forced deployment replaces (as ECS does) */
	int deployment, deploys, forced;
	char deployment_id[32];
	int missing;           /* the service is not in ECS: 1 = an error, as the AWS
				* adapter says it; 2 = no error and no service */
	double cpu[30], times[30];
	struct tqueue *q;      /* the alarm queue */
};

static void cloud_reply_fire(uv_timer_t *t)
{
	struct creply *r = (struct creply *)t;
	struct tcloud *tc = r->tc;
	struct cloud_error ok = {0}, denied = {
		.code = BOT_EPERM, .http_status = 400, .aws_code = "AccessDeniedException",
		.message = "User: arn:aws:iam::123456789012:user/ro is not authorized to perform: "
			   "ecs:UpdateService", .request_id = "rid-denied-7", .attempts = 1,
	};
	struct cloud_deployment dep = {
		.id = tc->deployment_id, .status = "PRIMARY", .rollout_state = "COMPLETED",
		.desired = tc->desired, .running = tc->desired,
	};
	snprintf(tc->deployment_id, sizeof tc->deployment_id, "ecs-svc/%d", tc->deployment);
	struct cloud_service svc = {
		.name = "web-svc", .cluster = "prod", .status = "ACTIVE", .desired = tc->desired,
		.running = tc->desired, .task_definition = "arn:aws:ecs:us-east-1:123456789012:"
		"task-definition/web:4", .deployments = &dep, .n_deployments = 1,
	};
	switch (r->kind) {
	case R_DESCRIBE:
		if (tc->missing == 1) {
			struct cloud_error gone = {
				.code = BOT_ENOTFOUND, .http_status = 200, .aws_code = "MISSING",
				.message = "arn:aws:ecs:us-east-1:123456789012:service/prod/web-svc",
				.attempts = 1,
			};
			r->cb.d(r->ud, &gone, NULL);
		} else {
			r->cb.d(r->ud, &ok, tc->missing ? NULL : &svc);
		}
		break;
	case R_SCALE:
		if (tc->deny_scale) {
			r->cb.s(r->ud, &denied, NULL);
		} else {
			tc->desired = r->desired;
			svc.desired = svc.running = r->desired;
			snprintf(ok.request_id, sizeof ok.request_id, "rid-scale-1");
			r->cb.s(r->ud, &ok, &svc);
		}
		break;
	case R_DEPLOY:
		tc->deployment += r->desired; /* forced: a new deployment */
		snprintf(tc->deployment_id, sizeof tc->deployment_id, "ecs-svc/%d", tc->deployment);
		r->cb.s(r->ud, &ok, &svc);
		break;
	case R_METRICS: {
		double now = (double)time(NULL);
		for (int i = 0; i < 30; i++) {
			tc->times[i] = now - (30 - i) * 60.0;
			tc->cpu[i] = 97.0;
		}
		struct cloud_metrics m = {
			.cpu_avg = {.name = "CPUUtilization", .stat = "Average", .period_s = 60,
				    .values = tc->cpu, .times = tc->times, .n = 30},
			.cpu_max = {.name = "CPUUtilization", .stat = "Maximum", .period_s = 60,
				    .values = tc->cpu, .times = tc->times, .n = 30},
			.start = now - 1800, .end = now,
		};
		r->cb.m(r->ud, &ok, &m);
		break;
	}
	case R_ALARMS:
		r->cb.a(r->ud, &ok, NULL, 0);
		break;
	case R_NOTIFY:
		r->cb.n(r->ud, &ok, "msg-1");
		break;
	}
	uv_close((uv_handle_t *)t, reply_closed);
}

/* The answer comes on a later loop turn, like a real call's. */
static struct creply *cloud_answer(struct tcloud *tc, int kind, void *ud, int desired)
{
	struct creply *r = calloc(1, sizeof *r);
	assert_non_null(r);
	r->tc = tc;
	r->kind = kind;
	r->ud = ud;
	r->desired = desired;
	uv_timer_init(tc->loop, &r->t);
	uv_timer_start(&r->t, cloud_reply_fire, tc->reply_ms ? tc->reply_ms : 2, 0);
	return r;
}

static int tc_describe(struct cloud *c, const char *cl, const char *s, cloud_describe_cb cb, void *ud)
{
	struct tcloud *tc = (struct tcloud *)c;
	(void)cl, (void)s;
	tc->describes++;
	cloud_answer(tc, R_DESCRIBE, ud, 0)->cb.d = cb;
	return 0;
}

static int tc_scale(struct cloud *c, const char *cl, const char *s, int desired, bool force,
		    cloud_scale_cb cb, void *ud)
{
	struct tcloud *tc = (struct tcloud *)c;
	(void)cl, (void)s, (void)force;
	tc->scales++;
	cloud_answer(tc, R_SCALE, ud, desired)->cb.s = cb;
	return 0;
}

static int tc_deploy(struct cloud *c, const char *cl, const char *s, const char *td, bool force,
		     cloud_scale_cb cb, void *ud)
{
	struct tcloud *tc = (struct tcloud *)c;
	(void)cl, (void)s;
	assert_non_null(strstr(td, "web:4"));
	tc->deploys++;
	tc->forced += force;
	cloud_answer(tc, R_DEPLOY, ud, force)->cb.s = cb;
	return 0;
}

static int tc_metrics(struct cloud *c, const char *cl, const char *s, int minutes,
		      cloud_metrics_cb cb, void *ud)
{
	struct tcloud *tc = (struct tcloud *)c;
	(void)cl, (void)s, (void)minutes;
	tc->metric_calls++;
	cloud_answer(tc, R_METRICS, ud, 0)->cb.m = cb;
	return 0;
}

static int tc_alarms(struct cloud *c, const char *cl, const char *s, cloud_alarms_cb cb, void *ud)
{
	(void)cl, (void)s;
	cloud_answer((struct tcloud *)c, R_ALARMS, ud, 0)->cb.a = cb;
	return 0;
}

static int tc_notify(struct cloud *c, const char *topic, const char *subject, const char *msg,
		     cloud_notify_cb cb, void *ud)
{
	struct tcloud *tc = (struct tcloud *)c;
	(void)topic, (void)subject, (void)msg;
	tc->notifies++;
	cloud_answer(tc, R_NOTIFY, ud, 0)->cb.n = cb;
	return 0;
}

/* ---- in-test alarm queue: SQS's contract (at least once; a message
 * taken is invisible until deleted or deferred) without its timing ------ */

#define QMAX 32

struct tqmsg {
	char id[16], receipt[24];
	int receive_count;
	bool malformed, taken, deleted;
	int deferred;
	struct cloud_alarm_change ch;
	struct cloud_alarm_dim dims[2];
	char arn[160], name[64], state[24], reason[160];
};

struct tqueue {
	struct tqmsg m[QMAX];
	int n, receives, deletes, defers;
	struct tqmsg *states[4];  /* what DescribeAlarms says now */
	int n_states, describe_calls;
	cloud_alarm_states_cb scb;
	void *sud;
	uv_timer_t st;
	struct tcloud *tc;
	cloud_queue_cb cb;     /* the receive waiting for an answer */
	void *ud;
	uv_timer_t t;
};

static void queue_fire(uv_timer_t *t)
{
	struct tqueue *q = t->data;
	struct cloud_queue_msg out[10];
	size_t n = 0;
	cloud_queue_cb cb = q->cb;

	for (int i = 0; i < q->n && n < 10; i++) {
		struct tqmsg *m = &q->m[i];
		if (m->taken || m->deleted)
			continue;
		m->taken = true;
		m->receive_count++;
		snprintf(m->receipt, sizeof m->receipt, "rh-%d-%d", i, m->receive_count);
		out[n++] = (struct cloud_queue_msg){
			.id = m->id, .receipt = m->receipt, .receive_count = m->receive_count,
			.alarm = m->malformed ? NULL : &m->ch,
			.error = m->malformed ? "not JSON" : NULL,
		};
	}
	q->cb = NULL;
	cb(q->ud, NULL, out, n);
}

static int tq_receive(struct cloud *c, const char *url, int wait_s, int max, int vis,
		      cloud_queue_cb cb, void *ud)
{
	struct tqueue *q = ((struct tcloud *)c)->q;
	(void)url, (void)wait_s, (void)max, (void)vis;
	assert_non_null(q);
	assert_null(q->cb); /* one receive at a time */
	q->receives++;
	q->cb = cb;
	q->ud = ud;
	uv_timer_start(&q->t, queue_fire, 5, 0); /* a short "long poll" */
	return 0;
}

static void states_fire(uv_timer_t *t)
{
	struct tqueue *q = t->data;
	struct cloud_alarm_change out[4];
	cloud_alarm_states_cb cb = q->scb;

	for (int i = 0; i < q->n_states; i++) {
		out[i] = q->states[i]->ch;
		out[i].format = "describe";
	}
	q->scb = NULL;
	cb(q->sud, NULL, out, (size_t)q->n_states);
}

static int tq_states(struct cloud *c, const char *const *names, size_t n_names,
		     const char *const *prefixes, size_t n_prefixes, cloud_alarm_states_cb cb,
		     void *ud)
{
	struct tqueue *q = ((struct tcloud *)c)->q;
	/* the listed alarms: web-* in the fixtures */
	assert_int_equal(n_names, 0);
	assert_int_equal(n_prefixes, 1);
	assert_string_equal(prefixes[0], "web-");
	(void)names;
	assert_null(q->scb);
	q->describe_calls++;
	q->scb = cb;
	q->sud = ud;
	uv_timer_start(&q->st, states_fire, 2, 0);
	return 0;
}

static struct tqmsg *tq_by_receipt(struct tqueue *q, const char *receipt)
{
	for (int i = 0; i < q->n; i++)
		if (strcmp(q->m[i].receipt, receipt) == 0)
			return &q->m[i];
	fail_msg("no message has receipt %s", receipt);
	return NULL;
}

struct tq_done {
	uv_timer_t t;
	cloud_done_cb cb;
	void *ud;
};

static void tq_done_fire(uv_timer_t *t)
{
	struct tq_done *d = (struct tq_done *)t;
	d->cb(d->ud, NULL);
	uv_close((uv_handle_t *)t, reply_closed);
}

static void tq_answer(struct tqueue *q, cloud_done_cb cb, void *ud)
{
	struct tq_done *d = calloc(1, sizeof *d);
	assert_non_null(d);
	d->cb = cb;
	d->ud = ud;
	uv_timer_init(q->tc->loop, &d->t);
	uv_timer_start(&d->t, tq_done_fire, 1, 0);
}

static int tq_delete(struct cloud *c, const char *url, const char *receipt, cloud_done_cb cb,
		     void *ud)
{
	struct tqueue *q = ((struct tcloud *)c)->q;
	(void)url;
	tq_by_receipt(q, receipt)->deleted = true;
	q->deletes++;
	tq_answer(q, cb, ud);
	return 0;
}

static int tq_defer(struct cloud *c, const char *url, const char *receipt, int vis,
		    cloud_done_cb cb, void *ud)
{
	struct tqueue *q = ((struct tcloud *)c)->q;
	struct tqmsg *m = tq_by_receipt(q, receipt);
	(void)url, (void)vis;
	m->deferred++;
	q->defers++;
	/* back at once in this queue, so a test need not wait vis seconds */
	m->taken = false;
	tq_answer(q, cb, ud);
	return 0;
}

/* A CloudWatch alarm's state change put in the queue. at_s: its
 * StateChangeTime (epoch s). */
static struct tqmsg *alarm_sent(struct tqueue *q, const char *name, const char *state,
				int64_t at_s, const char *reason)
{
	assert_true(q->n < QMAX);
	struct tqmsg *m = &q->m[q->n];
	snprintf(m->id, sizeof m->id, "msg-%d", q->n);
	q->n++;
	snprintf(m->arn, sizeof m->arn, "arn:aws:cloudwatch:us-east-1:123456789012:alarm:%s", name);
	snprintf(m->name, sizeof m->name, "%s", name);
	snprintf(m->state, sizeof m->state, "%s", state);
	snprintf(m->reason, sizeof m->reason, "%s", reason);
	m->dims[0] = (struct cloud_alarm_dim){"ClusterName", "prod"};
	m->dims[1] = (struct cloud_alarm_dim){"ServiceName", "web-svc"};
	m->ch = (struct cloud_alarm_change){
		.format = "sns", .arn = m->arn, .name = m->name, .region = "us-east-1",
		.account = "123456789012", .state = m->state, .old_state = NULL,
		.reason = m->reason, .changed_at_ms = at_s * 1000, .namespace_ = "AWS/ECS",
		.metric = "CPUUtilization", .statistic = "Average",
		.comparison = "GreaterThanThreshold", .dims = m->dims, .n_dims = 2,
		.has_threshold = true, .threshold = 80, .period_s = 60, .evaluation_periods = 3,
	};
	return m;
}

static void tc_destroy(struct cloud *c) { (void)c; }

static const struct cloud_ops tc_ops = {
	.name = "test", .describe = tc_describe, .scale = tc_scale, .deploy = tc_deploy,
	.metrics = tc_metrics,
	.alarms = tc_alarms, .notify = tc_notify, .destroy = tc_destroy,
	.queue_receive = tq_receive, .queue_delete = tq_delete, .queue_defer = tq_defer,
	.alarm_states = tq_states,
};

/* ---- fixture ------------------------------------------------------------ */

static const char config_yaml[] =
	"defaults:\n"
	"  timer: 10m\n"
	"  min_timer: 100ms\n"
	"  approvers: [U0APPROVER1, U0APPROVER2]\n"
	"  requesters: [U0ONCALL1]\n"
	"services:\n"
	"  web:\n"
	"    cluster: prod\n"
	"    ecs_service: web-svc\n"
	"    min_desired: 1\n"
	"    max_desired: 20\n"
	"    sns_topic_arn: arn:aws:sns:us-east-1:123456789012:owners\n";

/* The alarm intake's: alarms of web-svc by their dimensions, and of
 * web-* by name; posts in C0ALERTS. */
static const char alarm_yaml[] =
	"defaults:\n"
	"  timer: 10m\n"
	"  min_timer: 100ms\n"
	"  approvers: [U0APPROVER1, U0APPROVER2]\n"
	"  requesters: [U0ONCALL1]\n"
	"services:\n"
	"  web:\n"
	"    cluster: prod\n"
	"    ecs_service: web-svc\n"
	"    min_desired: 1\n"
	"    max_desired: 20\n"
	"    channel: C0ALERTS\n"
	"    alarms: ['web-*']\n"
	"alarms:\n"
	"  queue_url: http://127.0.0.1:9/123456789012/alarms\n"
	"  flap_window: 30m\n"
	"  reconcile_every: 100ms\n";

/* The same with the proposal policy on: twice the desired count, a short
 * timer. */
static const char policy_yaml[] =
	"defaults:\n"
	"  timer: 10m\n"
	"  min_timer: 100ms\n"
	"  approvers: [U0APPROVER1, U0APPROVER2]\n"
	"  requesters: [U0ONCALL1]\n"
	"services:\n"
	"  web:\n"
	"    cluster: prod\n"
	"    ecs_service: web-svc\n"
	"    min_desired: 1\n"
	"    max_desired: 20\n"
	"    channel: C0ALERTS\n"
	"    alarms: ['web-*']\n"
	"    on_alarm_scale_by: 2\n"
	"    on_alarm_timer: 300ms\n"
	"alarms:\n"
	"  queue_url: http://127.0.0.1:9/123456789012/alarms\n"
	"  flap_window: 30m\n"
	"  reconcile_every: 100ms\n";

/* The policy proposes a restart; web allows nothing else. */
static const char restart_policy_yaml[] =
	"defaults:\n"
	"  timer: 10m\n"
	"  min_timer: 100ms\n"
	"  approvers: [U0APPROVER1, U0APPROVER2]\n"
	"  requesters: [U0ONCALL1]\n"
	"services:\n"
	"  web:\n"
	"    cluster: prod\n"
	"    ecs_service: web-svc\n"
	"    min_desired: 1\n"
	"    max_desired: 20\n"
	"    channel: C0ALERTS\n"
	"    alarms: ['web-*']\n"
	"    actions: [restart]\n"
	"    on_alarm_action: restart\n"
	"    on_alarm_timer: 300ms\n"
	"alarms:\n"
	"  queue_url: http://127.0.0.1:9/123456789012/alarms\n"
	"  flap_window: 30m\n"
	"  reconcile_every: 100ms\n";

struct fixture {
	char dir[64], path[128];
	uv_loop_t loop;
	struct store *store;
	struct config *cfg;
	struct rec_chat chat;
	struct tcloud cloud;
	struct app *app;
	int ev_seq;
	struct tqueue q;
};

/* The store's wait for a lock (0: its default); a test that holds the
 * database's lock sets it short. */
static int store_busy_ms;

static int setup_with(void **state, const char *yaml)
{
	struct fixture *f = calloc(1, sizeof *f);
	struct bot_error err = {0};
	struct config_errors errs = {0};

	assert_non_null(f);
	log_set_level(getenv("WF_DEBUG") ? BOT_LOG_DEBUG : BOT_LOG_ERROR);
	snprintf(f->dir, sizeof f->dir, "/tmp/wf-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/s.db", f->dir);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(store_sqlite_open(&(struct store_sqlite_opts){.path = f->path,
			 .busy_timeout_ms = store_busy_ms}, &f->store, &err), 0);
	assert_int_equal(store_attach_loop(f->store, &f->loop), 0);
	assert_int_equal(config_load_string("test.yaml", yaml, 0, &f->cfg, &errs), 0);
	config_errors_free(&errs);
	f->chat.base.ops = &rec_ops;
	f->chat.loop = &f->loop;
	f->cloud.base.ops = &tc_ops;
	f->cloud.loop = &f->loop;
	f->cloud.desired = 2;
	f->cloud.q = &f->q;
	f->q.tc = &f->cloud;
	uv_timer_init(&f->loop, &f->q.t);
	f->q.t.data = &f->q;
	uv_timer_init(&f->loop, &f->q.st);
	f->q.st.data = &f->q;
	struct app_opts ao = {
		.loop = &f->loop, .cfg = f->cfg, .chat = &f->chat.base, .cloud = &f->cloud.base,
		.store = f->store, .verify_first_ms = 5, .verify_max_ms = 20,
		.verify_timeout_ms = 500,
	};
	assert_int_equal(app_create(&ao, &f->app, &err), 0);
	assert_int_equal(app_start(f->app, &err), 0);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, config_yaml);
}

static int setup_alarms(void **state)
{
	return setup_with(state, alarm_yaml);
}

static int setup_alarms_short_lock(void **state)
{
	store_busy_ms = 50;
	int rc = setup_with(state, alarm_yaml);
	store_busy_ms = 0;
	return rc;
}

static int setup_policy(void **state)
{
	return setup_with(state, policy_yaml);
}

static int setup_restart_policy(void **state)
{
	return setup_with(state, restart_policy_yaml);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	app_stop(f->app);
	uv_close((uv_handle_t *)&f->q.t, NULL);
	uv_close((uv_handle_t *)&f->q.st, NULL);
	/* let every in-flight answer and close callback run */
	for (int i = 0; i < 1000 && uv_run(&f->loop, UV_RUN_NOWAIT); i++)
		usleep(1000);
	app_destroy(f->app);
	store_close(f->store);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	config_unref(f->cfg);
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static uint64_t now_ms(void)
{
	return uv_hrtime() / 1000000u;
}

static void run_for(struct fixture *f, uint64_t ms)
{
	uint64_t end = now_ms() + ms;
	while (now_ms() < end) {
		uv_run(&f->loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
}

typedef bool (*cond_fn)(struct fixture *f, const void *arg);

static bool wait_for(struct fixture *f, cond_fn c, const void *arg)
{
	uint64_t end = now_ms() + WAIT_MS;
	while (!c(f, arg)) {
		if (now_ms() > end)
			return false;
		uv_run(&f->loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	return true;
}

/* The store answers on later loop turns: let what an event set off reach
 * the store (a few turns; the fakes' own timers are not waited for). */
static void settle(struct fixture *f)
{
	for (int i = 0; i < 10; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT);
}

/* A command arrives; nothing else runs yet. */
static void command_arrives(struct fixture *f, const char *user, const char *cmd,
			    const char *text)
{
	char id[32];
	snprintf(id, sizeof id, "cmd-%d", ++f->ev_seq);
	struct chat_event ev = {
		.type = CHAT_EV_COMMAND, .id = id, .user = user, .channel = "C0OPS",
		.command = cmd, .text = text,
	};
	app_on_chat_event(f->app, &ev);
}

static void command(struct fixture *f, const char *user, const char *cmd, const char *text)
{
	command_arrives(f, user, cmd, text);
	settle(f);
}

static void click(struct fixture *f, const char *user, const char *action, const char *value,
		  const char *id)
{
	char buf[32];
	if (!id) {
		snprintf(buf, sizeof buf, "act-%d", ++f->ev_seq);
		id = buf;
	}
	struct chat_event ev = {
		.type = CHAT_EV_BUTTON, .id = id, .user = user, .channel = "C0OPS",
		.action_id = action, .value = value, .message_ts = "1700000000.000001",
	};
	app_on_chat_event(f->app, &ev);
	settle(f);
}

/* Does any message of `method` (NULL: any) contain `needle`? */
static const struct rec_msg *find(struct fixture *f, const char *method, const char *needle)
{
	for (int i = f->chat.n - 1; i >= 0; i--)
		if ((!method || strcmp(f->chat.msg[i].method, method) == 0) &&
		    strstr(f->chat.msg[i].text, needle))
			return &f->chat.msg[i];
	return NULL;
}

static bool has_text(struct fixture *f, const void *needle)
{
	return find(f, NULL, needle) != NULL;
}

static enum gate_state state_of(struct fixture *f, uint64_t id)
{
	struct store_gate g = {0};
	struct bot_error err = {0};
	assert_int_equal(store_gate_get(f->store, id, &g, &err), 0);
	enum gate_state s = g.state;
	store_gate_clear(&g);
	return s;
}

/* Final in the store, and told: what a final commit sets off (the re-read,
 * the card update, the thread line) has run. */
static bool is_final(struct fixture *f, const void *arg)
{
	enum gate_state s = state_of(f, *(const uint64_t *)arg);
	if (!store_state_final(s))
		return false;
	settle(f);
	return true;
}

/* The card is posted with its two buttons; returns the gate id. */
static int cards_posted(struct fixture *f)
{
	int n = 0;
	for (int i = 0; i < f->chat.n; i++)
		n += strcmp(f->chat.msg[i].method, "post") == 0 && !f->chat.msg[i].thread[0] &&
		     strstr(f->chat.msg[i].text, " request #") != NULL &&
		     strstr(f->chat.msg[i].text, "·") != NULL; /* a card's context line */
	return n;
}

static bool more_cards(struct fixture *f, const void *arg)
{
	return cards_posted(f) > *(const int *)arg;
}

static uint64_t open_request(struct fixture *f, const char *user, const char *text)
{
	int before = cards_posted(f);
	command(f, user, "/scale", text);
	assert_true(wait_for(f, more_cards, &before));
	/* the timer runs once the post is confirmed: the card gets the deadline */
	assert_true(wait_for(f, has_text, "*Approves automatically at"));
	const struct rec_msg *card = find(f, "post", "Scale request #");
	assert_non_null(card);
	assert_string_equal(card->thread, "");
	assert_int_equal(card->n_buttons, 2);
	assert_string_equal(card->action[0], CARD_ACTION_APPROVE);
	assert_string_equal(card->action[1], CARD_ACTION_DENY);
	return strtoull(card->value[0], NULL, 10);
}

static void assert_chain_ok(struct fixture *f)
{
	struct bot_error err = {0};
	size_t n = 0;
	assert_int_equal(audit_verify(f->store, &n, NULL, NULL, &err), 0);
	assert_true(n > 0);
}

/* ---- tests -------------------------------------------------------------- */

static void test_silence_approves_by_timer(void **state)
{
	struct fixture *f = *state;
	uint64_t id = open_request(f, "U0ONCALL1", "web 5 --timer 300ms CPU pegged");

	assert_int_equal(f->cloud.scales, 0);
	assert_true(wait_for(f, is_final, &id));
	assert_int_equal(state_of(f, id), GATE_SUCCEEDED);
	assert_int_equal(f->cloud.scales, 1);
	assert_int_equal(f->cloud.desired, 5);
	/* the card says the timer approved, not a person, and lost its buttons */
	const struct rec_msg *u = find(f, "update", "*Approved by timer*");
	assert_non_null(u);
	assert_int_equal(u->n_buttons, 0);
	assert_non_null(find(f, "update", "rid-scale-1"));
	/* the thread holds the trail, recovery included */
	assert_non_null(find(f, "post", "*Requested* by <@U0ONCALL1>"));
	assert_non_null(find(f, "post", "*Calling AWS:* ECS UpdateService"));
	assert_non_null(find(f, "post", "*Succeeded:*"));
	assert_true(wait_for(f, has_text, "*Recovery:* running 5 of 5 tasks"));
	const struct rec_msg *r = find(f, "post", "*Recovery:*");
	assert_string_not_equal(r->thread, "");
	assert_non_null(strstr(r->text, "CPU average 97.0% before the change"));
	/* mirrored to SNS: the request and the decision */
	assert_true(f->cloud.notifies >= 2);
	assert_chain_ok(f);
}

static void test_approve_now(void **state)
{
	struct fixture *f = *state;
	uint64_t id = open_request(f, "U0ONCALL1", "web 7");
	char v[24];

	snprintf(v, sizeof v, "%llu", (unsigned long long)id);
	click(f, "U0APPROVER2", CARD_ACTION_APPROVE, v, NULL);
	assert_true(wait_for(f, is_final, &id));
	assert_int_equal(state_of(f, id), GATE_SUCCEEDED);
	assert_int_equal(f->cloud.scales, 1);
	assert_non_null(find(f, "update", "*Approved* by <@U0APPROVER2>"));
	assert_non_null(find(f, "post", "*Decision:* *Approved* by <@U0APPROVER2>"));
	assert_non_null(find(f, "ephemeral", "You approved request"));
}

static void test_deny_never_scales(void **state)
{
	struct fixture *f = *state;
	uint64_t id = open_request(f, "U0ONCALL1", "web 9 --timer 200ms");
	char v[24];

	snprintf(v, sizeof v, "%llu", (unsigned long long)id);
	click(f, "U0APPROVER1", CARD_ACTION_DENY, v, NULL);
	assert_int_equal(state_of(f, id), GATE_DENIED);
	run_for(f, 400); /* well past the timer */
	assert_int_equal(state_of(f, id), GATE_DENIED);
	assert_int_equal(f->cloud.scales, 0);
	assert_int_equal(f->cloud.desired, 2);
	assert_non_null(find(f, "update", "*Denied* by <@U0APPROVER1>"));
	assert_non_null(find(f, "post", "Nothing will be changed in AWS"));
	/* a click after the decision changes nothing and says what happened */
	click(f, "U0APPROVER2", CARD_ACTION_APPROVE, v, NULL);
	assert_true(wait_for(f, has_text, "changed nothing: it was already denied by <@U0APPROVER1>"));
	assert_int_equal(f->cloud.scales, 0);
	assert_chain_ok(f);
}

static void test_unauthorized_and_self_approval(void **state)
{
	struct fixture *f = *state;
	uint64_t id = open_request(f, "U0APPROVER1", "web 4 --timer 400ms");
	char v[24];

	snprintf(v, sizeof v, "%llu", (unsigned long long)id);
	click(f, "U0STRANGER", CARD_ACTION_DENY, v, NULL);
	assert_int_equal(state_of(f, id), GATE_PENDING);
	assert_true(wait_for(f, has_text, "you are not an approver of this service"));
	const struct rec_msg *e = find(f, "ephemeral", "not an approver");
	assert_string_equal(e->user, "U0STRANGER");
	assert_non_null(find(f, "post", "<@U0STRANGER> pressed *Deny*: refused"));

	click(f, "U0APPROVER1", CARD_ACTION_APPROVE, v, NULL); /* the requester */
	assert_int_equal(state_of(f, id), GATE_PENDING);
	assert_true(wait_for(f, has_text, "you may not approve your own request"));
	assert_int_equal(f->cloud.scales, 0);
	/* the refused clicks changed nothing: the timer still decides */
	assert_true(wait_for(f, is_final, &id));
	assert_int_equal(state_of(f, id), GATE_SUCCEEDED);
	assert_int_equal(f->cloud.scales, 1);
}

static void test_bad_input_changes_nothing(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *user, *text, *want;
	} cases[] = {
		{"U0ONCALL1", "web", "Missing arguments"},
		{"U0ONCALL1", "web many", "must be a whole number of tasks"},
		{"U0ONCALL1", "web -3", "is negative"},
		{"U0ONCALL1", "web 2.5", "must be a whole number"},
		{"U0ONCALL1", "web 21", "between 1 and 20 tasks; 21 is out of bounds"},
		{"U0ONCALL1", "web 0", "0 is out of bounds"},
		{"U0ONCALL1", "nope 3", "Unknown service `nope`. Known services: `web`"},
		{"U0ONCALL1", "web 3 --timer soon", "is not a duration"},
		{"U0ONCALL1", "web 3 --timer 30d", "out of bounds"},
		{"U0ONCALL1", "web 3 --timer", "needs a duration"},
		{"U0ONCALL1", "web 3 --force", "Unknown option `--force`"},
		{"U0STRANGER", "web 3", "You may not request changes"},
	};

	for (size_t i = 0; i < BOT_ARRAY_LEN(cases); i++) {
		int before = f->chat.n;
		command(f, cases[i].user, "/scale", cases[i].text);
		assert_true(wait_for(f, has_text, cases[i].want));
		/* only the person who typed it hears about it */
		for (int k = before; k < f->chat.n; k++) {
			assert_string_equal(f->chat.msg[k].method, "ephemeral");
			assert_string_equal(f->chat.msg[k].user, cases[i].user);
		}
		/* bad words come with the usage line; a refusal does not */
		const char *last = f->chat.msg[f->chat.n - 1].text;
		if (strcmp(cases[i].user, "U0STRANGER") != 0)
			assert_non_null(strstr(last, "Usage: `/scale &lt;service&gt; &lt;count&gt;"));
	}
	run_for(f, 50);
	assert_int_equal(f->cloud.describes, 0); /* validated before anything was read */
	assert_int_equal(f->cloud.scales, 0);
	struct store_gate *v = NULL;
	size_t n = 9;
	struct bot_error err = {0};
	assert_int_equal(store_gate_recent(f->store, 10, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	store_gate_array_free(v, n);
}

static void test_undelivered_fails_closed(void **state)
{
	struct fixture *f = *state;
	f->chat.fail_posts = 1;
	command(f, "U0ONCALL1", "/scale", "web 6 --timer 100ms");
	assert_true(wait_for(f, has_text, "could not be posted, so it failed closed"));
	run_for(f, 300);
	assert_int_equal(f->cloud.scales, 0);
	struct store_gate *v = NULL;
	size_t n = 0;
	struct bot_error err = {0};
	assert_int_equal(store_gate_recent(f->store, 10, &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].state, GATE_FAILED);
	assert_int_equal(v[0].deadline, 0); /* the timer never started */
	store_gate_array_free(v, n);
}

static void test_access_denied_is_shown_and_bot_serves_on(void **state)
{
	struct fixture *f = *state;
	f->cloud.deny_scale = true;
	uint64_t id = open_request(f, "U0ONCALL1", "web 8 --timer 100ms");
	assert_true(wait_for(f, is_final, &id));
	assert_int_equal(state_of(f, id), GATE_FAILED);
	const struct rec_msg *m = find(f, "post", "*Failed* (aws_error)");
	assert_non_null(m);
	assert_non_null(strstr(m->text, "AccessDeniedException"));
	assert_non_null(strstr(m->text, "rid-denied-7"));
	assert_non_null(find(f, "update", "not authorized to perform: ecs:UpdateService"));
	/* still serving */
	command(f, "U0ONCALL1", "/gates", "");
	assert_true(wait_for(f, has_text, "FAILED"));
}

static void test_duplicates_and_open_requests(void **state)
{
	struct fixture *f = *state;
	uint64_t id = open_request(f, "U0ONCALL1", "web 5");
	char v[24];

	/* a second request for the same service is refused */
	command(f, "U0ONCALL1", "/scale", "web 6");
	assert_true(wait_for(f, has_text, "already has an open request"));
	/* the same click delivered twice acts once */
	snprintf(v, sizeof v, "%llu", (unsigned long long)id);
	click(f, "U0APPROVER1", CARD_ACTION_APPROVE, v, "act-same");
	click(f, "U0APPROVER1", CARD_ACTION_APPROVE, v, "act-same");
	assert_true(wait_for(f, is_final, &id));
	run_for(f, 50);
	assert_int_equal(f->cloud.scales, 1);
	int decided = 0;
	for (int i = 0; i < f->chat.n; i++)
		decided += strstr(f->chat.msg[i].text, "*Decision:* *Approved* by <@U0APPROVER1>") != NULL;
	assert_int_equal(decided, 1);
	/* already at the target: nothing to do */
	command(f, "U0ONCALL1", "/scale", "web 5");
	assert_true(wait_for(f, has_text, "already has a desired count of 5"));
	/* cancel by the requester */
	uint64_t id2 = open_request(f, "U0ONCALL1", "web 3");
	char t[32];
	snprintf(t, sizeof t, "cancel %llu", (unsigned long long)id2);
	command(f, "U0ONCALL1", "/gates", t);
	assert_int_equal(state_of(f, id2), GATE_CANCELLED);
	assert_true(wait_for(f, has_text, "*Cancelled* by <@U0ONCALL1>"));
	assert_int_equal(f->cloud.scales, 1);
}

/* Local checks first: /scale of a service that has a request on its way
 * in this process, or an open one in the store, is refused before AWS is
 * read - the open one with a link to its card and who asked. */
static void test_scale_refused_before_any_read(void **state)
{
	struct fixture *f = *state;
	int before = f->cloud.describes, cards = cards_posted(f);

	command_arrives(f, "U0ONCALL1", "/scale", "web 5");
	command_arrives(f, "U0ONCALL1", "/scale", "web 6");
	command_arrives(f, "U0ONCALL1", "/scale", "web 7");
	assert_true(wait_for(f, more_cards, &cards));
	assert_true(wait_for(f, has_text, "*web*: a request by <@U0ONCALL1> is being opened "
				 "right now"));
	assert_int_equal(f->cloud.describes - before, 1);
	assert_int_equal(cards_posted(f), cards + 1);
	const struct rec_msg *card = find(f, "post", "Scale request #");
	assert_non_null(card);
	uint64_t id = strtoull(card->value[0], NULL, 10);
	char want[96];
	snprintf(want, sizeof want, "*web* already has an open request (#%llu, asked by "
		 "<@U0ONCALL1>)", (unsigned long long)id);
	command(f, "U0ONCALL1", "/scale", "web 8");
	assert_true(wait_for(f, has_text, want));
	assert_int_equal(f->cloud.describes - before, 1); /* no read for it */
	assert_int_equal(cards_posted(f), cards + 1);
}

/* /gates lists every open request, however many newer ones were decided
 * since; and the latest decided ones after them. */
static void test_gates_lists_every_open_request(void **state)
{
	struct fixture *f = *state;
	struct config_errors errs = {0};
	struct config *cfg = NULL;
	char yaml[2048], cmd[64];
	size_t o = (size_t)snprintf(yaml, sizeof yaml, "%s", config_yaml);

	for (int i = 1; i <= 9; i++)
		o += (size_t)snprintf(yaml + o, sizeof yaml - o, "  s%d:\n    cluster: prod\n"
				      "    max_desired: 20\n", i);
	assert_int_equal(config_load_string("test.yaml", yaml, 0, &cfg, &errs), 0);
	config_errors_free(&errs);
	app_set_config(f->app, cfg);
	config_unref(cfg);

	uint64_t first = open_request(f, "U0ONCALL1", "web 5");
	for (int i = 1; i <= 9; i++) {
		snprintf(cmd, sizeof cmd, "s%d 3", i);
		uint64_t id = open_request(f, "U0ONCALL1", cmd);
		snprintf(cmd, sizeof cmd, "cancel %llu", (unsigned long long)id);
		command(f, "U0ONCALL1", "/gates", cmd);
		assert_int_equal(state_of(f, id), GATE_CANCELLED);
	}
	command(f, "U0ONCALL1", "/gates", "");
	assert_true(wait_for(f, has_text, "Approval requests"));
	const struct rec_msg *m = find(f, "ephemeral", "Approval requests");
	char open_line[64];
	snprintf(open_line, sizeof open_line, "*#%llu* web: scale to 5 · PENDING", (unsigned long long)first);
	assert_non_null(strstr(m->text, open_line));
	assert_null(strstr(m->text, "No open requests"));
	/* the latest decided ones follow: #10 back to #3, not #2 */
	assert_non_null(strstr(m->text, "*#10* s9: scale to 3 · CANCELLED"));
	assert_non_null(strstr(m->text, "*#3* s2: scale to 3 · CANCELLED"));
	assert_null(strstr(m->text, "*#2* s1"));
}

/* A reason is one line of plain text: new lines folded, and shown in a
 * plain-text block, never in the markup, so it cannot fake a decision
 * line or a mention. */
static void test_reason_is_plain_text(void **state)
{
	struct fixture *f = *state;
	const char *folded = "Reason: cpu *Approved* by <@U0APPROVER1> <!channel>\n";

	command(f, "U0ONCALL1", "/scale", "web 6 cpu\n*Approved* by <@U0APPROVER1>\t<!channel>");
	assert_true(wait_for(f, has_text, "*Requested* by <@U0ONCALL1>: scale to 6"));
	const struct rec_msg *card = find(f, "post", "Scale request #1");
	assert_non_null(card);
	/* the card's plain text: the reason, then the evidence as stored */
	assert_int_equal(strncmp(card->plain, folded, strlen(folded)), 0);
	assert_int_equal(strncmp(card->plain + strlen(folded), "web in cluster prod is ACTIVE\n", 30),
			 0);
	assert_null(strstr(card->text, "<!channel>"));
	assert_null(strstr(card->text, "*Approved* by"));
	const struct rec_msg *req = find(f, "post", "*Requested* by <@U0ONCALL1>: scale to 6");
	assert_string_equal(req->plain, folded);
	assert_null(strstr(req->text, "<!channel>"));
}

/* slack.allowed_channels: commands typed elsewhere get a clear answer and
 * change nothing (no AWS read, no card, counted as refused). */
static void test_allowed_channels(void **state)
{
	struct fixture *f = *state;
	struct config_errors errs = {0};
	struct config *cfg = NULL;
	char yaml[1024];

	snprintf(yaml, sizeof yaml, "slack:\n  allowed_channels: [C0CHATOPS, C0OPS2]\n%s",
		 config_yaml);
	assert_int_equal(config_load_string("test.yaml", yaml, 0, &cfg, &errs), 0);
	config_errors_free(&errs);
	app_set_config(f->app, cfg);
	config_unref(cfg);
	command(f, "U0ONCALL1", "/scale", "web 5");
	assert_true(wait_for(f, has_text, "The bot takes commands only in <#C0CHATOPS> and "
			     "<#C0OPS2>; nothing was done here."));
	command(f, "U0ONCALL1", "/investigate", "web");
	command(f, "U0ONCALL1", "/chatops", "");
	assert_int_equal(f->cloud.describes, 0);
	assert_null(find(f, "post", "Scale request"));
	assert_int_equal(f->chat.base.refused[CHAT_REFUSED_CHANNEL], 3);
}

/* A service the configuration names but ECS does not have is "not found",
 * for /investigate as for /scale, however the cloud says it is missing;
 * nothing is requested. */
static void test_missing_service_is_not_found(void **state)
{
	struct fixture *f = *state;
	static const char want[] = "ECS service `web-svc` was not found in cluster `prod`";

	for (int how = 1; how <= 2; how++) {
		f->cloud.missing = how;
		f->chat.n = 0;
		command(f, "U0ONCALL1", "/investigate", "web");
		assert_true(wait_for(f, has_text, want));
		const struct rec_msg *m = find(f, "ephemeral", want);
		assert_string_equal(m->user, "U0ONCALL1");
		assert_null(strstr(m->text, "Could not read"));
		assert_null(find(f, "post", "Investigation"));

		f->chat.n = 0;
		command(f, "U0ONCALL1", "/scale", "web 5");
		assert_true(wait_for(f, has_text, want));
		assert_non_null(find(f, "ephemeral", "; nothing was requested. Check the service's "
				     "`cluster` and `ecs_service` in the configuration."));
		assert_null(find(f, "post", "Scale request"));
	}
	assert_int_equal(f->cloud.scales, 0);
}

static void test_help_is_filtered(void **state)
{
	struct fixture *f = *state;
	command(f, "U0STRANGER", "/chatops", "help");
	assert_true(wait_for(f, has_text, "You may request changes to: none"));
	const struct rec_msg *h = find(f, "ephemeral", "You may request changes to: none");
	assert_null(strstr(h->text, "/scale"));
	assert_null(strstr(h->text, "/gates"));
	assert_non_null(strstr(h->text, "/chatops"));
	assert_null(strstr(h->text, "Actions by service")); /* no service of theirs */
	/* /gates is for requesters and approvers of a service */
	command(f, "U0STRANGER", "/gates", "");
	assert_true(wait_for(f, has_text, "`/gates` is for the requesters and approvers of a "
			     "service"));
	assert_null(find(f, "ephemeral", "Approval requests"));
	command(f, "U0APPROVER1", "/chatops", "");
	assert_true(wait_for(f, has_text, "You may approve or deny requests for: `web`"));
	h = find(f, "ephemeral", "You may approve or deny requests for: `web`");
	assert_non_null(strstr(h->text, "/scale &lt;service&gt;"));
	/* the actions of their service: scale only, no actions: in the file */
	assert_non_null(strstr(h->text, "Actions by service:\n`web`: scale\n"));
}

/* The detector used by the recorder finds what it looks for (so the
 * checks on every message can fail), and leaves names alone. */
static void test_markup_detector(void **state)
{
	(void)state;
	static const char *const marked[] = {
		"*Done:*", "run `/gates`", "_no data_", "(_italic_)", "by <@U1>", "in <#C1>",
		"<!channel>", "<!date^1^{time}|x>", "<https://x|y>", "a &amp; b", "&lt;svc&gt;",
	};
	static const char *const clean[] = {
		"ecs_service=web-svc", "Failed (aws_error): x", "/scale <service> <count>",
		"a & b <c>", "@U1 in #C1", "snake_case_name and other_one", "_", "x_ y_",
	};
	for (size_t i = 0; i < BOT_ARRAY_LEN(marked); i++)
		if (!markup_in(marked[i]))
			fail_msg("no markup found in %s", marked[i]);
	for (size_t i = 0; i < BOT_ARRAY_LEN(clean); i++)
		if (markup_in(clean[i]))
			fail_msg("markup '%s' found in %s", markup_in(clean[i]), clean[i]);
}

static bool card_says(struct fixture *f, const void *needle)
{
	const struct rec_msg *m = find(f, "update", needle);
	return m != NULL;
}

/* Every command, its refusals and errors, /investigate's findings and a
 * card through its life: the recorder checks each message for Slack
 * markup (assert_no_markup*) as it arrives. */
static void test_nothing_said_holds_markup(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *user, *cmd, *text, *want;
	} said[] = {
		{"U0ONCALL1", "/chatops", "", "You may request changes to"},
		{"U0STRANGER", "/chatops", "help", "commands hidden"},
		{"U0ONCALL1", "/chatops", "what", "Unknown subcommand"},
		{"U0ONCALL1", "/gates", "", "No requests yet"},
		{"U0ONCALL1", "/gates", "cancel", "Which request?"},
		{"U0ONCALL1", "/gates", "cancel x", "is not a request number"},
		{"U0ONCALL1", "/gates", "frob", "Unknown subcommand"},
		{"U0ONCALL1", "/gates", "a b c", "Too many arguments"},
		{"U0STRANGER", "/gates", "", "names you for none"},
		{"U0ONCALL1", "/frob", "", "Unknown command"},
		{"U0ONCALL1", "/investigate", "nope", "Known services"},
		{"U0STRANGER", "/investigate", "web", "You are not among the requesters"},
		{"U0ONCALL1", "/scale", "\"web 3", "Unbalanced quote"},
		{"U0ONCALL1", "/scale", "web 3 --timer 30d", "out of bounds"},
		{"U0ONCALL1", "/scale", "web 2", "already has a desired count of 2"},
		{"U0ONCALL1", "/scale", "web 6 --timer 10m cpu is hot", "*Requested* by"},
		{"U0ONCALL1", "/scale", "web 7", "already has an open request"},
		{"U0ONCALL1", "/gates", "", "PENDING"},
	};
	int n0 = f->chat.n;

	for (size_t i = 0; i < BOT_ARRAY_LEN(said); i++) {
		command(f, said[i].user, said[i].cmd, said[i].text);
		if (!wait_for(f, has_text, said[i].want))
			fail_msg("%s %s: no '%s'", said[i].cmd, said[i].text, said[i].want);
	}
	/* the card is the first message posted: the click is on it */
	click(f, "U0APPROVER1", CARD_ACTION_APPROVE, "1", NULL);
	assert_true(wait_for(f, card_says, "*Recovery:*"));
	command(f, "U0ONCALL1", "/gates", "cancel 1");
	assert_true(wait_for(f, has_text, "changed nothing"));
	command(f, "U0ONCALL1", "/investigate", "web");
	assert_true(wait_for(f, has_text, "Investigation: web"));
	const struct rec_msg *inv = find(f, "post", "Investigation: web");
	assert_non_null(inv);
	assert_non_null(find(f, "post", "*Suggested:*"));
	assert_int_equal(inv->n_buttons, 1); /* "Scale to ..." */
	assert_true(f->chat.n - n0 > 30);
}


static int count_of(struct fixture *f, const char *method, const char *needle)
{
	int n = 0;
	for (int i = 0; i < f->chat.n; i++)
		n += strcmp(f->chat.msg[i].method, method) == 0 &&
		     strstr(f->chat.msg[i].text, needle) != NULL;
	return n;
}

static bool ephemeral_to(struct fixture *f, const char *user, const char *needle)
{
	for (int i = 0; i < f->chat.n; i++)
		if (strcmp(f->chat.msg[i].method, "ephemeral") == 0 &&
		    strcmp(f->chat.msg[i].user, user) == 0 && strstr(f->chat.msg[i].text, needle))
			return true;
	return false;
}

static bool approver2_pointed(struct fixture *f, const void *arg)
{
	return ephemeral_to(f, "U0APPROVER2", arg);
}

/* One read per service at a time, reused for the window: /investigate
 * asks that arrive together, and a /scale among them, cost AWS one read;
 * one report is posted, the others are pointed to it; the card says when
 * the read was made. */
static void test_reads_shared_and_reused(void **state)
{
	struct fixture *f = *state;
	int cards = cards_posted(f);

	/* AWS answers slowly: every ask arrives while the first read is out
	 * (the /scale reads the store first), even on a slow machine */
	f->cloud.reply_ms = 1500;
	command_arrives(f, "U0ONCALL1", "/investigate", "web");
	command_arrives(f, "U0APPROVER1", "/investigate", "web");
	command_arrives(f, "U0APPROVER2", "/investigate", "web");
	command_arrives(f, "U0ONCALL1", "/scale", "web 5");
	assert_true(wait_for(f, more_cards, &cards));
	assert_true(wait_for(f, has_text, "Investigation: web"));
	assert_int_equal(f->cloud.describes, 1);
	assert_int_equal(f->cloud.metric_calls, 1);
	assert_int_equal(count_of(f, "post", "Investigation: web"), 1);
	assert_true(ephemeral_to(f, "U0APPROVER1", "An investigation of *web* asked by "
				 "<@U0ONCALL1> is under way"));
	assert_true(ephemeral_to(f, "U0APPROVER2", "is under way"));
	f->cloud.reply_ms = 0;
	const struct rec_msg *card = find(f, "post", "Scale request #");
	assert_non_null(strstr(card->plain, "Read from AWS at "));
	assert_non_null(strstr(find(f, "post", "Investigation: web")->text, "read from AWS"));

	/* within the window, once posted: a link to the report, no new read */
	command(f, "U0APPROVER2", "/investigate", "web");
	assert_true(wait_for(f, approver2_pointed, "*web* was read from AWS "));
	assert_true(ephemeral_to(f, "U0APPROVER2", "for <@U0ONCALL1>: see the report in <#C0OPS>"));
	assert_int_equal(f->cloud.describes, 1);
	assert_int_equal(count_of(f, "post", "Investigation: web"), 1);
}

static bool posts_at_least(struct fixture *f, const void *arg)
{
	return count_of(f, "post", "Investigation: web") >= *(const int *)arg;
}

static bool approver1_told(struct fixture *f, const void *arg)
{
	return ephemeral_to(f, "U0APPROVER1", arg);
}

/* Told a report is on its way, then the read fails: everyone who was
 * told hears why, not only the first asker. */
static void test_pointed_askers_hear_a_failed_read(void **state)
{
	struct fixture *f = *state;
	static const char want[] = "ECS service `web-svc` was not found in cluster `prod`";

	f->cloud.missing = 1;
	f->cloud.reply_ms = 1000;
	command_arrives(f, "U0ONCALL1", "/investigate", "web");
	command_arrives(f, "U0APPROVER1", "/investigate", "web");
	assert_true(wait_for(f, has_text, "is under way"));
	assert_true(wait_for(f, has_text, want));
	f->cloud.reply_ms = 0;
	assert_true(wait_for(f, approver1_told, want));
	assert_true(ephemeral_to(f, "U0ONCALL1", want));
	assert_true(ephemeral_to(f, "U0APPROVER1", want));
	assert_int_equal(f->cloud.describes, 1);
	assert_null(find(f, "post", "Investigation"));
}

/* A /scale decides on what it reads: it never takes a kept read (another
 * replica may have scaled since), while an /investigate does. */
static void test_scale_reads_afresh(void **state)
{
	struct fixture *f = *state;
	int want = 1;

	command(f, "U0ONCALL1", "/investigate", "web");
	assert_true(wait_for(f, posts_at_least, &want));
	open_request(f, "U0ONCALL1", "web 5");
	assert_int_equal(f->cloud.describes, 2);
}

/* An /investigate shortly after a /scale shows what the /scale read. */
static void test_investigate_reuses_recent_read(void **state)
{
	struct fixture *f = *state;
	int want = 1;

	open_request(f, "U0ONCALL1", "web 5");
	command(f, "U0APPROVER1", "/investigate", "web");
	assert_true(wait_for(f, posts_at_least, &want));
	assert_int_equal(f->cloud.describes, 1);
}

/* After the window a new ask reads again and posts a new report; a failed
 * read is never reused; a scale by the bot forgets what was read. */
static void test_read_window_passes(void **state)
{
	struct fixture *f = *state;
	struct config_errors errs = {0};
	struct config *cfg = NULL;
	char yaml[1024];
	int want = 1;

	snprintf(yaml, sizeof yaml, "limits:\n  read_window: 300ms\n%s", config_yaml);
	assert_int_equal(config_load_string("test.yaml", yaml, 0, &cfg, &errs), 0);
	config_errors_free(&errs);
	app_set_config(f->app, cfg);
	config_unref(cfg);

	command(f, "U0ONCALL1", "/investigate", "web");
	assert_true(wait_for(f, posts_at_least, &want));
	run_for(f, 350);
	command(f, "U0ONCALL1", "/investigate", "web");
	want = 2;
	assert_true(wait_for(f, posts_at_least, &want));
	assert_int_equal(f->cloud.describes, 2);

	/* a failed read: the next ask reads again at once */
	f->cloud.missing = 1;
	run_for(f, 350);
	command(f, "U0ONCALL1", "/investigate", "web");
	assert_true(wait_for(f, has_text, "was not found in cluster"));
	f->cloud.missing = 0;
	command(f, "U0ONCALL1", "/investigate", "web");
	want = 3;
	assert_true(wait_for(f, posts_at_least, &want));
	assert_int_equal(f->cloud.describes, 4);
}

/* The bot's own scale makes what it read wrong: an /investigate right
 * after it shows the new count, not the one read for the request. */
static void test_scale_forgets_the_read(void **state)
{
	struct fixture *f = *state;
	uint64_t id = open_request(f, "U0ONCALL1", "web 5");
	char v[24];
	int want = 1;

	snprintf(v, sizeof v, "%llu", (unsigned long long)id);
	click(f, "U0APPROVER1", CARD_ACTION_APPROVE, v, NULL);
	assert_true(wait_for(f, is_final, &id));
	command(f, "U0ONCALL1", "/investigate", "web");
	assert_true(wait_for(f, posts_at_least, &want));
	const struct rec_msg *m = find(f, "post", "Investigation: web");
	assert_non_null(strstr(m->text, "Tasks: 5 desired"));
}

/* ---- the alarm intake ----------------------------------------------------- */

static const char *text_has(const struct rec_msg *m, const char *needle)
{
	return m ? strstr(m->text, needle) : NULL;
}

static const char *plain_has(const struct rec_msg *m, const char *needle)
{
	return m ? strstr(m->plain, needle) : NULL;
}

static int count_method(struct fixture *f, const char *method, const char *needle)
{
	int n = 0;
	for (int i = 0; i < f->chat.n; i++)
		n += strcmp(f->chat.msg[i].method, method) == 0 &&
		     strstr(f->chat.msg[i].text, needle) != NULL;
	return n;
}

static bool deleted(struct fixture *f, const void *arg)
{
	(void)f;
	return ((const struct tqmsg *)arg)->deleted;
}

static struct alarm_intake_stats intake_stats(struct fixture *f)
{
	struct alarm_intake_stats st;
	app_alarm_stats(f->app, &st);
	return st;
}

/* The alarm's record, parsed (NULL: none). */
static json_t *record_of(struct fixture *f, const char *name)
{
	char arn[160];
	struct store_alarm a = {0};
	struct bot_error err = {0};
	snprintf(arn, sizeof arn, "arn:aws:cloudwatch:us-east-1:123456789012:alarm:%s", name);
	assert_int_equal(store_alarm_get(f->store, arn, &a, &err), 0);
	json_t *j = a.version ? json_loads(a.body, 0, NULL) : NULL;
	store_alarm_clear(&a);
	return j;
}

#define T0 1733300000 /* an alarm's StateChangeTime, epoch s */

/* ALARM: one post in the service's channel with the alarm, the
 * investigation and its suggested action; deleted only once posted and
 * recorded. OK: a line in its thread, the post updated to say it
 * recovered. */
static void test_alarm_episode(void **state)
{
	struct fixture *f = *state;
	struct tqmsg *m = alarm_sent(&f->q, "web-cpu-high", "ALARM", T0,
				     "Threshold Crossed: 3 datapoints were greater than 80.0");

	assert_true(wait_for(f, deleted, m));
	const struct rec_msg *p = find(f, "post", "ALARM: web-cpu-high");
	assert_non_null(p);
	assert_string_equal(p->channel, "C0ALERTS");
	assert_string_equal(p->thread, "");
	assert_non_null(text_has(p, "*web*: alarm web-cpu-high is in ALARM since"));
	assert_non_null(text_has(p, "Threshold Crossed: 3 datapoints"));
	assert_non_null(text_has(p, "AWS/ECS CPUUtilization (Average) &gt; 80 for 3 x 60 s"));
	/* the investigation /investigate gives, and its action as a button */
	assert_non_null(plain_has(p, "CPU"));
	assert_int_equal(p->n_buttons, 1);
	assert_string_equal(p->action[0], "investigate.scale");
	assert_string_equal(p->value[0], "web 4");
	assert_int_equal(f->cloud.describes, 1);
	json_t *rec = record_of(f, "web-cpu-high");
	assert_non_null(rec);
	assert_string_equal(json_string_value(json_object_get(rec, "ts")), p->ts);
	assert_null(json_object_get(rec, "pending"));
	json_decref(rec);
	assert_int_equal(intake_stats(f).posted, 1);

	/* the button is /scale's path: the person pressing it asks */
	click(f, "U0ONCALL1", "investigate.scale", p->value[0], NULL);
	assert_true(wait_for(f, has_text, "Scale request #"));

	struct tqmsg *ok = alarm_sent(&f->q, "web-cpu-high", "OK", T0 + 754, "Threshold Crossed: "
				      "1 datapoint was not greater than 80.0");
	assert_true(wait_for(f, deleted, ok));
	const struct rec_msg *line = find(f, "post", "It was in ALARM for 12m34s.");
	assert_non_null(line);
	assert_string_equal(line->thread, p->ts);
	assert_non_null(text_has(line, "*OK* at"));
	/* what was done meanwhile: the request the button opened */
	assert_non_null(text_has(line, "Meanwhile: request #1 to scale to 4 (PENDING)"));
	const struct rec_msg *u = find(f, "update", "Recovered: web-cpu-high");
	assert_non_null(u);
	assert_string_equal(u->ts, p->ts);
	assert_non_null(text_has(u, "OK since"));
	assert_int_equal(u->n_buttons, 0); /* no action offered once it recovered */
	assert_int_equal(count_method(f, "post", "ALARM: web-cpu-high"), 1);
	assert_int_equal(f->q.deletes, 2);
}

/* At least once and unordered: the same change again acts once, an older
 * one is dropped; both are deleted. */
static void test_alarm_duplicate_and_stale(void **state)
{
	struct fixture *f = *state;
	struct tqmsg *a = alarm_sent(&f->q, "web-cpu-high", "ALARM", T0, "high");
	struct tqmsg *b = alarm_sent(&f->q, "web-cpu-high", "ALARM", T0, "high");

	assert_true(wait_for(f, deleted, a));
	assert_true(wait_for(f, deleted, b));
	struct tqmsg *old = alarm_sent(&f->q, "web-cpu-high", "OK", T0 - 60, "older");
	assert_true(wait_for(f, deleted, old));
	settle(f);
	assert_int_equal(count_method(f, "post", "ALARM: web-cpu-high"), 1);
	assert_null(find(f, "post", "*OK* at"));
	assert_null(find(f, "update", "Recovered"));
	assert_null(find(f, "post", "Meanwhile"));
	struct alarm_intake_stats st = intake_stats(f);
	assert_int_equal(st.duplicate, 1);
	assert_int_equal(st.stale, 1);
	assert_int_equal(st.posted, 1);
	assert_int_equal(st.deleted, 3);
}

/* ALARM again within the flap window stays in the episode's thread; after
 * it, a new episode gets a new post. */
static void test_alarm_flapping(void **state)
{
	struct fixture *f = *state;
	struct tqmsg *m;

	m = alarm_sent(&f->q, "web-cpu-high", "ALARM", T0, "high");
	assert_true(wait_for(f, deleted, m));
	m = alarm_sent(&f->q, "web-cpu-high", "OK", T0 + 60, "fine");
	assert_true(wait_for(f, deleted, m));
	assert_non_null(find(f, "post", "No request was made meanwhile."));
	m = alarm_sent(&f->q, "web-cpu-high", "ALARM", T0 + 120, "high again");
	assert_true(wait_for(f, deleted, m));
	assert_int_equal(count_method(f, "post", "ALARM: web-cpu-high"), 1);
	const struct rec_msg *again = find(f, "post", "Back in ALARM within the flap window "
					   "(1 time in this episode)");
	assert_non_null(again);
	assert_string_not_equal(again->thread, "");
	assert_non_null(find(f, "update", "Back in ALARM 1 time soon after OK"));

	m = alarm_sent(&f->q, "web-cpu-high", "OK", T0 + 180, "fine");
	assert_true(wait_for(f, deleted, m));
	/* past the window (30 min): a new episode, a new post */
	m = alarm_sent(&f->q, "web-cpu-high", "ALARM", T0 + 180 + 31 * 60, "high once more");
	assert_true(wait_for(f, deleted, m));
	assert_int_equal(count_method(f, "post", "ALARM: web-cpu-high"), 2);
	json_t *rec = record_of(f, "web-cpu-high");
	assert_int_equal(json_integer_value(json_object_get(rec, "episode")), 2);
	assert_int_equal(json_integer_value(json_object_get(rec, "flaps")), 0);
	json_decref(rec);
}

/* An alarm of no configured service is counted and deleted, never posted;
 * a body that is no alarm is left to the queue's redrive policy; an alarm
 * on the service's ECS dimensions is its own without being listed. */
static void test_alarm_unmapped_malformed_dims(void **state)
{
	struct fixture *f = *state;
	struct tqmsg *u = alarm_sent(&f->q, "db-cpu-high", "ALARM", T0, "high");
	u->ch.n_dims = 0;
	struct tqmsg *bad = alarm_sent(&f->q, "x", "ALARM", T0, "x");
	bad->malformed = true;
	struct tqmsg *d = alarm_sent(&f->q, "latency-p99", "ALARM", T0, "slow");

	assert_true(wait_for(f, deleted, u));
	assert_true(wait_for(f, deleted, d));
	assert_non_null(find(f, "post", "ALARM: latency-p99"));
	assert_null(find(f, "post", "db-cpu-high"));
	assert_false(bad->deleted);
	struct alarm_intake_stats st = intake_stats(f);
	assert_int_equal(st.unmapped, 1);
	assert_int_equal(st.malformed, 1);
	assert_int_equal(st.posted, 1);
}

/* A replica that died after claiming the post: while its claim holds, the
 * message is handed back for later; once it ran out, the post is made. */
static void test_alarm_claim_taken_over(void **state)
{
	struct fixture *f = *state;
	const char *arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-cpu-high";
	char body[1024];
	enum store_result res;
	struct bot_error err = {0};
	int64_t until = store_now(f->store) + 1500;

	snprintf(body, sizeof body,
		 "{\"service\":\"web\",\"name\":\"web-cpu-high\",\"state\":\"ALARM\","
		 "\"changed_at\":%lld,\"episode\":1,\"alarm_at\":%lld,\"last_alarm_at\":%lld,"
		 "\"ok_at\":0,\"flaps\":0,\"reason\":\"high\",\"watch\":\"AWS/ECS CPUUtilization\","
		 "\"region\":\"us-east-1\",\"account\":\"123456789012\",\"channel\":\"C0ALERTS\","
		 "\"evidence\":\"read by the dead one\",\"suggested\":3,\"read_at\":0,"
		 "\"pending\":\"post\",\"claim\":\"dead-host:1\",\"claim_until\":%lld}",
		 (long long)T0 * 1000, (long long)T0 * 1000, (long long)T0 * 1000, (long long)until);
	assert_int_equal(store_alarm_put(f->store, arn, 0, body, &res, NULL, &err), 0);
	assert_int_equal(res, STORE_DONE);

	struct tqmsg *m = alarm_sent(&f->q, "web-cpu-high", "ALARM", T0, "high");
	assert_true(wait_for(f, deleted, m));
	assert_true(m->deferred >= 1); /* handed back while the claim held */
	const struct rec_msg *p = find(f, "post", "ALARM: web-cpu-high");
	assert_non_null(p);
	assert_non_null(plain_has(p, "read by the dead one"));
	assert_string_equal(p->value[0], "web 3");
	assert_int_equal(count_method(f, "post", "ALARM: web-cpu-high"), 1);
	json_t *rec = record_of(f, "web-cpu-high");
	assert_null(json_object_get(rec, "pending"));
	assert_string_equal(json_string_value(json_object_get(rec, "ts")), p->ts);
	json_decref(rec);
}

static void count_done(void *ud, int rc)
{
	int *n = ud;
	n[rc == BOT_EOK ? 0 : 1]++;
}

static bool both_done(struct fixture *f, const void *arg)
{
	const int *n = arg;
	(void)f;
	return n[0] + n[1] == 2;
}

/* Two replicas (two intakes on one store) handle the same change at once:
 * one posts. */
static void test_alarm_two_replicas_one_post(void **state)
{
	struct fixture *f = *state;
	struct alarm_intake *other = NULL;
	struct bot_error err = {0};
	int n[2] = {0, 0};
	struct tqmsg *m = alarm_sent(&f->q, "web-cpu-high", "ALARM", T0, "high");
	m->deleted = true; /* not through the queue: straight to both */

	assert_int_equal(alarm_intake_create(&(struct alarm_intake_opts){
				.loop = &f->loop, .store = f->store, .chat = &f->chat.base,
				.cloud = &f->cloud.base, .cfg = f->cfg, .owner = "replica-2"},
			 &other, &err), 0);
	assert_int_equal(app_alarm_handle(f->app, &m->ch, NULL, count_done, n), 0);
	assert_int_equal(alarm_intake_handle(other, &m->ch, NULL, count_done, n), 0);
	assert_true(wait_for(f, both_done, n));
	settle(f);
	assert_int_equal(count_method(f, "post", "ALARM: web-cpu-high"), 1);
	alarm_intake_stop(other);
	settle(f); /* its timer's close runs on the loop before it is freed */
	alarm_intake_destroy(other);
}

static bool gate_final(struct fixture *f, const void *arg)
{
	(void)arg;
	struct store_gate g = {0};
	struct bot_error err = {0};
	if (store_gate_get(f->store, 1, &g, &err) != 0)
		return false;
	bool fin = store_state_final(g.state);
	store_gate_clear(&g);
	return fin;
}

/* The policy on: the ALARM's post is followed by a proposal the bot opens
 * itself, requested by the alarm (never a person, and the card says so);
 * silence approves it at its timer and the service is scaled. */
static void test_alarm_policy_proposes(void **state)
{
	struct fixture *f = *state;
	struct tqmsg *m = alarm_sent(&f->q, "web-cpu-high", "ALARM", T0, "high");

	assert_true(wait_for(f, deleted, m));
	const struct rec_msg *post = find(f, "post", "ALARM: web-cpu-high");
	assert_non_null(post);
	const struct rec_msg *line = find(f, "post", "*Proposed* (on_alarm policy): request #1 "
					  "to scale web to 4");
	assert_non_null(line);
	assert_string_equal(line->thread, post->ts);
	const struct rec_msg *card = find(f, "post", "Scale request #1");
	assert_non_null(card);
	assert_string_equal(card->channel, "C0ALERTS");
	assert_non_null(text_has(card, "CloudWatch alarm *web-cpu-high* asks to scale"));
	assert_null(find(f, "ephemeral", "web")); /* an alarm reads no ephemerals */
	struct store_gate g = {0};
	struct bot_error err = {0};
	assert_int_equal(store_gate_get(f->store, 1, &g, &err), 0);
	assert_string_equal(g.requester, "alarm:web-cpu-high");
	assert_int_equal(g.target, 4);
	assert_int_equal(g.timer_ms, 300);
	store_gate_clear(&g);
	/* silence approves it */
	assert_true(wait_for(f, gate_final, NULL));
	assert_int_equal(state_of(f, 1), GATE_SUCCEEDED);
	assert_int_equal(f->cloud.desired, 4);
}

/* An alarm's policy may name another action: a restart, approved by
 * silence, is one forced deployment of the task definition the service
 * runs; /rollback, not in the service's actions, is refused privately. */
static void test_alarm_policy_proposes_restart(void **state)
{
	struct fixture *f = *state;
	struct tqmsg *m = alarm_sent(&f->q, "web-cpu-high", "ALARM", T0, "high");
	struct store_gate g = {0};
	struct bot_error err = {0};

	assert_true(wait_for(f, deleted, m));
	const struct rec_msg *post = find(f, "post", "ALARM: web-cpu-high");
	assert_non_null(post);
	assert_int_equal(post->n_buttons, 0); /* web may not be scaled: no Scale button */
	assert_non_null(find(f, "post", "*Proposed* (on_alarm policy): request #1 to restart web"));
	const struct rec_msg *card = find(f, "post", "Restart request #1");
	assert_non_null(card);
	assert_non_null(text_has(card, "asks to restart *web*"));
	assert_non_null(text_has(card, "a new deployment of `web:4`"));
	assert_true(wait_for(f, gate_final, NULL));
	assert_int_equal(state_of(f, 1), GATE_SUCCEEDED);
	assert_int_equal(f->cloud.deploys, 1);
	assert_int_equal(f->cloud.forced, 1);
	assert_int_equal(f->cloud.scales, 0);
	assert_int_equal(store_gate_get(f->store, 1, &g, &err), 0);
	assert_string_equal(g.action, "restart");
	assert_string_equal(g.result_kind, "restarted");
	assert_non_null(strstr(g.exec_intent, "\"observedDeployment\":\"ecs-svc/0\""));
	assert_non_null(strstr(g.result_detail, "a new deployment ecs-svc/1 of web:4 started"));
	store_gate_clear(&g);

	/* an action the service does not allow: told privately, nothing opened */
	command(f, "U0ONCALL1", "/rollback", "web bad deploy");
	assert_true(wait_for(f, has_text, "is not allowed for `web` (its configuration allows: "
				"restart)"));
	assert_int_equal(cards_posted(f), 1);
	/* nor does an investigation offer what web does not allow */
	command(f, "U0ONCALL1", "/investigate", "web");
	assert_true(wait_for(f, has_text, "Investigation: web"));
	const struct rec_msg *inv = find(f, "post", "Investigation: web");
	assert_int_equal(inv->n_buttons, 0);
}

/* At most one proposal per service per cooldown, and none while a request
 * is open: the thread says why not. */
static void test_alarm_policy_suppressed(void **state)
{
	struct fixture *f = *state;
	struct tqmsg *m;

	/* a person's request is open: the alarm's proposal is refused */
	uint64_t id = open_request(f, "U0ONCALL1", "web 6 --timer 10m by hand");
	m = alarm_sent(&f->q, "web-cpu-high", "ALARM", T0, "high");
	assert_true(wait_for(f, deleted, m));
	const struct rec_msg *no = find(f, "post", "*Not proposed* (on_alarm policy): ");
	assert_non_null(no);
	assert_non_null(text_has(no, "already has an open request"));
	assert_int_equal(cards_posted(f), 1);
	const struct rec_msg *card = find(f, "post", "Scale request #1");
	struct chat_event deny = {
		.type = CHAT_EV_BUTTON, .id = "deny-1", .user = "U0APPROVER1",
		.channel = "C0ALERTS", .action_id = CARD_ACTION_DENY, .value = "1",
		.message_ts = card->ts,
	};
	app_on_chat_event(f->app, &deny);
	assert_true(wait_for(f, is_final, &id));
	assert_int_equal(state_of(f, id), GATE_DENIED);

	/* a refused proposal starts no cooldown: the next episode proposes */
	m = alarm_sent(&f->q, "web-cpu-high", "OK", T0 + 60, "fine");
	assert_true(wait_for(f, deleted, m));
	m = alarm_sent(&f->q, "web-mem-high", "ALARM", T0 + 120, "memory");
	assert_true(wait_for(f, deleted, m));
	assert_non_null(find(f, "post", "ALARM: web-mem-high"));
	assert_non_null(find(f, "post", "*Proposed* (on_alarm policy): request #2"));
	assert_int_equal(cards_posted(f), 2);

	/* another episode within the cooldown (30 min): not proposed again */
	m = alarm_sent(&f->q, "web-lat-high", "ALARM", T0 + 180, "latency");
	assert_true(wait_for(f, deleted, m));
	assert_non_null(find(f, "post", "ALARM: web-lat-high"));
	assert_non_null(find(f, "post", "the policy waits 30m between proposals"));
	assert_int_equal(cards_posted(f), 2);
}

static bool described(struct fixture *f, const void *arg)
{
	return f->q.describe_calls >= *(const int *)arg;
}

/* What the queue missed, the reconcile loop finds: a transition handled
 * once (later rounds that see the same state do nothing), and the record
 * decides between the two sources. */
static void test_alarm_reconcile(void **state)
{
	struct fixture *f = *state;
	/* the ALARM is in CloudWatch, its notification never arrived */
	struct tqmsg *a = alarm_sent(&f->q, "web-cpu-high", "ALARM", T0, "high");
	a->deleted = true;
	f->q.states[f->q.n_states++] = a;

	assert_true(wait_for(f, has_text, "ALARM: web-cpu-high"));
	int rounds = f->q.describe_calls + 3;
	assert_true(wait_for(f, described, &rounds));
	settle(f);
	assert_int_equal(count_method(f, "post", "ALARM: web-cpu-high"), 1);
	/* its notification arrives after all, its time a few ms off the one
	 * DescribeAlarms gave: the same transition, no new line */
	struct tqmsg *notified = alarm_sent(&f->q, "web-cpu-high", "ALARM", T0, "high");
	notified->ch.changed_at_ms += 5;
	assert_true(wait_for(f, deleted, notified));
	settle(f);
	assert_null(find(f, "post", "*ALARM* at"));

	/* now OK in CloudWatch (a later time): the thread hears it once */
	struct tqmsg *ok = alarm_sent(&f->q, "web-cpu-high", "OK", T0 + 300, "fine");
	ok->deleted = true;
	f->q.states[0] = ok;
	assert_true(wait_for(f, has_text, "It was in ALARM for 5m."));
	rounds = f->q.describe_calls + 3;
	assert_true(wait_for(f, described, &rounds));
	settle(f);
	assert_int_equal(count_method(f, "post", "It was in ALARM for"), 1);
	assert_int_equal(count_method(f, "post", "ALARM: web-cpu-high"), 1);
	/* its notification arrives late: the same change, acted on once */
	struct tqmsg *late = alarm_sent(&f->q, "web-cpu-high", "OK", T0 + 300, "fine");
	assert_true(wait_for(f, deleted, late));
	assert_int_equal(count_method(f, "post", "It was in ALARM for"), 1);

	/* DescribeAlarms' time of a transition need not be the notification's
	 * to the millisecond: the same state is no new transition */
	struct tqmsg *again = alarm_sent(&f->q, "web-cpu-high", "ALARM", T0 + 1000, "again");
	assert_true(wait_for(f, deleted, again));
	struct tqmsg *seen = alarm_sent(&f->q, "web-cpu-high", "ALARM", T0 + 1000, "again");
	seen->deleted = true;
	seen->ch.changed_at_ms += 7;
	f->q.states[0] = seen;
	rounds = f->q.describe_calls + 3;
	assert_true(wait_for(f, described, &rounds));
	settle(f);
	assert_int_equal(count_method(f, "post", "*ALARM* at"), 1);
	assert_true(intake_stats(f).reconciles >= 9);
}

/* One process handling the same change twice at once (two deliveries in
 * one batch) while Slack is slow to answer the post: the second waits for
 * the first's claim, it does not post again. */
static void test_alarm_same_change_twice_in_one_process(void **state)
{
	struct fixture *f = *state;
	f->chat.reply_ms = 150;
	struct tqmsg *a = alarm_sent(&f->q, "web-cpu-high", "ALARM", T0, "high");
	struct tqmsg *b = alarm_sent(&f->q, "web-cpu-high", "ALARM", T0, "high");

	assert_true(wait_for(f, deleted, a));
	assert_true(wait_for(f, deleted, b));
	settle(f);
	assert_int_equal(count_method(f, "post", "ALARM: web-cpu-high"), 1);
	assert_true(a->deferred + b->deferred >= 1); /* one waited for the other */
}

/* A replica claimed an ALARM's post and died; the alarm is OK by the time
 * anyone looks: the episode is posted as recovered (not lost, not shown
 * as firing), and the OK's redelivery changes nothing. */
static void test_alarm_dead_post_then_ok(void **state)
{
	struct fixture *f = *state;
	const char *arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-cpu-high";
	char body[1024];
	enum store_result res;
	struct bot_error err = {0};

	snprintf(body, sizeof body,
		 "{\"service\":\"web\",\"name\":\"web-cpu-high\",\"state\":\"ALARM\","
		 "\"changed_at\":%lld,\"episode\":1,\"alarm_at\":%lld,\"last_alarm_at\":%lld,"
		 "\"ok_at\":0,\"flaps\":0,\"reason\":\"high\",\"watch\":\"AWS/ECS CPUUtilization\","
		 "\"region\":\"us-east-1\",\"account\":\"123456789012\",\"channel\":\"C0ALERTS\","
		 "\"evidence\":\"read by the dead one\",\"suggested\":3,\"read_at\":0,"
		 "\"pending\":\"post\",\"claim\":\"dead-host:1#1\",\"claim_until\":1}",
		 (long long)T0 * 1000, (long long)T0 * 1000, (long long)T0 * 1000);
	assert_int_equal(store_alarm_put(f->store, arn, 0, body, &res, NULL, &err), 0);
	assert_int_equal(res, STORE_DONE);

	struct tqmsg *ok = alarm_sent(&f->q, "web-cpu-high", "OK", T0 + 90, "fine");
	assert_true(wait_for(f, deleted, ok));
	const struct rec_msg *p = find(f, "post", "Recovered: web-cpu-high");
	assert_non_null(p);
	assert_non_null(text_has(p, "OK since"));
	assert_int_equal(p->n_buttons, 0);
	assert_null(find(f, "post", "ALARM: web-cpu-high"));
	struct tqmsg *again = alarm_sent(&f->q, "web-cpu-high", "OK", T0 + 90, "fine");
	assert_true(wait_for(f, deleted, again));
	settle(f);
	assert_null(find(f, "post", "ALARM: web-cpu-high"));
	assert_int_equal(count_method(f, "post", "Recovered: web-cpu-high"), 1);
	json_t *rec = record_of(f, "web-cpu-high");
	assert_null(json_object_get(rec, "pending"));
	json_decref(rec);
}

static bool posted_alarm(struct fixture *f, const void *arg)
{
	(void)arg;
	return find(f, "post", "ALARM: web-cpu-high") != NULL;
}

static bool settle_retried(struct fixture *f, const void *arg)
{
	(void)arg;
	return intake_stats(f).settle_retries >= 1;
}

/* The post is out but its record cannot be written (the store is locked
 * by someone else for a while): the record is tried again, so the message
 * is deleted after one post, not handed back to be posted twice. */
static void test_alarm_record_retried_after_post(void **state)
{
	struct fixture *f = *state;
	sqlite3 *db = NULL;

	f->chat.reply_ms = 300; /* time to take the lock while the post is out */
	struct tqmsg *m = alarm_sent(&f->q, "web-cpu-high", "ALARM", T0, "high");
	assert_true(wait_for(f, posted_alarm, NULL));
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	assert_true(wait_for(f, settle_retried, NULL));
	assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_true(wait_for(f, deleted, m));
	assert_int_equal(count_method(f, "post", "ALARM: web-cpu-high"), 1);
	json_t *rec = record_of(f, "web-cpu-high");
	assert_null(json_object_get(rec, "pending"));
	assert_non_null(json_object_get(rec, "ts"));
	json_decref(rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_silence_approves_by_timer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_approve_now, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deny_never_scales, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unauthorized_and_self_approval, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_undelivered_fails_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_access_denied_is_shown_and_bot_serves_on, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_duplicates_and_open_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scale_refused_before_any_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gates_lists_every_open_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reason_is_plain_text, setup, teardown),
		cmocka_unit_test(test_markup_detector),
		cmocka_unit_test_setup_teardown(test_nothing_said_holds_markup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allowed_channels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help_is_filtered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_service_is_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reads_shared_and_reused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_window_passes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scale_reads_afresh, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pointed_askers_hear_a_failed_read, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_investigate_reuses_recent_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scale_forgets_the_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alarm_episode, setup_alarms, teardown),
		cmocka_unit_test_setup_teardown(test_alarm_duplicate_and_stale, setup_alarms, teardown),
		cmocka_unit_test_setup_teardown(test_alarm_flapping, setup_alarms, teardown),
		cmocka_unit_test_setup_teardown(test_alarm_unmapped_malformed_dims, setup_alarms,
						teardown),
		cmocka_unit_test_setup_teardown(test_alarm_claim_taken_over, setup_alarms, teardown),
		cmocka_unit_test_setup_teardown(test_alarm_two_replicas_one_post, setup_alarms,
						teardown),
		cmocka_unit_test_setup_teardown(test_alarm_reconcile, setup_alarms, teardown),
		cmocka_unit_test_setup_teardown(test_alarm_same_change_twice_in_one_process,
						setup_alarms, teardown),
		cmocka_unit_test_setup_teardown(test_alarm_dead_post_then_ok, setup_alarms, teardown),
		cmocka_unit_test_setup_teardown(test_alarm_record_retried_after_post,
						setup_alarms_short_lock, teardown),
		cmocka_unit_test_setup_teardown(test_alarm_policy_proposes, setup_policy, teardown),
		cmocka_unit_test_setup_teardown(test_alarm_policy_suppressed, setup_policy, teardown),
		cmocka_unit_test_setup_teardown(test_alarm_policy_proposes_restart,
						setup_restart_policy, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
