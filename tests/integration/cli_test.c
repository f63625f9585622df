/* The chatops-bot binary, black-box: options, --check-config, and a console
 * session driven over pipes with SIGHUP (bad file kept out, good file taken)
 * and SIGTERM (clean exit). Secrets given in the environment never appear
 * in anything the program prints. */
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

#define SECRET_BOT "xoxb-1111-2222-cli-test-secret-bot"
#define SECRET_APP "xapp-1-A0-3333-cli-test-secret-app"
#define OUT_MAX (256 * 1024)

struct proc {
	pid_t pid;
	int in, out;        /* our ends: write to its stdin, read its stdout+stderr */
	char buf[OUT_MAX];
	size_t len;
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

/* Read until needle shows up (bounded: 10 s). */
static bool wait_out(struct proc *p, const char *needle)
{
	for (int i = 0; i < 200; i++) {
		if (p->len && strstr(p->buf, needle))
			return true;
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
	struct proc p;
	(void)state;
	assert_int_equal(run((char *[]){bin, "--help", NULL}, &p), 0);
	assert_non_null(strstr(p.buf, "--config FILE"));
	assert_non_null(strstr(p.buf, "--dry-run"));
	assert_int_equal(run((char *[]){bin, "--version", NULL}, &p), 0);
	assert_non_null(strstr(p.buf, "chatops-bot "));
	assert_int_equal(run((char *[]){bin, NULL}, &p), 2);
	assert_non_null(strstr(p.buf, "--config FILE is required"));
	assert_int_equal(run((char *[]){bin, "--config", "x", "--chat", "irc", NULL}, &p), 2);
	assert_non_null(strstr(p.buf, "--chat must be slack or console"));
	assert_int_equal(run((char *[]){bin, "--bogus", NULL}, &p), 2);
}

static void test_check_config(void **state)
{
	struct proc p;
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
}

/* Refused before anything is started, and so before any connection: an
 * http:// Slack API URL off loopback, a group-writable file, a FIFO. */
static void test_check_config_refusals(void **state)
{
	struct proc p;
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
}

static void test_console_session_reload_and_stop(void **state)
{
	struct proc p;
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
	assert_true(wait_out(&p, "You may request changes to: `web`"));

	/* a broken file on SIGHUP: refused, the running config stays */
	write_file(live, "services: [\n");
	kill(p.pid, SIGHUP);
	assert_true(wait_out(&p, "result=kept_old"));
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
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_check_config),
		cmocka_unit_test(test_check_config_refusals),
		cmocka_unit_test(test_console_session_reload_and_stop),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
