/* sigv4.c - AWS Signature Version 4 request signing (see sigv4.h).
 *
 *   CanonicalRequest = METHOD \n URI \n QUERY \n HEADERS \n SIGNED \n hex(SHA256(body))
 *   StringToSign     = ALGORITHM \n amz_date \n scope \n hex(SHA256(CanonicalRequest))
 *   kSigning         = HMAC(HMAC(HMAC(HMAC("AWS4" secret, yyyymmdd), region), service), "aws4_request")
 *   Signature        = hex(HMAC(kSigning, StringToSign))
 */
#include "adapters/aws/sigv4.h"
#include "bot/base/dbuf.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "bot/base/log.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
#define TERMINATOR "aws4_request"
#define KEY_LEN 32 /* SHA-256 output */

/* Headers that are sent but never signed: proxies and transports may add,
 * drop or rewrite them (botocore SIGNED_HEADERS_BLACKLIST, plus the
 * hop-by-hop "connection"). */
static const char *const unsigned_headers[] = {
	"connection", "expect", "transfer-encoding", "user-agent", "x-amzn-trace-id",
};

/* ---- a bounded growable string ---------------------------------------- */

/* BOT_EOK, or the code for the buffer's failure. */
static int sb_status(const struct dbuf *b, struct bot_error *err)
{
	if (b->oom)
		return bot_error_set(err, BOT_ENOMEM, "sigv4: out of memory");
	if (b->toobig)
		return bot_error_set(err, BOT_ETOOBIG, "sigv4: canonical request over %d bytes",
				     AWS_SIGV4_MAX_CANONICAL);
	return BOT_EOK;
}

/* ---- character classes and encodings (ASCII, locale-free) -------------- */

static bool is_alnum(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_unreserved(unsigned char c)
{
	return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 7230 tchar: what a header name may contain. */
static bool is_tchar(unsigned char c)
{
	return is_alnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int ascii_casecmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char x = (unsigned char)lower(*a), y = (unsigned char)lower(*b);
		if (x != y || !x)
			return x - y;
	}
}

static const char hexdig[] = "0123456789ABCDEF";

static void put_pct(struct dbuf *b, unsigned char c)
{
	char e[3] = {'%', hexdig[c >> 4], hexdig[c & 15]};
	dbuf_put(b, e, 3);
}

static void put_uri_encoded(struct dbuf *b, const unsigned char *s, size_t n, bool keep_slash)
{
	for (size_t i = 0; i < n; i++) {
		if (is_unreserved(s[i]) || (keep_slash && s[i] == '/'))
			dbuf_putc(b, (char)s[i]);
		else
			put_pct(b, s[i]);
	}
}

static void hex_lower(const unsigned char *in, size_t n, char *out)
{
	static const char lx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = lx[in[i] >> 4];
		out[2 * i + 1] = lx[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* %XX-decode s[0..n) into dst (at least n bytes). False on a bad escape. */
static bool pct_decode(const char *s, size_t n, unsigned char *dst, size_t *dlen)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			dst[o++] = (unsigned char)s[i];
			continue;
		}
		if (i + 2 >= n)
			return false;
		int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
		if (hi < 0 || lo < 0)
			return false;
		dst[o++] = (unsigned char)(hi << 4 | lo);
		i += 2;
	}
	*dlen = o;
	return true;
}

char *aws_sigv4_uri_encode(const char *s, bool keep_slash)
{
	struct dbuf b = {.max = AWS_SIGV4_MAX_CANONICAL};

	if (!s)
		return NULL;
	put_uri_encoded(&b, (const unsigned char *)s, strlen(s), keep_slash);
	return dbuf_take(&b);
}

char *aws_sigv4_form_encode(const char *s)
{
	struct dbuf b = {.max = AWS_SIGV4_MAX_CANONICAL};

	if (!s)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == ' ')
			dbuf_putc(&b, '+');
		else if (is_unreserved(*p))
			dbuf_putc(&b, (char)*p);
		else
			put_pct(&b, *p);
	}
	return dbuf_take(&b);
}

/* ---- input checks ------------------------------------------------------- */

