/* crash_child: one life of the bot's approval engine, made to be killed.
 *
 *   crash_child --db PATH --gates N --seed FILE [--cluster NAME] [--stay]
 *               [--verbose] [--post-ms MS] [--send-delay-ms MS]
 *
 * The real store, the real gate engine and the real AWS backend (pointed at
 * a ledger proxy in front of moto by the standard AWS_ENDPOINT_URL; keys
 * and region from the environment). On start it recovers whatever the
 * previous life left (gate_engine_recover), then opens gates, one per tick,
 * until N exist: gate k (1-based id) acts on ECS service svc-(k-1) of the
 * cluster. Its action comes from the service number i:
 *   i % 3 == 0   scale from 1 to 2 tasks
 *   i % 3 == 1   restart (forceNewDeployment of crash-i:2, the one it runs)
 *   i % 3 == 2   rollback from crash-i:2 to crash-i:1
 * The parameters are built as the actions' prepare() builds them from the
 * service it read (bot/domain/act_*.c), but from the values
 * tests/fakes/crash-seed.py wrote to FILE (--seed) instead of reading ECS:
 * the test is about the engine's exactly-once, not about prepare, and the
 * reads would only slow every life down. Each gate's role comes from i too
 * (3 and 4 are coprime, so every action meets every role):
 *   i % 4 == 0   nobody answers: approved by the timer
 *   i % 4 == 1   an approver approves at once
 *   i % 4 == 2   an approver denies at once
 *   i % 4 == 3   a stranger clicks (refused), then the timer approves
 * The click is sent once per life, as soon as the gate is delivered and
 * still PENDING, always with the same event id: after a restart it is a
 * redelivery, as Slack would send it, and the engine must see it as one.
 *
 * Two windows that are sub-millisecond here and much longer in production
 * can be widened, so that random kills land in them: --post-ms (default 1)
 * is how long posting a card takes (Slack: 100 ms and more), and
 * --send-delay-ms (default 0) holds each UpdateService that long before it
 * goes to the AWS backend (in production: a credential refresh, DNS, a new
 * TLS connection), i.e. after EXECUTING was committed and before the call
 * left the host. Neither changes what the engine does.
 *
 * Without --stay it prints "ALL FINAL" and exits 0 once all N gates are
 * final (after an orderly shutdown, so ASan sees a clean exit). With --stay
 * it never exits on its own: the crash test kills it with SIGKILL, and
 * raises N from one life to the next so that there is always work in
 * flight. Exit 2: bad usage or startup failure; 3: store failure. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/aws/cloud_aws.h"
#include "bot/domain/gate.h"
#include "bot/base/log.h"
#include "bot/base/loop.h"
#include "adapters/store.h"
#include "adapters/store/sqlite.h"

#define TICK_MS 2
#define MAX_GATES 4096

struct delivery {
	uv_timer_t t;
	gate_delivered_fn fn;
	void *token;
	uint64_t id;
	struct delivery *next, **prev;
};

/* An UpdateService held back for --send-delay-ms: a scale, or a deploy
 * (restart, rollback) when task_definition is set. */
struct held_scale {
	uv_timer_t t;
	struct slow_cloud *sc;
	char *cluster, *service, *task_definition;
	int desired;
	bool force;
	cloud_scale_cb cb;
	void *ud;
	struct held_scale *next, **prev;
};

/* The AWS backend with UpdateService sent late (see --send-delay-ms). */
struct slow_cloud {
	struct cloud base;
	struct cloud *inner;
	uv_loop_t *loop;
	uint64_t delay_ms;
	struct held_scale *held;
};

/* What crash-seed.py seeded for one service (see --seed). */
struct seeded {
	char *from, *to;             /* task definition ARNs: runs :2, rollback to :1 */
	char *from_image, *to_image;
	char *deployment;            /* the PRIMARY deployment's id */
};

