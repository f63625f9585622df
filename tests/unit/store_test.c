/* The gate store: schema, refusal of foreign/newer files (untouched),
 * conditional transitions, approvals, delivery, dedup, nesting. Uses a real
 * SQLite file in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bot/domain/store.h"

struct fixture {
	char dir[64];
	char path[128];
	int64_t now; /* fake wall clock */
	struct store *s;
};

static int64_t fake_clock(void *ud)
{
	return ((struct fixture *)ud)->now;
}

static void rm_db(const char *path)
{
	char p[160];
	unlink(path);
	snprintf(p, sizeof p, "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", path);
	unlink(p);
	snprintf(p, sizeof p, "%s-journal", path);
	unlink(p);
}

static int open_store(struct fixture *f, struct bot_error *err)
{
	struct store_opts o = {.path = f->path, .clock = fake_clock, .clock_ud = f};
	return store_open(&o, &f->s, err);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	assert_non_null(f);
	snprintf(f->dir, sizeof f->dir, "/tmp/store_test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/gates.db", f->dir);
	f->now = 1700000000000;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_close(f->s);
	rm_db(f->path);
	char other[160];
	snprintf(other, sizeof other, "%s/other.db", f->dir);
	rm_db(other);
	rmdir(f->dir);
	free(f);
	return 0;
}

static const char *const approvers[] = {"UAPPROVER1", "UAPPROVER2"};

static void fill_gate(struct store_gate *g)
{
	memset(g, 0, sizeof *g);
	g->service = "web";
	g->cluster = "prod";
	g->ecs_service = "web-svc";
	g->requester = "UREQ";
	g->target = 5;
	g->desired_at_request = 1;
	g->reason = "high cpu";
	g->timer_ms = 600000;
	g->approvers = (char **)approvers; /* read-only use by insert */
	g->n_approvers = 2;
	g->min_approvals = 1;
	g->channel = "COPS";
	g->evidence = "CPU 97% for 10 min";
}

static uint64_t insert(struct fixture *f)
{
	struct store_gate g;
	struct bot_error err = {0};
	fill_gate(&g);
	assert_int_equal(store_gate_insert(f->s, &g, &err), 0);
	assert_true(g.id > 0);
	return g.id;
}

static int count_rows(struct fixture *f, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int n = -1;
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void test_open_creates_schema(void **state)
{
	struct fixture *f = *state;
	struct bot_error err = {0};
	sqlite3 *db;
	sqlite3_stmt *st;

	assert_int_equal(open_store(f, &err), 0);
	assert_int_equal(store_schema_version(f->s), STORE_SCHEMA_VERSION);
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);
	assert_int_equal(count_rows(f, "PRAGMA user_version"), STORE_SCHEMA_VERSION);

	/* reopening an up-to-date store changes nothing */
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(open_store(f, &err), 0);
	assert_int_equal(store_schema_version(f->s), STORE_SCHEMA_VERSION);
}

static mode_t file_mode(const char *path, const char *suffix)
{
	char p[160];
	struct stat st;

	snprintf(p, sizeof p, "%s%s", path, suffix);
	if (stat(p, &st) != 0)
		fail_msg("%s: %s", p, strerror(errno));
	return st.st_mode & 07777;
}

/* The store and its -wal and -shm files are the bot's user's only (0600),
 * whatever the umask: they hold every request, approval and audit record. */
static void test_files_are_private(void **state)
{
	struct fixture *f = *state;
	struct bot_error err = {0};
	mode_t old = umask(022);

	assert_int_equal(open_store(f, &err), 0);
	insert(f); /* a write: the -wal and -shm files exist while it is open */
	assert_int_equal(file_mode(f->path, ""), 0600);
	assert_int_equal(file_mode(f->path, "-wal"), 0600);
	assert_int_equal(file_mode(f->path, "-shm"), 0600);
	umask(old);
}

