/* main.c - chatops-bot: command line, wiring, signals.
 *
 * Startup errors are fatal with a clear message; at runtime errors are
 * reported and the bot keeps serving (style.md habit 17).
 */
#include "adapters/aws/cloud_aws.h"
#include "adapters/store/dynamodb.h"
#include "adapters/cloud_dryrun.h"
#include "adapters/console/console.h"
#include "adapters/health/health.h"
#include "adapters/slack/slack.h"
#include "bot/app.h"
#include "bot/audit_cmd.h"
#include "bot/store_cmd.h"
#include "bot/store_open.h"
#include "bot/iam_cmd.h"
#include "bot/base/log.h"
#include "bot/base/loop.h"
#include "adapters/store.h"
#include "commands/commands.h"
#include "build_config.h"
#include "config/config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage_text[] =
"Usage: chatops-bot --config FILE [options]\n"
"\n"
"A chat-ops bot for AWS ECS: /investigate a degraded service, /scale it after\n"
"approval. Approvers get Approve/Deny buttons; if nobody denies before the\n"
"timer ends, silence counts as approval and the bot scales the service.\n"
"\n"
"Options:\n"
"  -c, --config FILE     configuration file (YAML); see config/example.yaml\n"
"      --chat KIND       where people talk to the bot: slack (default) or console\n"
"                        (console: type commands in this terminal, no Slack needed)\n"
"      --user ID         console only: the Slack-style user id you act as at start\n"
"                        (default: the first requester in the config)\n"
"  -n, --dry-run         plan and report, never change anything in AWS (a\n"
"                        DynamoDB store is still written: it is the bot's state)\n"
"      --check-config    validate the configuration file, then ask AWS whether\n"
"                        every configured cluster and service exists (and with\n"
"                        store.backend dynamodb, whether the store's table is\n"
"                        there and ACTIVE with its keys and indexes), and exit:\n"
"                        0 all good, 2 the file has errors, 3 the file is valid\n"
"                        but AWS could not confirm every service or the table\n"
"  -l, --log-level LVL   debug, info, warn or error (overrides the config)\n"
"  -V, --version         print the version and exit\n"
"  -h, --help            print this help and exit\n"
"\n"
"Environment:\n"
"  SLACK_APP_TOKEN, SLACK_BOT_TOKEN  Slack tokens (names configurable; never logged)\n"
"  SLACK_API_URL                     override the Slack Web API base URL\n"
"  AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...\n"
"                                    the standard AWS settings\n"
"\n"
"Signals: SIGINT/SIGTERM stop cleanly; SIGHUP reloads the configuration\n"
"(a bad file is reported and the running configuration is kept).\n"
"\n"
"The audit log:  chatops-bot audit --help\n"
"The DynamoDB store's table:  chatops-bot store init --config FILE\n"
"  (and moving a SQLite store there: see chatops-bot store --help)\n"
"The IAM policy this configuration needs:  chatops-bot iam-policy --config FILE\n"
"  (see chatops-bot iam-policy --help)\n"
"\n"
"Try it without Slack:  ./scripts/demo\n";

/* Which changes a service allows is configuration, not a command: */
static const char actions_text[] =
"\n/restart and /rollback serve services whose actions: (config) allows them;\n"
"without actions:, a service allows /scale only.\n";

/* The options, then the chat commands from the table /chatops help uses. */
static void print_help(void)
{
	fputs(usage_text, stdout);
	fputs("\nChat commands (in Slack, or typed in the console):\n", stdout);
	for (size_t i = 0; i < cmd_table_len; i++)
		printf("  %s\n      %s\n", cmd_table[i].usage, cmd_table[i].summary);
	fputs(actions_text, stdout);
}

enum chat_kind { CHAT_SLACK, CHAT_CONSOLE };

struct opts {
	const char *config;
	enum chat_kind chat;
	const char *user;
	const char *log_level;
	bool dry_run, check_config;
};

