/* audit_cmd.c - the `chatops-bot audit` subcommand (see audit_cmd.h). */
#include "bot/audit_cmd.h"
#include "bot/domain/audit.h"
#include "bot/store_open.h"
#include "config/config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- the subcommand ---------------------------------------------------- */

static const char audit_usage[] =
"Usage: chatops-bot audit (--config FILE | --db PATH) [options]\n"
"\n"
"Print the bot's audit log (every request, click, decision and action on\n"
"an approval gate) or check that it was not tampered with.\n"
"\n"
"Options:\n"
"  -c, --config FILE   the bot's configuration and its store (store.path, or\n"
"                      with store.backend dynamodb the table store.table,\n"
"                      reached with the AWS settings of the file)\n"
"      --db PATH       the store database itself (instead of --config)\n"
"      --since WHEN    only events from WHEN on: 2026-11-24, 2026-11-24T09:00:00Z,\n"
"                      or a span back from now: 30m, 2h, 7d\n"
"      --format FMT    jsonl (default: one JSON object per line) or csv\n"
"      --verify        recompute the hash chain; exit 0 if intact, 1 naming the\n"
"                      first bad event otherwise\n"
"  -h, --help          print this help and exit\n";

struct audit_args {
	const char *config, *db, *since;
	enum audit_format fmt;
	bool verify;
};

static int parse_audit_args(int argc, char **argv, struct audit_args *a)
{
	enum { OPT_DB = 256, OPT_SINCE, OPT_FORMAT, OPT_VERIFY };
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"db", required_argument, NULL, OPT_DB},
		{"since", required_argument, NULL, OPT_SINCE},
		{"format", required_argument, NULL, OPT_FORMAT},
		{"verify", no_argument, NULL, OPT_VERIFY},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	optind = 0; /* glibc: 0 also resets getopt's internal state (tests call us twice) */
	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			a->config = optarg;
			break;
		case OPT_DB:
			a->db = optarg;
			break;
		case OPT_SINCE:
			a->since = optarg;
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "jsonl") == 0)
				a->fmt = AUDIT_JSONL;
			else if (strcmp(optarg, "csv") == 0)
				a->fmt = AUDIT_CSV;
			else {
				fprintf(stderr, "chatops-bot audit: --format must be jsonl or csv, "
					"not '%s'\n", optarg);
				return 2;
			}
			break;
		case OPT_VERIFY:
			a->verify = true;
			break;
		case 'h':
			fputs(audit_usage, stdout);
			return -1;
		default:
			fputs("Try 'chatops-bot audit --help'.\n", stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "chatops-bot audit: unexpected argument '%s'\n"
			"Try 'chatops-bot audit --help'.\n", argv[optind]);
		return 2;
	}
	if (!a->config == !a->db) {
		fputs("chatops-bot audit: give exactly one of --config FILE or --db PATH\n"
		      "Try 'chatops-bot audit --help'.\n", stderr);
		return 2;
	}
	return 0;
}

int audit_main(int argc, char **argv)
{
	struct audit_args a = {0};
	struct config *cfg = NULL;
	struct store *s = NULL;
	struct bot_tool tool = {0};
	struct bot_error err = {0};
	int64_t since = 0;
	int status = parse_audit_args(argc, argv, &a);

	if (status)
		return status < 0 ? 0 : status;
	if (a.since) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		if (audit_parse_since(a.since, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
				      &since) != BOT_EOK) {
			fprintf(stderr, "chatops-bot audit: --since '%s': expected a date "
				"(2026-11-24, 2026-11-24T09:00:00Z) or a span (30m, 2h, 7d)\n",
				a.since);
			return 2;
		}
	}
	if (a.config && bot_tool_load_config("audit", a.config, &cfg) != BOT_EOK)
		return 2;
	/* DynamoDB: the synchronous store calls run a loop, through AWS */
	if (!a.db && bot_store_is_dynamodb(cfg) && bot_tool_open(&tool, cfg, &err) != BOT_EOK) {
		fprintf(stderr, "chatops-bot audit: AWS: %s\n", err.msg);
		status = 1;
		goto out;
	}
	if (bot_store_open(cfg, tool.loop ? bot_loop_uv(tool.loop) : NULL, tool.aws, a.db, true,
			   &s, &err) != BOT_EOK) {
		fprintf(stderr, "chatops-bot audit: %s\n", err.msg);
		status = 1;
		goto out;
	}
	if (a.verify) {
		size_t n = 0;
		if (audit_verify(s, &n, NULL, NULL, &err) != BOT_EOK) {
			fprintf(stderr, "chatops-bot audit: %s: %s\n", store_where(s), err.msg);
			status = 1;
		} else {
			printf("%s: audit chain intact (%zu event%s)\n", store_where(s), n,
			       n == 1 ? "" : "s");
		}
		goto out;
	}
	if (audit_export(s, since, a.fmt, stdout, NULL, &err) != BOT_EOK) {
		fprintf(stderr, "chatops-bot audit: %s\n", err.msg);
		status = 1;
	}
out:
	if (tool.loop)
		bot_tool_close(&tool, s); /* closes s too */
	else
		store_close(s);
	config_unref(cfg);
	return status;
}