static bool is_set(const char *s)
{
	return s && *s;
}

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if (is_ctl((unsigned char)*s))
			return true;
	return false;
}

/* Region and service end up in the credential scope: keep them plain. */
static bool is_scope_word(const char *s)
{
	if (!is_set(s))
		return false;
	for (; *s; s++)
		if (!is_alnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return false;
	return true;
}

static int check_inputs(const struct aws_sigv4_request *r, const struct aws_creds *c,
			struct bot_error *err)
{
	if (!r || !c)
		return bot_error_set(err, BOT_EINVAL, "sigv4: no request or credentials");
	if (!is_set(r->method))
		return bot_error_set(err, BOT_EINVAL, "sigv4: no method");
	for (const char *p = r->method; *p; p++)
		if (!is_tchar((unsigned char)*p))
			return bot_error_set(err, BOT_EINVAL, "sigv4: malformed method");
	if (!is_set(r->host) || has_ctl(r->host) || strpbrk(r->host, " /?#@"))
		return bot_error_set(err, BOT_EINVAL, "sigv4: missing or malformed host");
	if (is_set(r->path) && (r->path[0] != '/' || has_ctl(r->path) || strpbrk(r->path, "?#")))
		return bot_error_set(err, BOT_EINVAL,
				     "sigv4: path must start with '/' and hold no '?', '#' or control characters");
	if (r->query && (has_ctl(r->query) || strchr(r->query, '#')))
		return bot_error_set(err, BOT_EINVAL, "sigv4: malformed query string");
	if (r->n_headers && !r->headers)
		return bot_error_set(err, BOT_EINVAL, "sigv4: n_headers without headers");
	if (r->body_len && !r->body)
		return bot_error_set(err, BOT_EINVAL, "sigv4: body_len without body");
	if (!is_scope_word(r->region))
		return bot_error_set(err, BOT_EINVAL, "sigv4: missing or malformed region");
	if (!is_scope_word(r->service))
		return bot_error_set(err, BOT_EINVAL, "sigv4: missing or malformed service");
	if (!is_set(c->access_key_id) || has_ctl(c->access_key_id) ||
	    strpbrk(c->access_key_id, " /,="))
		return bot_error_set(err, BOT_EINVAL, "sigv4: missing or malformed access key id");
	if (!is_set(c->secret_access_key) || strlen(c->secret_access_key) > INT_MAX - 8)
		return bot_error_set(err, BOT_EINVAL, "sigv4: missing secret access key");
	if (c->session_token && has_ctl(c->session_token))
		return bot_error_set(err, BOT_EINVAL, "sigv4: malformed session token");
	return BOT_EOK;
}

/* "YYYYMMDDTHHMMSSZ" in UTC. */
static int format_amz_date(time_t when, char out[AWS_SIGV4_DATE_LEN + 1], struct bot_error *err)
{
	struct tm tm;

	if (when < 0 || !gmtime_r(&when, &tm) ||
	    strftime(out, AWS_SIGV4_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm) != AWS_SIGV4_DATE_LEN)
		return bot_error_set(err, BOT_EINVAL, "sigv4: signing time out of range");
	return BOT_EOK;
}

/* ---- canonical request parts -------------------------------------------- */

struct seg {
	const char *p;
	size_t n;
};

/* Canonical URI. Normalisation follows botocore remove_dot_segments: drop
 * empty and "." segments, ".." pops one, keep a trailing '/' if the path had
 * one and anything is left. */
static int put_canonical_path(struct dbuf *b, const char *path, bool normalize,
			      struct bot_error *err)
{
	struct seg *out = NULL;
	size_t nseg = 0, cap = 1;
	int rc = BOT_EOK;

	if (!is_set(path))
		path = "/";
	if (!normalize) {
		put_uri_encoded(b, (const unsigned char *)path, strlen(path), true);
		goto out;
	}
	for (const char *p = path; *p; p++)
		cap += *p == '/';
	out = malloc(cap * sizeof *out);
	if (!out) {
		rc = bot_error_set(err, BOT_ENOMEM, "sigv4: out of memory");
		goto out;
	}
	for (const char *p = path;;) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (nseg)
				nseg--;
		} else if (n && !(n == 1 && p[0] == '.')) {
			out[nseg].p = p;
			out[nseg].n = n;
			nseg++;
		}
		if (!e)
			break;
		p = e + 1;
	}
	dbuf_putc(b, '/');
	for (size_t i = 0; i < nseg; i++) {
		if (i)
			dbuf_putc(b, '/');
		put_uri_encoded(b, (const unsigned char *)out[i].p, out[i].n, false);
	}
	if (nseg && path[strlen(path) - 1] == '/')
		dbuf_putc(b, '/');