struct bot {
	struct opts o;
	struct bot_loop *loop;
	struct config *cfg;
	struct chat *chat;
	struct cloud *cloud;     /* what the app uses */
	struct cloud *aws;       /* the AWS backend behind it (NULL: none) */
	struct cloud *aws_backend; /* the AWS backend, whoever owns it (the DynamoDB
	                            * store's calls go through it; borrowed) */
	struct store *store;
	struct app *app;
	struct health *health;
	int exit_code;
};

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum { OPT_CHAT = 256, OPT_USER, OPT_CHECK };
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"chat", required_argument, NULL, OPT_CHAT},
		{"user", required_argument, NULL, OPT_USER},
		{"dry-run", no_argument, NULL, 'n'},
		{"check-config", no_argument, NULL, OPT_CHECK},
		{"log-level", required_argument, NULL, 'l'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:nl:Vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case OPT_CHAT:
			if (strcmp(optarg, "slack") == 0)
				o->chat = CHAT_SLACK;
			else if (strcmp(optarg, "console") == 0)
				o->chat = CHAT_CONSOLE;
			else {
				fprintf(stderr, "chatops-bot: --chat must be slack or console, not '%s'\n", optarg);
				return 2;
			}
			break;
		case OPT_USER:
			o->user = optarg;
			break;
		case 'n':
			o->dry_run = true;
			break;
		case OPT_CHECK:
			o->check_config = true;
			break;
		case 'l': {
			enum log_level l;
			if (log_level_parse(optarg, &l) != BOT_EOK) {
				fprintf(stderr, "chatops-bot: --log-level must be debug, info, warn or error\n");
				return 2;
			}
			o->log_level = optarg;
			break;
		}
		case 'V':
			printf("chatops-bot %s\n", BOT_VERSION);
			return -1;
		case 'h':
			print_help();
			return -1;
		default:
			fputs("Try 'chatops-bot --help'.\n", stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "chatops-bot: unexpected argument '%s'\nTry 'chatops-bot --help'.\n", argv[optind]);
		return 2;
	}
	if (!o->config) {
		fprintf(stderr, "chatops-bot: --config FILE is required (start from config/example.yaml)\n"
				"Try 'chatops-bot --help'.\n");
		return 2;
	}
	return 0;
}

static void apply_log_level(const struct opts *o, const struct config *cfg)
{
	enum log_level l = BOT_LOG_INFO;
	const char *name = o->log_level ? o->log_level : cfg->log.level;
	if (name && log_level_parse(name, &l) == BOT_EOK)
		log_set_level(l);
}

/* reloading: a refused file leaves the running configuration in force, and
 * the message says so rather than "nothing was started". */
static int load_config(const struct opts *o, bool reloading, struct config **out)
{
	struct config_errors errs = {0};
	unsigned flags = o->chat == CHAT_SLACK ? CONFIG_NEED_SLACK : 0;
	int rc = config_load(o->config, flags, out, &errs);

	if (rc) {
		config_errors_print(&errs, stderr);
		fprintf(stderr, "chatops-bot: %s: %zu problem%s; %s\n", o->config, errs.n,
			errs.n == 1 ? "" : "s",
			reloading ? "reload refused, the previous configuration stays in force"
				  : "nothing was started");
	}
	config_errors_free(&errs);
	return rc;
}

