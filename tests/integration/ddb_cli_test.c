/* The chatops-bot binary with store.backend dynamodb, black-box, against
 * moto served single-threaded with IAM and SigV4 checking on: `store init`
 * (twice: idempotent) as a user holding only the actions README says it
 * needs, --check-config on a missing table and on a good one (store.endpoint
 * winning over AWS_ENDPOINT_URL_DYNAMODB; store.region other than
 * aws.region), a dry run without credentials refused, the bot answering commands and
 * deciding a request on DynamoDB as a user holding exactly what
 * `iam-policy` prints (and failing visibly without dynamodb:UpdateItem),
 * `audit --verify` on it, and `store copy` of a SQLite store made by the
 * bot (chains verified before and after, the same events, counts printed,
 * a second copy refused, a tampered source refused). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "tests/fakes/moto.h"

#define OUT_MAX (512 * 1024)
#define ACCOUNT "123456789012" /* moto's */

struct proc {
	pid_t pid;
	int in, out;
	char buf[OUT_MAX];
	size_t len;
};

static char bin[512], dir[64];
static struct moto *moto;

/* %s: the table; %s: the store's extra lines (region, endpoint, path) */
static const char ddb_yaml[] =
	"aws:\n"
	"  region: us-east-1\n"
	"defaults:\n"
	"  approvers: [U0APPROVER1]\n"
	"  requesters: [U0ONCALL1]\n"
	"services:\n"
	"  mysecretword-service:\n"
	"    cluster: mysecretword-cluster\n"
	"    max_desired: 100\n"
	"store:\n"
	"  backend: %s\n"
	"%s";

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0600), 0);
}

/* dir/name.yaml for a store: "dynamodb" with table (and extra lines), or
 * "sqlite" at path. */
static const char *config(const char *name, const char *backend, const char *store_lines)
{
	static char paths[8][256]; /* a few may be in use at once */
	static unsigned next;
	char *path = paths[next++ % 8], yaml[2048];
	snprintf(yaml, sizeof yaml, ddb_yaml, backend, store_lines);
	snprintf(path, sizeof paths[0], "%s/%s.yaml", dir, name);
	write_file(path, yaml);
	return path;
}

static void spawn(struct proc *p, char *const argv[])
{
	int in[2], out[2];
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(out[1], 2);
		close(in[1]);
		close(out[0]);
		execv(bin, argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	p->in = in[1];
	p->out = out[0];
	p->len = 0;
	p->buf[0] = '\0';
	fcntl(p->out, F_SETFL, O_NONBLOCK);
}

static void pump(struct proc *p, int ms)
{
	struct pollfd pfd = {.fd = p->out, .events = POLLIN};
	if (poll(&pfd, 1, ms) <= 0)
		return;
	for (;;) {
		ssize_t n = read(p->out, p->buf + p->len, sizeof p->buf - 1 - p->len);
		if (n <= 0)
			break;
		p->len += (size_t)n;
	}
	p->buf[p->len] = '\0';
}

/* Read until needle shows up (bounded: 30 s; single-threaded moto is slow). */
static bool wait_out(struct proc *p, const char *needle)
{
	for (int i = 0; i < 600; i++) {
		if (p->len && strstr(p->buf, needle))
			return true;
		pump(p, 50);
	}
	return strstr(p->buf, needle) != NULL;
}

static int finish(struct proc *p)
{
	int st = 0;
	for (int i = 0; i < 3000; i++) { /* bounded: 30 s */
		pump(p, 10);
		usleep(10000);
		if (waitpid(p->pid, &st, WNOHANG) == p->pid) {
			pump(p, 0);
			close(p->out);
			close(p->in);
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
	}
	kill(p->pid, SIGKILL);
	waitpid(p->pid, &st, 0);
	close(p->out);
	close(p->in);
	return -1;
}

static struct proc *run(char *const argv[], int *status)
{
	static struct proc p;
	spawn(&p, argv);
	*status = finish(&p);
	return &p;
}

/* What a failure shows of a long output: its last lines, without the
 * per-request http lines. */
static const char *tail(const struct proc *p)
{
	static char out[6000];
	size_t n = 0;
	const char *line = p->buf;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line + 1) : strlen(line);
		if (!memmem(line, len, "event=http.done", 15)) {
			if (len > sizeof out - 1)
				len = sizeof out - 1;
			if (n + len > sizeof out - 1) { /* keep the end */
				memmove(out, out + len, n - len);
				n -= len;
			}
			memcpy(out + n, line, len);
			n += len;
		}
		line = nl ? nl + 1 : NULL;
	}
	out[n] = '\0';
	/* cmocka cuts long messages: the whole output is kept beside */
	FILE *f = fopen("ddb_cli_test.failure.log", "w");
	if (f) {
		fputs(p->buf, f);
		fclose(f);
	}
	return out;
}

