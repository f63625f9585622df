/* alarm_msg.c - alarm state changes out of SQS bodies (see alarm_msg.h). */
#include "adapters/aws/alarm_msg.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct aws_alarm_msg {
	struct cloud_alarm_change c;
	json_t *outer, *inner; /* the strings of c point into these */
	struct cloud_alarm_dim dims[AWS_ALARM_MSG_MAX_DIMS];
	char region[64], account[16];
};

const struct cloud_alarm_change *aws_alarm_msg_change(const struct aws_alarm_msg *m)
{
	return m ? &m->c : NULL;
}

void aws_alarm_msg_free(struct aws_alarm_msg *m)
{
	if (!m)
		return;
	json_decref(m->inner);
	json_decref(m->outer);
	free(m);
}

bool aws_alarm_msg_state_ok(const char *s)
{
	return s && (strcmp(s, "ALARM") == 0 || strcmp(s, "OK") == 0 ||
		     strcmp(s, "INSUFFICIENT_DATA") == 0);
}

/* ---- time --------------------------------------------------------------- */

static bool num(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), y >= 1970. */
static int64_t days_since_epoch(int y, int m, int d)
{
	static const int before[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
	int64_t days = 0;

	for (int yy = 1970; yy < y; yy++)
		days += leap(yy) ? 366 : 365;
	days += before[m - 1] + (m > 2 && leap(y) ? 1 : 0);
	return days + d - 1;
}

bool aws_alarm_msg_time_ms(const char *s, int64_t *out)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, se, ms = 0, oh = 0, om = 0, sign = 0;
	const char *p;

	if (!s || strnlen(s, 20) < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':')
		return false;
	if (!num(s, 4, &y) || !num(s + 5, 2, &mo) || !num(s + 8, 2, &d) || !num(s + 11, 2, &h) ||
	    !num(s + 14, 2, &mi) || !num(s + 17, 2, &se))
		return false;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] + (mo == 2 && leap(y) ? 1 : 0) || h > 23 || mi > 59 || se > 59)
		return false;
	p = s + 19;
	if (*p == '.') {
		int digits = 0;
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 3)
				ms = ms * 10 + (*p - '0');
		if (digits == 0 || digits > 9)
			return false;
		for (; digits < 3; digits++)
			ms *= 10;
	}
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		p++;
		if (!num(p, 2, &oh))
			return false;
		p += 2;
		if (*p == ':')
			p++;
		if (*p) {
			if (!num(p, 2, &om))
				return false;
			p += 2;
		}
		if (oh > 23 || om > 59)
			return false;
	} else {
		return false; /* no zone: which one is unknowable */
	}
	if (*p)
		return false;
	int64_t secs = days_since_epoch(y, mo, d) * 86400 + (int64_t)h * 3600 + mi * 60 + se;
	secs -= (int64_t)sign * (oh * 3600 + om * 60);
	*out = secs * 1000 + ms;
	return true;
}

/* ---- ARN ---------------------------------------------------------------- */

/* The next ':'-separated field of *p (advanced past it) when every byte
 * is in allowed (NULL: anything but ':'), non-empty and shorter than max. */
static bool field(const char **p, const char *allowed, size_t max, const char **start, size_t *len)
{
	const char *e = strchr(*p, ':');

	if (!e || e == *p || (size_t)(e - *p) >= max)
		return false;
	for (const char *c = *p; allowed && c < e; c++)
		if (!strchr(allowed, *c))
			return false;
	*start = *p;
	*len = (size_t)(e - *p);
	*p = e + 1;
	return true;
}

bool aws_alarm_msg_arn(const char *arn, char *region, size_t rn, char *account, size_t an,
		       const char **name)
{
	static const char lower[] = "abcdefghijklmnopqrstuvwxyz-", lower_num[] =
		"abcdefghijklmnopqrstuvwxyz0123456789-", digits[] = "0123456789";
	const char *p = arn, *s;
	size_t l;

	if (!arn || strncmp(arn, "arn:", 4) != 0)
		return false;
	p += 4;
	if (!field(&p, lower, 32, &s, &l))                         /* partition */
		return false;
	if (!field(&p, NULL, 16, &s, &l) || l != 10 || memcmp(s, "cloudwatch", 10) != 0)
		return false;
	if (!field(&p, lower_num, 48, &s, &l) || l >= rn)           /* region */
		return false;
	memcpy(region, s, l);
	region[l] = '\0';
	if (!field(&p, digits, 13, &s, &l) || l != 12 || l >= an)   /* account */
		return false;
	memcpy(account, s, l);
	account[l] = '\0';
	if (strncmp(p, "alarm:", 6) != 0 || !p[6])
		return false;
	if (name)
		*name = p + 6;
	return true;
}