static void on_shutdown_signal(void *ud, int signum)
{
	struct bot *b = ud;
	log_info("signal", "name=%s action=shutdown", signum == SIGINT ? "SIGINT" : "SIGTERM");
	bot_loop_shutdown(b->loop);
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The store is opened once: a reload cannot move it. */
static bool same_store(const struct config *a, const struct config *b)
{
	return same_str(a->store.backend, b->store.backend) &&
	       same_str(a->store.path, b->store.path) && same_str(a->store.table, b->store.table) &&
	       same_str(a->store.region, b->store.region) &&
	       same_str(a->store.endpoint, b->store.endpoint);
}

static void on_reload_signal(void *ud, int signum)
{
	struct bot *b = ud;
	struct config *cfg = NULL;
	(void)signum;

	log_info("config.reload", "path=%s", LOG_Q(b->o.config));
	if (load_config(&b->o, true, &cfg) != BOT_EOK) {
		log_error("config.reload", "result=kept_old reason=\"the new file has errors (printed above)\"");
		return;
	}
	apply_log_level(&b->o, cfg);
	if (!same_store(b->cfg, cfg))
		log_warn("config.reload", "store=kept reason=\"the store settings changed; the bot "
			 "keeps the store it opened until it is restarted\"");
	app_set_config(b->app, cfg);
	if (b->o.chat == CHAT_SLACK)
		slack_chat_set_allow_external(b->chat, cfg->slack.allow_external_users);
	config_unref(b->cfg);
	b->cfg = cfg;
	log_info("config.reload", "result=ok services=%zu", cfg->n_services);
}

static void on_console_eof(void *ud)
{
	struct bot *b = ud;
	bot_loop_shutdown(b->loop);
}

static void app_stop_hook(void *ud, void (*done)(void *), void *done_ud)
{
	struct bot *b = ud;
	app_stop(b->app);
	done(done_ud);
}

/* Before lws is destroyed: the endpoint's state lives in its vhost. */
static void health_stop_hook(void *ud, void (*done)(void *), void *done_ud)
{
	struct bot *b = ud;
	health_destroy(b->health);
	b->health = NULL;
	done(done_ud);
}

/* The Slack backend gave up for good (bad token, Socket Mode disabled): it
 * has logged why; without a chat there is nothing to serve. */
static void on_chat_fatal(void *ud, int rc, const char *detail)
{
	struct bot *b = ud;
	(void)rc;
	(void)detail;
	b->exit_code = 1;
	bot_loop_shutdown(b->loop);
}

static void chat_stop_hook(void *ud, void (*done)(void *), void *done_ud)
{
	struct bot *b = ud;
	b->chat->ops->stop(b->chat, done, done_ud);
}

/* The console's "alarm <name> [state] [reason]": the change CloudWatch
 * would send, in the configured region, from the console's account
 * (000000000000: no AWS account is behind it). */
static int on_console_alarm(void *ud, const char *name, const char *state, const char *reason,
			    const char *channel)
{
	struct bot *b = ud;
	char arn[400], why[300];
	const char *region = b->cfg->aws.region ? b->cfg->aws.region : "us-east-1";
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);

	if (!b->app)
		return BOT_ESTATE;
	snprintf(arn, sizeof arn, "arn:aws:cloudwatch:%s:000000000000:alarm:%s", region, name);
	if (!reason) {
		snprintf(why, sizeof why, "Set from the console: %s", state);
		reason = why;
	}
	struct cloud_alarm_change ch = {
		.format = "console", .arn = arn, .name = name, .region = region,
		.account = "000000000000", .state = state, .reason = reason,
		.changed_at_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000,
	};
	return app_alarm_handle(b->app, &ch, channel, NULL, NULL);
}

static const char *default_console_user(const struct opts *o, const struct config *cfg)
{
	if (o->user)
		return o->user;
	for (size_t i = 0; i < cfg->defaults.requesters.n; i++)
		if (strcmp(cfg->defaults.requesters.ids[i], "*") != 0)
			return cfg->defaults.requesters.ids[i];
	for (size_t s = 0; s < cfg->n_services; s++)
		for (size_t i = 0; i < cfg->services[s].requesters.n; i++)
			if (strcmp(cfg->services[s].requesters.ids[i], "*") != 0)
				return cfg->services[s].requesters.ids[i];
	return "U0CONSOLE";
}