struct child {
	struct bot_loop *loop;
	struct store *store;
	struct cloud *cloud;   /* the AWS backend, or a slow_cloud around it */
	struct gate_engine *eng;
	uv_timer_t tick;
	int gates;
	struct seeded *seed;   /* [gates] */
	const char *cluster;
	bool stay;
	bool clicked[MAX_GATES + 1]; /* by gate id: this life's click was sent */
	struct delivery *deliveries;
	uint64_t post_ms;
	int exit_code;
	bool stopping;
};

static const char *const approvers[] = {"U0APPROVER1", "U0APPROVER2"};

static void delivery_closed(uv_handle_t *h)
{
	free(h->data);
}

static void unlink_delivery(struct delivery *d)
{
	*d->prev = d->next;
	if (d->next)
		d->next->prev = d->prev;
}

static void deliver(uv_timer_t *t)
{
	struct delivery *d = t->data;
	char ts[32];

	unlink_delivery(d);
	snprintf(ts, sizeof ts, "1700000000.%06" PRIu64, d->id);
	d->fn(d->token, 0, "C0CRASH", ts, NULL);
	uv_close((uv_handle_t *)t, delivery_closed);
}

/* The "chat": the card is posted on the next loop turn (1 ms). */
static void post_request(void *ud, const struct store_gate *g, gate_delivered_fn fn, void *token)
{
	struct child *c = ud;
	struct delivery *d = calloc(1, sizeof *d);

	if (!d || uv_timer_init(bot_loop_uv(c->loop), &d->t) != 0) {
		free(d);
		fn(token, BOT_ENOMEM, NULL, NULL, "out of memory");
		return;
	}
	d->fn = fn;
	d->token = token;
	d->id = g->id;
	d->t.data = d;
	d->next = c->deliveries;
	d->prev = &c->deliveries;
	if (c->deliveries)
		c->deliveries->prev = &d->next;
	c->deliveries = d;
	uv_timer_start(&d->t, deliver, c->post_ms, 0);
}

/* ---- slow_cloud -------------------------------------------------------- */

static void held_closed(uv_handle_t *h)
{
	struct held_scale *hs = h->data;
	free(hs->cluster);
	free(hs->service);
	free(hs->task_definition);
	free(hs);
}

/* Run the held call's callback with err (no call made) or send it now. */
static void held_release(struct held_scale *hs, const struct cloud_error *err)
{
	struct cloud *inner = hs->sc->inner;

	*hs->prev = hs->next;
	if (hs->next)
		hs->next->prev = hs->prev;
	if (err) {
		hs->cb(hs->ud, err, NULL);
	} else {
		int rc = hs->task_definition ?
			 inner->ops->deploy(inner, hs->cluster, hs->service, hs->task_definition,
					    hs->force, hs->cb, hs->ud) :
			 inner->ops->scale(inner, hs->cluster, hs->service, hs->desired, hs->force,
					   hs->cb, hs->ud);
		if (rc) {
			struct cloud_error ce = {.code = rc};
			snprintf(ce.message, sizeof ce.message, "%s", bot_strerror(rc));
			hs->cb(hs->ud, &ce, NULL);
		}
	}
	uv_close((uv_handle_t *)&hs->t, held_closed);
}

static void held_due(uv_timer_t *t)
{
	held_release(t->data, NULL);
}

/* Hold an UpdateService (a deploy if td is not NULL) for delay_ms. */
static int hold(struct cloud *c, const char *cluster, const char *service, int desired,
		const char *td, bool force, cloud_scale_cb cb, void *ud)
{
	struct slow_cloud *sc = (struct slow_cloud *)c;
	struct held_scale *hs = calloc(1, sizeof *hs);

	if (!hs || !(hs->cluster = strdup(cluster)) || !(hs->service = strdup(service)) ||
	    (td && !(hs->task_definition = strdup(td))) || uv_timer_init(sc->loop, &hs->t) != 0) {
		if (hs) {
			free(hs->cluster);
			free(hs->service);
			free(hs->task_definition);
		}
		free(hs);
		return BOT_ENOMEM;
	}
	hs->sc = sc;
	hs->desired = desired;
	hs->force = force;
	hs->cb = cb;
	hs->ud = ud;
	hs->t.data = hs;
	hs->next = sc->held;
	hs->prev = &sc->held;
	if (sc->held)
		sc->held->prev = &hs->next;
	sc->held = hs;
	uv_timer_start(&hs->t, held_due, sc->delay_ms, 0);
	return BOT_EOK;
}

