/* The chatops-bot binary, black-box: options, --check-config, iam-policy,
 * and a console session driven over pipes with SIGHUP (bad file kept out,
 * good file taken) and SIGTERM (clean exit). Secrets given in the
 * environment never appear in anything the program prints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "commands/commands.h"
#include "tests/fakes/moto.h"

#define SECRET_BOT "xoxb-1111-2222-cli-test-secret-bot"
#define SECRET_APP "xapp-1-A0-3333-cli-test-secret-app"
#define OUT_MAX (64u << 20) /* a child printing more than this fails the test */

struct proc {
	pid_t pid;
	int in, out;        /* our ends: write to its stdin, read its stdout+stderr */
	char *buf;          /* all it printed, NUL-terminated; grows */
	size_t len, cap;
};

static char bin[512], dir[64];

static const char good_yaml[] =
	"slack:\n"
	"  app_token_env: CLI_TEST_APP_TOKEN\n"
	"  bot_token_env: CLI_TEST_BOT_TOKEN\n"
	"defaults:\n"
	"  approvers: [U0APPROVER1]\n"
	"  requesters: [U0ONCALL1]\n"
	"services:\n"
	"  web:\n"
	"    cluster: prod\n"
	"    max_desired: 10\n"
	"store:\n"
	"  path: %s/bot.db\n";

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, 0600), 0); /* whatever the umask: the bot refuses g+w, o+w */
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
	if (!p->buf) {
		p->cap = 64 * 1024;
		p->buf = malloc(p->cap);
		assert_non_null(p->buf);
	}
	p->buf[0] = '\0';
	fcntl(p->out, F_SETFL, O_NONBLOCK);
}

static void pump(struct proc *p, int ms)
{
	struct pollfd pfd = {.fd = p->out, .events = POLLIN};
	if (poll(&pfd, 1, ms) <= 0)
		return;
	for (;;) {
		if (p->cap - p->len < 4096) {
			if (p->cap >= OUT_MAX)
				fail_msg("the child printed more than %u MiB", OUT_MAX >> 20);
			p->cap *= 2;
			p->buf = realloc(p->buf, p->cap);
			assert_non_null(p->buf);
		}
		ssize_t n = read(p->out, p->buf + p->len, p->cap - 1 - p->len);
		if (n <= 0)
			break;
		p->len += (size_t)n;
	}
	p->buf[p->len] = '\0';
}

static void proc_free(struct proc *p)
{
	free(p->buf);
	p->buf = NULL;
}

/* Read until needle shows up (bounded: 20 s). */
static bool wait_out(struct proc *p, const char *needle)
{
	/* bounded by time, not by reads: a chatty child (debug logs) wakes
	 * the poll many times a second */
	struct timespec now, end;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += 20;
	for (;;) {
		if (p->len && strstr(p->buf, needle))
			return true;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
			break;
		pump(p, 50);
	}
	return strstr(p->buf, needle) != NULL;
}