static void test_insert_get_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct bot_error err = {0};
	struct store_gate g = {0};

	assert_int_equal(open_store(f, &err), 0);
	uint64_t id = insert(f);
	assert_int_equal(store_gate_get(f->s, id, &g, &err), 0);
	assert_string_equal(g.service, "web");
	assert_string_equal(g.ecs_service, "web-svc");
	assert_string_equal(g.requester, "UREQ");
	assert_int_equal(g.target, 5);
	assert_int_equal(g.desired_at_request, 1);
	assert_int_equal(g.n_approvers, 2);
	assert_string_equal(g.approvers[1], "UAPPROVER2");
	assert_string_equal(g.evidence, "CPU 97% for 10 min");
	assert_int_equal(g.state, GATE_PENDING);
	assert_int_equal(g.decision, GATE_PENDING);
	assert_int_equal(g.created_at, f->now);
	assert_int_equal(g.delivered_at, 0);
	assert_int_equal(g.deadline, 0);
	assert_null(g.decided_by);
	store_gate_clear(&g);
	assert_int_equal(store_gate_get(f->s, id + 100, &g, &err), BOT_ENOTFOUND);
	/* the request is audited with the evidence the approvers saw */
	assert_int_equal(count_rows(f, "SELECT COUNT(*) FROM audit WHERE kind='requested' AND "
				       "detail LIKE '%CPU 97%'"), 1);
}

static void test_change_is_conditional(void **state)
{
	struct fixture *f = *state;
	struct bot_error err = {0};
	struct store_gate g = {0};
	bool won = false;

	assert_int_equal(open_store(f, &err), 0);
	uint64_t id = insert(f);
	f->now += 1000;
	struct store_change deny = {
		.gate_id = id, .from = GATE_PENDING, .to = GATE_DENIED, .actor = "UAPPROVER1",
		.decided_by = "UAPPROVER1", .detail = "{\"n\":1}",
	};
	assert_int_equal(store_gate_change(f->s, &deny, &won, &err), 0);
	assert_true(won);
	int audits = count_rows(f, "SELECT COUNT(*) FROM audit");

	/* the timer comes second: nothing is written */
	struct store_change timer = {
		.gate_id = id, .from = GATE_PENDING, .to = GATE_APPROVED_BY_TIMER, .actor = "timer",
	};
	assert_int_equal(store_gate_change(f->s, &timer, &won, &err), 0);
	assert_false(won);
	assert_int_equal(count_rows(f, "SELECT COUNT(*) FROM audit"), audits);

	assert_int_equal(store_gate_get(f->s, id, &g, &err), 0);
	assert_int_equal(g.state, GATE_DENIED);
	assert_int_equal(g.decision, GATE_DENIED);
	assert_string_equal(g.decided_by, "UAPPROVER1");
	assert_int_equal(g.decided_at, f->now);
	assert_int_equal(g.finished_at, f->now);
	store_gate_clear(&g);

	/* not an edge of the state machine */
	struct store_change bad = {
		.gate_id = id, .from = GATE_DENIED, .to = GATE_EXECUTING, .actor = "system",
	};
	assert_int_equal(store_gate_change(f->s, &bad, &won, &err), BOT_EINVAL);
	assert_false(store_transition_allowed(GATE_PENDING, GATE_EXECUTING));
	assert_true(store_transition_allowed(GATE_APPROVED_BY_TIMER, GATE_EXECUTING));
	assert_int_equal(count_rows(f, "SELECT COUNT(*) FROM audit WHERE kind='denied' AND "
				       "from_state='PENDING' AND to_state='DENIED'"), 1);
}

