/* store_cmd.c - `chatops-bot store init|copy` (see store_cmd.h). */
#include "bot/store_cmd.h"
#include "adapters/store/dynamodb.h"
#include "adapters/store/sqlite.h"
#include "bot/domain/audit.h"
#include "bot/store_open.h"
#include "config/config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char store_usage[] =
"Usage: chatops-bot store init --config FILE\n"
"       chatops-bot store copy --from sqlite:PATH --to dynamodb:TABLE [--config FILE]\n"
"\n"
"Tools for the store where gates, approvals and the audit chain live.\n"
"\n"
"  init   create the DynamoDB table of FILE's store (store.backend: dynamodb,\n"
"         store.table, store.region): keys pk/sk, the indexes by_state and\n"
"         by_kind, Time To Live on ttl. A table that is already there is\n"
"         checked instead. Needs dynamodb:CreateTable, DescribeTable and\n"
"         UpdateTimeToLive (more than the bot itself: see iam-policy --help).\n"
"  copy   move a SQLite store into an empty DynamoDB table (made by init):\n"
"         verify the source's audit chain, copy every gate as it is (id,\n"
"         version, state, approvals), every audit event as it is (seq, time,\n"
"         hashes), every alarm record (key, version, body) and the counters,\n"
"         then verify the chain on the target.\n"
"         A table that holds gates or audit events is refused. Processed\n"
"         chat event ids are not copied (they matter for 15 minutes): stop\n"
"         the bot first. The region, endpoint and credentials come from FILE\n"
"         (store.region, store.endpoint, aws.*) and the AWS environment.\n"
"\n"
"Options:\n"
"  -c, --config FILE   configuration file (YAML)\n"
"      --from SRC      copy: the source, sqlite:PATH\n"
"      --to DST        copy: the target, dynamodb:TABLE\n"
"  -h, --help          print this help and exit\n"
"\n"
"Exit status: 0 done, 1 failed or refused (the reason is printed), 2 bad\n"
"usage or the file has errors.\n";

struct cmd_args {
	const char *verb, *config, *from, *to;
};

static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "chatops-bot store: %s%s%s%s\nTry 'chatops-bot store --help'.\n", what,
		arg ? " '" : "", arg ? arg : "", arg ? "'" : "");
	return 2;
}

static int parse_store_args(int argc, char **argv, struct cmd_args *a)
{
	enum { OPT_FROM = 256, OPT_TO };
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"from", required_argument, NULL, OPT_FROM},
		{"to", required_argument, NULL, OPT_TO},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	optind = 0; /* glibc: 0 also resets getopt's internal state */
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			a->config = optarg;
			break;
		case OPT_FROM:
			a->from = optarg;
			break;
		case OPT_TO:
			a->to = optarg;
			break;
		case 'h':
			fputs(store_usage, stdout);
			return -1;
		default:
			fputs("Try 'chatops-bot store --help'.\n", stderr);
			return 2;
		}
	}
	if (optind >= argc)
		return usage_error("which one: init or copy?", NULL);
	a->verb = argv[optind++];
	if (optind < argc)
		return usage_error("unexpected argument", argv[optind]);
	if (strcmp(a->verb, "init") == 0) {
		if (!a->config)
			return usage_error("init: --config FILE is required", NULL);
		if (a->from || a->to)
			return usage_error("init: --from and --to are for copy", NULL);
	} else if (strcmp(a->verb, "copy") == 0) {
		if (!a->from || strncmp(a->from, "sqlite:", 7) != 0 || !a->from[7])
			return usage_error("copy: --from sqlite:PATH is required", NULL);
		if (!a->to || strncmp(a->to, "dynamodb:", 9) != 0 || !a->to[9])
			return usage_error("copy: --to dynamodb:TABLE is required", NULL);
	} else {
		return usage_error("unknown action (init or copy):", a->verb);
	}
	return 0;
}

/* ---- init --------------------------------------------------------------- */