out:
	free(out);
	return rc;
}

struct qparam {
	char *name, *value; /* encoded */
};

static int qparam_cmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	int d = strcmp(x->name, y->name);
	return d ? d : strcmp(x->value, y->value);
}

/* Decode s[0..n) and re-encode it (RFC 3986) into *dst. */
static int reencode(const char *s, size_t n, unsigned char *tmp, char **dst, struct bot_error *err)
{
	struct dbuf b = {.max = AWS_SIGV4_MAX_CANONICAL};
	size_t dn;

	if (!pct_decode(s, n, tmp, &dn))
		return bot_error_set(err, BOT_EINVAL, "sigv4: bad %%-escape in query string");
	put_uri_encoded(&b, tmp, dn, false);
	*dst = dbuf_take(&b);
	return *dst ? BOT_EOK : bot_error_set(err, BOT_ENOMEM, "sigv4: out of memory");
}

static int put_canonical_query(struct dbuf *b, const char *query, struct bot_error *err)
{
	struct qparam *qp = NULL;
	unsigned char *tmp = NULL;
	size_t np = 0, cap = 1;
	int rc = BOT_EOK;

	if (!is_set(query))
		return BOT_EOK;
	for (const char *p = query; *p; p++)
		cap += *p == '&';
	qp = calloc(cap, sizeof *qp);
	tmp = malloc(strlen(query) + 1);
	if (!qp || !tmp) {
		rc = bot_error_set(err, BOT_ENOMEM, "sigv4: out of memory");
		goto out;
	}
	for (const char *p = query;;) {
		const char *e = strchr(p, '&');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n) {
			const char *eq = memchr(p, '=', n);
			size_t kn = eq ? (size_t)(eq - p) : n;
			rc = reencode(p, kn, tmp, &qp[np].name, err);
			if (!rc)
				rc = reencode(eq ? eq + 1 : "", eq ? n - kn - 1 : 0, tmp,
					      &qp[np].value, err);
			np++;
			if (rc)
				goto out;
		}
		if (!e)
			break;
		p = e + 1;
	}
	qsort(qp, np, sizeof *qp, qparam_cmp);
	for (size_t i = 0; i < np; i++) {
		if (i)
			dbuf_putc(b, '&');
		dbuf_puts(b, qp[i].name);
		dbuf_putc(b, '=');
		dbuf_puts(b, qp[i].value);
	}
out:
	for (size_t i = 0; qp && i < np; i++) {
		free(qp[i].name);
		free(qp[i].value);
	}
	free(qp);
	free(tmp);
	return rc;
}

struct hentry {
	const char *name, *value; /* borrowed; name compared case-insensitively */
	size_t order;             /* position given: keeps repeated names in order */
};

static int hentry_cmp(const void *a, const void *b)
{
	const struct hentry *x = a, *y = b;
	int d = ascii_casecmp(x->name, y->name);
	if (d)
		return d;
	return (x->order > y->order) - (x->order < y->order);
}

static void add_hentry(struct hentry *hs, size_t *n, const char *name, const char *value)
{
	hs[*n] = (struct hentry){name, value, *n};
	(*n)++;
}

/* A header value, trimmed, with inner runs of blanks folded to one space. */
static void put_trimmed(struct dbuf *b, const char *v)
{
	bool blank = false, any = false;

	for (; *v; v++) {
		if (*v == ' ' || *v == '\t') {
			blank = true;
			continue;
		}
		if (blank && any)
			dbuf_putc(b, ' ');
		dbuf_putc(b, *v);
		blank = false;
		any = true;
	}
}

