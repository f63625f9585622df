/* moto.c - start, seed and stop a moto_server (see moto.h). */
#include "tests/fakes/moto.h"
#include "tests/fakes/proc.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 45000 /* two cores shared with two other builds */
#define SEED_TIMEOUT_MS  90000
#define STOP_GRACE_MS    3000

struct moto {
	bool single;    /* served single-threaded (moto-single.py) */
	pid_t pid;
	int port;
	char url[64];
	char dir[256];
	json_t *iam;    /* --iam output */
	json_t *seed;   /* seed stdout */
};

static struct moto *live[4]; /* for the atexit safety net */

static void msgf(char *msg, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void msgf(char *msg, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, n, fmt, ap);
	va_end(ap);
}

static int free_port(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static bool on_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (!path)
		return false;
	while (*path) {
		const char *c = strchr(path, ':');
		size_t l = c ? (size_t)(c - path) : strlen(path);
		snprintf(buf, sizeof buf, "%.*s/%s", (int)l, path, prog);
		if (access(buf, X_OK) == 0)
			return true;
		path += l;
		if (*path == ':')
			path++;
	}
	return false;
}

static void kill_and_reap(pid_t pid)
{
	if (pid <= 0)
		return;
	(void)kill(pid, SIGTERM);
	if (proc_wait(pid, STOP_GRACE_MS, 20) == -1) {
		(void)kill(pid, SIGKILL);
		(void)proc_wait(pid, STOP_GRACE_MS, 20);
	}
}

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
	struct { char *p; size_t n; } *b = ud;
	char *np = realloc(b->p, b->n + s * n + 1);
	if (!np)
		return 0;
	memcpy(np + b->n, p, s * n);
	b->n += s * n;
	np[b->n] = '\0';
	b->p = np;
	return s * n;
}

/* A blocking request; returns the HTTP status (0 when none) and the body. */
static long request(const char *url, const char *method, const char *body, char **out)
{
	CURL *e = curl_easy_init();
	struct curl_slist *h = NULL;
	struct { char *p; size_t n; } b = { NULL, 0 };
	long status = 0;

	if (!e)
		return 0;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)&b);
	if (body) {
		/* text/plain: with a form type Flask leaves the body empty (notes §8.1) */
		h = curl_slist_append(h, "Content-Type: text/plain");
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	}
	if (method)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	if (curl_easy_perform(e) == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(e);
	if (out)
		*out = b.p;
	else
		free(b.p);
	return status;
}

static void tail_file(const char *path, char *msg, size_t n)
{
	FILE *f = fopen(path, "r");
	char buf[1024] = "";
	size_t r = 0;

	if (f) {
		if (fseek(f, -(long)(sizeof buf - 1), SEEK_END) != 0)
			rewind(f);
		r = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
	}
	buf[r] = '\0';
	size_t l = strlen(msg);
	if (l < n)
		snprintf(msg + l, n - l, "\n--- %s (tail) ---\n%s", path, buf);
}

static void rm_dir(const char *dir)
{
	char cmd[600];
	if (!dir[0] || strncmp(dir, "/tmp/", 5) != 0 || strstr(dir, ".."))
		return;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "moto: could not remove %s\n", dir);
}

void moto_stop(struct moto *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
		if (live[i] == m)
			live[i] = NULL;
	kill_and_reap(m->pid);
	m->pid = 0;
	if (getenv("CHATOPS_KEEP_MOTO_LOG"))
		fprintf(stderr, "moto: log kept in %s\n", m->dir);
	else
		rm_dir(m->dir);
	json_decref(m->iam);
	json_decref(m->seed);
	free(m);
}

static void stop_all(void)
{
	for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
		if (live[i])
			moto_stop(live[i]);
}