/* ---- fields ------------------------------------------------------------- */

/* obj[key] as a string of at most max bytes: *out NULL when absent or
 * null (an error when required). */
static int str(const json_t *obj, const char *key, bool required, size_t max, const char **out,
	       struct bot_error *err)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return required ? bot_error_set(err, BOT_EPARSE, "no %s", key) : BOT_EOK;
	if (!json_is_string(v))
		return bot_error_set(err, BOT_EPARSE, "%s is not a string", key);
	if (json_string_length(v) > max)
		return bot_error_set(err, BOT_ETOOBIG, "%s is longer than %zu bytes", key, max);
	*out = json_string_value(v);
	return BOT_EOK;
}

/* obj[key] as a whole number in [0, INT_MAX]; 0 when absent or not one. */
static int nat(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	double d;

	if (json_is_integer(v))
		return json_integer_value(v) >= 0 && json_integer_value(v) <= INT_MAX
		       ? (int)json_integer_value(v) : 0;
	if (!json_is_real(v))
		return 0;
	d = json_real_value(v);
	return d >= 0 && d <= INT_MAX && d == (double)(int)d ? (int)d : 0;
}

static int state(const json_t *obj, const char *key, bool required, const char **out,
		 struct bot_error *err)
{
	int rc = str(obj, key, required, 32, out, err);

	if (rc == BOT_ETOOBIG || (!rc && *out && !aws_alarm_msg_state_ok(*out)))
		return bot_error_set(err, BOT_EPARSE,
				     "%s is not ALARM, OK or INSUFFICIENT_DATA", key);
	return rc;
}

static int set_arn(struct aws_alarm_msg *m, const char *arn, const char **arn_name,
		   struct bot_error *err)
{
	if (!aws_alarm_msg_arn(arn, m->region, sizeof m->region, m->account, sizeof m->account,
			       arn_name))
		return bot_error_set(err, BOT_EPARSE, "'%.80s' is not a CloudWatch alarm ARN "
				     "(arn:aws:cloudwatch:<region>:<account>:alarm:<name>)", arn);
	m->c.arn = arn;
	m->c.region = m->region;
	m->c.account = m->account;
	return BOT_EOK;
}

static int changed_at(struct aws_alarm_msg *m, const json_t *obj, const char *key,
		      struct bot_error *err)
{
	const char *t;
	int rc = str(obj, key, true, 64, &t, err);

	if (rc)
		return rc;
	if (!aws_alarm_msg_time_ms(t, &m->c.changed_at_ms))
		return bot_error_set(err, BOT_EPARSE, "%s '%.40s' is not a time like "
				     "2024-07-05T15:20:44.959+0000", key, t);
	return BOT_EOK;
}

/* [{"name": .., "value": ..}] (SNS, lower case; "Name"/"Value" accepted). */
static int dims_array(struct aws_alarm_msg *m, const json_t *a, const char *what,
		      struct bot_error *err)
{
	size_t i;
	json_t *d;
	int rc;

	if (!json_is_array(a))
		return bot_error_set(err, BOT_EPARSE, "%s is not a list", what);
	if (json_array_size(a) > AWS_ALARM_MSG_MAX_DIMS)
		return bot_error_set(err, BOT_ETOOBIG, "%s has %zu dimensions (at most %d)", what,
				     json_array_size(a), AWS_ALARM_MSG_MAX_DIMS);
	m->c.n_dims = 0;
	json_array_foreach(a, i, d) {
		struct cloud_alarm_dim *x = &m->dims[i];
		const char *nk = json_object_get(d, "name") ? "name" : "Name";
		const char *vk = json_object_get(d, "value") ? "value" : "Value";
		if (!json_is_object(d))
			return bot_error_set(err, BOT_EPARSE, "%s[%zu] is not an object", what, i);
		if ((rc = str(d, nk, false, AWS_ALARM_MSG_MAX_STR, &x->name, err)) ||
		    (rc = str(d, vk, false, AWS_ALARM_MSG_MAX_STR, &x->value, err)))
			return rc;
		if (!x->name || !x->value)
			return bot_error_set(err, BOT_EPARSE, "%s[%zu] has no name or no value",
					     what, i);
	}
	m->c.n_dims = json_array_size(a);
	m->c.dims = m->c.n_dims ? m->dims : NULL;
	return BOT_EOK;
}

