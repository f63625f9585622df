/* audit.c - audit log export and chain verification (see audit.h). */
#include "bot/domain/audit.h"
#include "bot/base/duration.h"
#include "bot/domain/chain.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
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
	char at[96], seq[24], gate[24], chain[24];

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
		csv_field(x->out, r->hash, false);
		snprintf(chain, sizeof chain, "%" PRIu64, r->chain);
		csv_field(x->out, r->chain ? chain : NULL, true);
	} else {
		json_t *detail = r->detail ? json_loads(r->detail, 0, NULL) : NULL;
		json_t *o = json_pack("{s:I, s:o, s:s, s:I, s:o, s:s, s:s, s:s*, s:s*, s:o, s:s, "
				      "s:s}", "seq", (json_int_t)r->seq, "chain",
				      r->chain ? json_integer((json_int_t)r->chain) : json_null(),
				      "at", at, "at_ms",
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
		fputs("seq,at,gate_id,actor,kind,from,to,detail,prev_hash,hash,chain\r\n", out);
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

/* Where one chain is: its last seq and that row's hash (raw, 32 bytes). An
 * open-addressing table keyed by chain id: a store may hold one chain per
 * gate (100k gates: about 12 MB at most, only while verifying). */
struct tail {
	uint64_t chain;
	int64_t seq;
	unsigned char hash[32];
	bool used;
};

struct verify_ctx {
	struct tail *tails;
	size_t cap, used; /* cap: a power of two */
	size_t n;
	uint64_t bad_chain;
	int64_t bad_seq;
	char why[200];
};

static size_t slot_of(uint64_t chain, size_t cap)
{
	uint64_t h = chain * 0x9E3779B97F4A7C15ull; /* Fibonacci hashing */
	return (size_t)(h >> 32) & (cap - 1);
}

static struct tail *tail_find(struct tail *v, size_t cap, uint64_t chain)
{
	size_t i = slot_of(chain, cap);
	while (v[i].used && v[i].chain != chain)
		i = (i + 1) & (cap - 1);
	return &v[i];
}

/* The tail of chain (a new, empty one: seq 0, genesis), or NULL on OOM. */
static struct tail *tail_get(struct verify_ctx *v, uint64_t chain)
{
	struct tail *t;

	if ((v->used + 1) * 2 > v->cap) {
		size_t nc = v->cap ? v->cap * 2 : 64;
		struct tail *nv = calloc(nc, sizeof *nv);
		if (!nv)
			return NULL;
		for (size_t i = 0; i < v->cap; i++)
			if (v->tails[i].used)
				*tail_find(nv, nc, v->tails[i].chain) = v->tails[i];
		free(v->tails);
		v->tails = nv;
		v->cap = nc;
	}
	t = tail_find(v->tails, v->cap, chain);
	if (!t->used) {
		memset(t, 0, sizeof *t); /* seq 0 and CHAIN_GENESIS (all zero bytes) */
		t->used = true;
		t->chain = chain;
		v->used++;
	}
	return t;
}

static void hex_of(const unsigned char b[32], char out[65])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[64] = '\0';
}

/* hex is chain_hash()'s output: 64 lower-case hex digits. */
static void bytes_of(const char *hex, unsigned char out[32])
{
	for (int i = 0; i < 32; i++) {
		int hi = hex[2 * i], lo = hex[2 * i + 1];
		hi = hi <= '9' ? hi - '0' : hi - 'a' + 10;
		lo = lo <= '9' ? lo - '0' : lo - 'a' + 10;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
}

static int verify_row(void *ud, const struct store_audit_row *r)
{
	struct verify_ctx *v = ud;
	struct tail *t = tail_get(v, r->chain);
	char prev[65], hash[65];

	if (!t)
		return BOT_ENOMEM;
	if (r->chain && r->gate_id != r->chain) {
		snprintf(v->why, sizeof v->why, "it names gate %" PRIu64 " (an event of another "
			 "gate in this chain)", r->gate_id);
		goto bad;
	}
	if (r->seq != t->seq + 1) {
		snprintf(v->why, sizeof v->why, "expected seq %" PRId64 " (events missing)",
			 t->seq + 1);
		goto bad;
	}
	hex_of(t->hash, prev);
	if (!r->prev_hash || strcmp(r->prev_hash, prev) != 0) {
		snprintf(v->why, sizeof v->why, "prev_hash does not match the hash of seq %" PRId64
			 " (an event before it was changed, removed or inserted)", t->seq);
		goto bad;
	}
	if (chain_hash(r, hash) != BOT_EOK)
		return BOT_ENOMEM;
	if (!r->hash || strcmp(r->hash, hash) != 0) {
		snprintf(v->why, sizeof v->why, "its content does not match its hash (the event "
			 "was changed)");
		goto bad;
	}
	bytes_of(hash, t->hash);
	t->seq = r->seq;
	v->n++;
	return BOT_EOK;
bad:
	v->bad_chain = r->chain;
	v->bad_seq = r->seq;
	return BOT_ECORRUPT;
}

int audit_verify(struct store *s, size_t *n, uint64_t *bad_chain, int64_t *bad_seq,
		 struct bot_error *err)
{
	struct verify_ctx v = {0};
	int rc = store_audit_each(s, 0, verify_row, &v, err);

	if (rc == BOT_ECORRUPT && v.bad_chain)
		bot_error_set(err, rc, "audit chain of gate %" PRIu64 " broken at seq %" PRId64
			      ": %s", v.bad_chain, v.bad_seq, v.why);
	else if (rc == BOT_ECORRUPT)
		bot_error_set(err, rc, "audit log chain broken at seq %" PRId64 ": %s", v.bad_seq,
			      v.why);
	else if (rc == BOT_ENOMEM)
		bot_error_set(err, rc, "audit: out of memory");
	if (n)
		*n = v.n;
	if (bad_chain)
		*bad_chain = rc == BOT_ECORRUPT ? v.bad_chain : 0;
	if (bad_seq)
		*bad_seq = rc == BOT_ECORRUPT ? v.bad_seq : 0;
	free(v.tails);
	return rc;
}
