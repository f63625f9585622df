/* audit.c - audit log export and chain verification (see audit.h). */
#include "bot/domain/audit.h"
#include "bot/base/duration.h"
#include "bot/domain/chain.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- time -------------------------------------------------------------- */

static void iso_ms(char *buf, size_t n, int64_t ms)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	if (!gmtime_r(&secs, &tm)) {
		snprintf(buf, n, "%" PRId64, ms);
		return;
	}
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

int audit_parse_since(const char *s, int64_t now_ms, int64_t *out)
{
	struct tm tm = {0};
	int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, used = 0;
	uint64_t span;

	if (!s || !*s)
		return BOT_EINVAL;
	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &used) == 3 && used == 10) {
		const char *p = s + used;
		if (*p == 'T' || *p == ' ') {
			int k = 0;
			if (sscanf(p + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &k) != 3 || k != 8)
				return BOT_EINVAL;
			p += 1 + k;
			if (*p == '.') {
				int k2 = 0;
				if (sscanf(p + 1, "%3d%n", &ms, &k2) != 1 || k2 != 3)
					return BOT_EINVAL;
				p += 1 + k2;
			}
			if (*p == 'Z')
				p++;
		}
		if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
			return BOT_EINVAL;
		tm.tm_year = y - 1900;
		tm.tm_mon = mo - 1;
		tm.tm_mday = d;
		tm.tm_hour = h;
		tm.tm_min = mi;
		tm.tm_sec = sec;
		*out = (int64_t)timegm(&tm) * 1000 + ms;
		return BOT_EOK;
	}
	if (duration_parse(s, &span, NULL) == BOT_EOK && span <= (uint64_t)now_ms) {
		*out = now_ms - (int64_t)span;
		return BOT_EOK;
	}
	return BOT_EINVAL;
}

/* ---- export ------------------------------------------------------------ */

struct export_ctx {
	FILE *out;
	enum audit_format fmt;
	size_t n;
};

static void csv_field(FILE *f, const char *v, bool last)
{
	if (v) {
		bool quote = strpbrk(v, ",\"\r\n") != NULL;
		if (quote) {
			fputc('"', f);
			for (const char *p = v; *p; p++) {
				if (*p == '"')
					fputc('"', f);
				fputc(*p, f);
			}
			fputc('"', f);
		} else {
			fputs(v, f);
		}
	}
	fputs(last ? "\r\n" : ",", f);
}

static int export_row(void *ud, const struct store_audit_row *r)
{
	struct export_ctx *x = ud;
	char at[96], seq[24], gate[24];

	iso_ms(at, sizeof at, r->at);
	if (x->fmt == AUDIT_CSV) {
		snprintf(seq, sizeof seq, "%" PRId64, r->seq);
		snprintf(gate, sizeof gate, "%" PRIu64, r->gate_id);
		csv_field(x->out, seq, false);
		csv_field(x->out, at, false);
		csv_field(x->out, r->gate_id ? gate : NULL, false);
		csv_field(x->out, r->actor, false);
		csv_field(x->out, r->kind, false);
		csv_field(x->out, r->from_state, false);
		csv_field(x->out, r->to_state, false);
		csv_field(x->out, r->detail, false);
		csv_field(x->out, r->prev_hash, false);
		csv_field(x->out, r->hash, true);
	} else {
		json_t *detail = r->detail ? json_loads(r->detail, 0, NULL) : NULL;
		json_t *o = json_pack("{s:I, s:s, s:I, s:o, s:s, s:s, s:s*, s:s*, s:o, s:s, s:s}",
				      "seq", (json_int_t)r->seq, "at", at, "at_ms",
				      (json_int_t)r->at, "gate_id",
				      r->gate_id ? json_integer((json_int_t)r->gate_id) : json_null(),
				      "actor", r->actor ? r->actor : "", "kind",
				      r->kind ? r->kind : "", "from", r->from_state, "to",
				      r->to_state, "detail",
				      detail ? detail : json_string(r->detail ? r->detail : ""),
				      "prev_hash", r->prev_hash ? r->prev_hash : "", "hash",
				      r->hash ? r->hash : "");
		char *line = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		json_decref(o);
		if (!line)
			return BOT_ENOMEM;
		fputs(line, x->out);
		fputc('\n', x->out);
		free(line);
	}
	x->n++;
	return ferror(x->out) ? BOT_EIO : BOT_EOK;
}

int audit_export(struct store *s, int64_t since_ms, enum audit_format fmt, FILE *out,
		 size_t *n, struct bot_error *err)
{
	struct export_ctx x = {.out = out, .fmt = fmt};
	int rc;

	if (fmt == AUDIT_CSV)
		fputs("seq,at,gate_id,actor,kind,from,to,detail,prev_hash,hash\r\n", out);
	rc = store_audit_each(s, since_ms, export_row, &x, err);
	if (rc == BOT_ENOMEM)
		bot_error_set(err, rc, "audit: out of memory");
	else if (rc == BOT_EIO)
		bot_error_set(err, rc, "audit: write error");
	if (n)
		*n = x.n;
	if (rc == BOT_EOK && fflush(out) != 0)
		rc = bot_error_set(err, BOT_EIO, "audit: write error");
	return rc;
}

/* ---- verify ------------------------------------------------------------ */

struct verify_ctx {
	char prev[65];
	int64_t last_seq;
	size_t n;
	int64_t bad_seq;
	char why[200];
};

static int verify_row(void *ud, const struct store_audit_row *r)
{
	struct verify_ctx *v = ud;
	char hash[65];

	if (r->seq != v->last_seq + 1) {
		snprintf(v->why, sizeof v->why, "expected seq %" PRId64 " (events missing)",
			 v->last_seq + 1);
		goto bad;
	}
	if (!r->prev_hash || strcmp(r->prev_hash, v->prev) != 0) {
		snprintf(v->why, sizeof v->why, "prev_hash does not match the hash of seq %" PRId64
			 " (an event before it was changed, removed or inserted)", v->last_seq);
		goto bad;
	}
	if (chain_hash(r, hash) != BOT_EOK)
		return BOT_ENOMEM;
	if (!r->hash || strcmp(r->hash, hash) != 0) {
		snprintf(v->why, sizeof v->why, "its content does not match its hash (the event "
			 "was changed)");
		goto bad;
	}
	snprintf(v->prev, sizeof v->prev, "%s", r->hash);
	v->last_seq = r->seq;
	v->n++;
	return BOT_EOK;
bad:
	v->bad_seq = r->seq;
	return BOT_ECORRUPT;
}

int audit_verify(struct store *s, size_t *n, int64_t *bad_seq, struct bot_error *err)
{
	struct verify_ctx v = {.prev = CHAIN_GENESIS};
	int rc = store_audit_each(s, 0, verify_row, &v, err);

	if (rc == BOT_ECORRUPT)
		bot_error_set(err, rc, "audit chain broken at seq %" PRId64 ": %s", v.bad_seq, v.why);
	else if (rc == BOT_ENOMEM)
		bot_error_set(err, rc, "audit: out of memory");
	if (n)
		*n = v.n;
	if (bad_seq)
		*bad_seq = rc == BOT_ECORRUPT ? v.bad_seq : 0;
	return rc;
}