static int do_init(const struct config *cfg)
{
	struct bot_tool t = {0};
	struct bot_error err = {0};
	const char *table = cfg->store.table;
	int rc, status = 1;

	if (!bot_store_is_dynamodb(cfg)) {
		fprintf(stderr, "chatops-bot store init: the store of this file is %s, not "
			"dynamodb (set store.backend: dynamodb and store.table)\n",
			cfg->store.backend);
		return 2;
	}
	if (bot_tool_open(&t, cfg, &err) != BOT_EOK) {
		fprintf(stderr, "chatops-bot store init: AWS: %s\n", err.msg);
		return 1;
	}
	rc = store_dynamodb_check_table(t.ddb, bot_loop_uv(t.loop), table, &err);
	if (rc == BOT_EOK) {
		printf("dynamodb:%s (%s): already there, checked: ACTIVE with the store's keys "
		       "and indexes\n", table, cfg->store.region);
		status = 0;
		goto out;
	}
	if (rc != BOT_ENOTFOUND) {
		fprintf(stderr, "chatops-bot store init: %s\n", err.msg);
		goto out;
	}
	rc = store_dynamodb_create_table(t.ddb, bot_loop_uv(t.loop), table, &err);
	if (!rc)
		rc = store_dynamodb_check_table(t.ddb, bot_loop_uv(t.loop), table, &err);
	if (rc) {
		fprintf(stderr, "chatops-bot store init: %s\n", err.msg);
		goto out;
	}
	printf("dynamodb:%s (%s): created: keys pk/sk, indexes by_state and by_kind, Time To "
	       "Live on ttl; ACTIVE\n", table, cfg->store.region);
	status = 0;
out:
	bot_tool_close(&t, NULL);
	return status;
}

/* ---- copy --------------------------------------------------------------- */

struct copy {
	struct store *dst;
	size_t audit_done, alarms_done;
	int64_t last_seq;
	char last_hash[65];
	struct bot_error err;
};

static int copy_row(void *ud, const struct store_audit_row *r)
{
	struct copy *c = ud;
	int rc = store_dynamodb_import_audit(c->dst, r, &c->err);

	if (rc)
		return rc;
	c->audit_done++;
	c->last_seq = r->seq;
	snprintf(c->last_hash, sizeof c->last_hash, "%s", r->hash ? r->hash : "");
	return 0;
}

static int copy_alarm(void *ud, const struct store_alarm *a)
{
	struct copy *c = ud;
	int rc = store_dynamodb_import_alarm(c->dst, a, &c->err);

	if (rc == BOT_EOK)
		c->alarms_done++;
	return rc;
}

static int stop_at_first(void *ud, const struct store_audit_row *r)
{
	(void)r;
	*(bool *)ud = true;
	return 1;
}

/* Does dst hold anything? 0 and *empty, or the error. */
static int target_empty(struct store *dst, bool *empty, struct bot_error *err)
{
	uint64_t counts[GATE_STATE_COUNT] = {0};
	bool any_event = false;
	int rc = store_gate_counts(dst, counts, err);

	*empty = false;
	if (rc)
		return rc;
	rc = store_audit_each(dst, 0, stop_at_first, &any_event, err);
	if (rc && rc != 1)
		return rc;
	*empty = !any_event;
	for (int i = 0; i < GATE_STATE_COUNT; i++)
		if (counts[i])
			*empty = false;
	return BOT_EOK;
}

