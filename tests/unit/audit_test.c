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
	const char *header = "seq,at,gate_id,actor,kind,from,to,detail,prev_hash,hash,chain\r\n";
	assert_memory_equal(out, header, strlen(header));
	/* quotes doubled, commas and newlines kept inside a quoted field */
	assert_non_null(strstr(out, "\"cpu, \\\"\"pegged\\\"\"\""));
	assert_non_null(strstr(out, "\r\n3,2025-11-24T16:00:02.000Z,1,UALICE,approved,PENDING,"
				    "APPROVED,{}"));
	/* SQLite: every row in the log chain, an empty last column */
	assert_non_null(strstr(out, ",\r\n4,"));
	free(out);
	out = export(f, 0, AUDIT_JSONL, &n);
	assert_non_null(strstr(out, "{\"seq\":1,\"chain\":null,\"at\":"));
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
	assert_int_equal(audit_verify(f->s, &n, NULL, &bad, &err), 0);
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
	assert_int_equal(audit_verify(f->s, NULL, NULL, &bad, &err), BOT_ECORRUPT);
	assert_int_equal(bad, 3);
	assert_non_null(strstr(err.msg, "audit log chain broken at seq 3"));
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
	assert_int_equal(audit_verify(f->s, NULL, NULL, &bad, &err), BOT_ECORRUPT);
	assert_int_equal(bad, 5);
	assert_non_null(strstr(err.msg, "audit log chain broken at seq 5"));
	assert_non_null(strstr(err.msg, "prev_hash"));
}

static void test_verify_detects_deletion(void **state)
{
	struct fixture *f = *state;
	struct bot_error err = {0};
	int64_t bad = 0;
	raw_sql(f, "DELETE FROM audit WHERE seq = 2"); /* hide the refused click */
	assert_int_equal(audit_verify(f->s, NULL, NULL, &bad, &err), BOT_ECORRUPT);
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
	assert_int_equal(audit_verify(f->s, &n, NULL, NULL, &err), 0);
	assert_int_equal(n, 8);
}

/* ---- chains: a store that hands over rows it was given ----------------- */

#define MAX_FAKE_ROWS 16

struct fake_store {
	struct store base;
	struct store_audit_row rows[MAX_FAKE_ROWS];
	char prev[MAX_FAKE_ROWS][65], hash[MAX_FAKE_ROWS][65];
	size_t n;
};

static int fake_each(struct store *b, int64_t since, store_audit_fn fn, void *ud,
		     struct bot_error *err)
{
	struct fake_store *f = (struct fake_store *)b;
	(void)err;
	for (size_t i = 0; i < f->n; i++) {
		if (f->rows[i].at < since)
			continue;
		int rc = fn(ud, &f->rows[i]);
		if (rc)
			return rc;
	}
	return BOT_EOK;
}

static const char *fake_where(const struct store *b)
{
	(void)b;
	return "fake:";
}

static void fake_close(struct store *b)
{
	(void)b;
}

static const struct store_ops fake_ops = {
	.name = "fake", .close = fake_close, .where = fake_where, .audit_each = fake_each,
};

/* Append a sealed row of chain (gate_id: the chain's gate, or anything
 * for the log chain) after the chain's last row in f. */
static void fake_add(struct fake_store *f, uint64_t chain, uint64_t gate_id, const char *kind)
{
	int64_t seq = 0;
	const char *prev = CHAIN_GENESIS;
	size_t i = f->n;

	assert_true(i < MAX_FAKE_ROWS);
	for (size_t k = 0; k < f->n; k++)
		if (f->rows[k].chain == chain) {
			seq = f->rows[k].seq;
			prev = f->hash[k];
		}
	snprintf(f->prev[i], sizeof f->prev[i], "%s", prev);
	f->rows[i] = (struct store_audit_row){
		.chain = chain, .seq = seq + 1, .gate_id = gate_id,
		.at = 1764000000000 + (int64_t)i * 10, .actor = "U1", .kind = kind,
		.detail = "{}", .prev_hash = f->prev[i],
	};
	assert_int_equal(chain_hash(&f->rows[i], f->hash[i]), 0);
	f->rows[i].hash = f->hash[i];
	f->n++;
}

