/* iam_cmd.c - `chatops-bot iam-policy` (see iam_cmd.h). */
#include "bot/iam_cmd.h"
#include "bot/store_open.h"
#include "adapters/aws/cloud_aws.h"
#include "adapters/aws/iam_policy.h"
#include "adapters/aws/sts.h"
#include "bot/base/log.h"
#include "bot/base/loop.h"
#include "config/config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACCOUNT_MAX 16

static const char iam_usage[] =
"Usage: chatops-bot iam-policy --config FILE [--account ID]\n"
"\n"
"Print the least-privilege IAM policy (JSON) for the bot running with FILE:\n"
"ECS DescribeServices and UpdateService on each configured service,\n"
"DescribeClusters on their clusters, the CloudWatch reads (GetMetricData,\n"
"DescribeAlarms), SNS Publish on the configured topics, with store.backend\n"
"dynamodb the store's calls on its table and indexes (GetItem, PutItem,\n"
"UpdateItem, DeleteItem, Query, Scan, ConditionCheckItem, DescribeTable), and\n"
"STS AssumeRole on aws.role_arn. Attach it to the identity the bot runs as;\n"
"with aws.role_arn, to that role (what assumes it needs only the\n"
"AssumeConfiguredRole statement). `chatops-bot store init` needs more than\n"
"the bot: dynamodb:CreateTable, DescribeTable, DescribeTimeToLive and\n"
"UpdateTimeToLive on the table (give them to whoever makes it, once).\n"
"\n"
"Options:\n"
"  -c, --config FILE   configuration file (YAML)\n"
"      --account ID    the AWS account the bot works in (12 digits), or '*' for\n"
"                      any account. Default: the account of aws.role_arn, else\n"
"                      the one STS GetCallerIdentity names for the credentials\n"
"                      the bot would use (AWS_PROFILE, AWS_ACCESS_KEY_ID, ...)\n"
"  -h, --help          print this help and exit\n"
"\n"
"Exit status: 0 printed, 2 bad usage or the file has errors, 3 the account\n"
"could not be learned from AWS (give --account).\n";

struct iam_args {
	const char *config, *account;
};

static int parse_iam_args(int argc, char **argv, struct iam_args *a)
{
	enum { OPT_ACCOUNT = 256 };
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"account", required_argument, NULL, OPT_ACCOUNT},
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
		case OPT_ACCOUNT:
			if (!aws_iam_policy_account_valid(optarg)) {
				fprintf(stderr, "chatops-bot iam-policy: --account must be 12 digits "
					"or '*', not '%s'\n", optarg);
				return 2;
			}
			a->account = optarg;
			break;
		case 'h':
			fputs(iam_usage, stdout);
			return -1;
		default:
			fputs("Try 'chatops-bot iam-policy --help'.\n", stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "chatops-bot iam-policy: unexpected argument '%s'\n"
			"Try 'chatops-bot iam-policy --help'.\n", argv[optind]);
		return 2;
	}
	if (!a->config) {
		fputs("chatops-bot iam-policy: --config FILE is required\n"
		      "Try 'chatops-bot iam-policy --help'.\n", stderr);
		return 2;
	}
	return 0;
}

/* ---- the account, from STS ---------------------------------------------- */

struct whoami {
	struct bot_loop *loop;
	bool answered;
	char account[ACCOUNT_MAX];
	char arn[320];
	struct cloud_error err;
};

static void on_identity(void *ud, const struct cloud_error *err, const struct aws_sts_identity *id)
{
	struct whoami *w = ud;

	w->answered = true;
	if (err)
		w->err = *err;
	else if (id->account && strlen(id->account) < sizeof w->account)
		snprintf(w->account, sizeof w->account, "%s", id->account);
	if (!err && id->arn)
		snprintf(w->arn, sizeof w->arn, "%s", id->arn);
	bot_loop_shutdown(w->loop);
}

/* Ask STS who the bot's credentials are. 0 with w->account set, or 3 with
 * the reason printed. */
