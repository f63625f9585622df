/* sqlite.c - the gate store on SQLite (see sqlite.h and adapters/store.h). */
#include "adapters/store/sqlite.h"
#include "adapters/store/common.h"
#include "bot/base/log.h"
#include "bot/domain/chain.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_BUSY_MS 5000
#define PURGE_EVERY_MS (60 * 1000)

static const char *const state_text[] = {
#define GATE_STATE_TEXT(name, text) [GATE_##name] = text,
	GATE_STATE_MAP(GATE_STATE_TEXT)
#undef GATE_STATE_TEXT
};

/* ---- schema ------------------------------------------------------------ */

/* Applied in order, each in its own transaction together with the
 * user_version bump. Never edit a shipped entry: add a new one. */
static const struct migration {
	int version;
	const char *sql;
} migrations[] = {
	{1,
	 "CREATE TABLE gates ("
	 " id INTEGER PRIMARY KEY,"
	 " service TEXT NOT NULL,"
	 " cluster TEXT NOT NULL,"
	 " ecs_service TEXT NOT NULL,"
	 " requester TEXT NOT NULL,"
	 " target INTEGER NOT NULL,"
	 " desired_at_request INTEGER NOT NULL,"
	 " reason TEXT NOT NULL DEFAULT '',"
	 " timer_ms INTEGER NOT NULL,"
	 " approvers TEXT NOT NULL,"
	 " min_approvals INTEGER NOT NULL DEFAULT 1,"
	 " allow_self INTEGER NOT NULL DEFAULT 0,"
	 " force_new_deployment INTEGER NOT NULL DEFAULT 0,"
	 " channel TEXT,"
	 " message_ts TEXT,"
	 " evidence TEXT NOT NULL DEFAULT '',"
	 " created_at INTEGER NOT NULL,"
	 " delivered_at INTEGER,"
	 " deadline INTEGER,"
	 " state TEXT NOT NULL CHECK (state IN ('PENDING','APPROVED','APPROVED_BY_TIMER',"
	 "   'DENIED','CANCELLED','EXECUTING','SUCCEEDED','FAILED')),"
	 " decision TEXT,"
	 " decided_by TEXT,"
	 " decided_at INTEGER,"
	 " decision_detail TEXT,"
	 " exec_intent TEXT,"
	 " exec_from INTEGER,"
	 " exec_started_at INTEGER,"
	 " result_kind TEXT,"
	 " result_detail TEXT,"
	 " aws_code TEXT,"
	 " aws_request_id TEXT,"
	 " finished_at INTEGER,"
	 " updated_at INTEGER NOT NULL"
	 ");"
	 "CREATE INDEX gates_state ON gates(state);"
	 "CREATE TABLE approvals ("
	 " gate_id INTEGER NOT NULL REFERENCES gates(id),"
	 " user TEXT NOT NULL,"
	 " at INTEGER NOT NULL,"
	 " UNIQUE (gate_id, user)"
	 ");"
	 "CREATE TABLE audit ("
	 " seq INTEGER PRIMARY KEY,"
	 " gate_id INTEGER,"
	 " at INTEGER NOT NULL,"
	 " actor TEXT NOT NULL,"
	 " kind TEXT NOT NULL,"
	 " from_state TEXT,"
	 " to_state TEXT,"
	 " detail TEXT NOT NULL,"
	 " prev_hash TEXT NOT NULL,"
	 " hash TEXT NOT NULL"
	 ");"
	 "CREATE INDEX audit_at ON audit(at);"
	 "CREATE INDEX audit_gate ON audit(gate_id);"
	 "CREATE TABLE processed_ids ("
	 " id TEXT PRIMARY KEY,"
	 " at INTEGER NOT NULL"
	 ") WITHOUT ROWID;"
	 "CREATE INDEX processed_at ON processed_ids(at);"},
	/* v2: the store owns its invariants. A gate names its action and
	 * parameters; a version orders the writes to it (votes are conditional
	 * on it); service_locks holds each ECS service for its one live gate
	 * (filled from the live gates, the oldest first, so a store from v1
	 * keeps working). */
	{2,
	 "ALTER TABLE gates ADD COLUMN action TEXT NOT NULL DEFAULT 'scale';"
	 "ALTER TABLE gates ADD COLUMN params TEXT NOT NULL DEFAULT '{}';"
	 "ALTER TABLE gates ADD COLUMN version INTEGER NOT NULL DEFAULT 1;"
	 "ALTER TABLE gates ADD COLUMN exec_owner TEXT;"
	 "ALTER TABLE gates ADD COLUMN exec_lease_until INTEGER;"
	 "CREATE TABLE service_locks ("
	 " cluster TEXT NOT NULL,"
	 " ecs_service TEXT NOT NULL,"
	 " gate_id INTEGER NOT NULL,"
	 " PRIMARY KEY (cluster, ecs_service)"
	 ") WITHOUT ROWID;"
	 "CREATE INDEX service_locks_gate ON service_locks(gate_id);"
	 "INSERT INTO service_locks (cluster, ecs_service, gate_id)"
	 " SELECT cluster, ecs_service, MIN(id) FROM gates"
	 " WHERE state IN ('PENDING','APPROVED','APPROVED_BY_TIMER','EXECUTING')"
	 " GROUP BY cluster, ecs_service;"},
	/* v3: the alarm intake's records, one per key (an alarm's ARN): the
	 * domain's JSON text, kept as is, and the version its writes are
	 * conditional on. */
	{3,
	 "CREATE TABLE alarms ("
	 " key TEXT PRIMARY KEY,"
	 " version INTEGER NOT NULL,"
	 " body TEXT NOT NULL,"
	 " updated_at INTEGER NOT NULL"
	 ") WITHOUT ROWID;"},
};

/* ---- prepared statements ---------------------------------------------- */

#define GATE_COLS                                                                         \
	"id, service, cluster, ecs_service, requester, target, desired_at_request, reason,"  \
	" timer_ms, approvers, min_approvals, allow_self, force_new_deployment, channel,"    \
	" message_ts, evidence, created_at, delivered_at, deadline, state, decision,"        \
	" decided_by, decided_at, decision_detail, exec_intent, exec_from, exec_started_at," \
	" result_kind, result_detail, aws_code, aws_request_id, finished_at, updated_at,"  \
	" action, params, version, exec_owner, exec_lease_until"

enum q {
	Q_BEGIN,
	Q_COMMIT,
	Q_ROLLBACK,
	Q_SAVEPOINT,
	Q_RELEASE,
	Q_ROLLBACK_TO,
	Q_GATE_INSERT,
	Q_GATE_GET,
	Q_GATE_BY_STATE,
	Q_GATE_RECENT,
	Q_GATE_COUNTS,
	Q_APPROVALS_OF,
	Q_DELIVERED_TS,
	Q_DELIVERED_ARM,
	Q_CHANGE,
	Q_APPROVAL_ADD,
	Q_GATE_VERSION,
	Q_BUMP,
	Q_LEASE,
	Q_LOCK_HOLDER,
	Q_LOCK_TAKE,
	Q_LOCK_RELEASE,
	Q_AUDIT_LAST,
	Q_AUDIT_INSERT,
	Q_AUDIT_SINCE,
	Q_SEEN,
	Q_PURGE,
	Q_ALARM_GET,
	Q_ALARM_INSERT,
	Q_ALARM_UPDATE,
	Q_ALARM_ALL,
	Q_COUNT
};