static void test_execution_columns(void **state)
{
	struct fixture *f = *state;
	struct bot_error err = {0};
	struct store_gate g = {0};
	bool won;

	assert_int_equal(open_store(f, &err), 0);
	uint64_t id = insert(f);
	struct store_change c1 = {.gate_id = id, .from = GATE_PENDING,
				  .to = GATE_APPROVED_BY_TIMER, .actor = "timer"};
	assert_int_equal(store_gate_change(f->s, &c1, &won, &err), 0);
	assert_true(won);
	struct store_change c2 = {.gate_id = id, .from = GATE_APPROVED_BY_TIMER,
				  .to = GATE_EXECUTING, .actor = "system",
				  .exec_intent = "{\"desiredCount\":5}", .set_exec_from = true,
				  .exec_from = 1};
	assert_int_equal(store_gate_change(f->s, &c2, &won, &err), 0);
	struct store_change c3 = {.gate_id = id, .from = GATE_EXECUTING, .to = GATE_FAILED,
				  .actor = "system", .result_kind = "aws_error",
				  .aws_code = "AccessDeniedException", .aws_request_id = "req-1"};
	assert_int_equal(store_gate_change(f->s, &c3, &won, &err), 0);
	assert_int_equal(store_gate_get(f->s, id, &g, &err), 0);
	assert_int_equal(g.state, GATE_FAILED);
	assert_int_equal(g.decision, GATE_APPROVED_BY_TIMER);
	assert_null(g.decided_by); /* the timer is not a person */
	assert_string_equal(g.exec_intent, "{\"desiredCount\":5}");
	assert_int_equal(g.exec_from, 1);
	assert_string_equal(g.aws_code, "AccessDeniedException");
	assert_string_equal(g.aws_request_id, "req-1");
	store_gate_clear(&g);
}

static void test_approvals_distinct(void **state)
{
	struct fixture *f = *state;
	struct bot_error err = {0};
	struct store_gate g = {0};
	bool added;
	int n = 0;

	assert_int_equal(open_store(f, &err), 0);
	uint64_t id = insert(f);
	assert_int_equal(store_approval_add(f->s, id, "UAPPROVER1", &added, &n, &err), 0);
	assert_true(added);
	assert_int_equal(n, 1);
	assert_int_equal(store_approval_add(f->s, id, "UAPPROVER1", &added, &n, &err), 0);
	assert_false(added);
	assert_int_equal(n, 1);
	assert_int_equal(store_approval_add(f->s, id, "UAPPROVER2", &added, &n, &err), 0);
	assert_true(added);
	assert_int_equal(n, 2);
	assert_int_equal(store_gate_get(f->s, id, &g, &err), 0);
	assert_int_equal(g.n_approved, 2);
	assert_string_equal(g.approved_by[0], "UAPPROVER1");
	store_gate_clear(&g);
}

static void test_delivered_arms_once(void **state)
{
	struct fixture *f = *state;
	struct bot_error err = {0};
	struct store_gate g = {0};
	bool armed;

	assert_int_equal(open_store(f, &err), 0);
	uint64_t id = insert(f);
	f->now += 250;
	assert_int_equal(store_gate_delivered(f->s, id, "COPS", "1700.1", &armed, &err), 0);
	assert_true(armed);
	assert_int_equal(store_gate_get(f->s, id, &g, &err), 0);
	assert_int_equal(g.delivered_at, f->now);
	assert_int_equal(g.deadline, f->now + 600000);
	assert_string_equal(g.message_ts, "1700.1");
	store_gate_clear(&g);
	f->now += 10;
	assert_int_equal(store_gate_delivered(f->s, id, "COPS", "1700.2", &armed, &err), 0);
	assert_false(armed);
	assert_int_equal(store_gate_get(f->s, id, &g, &err), 0);
	assert_string_equal(g.message_ts, "1700.1");
	assert_int_equal(g.deadline, f->now - 10 + 600000);
	store_gate_clear(&g);

	/* decided before the post was confirmed: ts recorded, no deadline */
	uint64_t id2 = insert(f);
	struct store_change c = {.gate_id = id2, .from = GATE_PENDING, .to = GATE_CANCELLED,
				 .actor = "UREQ", .decided_by = "UREQ"};
	bool won;
	assert_int_equal(store_gate_change(f->s, &c, &won, &err), 0);
	assert_int_equal(store_gate_delivered(f->s, id2, "COPS", "1700.3", &armed, &err), 0);
	assert_false(armed);
	assert_int_equal(store_gate_get(f->s, id2, &g, &err), 0);
	assert_string_equal(g.message_ts, "1700.3");
	assert_int_equal(g.deadline, 0);
	store_gate_clear(&g);
}