#define EXPECT(p, needle) \
	do { \
		if (!strstr((p)->buf, (needle))) \
			fail_msg("no '%s' in:\n%s", (needle), tail(p)); \
	} while (0)

/* quit, and the bot stops cleanly */
static void quit(struct proc *p)
{
	int rc;
	assert_int_equal(write(p->in, "quit\n", 5), 5);
	rc = finish(p);
	if (rc != 0)
		fail_msg("exit status %d:\n%s", rc, tail(p));
}

/* The JSON lines of an audit export (the logs on stderr left out); caller
 * frees. */
static char *events_of(const struct proc *p)
{
	char *out = calloc(1, p->len + 1), *o = out;
	const char *line = p->buf;
	assert_non_null(out);
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line + 1) : strlen(line);
		if (line[0] == '{') {
			memcpy(o, line, len);
			o += len;
		}
		line = nl ? nl + 1 : NULL;
	}
	return out;
}

/* Act as IAM user `who` (made by moto_iam_user) in what runs next. */
static void as_user(const char *who)
{
	setenv("AWS_ACCESS_KEY_ID", moto_key(moto, who, "AccessKeyId"), 1);
	setenv("AWS_SECRET_ACCESS_KEY", moto_key(moto, who, "SecretAccessKey"), 1);
}

static void policy_user(const char *who, const char *user, const char *policy)
{
	char msg[1024];
	char *for_moto = moto_policy_for_moto(policy);
	if (!for_moto)
		fail_msg("not a policy document: %.400s", policy);
	if (moto_iam_user(moto, who, user, for_moto, msg, sizeof msg) != 0)
		fail_msg("%s", msg);
	free(for_moto);
}

/* The policy iam-policy prints for path (exit 0). Caller frees. */
static char *printed_policy(const char *path)
{
	int st;
	struct proc *p = run((char *[]){bin, "iam-policy", "--config", (char *)path, "--account",
					  ACCOUNT, NULL}, &st);
	char *start = strchr(p->buf, '{'), *end = strrchr(p->buf, '}');
	assert_int_equal(st, 0);
	assert_non_null(start);
	assert_non_null(end);
	return strndup(start, (size_t)(end - start + 1));
}

/* The policy document text with one action left out (caller frees). */
static char *without_action(const char *policy, const char *action)
{
	json_t *doc = json_loads(policy, 0, NULL), *st;
	size_t i, j;
	char *out;
	assert_non_null(doc);
	json_array_foreach(json_object_get(doc, "Statement"), i, st) {
		json_t *a, *acts = json_object_get(st, "Action");
		json_array_foreach(acts, j, a)
			if (strcmp(json_string_value(a), action) == 0) {
				json_array_remove(acts, j);
				break;
			}
	}
	out = json_dumps(doc, 0);
	json_decref(doc);
	return out;
}

