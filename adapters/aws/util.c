/* util.c - helpers shared inside adapters/aws (see util.h). */
#include "adapters/aws/util.h"
#include "adapters/aws/sigv4.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void aws__form_add(struct dbuf *b, const char *key, const char *value)
{
	char *enc = aws_sigv4_form_encode(value ? value : "");

	if (!enc) {
		b->oom = true;
		return;
	}
	if (b->len)
		dbuf_put(b, "&", 1);
	dbuf_puts(b, key);
	dbuf_put(b, "=", 1);
	dbuf_puts(b, enc);
	free(enc);
}

static bool digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

bool aws__iso8601_parse(const char *s, double *out)
{
	struct tm tm;
	int y, mo, d, h, mi, se;
	double frac = 0;
	const char *p;
	time_t t;

	if (!s || strlen(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != ' ') ||
	    s[13] != ':' || s[16] != ':')
		return false;
	if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
	    !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return false;
	p = s + 19;
	if (*p == '.') {
		double scale = 0.1;
		p++;
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p)) {
			frac += (*p - '0') * scale;
			scale /= 10;
			p++;
		}
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (strncmp(p, "+00:00", 6) == 0 || strncmp(p, "-00:00", 6) == 0)
		p += 6;
	else if (*p != '\0')
		return false; /* other offsets: AWS always answers in UTC */
	if (*p != '\0')
		return false;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return false;
	*out = (double)t + frac;
	return true;
}

void aws__iso8601_format(double t, char *buf, size_t n)
{
	time_t tt = (time_t)floor(t);
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		if (n)
			buf[0] = '\0';
	}
}

double aws__json_time(const json_t *v)
{
	double t;

	if (json_is_number(v))
		return json_number_value(v);
	if (json_is_string(v) && aws__iso8601_parse(json_string_value(v), &t))
		return t;
	return 0;
}

const char *aws__json_str(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

int aws__json_int(const json_t *obj, const char *key, int def, int *rc, struct bot_error *err)
{
	json_t *v = json_object_get(obj, key);
	char num[48];

	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (i >= INT_MIN && i <= INT_MAX)
			return (int)i;
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, i);
	} else if (json_is_real(v)) {
		double d = json_real_value(v);
		/* checked first: converting a double out of int range is undefined */
		if (d >= INT_MIN && d <= INT_MAX && d == trunc(d))
			return (int)d;
		snprintf(num, sizeof num, "%g", d);
	} else {
		return def;
	}
	if (*rc == BOT_EOK)
		*rc = bot_error_set(err, BOT_EPARSE, "%s: %s is not a whole number in int range", key,
				    num);
	return def;
}

double aws__json_num(const json_t *obj, const char *key, double def)
{
	json_t *v = json_object_get(obj, key);
	return json_is_number(v) ? json_number_value(v) : def;
}

char *aws__dup(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

void aws__copy(char *dst, size_t n, const char *src)
{
	size_t l;

	if (!n)
		return;
	if (!src)
		src = "";
	l = strlen(src);
	if (l >= n)
		l = n - 1;
	memcpy(dst, src, l);
	dst[l] = '\0';
}

const char *aws__arn_tail(const char *s)
{
	const char *slash = s ? strrchr(s, '/') : NULL;
	return slash ? slash + 1 : s;
}

const char *aws__cluster_name(const char *s)
{
	if (s && strncmp(s, "arn:", 4) == 0)
		return aws__arn_tail(s);
	return s;
}

bool aws__arn_region(const char *s, char *buf, size_t n)
{
	const char *p = s;

	/* arn:partition:service:region:account:resource */
	if (!s || strncmp(s, "arn:", 4) != 0)
		return false;
	for (int i = 0; i < 3; i++) {
		p = strchr(p, ':');
		if (!p)
			return false;
		p++;
	}
	const char *e = strchr(p, ':');
	if (!e || e == p || (size_t)(e - p) >= n)
		return false;
	memcpy(buf, p, (size_t)(e - p));
	buf[e - p] = '\0';
	return true;
}

json_t *aws__json_object(const char *body, size_t len, struct bot_error *err)
{
	json_error_t je;
	json_t *j = json_loadb(body, len, 0, &je);

	if (!json_is_object(j)) {
		json_decref(j);
		bot_error_set(err, BOT_EPARSE, "reply is not a JSON object (%s)",
			      j ? "not an object" : je.text);
		return NULL;
	}
	return j;
}
