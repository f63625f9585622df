/* The SQLite store backend's own duties: schema and migrations (v1 -> v2
 * keeps a v1 store working, legacy duplicates included; v2 -> v3 adds the
 * alarm records and keeps the gates), private files,
 * refusal of foreign/newer/damaged files (untouched), read-only opening.
 * What every backend must do is the conformance suite's
 * (tests/store_conformance). Uses a real SQLite file in a temp directory. */
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

#include "adapters/store.h"
#include "adapters/store/sqlite.h"

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
	struct store_sqlite_opts o = {.path = f->path, .clock = fake_clock, .clock_ud = f};
	return store_sqlite_open(&o, &f->s, err);
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

/* A new gate, each on a service of its own. */
static uint64_t insert(struct fixture *f)
{
	static unsigned n;
	struct store_gate g;
	struct bot_error err = {0};
	enum store_result res;
	uint64_t holder;
	char svc[32];

	fill_gate(&g);
	snprintf(svc, sizeof svc, "web-%u", n++);
	g.ecs_service = svc;
	assert_int_equal(store_gate_open(f->s, &g, &res, &holder, &err), 0);
	assert_int_equal(res, STORE_DONE);
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
	assert_int_equal(store_sqlite_schema_version(f->s), STORE_SQLITE_SCHEMA_VERSION);
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	sqlite3_close(db);
	assert_int_equal(count_rows(f, "PRAGMA user_version"), STORE_SQLITE_SCHEMA_VERSION);

	/* reopening an up-to-date store changes nothing */
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(open_store(f, &err), 0);
	assert_int_equal(store_sqlite_schema_version(f->s), STORE_SQLITE_SCHEMA_VERSION);
}

/* What a v1 bot wrote (schema v1, as shipped), with two live gates for one
 * ECS service: v1 allowed that for two names of one service. */
static const char v1_schema[] =
	"CREATE TABLE gates (id INTEGER PRIMARY KEY, service TEXT NOT NULL, cluster TEXT NOT NULL,"
	" ecs_service TEXT NOT NULL, requester TEXT NOT NULL, target INTEGER NOT NULL,"
	" desired_at_request INTEGER NOT NULL, reason TEXT NOT NULL DEFAULT '',"
	" timer_ms INTEGER NOT NULL, approvers TEXT NOT NULL,"
	" min_approvals INTEGER NOT NULL DEFAULT 1, allow_self INTEGER NOT NULL DEFAULT 0,"
	" force_new_deployment INTEGER NOT NULL DEFAULT 0, channel TEXT, message_ts TEXT,"
	" evidence TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL, delivered_at INTEGER,"
	" deadline INTEGER, state TEXT NOT NULL, decision TEXT, decided_by TEXT,"
	" decided_at INTEGER, decision_detail TEXT, exec_intent TEXT, exec_from INTEGER,"
	" exec_started_at INTEGER, result_kind TEXT, result_detail TEXT, aws_code TEXT,"
	" aws_request_id TEXT, finished_at INTEGER, updated_at INTEGER NOT NULL);"
	"CREATE TABLE approvals (gate_id INTEGER NOT NULL REFERENCES gates(id),"
	" user TEXT NOT NULL, at INTEGER NOT NULL, UNIQUE (gate_id, user));"
	"CREATE TABLE audit (seq INTEGER PRIMARY KEY, gate_id INTEGER, at INTEGER NOT NULL,"
	" actor TEXT NOT NULL, kind TEXT NOT NULL, from_state TEXT, to_state TEXT,"
	" detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
	"CREATE TABLE processed_ids (id TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;"
	"INSERT INTO gates (service, cluster, ecs_service, requester, target, desired_at_request,"
	" timer_ms, approvers, created_at, state, decision, updated_at) VALUES"
	" ('web', 'prod', 'web-svc', 'UREQ', 5, 1, 60000, '[\"UA\"]', 1, 'PENDING', NULL, 1),"
	" ('web2', 'prod', 'web-svc', 'UREQ', 6, 1, 60000, '[\"UA\"]', 2, 'APPROVED', 'APPROVED', 2),"
	" ('api', 'prod', 'api-svc', 'UREQ', 2, 1, 60000, '[\"UA\"]', 3, 'DENIED', 'DENIED', 3);"
	"PRAGMA user_version = 1;";

static enum store_result to_state(struct fixture *f, uint64_t id, enum gate_state from,
				  enum gate_state to)
{
	struct store_change c = {.gate_id = id, .from = from, .to = to, .actor = "system"};
	struct bot_error err = {0};
	enum store_result res;
	assert_int_equal(store_gate_change(f->s, &c, &res, &err), 0);
	return res;
}