static const char *const q_sql[Q_COUNT] = {
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
	[Q_SAVEPOINT] = "SAVEPOINT sp",
	[Q_RELEASE] = "RELEASE sp",
	[Q_ROLLBACK_TO] = "ROLLBACK TO sp",
	[Q_GATE_INSERT] =
		"INSERT INTO gates (service, cluster, ecs_service, requester, target,"
		" desired_at_request, reason, timer_ms, approvers, min_approvals, allow_self,"
		" force_new_deployment, channel, evidence, created_at, state, updated_at, action,"
		" params, version, exec_owner, exec_lease_until)"
		" VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,'PENDING',?15,?16,?17,1,"
		"?18,?19)",
	[Q_GATE_GET] = "SELECT " GATE_COLS " FROM gates WHERE id = ?1",
	[Q_GATE_BY_STATE] = "SELECT " GATE_COLS " FROM gates WHERE state = ?1 ORDER BY id",
	[Q_GATE_RECENT] = "SELECT " GATE_COLS " FROM gates ORDER BY id DESC LIMIT ?1",
	[Q_GATE_COUNTS] = "SELECT state, COUNT(*) FROM gates GROUP BY state",
	[Q_APPROVALS_OF] = "SELECT user FROM approvals WHERE gate_id = ?1 ORDER BY rowid",
	[Q_DELIVERED_TS] =
		"UPDATE gates SET channel = COALESCE(?2, channel), message_ts = ?3, updated_at = ?4,"
		" version = version + 1 WHERE id = ?1 AND message_ts IS NULL",
	[Q_DELIVERED_ARM] =
		"UPDATE gates SET delivered_at = ?2, deadline = ?2 + timer_ms, updated_at = ?2,"
		" version = version + 1 WHERE id = ?1 AND state = 'PENDING' AND deadline IS NULL",
	[Q_CHANGE] =
		"UPDATE gates SET state = ?1, updated_at = ?2, version = version + 1,"
		" decision = COALESCE(?3, decision),"
		" decided_by = COALESCE(?4, decided_by),"
		" decided_at = COALESCE(?5, decided_at),"
		" decision_detail = COALESCE(?6, decision_detail),"
		" exec_intent = COALESCE(?7, exec_intent),"
		" exec_from = COALESCE(?8, exec_from),"
		" exec_started_at = COALESCE(?9, exec_started_at),"
		" result_kind = COALESCE(?10, result_kind),"
		" result_detail = COALESCE(?11, result_detail),"
		" aws_code = COALESCE(?12, aws_code),"
		" aws_request_id = COALESCE(?13, aws_request_id),"
		" finished_at = COALESCE(?14, finished_at),"
		" exec_owner = COALESCE(?17, exec_owner),"
		" exec_lease_until = COALESCE(?18, exec_lease_until)"
		" WHERE id = ?15 AND state = ?16",
	[Q_APPROVAL_ADD] = "INSERT OR IGNORE INTO approvals (gate_id, user, at) VALUES (?1, ?2, ?3)",
	[Q_GATE_VERSION] = "SELECT version, state FROM gates WHERE id = ?1",
	[Q_BUMP] = "UPDATE gates SET version = version + 1, updated_at = ?2 WHERE id = ?1",
	[Q_LEASE] =
		"UPDATE gates SET exec_owner = ?3, exec_lease_until = ?4, updated_at = ?5,"
		" version = version + 1 WHERE id = ?1 AND version = ?2"
		" AND state IN ('EXECUTING', 'PENDING')",
	[Q_LOCK_HOLDER] =
		"SELECT l.gate_id, g.state FROM service_locks l LEFT JOIN gates g ON g.id = l.gate_id"
		" WHERE l.cluster = ?1 AND l.ecs_service = ?2",
	[Q_LOCK_TAKE] =
		"INSERT OR REPLACE INTO service_locks (cluster, ecs_service, gate_id) VALUES (?1,?2,?3)",
	[Q_LOCK_RELEASE] = "DELETE FROM service_locks WHERE gate_id = ?1",
	[Q_AUDIT_LAST] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
	[Q_AUDIT_INSERT] =
		"INSERT INTO audit (seq, gate_id, at, actor, kind, from_state, to_state, detail,"
		" prev_hash, hash) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
	[Q_AUDIT_SINCE] =
		"SELECT seq, gate_id, at, actor, kind, from_state, to_state, detail, prev_hash, hash"
		" FROM audit WHERE at >= ?1 ORDER BY seq",
	/* a record older than the retention (?3) has expired: renew it */
	[Q_SEEN] = "INSERT INTO processed_ids (id, at) VALUES (?1, ?2)"
		   " ON CONFLICT (id) DO UPDATE SET at = excluded.at WHERE processed_ids.at < ?3",
	[Q_PURGE] = "DELETE FROM processed_ids WHERE at < ?1",
	[Q_ALARM_GET] = "SELECT version, body, updated_at FROM alarms WHERE key = ?1",
	/* the conditional writes: changes() says whether they won */
	[Q_ALARM_INSERT] = "INSERT INTO alarms (key, version, body, updated_at)"
			   " VALUES (?1, 1, ?2, ?3) ON CONFLICT (key) DO NOTHING",
	[Q_ALARM_UPDATE] = "UPDATE alarms SET version = version + 1, body = ?2, updated_at = ?3"
			   " WHERE key = ?1 AND version = ?4",
	[Q_ALARM_ALL] = "SELECT key, version, body, updated_at FROM alarms ORDER BY key",
};

struct sq {
	struct store base; /* first: the interface's part */
	sqlite3 *db;
	char *path;
	sqlite3_stmt *st[Q_COUNT];
	int depth;              /* transaction nesting */
	int version;
	char *where;            /* "sqlite:<path>" */
	int64_t last_purge;
	bool read_only;
};

#define SQ(b) ((struct sq *)(void *)(b))

static const struct store_ops sqlite_ops;

static int64_t now_ms(const struct sq *s)
{
	return store_now(&s->base);
}

int store_sqlite_schema_version(const struct store *b)
{
	return b && b->ops == &sqlite_ops ? SQ(b)->version : -1;
}

static int db_err(struct sq *s, struct bot_error *err, const char *what)
{
	int code = sqlite3_errcode(s->db) & 0xff;
	int bc = code == SQLITE_CORRUPT || code == SQLITE_NOTADB ? BOT_ECORRUPT : BOT_ESTORE;
	return bot_error_set(err, bc, "store: %s: %s", what, sqlite3_errmsg(s->db));
}