static int finish(struct proc *p)
{
	int st = 0;
	/* bounded: 10 s. (Once the child closed its output, poll returns at
	 * once, so sleep between looks.) */
	for (int i = 0; i < 1000; i++) {
		pump(p, 10);
		usleep(10000);
		pid_t r = waitpid(p->pid, &st, WNOHANG);
		if (r == p->pid) {
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

static int run(char *const argv[], struct proc *p)
{
	spawn(p, argv);
	return finish(p);
}

static void no_secrets(const struct proc *p)
{
	assert_null(strstr(p->buf, SECRET_BOT));
	assert_null(strstr(p->buf, SECRET_APP));
	assert_null(strstr(p->buf, "cli-test-secret"));
}

static int setup(void **state)
{
	const char *root = getenv("CHATOPS_BUILD_ROOT");
	char path[128], yaml[1024];
	(void)state;
	/* a runner may have left SIGCHLD ignored; then children are reaped
	 * behind our back and waitpid() cannot report their status */
	signal(SIGCHLD, SIG_DFL);
	assert_non_null(root);
	snprintf(bin, sizeof bin, "%s/chatops-bot", root);
	snprintf(dir, sizeof dir, "/tmp/cli-test-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(yaml, sizeof yaml, good_yaml, dir);
	snprintf(path, sizeof path, "%s/good.yaml", dir);
	write_file(path, yaml);
	snprintf(path, sizeof path, "%s/bad.yaml", dir);
	write_file(path, "services:\n  web:\n    cluster: prod\n    max_desired: ten\n    colour: blue\n");
	/* no AWS here: no keys, no profile, no metadata service to probe */
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_PROFILE");
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent", 1);
	setenv("CLI_TEST_BOT_TOKEN", SECRET_BOT, 1);
	setenv("CLI_TEST_APP_TOKEN", SECRET_APP, 1);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}

static void test_options(void **state)
{
	struct proc p = {0};
	(void)state;
	assert_int_equal(run((char *[]){bin, "--help", NULL}, &p), 0);
	assert_non_null(strstr(p.buf, "--config FILE"));
	assert_non_null(strstr(p.buf, "--dry-run"));
	/* the chat commands, from the same table as /chatops help */
	for (size_t i = 0; i < cmd_table_len; i++) {
		assert_non_null(strstr(p.buf, cmd_table[i].usage));
		assert_non_null(strstr(p.buf, cmd_table[i].summary));
	}
	/* restart and rollback, and the key that allows them */
	assert_non_null(strstr(p.buf, "/restart <service> [--timer 10m|PT10M] [reason...]"));
	assert_non_null(strstr(p.buf, "/rollback <service> [--to REVISION] [--timer 10m|PT10M] "
				     "[reason...]"));
	assert_non_null(strstr(p.buf, "whose actions: (config) allows them"));
	assert_int_equal(run((char *[]){bin, "--version", NULL}, &p), 0);
	assert_non_null(strstr(p.buf, "chatops-bot "));
	assert_int_equal(run((char *[]){bin, NULL}, &p), 2);
	assert_non_null(strstr(p.buf, "--config FILE is required"));
	assert_int_equal(run((char *[]){bin, "--config", "x", "--chat", "irc", NULL}, &p), 2);
	assert_non_null(strstr(p.buf, "--chat must be slack or console"));
	assert_int_equal(run((char *[]){bin, "--bogus", NULL}, &p), 2);
	proc_free(&p);
}

static void test_check_config(void **state)
{
	struct proc p = {0};
	char good[128], bad[128];
	(void)state;
	snprintf(good, sizeof good, "%s/good.yaml", dir);
	snprintf(bad, sizeof bad, "%s/bad.yaml", dir);
	/* a valid file, but no AWS to confirm the services with: 3, and why
	 * (the moto end-to-end test checks the 0 case against real services) */
	assert_int_equal(run((char *[]){bin, "--config", good, "--check-config", NULL}, &p), 3);
	assert_non_null(strstr(p.buf, "configuration is valid (1 service: web)"));
	assert_non_null(strstr(p.buf, "AWS: services not checked: no AWS credentials"));
	no_secrets(&p);
	assert_int_equal(run((char *[]){bin, "--config", bad, "--check-config", NULL}, &p), 2);
	/* each problem with its position */
	assert_non_null(strstr(p.buf, "bad.yaml:4:18:"));
	assert_non_null(strstr(p.buf, "bad.yaml:5:5:"));
	assert_non_null(strstr(p.buf, "colour"));
	no_secrets(&p);
	proc_free(&p);
}

/* stdout of a shell command line (stderr dropped) into out; its exit status. */
static int run_stdout(const char *cmd, char *out, size_t n)
{
	FILE *f = popen(cmd, "r");
	size_t got;
	int st;

	assert_non_null(f);
	got = fread(out, 1, n - 1, f);
	out[got] = '\0';
	st = pclose(f);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static const char iam_yaml[] =
	"slack:\n"
	"  app_token_env: CLI_TEST_APP_TOKEN\n"
	"  bot_token_env: CLI_TEST_BOT_TOKEN\n"
	"aws:\n"
	"  region: eu-west-1\n"
	"%s"
	"defaults:\n"
	"  approvers: [U0APPROVER1]\n"
	"  requesters: [U0ONCALL1]\n"
	"services:\n"
	"  web:\n"
	"    cluster: prod\n"
	"    max_desired: 10\n"
	"    sns_topic_arn: arn:aws:sns:eu-west-1:210987654321:owners\n"
	"  api:\n"
	"    cluster: prod\n"
	"    max_desired: 10\n";

/* chatops-bot iam-policy: the policy on stdout as JSON, the same bytes each
 * time; the account from --account or aws.role_arn; without either and
 * without AWS credentials, exit 3 asking for --account. */
static void test_iam_policy(void **state)
{
	static char out[64 * 1024], again[64 * 1024];
	char path[128], role_path[128], yaml[2048], cmd[1024];
	struct proc p = {0};
	json_error_t je;
	(void)state;

	snprintf(path, sizeof path, "%s/iam.yaml", dir);
	snprintf(yaml, sizeof yaml, iam_yaml, "");
	write_file(path, yaml);
	snprintf(role_path, sizeof role_path, "%s/iam-role.yaml", dir);
	snprintf(yaml, sizeof yaml, iam_yaml, "  role_arn: arn:aws:iam::210987654321:role/chatops\n");
	write_file(role_path, yaml);

	assert_int_equal(run((char *[]){bin, "--help", NULL}, &p), 0);
	assert_non_null(strstr(p.buf, "chatops-bot iam-policy --config FILE"));
	assert_int_equal(run((char *[]){bin, "iam-policy", "--help", NULL}, &p), 0);
	assert_non_null(strstr(p.buf, "--account ID"));

	snprintf(cmd, sizeof cmd, "%s iam-policy --config %s --account 210987654321 2>/dev/null", bin,
		 path);
	assert_int_equal(run_stdout(cmd, out, sizeof out), 0);
	json_t *doc = json_loads(out, 0, &je);
	if (!doc)
		fail_msg("not JSON (%s): %s", je.text, out);
	assert_int_equal(json_array_size(json_object_get(doc, "Statement")), 5);
	json_decref(doc);
	assert_non_null(strstr(out, "\"arn:aws:ecs:eu-west-1:210987654321:service/prod/api\",\n"
				    "        \"arn:aws:ecs:eu-west-1:210987654321:service/prod/web\"\n"));
	assert_non_null(strstr(out, "\"arn:aws:sns:eu-west-1:210987654321:owners\""));
	assert_null(strstr(out, "sts:AssumeRole"));
	assert_int_equal(run_stdout(cmd, again, sizeof again), 0);
	assert_string_equal(out, again);

	/* the account of aws.role_arn, said on stderr */
	assert_int_equal(run((char *[]){bin, "iam-policy", "--config", role_path, NULL}, &p), 0);
	assert_non_null(strstr(p.buf, "account 210987654321, from aws.role_arn"));
	assert_non_null(strstr(p.buf, "\"arn:aws:iam::210987654321:role/chatops\""));
	no_secrets(&p);

	/* no account anywhere and no AWS credentials to ask STS with */
	assert_int_equal(run((char *[]){bin, "iam-policy", "--config", path, NULL}, &p), 3);
	assert_non_null(strstr(p.buf, "cannot learn the AWS account"));
	assert_non_null(strstr(p.buf, "--account ID"));
	no_secrets(&p);

	/* usage and configuration errors: 2, as elsewhere */
	assert_int_equal(run((char *[]){bin, "iam-policy", "--config", path, "--account", "12", NULL},
			     &p), 2);
	assert_non_null(strstr(p.buf, "--account must be 12 digits"));
	assert_int_equal(run((char *[]){bin, "iam-policy", NULL}, &p), 2);
	snprintf(path, sizeof path, "%s/bad.yaml", dir);
	assert_int_equal(run((char *[]){bin, "iam-policy", "--config", path, "--account", "*", NULL},
			     &p), 2);
	assert_non_null(strstr(p.buf, "bad.yaml:4:18:"));
	proc_free(&p);
}

/* Refused before anything is started, and so before any connection: an
 * http:// Slack API URL off loopback, a group-writable file, a FIFO. */
static void test_check_config_refusals(void **state)
{
	struct proc p = {0};
	char good[128], fifo[128];
	(void)state;
	snprintf(good, sizeof good, "%s/good.yaml", dir);
	setenv("SLACK_API_URL", "http://203.0.113.7/api", 1);
	assert_int_equal(run((char *[]){bin, "--config", good, "--check-config", NULL}, &p), 2);
	assert_non_null(strstr(p.buf, "environment variable SLACK_API_URL: http:// (no TLS) is "
			       "allowed to loopback hosts only; use https://"));
	unsetenv("SLACK_API_URL");

	assert_int_equal(chmod(good, 0620), 0);
	assert_int_equal(run((char *[]){bin, "--config", good, "--check-config", NULL}, &p), 2);
	assert_non_null(strstr(p.buf, "good.yaml: the file is group-writable (mode 0620), so "
			       "others could change it; run chmod go-w "));
	assert_int_equal(chmod(good, 0600), 0);

	snprintf(fifo, sizeof fifo, "%s/fifo.yaml", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(run((char *[]){bin, "--config", fifo, "--check-config", NULL}, &p), 2);
	assert_non_null(strstr(p.buf, "fifo.yaml: not a regular file (it is a FIFO)"));
	no_secrets(&p);
	proc_free(&p);
}

static void test_console_session_reload_and_stop(void **state)
{
	struct proc p = {0};
	char good[128], live[128], yaml[1024];
	(void)state;
	snprintf(good, sizeof good, "%s/good.yaml", dir);
	snprintf(live, sizeof live, "%s/live.yaml", dir);
	snprintf(yaml, sizeof yaml, good_yaml, dir);
	write_file(live, yaml);

	/* without AWS credentials the bot refuses to start for real... */
	assert_int_equal(run((char *[]){bin, "--config", live, "--chat", "console", NULL}, &p), 1);
	assert_non_null(strstr(p.buf, "chatops-bot: AWS: no AWS credentials"));
	no_secrets(&p);

	/* ...and a dry run starts anyway, saying reads will fail */
	spawn(&p, (char *[]){bin, "--config", live, "--chat", "console", "--dry-run", NULL});
	assert_true(wait_out(&p, "event=start"));
	assert_non_null(strstr(p.buf, "result=unavailable mode=dry-run"));
	assert_int_equal(write(p.in, "/chatops help\n", 14), 14);
	assert_true(wait_out(&p, "You may request changes to: web\n"));
	/* a read with no AWS behind the dry run fails, told, and the bot
	 * serves on (it crashed here once: the budget check had no backend) */
	assert_int_equal(write(p.in, "/investigate web\n", 17), 17);
	assert_true(wait_out(&p, "Could not read web from AWS"));
	assert_int_equal(write(p.in, "alarm web-cpu-high\n", 19), 19);
	assert_true(wait_out(&p, "no service has alarm web-cpu-high"));

	/* a broken file on SIGHUP: refused, the running config stays */
	write_file(live, "services: [\n");
	kill(p.pid, SIGHUP);
	assert_true(wait_out(&p, "result=kept_old"));
	assert_non_null(strstr(p.buf, "reload refused, the previous configuration stays in force"));
	assert_null(strstr(p.buf, "nothing was started"));
	assert_int_equal(write(p.in, "/chatops\n", 9), 9);
	assert_true(wait_out(&p, "event=command name=/chatops"));

	/* a good one: taken */
	write_file(live, yaml);
	kill(p.pid, SIGHUP);
	assert_true(wait_out(&p, "event=config.reload result=ok services=1"));

	kill(p.pid, SIGTERM);
	assert_int_equal(finish(&p), 0);
	assert_non_null(strstr(p.buf, "event=stop result=clean"));
	no_secrets(&p);
	proc_free(&p);
}

/* The README's demo lines (between its demo-session markers), one each,
 * without the code block's indent; returns how many. */
static size_t readme_demo_lines(char lines[][128], size_t max)
{
	char path[512], buf[512];
	bool in = false;
	size_t n = 0;
	snprintf(path, sizeof path, "%s/README.md", getenv("CHATOPS_SOURCE_ROOT"));
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(buf, sizeof buf, f)) {
		buf[strcspn(buf, "\n")] = '\0';
		if (strstr(buf, "<!-- demo-session:begin -->"))
			in = true;
		else if (strstr(buf, "<!-- demo-session:end -->"))
			in = false;
		else if (in && strncmp(buf, "    ", 4) == 0 && n < max)
			snprintf(lines[n++], sizeof lines[0], "%.120s", buf + 4);
	}
	fclose(f);
	return n;
}

/* What each kind of README line must lead to on the console. A line the
 * table does not know fails the test, so README and test change together.
 * nth: the effect of the nth identical line (0: any); the same words can
 * lead to different things, as a first and a second approval do. */
static const char *demo_effect(const char *line, int nth, char *buf, size_t n)
{
	static const struct { const char *prefix, *effect; int nth; } table[] = {
		{"alarm mysecretword-service-cpu-high ok",
		 "Meanwhile: request #1 to scale to 100 (SUCCEEDED)", 0},
		{"alarm ", "ALARM: mysecretword-service-cpu-high", 0},
		{"/investigate ", "Investigation: mysecretword-service", 0},
		{"/scale ", "[ Approve ]  type: approve #1", 0},
		{"approve #1", "Done: desired count set to 100 (was 1)", 0},
		{"/gates", "#1 mysecretword-service: scale to 100 · SUCCEEDED · asked by @U0ONCALL1",
		 0},
		{"/rollback ", "from mysecretword-task:2 to mysecretword-task:1. Image of "
		 "mysecretword-app: nginx:1.27 → nginx:1.25", 0},
		{"approve #2", "Your approval of request #2 was counted (1 of 2 needed)", 1},
		{"approve #2", "Done: task definition set to mysecretword-task:1 (was "
		 "mysecretword-task:2)", 2},
	};
	if (strncmp(line, "as ", 3) == 0) {
		snprintf(buf, n, "you are now @%s", line + 3);
		return buf;
	}
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (strncmp(line, table[i].prefix, strlen(table[i].prefix)) == 0 &&
		    (!table[i].nth || table[i].nth == nth))
			return table[i].effect;
	return NULL;
}

/* README's demo session works exactly as printed: the bot with the example
 * config and the console chat, against moto seeded like the lab (as
 * scripts/demo does). */
static void test_readme_demo_session(void **state)
{
	char lines[16][128], cfg[512], db[128], msg[512];
	struct moto *moto = NULL;
	struct proc *p = calloc(1, sizeof *p);
	size_t n = readme_demo_lines(lines, 16);
	(void)state;
	assert_non_null(p);
	assert_true(n >= 5);
	if (moto_start(&(struct moto_opts){.no_auth = true}, &moto, msg, sizeof msg) != 0)
		fail_msg("%s", msg);
	snprintf(cfg, sizeof cfg, "%s/config/example.yaml", getenv("CHATOPS_SOURCE_ROOT"));
	snprintf(db, sizeof db, "%s/demo.db", dir);
	setenv("CHATOPS_DB", db, 1);
	setenv("AWS_ENDPOINT_URL", moto_url(moto), 1);
	setenv("AWS_ACCESS_KEY_ID", "demo", 1);
	/* canaries (moto here does not check them): at debug level, no line
	 * the bot prints may hold them */
	setenv("AWS_SECRET_ACCESS_KEY", "c4n4ry-aws-secret-key/XyZ+0123", 1);
	setenv("AWS_SESSION_TOKEN", "c4n4ry-aws-session-token//FwoGZXIvYXdzE", 1);
	setenv("AWS_REGION", "us-east-1", 1);

	spawn(p, (char *[]){bin, "--config", cfg, "--chat", "console", "--log-level", "debug", NULL});
	assert_true(wait_out(p, "Type help for help."));
	for (size_t i = 0; i < n; i++) {
		char as[160];
		int nth = 1;
		for (size_t k = 0; k < i; k++)
			nth += strcmp(lines[k], lines[i]) == 0;
		const char *effect = demo_effect(lines[i], nth, as, sizeof as);
		size_t len = strlen(lines[i]);
		if (!effect)
			fail_msg("README demo line '%s' has no expected effect in this test", lines[i]);
		assert_int_equal(write(p->in, lines[i], len), (ssize_t)len);
		assert_int_equal(write(p->in, "\n", 1), 1);
		if (!wait_out(p, effect)) {
			/* cmocka cuts long messages: the bot's output goes first */
			fprintf(stderr, "%s\n", p->buf);
			fail_msg("after '%s': no '%s' in the output above", lines[i], effect);
		}
	}
	assert_null(strstr(p->buf, "has no \""));
	assert_null(strstr(p->buf, "with buttons"));
	/* the console prints plain text: no Slack markup reached it */
	assert_null(strstr(p->buf, "<@"));
	assert_null(strstr(p->buf, "<!date"));
	assert_null(strstr(p->buf, "*Done:*"));
	assert_null(strstr(p->buf, "*Verdict:*"));
	assert_null(strstr(p->buf, "`"));
	assert_null(strstr(p->buf, "&lt;"));
	assert_null(strstr(p->buf, "&amp;"));
	assert_int_equal(write(p->in, "quit\n", 5), 5);
	assert_int_equal(finish(p), 0);
	assert_non_null(strstr(p->buf, "event=aws.ok")); /* debug lines were there */
	assert_null(strstr(p->buf, "c4n4ry"));

	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("CHATOPS_DB");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_REGION");
	moto_stop(moto);
	proc_free(p);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_check_config),
		cmocka_unit_test(test_iam_policy),
		cmocka_unit_test(test_check_config_refusals),
		cmocka_unit_test(test_console_session_reload_and_stop),
		cmocka_unit_test(test_readme_demo_session),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