static int account_from_sts(const struct config *cfg, struct whoami *w)
{
	struct bot_error err = {0};
	struct cloud *cloud = NULL;
	int rc;

	rc = bot_loop_create(&w->loop, &err);
	if (!rc)
		rc = cloud_aws_create(w->loop, &(struct cloud_aws_opts){.config = cfg}, &cloud, &err);
	if (!rc)
		rc = aws_sts_get_caller_identity(cloud_aws_client(cloud), NULL, on_identity, w, NULL);
	if (rc && w->loop)
		bot_loop_shutdown(w->loop);
	if (w->loop)
		(void)bot_loop_run(w->loop);
	if (cloud)
		cloud->ops->destroy(cloud);
	(void)bot_loop_destroy(w->loop); /* a CLI about to exit: nothing to report */
	w->loop = NULL;
	if (!rc && !w->answered)
		rc = bot_error_set(&err, BOT_ESTATE, "STS never answered");
	if (rc || w->err.code || !aws_iam_policy_account_valid(w->account)) {
		fprintf(stderr, "chatops-bot iam-policy: cannot learn the AWS account from STS "
			"GetCallerIdentity: %s%s%s\n"
			"Give it with --account ID (or --account '*' for any account).\n",
			w->err.aws_code, w->err.aws_code[0] ? ": " : "",
			rc ? (err.msg[0] ? err.msg : bot_strerror(rc))
			   : w->err.code ? w->err.message : "no account in the answer");
		return 3;
	}
	return 0;
}

/* The account the ARNs name, into buf; 0 or an exit status. */
static int find_account(const struct iam_args *a, const struct config *cfg, char *buf,
			size_t n)
{
	struct whoami w = {0};
	int rc;

	if (a->account) {
		snprintf(buf, n, "%s", a->account);
		return 0;
	}
	if (cfg->aws.role_arn && aws_iam_policy_arn_account(cfg->aws.role_arn, buf, n) &&
	    aws_iam_policy_account_valid(buf)) {
		fprintf(stderr, "chatops-bot iam-policy: account %s, from aws.role_arn\n", buf);
		return 0;
	}
	rc = account_from_sts(cfg, &w);
	if (rc)
		return rc;
	snprintf(buf, n, "%s", w.account);
	fprintf(stderr, "chatops-bot iam-policy: account %s, from STS GetCallerIdentity (%s)\n",
		buf, w.arn[0] ? w.arn : "?");
	return 0;
}

/* ---- the subcommand ------------------------------------------------------ */

static int print_policy(const struct config *cfg, const char *account)
{
	struct bot_error err = {0};
	json_t *policy = NULL;
	char *text = NULL;
	int status = 0;
	int rc = aws_iam_policy_build(cfg, &(struct aws_iam_policy_opts){
		.account = account, .region = cloud_aws_region(cfg) }, &policy, &err);

	if (rc) {
		fprintf(stderr, "chatops-bot iam-policy: %s\n", err.msg);
		status = rc == BOT_ENOMEM ? 1 : 2;
		goto out;
	}
	text = aws_iam_policy_format(policy);
	if (!text || fputs(text, stdout) < 0 || fflush(stdout) != 0) {
		fprintf(stderr, "chatops-bot iam-policy: cannot write the policy\n");
		status = 1;
	}
out:
	free(text);
	json_decref(policy);
	return status;
}

int iam_cmd_main(int argc, char **argv)
{
	struct iam_args a = {0};
	struct config *cfg = NULL;
	char account[ACCOUNT_MAX];
	int status = parse_iam_args(argc, argv, &a);

	if (status)
		return status < 0 ? 0 : status;
	/* stdout is the policy; keep stderr to what matters */
	log_set_level(BOT_LOG_WARN);
	if (bot_tool_load_config("iam-policy", a.config, &cfg) != BOT_EOK) {
		status = 2;
		goto out;
	}
	status = find_account(&a, cfg, account, sizeof account);
	if (status)
		goto out;
	status = print_policy(cfg, account);
out:
	config_unref(cfg);
	log_clear_secrets();
	return status;
}