static int slow_scale(struct cloud *c, const char *cluster, const char *service, int desired,
		      bool force, cloud_scale_cb cb, void *ud)
{
	return hold(c, cluster, service, desired, NULL, force, cb, ud);
}

static int slow_deploy(struct cloud *c, const char *cluster, const char *service,
		       const char *task_definition, bool force, cloud_scale_cb cb, void *ud)
{
	if (!task_definition)
		return BOT_EINVAL;
	return hold(c, cluster, service, 0, task_definition, force, cb, ud);
}

/* The reads rollback's availability asks for (the engine itself never
 * calls them: prepare does, and it is not run here). */
static int slow_task_definitions(struct cloud *c, const char *family,
				 cloud_task_definitions_cb cb, void *ud)
{
	struct cloud *inner = ((struct slow_cloud *)c)->inner;
	return inner->ops->task_definitions(inner, family, cb, ud);
}

static int slow_describe_task_definition(struct cloud *c, const char *td,
					 cloud_task_definition_cb cb, void *ud)
{
	struct cloud *inner = ((struct slow_cloud *)c)->inner;
	return inner->ops->describe_task_definition(inner, td, cb, ud);
}

static int slow_describe(struct cloud *c, const char *cluster, const char *service,
			 cloud_describe_cb cb, void *ud)
{
	struct cloud *inner = ((struct slow_cloud *)c)->inner;
	return inner->ops->describe(inner, cluster, service, cb, ud);
}

/* Held calls end with BOT_ECANCELLED, as the backend's own do at shutdown. */
static void slow_cancel_all(struct slow_cloud *sc)
{
	struct cloud_error ce = {.code = BOT_ECANCELLED};
	snprintf(ce.message, sizeof ce.message, "shutting down");
	while (sc->held)
		held_release(sc->held, &ce);
}

static void slow_destroy(struct cloud *c)
{
	struct slow_cloud *sc = (struct slow_cloud *)c;
	slow_cancel_all(sc);
	sc->inner->ops->destroy(sc->inner);
	free(sc);
}

/* Only what the engine and the actions' available() use. */
static const struct cloud_ops slow_ops = {
	.name = "slow-scale",
	.describe = slow_describe,
	.scale = slow_scale,
	.destroy = slow_destroy,
	.task_definitions = slow_task_definitions,
	.describe_task_definition = slow_describe_task_definition,
	.deploy = slow_deploy,
};

static struct cloud *slow_cloud_new(uv_loop_t *loop, struct cloud *inner, uint64_t delay_ms)
{
	struct slow_cloud *sc = calloc(1, sizeof *sc);
	if (!sc)
		return NULL;
	sc->base.ops = &slow_ops;
	sc->inner = inner;
	sc->loop = loop;
	sc->delay_ms = delay_ms;
	return &sc->base;
}

static void stop(struct child *c, int code)
{
	if (c->stopping)
		return;
	c->stopping = true;
	c->exit_code = code;
	bot_loop_shutdown(c->loop);
}

/* Service number of a gate ("svc-7" -> 7), -1 if it is not one of ours. */
static int service_no(const struct store_gate *g)
{
	int i = -1;
	return g->ecs_service && sscanf(g->ecs_service, "svc-%d", &i) == 1 ? i : -1;
}

static void store_stop_step(void *ud)
{
	store_stop(ud);
}

static const char *const kinds[] = {"scale", "restart", "rollback"}; /* by i % 3 */