static void test_list_by_state(void **state)
{
	struct fixture *f = *state;
	struct bot_error err = {0};
	struct store_gate *v;
	size_t n;
	bool won;

	assert_int_equal(open_store(f, &err), 0);
	uint64_t a = insert(f), b = insert(f), c = insert(f);
	struct store_change ch = {.gate_id = b, .from = GATE_PENDING, .to = GATE_DENIED,
				  .actor = "UAPPROVER1"};
	assert_int_equal(store_gate_change(f->s, &ch, &won, &err), 0);
	assert_int_equal(store_gate_list(f->s, GATE_LIVE_MASK, &v, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].id, a);
	assert_int_equal(v[1].id, c);
	store_gate_array_free(v, n);
	assert_int_equal(store_gate_list(f->s, GATE_STATE_BIT(GATE_DENIED), &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].id, b);
	store_gate_array_free(v, n);
}

static void test_nested_rollback(void **state)
{
	struct fixture *f = *state;
	struct bot_error err = {0};
	struct store_gate g = {0};

	assert_int_equal(open_store(f, &err), 0);
	assert_int_equal(store_begin(f->s, &err), 0);
	uint64_t id = insert(f); /* nested: a savepoint */
	store_rollback(f->s);
	assert_int_equal(store_gate_get(f->s, id, &g, &err), BOT_ENOTFOUND);
	assert_int_equal(count_rows(f, "SELECT COUNT(*) FROM audit"), 0);
	assert_int_equal(store_begin(f->s, &err), 0);
	id = insert(f);
	assert_int_equal(store_commit(f->s, &err), 0);
	assert_int_equal(store_gate_get(f->s, id, &g, &err), 0);
	store_gate_clear(&g);
}