static int start_server(struct moto *m, char *msg, size_t n)
{
	char log[320], port[16];

	for (int tries = 0; tries < 3; tries++) {
		m->port = free_port();
		if (m->port <= 0) {
			msgf(msg, n, "no free loopback port");
			return -1;
		}
		snprintf(port, sizeof port, "%d", m->port);
		snprintf(m->url, sizeof m->url, "http://127.0.0.1:%d", m->port);
		snprintf(log, sizeof log, "%s/moto.log", m->dir);
		char single[512];
		const char *src = getenv("CHATOPS_SOURCE_ROOT");
		snprintf(single, sizeof single, "%s/tests/fakes/moto-single.py", src ? src : ".");
		char *argv[] = { "moto_server", "-H", "127.0.0.1", "-p", port, NULL };
		char *argv1[] = { "python3", single, "127.0.0.1", port, NULL };
		m->pid = proc_spawn(m->single ? argv1 : argv, log, 0);
		if (m->pid < 0) {
			msgf(msg, n, "fork: %s", strerror(errno));
			return -1;
		}
		long end = proc_now_ms() + START_TIMEOUT_MS;
		char url[128];
		snprintf(url, sizeof url, "%s/moto-api/", m->url);
		while (proc_now_ms() < end) {
			int st;
			if (waitpid(m->pid, &st, WNOHANG) == m->pid) {
				m->pid = 0;
				break; /* died: maybe the port was taken; try another */
			}
			if (request(url, NULL, NULL, NULL) == 200)
				return 0;
			proc_sleep_ms(100);
		}
		if (m->pid) {
			kill_and_reap(m->pid);
			m->pid = 0;
			msgf(msg, n, "moto_server did not answer on %s within %d ms", m->url,
			     START_TIMEOUT_MS);
			tail_file(log, msg, n);
			return -1;
		}
	}
	msgf(msg, n, "moto_server exited at start three times");
	tail_file(log, msg, n);
	return -1;
}

static int run_script(struct moto *m, char *const argv[], const char *out_path, char *msg, size_t n)
{
	pid_t pid = proc_spawn(argv, out_path, 0);
	int st;

	if (pid < 0) {
		msgf(msg, n, "fork: %s", strerror(errno));
		return -1;
	}
	st = proc_wait(pid, SEED_TIMEOUT_MS, 20);
	if (st == -1) {
		kill_and_reap(pid);
		msgf(msg, n, "%s timed out", argv[1]);
		tail_file(out_path, msg, n);
		return -1;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		msgf(msg, n, "%s failed (status %d); is boto3 installed for python3?", argv[1], st);
		tail_file(out_path, msg, n);
		return -1;
	}
	(void)m;
	return 0;
}

static int seed(struct moto *m, char *msg, size_t n)
{
	const char *src = getenv("CHATOPS_SOURCE_ROOT");
	char script[512], extra[512], iam[320], out[320], out2[320];
	json_error_t je;

	if (!src)
		src = ".";
	snprintf(script, sizeof script, "%s/scripts/moto-seed.py", src);
	snprintf(extra, sizeof extra, "%s/tests/fakes/moto-seed-extra.py", src);
	snprintf(iam, sizeof iam, "%s/iam.json", m->dir);
	snprintf(out, sizeof out, "%s/seed.json", m->dir);
	snprintf(out2, sizeof out2, "%s/seed-extra.log", m->dir);
	char *argv1[] = { "python3", script, m->url, "--iam", iam, NULL };
	if (run_script(m, argv1, out, msg, n))
		return -1;
	char *argv2[] = { "python3", extra, m->url, NULL };
	if (run_script(m, argv2, out2, msg, n))
		return -1;
	m->iam = json_load_file(iam, 0, &je);
	m->seed = json_load_file(out, 0, &je);
	if (!m->iam || !m->seed) {
		msgf(msg, n, "seed output unreadable: %s", je.text);
		return -1;
	}
	return 0;
}