/* Gate i's parameters, as its action's prepare() makes them from the
 * service svc-i as seeded: scale {"target": 2}; restart the task definition
 * it runs and its PRIMARY deployment; rollback from :2 to :1 with the image
 * that changes. The caller frees the text; NULL: out of memory. */
static char *params_of(const struct seeded *sd, int i)
{
	json_t *o;
	char *text;

	switch (i % 3) {
	case 0:
		o = json_pack("{s:i}", "target", 2);
		break;
	case 1:
		o = json_pack("{s:s, s:s}", "task_definition", sd->from, "deployment",
			      sd->deployment);
		break;
	default:
		o = json_pack("{s:s, s:s, s:[{s:s, s:s, s:s}]}", "from", sd->from, "to", sd->to,
			      "images", "container", "app", "from", sd->from_image, "to",
			      sd->to_image);
		break;
	}
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return text;
}

static int open_gate(struct child *c, int i)
{
	char service[32], reason[64];
	struct bot_error err = {0};
	char *params = params_of(&c->seed[i], i);
	int rc = -1;

	if (!params) {
		fprintf(stderr, "crash_child: out of memory\n");
		return -1;
	}
	snprintf(service, sizeof service, "svc-%d", i);
	snprintf(reason, sizeof reason, "crash test gate %d", i);
	struct gate_spec spec = {
		.service = service, .cluster = c->cluster, .ecs_service = service,
		.requester = "U0ONCALL1", .action = kinds[i % 3], .params = params,
		.target = i % 3 == 0 ? 2 : 0, .current_desired = 1, .reason = reason,
		.timer_ms = 200 + (uint64_t)(i % 3) * 100, .approvers = approvers, .n_approvers = 2,
		.min_approvals = 1, .channel = "C0CRASH",
	};
	if (gate_request(c->eng, &spec, NULL, NULL, &err) != BOT_EOK)
		fprintf(stderr, "crash_child: gate_request: %s\n", err.msg);
	else
		rc = 0;
	free(params);
	return rc;
}

static char *seed_str(json_t *svc, const char *key)
{
	const char *v = json_string_value(json_object_get(svc, key));
	return v ? strdup(v) : NULL;
}

/* Read crash-seed.py's FILE for services svc-0 .. svc-(gates-1). */
static int load_seed(struct child *c, const char *path, struct bot_error *err)
{
	json_error_t je;
	json_t *all = json_load_file(path, 0, &je);
	int rc = BOT_EOK;

	if (!all)
		return bot_error_set(err, BOT_EINVAL, "--seed %s: %s", path, je.text);
	c->seed = calloc((size_t)c->gates, sizeof *c->seed);
	if (!c->seed) {
		rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
		goto out;
	}
	for (int i = 0; i < c->gates; i++) {
		char name[32];
		struct seeded *sd = &c->seed[i];
		snprintf(name, sizeof name, "svc-%d", i);
		json_t *svc = json_object_get(all, name);
		sd->from = seed_str(svc, "from");
		sd->to = seed_str(svc, "to");
		sd->from_image = seed_str(svc, "from_image");
		sd->to_image = seed_str(svc, "to_image");
		sd->deployment = seed_str(svc, "deployment");
		if (!sd->from || !sd->to || !sd->from_image || !sd->to_image || !sd->deployment) {
			rc = bot_error_set(err, BOT_EINVAL, "--seed %s: %s is missing or incomplete",
					   path, name);
			goto out;
		}
	}
out:
	json_decref(all);
	return rc;
}

static void free_seed(struct child *c)
{
	for (int i = 0; c->seed && i < c->gates; i++) {
		free(c->seed[i].from);
		free(c->seed[i].to);
		free(c->seed[i].from_image);
		free(c->seed[i].to_image);
		free(c->seed[i].deployment);
	}
	free(c->seed);
	c->seed = NULL;
}