static bool is_unsigned_header(const char *name)
{
	for (size_t i = 0; i < BOT_ARRAY_LEN(unsigned_headers); i++)
		if (ascii_casecmp(name, unsigned_headers[i]) == 0)
			return true;
	return false;
}

/* Check the caller's header h; *sign is false for one we send unsigned. */
static int check_header(const struct aws_sigv4_header *h, bool add_sha, bool *sign,
			struct bot_error *err)
{
	static const char *const ours[] = {
		"authorization", "host", "x-amz-date", "x-amz-security-token",
	};

	if (!is_set(h->name) || !h->value)
		return bot_error_set(err, BOT_EINVAL, "sigv4: header without name or value");
	for (const char *p = h->name; *p; p++)
		if (!is_tchar((unsigned char)*p))
			return bot_error_set(err, BOT_EINVAL, "sigv4: malformed header name");
	for (const char *p = h->value; *p; p++)
		if (*p == '\r' || *p == '\n')
			return bot_error_set(err, BOT_EINVAL,
					     "sigv4: header %.64s: line break in value", h->name);
	for (size_t i = 0; i < BOT_ARRAY_LEN(ours); i++)
		if (ascii_casecmp(h->name, ours[i]) == 0)
			return bot_error_set(err, BOT_EINVAL,
					     "sigv4: header %s is set by the signer", ours[i]);
	if (add_sha && ascii_casecmp(h->name, "x-amz-content-sha256") == 0)
		return bot_error_set(err, BOT_EINVAL,
				     "sigv4: x-amz-content-sha256 given with add_content_sha256");
	*sign = !is_unsigned_header(h->name);
	return BOT_EOK;
}

/* Canonical headers (each "name:value\n") into b, "a;b;c" into sh. */
static int put_canonical_headers(struct dbuf *b, struct dbuf *sh,
				 const struct aws_sigv4_request *r, const char *token,
				 const struct aws_sigv4_result *res, struct bot_error *err)
{
	struct hentry *hs;
	size_t n = 0;
	int rc = BOT_EOK;

	hs = malloc((r->n_headers + 4) * sizeof *hs);
	if (!hs)
		return bot_error_set(err, BOT_ENOMEM, "sigv4: out of memory");
	for (size_t i = 0; i < r->n_headers; i++) {
		bool sign = false;
		rc = check_header(&r->headers[i], r->add_content_sha256, &sign, err);
		if (rc)
			goto out;
		if (sign)
			add_hentry(hs, &n, r->headers[i].name, r->headers[i].value);
	}
	add_hentry(hs, &n, "host", r->host);
	add_hentry(hs, &n, "x-amz-date", res->amz_date);
	if (token)
		add_hentry(hs, &n, "x-amz-security-token", token);
	if (r->add_content_sha256)
		add_hentry(hs, &n, "x-amz-content-sha256", res->payload_hash);
	qsort(hs, n, sizeof *hs, hentry_cmp);

	for (size_t i = 0; i < n; i++) {
		if (i && ascii_casecmp(hs[i].name, hs[i - 1].name) == 0) {
			dbuf_putc(b, ',');
		} else {
			if (i) {
				dbuf_putc(b, '\n');
				dbuf_putc(sh, ';');
			}
			for (const char *p = hs[i].name; *p; p++) {
				dbuf_putc(b, lower(*p));
				dbuf_putc(sh, lower(*p));
			}
			dbuf_putc(b, ':');
		}
		put_trimmed(b, hs[i].value);
	}
	dbuf_putc(b, '\n');
out:
	free(hs);
	return rc;
}

/* ---- crypto -------------------------------------------------------------- */

static bool sha256_hex(const void *data, size_t n, char out[AWS_SIGV4_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(n ? data : "", n, md, &mdlen, EVP_sha256(), NULL) || mdlen != KEY_LEN)
		return false;
	hex_lower(md, KEY_LEN, out);
	return true;
}