/* v1 -> v2: every gate becomes a scale gate; the oldest live gate of each
 * service holds it, so a legacy duplicate waits for it instead of running
 * at the same time; a new request for the service is refused. */
static void test_migration_from_v1(void **state)
{
	struct fixture *f = *state;
	struct bot_error err = {0};
	struct store_gate g = {0};
	enum store_result res;
	uint64_t holder = 0;
	sqlite3 *db;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, v1_schema, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(open_store(f, &err), 0);
	assert_int_equal(store_sqlite_schema_version(f->s), STORE_SQLITE_SCHEMA_VERSION);
	assert_int_equal(store_gate_get(f->s, 2, &g, &err), 0);
	assert_string_equal(g.action, STORE_ACTION_SCALE);
	assert_string_equal(g.params, "{}");
	assert_int_equal(g.version, 1);
	assert_int_equal(g.target, 6);
	store_gate_clear(&g);
	assert_int_equal(count_rows(f, "SELECT gate_id FROM service_locks WHERE "
				       "ecs_service='web-svc'"), 1);
	assert_int_equal(count_rows(f, "SELECT COUNT(*) FROM service_locks"), 1);

	fill_gate(&g);
	assert_int_equal(store_gate_open(f->s, &g, &res, &holder, &err), 0);
	assert_int_equal(res, STORE_BUSY);
	assert_int_equal(holder, 1);
	/* the duplicate may not act while #1 is live */
	assert_int_equal(to_state(f, 2, GATE_APPROVED, GATE_EXECUTING), STORE_BUSY);
	assert_int_equal(count_rows(f, "SELECT COUNT(*) FROM audit"), 0);
	assert_int_equal(to_state(f, 1, GATE_PENDING, GATE_FAILED), STORE_DONE);
	assert_int_equal(to_state(f, 2, GATE_APPROVED, GATE_EXECUTING), STORE_DONE);
	assert_int_equal(count_rows(f, "SELECT gate_id FROM service_locks WHERE "
				       "ecs_service='web-svc'"), 2);
	assert_int_equal(to_state(f, 2, GATE_EXECUTING, GATE_SUCCEEDED), STORE_DONE);
	assert_int_equal(count_rows(f, "SELECT COUNT(*) FROM service_locks"), 0);
}

/* What a v2 bot wrote: v2 as shipped (v1 plus its migration), one live
 * gate holding its service, one audit event. */
static const char v2_upgrade[] =
	"ALTER TABLE gates ADD COLUMN action TEXT NOT NULL DEFAULT 'scale';"
	"ALTER TABLE gates ADD COLUMN params TEXT NOT NULL DEFAULT '{}';"
	"ALTER TABLE gates ADD COLUMN version INTEGER NOT NULL DEFAULT 1;"
	"ALTER TABLE gates ADD COLUMN exec_owner TEXT;"
	"ALTER TABLE gates ADD COLUMN exec_lease_until INTEGER;"
	"CREATE TABLE service_locks (cluster TEXT NOT NULL, ecs_service TEXT NOT NULL,"
	" gate_id INTEGER NOT NULL, PRIMARY KEY (cluster, ecs_service)) WITHOUT ROWID;"
	"CREATE INDEX service_locks_gate ON service_locks(gate_id);"
	"DELETE FROM gates WHERE id = 2;"
	"INSERT INTO service_locks (cluster, ecs_service, gate_id) VALUES ('prod', 'web-svc', 1);"
	"UPDATE gates SET version = 4 WHERE id = 1;"
	"INSERT INTO audit (seq, gate_id, at, actor, kind, detail, prev_hash, hash) VALUES"
	" (1, 1, 1, 'UREQ', 'requested', '{}', 'genesis', 'h1');"
	"PRAGMA user_version = 2;";

/* v2 -> v3: the gates, their locks and the audit stay as they were; alarm
 * records can be written and read; reopening migrates nothing more. */