/* Play the people's part for a pending, delivered gate: once per life. */
static int play(struct child *c, const struct store_gate *g)
{
	char evid[48];
	int i = service_no(g), rc = BOT_EOK;

	if (g->state != GATE_PENDING || !g->deadline || i < 0 || g->id > MAX_GATES ||
	    c->clicked[g->id])
		return 0;
	switch (i % 4) {
	case 1:
	case 2:
		snprintf(evid, sizeof evid, "click-%" PRIu64, g->id);
		rc = gate_click(c->eng, g->id, "U0APPROVER1",
				i % 4 == 1 ? GATE_VOTE_APPROVE : GATE_VOTE_DENY, evid,
				&(struct gate_where){g->channel, g->message_ts}, NULL, NULL);
		break;
	case 3:
		snprintf(evid, sizeof evid, "stranger-%" PRIu64, g->id);
		rc = gate_click(c->eng, g->id, "U0STRANGER", GATE_VOTE_DENY, evid,
				&(struct gate_where){g->channel, g->message_ts}, NULL, NULL);
		break;
	default:
		break;
	}
	if (rc) {
		fprintf(stderr, "crash_child: click on gate %" PRIu64 ": %s\n", g->id,
			bot_strerror(rc));
		return -1;
	}
	c->clicked[g->id] = true;
	return 0;
}

static void on_tick(uv_timer_t *t)
{
	struct child *c = t->data;
	struct store_gate *v = NULL;
	size_t n = 0;
	struct bot_error err = {0};
	int have, rc = 0;

	if (c->stopping)
		return;
	if (store_gate_recent(c->store, 1, &v, &n, &err) != BOT_EOK)
		goto fail;
	have = n ? (int)v[0].id : 0;
	store_gate_array_free(v, n);
	v = NULL;
	if (have < c->gates && open_gate(c, have) != 0)
		goto fail;
	if (store_gate_list(c->store, GATE_LIVE_MASK, &v, &n, &err) != BOT_EOK)
		goto fail;
	for (size_t k = 0; k < n && rc == 0; k++)
		rc = play(c, &v[k]);
	store_gate_array_free(v, n);
	if (rc)
		goto fail;
	if (n == 0 && have >= c->gates && !c->stay) {
		printf("ALL FINAL\n");
		fflush(stdout);
		stop(c, 0);
	}
	return;
fail:
	if (err.msg[0])
		fprintf(stderr, "crash_child: store: %s\n", err.msg);
	stop(c, 3);
}

static void shutdown_hook(void *ud, bot_loop_done_fn done, void *done_ud)
{
	struct child *c = ud;

	uv_close((uv_handle_t *)&c->tick, NULL);
	gate_engine_destroy(c->eng);
	c->eng = NULL;
	if (c->cloud && c->cloud->ops == &slow_ops)
		slow_cancel_all((struct slow_cloud *)c->cloud);
	/* posts not confirmed yet: their ops are detached now, and the
	 * callback only frees them */
	while (c->deliveries) {
		struct delivery *d = c->deliveries;
		unlink_delivery(d);
		d->fn(d->token, BOT_ECANCELLED, NULL, NULL, "shutting down");
		uv_close((uv_handle_t *)&d->t, delivery_closed);
	}
	done(done_ud);
}