static bool hmac(const unsigned char *key, size_t klen, const char *msg, size_t mlen,
		 unsigned char out[KEY_LEN])
{
	unsigned int olen = 0;

	return HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, mlen, out, &olen) &&
	       olen == KEY_LEN;
}

/* signature = hex(HMAC(kSigning, sts)); every key is wiped before return. */
static int sign_string(const char *secret, const char *date8, const char *region,
		       const char *service, const char *sts, char out[AWS_SIGV4_HEX_LEN + 1],
		       struct bot_error *err)
{
	size_t slen = strlen(secret);
	unsigned char *ksecret = malloc(slen + 4);
	unsigned char k1[KEY_LEN], k2[KEY_LEN], sig[KEY_LEN];
	int rc = BOT_EOK;

	if (!ksecret)
		return bot_error_set(err, BOT_ENOMEM, "sigv4: out of memory");
	memcpy(ksecret, "AWS4", 4);
	memcpy(ksecret + 4, secret, slen);
	if (!hmac(ksecret, slen + 4, date8, strlen(date8), k1) ||
	    !hmac(k1, KEY_LEN, region, strlen(region), k2) ||
	    !hmac(k2, KEY_LEN, service, strlen(service), k1) ||
	    !hmac(k1, KEY_LEN, TERMINATOR, strlen(TERMINATOR), k2) ||
	    !hmac(k2, KEY_LEN, sts, strlen(sts), sig)) {
		rc = bot_error_set(err, BOT_ETLS, "sigv4: OpenSSL HMAC-SHA256 failed");
		goto out;
	}
	hex_lower(sig, KEY_LEN, out);
out:
	OPENSSL_cleanse(ksecret, slen + 4);
	OPENSSL_cleanse(k1, sizeof k1);
	OPENSSL_cleanse(k2, sizeof k2);
	OPENSSL_cleanse(sig, sizeof sig);
	free(ksecret);
	return rc;
}

/* ---- the signer --------------------------------------------------------- */

int aws_sigv4_sign(const struct aws_sigv4_request *r, const struct aws_creds *c,
		   struct aws_sigv4_result *out, struct bot_error *err)
{
	struct dbuf creq = {.max = AWS_SIGV4_MAX_CANONICAL}, sh = {.max = AWS_SIGV4_MAX_CANONICAL},
		    sts = {.max = AWS_SIGV4_MAX_CANONICAL}, auth = {.max = AWS_SIGV4_MAX_CANONICAL};
	char creq_hash[AWS_SIGV4_HEX_LEN + 1], date8[9], scope[160];
	const char *token;
	int rc;

	if (!out)
		return bot_error_set(err, BOT_EINVAL, "sigv4: no result");
	memset(out, 0, sizeof *out);
	rc = check_inputs(r, c, err);
	if (rc)
		goto out;
	token = is_set(c->session_token) ? c->session_token : NULL;
	rc = format_amz_date(r->when, out->amz_date, err);
	if (rc)
		goto out;
	memcpy(date8, out->amz_date, 8);
	date8[8] = '\0';
	if (strlen(r->region) + strlen(r->service) + 32 > sizeof scope) {
		rc = bot_error_set(err, BOT_EINVAL, "sigv4: region or service too long");
		goto out;
	}
	snprintf(scope, sizeof scope, "%s/%s/%s/" TERMINATOR, date8, r->region, r->service);
	if (!sha256_hex(r->body, r->body_len, out->payload_hash)) {
		rc = bot_error_set(err, BOT_ETLS, "sigv4: OpenSSL SHA-256 failed");
		goto out;
	}

	dbuf_puts(&creq, r->method);
	dbuf_putc(&creq, '\n');
	rc = put_canonical_path(&creq, r->path, !r->no_normalize_path, err);
	if (rc)
		goto out;
	dbuf_putc(&creq, '\n');
	rc = put_canonical_query(&creq, r->query, err);
	if (rc)
		goto out;
	dbuf_putc(&creq, '\n');
	rc = put_canonical_headers(&creq, &sh, r, token, out, err);
	if (rc)
		goto out;
	dbuf_putc(&creq, '\n');
	rc = sb_status(&sh, err);
	if (rc)
		goto out;
	dbuf_put(&creq, sh.p, sh.len);
	dbuf_putc(&creq, '\n');
	dbuf_puts(&creq, out->payload_hash);
	rc = sb_status(&creq, err);
	if (rc)
		goto out;
	if (!sha256_hex(creq.p, creq.len, creq_hash)) {
		rc = bot_error_set(err, BOT_ETLS, "sigv4: OpenSSL SHA-256 failed");
		goto out;
	}