static int create_chat(struct bot *b, struct bot_error *err)
{
	if (b->o.chat == CHAT_CONSOLE) {
		struct console_opts co = {
			.in_fd = STDIN_FILENO,
			.out_fd = STDOUT_FILENO,
			.user = default_console_user(&b->o, b->cfg),
			.channel = b->cfg->defaults.channel,
			.color = isatty(STDOUT_FILENO),
			.on_eof = on_console_eof,
			.eof_ud = b,
			.on_alarm = on_console_alarm,
			.alarm_ud = b,
		};
		return console_chat_create(bot_loop_uv(b->loop), &co, &b->chat, err);
	}
	struct slack_chat_opts so = {
		.app_token = b->cfg->slack.app_token.value,
		.bot_token = b->cfg->slack.bot_token.value,
		.api_url = b->cfg->slack.api_url,  /* SLACK_API_URL already applied by config */
		.ca_file = b->cfg->slack.ca_file,
		.app_id = b->cfg->slack.app_id,
		.allow_external_users = b->cfg->slack.allow_external_users,
		.on_fatal = on_chat_fatal,
		.fatal_ud = b,
	};
	return slack_chat_create(b->loop, &so, &b->chat, err);
}

/* The AWS backend, wrapped by the dry-run cloud with --dry-run (reads go to
 * AWS, nothing is changed). A dry run without AWS access still starts, and
 * says so: its reads fail with "no AWS access". */
static int create_cloud(struct bot *b, struct bot_error *err)
{
	struct bot_error aerr = {0};
	int rc = cloud_aws_create(b->loop, &(struct cloud_aws_opts){.config = b->cfg}, &b->aws,
				  &aerr);

	if (rc && (!b->o.dry_run || bot_store_is_dynamodb(b->cfg)))
		return bot_error_set(err, rc, "AWS: %s%s", aerr.msg,
				     b->o.dry_run ? " (the DynamoDB store needs AWS, also in a "
						    "dry run)" : "");
	if (rc)
		log_warn("aws", "result=unavailable mode=dry-run reason=%s", LOG_Q(aerr.msg));
	b->aws_backend = b->aws;
	if (!b->o.dry_run) {
		b->cloud = b->aws;
		b->aws = NULL;
		return BOT_EOK;
	}
	b->cloud = cloud_dryrun_create(bot_loop_uv(b->loop), b->aws);
	if (!b->cloud)
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	return BOT_EOK;
}

static void store_stop_step(void *ud)
{
	store_stop(ud);
}