int main(int argc, char **argv)
{
	static struct child c = {.gates = 40, .cluster = "crash-cluster", .post_ms = 1,
				 .exit_code = 2};
	long send_delay_ms = 0;
	struct bot_error err = {0};
	const char *db = NULL, *seed = NULL;
	int opt, rc = 2;
	bool hooked = false, verbose = false;

	static const struct option longopts[] = {
		{"db", required_argument, NULL, 'd'},
		{"gates", required_argument, NULL, 'g'},
		{"cluster", required_argument, NULL, 'c'},
		{"stay", no_argument, NULL, 's'},
		{"verbose", no_argument, NULL, 'v'},
		{"post-ms", required_argument, NULL, 'p'},
		{"send-delay-ms", required_argument, NULL, 'D'},
		{"seed", required_argument, NULL, 'S'},
		{NULL, 0, NULL, 0},
	};
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (opt == 'd')
			db = optarg;
		else if (opt == 'g')
			c.gates = atoi(optarg);
		else if (opt == 'c')
			c.cluster = optarg;
		else if (opt == 's')
			c.stay = true;
		else if (opt == 'v')
			verbose = true;
		else if (opt == 'p')
			c.post_ms = (uint64_t)strtoul(optarg, NULL, 10);
		else if (opt == 'D')
			send_delay_ms = strtol(optarg, NULL, 10);
		else if (opt == 'S')
			seed = optarg;
		else
			return 2;
	}
	if (!db || !seed || c.gates <= 0 || c.gates > MAX_GATES) {
		fprintf(stderr, "usage: crash_child --db PATH --gates N (1..%d) --seed FILE "
			"[--cluster NAME] [--stay] [--verbose] [--post-ms MS] "
			"[--send-delay-ms MS]\n", MAX_GATES);
		return 2;
	}
	log_set_level(verbose ? BOT_LOG_INFO : BOT_LOG_WARN);
	if (load_seed(&c, seed, &err) != BOT_EOK)
		goto fail;
	if (bot_loop_create(&c.loop, &err) != BOT_EOK)
		goto fail;
	if (store_sqlite_open(&(struct store_sqlite_opts){.path = db}, &c.store, &err) != BOT_EOK)
		goto fail;
	if (store_attach_loop(c.store, bot_loop_uv(c.loop)) != BOT_EOK ||
	    bot_loop_on_teardown(c.loop, store_stop_step, NULL, c.store) != BOT_EOK) {
		bot_error_set(&err, BOT_ENOMEM, "cannot attach the store to the loop");
		goto fail;
	}
	if (cloud_aws_create(c.loop, &(struct cloud_aws_opts){.region = "us-east-1"}, &c.cloud,
			     &err) != BOT_EOK)
		goto fail;
	if (send_delay_ms > 0) {
		struct cloud *slow = slow_cloud_new(bot_loop_uv(c.loop), c.cloud,
						    (uint64_t)send_delay_ms);
		if (!slow) {
			bot_error_set(&err, BOT_ENOMEM, "out of memory");
			goto fail;
		}
		c.cloud = slow;
	}
	struct gate_engine_opts eo = {
		.loop = bot_loop_uv(c.loop), .store = c.store, .cloud = c.cloud,
		.obs = {.post_request = post_request, .ud = &c},
		.reconcile_retry_ms = 50,
		/* the proxy adds 20 ms; the test waits for it to be idle before a
		 * restart, so a short guard is enough here */
		.reissue_guard_ms = 100,
	};
	if (gate_engine_create(&eo, &c.eng, &err) != BOT_EOK)
		goto fail;
	uv_timer_init(bot_loop_uv(c.loop), &c.tick);
	c.tick.data = &c;
	if (bot_loop_on_shutdown(c.loop, shutdown_hook, &c) != BOT_EOK) {
		uv_close((uv_handle_t *)&c.tick, NULL);
		bot_error_set(&err, BOT_ENOMEM, "cannot register the shutdown hook");
		goto fail;
	}
	hooked = true;
	if (gate_engine_recover(c.eng, NULL, NULL) != BOT_EOK) {
		bot_error_set(&err, BOT_ENOMEM, "cannot start recovery");
		goto fail;
	}
	uv_timer_start(&c.tick, on_tick, TICK_MS, TICK_MS);
	printf("STARTED\n");
	fflush(stdout);
	(void)bot_loop_run(c.loop);
	rc = c.exit_code;
	goto out;
fail:
	fprintf(stderr, "crash_child: %s\n", err.msg);
	if (!hooked) /* else the shutdown that bot_loop_destroy runs frees it */
		gate_engine_destroy(c.eng);
out:
	if (c.cloud)
		c.cloud->ops->destroy(c.cloud);
	if (bot_loop_destroy(c.loop) != 0 && rc == 0)
		rc = 4;
	store_close(c.store);
	free_seed(&c);
	return rc;
}