	dbuf_puts(&sts, ALGORITHM "\n");
	dbuf_puts(&sts, out->amz_date);
	dbuf_putc(&sts, '\n');
	dbuf_puts(&sts, scope);
	dbuf_putc(&sts, '\n');
	dbuf_puts(&sts, creq_hash);
	rc = sb_status(&sts, err);
	if (rc)
		goto out;
	rc = sign_string(c->secret_access_key, date8, r->region, r->service, sts.p,
			 out->signature, err);
	if (rc)
		goto out;

	dbuf_puts(&auth, ALGORITHM " Credential=");
	dbuf_puts(&auth, c->access_key_id);
	dbuf_putc(&auth, '/');
	dbuf_puts(&auth, scope);
	dbuf_puts(&auth, ", SignedHeaders=");
	dbuf_put(&auth, sh.p, sh.len);
	dbuf_puts(&auth, ", Signature=");
	dbuf_puts(&auth, out->signature);
	rc = sb_status(&auth, err);
	if (rc)
		goto out;

	out->canonical_request = dbuf_take(&creq);
	out->string_to_sign = dbuf_take(&sts);
	out->signed_headers = dbuf_take(&sh);
	out->authorization = dbuf_take(&auth);
	out->security_token = token;
	if (!out->canonical_request || !out->string_to_sign || !out->signed_headers ||
	    !out->authorization)
		rc = bot_error_set(err, BOT_ENOMEM, "sigv4: out of memory");
out:
	free(creq.p);
	free(sh.p);
	free(sts.p);
	free(auth.p);
	if (rc)
		aws_sigv4_result_free(out);
	return rc;
}

void aws_sigv4_result_free(struct aws_sigv4_result *r)
{
	if (!r)
		return;
	free(r->authorization);
	free(r->signed_headers);
	free(r->canonical_request);
	free(r->string_to_sign);
	memset(r, 0, sizeof *r);
}

/* ---- diagnostics ---------------------------------------------------------- */

/* A logfmt-quoted copy of s (caller frees), the session token line masked. */
static char *quote_masked(const char *s)
{
	static const char tok[] = "x-amz-security-token:";
	struct dbuf m = {.max = AWS_SIGV4_MAX_CANONICAL};
	char *q = NULL, *buf = NULL;
	size_t n;

	for (const char *line = s; *line;) {
		const char *e = strchr(line, '\n');
		size_t len = e ? (size_t)(e - line) + 1 : strlen(line);
		if (strncmp(line, tok, sizeof tok - 1) == 0) {
			dbuf_puts(&m, tok);
			dbuf_puts(&m, "[REDACTED]");
			if (e)
				dbuf_putc(&m, '\n');
		} else {
			dbuf_put(&m, line, len);
		}
		line += len;
	}
	q = dbuf_take(&m);
	if (!q)
		return NULL;
	n = 2 * strlen(q) + 8;
	buf = malloc(n);
	if (buf)
		log_q(buf, n, q);
	free(q);
	return buf;
}

void aws_sigv4_log_diagnostics(const struct aws_sigv4_result *r)
{
	char *creq = NULL, *sts = NULL;

	if (!r || !r->canonical_request || !r->string_to_sign || !log_enabled(BOT_LOG_DEBUG))
		return;
	creq = quote_masked(r->canonical_request);
	sts = quote_masked(r->string_to_sign);
	if (creq)
		log_debug("aws.sigv4.canonical_request", "signed_headers=%s canonical_request=%s",
			  r->signed_headers, creq);
	if (sts)
		log_debug("aws.sigv4.string_to_sign", "string_to_sign=%s", sts);
	free(creq);
	free(sts);
}