/* Three chains, interleaved: the log chain (one event naming gate 9),
 * gate 5's and gate 12's. */
static void fake_history(struct fake_store *f)
{
	memset(f, 0, sizeof *f);
	store_init(&f->base, &fake_ops, NULL, NULL, 0);
	fake_add(f, 0, 0, "startup");   /* 0 */
	fake_add(f, 5, 5, "requested"); /* 1 */
	fake_add(f, 12, 12, "requested");
	fake_add(f, 5, 5, "delivered"); /* 3 */
	fake_add(f, 0, 9, "click");     /* an unknown gate's click: log chain */
	fake_add(f, 12, 12, "delivered");
	fake_add(f, 5, 5, "approved");  /* 6 */
	fake_add(f, 12, 12, "denied");  /* 7 */
}

static void test_verify_interleaved_chains(void **state)
{
	struct fake_store f;
	struct bot_error err = {0};
	uint64_t chain = 99;
	int64_t bad = -1;
	size_t n = 0;
	(void)state;

	fake_history(&f);
	assert_int_equal(audit_verify(&f.base, &n, &chain, &bad, &err), 0);
	assert_int_equal(n, 8);
	assert_int_equal(chain, 0);
	assert_int_equal(bad, 0);

	/* export: the chain of every row */
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	assert_non_null(mem);
	assert_int_equal(audit_export(&f.base, 0, AUDIT_JSONL, mem, &n, &err), 0);
	fclose(mem);
	assert_int_equal(n, 8);
	assert_non_null(strstr(buf, "{\"seq\":2,\"chain\":12,"));
	assert_non_null(strstr(buf, "{\"seq\":2,\"chain\":null,"));
	free(buf);
	mem = open_memstream(&buf, &len);
	assert_non_null(mem);
	assert_int_equal(audit_export(&f.base, 0, AUDIT_CSV, mem, &n, &err), 0);
	fclose(mem);
	assert_non_null(strstr(buf, ",hash,chain\r\n"));
	assert_non_null(strstr(buf, f.hash[7]));
	char tail[80];
	snprintf(tail, sizeof tail, "%s,12\r\n", f.hash[7]);
	assert_non_null(strstr(buf, tail)); /* the chain is the last column */
	free(buf);
}

static void test_verify_chain_mismatch(void **state)
{
	struct fake_store f;
	struct bot_error err = {0};
	uint64_t chain = 0;
	int64_t bad = 0;
	(void)state;

	/* a row of chain 5 naming gate 6, sealed as it is: refused */
	memset(&f, 0, sizeof f);
	store_init(&f.base, &fake_ops, NULL, NULL, 0);
	fake_add(&f, 5, 5, "requested");
	fake_add(&f, 5, 6, "note");
	assert_int_equal(audit_verify(&f.base, NULL, &chain, &bad, &err), BOT_ECORRUPT);
	assert_int_equal(chain, 5);
	assert_int_equal(bad, 2);
	assert_non_null(strstr(err.msg, "audit chain of gate 5 broken at seq 2"));
	assert_non_null(strstr(err.msg, "names gate 6"));
}