static int group_setup(void **state)
{
	const char *root = getenv("CHATOPS_BUILD_ROOT");
	char msg[1024];
	(void)state;
	signal(SIGCHLD, SIG_DFL);
	assert_non_null(root);
	snprintf(bin, sizeof bin, "%s/chatops-bot", root);
	snprintf(dir, sizeof dir, "/tmp/ddb-cli-test-XXXXXX");
	assert_non_null(mkdtemp(dir));
	/* DynamoDB races must be atomic, as in AWS (aws-notes.md section 10) */
	if (moto_start(&(struct moto_opts){.single_threaded = true}, &moto, msg, sizeof msg) != 0)
		fail_msg("%s", msg);
	/* every endpoint is the local moto; nothing else to ask for credentials */
	setenv("AWS_ENDPOINT_URL", moto_url(moto), 1);
	setenv("AWS_REGION", "us-east-1", 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent", 1);
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("AWS_ENDPOINT_URL_DYNAMODB");
	setenv("SLACK_APP_TOKEN", "xapp-1-A0DDBCLI-1-c4n4ry", 1);
	setenv("SLACK_BOT_TOKEN", "xoxb-1-2-ddbcli-c4n4ry", 1);
	/* what README says store init needs, and nothing more */
	policy_user("init", "chatops-store-init",
		    "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", "
		    "\"Action\": [\"dynamodb:CreateTable\", \"dynamodb:DescribeTable\", "
		    "\"dynamodb:DescribeTimeToLive\", \"dynamodb:UpdateTimeToLive\"], "
		    "\"Resource\": \"*\"}]}");
	/* the bot's identity: exactly what iam-policy prints for its file */
	char *policy = printed_policy(config("bot", "dynamodb", "  table: gates-bot\n"));
	if (!strstr(policy, "\"arn:aws:dynamodb:us-east-1:" ACCOUNT ":table/gates-bot\"") ||
	    !strstr(policy, "\"arn:aws:dynamodb:us-east-1:" ACCOUNT ":table/gates-bot/index/*\"") ||
	    !strstr(policy, "\"dynamodb:UpdateItem\"") || strstr(policy, "CreateTable"))
		fail_msg("printed policy:\n%s", policy);
	policy_user("bot", "chatops-ddb-bot", policy);
	char *less = without_action(policy, "dynamodb:UpdateItem");
	policy_user("noupdate", "chatops-ddb-noupdate", less);
	free(less);
	free(policy);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];
	(void)state;
	moto_stop(moto);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}

/* store init twice, --check-config before and after; store.endpoint wins
 * over AWS_ENDPOINT_URL_DYNAMODB (which points nowhere here). */
static void test_init_and_check(void **state)
{
	char lines[256];
	const char *cfg;
	struct proc *p;
	int st;
	(void)state;

	snprintf(lines, sizeof lines, "  table: gates-init\n  endpoint: %s\n", moto_url(moto));
	cfg = config("init", "dynamodb", lines);
	setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9", 1);
	as_user("init");
	p = run((char *[]){bin, "--config", (char *)cfg, "--check-config", NULL}, &st);
	assert_int_equal(st, 3);
	EXPECT(p, "Store: dynamodb:gates-init (us-east-1, ");
	EXPECT(p, "MISSING: store: DynamoDB table gates-init does not exist");
	EXPECT(p, "chatops-bot store init --config FILE creates it");

	p = run((char *[]){bin, "store", "init", "--config", (char *)cfg, NULL}, &st);
	if (st != 0)
		fail_msg("store init: %d:\n%s", st, tail(p));
	EXPECT(p, "dynamodb:gates-init (us-east-1): created: keys pk/sk, indexes by_state and "
		  "by_kind, Time To Live on ttl; ACTIVE");
	p = run((char *[]){bin, "store", "init", "--config", (char *)cfg, NULL}, &st);
	assert_int_equal(st, 0);
	EXPECT(p, "dynamodb:gates-init (us-east-1): already there, checked");
	assert_null(strstr(p->buf, "created"));

	/* the bot's own identity (its printed policy; moto does not check
	 * DynamoDB resources, so gates-bot's is good for this table too) */
	as_user("bot");
	p = run((char *[]){bin, "--config", (char *)cfg, "--check-config", NULL}, &st);
	if (st != 0)
		fail_msg("--check-config: %d:\n%s", st, tail(p));
	EXPECT(p, "Store: dynamodb:gates-init (us-east-1): ok, ACTIVE with the store's keys and "
		  "indexes");
	unsetenv("AWS_ENDPOINT_URL_DYNAMODB");

	/* store.region other than aws.region: a second client, in that region
	 * (moto keeps regions apart: the table is not in us-east-1) */
	as_user("init");
	cfg = config("init-eu", "dynamodb", "  table: gates-eu\n  region: eu-west-1\n");
	p = run((char *[]){bin, "store", "init", "--config", (char *)cfg, NULL}, &st);
	if (st != 0)
		fail_msg("store init in eu-west-1: %d:\n%s", st, tail(p));
	EXPECT(p, "dynamodb:gates-eu (eu-west-1): created");
	as_user("bot");
	p = run((char *[]){bin, "--config", (char *)cfg, "--check-config", NULL}, &st);
	assert_int_equal(st, 0);
	EXPECT(p, "Store: dynamodb:gates-eu (eu-west-1): ok");
	cfg = config("init-us", "dynamodb", "  table: gates-eu\n");
	p = run((char *[]){bin, "--config", (char *)cfg, "--check-config", NULL}, &st);
	assert_int_equal(st, 3);
	EXPECT(p, "Store: dynamodb:gates-eu (us-east-1, ");

	/* no AWS credentials: the DynamoDB store cannot open, not even for a
	 * dry run (the store is the bot's state, not a change to AWS) */
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	p = run((char *[]){bin, "--config", (char *)cfg, "--chat", "console", "--dry-run", NULL},
		&st);
	assert_int_equal(st, 1);
	EXPECT(p, "(the DynamoDB store needs AWS, also in a dry run)");

	/* usage errors */
	p = run((char *[]){bin, "store", NULL}, &st);
	assert_int_equal(st, 2);
	EXPECT(p, "which one: init or copy?");
	p = run((char *[]){bin, "store", "init", NULL}, &st);
	assert_int_equal(st, 2);
	p = run((char *[]){bin, "store", "copy", "--from", "x.db", "--to", "dynamodb:t1x",
			   NULL}, &st);
	assert_int_equal(st, 2);
	EXPECT(p, "--from sqlite:PATH is required");
	p = run((char *[]){bin, "store", "--help", NULL}, &st);
	assert_int_equal(st, 0);
	EXPECT(p, "chatops-bot store copy --from sqlite:PATH --to dynamodb:TABLE");
	/* init of a SQLite config is refused */
	cfg = config("sqlite-init", "sqlite", "");
	p = run((char *[]){bin, "store", "init", "--config", (char *)cfg, NULL}, &st);
	assert_int_equal(st, 2);
	EXPECT(p, "not dynamodb");
}

