/* ledger.c - start, read and stop the AWS ledger proxy (see ledger.h). */
#include "tests/fakes/ledger.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 20000

struct ledger {
	pid_t pid;
	char url[64];
	char dir[64];
	char path[128];
};

static struct ledger *live[4];

static void msgf(char *msg, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void msgf(char *msg, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, n, fmt, ap);
	va_end(ap);
}

static void stop_all(void)
{
	for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
		if (live[i])
			ledger_stop(live[i]);
}

/* Read the proxy's "PORT <n>" line (bounded). */
static int read_port(int fd)
{
	char buf[64];
	size_t len = 0;
	int waited = 0;

	while (waited < START_TIMEOUT_MS && len + 1 < sizeof buf) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 100) <= 0) {
			waited += 100;
			continue;
		}
		ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
		if (r <= 0)
			return -1;
		len += (size_t)r;
		buf[len] = '\0';
		char *nl = strchr(buf, '\n');
		if (nl) {
			int port = 0;
			return sscanf(buf, "PORT %d", &port) == 1 && port > 0 ? port : -1;
		}
	}
	return -1;
}

int ledger_start(const char *upstream, struct ledger **out, char *msg, size_t n)
{
	return ledger_start_opts(upstream, NULL, out, msg, n);
}

int ledger_start_opts(const char *upstream, const struct ledger_opts *o, struct ledger **out,
		      char *msg, size_t n)
{
	const char *root = getenv("CHATOPS_SOURCE_ROOT");
	char script[512], latency[16];
	struct ledger *l;
	int pfd[2], port;
	static bool registered;

	*out = NULL;
	if (!root) {
		msgf(msg, n, "CHATOPS_SOURCE_ROOT is not set (run the tests with meson test)");
		return -1;
	}
	snprintf(script, sizeof script, "%s/tests/fakes/aws_ledger_proxy.py", root);
	snprintf(latency, sizeof latency, "%d", o && o->latency_ms > 0 ? o->latency_ms : 0);
	l = calloc(1, sizeof *l);
	if (!l || pipe(pfd) != 0) {
		free(l);
		msgf(msg, n, "out of memory or pipes");
		return -1;
	}
	snprintf(l->dir, sizeof l->dir, "/tmp/ledger-XXXXXX");
	if (!mkdtemp(l->dir)) {
		msgf(msg, n, "mkdtemp: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		free(l);
		return -1;
	}
	snprintf(l->path, sizeof l->path, "%s/ledger.jsonl", l->dir);
	l->pid = fork();
	if (l->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		execlp("python3", "python3", script, "--upstream", upstream, "--ledger", l->path,
		       "--latency-ms", latency, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	port = l->pid > 0 ? read_port(pfd[0]) : -1;
	close(pfd[0]);
	if (port < 0) {
		msgf(msg, n, "the ledger proxy (%s) did not start; python3 is needed", script);
		ledger_stop(l);
		return -1;
	}
	snprintf(l->url, sizeof l->url, "http://127.0.0.1:%d", port);
	for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
		if (!live[i]) {
			live[i] = l;
			break;
		}
	if (!registered) {
		registered = true;
		atexit(stop_all);
	}
	*out = l;
	return 0;
}

void ledger_stop(struct ledger *l)
{
	char cmd[128];

	if (!l)
		return;
	for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
		if (live[i] == l)
			live[i] = NULL;
	if (l->pid > 0) {
		kill(l->pid, SIGKILL);
		(void)waitpid(l->pid, NULL, 0);
	}
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", l->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "ledger: could not remove %s\n", l->dir);
	free(l);
}

const char *ledger_url(const struct ledger *l)
{
	return l->url;
}

const char *ledger_path(const struct ledger *l)
{
	return l->path;
}

static bool ends_with(const char *s, const char *tail)
{
	size_t a = strlen(s), b = strlen(tail);
	return a > b && s[a - b - 1] == '.' && strcmp(s + a - b, tail) == 0;
}

/* Does record j's field match (see ledger_count_with)? */
static bool field_matches(json_t *j, const char *field, const char *value)
{
	json_t *v = field ? json_object_get(j, field) : NULL;

	if (!field)
		return true;
	if (value)
		return json_is_string(v) && strcmp(json_string_value(v), value) == 0;
	return v && !json_is_null(v) && !json_is_false(v);
}

int ledger_count(const struct ledger *l, const char *op, const char *service, int status)
{
	return ledger_count_with(l, op, service, status, NULL, NULL);
}

int ledger_count_with(const struct ledger *l, const char *op, const char *service, int status,
		      const char *field, const char *value)
{
	FILE *f = fopen(l->path, "r");
	char line[1024];
	int n = 0;

	if (!f)
		return errno == ENOENT ? 0 : -1;
	while (fgets(line, sizeof line, f)) {
		json_t *j = json_loads(line, 0, NULL);
		const char *target = json_string_value(json_object_get(j, "target"));
		const char *svc = json_string_value(json_object_get(j, "service"));
		int st = (int)json_integer_value(json_object_get(j, "status"));
		if (j && target && (!op || ends_with(target, op)) &&
		    (!service || (svc && strcmp(svc, service) == 0)) && (!status || st == status) &&
		    field_matches(j, field, value))
			n++;
		json_decref(j);
	}
	fclose(f);
	return n;
}

static size_t keep(char *p, size_t s, size_t n, void *ud)
{
	char *buf = ud;
	size_t len = strlen(buf), add = s * n;

	if (len + add >= 32)
		return 0;
	memcpy(buf + len, p, add);
	buf[len + add] = '\0';
	return add;
}

/* Open client connections besides ours, or -1 when the proxy did not answer. */
static int connections(const struct ledger *l)
{
	CURL *e = curl_easy_init();
	char url[128], body[32] = "";
	long status = 0;
	int n = -1;

	if (!e)
		return -1;
	snprintf(url, sizeof url, "%s/_ledger/connections", l->url);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)body);
	if (curl_easy_perform(e) != CURLE_OK ||
	    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200 ||
	    sscanf(body, "%d", &n) != 1)
		n = -1;
	curl_easy_cleanup(e);
	return n;
}

static long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int ledger_wait_idle(const struct ledger *l, int timeout_ms)
{
	struct timespec nap = {0, 2 * 1000 * 1000};
	long end = mono_ms() + timeout_ms;

	for (;;) {
		int n = connections(l);
		if (n == 0)
			return 0;
		if (n < 0 || mono_ms() >= end)
			return -1;
		nanosleep(&nap, NULL);
	}
}