static void test_seen_and_purge(void **state)
{
	struct fixture *f = *state;
	struct bot_error err = {0};
	bool seen;
	int n = -1;

	assert_int_equal(open_store(f, &err), 0);
	assert_int_equal(store_seen_event(f->s, "Ev1", &seen, &err), 0);
	assert_false(seen);
	assert_int_equal(store_seen_event(f->s, "Ev1", &seen, &err), 0);
	assert_true(seen);
	f->now += 10 * 60 * 1000; /* 10 minutes: still remembered */
	assert_int_equal(store_seen_event(f->s, "Ev1", &seen, &err), 0);
	assert_true(seen);
	assert_int_equal(store_seen_event(f->s, "Ev2", &seen, &err), 0);
	assert_false(seen);
	f->now += 6 * 60 * 1000; /* Ev1 is now 16 min old: purged on the next call */
	assert_int_equal(store_seen_event(f->s, "Ev3", &seen, &err), 0);
	assert_false(seen);
	assert_int_equal(count_rows(f, "SELECT COUNT(*) FROM processed_ids"), 2);
	assert_int_equal(store_seen_event(f->s, "Ev1", &seen, &err), 0);
	assert_false(seen);
	assert_int_equal(store_purge_events(f->s, f->now + 1, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(store_seen_event(f->s, "", &seen, &err), BOT_EINVAL);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	*len = (size_t)ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc(*len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, *len, fp), *len);
	fclose(fp);
	return buf;
}

static void assert_untouched(const char *path, const char *before, size_t len)
{
	size_t len2;
	char *after = slurp(path, &len2);
	char p[160];
	assert_int_equal(len2, len);
	assert_memory_equal(after, before, len);
	free(after);
	snprintf(p, sizeof p, "%s-wal", path);
	assert_int_not_equal(access(p, F_OK), 0);
	snprintf(p, sizeof p, "%s-shm", path);
	assert_int_not_equal(access(p, F_OK), 0);
}

static void test_newer_version_refused(void **state)
{
	struct fixture *f = *state;
	struct bot_error err = {0};
	sqlite3 *db;
	char *before;
	size_t len;

	/* a store written by a future bot (rollback journal, clean) */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE gates(id INTEGER PRIMARY KEY, x TEXT);"
				      "INSERT INTO gates(x) VALUES ('future');"
				      "PRAGMA user_version = 7;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	before = slurp(f->path, &len);
	assert_int_equal(open_store(f, &err), BOT_EVERSION);
	assert_null(f->s);
	assert_non_null(strstr(err.msg, "database schema v7 is newer than this bot (v1); "
				       "refusing to touch it"));
	assert_untouched(f->path, before, len);
	free(before);
}

static void test_garbage_refused(void **state)
{
	struct fixture *f = *state;
	struct bot_error err = {0};
	char garbage[4096];
	char *before;
	size_t len;
	FILE *fp = fopen(f->path, "wb");

	for (size_t i = 0; i < sizeof garbage; i++)
		garbage[i] = (char)(i * 7 + 3);
	memcpy(garbage, "this is not sqlite", 18);
	assert_int_equal(fwrite(garbage, 1, sizeof garbage, fp), sizeof garbage);
	fclose(fp);
	before = slurp(f->path, &len);
	assert_int_equal(open_store(f, &err), BOT_ECORRUPT);
	assert_null(f->s);
	assert_non_null(strstr(err.msg, "is not a usable SQLite database"));
	assert_non_null(strstr(err.msg, "it was not modified"));
	assert_untouched(f->path, before, len);
	free(before);
}

static void test_damaged_refused(void **state)
{
	struct fixture *f = *state;
	struct bot_error err = {0};
	char *before;
	size_t len;

	assert_int_equal(open_store(f, &err), 0);
	for (int i = 0; i < 200; i++)
		insert(f);
	store_close(f->s); /* checkpoints: everything is in the main file */
	f->s = NULL;
	/* smash the middle pages, keep the header valid */
	FILE *fp = fopen(f->path, "r+b");
	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	long size = ftell(fp);
	assert_true(size > 4 * 4096);
	fseek(fp, 2 * 4096, SEEK_SET);
	for (int i = 0; i < 2 * 4096; i++)
		fputc(0xA5, fp);
	fclose(fp);
	before = slurp(f->path, &len);
	assert_int_equal(open_store(f, &err), BOT_ECORRUPT);
	assert_non_null(strstr(err.msg, "it was not modified"));
	assert_untouched(f->path, before, len);
	free(before);
}

static void test_read_only(void **state)
{
	struct fixture *f = *state;
	struct bot_error err = {0};
	struct store *ro = NULL;
	char other[160];

	snprintf(other, sizeof other, "%s/other.db", f->dir);
	struct store_opts o = {.path = other, .read_only = true};
	assert_int_equal(store_open(&o, &ro, &err), BOT_ENOTFOUND);
	assert_int_not_equal(access(other, F_OK), 0); /* not created */
	assert_int_equal(open_store(f, &err), 0);
	insert(f);
	o.path = f->path;
	assert_int_equal(store_open(&o, &ro, &err), 0);
	assert_int_equal(store_begin(ro, &err), BOT_EPERM);
	store_close(ro);
}

static void test_state_names(void **state)
{
	enum gate_state s;
	(void)state;
	for (int i = 0; i < GATE_STATE_COUNT; i++) {
		assert_int_equal(store_state_parse(store_state_name((enum gate_state)i), &s), 0);
		assert_int_equal(s, i);
	}
	assert_int_equal(store_state_parse("APPROVED_BY_PERSON", &s), BOT_EPARSE);
	assert_string_equal(store_state_name(GATE_APPROVED_BY_TIMER), "APPROVED_BY_TIMER");
	assert_true(store_state_final(GATE_DENIED));
	assert_false(store_state_final(GATE_EXECUTING));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_creates_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_files_are_private, setup, teardown),
		cmocka_unit_test_setup_teardown(test_insert_get_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_change_is_conditional, setup, teardown),
		cmocka_unit_test_setup_teardown(test_execution_columns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_approvals_distinct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delivered_arms_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_by_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nested_rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seen_and_purge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_version_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
		cmocka_unit_test(test_state_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