int moto_start(const struct moto_opts *o, struct moto **out, char *msg, size_t n)
{
	static const struct moto_opts none = {0};
	static bool registered;
	struct moto *m;

	*out = NULL;
	if (n)
		msg[0] = '\0';
	if (!o)
		o = &none;
	if (!on_path("moto_server")) {
		msgf(msg, n, "moto_server is not on PATH. The AWS integration tests need it: "
		     "run ./scripts/install-moto (a pinned moto in a venv under ~/.cache, "
		     "which the tests find), or install it with `pip install 'moto[server]' "
		     "boto3` and put moto_server on PATH, then run the tests again.");
		return -1;
	}
	if (!registered) {
		atexit(stop_all);
		registered = true;
	}
	m = calloc(1, sizeof *m);
	if (!m) {
		msgf(msg, n, "out of memory");
		return -1;
	}
	m->single = o && o->single_threaded;
	snprintf(m->dir, sizeof m->dir, "/tmp/chatops-moto.XXXXXX");
	if (!mkdtemp(m->dir)) {
		msgf(msg, n, "mkdtemp: %s", strerror(errno));
		m->dir[0] = '\0';
		moto_stop(m);
		return -1;
	}
	for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
		if (!live[i]) {
			live[i] = m;
			break;
		}
	if (start_server(m, msg, n) || (!o->no_seed && seed(m, msg, n)) ||
	    (!o->no_auth && moto_reset_auth(m, "0"))) {
		if (!msg[0])
			msgf(msg, n, "could not enable auth on moto");
		moto_stop(m);
		return -1;
	}
	*out = m;
	return 0;
}

const char *moto_url(const struct moto *m) { return m->url; }
int moto_port(const struct moto *m) { return m->port; }
int moto_pid(const struct moto *m) { return (int)m->pid; }

const char *moto_key(const struct moto *m, const char *who, const char *field)
{
	return json_string_value(json_object_get(json_object_get(m->iam, who), field));
}

const char *moto_role_arn(const struct moto *m)
{
	return json_string_value(json_object_get(m->iam, "role_arn"));
}

const char *moto_topic_arn(const struct moto *m)
{
	return json_string_value(json_object_get(m->seed, "topic_arn"));
}

/* ---- IAM users holding a printed policy ----------------------------------- */

/* True for actions moto checks against the resource "*" only. */
static bool resource_blind(const char *action)
{
	return strncmp(action, "ecs:", 4) == 0 || strncmp(action, "cloudwatch:", 11) == 0 ||
	       strncmp(action, "sns:", 4) == 0 || strncmp(action, "dynamodb:", 9) == 0;
}

/* moto authorises a DynamoDB transaction by its API name
 * (dynamodb:TransactWriteItems), AWS by each action it contains: a
 * statement allowing every action a transaction of the store may hold
 * allows the transaction in moto too. */
static int transactions_for_moto(json_t *actions)
{
	static const char *const writes[] = {
		"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
		"dynamodb:ConditionCheckItem",
	};
	bool get = false;
	size_t n_writes = 0, i;
	json_t *a;

	json_array_foreach(actions, i, a) {
		const char *s = json_string_value(a);
		get |= strcmp(s, "dynamodb:GetItem") == 0;
		for (size_t w = 0; w < sizeof writes / sizeof *writes; w++)
			n_writes += strcmp(s, writes[w]) == 0;
	}
	if (n_writes == sizeof writes / sizeof *writes &&
	    json_array_append_new(actions, json_string("dynamodb:TransactWriteItems")))
		return -1;
	if (get && json_array_append_new(actions, json_string("dynamodb:TransactGetItems")))
		return -1;
	return 0;
}

static int statement_for_moto(json_t *st)
{
	json_t *actions = json_object_get(st, "Action");
	bool blind = false, ddb = false;
	size_t i;
	json_t *a;

	if (!json_is_array(actions))
		return -1;
	json_array_foreach(actions, i, a) {
		const char *s = json_string_value(a);
		char buf[128];
		if (!s)
			return -1;
		blind |= resource_blind(s);
		ddb |= strncmp(s, "dynamodb:", 9) == 0;
		if (strncmp(s, "cloudwatch:", 11) == 0) {
			snprintf(buf, sizeof buf, "monitoring:%s", s + 11);
			if (json_array_set_new(actions, i, json_string(buf)))
				return -1;
		}
	}
	if (ddb && transactions_for_moto(actions))
		return -1;
	if (blind && json_object_set_new(st, "Resource", json_string("*")))
		return -1;
	return 0;
}