static void test_verify_gate_chain_tampered(void **state)
{
	struct fake_store f;
	struct bot_error err = {0};
	uint64_t chain = 0;
	int64_t bad = 0;
	(void)state;

	/* an edit inside gate 12's chain */
	fake_history(&f);
	f.rows[5].actor = "UMALLORY";
	assert_int_equal(audit_verify(&f.base, NULL, &chain, &bad, &err), BOT_ECORRUPT);
	assert_int_equal(chain, 12);
	assert_int_equal(bad, 2);
	assert_non_null(strstr(err.msg, "audit chain of gate 12 broken at seq 2: its content"));

	/* gate 5's delivery removed: its approval no longer follows */
	fake_history(&f);
	memmove(&f.rows[3], &f.rows[4], (f.n - 4) * sizeof f.rows[0]);
	f.n--;
	assert_int_equal(audit_verify(&f.base, NULL, &chain, &bad, &err), BOT_ECORRUPT);
	assert_int_equal(chain, 5);
	assert_int_equal(bad, 3);
	assert_non_null(strstr(err.msg, "audit chain of gate 5 broken at seq 3: expected seq 2"));

	/* a row moved from gate 12's chain into gate 5's (renumbered to fit)
	 * does not link there */
	fake_history(&f);
	f.rows[7].chain = 5;
	f.rows[7].gate_id = 5;
	f.rows[7].seq = 4;
	assert_int_equal(audit_verify(&f.base, NULL, &chain, &bad, &err), BOT_ECORRUPT);
	assert_int_equal(chain, 5);
	assert_int_equal(bad, 4);
	assert_non_null(strstr(err.msg, "prev_hash"));

	/* the log chain's own rows are checked apart from the gates' */
	fake_history(&f);
	f.rows[4].seq = 3;
	assert_int_equal(audit_verify(&f.base, NULL, &chain, &bad, &err), BOT_ECORRUPT);
	assert_int_equal(chain, 0);
	assert_int_equal(bad, 3);
	assert_non_null(strstr(err.msg, "audit log chain broken at seq 3"));
}

/* Many chains (the table of tails grows): each verifies on its own. */
static const struct store_audit_row *many_rows;
static size_t many_n;

static int many_each(struct store *b, int64_t since, store_audit_fn fn, void *ud,
		     struct bot_error *err)
{
	(void)b;
	(void)since;
	(void)err;
	for (size_t i = 0; i < many_n; i++) {
		int rc = fn(ud, &many_rows[i]);
		if (rc)
			return rc;
	}
	return BOT_EOK;
}

static const struct store_ops many_ops = {
	.name = "many", .close = fake_close, .where = fake_where, .audit_each = many_each,
};

static void test_verify_many_chains(void **state)
{
	enum { CHAINS = 3000 };
	static struct store_audit_row rows[CHAINS * 2];
	static char hashes[CHAINS * 2][65];
	struct bot_error err = {0};
	struct store s;
	uint64_t chain = 0;
	size_t n = 0;
	(void)state;

	for (int pass = 0; pass < 2; pass++) {
		for (int c = 0; c < CHAINS; c++) {
			struct store_audit_row *r = &rows[pass * CHAINS + c];
			*r = (struct store_audit_row){
				.chain = (uint64_t)c + 1, .seq = pass + 1, .gate_id = (uint64_t)c + 1,
				.at = 5, .actor = "U", .kind = "k", .detail = "{}",
				.prev_hash = pass ? hashes[c] : CHAIN_GENESIS,
			};
			assert_int_equal(chain_hash(r, hashes[pass * CHAINS + c]), 0);
			r->hash = hashes[pass * CHAINS + c];
		}
	}
	many_rows = rows;
	many_n = CHAINS * 2;
	store_init(&s, &many_ops, NULL, NULL, 0);
	assert_int_equal(audit_verify(&s, &n, NULL, NULL, &err), 0);
	assert_int_equal(n, CHAINS * 2);
	rows[CHAINS * 2 - 1].detail = "{\"x\":1}";
	assert_int_equal(audit_verify(&s, &n, &chain, NULL, &err), BOT_ECORRUPT);
	assert_int_equal(chain, CHAINS);
	assert_non_null(strstr(err.msg, "audit chain of gate 3000 broken at seq 2"));
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
		cmocka_unit_test(test_verify_interleaved_chains),
		cmocka_unit_test(test_verify_chain_mismatch),
		cmocka_unit_test(test_verify_gate_chain_tampered),
		cmocka_unit_test(test_verify_many_chains),
		cmocka_unit_test_setup_teardown(test_subcommand, setup, teardown),
		cmocka_unit_test(test_parse_since),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