/* {"ClusterName": "prod", ...} (EventBridge). */
static int dims_object(struct aws_alarm_msg *m, const json_t *o, struct bot_error *err)
{
	const char *k;
	json_t *v;
	size_t i = 0;

	if (!json_is_object(o))
		return bot_error_set(err, BOT_EPARSE, "metric dimensions are not an object");
	if (json_object_size(o) > AWS_ALARM_MSG_MAX_DIMS)
		return bot_error_set(err, BOT_ETOOBIG, "metric has %zu dimensions (at most %d)",
				     json_object_size(o), AWS_ALARM_MSG_MAX_DIMS);
	json_object_foreach((json_t *)o, k, v) {
		if (!json_is_string(v))
			return bot_error_set(err, BOT_EPARSE, "dimension %.60s is not a string", k);
		if (strlen(k) > AWS_ALARM_MSG_MAX_STR || json_string_length(v) > AWS_ALARM_MSG_MAX_STR)
			return bot_error_set(err, BOT_ETOOBIG, "dimension %.60s is too long", k);
		m->dims[i].name = k;
		m->dims[i].value = json_string_value(v);
		i++;
	}
	m->c.n_dims = i;
	m->c.dims = i ? m->dims : NULL;
	return BOT_EOK;
}

/* Trigger.Metrics of a metric-math alarm: dims of the first metric with
 * any; the period of the first MetricStat. */
static int math_metrics(struct aws_alarm_msg *m, const json_t *metrics, struct bot_error *err)
{
	size_t i;
	json_t *x;
	int rc;

	m->c.metric_math = true;
	json_array_foreach(metrics, i, x) {
		json_t *ms = json_object_get(x, "MetricStat");
		json_t *dims = json_object_get(json_object_get(ms, "Metric"), "Dimensions");
		if (!m->c.period_s)
			m->c.period_s = nat(ms, "Period");
		if (!m->c.n_dims && json_array_size(dims) &&
		    (rc = dims_array(m, dims, "Trigger.Metrics[].MetricStat.Metric.Dimensions", err)))
			return rc;
	}
	return BOT_EOK;
}

static int trigger(struct aws_alarm_msg *m, const json_t *t, struct bot_error *err)
{
	const size_t max = AWS_ALARM_MSG_MAX_STR;
	json_t *dims = json_object_get(t, "Dimensions"), *metrics = json_object_get(t, "Metrics");
	json_t *th = json_object_get(t, "Threshold");
	int rc;

	if (!t)
		return BOT_EOK;
	if (!json_is_object(t))
		return bot_error_set(err, BOT_EPARSE, "Trigger is not an object");
	if ((rc = str(t, "MetricName", false, max, &m->c.metric, err)) ||
	    (rc = str(t, "Namespace", false, max, &m->c.namespace_, err)) ||
	    (rc = str(t, "Statistic", false, max, &m->c.statistic, err)) ||
	    (rc = str(t, "ComparisonOperator", false, max, &m->c.comparison, err)))
		return rc;
	if (!m->c.statistic && (rc = str(t, "ExtendedStatistic", false, max, &m->c.statistic, err)))
		return rc;
	if (json_is_number(th)) {
		m->c.has_threshold = true;
		m->c.threshold = json_number_value(th);
	}
	m->c.period_s = nat(t, "Period");
	m->c.evaluation_periods = nat(t, "EvaluationPeriods");
	if (!m->c.metric && json_array_size(metrics)) {
		m->c.namespace_ = NULL;
		return math_metrics(m, metrics, err);
	}
	if (dims && !json_is_null(dims))
		return dims_array(m, dims, "Trigger.Dimensions", err);
	return BOT_EOK;
}