static int run(struct bot *b)
{
	struct bot_error err = {0};
	bool ran = false, ddb;
	int rc;

	rc = bot_loop_create(&b->loop, &err);
	if (rc)
		goto out;
	/* DynamoDB: the store's calls go through the AWS backend, so the
	 * cloud comes first (for SQLite the order stays: store, chat, cloud) */
	ddb = bot_store_is_dynamodb(b->cfg);
	if (ddb && (rc = create_cloud(b, &err)) != BOT_EOK)
		goto out;
	rc = bot_store_open(b->cfg, bot_loop_uv(b->loop), b->aws_backend, NULL, false, &b->store,
			    &err);
	if (rc) {
		char why[sizeof err.msg];
		snprintf(why, sizeof why, "%s", err.msg);
		bot_error_set(&err, rc, "cannot open the store %s%s: %s",
			      ddb ? "dynamodb:" : "", ddb ? b->cfg->store.table : b->cfg->store.path,
			      why);
		goto out;
	}
	/* after every component's polite close: what still waits for the
	 * store's answer is told it was cancelled, and its handle closes */
	rc = bot_loop_on_teardown(b->loop, store_stop_step, NULL, b->store);
	if (rc) {
		bot_error_set(&err, rc, "cannot register the store's teardown");
		goto out;
	}
	rc = create_chat(b, &err);
	if (rc)
		goto out;
	if (!ddb && (rc = create_cloud(b, &err)) != BOT_EOK)
		goto out;
	struct app_opts ao = {
		.loop = bot_loop_uv(b->loop),
		.cfg = b->cfg,
		.chat = b->chat,
		.cloud = b->cloud,
		.store = b->store,
		.dry_run = b->o.dry_run,
	};
	rc = app_create(&ao, &b->app, &err);
	if (rc)
		goto out;
	b->chat->on_event = app_on_chat_event;
	b->chat->event_ud = b->app;
	if ((rc = bot_loop_on_signal(b->loop, SIGINT, on_shutdown_signal, b)) ||
	    (rc = bot_loop_on_signal(b->loop, SIGTERM, on_shutdown_signal, b)) ||
	    (rc = bot_loop_on_signal(b->loop, SIGHUP, on_reload_signal, b)) ||
	    (rc = bot_loop_on_shutdown(b->loop, app_stop_hook, b)) ||
	    (rc = bot_loop_on_shutdown(b->loop, chat_stop_hook, b))) {
		bot_error_set(&err, rc, "cannot install signal handlers");
		goto out;
	}
	if (b->cfg->http.listen) {
		struct health_opts ho = {
			.listen = b->cfg->http.listen, .render = app_health_render, .ud = b->app,
		};
		rc = health_create(b->loop, &ho, &b->health, &err);
		if (rc)
			goto out;
		rc = bot_loop_on_shutdown(b->loop, health_stop_hook, b);
		if (rc) {
			health_destroy(b->health);
			b->health = NULL;
			bot_error_set(&err, rc, "cannot register the health endpoint's shutdown");
			goto out;
		}
	}
	rc = b->chat->ops->start(b->chat);
	if (rc) {
		bot_error_set(&err, rc, "cannot start the %s chat", b->chat->ops->name);
		goto out;
	}
	log_info("start", "version=%s chat=%s services=%zu dry_run=%s store=%s", BOT_VERSION,
		 b->chat->ops->name, b->cfg->n_services, b->o.dry_run ? "true" : "false",
		 LOG_Q(store_where(b->store)));
	rc = app_start(b->app, &err);
	if (rc)
		goto out; /* the loop still runs the shutdown below */
	ran = true;
	rc = bot_loop_run(b->loop);
	log_info("stop", "result=%s", rc || b->exit_code ? "error" : "clean");
out:
	if (rc && err.msg[0])
		fprintf(stderr, "chatops-bot: %s\n", err.msg);
	if (b->loop && !ran) {
		/* failed before the loop ran: still tear down in order */
		bot_loop_shutdown(b->loop);
		(void)bot_loop_run(b->loop);
	}
	if (b->cloud)
		b->cloud->ops->destroy(b->cloud);
	if (b->aws)
		b->aws->ops->destroy(b->aws);
	app_destroy(b->app);
	if (b->chat)
		b->chat->ops->destroy(b->chat);
	if (bot_loop_destroy(b->loop) != 0 && !rc)
		rc = BOT_ESTATE;
	store_close(b->store);
	return rc ? rc : b->exit_code;
}

struct check {
	struct bot_loop *loop;
	int exit_code;
};

static void on_checked(void *ud, const struct cloud_aws_check *r)
{
	struct check *c = ud;

	if (r->identity)
		printf("AWS: signed in as %s (credentials: %s)\n", r->identity,
		       r->creds_source ? r->creds_source : "?");
	else
		printf("AWS: could not confirm the identity: %s%s%s\n",
		       r->identity_err.aws_code[0] ? r->identity_err.aws_code : "",
		       r->identity_err.aws_code[0] ? ": " : "", r->identity_err.message);
	for (size_t i = 0; i < r->n; i++) {
		const struct cloud_aws_check_item *it = &r->items[i];
		printf("  %-24s %s  cluster %s, ECS service %s, %s: %s\n", it->service,
		       it->code == 0 ? "ok     " : it->code == BOT_ENOTFOUND ? "MISSING" : "UNKNOWN",
		       it->cluster, it->ecs_service, it->region, it->detail);
	}
	if (r->failed)
		printf("%zu of %zu service%s could not be confirmed in AWS\n", r->failed, r->n,
		       r->n == 1 ? "" : "s");
	c->exit_code = r->failed ? 3 : 0;
	bot_loop_shutdown(c->loop);
}

/* --check-config with the DynamoDB store: is its table there, ACTIVE, and
 * laid out as the store expects? One line; true when it is. Runs loop
 * until DynamoDB answered (before anything else is started on it). */