/* The bot on DynamoDB as a user holding exactly the printed policy: it
 * answers, decides and scales, and nothing it does is refused; its audit
 * chain verifies from the table. Without dynamodb:UpdateItem in the policy
 * the decision cannot be written, and the bot says so. */
static void test_bot_on_dynamodb_with_printed_policy(void **state)
{
	const char *cfg;
	struct proc *p = calloc(1, sizeof *p), *q;
	int st;
	(void)state;

	assert_non_null(p);
	unsetenv("AWS_ENDPOINT_URL_DYNAMODB"); /* even when an earlier test failed */
	cfg = config("bot", "dynamodb", "  table: gates-bot\n");
	as_user("init");
	q = run((char *[]){bin, "store", "init", "--config", (char *)cfg, NULL}, &st);
	if (st != 0)
		fail_msg("store init: %s", tail(q));

	as_user("bot");
	spawn(p, (char *[]){bin, "--config", (char *)cfg, "--chat", "console", "--user",
			    "U0ONCALL1", NULL});
	if (!wait_out(p, "Type help for help."))
		fail_msg("no prompt:\n%s", tail(p));
	if (!wait_out(p, "store=dynamodb:gates-bot"))
		fail_msg("not on the table:\n%s", tail(p));
	const char *l1 = "/scale mysecretword-service 3 --timer 10m CPU pegged\n";
	assert_int_equal(write(p->in, l1, strlen(l1)), (ssize_t)strlen(l1));
	if (!wait_out(p, "type: approve #1"))
		fail_msg("no card:\n%s", tail(p));
	assert_int_equal(write(p->in, "as U0APPROVER1\n", 15), 15);
	assert_true(wait_out(p, "you are now @U0APPROVER1"));
	assert_int_equal(write(p->in, "approve #1\n", 11), 11);
	if (!wait_out(p, "Done: desired count set to 3"))
		fail_msg("not done:\n%s", tail(p));
	assert_int_equal(write(p->in, "/gates\n", 7), 7);
	if (!wait_out(p, "#1 mysecretword-service: scale to 3 · SUCCEEDED"))
		fail_msg("no /gates:\n%s", tail(p));
	quit(p);
	assert_null(strstr(p->buf, "AccessDenied"));
	assert_null(strstr(p->buf, "not authorized"));
	assert_null(strstr(p->buf, "level=warn event=aws.error"));
	assert_null(strstr(p->buf, "c4n4ry"));

	q = run((char *[]){bin, "audit", "--config", (char *)cfg, "--verify", NULL}, &st);
	if (st != 0)
		fail_msg("audit --verify: %s", tail(q));
	EXPECT(q, "dynamodb:gates-bot: audit chain intact (");

	/* the same without dynamodb:UpdateItem: no request can be opened
	 * (its transaction moves the gate counter with an Update) */
	as_user("noupdate");
	spawn(p, (char *[]){bin, "--config", (char *)cfg, "--chat", "console", "--user",
			    "U0ONCALL1", NULL});
	assert_true(wait_out(p, "Type help for help."));
	const char *l2 = "/scale mysecretword-service 4 --timer 10m again\n";
	assert_int_equal(write(p->in, l2, strlen(l2)), (ssize_t)strlen(l2));
	if (!wait_out(p, "op=TransactWriteItems region=us-east-1 status=403 code=AccessDenied"))
		fail_msg("no AccessDenied without dynamodb:UpdateItem:\n%s", tail(p));
	assert_int_equal(write(p->in, "quit\n", 5), 5);
	(void)finish(p);
	assert_null(strstr(p->buf, "type: approve #2"));
	free(p);
}