/* The cached statement for q, reset and unbound; NULL on prepare failure. */
static sqlite3_stmt *stmt(struct sq *s, enum q q, struct bot_error *err)
{
	sqlite3_stmt *st = s->st[q];
	if (!st) {
		if (sqlite3_prepare_v3(s->db, q_sql[q], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
		    SQLITE_OK) {
			db_err(s, err, "prepare");
			return NULL;
		}
		s->st[q] = st;
	}
	return st;
}

static void done(sqlite3_stmt *st)
{
	if (st) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Run a statement that returns no rows. */
static int exec_q(struct sq *s, enum q q, struct bot_error *err)
{
	sqlite3_stmt *st = stmt(s, q, err);
	int rc;
	if (!st)
		return BOT_ESTORE;
	rc = sqlite3_step(st) == SQLITE_DONE ? BOT_EOK : db_err(s, err, q_sql[q]);
	done(st);
	return rc;
}

/* ---- transactions ------------------------------------------------------ */

static void tx_rollback(struct sq *s);

static int tx_begin(struct sq *s, struct bot_error *err)
{
	int rc;
	if (s->read_only)
		return bot_error_set(err, BOT_EPERM, "store: opened read-only");
	rc = exec_q(s, s->depth ? Q_SAVEPOINT : Q_BEGIN, err);
	if (rc == BOT_EOK)
		s->depth++;
	return rc;
}

static int tx_commit(struct sq *s, struct bot_error *err)
{
	int rc;
	if (s->depth <= 0)
		return bot_error_set(err, BOT_ESTATE, "store: commit without begin");
	rc = exec_q(s, s->depth > 1 ? Q_RELEASE : Q_COMMIT, err);
	if (rc != BOT_EOK) {
		/* a failed COMMIT leaves the transaction open: undo it */
		tx_rollback(s);
		return rc;
	}
	s->depth--;
	return BOT_EOK;
}

static void tx_rollback(struct sq *s)
{
	if (s->depth <= 0)
		return;
	if (s->depth > 1) {
		/* undo and drop the savepoint; errors leave the outer txn to fail */
		(void)exec_q(s, Q_ROLLBACK_TO, NULL);
		(void)exec_q(s, Q_RELEASE, NULL);
	} else if (sqlite3_get_autocommit(s->db) == 0) {
		(void)exec_q(s, Q_ROLLBACK, NULL); /* nothing better to do on failure */
	}
	s->depth--;
}

/* End a transaction opened by this module: commit when rc is 0. */
static int finish(struct sq *s, int rc, struct bot_error *err)
{
	if (rc == BOT_EOK)
		return tx_commit(s, err);
	tx_rollback(s);
	return rc;
}

/* ---- opening ----------------------------------------------------------- */

static int pragma_int(struct sq *s, const char *sql, int *out, struct bot_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = BOT_EOK;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		rc = db_err(s, err, sql);
	else
		*out = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return rc;
}

static int exec_sql(struct sq *s, const char *sql, struct bot_error *err)
{
	char *msg = NULL;
	int rc = BOT_EOK;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		rc = bot_error_set(err, BOT_ESTORE, "store: %s", msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
	}
	return rc;
}

/* Read-only checks before anything is written: is it a database, is it
 * sound, is its schema one we know. */
static int check_file(struct sq *s, struct bot_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = pragma_int(s, "PRAGMA user_version", &s->version, err);
	if (rc) {
		rc = bot_error_set(err, BOT_ECORRUPT,
				   "store: %s is not a usable SQLite database (%s); it was not "
				   "modified. Move it aside to start a new store, or restore a backup",
				   s->path, sqlite3_errmsg(s->db));
		goto out;
	}
	if (s->version > STORE_SQLITE_SCHEMA_VERSION) {
		rc = bot_error_set(err, BOT_EVERSION,
				   "database schema v%d is newer than this bot (v%d); refusing to "
				   "touch it (%s)", s->version, STORE_SQLITE_SCHEMA_VERSION, s->path);
		goto out;
	}
	if (sqlite3_prepare_v2(s->db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		rc = bot_error_set(err, BOT_ECORRUPT,
				   "store: %s failed its integrity check (%s); it was not modified. "
				   "Move it aside or restore a backup", s->path, sqlite3_errmsg(s->db));
		goto out;
	}
	const char *res = (const char *)sqlite3_column_text(st, 0);
	if (!res || strcmp(res, "ok") != 0)
		rc = bot_error_set(err, BOT_ECORRUPT,
				   "store: %s failed its integrity check (%s); it was not modified. "
				   "Move it aside or restore a backup", s->path, res ? res : "?");
out:
	sqlite3_finalize(st);
	return rc;
}

/* Check an existing, cleanly closed file (no -wal beside it) through an
 * immutable read-only connection: SQLite then creates no -wal/-shm side
 * files, so a refused file is left exactly as it was, side files included.
 * *checked is false when this does not apply (new file, or a -wal exists:
 * then the normal connection checks). */
static int precheck(struct sq *s, bool *checked, struct bot_error *err)
{
	static const char hex[] = "0123456789ABCDEF";
	struct stat sb;
	char side[4096 + 8];
	char *uri = NULL;
	sqlite3 *normal = s->db;
	int rc = BOT_EOK;
	size_t o = 0, n = strlen(s->path);

	*checked = false;
	snprintf(side, sizeof side, "%s-wal", s->path);
	if (stat(s->path, &sb) != 0 || sb.st_size == 0 || access(side, F_OK) == 0)
		return BOT_EOK;
	uri = malloc(n * 3 + 32);
	if (!uri)
		return bot_error_set(err, BOT_ENOMEM, "store: out of memory");
	o += (size_t)sprintf(uri, "file:");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s->path[i];
		if (c == '%' || c == '?' || c == '#' || c < 0x20 || c >= 0x7f) {
			uri[o++] = '%';
			uri[o++] = hex[c >> 4];
			uri[o++] = hex[c & 15];
		} else {
			uri[o++] = (char)c;
		}
	}
	snprintf(uri + o, 32, "?immutable=1");
	if (sqlite3_open_v2(uri, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) !=
	    SQLITE_OK) {
		rc = bot_error_set(err, BOT_EIO, "store: cannot open %s: %s", s->path,
				   s->db ? sqlite3_errmsg(s->db) : "out of memory");
	} else {
		rc = check_file(s, err);
		*checked = true;
	}
	sqlite3_close(s->db);
	s->db = normal;
	free(uri);
	return rc;
}

/* Create the database file with mode 0600 if it does not exist yet: it
 * holds every request, approval and the audit trail, for the bot's user
 * only. SQLite would create it 0644 (less the umask), and it creates the
 * -wal and -shm files with the database file's mode, so those follow. An
 * existing file keeps its mode (the operator's choice). If the file cannot
 * be created here, SQLite cannot create it either, and says why. */
static void create_private(const struct sq *s)
{
	int fd;

	if (strcmp(s->path, ":memory:") == 0)
		return;
	fd = open(s->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
}

static int migrate(struct sq *s, struct bot_error *err)
{
	int rc = BOT_EOK;

	for (size_t i = 0; i < BOT_ARRAY_LEN(migrations) && rc == BOT_EOK; i++) {
		const struct migration *m = &migrations[i];
		struct bot_error e = {0};
		char bump[64];
		int now = 0;

		if (m->version <= s->version)
			continue;
		rc = exec_sql(s, "BEGIN IMMEDIATE", &e);
		/* another process may have migrated while we waited for the lock */
		if (rc == BOT_EOK)
			rc = pragma_int(s, "PRAGMA user_version", &now, &e);
		if (rc == BOT_EOK && now < m->version) {
			snprintf(bump, sizeof bump, "PRAGMA user_version = %d", m->version);
			rc = exec_sql(s, m->sql, &e);
			if (rc == BOT_EOK)
				rc = exec_sql(s, bump, &e);
		}
		if (rc == BOT_EOK)
			rc = exec_sql(s, "COMMIT", &e);
		if (rc) {
			if (sqlite3_get_autocommit(s->db) == 0)
				(void)exec_sql(s, "ROLLBACK", NULL); /* the error above is what counts */
			rc = bot_error_set(err, BOT_ESTORE,
					   "store: migration of %s to schema v%d failed and was "
					   "rolled back: %s", s->path, m->version, e.msg);
			break;
		}
		s->version = now < m->version ? m->version : now;
		log_info("store.migrated", "path=%s version=%d", LOG_Q(s->path), s->version);
	}
	return rc;
}

static int configure(struct sq *s, struct bot_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = BOT_EOK;

	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		rc = db_err(s, err, "journal_mode=WAL");
		goto out;
	}
	const char *mode = (const char *)sqlite3_column_text(st, 0);
	if (!mode || strcmp(mode, "wal") != 0) {
		rc = bot_error_set(err, BOT_ESTORE, "store: %s: cannot use WAL mode (got %s)",
				   s->path, mode ? mode : "?");
		goto out;
	}
	/* FULL: each commit is fsynced; the commit is the decision. */
	rc = exec_sql(s, "PRAGMA synchronous=FULL", err);
out:
	sqlite3_finalize(st);
	return rc;
}

static void sq_close(struct store *b)
{
	struct sq *s = SQ(b);

	if (!s)
		return;
	while (s->depth > 0)
		tx_rollback(s);
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	if (s->db && sqlite3_close(s->db) != SQLITE_OK)
		log_error("store.close", "path=%s error=%s", LOG_Q(s->path),
			  LOG_Q(sqlite3_errmsg(s->db)));
	free(s->path);
	free(s->where);
	free(s);
}

static const char *sq_where(const struct store *b)
{
	return SQ(b)->where;
}

int store_sqlite_open(const struct store_sqlite_opts *o, struct store **out,
		      struct bot_error *err)
{
	struct sq *s = NULL;
	int flags, rc;
	bool checked = false;

	*out = NULL;
	if (!o || !o->path || !o->path[0])
		return bot_error_set(err, BOT_EINVAL, "store: a path is required");
	s = calloc(1, sizeof *s);
	if (!s || !(s->path = strdup(o->path)) ||
	    !(s->where = malloc(strlen(o->path) + sizeof "sqlite:"))) {
		rc = bot_error_set(err, BOT_ENOMEM, "store: out of memory");
		goto out;
	}
	sprintf(s->where, "sqlite:%s", o->path);
	store_init(&s->base, &sqlite_ops, o->clock, o->clock_ud, o->dedup_retention_ms);
	s->read_only = o->read_only;
	if (!o->read_only)
		create_private(s);
	rc = precheck(s, &checked, err);
	if (rc)
		goto out;
	flags = SQLITE_OPEN_READWRITE | (o->read_only ? 0 : SQLITE_OPEN_CREATE);
	if (sqlite3_open_v2(o->path, &s->db, flags, NULL) != SQLITE_OK) {
		rc = bot_error_set(err, o->read_only ? BOT_ENOTFOUND : BOT_EIO,
				   "store: cannot open %s: %s", o->path,
				   s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, o->busy_timeout_ms > 0 ? o->busy_timeout_ms : DEFAULT_BUSY_MS);
	/* Until the file is known to be ours, closing must not checkpoint. */
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	/* checked above: re-read only the version (cheap), else check now */
	rc = checked ? pragma_int(s, "PRAGMA user_version", &s->version, err) : check_file(s, err);
	if (rc == BOT_EOK && s->version > STORE_SQLITE_SCHEMA_VERSION)
		rc = bot_error_set(err, BOT_EVERSION, "database schema v%d is newer than this bot "
				   "(v%d); refusing to touch it (%s)", s->version,
				   STORE_SQLITE_SCHEMA_VERSION, s->path);
	if (rc)
		goto out;
	if (o->read_only) {
		if (s->version == 0)
			rc = bot_error_set(err, BOT_ENOTFOUND, "store: %s holds no gate store",
					   o->path);
		goto out;
	}
	rc = configure(s, err);
	if (rc == BOT_EOK)
		rc = migrate(s, err);
	if (rc == BOT_EOK)
		sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);
out:
	if (rc) {
		if (s)
			sq_close(&s->base);
		return rc;
	}
	*out = &s->base;
	return BOT_EOK;
}

/* ---- gate rows --------------------------------------------------------- */

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static char *col_dup(sqlite3_stmt *st, int i, bool *oom)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	char *d;
	if (!t)
		return NULL;
	d = strdup(t);
	if (!d)
		*oom = true;
	return d;
}

/* JSON array of strings <-> char **. */
static char *strv_to_json(char *const *v, size_t n)
{
	json_t *a = json_array();
	char *out = NULL;
	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(v[i])) != 0)
			goto out;
	if (a)
		out = json_dumps(a, JSON_COMPACT);