/* The alarm JSON of an SNS notification (in the envelope or raw). */
static int from_alarm_json(struct aws_alarm_msg *m, const json_t *j, const char *format,
			   struct bot_error *err)
{
	const char *arn, *arn_name;
	int rc;

	m->c.format = format;
	if ((rc = str(j, "AlarmArn", true, AWS_ALARM_MSG_MAX_STR, &arn, err)) ||
	    (rc = set_arn(m, arn, &arn_name, err)) ||
	    (rc = str(j, "AlarmName", false, AWS_ALARM_MSG_MAX_STR, &m->c.name, err)) ||
	    (rc = str(j, "AlarmDescription", false, AWS_ALARM_MSG_MAX_TEXT, &m->c.description, err)) ||
	    (rc = state(j, "NewStateValue", true, &m->c.state, err)) ||
	    (rc = state(j, "OldStateValue", false, &m->c.old_state, err)) ||
	    (rc = str(j, "NewStateReason", false, AWS_ALARM_MSG_MAX_TEXT, &m->c.reason, err)) ||
	    (rc = changed_at(m, j, "StateChangeTime", err)) ||
	    (rc = trigger(m, json_object_get(j, "Trigger"), err)))
		return rc;
	if (!m->c.name)
		m->c.name = arn_name;
	if (!m->c.reason)
		m->c.reason = "";
	return BOT_EOK;
}

/* EventBridge configuration.metrics: one metricStat is a plain metric
 * alarm; anything else (an expression, several metrics) is metric math. */
static int eb_metrics(struct aws_alarm_msg *m, const json_t *metrics, struct bot_error *err)
{
	const size_t max = AWS_ALARM_MSG_MAX_STR;
	size_t n = json_array_size(metrics), i;
	json_t *x;
	int rc;

	if (!n)
		return BOT_EOK;
	json_t *first = json_array_get(metrics, 0), *fs = json_object_get(first, "metricStat");
	if (n == 1 && fs && !json_object_get(first, "expression")) {
		json_t *metric = json_object_get(fs, "metric"), *dims = json_object_get(metric, "dimensions");
		if ((rc = str(metric, "namespace", false, max, &m->c.namespace_, err)) ||
		    (rc = str(metric, "name", false, max, &m->c.metric, err)) ||
		    (rc = str(fs, "stat", false, max, &m->c.statistic, err)))
			return rc;
		m->c.period_s = nat(fs, "period");
		return dims && !json_is_null(dims) ? dims_object(m, dims, err) : BOT_EOK;
	}
	m->c.metric_math = true;
	json_array_foreach(metrics, i, x) {
		json_t *ms = json_object_get(x, "metricStat");
		json_t *dims = json_object_get(json_object_get(ms, "metric"), "dimensions");
		if (!m->c.period_s)
			m->c.period_s = nat(ms, "period");
		if (!m->c.n_dims && json_object_size(dims) && (rc = dims_object(m, dims, err)))
			return rc;
	}
	return BOT_EOK;
}

static int from_eventbridge(struct aws_alarm_msg *m, const json_t *j, struct bot_error *err)
{
	const char *dt = json_string_value(json_object_get(j, "detail-type"));
	const char *src = json_string_value(json_object_get(j, "source"));
	json_t *detail = json_object_get(j, "detail"), *st, *prev, *conf;
	const char *arn, *arn_name;
	int rc;

	m->c.format = "eventbridge";
	if (!dt || strcmp(dt, "CloudWatch Alarm State Change") != 0)
		return bot_error_set(err, BOT_EPARSE, "an EventBridge event of type '%.60s', not "
				     "\"CloudWatch Alarm State Change\"", dt ? dt : "?");
	if (!src || strcmp(src, "aws.cloudwatch") != 0)
		return bot_error_set(err, BOT_EPARSE, "an alarm event from source '%.60s', not "
				     "aws.cloudwatch", src ? src : "?");
	arn = json_string_value(json_array_get(json_object_get(j, "resources"), 0));
	if (!arn)
		return bot_error_set(err, BOT_EPARSE, "no alarm ARN in resources[0]");
	if (strlen(arn) > AWS_ALARM_MSG_MAX_STR)
		return bot_error_set(err, BOT_ETOOBIG, "resources[0] is too long");
	if (!json_is_object(detail))
		return bot_error_set(err, BOT_EPARSE, "no detail object");
	st = json_object_get(detail, "state");
	prev = json_object_get(detail, "previousState");
	conf = json_object_get(detail, "configuration");
	if (!json_is_object(st))
		return bot_error_set(err, BOT_EPARSE, "no detail.state object");
	if ((rc = set_arn(m, arn, &arn_name, err)) ||
	    (rc = str(detail, "alarmName", false, AWS_ALARM_MSG_MAX_STR, &m->c.name, err)) ||
	    (rc = state(st, "value", true, &m->c.state, err)) ||
	    (rc = str(st, "reason", false, AWS_ALARM_MSG_MAX_TEXT, &m->c.reason, err)) ||
	    (rc = changed_at(m, st, "timestamp", err)) ||
	    (json_is_object(prev) && (rc = state(prev, "value", false, &m->c.old_state, err))) ||
	    (json_is_object(conf) &&
	     (rc = str(conf, "description", false, AWS_ALARM_MSG_MAX_TEXT, &m->c.description, err))) ||
	    (json_is_object(conf) && (rc = eb_metrics(m, json_object_get(conf, "metrics"), err))))
		return rc;
	if (!m->c.name)
		m->c.name = arn_name;
	if (!m->c.reason)
		m->c.reason = "";
	return BOT_EOK;
}