/* A SQLite store the bot made (one request approved, one denied) moved to
 * DynamoDB: the chain verifies before and after, the export is the same
 * event for event, a second copy is refused. */
static void test_store_copy(void **state)
{
	char lines[256], db[160], from[200], *before, *after;
	const char *scfg, *dcfg;
	struct proc *p = calloc(1, sizeof *p), *q;
	int st;
	(void)state;

	assert_non_null(p);
	unsetenv("AWS_ENDPOINT_URL_DYNAMODB"); /* even when an earlier test failed */
	snprintf(db, sizeof db, "%s/copy-src.db", dir);
	snprintf(lines, sizeof lines, "  path: %s\n", db);
	scfg = config("copy-src", "sqlite", lines);
	dcfg = config("copy-dst", "dynamodb", "  table: gates-copy\n");
	as_user("init");
	q = run((char *[]){bin, "store", "init", "--config", (char *)dcfg, NULL}, &st);
	if (st != 0)
		fail_msg("store init: %s", tail(q));

	/* the source: the bot on SQLite, one approved and one denied request */
	as_user("bot");
	spawn(p, (char *[]){bin, "--config", (char *)scfg, "--chat", "console", "--user",
			    "U0ONCALL1", NULL});
	assert_true(wait_out(p, "Type help for help."));
	const char *l1 = "/scale mysecretword-service 5 --timer 10m first\n";
	assert_int_equal(write(p->in, l1, strlen(l1)), (ssize_t)strlen(l1));
	assert_true(wait_out(p, "type: approve #1"));
	assert_int_equal(write(p->in, "as U0APPROVER1\n", 15), 15);
	assert_int_equal(write(p->in, "approve #1\n", 11), 11);
	if (!wait_out(p, "Done: desired count set to 5"))
		fail_msg("not done:\n%s", tail(p));
	assert_int_equal(write(p->in, "as U0ONCALL1\n", 13), 13);
	const char *l2 = "/scale mysecretword-service 6 --timer 10m second\n";
	assert_int_equal(write(p->in, l2, strlen(l2)), (ssize_t)strlen(l2));
	assert_true(wait_out(p, "type: approve #2"));
	assert_int_equal(write(p->in, "as U0APPROVER1\n", 15), 15);
	assert_int_equal(write(p->in, "deny #2\n", 8), 8);
	if (!wait_out(p, "Deny request #2? Nothing will be changed.  Confirm? [y/N]"))
		fail_msg("no confirmation:\n%s", tail(p));
	assert_int_equal(write(p->in, "y\n", 2), 2);
	assert_int_equal(write(p->in, "/gates\n", 7), 7);
	if (!wait_out(p, "#2 mysecretword-service: scale to 6 · DENIED"))
		fail_msg("not denied:\n%s", tail(p));
	quit(p);

	q = run((char *[]){bin, "audit", "--db", db, NULL}, &st);
	assert_int_equal(st, 0);
	before = events_of(q);
	assert_true(strlen(before) > 100);

	/* two records of the alarm intake, as it writes them */
	char ins[1024];
	snprintf(ins, sizeof ins, "python3 -c 'import sqlite3, sys; c = "
		 "sqlite3.connect(sys.argv[1]); c.execute(\"INSERT INTO alarms VALUES "
		 "(\\x27arn:aws:cloudwatch:us-east-1:1:alarm:a\\x27, 3, \\x27{}\\x27, 5), "
		 "(\\x27arn:aws:cloudwatch:us-east-1:1:alarm:b\\x27, 1, \\x27{}\\x27, 6)\"); "
		 "c.commit()' %s", db);
	assert_int_equal(system(ins), 0);

	snprintf(from, sizeof from, "sqlite:%s", db);
	q = run((char *[]){bin, "store", "copy", "--from", from, "--to", "dynamodb:gates-copy",
			   "--config", (char *)dcfg, NULL}, &st);
	if (st != 0)
		fail_msg("store copy: %d:\n%s", st, tail(q));
	EXPECT(q, ": audit chain intact (");
	EXPECT(q, "dynamodb:gates-copy: copied 2 alarm records\n");
	EXPECT(q, "dynamodb:gates-copy: copied 2 gates and ");
	EXPECT(q, "(last gate id 2, chain tail seq ");
	EXPECT(q, "dynamodb:gates-copy: audit chain intact (");

	/* every event as it was: the same export, line for line */
	q = run((char *[]){bin, "audit", "--config", (char *)dcfg, NULL}, &st);
	assert_int_equal(st, 0);
	after = events_of(q);
	if (strcmp(before, after) != 0)
		fail_msg("exports differ:\n--- sqlite\n%.1500s\n--- dynamodb\n%.1500s", before,
			 after);
	free(after);
	q = run((char *[]){bin, "audit", "--config", (char *)dcfg, "--verify", NULL}, &st);
	assert_int_equal(st, 0);

	/* again: refused, nothing written */
	q = run((char *[]){bin, "store", "copy", "--from", from, "--to", "dynamodb:gates-copy",
			   "--config", (char *)dcfg, NULL}, &st);
	assert_int_equal(st, 1);
	EXPECT(q, "already holds gates or audit events; refused, nothing copied");
	q = run((char *[]){bin, "audit", "--config", (char *)dcfg, NULL}, &st);
	assert_int_equal(st, 0);
	after = events_of(q);
	assert_string_equal(before, after);
	free(after);

	/* the bot goes on from the copy: the next request is #3 */
	spawn(p, (char *[]){bin, "--config", (char *)dcfg, "--chat", "console", "--user",
			    "U0ONCALL1", NULL});
	assert_true(wait_out(p, "Type help for help."));
	const char *l3 = "/scale mysecretword-service 7 --timer 10m third\n";
	assert_int_equal(write(p->in, l3, strlen(l3)), (ssize_t)strlen(l3));
	if (!wait_out(p, "type: approve #3"))
		fail_msg("no #3:\n%s", tail(p));
	quit(p);
	q = run((char *[]){bin, "audit", "--config", (char *)dcfg, "--verify", NULL}, &st);
	assert_int_equal(st, 0);

	/* a source whose chain does not verify is refused before anything */
	char bad[120], cmd[1024];
	snprintf(bad, sizeof bad, "%s/tampered.db", dir);
	snprintf(cmd, sizeof cmd, "cp %s %s && python3 -c 'import sqlite3, sys; c = "
		 "sqlite3.connect(sys.argv[1]); c.execute(\"UPDATE audit SET actor = "
		 "\\x27U0EVIL\\x27 WHERE seq = 2\"); c.commit()' %s", db, bad, bad);
	assert_int_equal(system(cmd), 0);
	snprintf(from, sizeof from, "sqlite:%s", bad);
	q = run((char *[]){bin, "store", "copy", "--from", from, "--to", "dynamodb:gates-copy2",
			   "--config", (char *)dcfg, NULL}, &st);
	assert_int_equal(st, 1);
	EXPECT(q, "audit log chain broken at seq 2");
	EXPECT(q, "; nothing copied");
	snprintf(from, sizeof from, "sqlite:%s", db);

	/* a missing target table and a missing source are named */
	q = run((char *[]){bin, "store", "copy", "--from", from, "--to", "dynamodb:gates-none",
			   "--config", (char *)dcfg, NULL}, &st);
	assert_int_equal(st, 1);
	EXPECT(q, "gates-none does not exist");
	free(before);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_and_check),
		cmocka_unit_test(test_bot_on_dynamodb_with_printed_policy),
		cmocka_unit_test(test_store_copy),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