out:
	json_decref(a);
	return out;
}

static int strv_from_json(const char *text, char ***out, size_t *n)
{
	json_t *a = text ? json_loads(text, 0, NULL) : NULL;
	size_t len = json_is_array(a) ? json_array_size(a) : 0;
	char **v = NULL;
	int rc = BOT_EOK;

	*out = NULL;
	*n = 0;
	if (!json_is_array(a)) {
		rc = BOT_ECORRUPT;
		goto out;
	}
	if (len && !(v = calloc(len, sizeof *v))) {
		rc = BOT_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < len; i++) {
		const char *sv = json_string_value(json_array_get(a, i));
		if (!sv || !(v[i] = strdup(sv))) {
			free_strv(v, len);
			v = NULL;
			rc = sv ? BOT_ENOMEM : BOT_ECORRUPT;
			goto out;
		}
	}
	*out = v;
	*n = len;
out:
	json_decref(a);
	return rc;
}

static int load_approvals(struct sq *s, struct store_gate *g, struct bot_error *err)
{
	sqlite3_stmt *st = stmt(s, Q_APPROVALS_OF, err);
	int rc = BOT_EOK, step;
	size_t cap = 0;

	if (!st)
		return BOT_ESTORE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)g->id);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		bool oom = false;
		if (g->n_approved == cap) {
			size_t nc = cap ? cap * 2 : 4;
			char **nv = realloc(g->approved_by, nc * sizeof *nv);
			if (!nv) {
				rc = bot_error_set(err, BOT_ENOMEM, "store: out of memory");
				goto out;
			}
			g->approved_by = nv;
			cap = nc;
		}
		g->approved_by[g->n_approved] = col_dup(st, 0, &oom);
		if (oom) {
			rc = bot_error_set(err, BOT_ENOMEM, "store: out of memory");
			goto out;
		}
		g->n_approved++;
	}
	if (step != SQLITE_DONE)
		rc = db_err(s, err, "approvals");
out:
	done(st);
	return rc;
}

static int64_t col_ms(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, i);
}

/* Fill g from a row of GATE_COLS. */
static int read_gate(struct sq *s, sqlite3_stmt *st, struct store_gate *g,
		     struct bot_error *err)
{
	bool oom = false;
	int rc;
	const char *state = (const char *)sqlite3_column_text(st, 19);
	const char *decision = (const char *)sqlite3_column_text(st, 20);

	memset(g, 0, sizeof *g);
	g->id = (uint64_t)sqlite3_column_int64(st, 0);
	g->service = col_dup(st, 1, &oom);
	g->cluster = col_dup(st, 2, &oom);
	g->ecs_service = col_dup(st, 3, &oom);
	g->requester = col_dup(st, 4, &oom);
	g->target = sqlite3_column_int(st, 5);
	g->desired_at_request = sqlite3_column_int(st, 6);
	g->reason = col_dup(st, 7, &oom);
	g->timer_ms = (uint64_t)sqlite3_column_int64(st, 8);
	rc = strv_from_json((const char *)sqlite3_column_text(st, 9), &g->approvers, &g->n_approvers);
	g->min_approvals = sqlite3_column_int(st, 10);
	g->allow_self = sqlite3_column_int(st, 11) != 0;
	g->force_new_deployment = sqlite3_column_int(st, 12) != 0;
	g->channel = col_dup(st, 13, &oom);
	g->message_ts = col_dup(st, 14, &oom);
	g->evidence = col_dup(st, 15, &oom);
	g->created_at = col_ms(st, 16);
	g->delivered_at = col_ms(st, 17);
	g->deadline = col_ms(st, 18);
	g->decided_by = col_dup(st, 21, &oom);
	g->decided_at = col_ms(st, 22);
	g->decision_detail = col_dup(st, 23, &oom);
	g->exec_intent = col_dup(st, 24, &oom);
	g->exec_from = sqlite3_column_int(st, 25);
	g->exec_started_at = col_ms(st, 26);
	g->result_kind = col_dup(st, 27, &oom);
	g->result_detail = col_dup(st, 28, &oom);
	g->aws_code = col_dup(st, 29, &oom);
	g->aws_request_id = col_dup(st, 30, &oom);
	g->finished_at = col_ms(st, 31);
	g->updated_at = col_ms(st, 32);
	g->action = col_dup(st, 33, &oom);
	g->params = col_dup(st, 34, &oom);
	g->version = (uint64_t)sqlite3_column_int64(st, 35);
	g->exec_owner = col_dup(st, 36, &oom);
	g->exec_lease_until = col_ms(st, 37);
	if (oom || rc == BOT_ENOMEM) {
		rc = bot_error_set(err, BOT_ENOMEM, "store: out of memory");
		goto out;
	}
	if (rc || store_state_parse(state, &g->state) ||
	    (decision && store_state_parse(decision, &g->decision))) {
		rc = bot_error_set(err, BOT_ECORRUPT, "store: gate %" PRIu64 " has a malformed row",
				   g->id);
		goto out;
	}
	if (!decision)
		g->decision = GATE_PENDING;
	rc = load_approvals(s, g, err);
out:
	if (rc)
		store_gate_clear(g);
	return rc;
}