static int from_sns(struct aws_alarm_msg *m, struct bot_error *err)
{
	const char *type = json_string_value(json_object_get(m->outer, "Type")), *text;
	json_t *msg = json_object_get(m->outer, "Message");
	json_error_t je;

	if (strcmp(type, "Notification") != 0)
		return bot_error_set(err, BOT_EPARSE, "an SNS %.40s message, not a Notification",
				     type);
	if (!json_is_string(msg))
		return bot_error_set(err, BOT_EPARSE, "an SNS notification without a Message string");
	text = json_string_value(msg);
	m->inner = json_loadb(text, json_string_length(msg), JSON_REJECT_DUPLICATES, &je);
	if (!m->inner)
		return bot_error_set(err, BOT_EPARSE, "the SNS Message is not JSON (%.100s): "
				     "not an alarm notification", je.text);
	if (!json_is_object(m->inner))
		return bot_error_set(err, BOT_EPARSE, "the SNS Message is JSON but not an object");
	if (!json_object_get(m->inner, "AlarmArn") && !json_object_get(m->inner, "NewStateValue"))
		return bot_error_set(err, BOT_EPARSE, "the SNS Message is not a CloudWatch alarm "
				     "(no AlarmArn or NewStateValue)");
	return from_alarm_json(m, m->inner, "sns", err);
}

int aws_alarm_msg_parse(const char *body, size_t len, struct aws_alarm_msg **out,
			struct bot_error *err)
{
	struct aws_alarm_msg *m = NULL;
	json_error_t je;
	int rc;

	*out = NULL;
	if (!body || !len)
		return bot_error_set(err, BOT_EPARSE, "empty body");
	if (len > AWS_ALARM_MSG_MAX_BODY)
		return bot_error_set(err, BOT_ETOOBIG, "body of %zu bytes is over the %zu-byte bound",
				     len, AWS_ALARM_MSG_MAX_BODY);
	m = calloc(1, sizeof *m);
	if (!m)
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	m->outer = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (!m->outer) {
		rc = bot_error_set(err, BOT_EPARSE, "not JSON (%.100s)", je.text);
		goto out;
	}
	if (!json_is_object(m->outer)) {
		rc = bot_error_set(err, BOT_EPARSE, "JSON but not an object");
		goto out;
	}
	if (json_is_string(json_object_get(m->outer, "Type")))
		rc = from_sns(m, err);
	else if (json_object_get(m->outer, "detail-type"))
		rc = from_eventbridge(m, m->outer, err);
	else if (json_object_get(m->outer, "AlarmArn") || json_object_get(m->outer, "NewStateValue"))
		rc = from_alarm_json(m, m->outer, "raw", err);
	else
		rc = bot_error_set(err, BOT_EPARSE, "JSON but not an alarm notification (no SNS "
				   "Type, EventBridge detail-type or AlarmArn)");
out:
	if (rc) {
		aws_alarm_msg_free(m);
		return rc;
	}
	*out = m;
	return BOT_EOK;
}
