/* Audit export (JSONL, CSV, --since) and the tamper-evident chain: edits,
 * deletions and re-hashed edits made with raw SQL are caught and the first
 * bad seq is named. Also the `audit` subcommand's exit statuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapters/store/sqlite.h"
#include "bot/audit_cmd.h"
#include "bot/domain/audit.h"
#include "bot/domain/chain.h"
#include "bot/base/log.h"

struct fixture {
	char dir[64], path[128];
	int64_t now;
	struct store *s;
};

static int64_t fake_clock(void *ud)
{
	return ((struct fixture *)ud)->now;
}

static const char *const approvers[] = {"UALICE", "UBOB"};

/* A small history: requested, a refused click, approved, executing,
 * succeeded; a second gate denied. Events 1..7 (+1 click). */
static void history(struct fixture *f)
{
	struct bot_error err = {0};
	struct store_gate g = {0};
	enum store_result won;
	uint64_t holder;

	g.service = "web";
	g.cluster = "prod";
	g.ecs_service = "web-svc";
	g.requester = "UREQ";
	g.target = 5;
	g.desired_at_request = 1;
	g.reason = "cpu, \"pegged\"";
	g.timer_ms = 600000;
	g.approvers = (char **)approvers;
	g.n_approvers = 2;
	g.min_approvals = 1;
	g.evidence = "CPU 97%\nalarms: 3";
	assert_int_equal(store_gate_open(f->s, &g, &won, &holder, &err), 0); /* seq 1 */
	uint64_t id = g.id;
	f->now += 1000;
	assert_int_equal(store_audit_add(f->s, id, "UMALLORY", "click",
					 "{\"outcome\":\"NOT_APPROVER\",\"vote\":\"approve\"}", &err),
			 0); /* seq 2 */
	f->now += 1000;
	struct store_change c = {.gate_id = id, .from = GATE_PENDING, .to = GATE_APPROVED,
				 .actor = "UALICE", .decided_by = "UALICE"};
	assert_int_equal(store_gate_change(f->s, &c, &won, &err), 0); /* seq 3 */
	f->now += 1000;
	c = (struct store_change){.gate_id = id, .from = GATE_APPROVED, .to = GATE_EXECUTING,
				  .actor = "system", .exec_intent = "{}"};
	assert_int_equal(store_gate_change(f->s, &c, &won, &err), 0); /* seq 4 */
	f->now += 1000;
	c = (struct store_change){.gate_id = id, .from = GATE_EXECUTING, .to = GATE_SUCCEEDED,
				  .actor = "system"};
	assert_int_equal(store_gate_change(f->s, &c, &won, &err), 0); /* seq 5 */
	f->now += 60000;
	g.id = 0;
	assert_int_equal(store_gate_open(f->s, &g, &won, &holder, &err), 0); /* seq 6 */
	c = (struct store_change){.gate_id = g.id, .from = GATE_PENDING, .to = GATE_DENIED,
				  .actor = "UBOB", .decided_by = "UBOB"};
	assert_int_equal(store_gate_change(f->s, &c, &won, &err), 0); /* seq 7 */
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	struct bot_error err = {0};

	assert_non_null(f);
	log_set_level(BOT_LOG_WARN);
	snprintf(f->dir, sizeof f->dir, "/tmp/audit_test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/gates.db", f->dir);
	f->now = 1764000000000; /* 2025-11-24T16:00:00Z */
	struct store_sqlite_opts o = {.path = f->path, .clock = fake_clock, .clock_ud = f};
	assert_int_equal(store_sqlite_open(&o, &f->s, &err), 0);
	history(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[200];
	store_close(f->s);
	unlink(f->path);
	snprintf(p, sizeof p, "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof p, "%s-shm", f->path);
	unlink(p);
	snprintf(p, sizeof p, "%s/bot.yaml", f->dir);
	unlink(p);
	snprintf(p, sizeof p, "%s/out.txt", f->dir);
	unlink(p);
	rmdir(f->dir);
	free(f);
	return 0;
}

static char *export(struct fixture *f, int64_t since, enum audit_format fmt, size_t *n)
{
	struct bot_error err = {0};
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	assert_non_null(mem);
	assert_int_equal(audit_export(f->s, since, fmt, mem, n, &err), 0);
	fclose(mem);
	return buf;
}

static void raw_sql(struct fixture *f, const char *sql)
{
	sqlite3 *db;
	char *msg = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

static void test_export_jsonl(void **state)
{
	struct fixture *f = *state;
	size_t n = 0;
	char *out = export(f, 0, AUDIT_JSONL, &n);
	assert_int_equal(n, 7);

	int lines = 0;
	char prev_hash[65] = CHAIN_GENESIS;
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		json_error_t je;
		json_t *o = json_loads(line, 0, &je);
		assert_non_null(o);
		lines++;
		assert_int_equal(json_integer_value(json_object_get(o, "seq")), lines);
		assert_string_equal(json_string_value(json_object_get(o, "prev_hash")), prev_hash);
		snprintf(prev_hash, sizeof prev_hash, "%s",
			 json_string_value(json_object_get(o, "hash")));
		assert_true(json_is_object(json_object_get(o, "detail")));
		if (lines == 1) {
			assert_string_equal(json_string_value(json_object_get(o, "kind")), "requested");
			assert_string_equal(json_string_value(json_object_get(o, "at")),
					    "2025-11-24T16:00:00.000Z");
			json_t *d = json_object_get(o, "detail");
			assert_string_equal(json_string_value(json_object_get(d, "evidence")),
					    "CPU 97%\nalarms: 3");
		}
		if (lines == 3) {
			assert_string_equal(json_string_value(json_object_get(o, "actor")), "UALICE");
			assert_string_equal(json_string_value(json_object_get(o, "from")), "PENDING");
			assert_string_equal(json_string_value(json_object_get(o, "to")), "APPROVED");
		}
		json_decref(o);
	}
	assert_int_equal(lines, 7);
	free(out);
}

static void test_export_csv_and_since(void **state)
{
	struct fixture *f = *state;
	size_t n = 0;
	char *out = export(f, 0, AUDIT_CSV, &n);
	assert_int_equal(n, 7);
	const char *header = "seq,at,gate_id,actor,kind,from,to,detail,prev_hash,hash\r\n";
	assert_memory_equal(out, header, strlen(header));
	/* quotes doubled, commas and newlines kept inside a quoted field */
	assert_non_null(strstr(out, "\"cpu, \\\"\"pegged\\\"\"\""));
	assert_non_null(strstr(out, "\r\n3,2025-11-24T16:00:02.000Z,1,UALICE,approved,PENDING,"
				    "APPROVED,{}"));
	free(out);

	/* only the second gate (a minute later) */
	out = export(f, 1764000000000 + 60000, AUDIT_JSONL, &n);
	assert_int_equal(n, 2);
	assert_non_null(strstr(out, "\"seq\":6"));
	assert_null(strstr(out, "\"seq\":5"));
	free(out);
}

static void test_verify_intact(void **state)
{
	struct fixture *f = *state;
	struct bot_error err = {0};
	size_t n = 0;
	int64_t bad = -1;
	assert_int_equal(audit_verify(f->s, &n, &bad, &err), 0);
	assert_int_equal(n, 7);
	assert_int_equal(bad, 0);
}

static void test_verify_detects_edit(void **state)
{
	struct fixture *f = *state;
	struct bot_error err = {0};
	int64_t bad = 0;
	/* rewrite who approved */
	raw_sql(f, "UPDATE audit SET actor = 'UMALLORY' WHERE seq = 3");
	assert_int_equal(audit_verify(f->s, NULL, &bad, &err), BOT_ECORRUPT);
	assert_int_equal(bad, 3);
	assert_non_null(strstr(err.msg, "audit chain broken at seq 3"));
	assert_non_null(strstr(err.msg, "does not match its hash"));
}

static void test_verify_detects_rehashed_edit(void **state)
{
	struct fixture *f = *state;
	struct bot_error err = {0};
	int64_t bad = 0;
	sqlite3 *db;
	sqlite3_stmt *st;
	char hash[65], sql[300];

	/* a careful forger also recomputes the row's own hash ... */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT seq, gate_id, at, kind, from_state, "
					    "to_state, detail, prev_hash FROM audit WHERE seq = 4",
					    -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	struct store_audit_row r = {
		.seq = 4, .gate_id = (uint64_t)sqlite3_column_int64(st, 1),
		.at = sqlite3_column_int64(st, 2), .actor = "UMALLORY",
		.kind = (const char *)sqlite3_column_text(st, 3),
		.from_state = (const char *)sqlite3_column_text(st, 4),
		.to_state = (const char *)sqlite3_column_text(st, 5),
		.detail = (const char *)sqlite3_column_text(st, 6),
		.prev_hash = (const char *)sqlite3_column_text(st, 7),
	};
	assert_int_equal(chain_hash(&r, hash), 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	snprintf(sql, sizeof sql, "UPDATE audit SET actor = 'UMALLORY', hash = '%s' WHERE seq = 4",
		 hash);
	raw_sql(f, sql);
	/* ... and is caught by the next event's prev_hash */
	assert_int_equal(audit_verify(f->s, NULL, &bad, &err), BOT_ECORRUPT);
	assert_int_equal(bad, 5);
	assert_non_null(strstr(err.msg, "audit chain broken at seq 5"));
	assert_non_null(strstr(err.msg, "prev_hash"));
}

static void test_verify_detects_deletion(void **state)
{
	struct fixture *f = *state;
	struct bot_error err = {0};
	int64_t bad = 0;
	raw_sql(f, "DELETE FROM audit WHERE seq = 2"); /* hide the refused click */
	assert_int_equal(audit_verify(f->s, NULL, &bad, &err), BOT_ECORRUPT);
	assert_int_equal(bad, 3);
	assert_non_null(strstr(err.msg, "expected seq 2"));
}

static void test_appends_continue_chain(void **state)
{
	struct fixture *f = *state;
	struct bot_error err = {0};
	size_t n = 0;
	/* reopen: the chain continues from the stored tail */
	store_close(f->s);
	struct store_sqlite_opts o = {.path = f->path, .clock = fake_clock, .clock_ud = f};
	assert_int_equal(store_sqlite_open(&o, &f->s, &err), 0);
	assert_int_equal(store_audit_add(f->s, 0, "system", "note", NULL, &err), 0);
	assert_int_equal(audit_verify(f->s, &n, NULL, &err), 0);
	assert_int_equal(n, 8);
}

static void test_parse_since(void **state)
{
	int64_t t = 0, now = 1764000000000;
	(void)state;
	assert_int_equal(audit_parse_since("2025-11-24", now, &t), 0);
	assert_int_equal(t, 1763942400000);
	assert_int_equal(audit_parse_since("2025-11-24T16:00:00Z", now, &t), 0);
	assert_int_equal(t, 1764000000000);
	assert_int_equal(audit_parse_since("2025-11-24T16:00:00.250Z", now, &t), 0);
	assert_int_equal(t, 1764000000250);
	assert_int_equal(audit_parse_since("2h", now, &t), 0);
	assert_int_equal(t, now - 7200000);
	assert_int_equal(audit_parse_since("7d", now, &t), 0);
	assert_int_equal(t, now - 7 * 86400000LL);
	assert_int_equal(audit_parse_since("yesterday", now, &t), BOT_EINVAL);
	assert_int_equal(audit_parse_since("2025-13-01", now, &t), BOT_EINVAL);
	assert_int_equal(audit_parse_since("2025-11-24T16:00", now, &t), BOT_EINVAL);
	assert_int_equal(audit_parse_since("", now, &t), BOT_EINVAL);
}

/* Run audit_main with stdout captured into a file. */
static int run_main(struct fixture *f, char **out, int argc, ...)
{
	char *argv[16];
	char path[200];
	va_list ap;
	int saved, fd, rc;

	va_start(ap, argc);
	for (int i = 0; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[argc] = NULL;
	snprintf(path, sizeof path, "%s/out.txt", f->dir);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	dup2(fd, STDOUT_FILENO);
	close(fd);
	rc = audit_main(argc, argv);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	*out = calloc(1, 1 << 16);
	assert_non_null(*out);
	size_t got = fread(*out, 1, (1 << 16) - 1, fp);
	(*out)[got] = '\0';
	fclose(fp);
	return rc;
}

static void test_subcommand(void **state)
{
	struct fixture *f = *state;
	char *out;
	char cfg[200];

	assert_int_equal(run_main(f, &out, 4, "audit", "--db", f->path, "--verify"), 0);
	assert_non_null(strstr(out, "audit chain intact (7 events)"));
	free(out);
	assert_int_equal(run_main(f, &out, 5, "audit", "--db", f->path, "--format", "csv"), 0);
	assert_non_null(strstr(out, "seq,at,gate_id"));
	free(out);

	/* the store path from the bot's configuration */
	snprintf(cfg, sizeof cfg, "%s/bot.yaml", f->dir);
	FILE *fp = fopen(cfg, "w");
	assert_non_null(fp);
	fprintf(fp, "services:\n  web:\n    cluster: prod\n    max_desired: 10\n"
		    "    approvers: [U0ALICE]\n    requesters: [\"*\"]\nstore:\n  path: %s\n", f->path);
	fclose(fp);
	assert_int_equal(run_main(f, &out, 5, "audit", "--config", cfg, "--since",
				  "2025-11-24T16:01:00Z"), 0);
	assert_non_null(strstr(out, "\"seq\":6"));
	assert_null(strstr(out, "\"seq\":1,"));
	free(out);

	/* usage errors: 2 */
	assert_int_equal(run_main(f, &out, 1, "audit"), 2);
	free(out);
	assert_int_equal(run_main(f, &out, 5, "audit", "--db", f->path, "--format", "xml"), 2);
	free(out);
	assert_int_equal(run_main(f, &out, 5, "audit", "--db", f->path, "--since", "soon"), 2);
	free(out);

	/* tampered: 1 */
	raw_sql(f, "UPDATE audit SET detail = '{}' WHERE seq = 1");
	assert_int_equal(run_main(f, &out, 4, "audit", "--db", f->path, "--verify"), 1);
	free(out);
	/* no store there: 1, and nothing created */
	snprintf(cfg, sizeof cfg, "%s/none.db", f->dir);
	assert_int_equal(run_main(f, &out, 4, "audit", "--db", cfg, "--verify"), 1);
	assert_int_not_equal(access(cfg, F_OK), 0);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_export_jsonl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_export_csv_and_since, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_intact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_detects_edit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_detects_rehashed_edit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verify_detects_deletion, setup, teardown),
		cmocka_unit_test_setup_teardown(test_appends_continue_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_subcommand, setup, teardown),
		cmocka_unit_test(test_parse_since),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