static int sq_gate_get(struct store *b, uint64_t id, struct store_gate *out,
		       struct bot_error *err)
{
	struct sq *s = SQ(b);
	sqlite3_stmt *st = stmt(s, Q_GATE_GET, err);
	int rc, step;

	if (!st)
		return BOT_ESTORE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		rc = read_gate(s, st, out, err);
	else if (step == SQLITE_DONE)
		rc = bot_error_set(err, BOT_ENOTFOUND, "no gate #%" PRIu64, id);
	else
		rc = db_err(s, err, "get gate");
	done(st);
	return rc;
}

/* Append the rows of st (GATE_COLS) to *v. */
static int read_rows(struct sq *s, sqlite3_stmt *st, size_t limit, struct store_gate **v,
		     size_t *len, size_t *cap, struct bot_error *err)
{
	int rc = BOT_EOK, step = SQLITE_DONE;

	while (*len < limit && (step = sqlite3_step(st)) == SQLITE_ROW) {
		if (*len == *cap) {
			size_t nc = *cap ? *cap * 2 : 16;
			struct store_gate *nv = realloc(*v, nc * sizeof *nv);
			if (!nv)
				return bot_error_set(err, BOT_ENOMEM, "store: out of memory");
			*v = nv;
			*cap = nc;
		}
		rc = read_gate(s, st, &(*v)[*len], err);
		if (rc)
			return rc;
		(*len)++;
	}
	if (*len < limit && step != SQLITE_DONE)
		rc = db_err(s, err, "list gates");
	return rc;
}

static int sq_gate_list(struct store *b, unsigned mask, struct store_gate **out, size_t *n,
			struct bot_error *err)
{
	struct sq *s = SQ(b);
	struct store_gate *v = NULL;
	size_t len = 0, cap = 0;
	int rc = BOT_EOK;

	for (unsigned state = 0; state < GATE_STATE_COUNT && rc == BOT_EOK; state++) {
		sqlite3_stmt *st;

		if (!(mask & GATE_STATE_BIT(state)))
			continue;
		st = stmt(s, Q_GATE_BY_STATE, err);
		if (!st) {
			rc = BOT_ESTORE;
			break;
		}
		sqlite3_bind_text(st, 1, state_text[state], -1, SQLITE_STATIC);
		rc = read_rows(s, st, SIZE_MAX, &v, &len, &cap, err);
		done(st);
	}
	if (rc) {
		store_gate_array_free(v, len);
		return rc;
	}
	*out = v;
	*n = len;
	return BOT_EOK;
}

static int sq_gate_recent(struct store *b, size_t limit, struct store_gate **out, size_t *n,
			  struct bot_error *err)
{
	struct sq *s = SQ(b);
	struct store_gate *v = NULL;
	size_t len = 0, cap = 0;
	sqlite3_stmt *st = stmt(s, Q_GATE_RECENT, err);
	int rc;

	if (!st)
		return BOT_ESTORE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)limit);
	rc = read_rows(s, st, limit, &v, &len, &cap, err);
	done(st);
	if (rc) {
		store_gate_array_free(v, len);
		return rc;
	}
	*out = v;
	*n = len;
	return BOT_EOK;
}

static int sq_gate_counts(struct store *b, uint64_t counts[GATE_STATE_COUNT],
			  struct bot_error *err)
{
	struct sq *s = SQ(b);
	sqlite3_stmt *st = stmt(s, Q_GATE_COUNTS, err);
	int step, rc;

	if (!st)
		return BOT_ESTORE;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		enum gate_state gs;
		if (store_state_parse((const char *)sqlite3_column_text(st, 0), &gs) == BOT_EOK)
			counts[gs] = (uint64_t)sqlite3_column_int64(st, 1);
	}
	rc = step == SQLITE_DONE ? BOT_EOK : db_err(s, err, "count gates");
	done(st);
	return rc;
}

/* ---- audit chain ------------------------------------------------------- */

/* One writer at a time (the database's write lock), so one chain: every
 * event is in the log chain (chain 0), seq 1, 2, 3... over the whole store. */

/* Append one event, sealed with the chain's hash; runs inside the
 * caller's transaction (which holds the write lock, so the tail read here
 * is the tail the event lands on). */
static int audit_append(struct sq *s, uint64_t gate_id, int64_t at, const char *actor,
			const char *kind, const char *from, const char *to, const char *detail,
			struct bot_error *err)
{
	char prev[65] = CHAIN_GENESIS, hash[65];
	struct store_audit_row r = {0};
	sqlite3_stmt *st = stmt(s, Q_AUDIT_LAST, err);
	int rc = BOT_EOK, step;

	if (!st)
		return BOT_ESTORE;
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(st, 1);
		r.seq = sqlite3_column_int64(st, 0);
		snprintf(prev, sizeof prev, "%s", h ? h : "");
	} else if (step != SQLITE_DONE) {
		rc = db_err(s, err, "audit tail");
	}
	done(st);
	if (rc)
		return rc;
	r.seq++;
	r.gate_id = gate_id;
	r.at = at;
	r.actor = actor ? actor : "system";
	r.kind = kind;
	r.from_state = from;
	r.to_state = to;
	r.detail = detail ? detail : "{}";
	r.prev_hash = prev;
	if (chain_hash(&r, hash) != BOT_EOK)
		return bot_error_set(err, BOT_ENOMEM, "store: cannot hash the audit event");
	st = stmt(s, Q_AUDIT_INSERT, err);
	if (!st)
		return BOT_ESTORE;
	sqlite3_bind_int64(st, 1, r.seq);
	if (gate_id)
		sqlite3_bind_int64(st, 2, (sqlite3_int64)gate_id);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_int64(st, 3, at);
	bind_text(st, 4, r.actor);
	bind_text(st, 5, r.kind);
	bind_text(st, 6, from);
	bind_text(st, 7, to);
	bind_text(st, 8, r.detail);
	bind_text(st, 9, prev);
	bind_text(st, 10, hash);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_err(s, err, "audit append");
	done(st);
	return rc;
}

static int sq_audit_add(struct store *b, uint64_t gate_id, const char *actor, const char *kind,
			const char *detail, struct bot_error *err)
{
	struct sq *s = SQ(b);
	int rc = tx_begin(s, err);
	if (rc)
		return rc;
	rc = audit_append(s, gate_id, now_ms(s), actor, kind, NULL, NULL, detail, err);
	return finish(s, rc, err);
}

static int sq_audit_each(struct store *b, int64_t since_ms, store_audit_fn fn, void *ud,
			 struct bot_error *err)
{
	struct sq *s = SQ(b);
	sqlite3_stmt *st = stmt(s, Q_AUDIT_SINCE, err);
	int rc = BOT_EOK, step;

	if (!st)
		return BOT_ESTORE;
	sqlite3_bind_int64(st, 1, since_ms);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_audit_row r = {
			.chain = 0, /* one chain: see above */
			.seq = sqlite3_column_int64(st, 0),
			.gate_id = (uint64_t)sqlite3_column_int64(st, 1),
			.at = sqlite3_column_int64(st, 2),
			.actor = (const char *)sqlite3_column_text(st, 3),
			.kind = (const char *)sqlite3_column_text(st, 4),
			.from_state = (const char *)sqlite3_column_text(st, 5),
			.to_state = (const char *)sqlite3_column_text(st, 6),
			.detail = (const char *)sqlite3_column_text(st, 7),
			.prev_hash = (const char *)sqlite3_column_text(st, 8),
			.hash = (const char *)sqlite3_column_text(st, 9),
		};
		rc = fn(ud, &r);
		if (rc)
			break;
	}
	if (rc == BOT_EOK && step != SQLITE_DONE)
		rc = db_err(s, err, "audit read");
	done(st);
	return rc;
}