static bool check_table(struct bot *b, struct bot_loop *loop, struct cloud *cloud)
{
	struct bot_error err = {0};
	struct aws_client *ddb;
	char ep[512] = "";
	int rc = bot_store_aws_client(b->cfg, cloud, &ddb, &err);

	if (!rc) {
		(void)aws_client_endpoint(ddb, AWS_SVC_DYNAMODB, NULL, ep, sizeof ep);
		rc = store_dynamodb_check_table(ddb, bot_loop_uv(loop), b->cfg->store.table, &err);
	}
	if (!rc)
		printf("Store: dynamodb:%s (%s): ok, ACTIVE with the store's keys and indexes\n",
		       b->cfg->store.table, b->cfg->store.region);
	else
		printf("Store: dynamodb:%s (%s%s%s): %s: %s%s\n", b->cfg->store.table,
		       b->cfg->store.region, ep[0] ? ", " : "", ep,
		       rc == BOT_ENOTFOUND ? "MISSING" : rc == BOT_ECONFIG ? "WRONG LAYOUT"
		       : rc == BOT_ESTATE ? "NOT READY" : "UNKNOWN", err.msg,
		       rc == BOT_ENOTFOUND ? "; chatops-bot store init --config FILE creates it"
					   : "");
	return rc == BOT_EOK;
}

/* --check-config, second half: do the configured services exist? */
static int check_aws(struct bot *b)
{
	struct check c = {.exit_code = 3};
	struct bot_error err = {0};
	struct cloud *cloud = NULL;
	bool table_ok = true;
	int rc;

	rc = bot_loop_create(&c.loop, &err);
	if (!rc)
		rc = cloud_aws_create(c.loop, &(struct cloud_aws_opts){.config = b->cfg}, &cloud, &err);
	if (!rc && bot_store_is_dynamodb(b->cfg))
		table_ok = check_table(b, c.loop, cloud);
	if (!rc)
		rc = cloud_aws_check_config(cloud, b->cfg, on_checked, &c);
	if (rc) {
		printf("AWS: services not checked: %s\n", err.msg[0] ? err.msg : bot_strerror(rc));
		if (c.loop)
			bot_loop_shutdown(c.loop);
	}
	if (c.loop)
		(void)bot_loop_run(c.loop);
	if (cloud)
		cloud->ops->destroy(cloud);
	if (bot_loop_destroy(c.loop) != 0 || !table_ok)
		c.exit_code = 3;
	fflush(stdout);
	return c.exit_code;
}

int main(int argc, char **argv)
{
	struct bot b = {0};
	int rc;

	/* What the bot creates (the store, its -wal and -shm) is its user's only. */
	umask(077);
	/* subcommand: chatops-bot audit ... (export / verify the audit log) */
	if (argc > 1 && strcmp(argv[1], "audit") == 0)
		return audit_main(argc - 1, argv + 1);
	/* subcommand: chatops-bot store init|copy ... (the DynamoDB table) */
	if (argc > 1 && strcmp(argv[1], "store") == 0)
		return store_cmd_main(argc - 1, argv + 1);
	/* subcommand: chatops-bot iam-policy ... (the IAM policy the config needs) */
	if (argc > 1 && strcmp(argv[1], "iam-policy") == 0)
		return iam_cmd_main(argc - 1, argv + 1);
	rc = parse_args(argc, argv, &b.o);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (load_config(&b.o, false, &b.cfg) != BOT_EOK)
		return 2;
	apply_log_level(&b.o, b.cfg);
	if (b.o.check_config) {
		printf("%s: configuration is valid (%zu service%s:", b.o.config, b.cfg->n_services,
		       b.cfg->n_services == 1 ? "" : "s");
		for (size_t i = 0; i < b.cfg->n_services; i++)
			printf(" %s", b.cfg->services[i].name);
		printf(")\n");
		rc = check_aws(&b);
		config_unref(b.cfg);
		log_clear_secrets();
		return rc;
	}
	rc = run(&b);
	config_unref(b.cfg);
	log_clear_secrets();
	return rc ? 1 : 0;
}