char *moto_policy_for_moto(const char *aws_policy)
{
	json_error_t je;
	json_t *doc = json_loads(aws_policy, 0, &je);
	json_t *stmts = json_object_get(doc, "Statement"), *st;
	char *out = NULL;
	size_t i;

	if (!json_is_array(stmts))
		goto out;
	json_array_foreach(stmts, i, st)
		if (statement_for_moto(st))
			goto out;
	out = json_dumps(doc, JSON_INDENT(2));
out:
	json_decref(doc);
	return out;
}

static int write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int rc = 0;

	if (!f)
		return -1;
	if (fputs(text, f) < 0)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

int moto_iam_user(struct moto *m, const char *who, const char *user, const char *policy,
		  char *msg, size_t n)
{
	const char *src = getenv("CHATOPS_SOURCE_ROOT");
	char script[512], pol[320], out[320];
	json_error_t je;
	json_t *keys = NULL;
	int rc = -1;

	snprintf(script, sizeof script, "%s/tests/fakes/moto-iam-user.py", src ? src : ".");
	snprintf(pol, sizeof pol, "%s/%s.policy.json", m->dir, user);
	snprintf(out, sizeof out, "%s/%s.keys.json", m->dir, user);
	if (write_text(pol, policy)) {
		msgf(msg, n, "cannot write %s: %s", pol, strerror(errno));
		return -1;
	}
	if (moto_reset_auth(m, "inf")) {
		msgf(msg, n, "could not turn moto's IAM checks off");
		return -1;
	}
	char *argv[] = { "python3", script, m->url, (char *)user, pol, NULL };
	rc = run_script(m, argv, out, msg, n);
	if (moto_reset_auth(m, "0")) {
		msgf(msg, n, "could not turn moto's IAM checks back on");
		rc = -1;
	}
	if (rc)
		goto out;
	keys = json_load_file(out, 0, &je);
	if (!json_is_object(keys)) {
		msgf(msg, n, "%s: unreadable keys: %s", out, keys ? "not an object" : je.text);
		rc = -1;
		goto out;
	}
	if (json_object_set(m->iam, who, keys)) {
		msgf(msg, n, "no seeded IAM data to add %s to", who);
		rc = -1;
	}
out:
	json_decref(keys);
	return rc;
}

int moto_script(struct moto *m, const char *script, const char *const *args, size_t n_args,
		char *out, size_t out_n, char *msg, size_t n)
{
	const char *src = getenv("CHATOPS_SOURCE_ROOT");
	char path[512], out_path[320];
	char *argv[16];
	size_t k = 0;
	int rc;
	FILE *f;

	if (n_args > 12) {
		msgf(msg, n, "moto_script: too many arguments");
		return -1;
	}
	snprintf(path, sizeof path, "%s/tests/fakes/%s", src ? src : ".", script);
	snprintf(out_path, sizeof out_path, "%s/script.out", m->dir);
	argv[k++] = "python3";
	argv[k++] = path;
	argv[k++] = m->url;
	for (size_t i = 0; i < n_args; i++)
		argv[k++] = (char *)args[i];
	argv[k] = NULL;
	if (moto_reset_auth(m, "inf")) {
		msgf(msg, n, "could not turn moto's IAM checks off");
		return -1;
	}
	rc = run_script(m, argv, out_path, msg, n);
	if (moto_reset_auth(m, "0")) {
		msgf(msg, n, "could not turn moto's IAM checks back on");
		rc = -1;
	}
	if (out && out_n) {
		out[0] = '\0';
		if ((f = fopen(out_path, "r"))) {
			size_t got = fread(out, 1, out_n - 1, f);
			out[got] = '\0';
			fclose(f);
		}
	}
	return rc;
}

int moto_reset_auth(struct moto *m, const char *count)
{
	char url[128];
	snprintf(url, sizeof url, "%s/moto-api/reset-auth", m->url);
	return request(url, "POST", count, NULL) == 200 ? 0 : -1;
}

char *moto_get(struct moto *m, const char *path)
{
	char url[512], *body = NULL;
	snprintf(url, sizeof url, "%s%s", m->url, path);
	if (request(url, NULL, NULL, &body) != 200) {
		free(body);
		return NULL;
	}
	return body;
}