/* ---- the service a live gate holds ------------------------------------- */

/* Who holds (cluster, ecs_service): *holder 0 when nobody does, or when the
 * holder is no longer live (then the lock is stale and free to take). */
static int lock_holder(struct sq *s, const char *cluster, const char *ecs_service,
		       uint64_t *holder, struct bot_error *err)
{
	sqlite3_stmt *st = stmt(s, Q_LOCK_HOLDER, err);
	int rc = BOT_EOK, step;

	*holder = 0;
	if (!st)
		return BOT_ESTORE;
	bind_text(st, 1, cluster);
	bind_text(st, 2, ecs_service);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		enum gate_state gs;
		const char *state = (const char *)sqlite3_column_text(st, 1);
		if (store_state_parse(state, &gs) == BOT_EOK && !store_state_final(gs))
			*holder = (uint64_t)sqlite3_column_int64(st, 0);
	} else if (step != SQLITE_DONE) {
		rc = db_err(s, err, "service lock");
	}
	done(st);
	return rc;
}

static int lock_run(struct sq *s, enum q q, const char *cluster, const char *ecs_service,
		    uint64_t id, struct bot_error *err)
{
	sqlite3_stmt *st = stmt(s, q, err);
	int rc = BOT_EOK;

	if (!st)
		return BOT_ESTORE;
	if (q == Q_LOCK_TAKE) {
		bind_text(st, 1, cluster);
		bind_text(st, 2, ecs_service);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)id);
	} else {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	}
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_err(s, err, "service lock");
	done(st);
	return rc;
}

static int sq_service_holder(struct store *b, const char *cluster, const char *ecs_service,
			     uint64_t *holder, struct bot_error *err)
{
	return lock_holder(SQ(b), cluster, ecs_service, holder, err);
}

/* Take the service for gate id unless another live gate holds it. */
static int lock_take(struct sq *s, const char *cluster, const char *ecs_service, uint64_t id,
		     uint64_t *holder, struct bot_error *err)
{
	int rc = lock_holder(s, cluster, ecs_service, holder, err);
	if (rc || *holder == id)
		return rc;
	if (*holder)
		return BOT_EOK;
	return lock_run(s, Q_LOCK_TAKE, cluster, ecs_service, id, err);
}

/* ---- writes ------------------------------------------------------------ */

static int insert_gate(struct sq *s, struct store_gate *g, const char *approvers, int64_t now,
		       struct bot_error *err)
{
	sqlite3_stmt *st = stmt(s, Q_GATE_INSERT, err);
	int rc = BOT_EOK;

	if (!st)
		return BOT_ESTORE;
	bind_text(st, 1, g->service);
	bind_text(st, 2, g->cluster);
	bind_text(st, 3, g->ecs_service);
	bind_text(st, 4, g->requester);
	sqlite3_bind_int(st, 5, g->target);
	sqlite3_bind_int(st, 6, g->desired_at_request);
	bind_text(st, 7, g->reason ? g->reason : "");
	sqlite3_bind_int64(st, 8, (sqlite3_int64)g->timer_ms);
	bind_text(st, 9, approvers);
	sqlite3_bind_int(st, 10, g->min_approvals);
	sqlite3_bind_int(st, 11, g->allow_self);
	sqlite3_bind_int(st, 12, g->force_new_deployment);
	bind_text(st, 13, g->channel);
	bind_text(st, 14, g->evidence ? g->evidence : "");
	sqlite3_bind_int64(st, 15, now);
	bind_text(st, 16, g->action ? g->action : STORE_ACTION_SCALE);
	bind_text(st, 17, g->params ? g->params : "{}");
	bind_text(st, 18, g->exec_owner);
	if (g->exec_lease_until)
		sqlite3_bind_int64(st, 19, g->exec_lease_until);
	else
		sqlite3_bind_null(st, 19);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_err(s, err, "insert gate");
	else
		g->id = (uint64_t)sqlite3_last_insert_rowid(s->db);
	done(st);
	return rc;
}

static int sq_gate_open(struct store *b, struct store_gate *g, enum store_result *res,
			uint64_t *holder, struct bot_error *err)
{
	struct sq *s = SQ(b);
	char *approvers = strv_to_json(g->approvers, g->n_approvers);
	char *detail_s = store__request_detail(g);
	int64_t now = now_ms(s);
	int rc;

	if (!approvers || !detail_s) {
		rc = bot_error_set(err, BOT_ENOMEM, "store: out of memory");
		goto out;
	}
	if (!g->service || !g->cluster || !g->ecs_service || !g->requester) {
		rc = bot_error_set(err, BOT_EINVAL, "store: a gate needs service, cluster, "
				   "ecs_service and requester");
		goto out;
	}
	rc = tx_begin(s, err);
	if (rc)
		goto out;
	rc = lock_holder(s, g->cluster, g->ecs_service, holder, err);
	if (rc == BOT_EOK && *holder) {
		*res = STORE_BUSY;
		tx_rollback(s);
		goto out;
	}
	if (rc == BOT_EOK)
		rc = insert_gate(s, g, approvers, now, err);
	if (rc == BOT_EOK)
		rc = lock_run(s, Q_LOCK_TAKE, g->cluster, g->ecs_service, g->id, err);
	if (rc == BOT_EOK)
		rc = audit_append(s, g->id, now, g->requester, "requested", NULL, "PENDING",
				  detail_s, err);
	rc = finish(s, rc, err);
	if (rc == BOT_EOK) {
		*res = STORE_DONE;
		g->version = 1;
		g->created_at = g->updated_at = now;
		g->state = GATE_PENDING;
		g->decision = GATE_PENDING;
	}
out:
	free(approvers);
	free(detail_s);
	return rc;
}