static void test_migration_from_v2(void **state)
{
	struct fixture *f = *state;
	struct bot_error err = {0};
	struct store_gate g = {0};
	struct store_alarm a = {0};
	enum store_result res;
	uint64_t holder = 0;
	sqlite3 *db;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, v1_schema, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, v2_upgrade, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(count_rows(f, "SELECT COUNT(*) FROM sqlite_master WHERE name='alarms'"),
			 0);
	assert_int_equal(open_store(f, &err), 0);
	assert_int_equal(store_sqlite_schema_version(f->s), 3);
	assert_int_equal(count_rows(f, "PRAGMA user_version"), 3);
	assert_int_equal(store_gate_get(f->s, 1, &g, &err), 0);
	assert_int_equal(g.version, 4);
	assert_int_equal(g.state, GATE_PENDING);
	store_gate_clear(&g);
	assert_int_equal(count_rows(f, "SELECT COUNT(*) FROM audit"), 1);
	fill_gate(&g);
	assert_int_equal(store_gate_open(f->s, &g, &res, &holder, &err), 0);
	assert_int_equal(res, STORE_BUSY);
	assert_int_equal(holder, 1);

	assert_int_equal(store_alarm_get(f->s, "arn:aws:cloudwatch:us-east-1:1:alarm:cpu", &a,
					 &err), 0);
	assert_int_equal(a.version, 0);
	assert_null(a.body);
	assert_int_equal(store_alarm_put(f->s, "arn:aws:cloudwatch:us-east-1:1:alarm:cpu", 0,
					 "{\"state\":\"ALARM\"}", &res, &a, &err), 0);
	assert_int_equal(res, STORE_DONE);
	assert_int_equal(a.version, 1);
	store_alarm_clear(&a);
	assert_int_equal(count_rows(f, "SELECT version FROM alarms"), 1);

	store_close(f->s);
	f->s = NULL;
	assert_int_equal(open_store(f, &err), 0);
	assert_int_equal(store_alarm_get(f->s, "arn:aws:cloudwatch:us-east-1:1:alarm:cpu", &a,
					 &err), 0);
	assert_int_equal(a.version, 1);
	assert_string_equal(a.body, "{\"state\":\"ALARM\"}");
	assert_int_equal(a.updated_at, f->now);
	store_alarm_clear(&a);
}

struct alarm_walk {
	size_t n;
	char keys[4][64];
	uint64_t versions[4];
	int stop_at; /* return 7 at this record (1-based; 0 = never) */
};

static int walk_alarm(void *ud, const struct store_alarm *a)
{
	struct alarm_walk *w = ud;
	if (w->n < 4) {
		snprintf(w->keys[w->n], sizeof w->keys[w->n], "%s", a->key);
		w->versions[w->n] = a->version;
	}
	w->n++;
	assert_non_null(a->body);
	return (int)w->n == w->stop_at ? 7 : 0;
}

/* store copy's walk: every record in key order; a read-only store from
 * before v3 (not migrated) has none; fn's code stops it. */
static void test_alarm_each(void **state)
{
	struct fixture *f = *state;
	struct bot_error err = {0};
	struct alarm_walk w = {0};
	enum store_result res;
	struct store *ro = NULL;
	sqlite3 *db;
	char other[160];

	assert_int_equal(open_store(f, &err), 0);
	assert_int_equal(store_alarm_put(f->s, "arn:b", 0, "{}", &res, NULL, &err), 0);
	assert_int_equal(store_alarm_put(f->s, "arn:a", 0, "{}", &res, NULL, &err), 0);
	assert_int_equal(store_alarm_put(f->s, "arn:a", 1, "{\"x\":1}", &res, NULL, &err), 0);
	assert_int_equal(res, STORE_DONE);
	assert_int_equal(store_sqlite_alarm_each(f->s, walk_alarm, &w, &err), 0);
	assert_int_equal(w.n, 2);
	assert_string_equal(w.keys[0], "arn:a");
	assert_int_equal(w.versions[0], 2);
	assert_string_equal(w.keys[1], "arn:b");
	assert_int_equal(w.versions[1], 1);
	memset(&w, 0, sizeof w);
	w.stop_at = 1;
	assert_int_equal(store_sqlite_alarm_each(f->s, walk_alarm, &w, &err), 7);
	assert_int_equal(w.n, 1);

	snprintf(other, sizeof other, "%s/other.db", f->dir);
	assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, v1_schema, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, v2_upgrade, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_sqlite_open(&(struct store_sqlite_opts){.path = other,
		.read_only = true}, &ro, &err), 0);
	memset(&w, 0, sizeof w);
	assert_int_equal(store_sqlite_alarm_each(ro, walk_alarm, &w, &err), 0);
	assert_int_equal(w.n, 0);
	store_close(ro);
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
	assert_non_null(strstr(err.msg, "database schema v7 is newer than this bot (v3); "
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
	struct store_sqlite_opts o = {.path = other, .read_only = true};
	assert_int_equal(store_sqlite_open(&o, &ro, &err), BOT_ENOTFOUND);
	assert_int_not_equal(access(other, F_OK), 0); /* not created */
	assert_int_equal(open_store(f, &err), 0);
	insert(f);
	o.path = f->path;
	assert_int_equal(store_sqlite_open(&o, &ro, &err), 0);
	assert_int_equal(store_audit_add(ro, 0, "x", "note", NULL, &err), BOT_EPERM);
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
		cmocka_unit_test_setup_teardown(test_migration_from_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_from_v2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alarm_each, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_version_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
		cmocka_unit_test(test_state_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