static int do_copy(const struct cmd_args *a, const struct config *cfg)
{
	const char *path = a->from + 7, *table = a->to + 9;
	struct bot_tool t = {0};
	struct bot_error err = {0};
	struct store *src = NULL, *dst = NULL;
	struct store_gate *gates = NULL;
	struct copy c = {0};
	size_t n_gates = 0, gates_done = 0, n_src = 0, n_dst = 0;
	uint64_t gate_seq = 0;
	bool empty, started = false;
	int rc, status = 1;

	rc = bot_store_open(NULL, NULL, NULL, path, true, &src, &err);
	if (rc) {
		fprintf(stderr, "chatops-bot store copy: source %s: %s\n", a->from, err.msg);
		goto out;
	}
	rc = audit_verify(src, &n_src, NULL, NULL, &err);
	if (rc) {
		fprintf(stderr, "chatops-bot store copy: source %s: %s; nothing copied\n",
			a->from, err.msg);
		goto out;
	}
	printf("%s: audit chain intact (%zu event%s)\n", store_where(src), n_src,
	       n_src == 1 ? "" : "s");
	rc = store_gate_list(src, (1u << GATE_STATE_COUNT) - 1, &gates, &n_gates, &err);
	if (rc) {
		fprintf(stderr, "chatops-bot store copy: source %s: %s\n", a->from, err.msg);
		goto out;
	}
	if (bot_tool_open(&t, cfg, &err) != BOT_EOK) {
		fprintf(stderr, "chatops-bot store copy: AWS: %s\n", err.msg);
		goto out;
	}
	rc = store_dynamodb_check_table(t.ddb, bot_loop_uv(t.loop), table, &err);
	if (!rc)
		rc = store_dynamodb_open(&(struct store_dynamodb_opts){
			.aws = t.ddb, .table = table, .loop = bot_loop_uv(t.loop)}, &dst, &err);
	if (!rc)
		rc = target_empty(dst, &empty, &err);
	if (rc) {
		fprintf(stderr, "chatops-bot store copy: target %s: %s%s\n", a->to, err.msg,
			rc == BOT_ENOTFOUND ? "; chatops-bot store init creates it" : "");
		goto out;
	}
	if (!empty) {
		fprintf(stderr, "chatops-bot store copy: target %s already holds gates or audit "
			"events; refused, nothing copied (copy only into a new table)\n", a->to);
		goto out;
	}
	started = true;
	for (size_t i = 0; i < n_gates; i++) {
		/* the full record, with its approvals */
		struct store_gate g = {0};
		rc = store_gate_get(src, gates[i].id, &g, &err);
		if (!rc)
			rc = store_dynamodb_import_gate(dst, &g, &err);
		store_gate_clear(&g);
		if (rc)
			goto failed;
		gates_done++;
		if (gates[i].id > gate_seq)
			gate_seq = gates[i].id;
	}
	c.dst = dst;
	/* the alarm intake's records, as they are: the bot goes on with the
	 * episodes they describe (their cards, their gates) */
	rc = store_sqlite_alarm_each(src, copy_alarm, &c, &err);
	if (rc) {
		if (c.err.msg[0])
			err = c.err;
		goto failed;
	}
	snprintf(c.last_hash, sizeof c.last_hash, "%s", "");
	rc = store_audit_each(src, 0, copy_row, &c, &err);
	if (rc) {
		if (c.err.msg[0])
			err = c.err;
		goto failed;
	}
	rc = store_dynamodb_import_finish(dst, gate_seq, c.last_seq,
					  c.last_seq ? c.last_hash : NULL, &err);
	if (rc)
		goto failed;
	rc = audit_verify(dst, &n_dst, NULL, NULL, &err);
	if (rc || n_dst != n_src) {
		if (!rc)
			bot_error_set(&err, BOT_ESTATE, "%zu audit events there, %zu in the source",
				      n_dst, n_src);
		fprintf(stderr, "chatops-bot store copy: target %s does not verify after the "
			"copy: %s\n", a->to, err.msg);
		rc = BOT_ESTATE;
		goto failed_reported;
	}
	printf("%s: copied %zu gate%s and %zu audit event%s (last gate id %llu, chain tail "
	       "seq %lld)\n%s: audit chain intact (%zu event%s)\n", store_where(dst), gates_done,
	       gates_done == 1 ? "" : "s", c.audit_done, c.audit_done == 1 ? "" : "s",
	       (unsigned long long)gate_seq, (long long)c.last_seq, store_where(dst), n_dst,
	       n_dst == 1 ? "" : "s");
	printf("%s: copied %zu alarm record%s\n", store_where(dst), c.alarms_done,
	       c.alarms_done == 1 ? "" : "s");
	status = 0;
	goto out;
failed:
	fprintf(stderr, "chatops-bot store copy: %s\n", err.msg);
failed_reported:
	if (started)
		fprintf(stderr, "chatops-bot store copy: copy INCOMPLETE: %zu of %zu gates, %zu "
			"alarm record%s and %zu of %zu audit events were copied into %s; delete "
			"and recreate the table (chatops-bot store init) before trying again\n",
			gates_done, n_gates, c.alarms_done, c.alarms_done == 1 ? "" : "s",
			c.audit_done, n_src, a->to);
out:
	store_gate_array_free(gates, n_gates);
	if (t.loop)
		bot_tool_close(&t, dst);
	else
		store_close(dst);
	store_close(src);
	return status;
}

int store_cmd_main(int argc, char **argv)
{
	struct cmd_args a = {0};
	struct config *cfg = NULL;
	int status = parse_store_args(argc, argv, &a);

	if (status)
		return status < 0 ? 0 : status;
	if (a.config && bot_tool_load_config("store", a.config, &cfg) != BOT_EOK)
		return 2;
	status = strcmp(a.verb, "init") == 0 ? do_init(cfg) : do_copy(&a, cfg);
	config_unref(cfg);
	return status;
}