static int sq_gate_delivered(struct store *b, uint64_t id, const char *channel, const char *ts,
			     bool *armed, struct bot_error *err)
{
	struct sq *s = SQ(b);
	int64_t now = now_ms(s);
	sqlite3_stmt *st;
	char *detail = NULL;
	int rc, changed = 0;

	rc = tx_begin(s, err);
	if (rc)
		return rc;
	st = stmt(s, Q_DELIVERED_TS, err);
	if (!st) {
		rc = BOT_ESTORE;
		goto out;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	bind_text(st, 2, channel);
	bind_text(st, 3, ts);
	sqlite3_bind_int64(st, 4, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_err(s, err, "record delivery");
	done(st);
	if (rc)
		goto out;
	st = stmt(s, Q_DELIVERED_ARM, err);
	if (!st) {
		rc = BOT_ESTORE;
		goto out;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_int64(st, 2, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_err(s, err, "arm deadline");
	else
		changed = sqlite3_changes(s->db);
	done(st);
	if (rc)
		goto out;
	{
		json_t *d = json_pack("{s:s*, s:s*, s:b}", "channel", channel, "ts", ts,
				      "timer_started", changed == 1);
		detail = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		json_decref(d);
	}
	if (!detail) {
		rc = bot_error_set(err, BOT_ENOMEM, "store: out of memory");
		goto out;
	}
	rc = audit_append(s, id, now, "system", "delivered", NULL, NULL, detail, err);
out:
	free(detail);
	rc = finish(s, rc, err);
	if (rc == BOT_EOK)
		*armed = changed == 1;
	return rc;
}

static char *lower_dup(const char *s)
{
	char *d = strdup(s);
	for (char *p = d; p && *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return d;
}

/* The conditional UPDATE of c and its audit event, inside the caller's
 * transaction. *changed is false when the gate was not in c->from. */
static int apply_change(struct sq *s, const struct store_change *c, int64_t now, bool *changed,
			struct bot_error *err)
{
	char *kind = c->kind ? strdup(c->kind) : lower_dup(store_state_name(c->to));
	sqlite3_stmt *st;
	int rc = BOT_EOK;

	*changed = false;
	if (!kind)
		return bot_error_set(err, BOT_ENOMEM, "store: out of memory");
	st = stmt(s, Q_CHANGE, err);
	if (!st) {
		rc = BOT_ESTORE;
		goto out;
	}
	sqlite3_bind_text(st, 1, state_text[c->to], -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	if (c->from == GATE_PENDING) {
		sqlite3_bind_text(st, 3, state_text[c->to], -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, now);
	}
	bind_text(st, 4, c->decided_by);
	bind_text(st, 6, c->decision_detail);
	bind_text(st, 7, c->exec_intent);
	if (c->set_exec_from)
		sqlite3_bind_int(st, 8, c->exec_from);
	if (c->to == GATE_EXECUTING) {
		sqlite3_bind_int64(st, 9, now);
		bind_text(st, 17, c->owner);
		if (c->lease_ms)
			sqlite3_bind_int64(st, 18, now + (int64_t)c->lease_ms);
	}
	bind_text(st, 10, c->result_kind);
	bind_text(st, 11, c->result_detail);
	bind_text(st, 12, c->aws_code);
	bind_text(st, 13, c->aws_request_id);
	if (store_state_final(c->to))
		sqlite3_bind_int64(st, 14, now);
	sqlite3_bind_int64(st, 15, (sqlite3_int64)c->gate_id);
	sqlite3_bind_text(st, 16, state_text[c->from], -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_err(s, err, "change gate state");
	else
		*changed = sqlite3_changes(s->db) == 1;
	done(st);
	if (rc || !*changed)
		goto out;
	rc = audit_append(s, c->gate_id, now, c->actor, kind, state_text[c->from],
			  state_text[c->to], c->detail, err);
	if (rc == BOT_EOK && store_state_final(c->to))
		rc = lock_run(s, Q_LOCK_RELEASE, NULL, NULL, c->gate_id, err);
out:
	free(kind);
	return rc;
}

/* Into EXECUTING only while holding the service. */
static int claim_service(struct sq *s, uint64_t id, bool *busy, struct bot_error *err)
{
	struct store_gate g = {0};
	uint64_t holder = 0;
	int rc = sq_gate_get(&s->base, id, &g, err);

	*busy = false;
	if (rc == BOT_EOK)
		rc = lock_take(s, g.cluster, g.ecs_service, id, &holder, err);
	if (rc == BOT_EOK)
		*busy = holder && holder != id;
	store_gate_clear(&g);
	return rc;
}

static int sq_gate_change(struct store *b, const struct store_change *c, enum store_result *res,
			  struct bot_error *err)
{
	struct sq *s = SQ(b);
	bool changed = false, busy = false;
	int rc = tx_begin(s, err);

	if (rc)
		return rc;
	if (c->to == GATE_EXECUTING)
		rc = claim_service(s, c->gate_id, &busy, err);
	if (rc == BOT_EOK && busy) {
		*res = STORE_BUSY;
		tx_rollback(s);
		return BOT_EOK;
	}
	if (rc == BOT_EOK || rc == BOT_ENOTFOUND)
		rc = rc ? BOT_EOK : apply_change(s, c, now_ms(s), &changed, err);
	if (rc == BOT_EOK && !changed) {
		tx_rollback(s); /* lost: nothing written, the caller's view is stale */
		return BOT_EOK;
	}
	rc = finish(s, rc, err);
	if (rc == BOT_EOK)
		*res = STORE_DONE;
	return rc;
}

/* ---- votes ------------------------------------------------------------- */

/* Record event id; *seen when it was recorded within the retention. */
static int seen_in_tx(struct sq *s, const char *id, int64_t now, bool *seen,
		      struct bot_error *err)
{
	sqlite3_stmt *st = stmt(s, Q_SEEN, err);
	int rc = BOT_EOK;

	if (!st)
		return BOT_ESTORE;
	bind_text(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, now - (int64_t)s->base.retention_ms);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_err(s, err, "record event id");
	else
		*seen = sqlite3_changes(s->db) == 0;
	done(st);
	return rc;
}

/* Is gate id at version (missing: absent)? */
static int vote_matches(struct sq *s, const struct store_vote *v, bool *ok, struct bot_error *err)
{
	sqlite3_stmt *st = stmt(s, Q_GATE_VERSION, err);
	int rc = BOT_EOK, step;

	*ok = false;
	if (!st)
		return BOT_ESTORE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)v->gate_id);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		*ok = !v->gate_missing && (uint64_t)sqlite3_column_int64(st, 0) == v->version;
	else if (step == SQLITE_DONE)
		*ok = v->gate_missing;
	else
		rc = db_err(s, err, "gate version");
	done(st);
	return rc;
}

static int count_approval(struct sq *s, const struct store_vote *v, int64_t now, bool *added,
			  struct bot_error *err)
{
	sqlite3_stmt *st = stmt(s, Q_APPROVAL_ADD, err);
	int rc = BOT_EOK;

	*added = false;
	if (!st)
		return BOT_ESTORE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)v->gate_id);
	bind_text(st, 2, v->approve_user);
	sqlite3_bind_int64(st, 3, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_err(s, err, "add approval");
	else
		*added = sqlite3_changes(s->db) == 1;
	done(st);
	return rc;
}

static int bump(struct sq *s, uint64_t id, int64_t now, struct bot_error *err)
{
	sqlite3_stmt *st = stmt(s, Q_BUMP, err);
	int rc = BOT_EOK;

	if (!st)
		return BOT_ESTORE;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
	sqlite3_bind_int64(st, 2, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_err(s, err, "bump gate version");
	done(st);
	return rc;
}

static int sq_gate_vote(struct store *b, const struct store_vote *v, enum store_result *res,
			struct bot_error *err)
{
	struct sq *s = SQ(b);
	int64_t now = now_ms(s);
	bool seen = false, ok = true, added = true, changed = true;
	int rc = tx_begin(s, err);

	if (rc)
		return rc;
	if (v->event_id && v->event_id[0]) {
		rc = seen_in_tx(s, v->event_id, now, &seen, err);
		if (rc == BOT_EOK && seen) {
			*res = STORE_DUPLICATE;
			tx_rollback(s);
			return BOT_EOK;
		}
	}
	if (rc == BOT_EOK && v->gate_id)
		rc = vote_matches(s, v, &ok, err);
	if (rc == BOT_EOK && ok && v->approve_user)
		rc = count_approval(s, v, now, &added, err);
	if (rc == BOT_EOK && ok && added)
		rc = audit_append(s, v->gate_id, now, v->actor, v->kind, NULL, NULL, v->detail, err);
	if (rc == BOT_EOK && ok && added && v->to != GATE_PENDING) {
		struct store_change c = {
			.gate_id = v->gate_id, .from = GATE_PENDING, .to = v->to,
			.actor = v->actor, .detail = v->change_detail,
			.decided_by = v->decided_by, .decision_detail = v->decision_detail,
		};
		rc = apply_change(s, &c, now, &changed, err);
	} else if (rc == BOT_EOK && ok && added && v->approve_user) {
		rc = bump(s, v->gate_id, now, err);
	}
	if (rc == BOT_EOK && !(ok && added && changed)) {
		tx_rollback(s); /* the gate moved since it was read: nothing written */
		return BOT_EOK;
	}
	rc = finish(s, rc, err);
	if (rc == BOT_EOK)
		*res = STORE_DONE;
	return rc;
}

/* ---- leases ------------------------------------------------------------ */

static int sq_gate_lease(struct store *b, const struct store_lease *l, enum store_result *res,
			 struct bot_error *err)
{
	struct sq *s = SQ(b);
	int64_t now = now_ms(s);
	sqlite3_stmt *st;
	bool changed = false;
	int rc = tx_begin(s, err);

	if (rc)
		return rc;
	st = stmt(s, Q_LEASE, err);
	if (!st) {
		rc = BOT_ESTORE;
		goto out;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)l->gate_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)l->version);
	sqlite3_bind_text(st, 3, l->owner, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now + (int64_t)l->lease_ms);
	sqlite3_bind_int64(st, 5, now);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_err(s, err, "renew the claim");
	else
		changed = sqlite3_changes(s->db) == 1;
	done(st);
	if (rc == BOT_EOK && !changed) {
		tx_rollback(s);
		return BOT_EOK;
	}
	if (rc == BOT_EOK)
		rc = audit_append(s, l->gate_id, now, l->owner, l->kind, NULL, NULL, l->detail, err);
out:
	rc = finish(s, rc, err);
	if (rc == BOT_EOK)
		*res = STORE_DONE;
	return rc;
}

/* ---- deduplication ----------------------------------------------------- */

static int sq_purge_events(struct store *b, int64_t older_than, int *n, struct bot_error *err)
{
	struct sq *s = SQ(b);
	sqlite3_stmt *st;
	int rc = tx_begin(s, err);

	if (rc)
		return rc;
	st = stmt(s, Q_PURGE, err);
	if (!st) {
		rc = BOT_ESTORE;
		goto out;
	}
	sqlite3_bind_int64(st, 1, older_than);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_err(s, err, "purge processed ids");
	else if (n)
		*n = sqlite3_changes(s->db);
	done(st);
out:
	return finish(s, rc, err);
}

/* A turn's processed ids in one transaction: one fsync for a burst. */
static int sq_seen_events(struct store *b, const char *const *ids, size_t n, bool *seen,
			  struct bot_error *err)
{
	struct sq *s = SQ(b);
	int64_t now = now_ms(s);
	int rc = tx_begin(s, err);

	if (rc)
		return rc;
	if (now - s->last_purge >= PURGE_EVERY_MS) {
		rc = sq_purge_events(b, now - (int64_t)s->base.retention_ms, NULL, err);
		if (rc)
			goto out;
		s->last_purge = now;
	}
	for (size_t i = 0; i < n && !rc; i++)
		rc = seen_in_tx(s, ids[i], now, &seen[i], err);
out:
	return finish(s, rc, err);
}

static int sq_seen_event(struct store *b, const char *id, bool *seen, struct bot_error *err)
{
	return sq_seen_events(b, &id, 1, seen, err);
}

/* ---- alarm records ----------------------------------------------------- */

static int sq_alarm_get(struct store *b, const char *key, struct store_alarm *out,
			struct bot_error *err)
{
	struct sq *s = SQ(b);
	sqlite3_stmt *st = stmt(s, Q_ALARM_GET, err);
	bool oom = false;
	int rc = BOT_EOK, step;

	if (!st)
		return BOT_ESTORE;
	store_alarm_clear(out);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		sqlite3_int64 v = sqlite3_column_int64(st, 0);
		if (v <= 0 || sqlite3_column_type(st, 1) != SQLITE_TEXT) {
			rc = bot_error_set(err, BOT_ECORRUPT, "store: the alarm record of %s is "
					   "malformed (version %lld)", key, (long long)v);
			goto out;
		}
		out->version = (uint64_t)v;
		out->body = col_dup(st, 1, &oom);
		out->updated_at = col_ms(st, 2);
		out->key = strdup(key);
		if (oom || !out->key)
			rc = bot_error_set(err, BOT_ENOMEM, "store: out of memory");
	} else if (step == SQLITE_DONE) {
		out->key = strdup(key); /* none: version 0, body NULL */
		if (!out->key)
			rc = bot_error_set(err, BOT_ENOMEM, "store: out of memory");
	} else {
		rc = db_err(s, err, "read an alarm record");
	}
out:
	done(st);
	if (rc)
		store_alarm_clear(out);
	return rc;
}

/* One statement, so one atomic conditional write: the insert does nothing
 * when the key exists, the update nothing unless the version matches.
 * (Inside BEGIN IMMEDIATE like every write: the same lock discipline.) */
static int sq_alarm_put(struct store *b, const char *key, uint64_t version, const char *body,
			enum store_result *res, struct store_alarm *out, struct bot_error *err)
{
	struct sq *s = SQ(b);
	int64_t now = now_ms(s);
	sqlite3_stmt *st;
	bool changed = false;
	char *k;
	int rc;

	*res = STORE_LOST;
	if (version > (uint64_t)INT64_MAX - 1)
		return BOT_EOK; /* no stored version is that high */
	k = strdup(key); /* the answer's, taken before anything is written */
	if (!k)
		return bot_error_set(err, BOT_ENOMEM, "store: out of memory");
	rc = tx_begin(s, err);
	if (rc)
		goto out;
	st = stmt(s, version ? Q_ALARM_UPDATE : Q_ALARM_INSERT, err);
	if (!st) {
		rc = BOT_ESTORE;
		goto end;
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, body, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	if (version)
		sqlite3_bind_int64(st, 4, (sqlite3_int64)version);
	if (sqlite3_step(st) != SQLITE_DONE)
		rc = db_err(s, err, "write an alarm record");
	else
		changed = sqlite3_changes(s->db) == 1;
	done(st);
end:
	rc = finish(s, rc, err);
	if (rc == BOT_EOK && changed) {
		*res = STORE_DONE;
		store_alarm_clear(out);
		out->key = k;
		k = NULL;
		out->version = version + 1;
		out->updated_at = now;
	}
out:
	free(k);
	return rc;
}

int store_sqlite_alarm_each(struct store *b, store_sqlite_alarm_fn fn, void *ud,
			    struct bot_error *err)
{
	struct sq *s;
	sqlite3_stmt *st;
	int rc = BOT_EOK, step;

	if (!b || b->ops != &sqlite_ops || !fn)
		return bot_error_set(err, BOT_EINVAL, "store: not a SQLite store");
	s = SQ(b);
	if (s->version < 3) /* a read-only store from before alarm records */
		return BOT_EOK;
	st = stmt(s, Q_ALARM_ALL, err);
	if (!st)
		return BOT_ESTORE;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_alarm a = {
			.key = (char *)sqlite3_column_text(st, 0),
			.version = (uint64_t)sqlite3_column_int64(st, 1),
			.body = (char *)sqlite3_column_text(st, 2),
			.updated_at = col_ms(st, 3),
		};
		if (!a.key || !a.body || sqlite3_column_int64(st, 1) <= 0) {
			rc = bot_error_set(err, BOT_ECORRUPT, "store: a malformed alarm record (%s)",
					   a.key ? a.key : "no key");
			break;
		}
		rc = fn(ud, &a);
		if (rc)
			break;
	}
	if (!rc && step != SQLITE_DONE)
		rc = db_err(s, err, "read the alarm records");
	done(st);
	return rc;
}

static const struct store_ops sqlite_ops = {
	.name = "sqlite",
	.close = sq_close,
	.where = sq_where,
	.gate_open = sq_gate_open,
	.gate_get = sq_gate_get,
	.service_holder = sq_service_holder,
	.gate_list = sq_gate_list,
	.gate_recent = sq_gate_recent,
	.gate_counts = sq_gate_counts,
	.gate_delivered = sq_gate_delivered,
	.gate_change = sq_gate_change,
	.gate_vote = sq_gate_vote,
	.seen_event = sq_seen_event,
	.seen_events = sq_seen_events,
	.purge_events = sq_purge_events,
	.audit_add = sq_audit_add,
	.audit_each = sq_audit_each,
	.gate_lease = sq_gate_lease,
	.alarm_get = sq_alarm_get,
	.alarm_put = sq_alarm_put,
};
