/* client.c - sign, send, retry one AWS call (see client.h). */
#include "adapters/aws/client.h"
#include "adapters/aws/budget.h"
#include "adapters/aws/creds.h"
#include "adapters/aws/util.h"
#include "bot/base/log.h"
#include "bot/base/url.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/rand.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DEFAULT_TIMEOUT_MS 10000L
#define MAX_URL 512

static const struct aws_service_info services[AWS_SVC__N] = {
	[AWS_SVC_ECS] = {"ECS", "ecs", "ecs", "AmazonEC2ContainerServiceV20141113",
			 AWS_PROTO_JSON_1_1, "application/x-amz-json-1.1"},
	[AWS_SVC_CLOUDWATCH] = {"CLOUDWATCH", "monitoring", "monitoring",
				"GraniteServiceVersion20100801", AWS_PROTO_JSON_1_0,
				"application/x-amz-json-1.0"},
	[AWS_SVC_SNS] = {"SNS", "sns", "sns", NULL, AWS_PROTO_QUERY,
			 "application/x-www-form-urlencoded; charset=utf-8"},
	[AWS_SVC_STS] = {"STS", "sts", "sts", NULL, AWS_PROTO_QUERY,
			 "application/x-www-form-urlencoded; charset=utf-8"},
	[AWS_SVC_DYNAMODB] = {"DYNAMODB", "dynamodb", "dynamodb", "DynamoDB_20120810",
			      AWS_PROTO_JSON_1_0, "application/x-amz-json-1.0"},
	[AWS_SVC_SQS] = {"SQS", "sqs", "sqs", "AmazonSQS", AWS_PROTO_JSON_1_0,
			 "application/x-amz-json-1.0"},
};

const struct aws_retry_policy aws_retry_standard = {
	.max_attempts = 3,
	.base_ms = 1000,
	.throttle_base_ms = 1000,
	.max_backoff_ms = 20000,
	.max_retry_after_extra_ms = 5000,
	.quota = 500,
	.retry_cost = 5,
	.timeout_cost = 10,
	.success_refill = 1,
};

const struct aws_service_info *aws_service_info(enum aws_service s)
{
	return (unsigned)s < AWS_SVC__N ? &services[s] : NULL;
}

/* Which services the budget (budget.h) governs: what people's commands and
 * the gates cost. The store (DynamoDB) and credentials (STS) are the bot's
 * own plumbing: never held back by it; nor is the alarm intake (SQS): a
 * long poll holds a connection, not the account's API rate. */
static const bool budgeted[AWS_SVC__N] = {
	[AWS_SVC_ECS] = true, [AWS_SVC_CLOUDWATCH] = true, [AWS_SVC_SNS] = true,
};

/* CS_ROOM: queued in the budget for room in flight. */
enum call_state { CS_CREDS, CS_HTTP, CS_WAIT, CS_ROOM, CS_DONE };

struct aws_call {
	struct aws_call *prev, *next;
	struct aws_client *c;
	uv_timer_t timer;
	enum call_state state;
	bool finish_pending;   /* the timer delivers err instead of retrying */
	bool budget_pending;   /* the timer goes on after a budget wait (not a retry) */
	bool paid;             /* this attempt's token is spent */
	bool has_room;         /* holds room in flight (aws_budget_leave when over) */
	struct aws_budget_waiter room;
	bool creds_retried;    /* one more go after ExpiredToken */
	enum aws_service svc;
	char region[48];
	char op[64];
	char *body;
	size_t body_len;
	bool no_retry;
	long timeout_ms;       /* per attempt; 0: the client's */
	struct aws_creds_provider *creds;
	struct aws_creds_wait *wait;
	struct http_call *http;
	struct aws_sigv4_result sig; /* of the last try, for diagnostics */
	int attempts;
	int cost;                    /* retry tokens this call took */
	aws_client_cb cb;
	void *ud;
	struct cloud_error err;
	uint64_t t0;
};

struct aws_client {
	struct bot_loop *loop;
	uv_loop_t *uv;
	struct http *http;
	struct aws_creds_provider *creds;
	char *region;
	char *config_url;
	char *pinned_url;   /* opts.pinned_endpoint_url: wins over the environment */
	char *env_url[AWS_SVC__N];
	char *env_global;
	struct aws_retry_policy retry;
	long timeout_ms;
	double (*rand01)(void *);
	void *rand_ud;
	struct aws_call *calls;
	struct aws_budget *budget; /* borrowed; NULL: none */
	int quota;
	bool closing;
	struct aws_client_stats stats;
};

/* ---- retry policy ------------------------------------------------------- */

uint64_t aws_retry_delay_ms(const struct aws_retry_policy *p, int attempts_done,
			    enum aws_err_class c, double rand01, long retry_after_ms)
{
	uint64_t base = c == AWS_ERR_THROTTLE ? p->throttle_base_ms : p->base_ms;
	uint64_t cap = base;
	double d;

	for (int i = 1; i < attempts_done && cap < p->max_backoff_ms; i++)
		cap *= 2;
	if (cap > p->max_backoff_ms)
		cap = p->max_backoff_ms;
	if (rand01 < 0)
		rand01 = 0;
	if (rand01 >= 1)
		rand01 = 0.999999;
	d = rand01 * (double)cap;
	if (retry_after_ms >= 0) {
		/* The server knows better, within bounds: never less than it
		 * asks, never more than the cap plus the allowed extra. */
		uint64_t ra = (uint64_t)retry_after_ms, hi = cap + p->max_retry_after_extra_ms;
		return ra > hi ? hi : ra;
	}
	return (uint64_t)d;
}

static double default_rand01(void *ud)
{
	uint32_t r = 0;

	(void)ud;
	if (RAND_bytes((unsigned char *)&r, sizeof r) != 1)
		r = (uint32_t)uv_hrtime();
	return (double)r / 4294967296.0;
}

/* ---- endpoints ---------------------------------------------------------- */

static bool set(const char *s)
{
	return s && *s;
}

int aws_endpoint_resolve(enum aws_service svc, const char *region, const char *svc_env,
			 const char *global_env, const char *config_url, char *buf, size_t n)
{
	const struct aws_service_info *si = aws_service_info(svc);
	int w;

	if (!si)
		return BOT_EINVAL;
	if (set(svc_env))
		w = snprintf(buf, n, "%s", svc_env);
	else if (set(global_env))
		w = snprintf(buf, n, "%s", global_env);
	else if (set(config_url))
		w = snprintf(buf, n, "%s", config_url);
	else if (!set(region))
		return BOT_EINVAL;
	else
		w = snprintf(buf, n, "https://%s.%s.amazonaws.com%s/", si->host_prefix, region,
			     strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
	return w < 0 || (size_t)w >= n ? BOT_EINVAL : BOT_EOK;
}

int aws_client_endpoint(const struct aws_client *c, enum aws_service svc, const char *region,
			char *buf, size_t n)
{
	if ((unsigned)svc >= AWS_SVC__N)
		return BOT_EINVAL;
	if (c->pinned_url)
		return aws_endpoint_resolve(svc, region ? region : c->region, NULL, NULL,
					    c->pinned_url, buf, n);
	return aws_endpoint_resolve(svc, region ? region : c->region, c->env_url[svc],
				    c->env_global, c->config_url, buf, n);
}

/* Host header value and path of url: "127.0.0.1:5055", "/". */
static int split_url(const char *url, char *host, size_t hn, char *path, size_t pn)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *h = NULL, *port = NULL, *p = NULL;
	int rc = BOT_EINVAL;

	if (!u)
		return BOT_ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK)
		goto out;
	if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)
		goto out;
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		port = NULL;
	if (port && ((strcasecmp(scheme, "http") == 0 && strcmp(port, "80") == 0) ||
		     (strcasecmp(scheme, "https") == 0 && strcmp(port, "443") == 0))) {
		curl_free(port);
		port = NULL;
	}
	if (curl_url_get(u, CURLUPART_PATH, &p, 0) != CURLUE_OK)
		p = NULL;
	int w1 = snprintf(host, hn, "%s%s%s", h, port ? ":" : "", port ? port : "");
	int w2 = snprintf(path, pn, "%s", p && *p ? p : "/");
	if (w1 > 0 && (size_t)w1 < hn && w2 > 0 && (size_t)w2 < pn)
		rc = BOT_EOK;
out:
	curl_free(scheme);
	curl_free(h);
	curl_free(port);
	curl_free(p);
	curl_url_cleanup(u);
	return rc;
}

/* ---- calls -------------------------------------------------------------- */

static void call_closed(uv_handle_t *h)
{
	struct aws_call *call = h->data;

	free(call->body);
	free(call);
}

static void call_unlink(struct aws_call *call)
{
	struct aws_client *c = call->c;

	if (call->prev)
		call->prev->next = call->next;
	else if (c->calls == call)
		c->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	call->prev = call->next = NULL;
}

/* The attempt is over: its room in flight goes to the next in line. */
static void leave_room(struct aws_call *call)
{
	if (call->has_room) {
		call->has_room = false;
		aws_budget_leave(call->c->budget, (int)call->svc);
	}
}

static void finish(struct aws_call *call, const struct cloud_error *err,
		   const struct aws_response *resp)
{
	if (call->state == CS_ROOM)
		aws_budget_unwait(call->c->budget, &call->room);
	leave_room(call);
	call->state = CS_DONE;
	(void)uv_timer_stop(&call->timer);
	call_unlink(call);
	call->cb(call->ud, err, resp);
	aws_sigv4_result_free(&call->sig);
	uv_close((uv_handle_t *)&call->timer, call_closed);
}

static void finish_err(struct aws_call *call, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void finish_err(struct aws_call *call, int code, const char *fmt, ...)
{
	struct cloud_error e;
	va_list ap;

	memset(&e, 0, sizeof e);
	e.code = code;
	e.attempts = call->attempts;
	va_start(ap, fmt);
	vsnprintf(e.message, sizeof e.message, fmt, ap);
	va_end(ap);
	finish(call, &e, NULL);
}

static void on_timer(uv_timer_t *t);

/* Deliver err on the next loop turn (never inside aws_client_call). */
static void defer_err(struct aws_call *call, const struct cloud_error *err)
{
	call->err = *err;
	call->err.attempts = call->attempts;
	call->finish_pending = true;
	call->state = CS_WAIT;
	(void)uv_timer_start(&call->timer, on_timer, 0, 0);
}

static void defer_code(struct aws_call *call, int code, const char *msg)
{
	struct cloud_error e;

	memset(&e, 0, sizeof e);
	e.code = code;
	aws__copy(e.message, sizeof e.message, msg);
	defer_err(call, &e);
}

static void on_http(void *ud, int rc, const struct http_response *resp, const char *errmsg);

static void send_attempt(struct aws_call *call, const struct aws_creds *creds)
{
	struct aws_client *c = call->c;
	const struct aws_service_info *si = &services[call->svc];
	char url[MAX_URL], host[256], path[256], target[160];
	char h_host[300], h_ct[128], h_target[200], h_date[64];
	char *h_token = NULL, *h_auth = NULL;
	const char *hdrs[8];
	struct aws_sigv4_header sh[2];
	struct bot_error berr = { .msg = "" };
	size_t nh = 0, nsh = 0;
	int rc;

	aws_sigv4_result_free(&call->sig);
	rc = aws_client_endpoint(c, call->svc, call->region, url, sizeof url);
	if (!rc)
		rc = split_url(url, host, sizeof host, path, sizeof path);
	if (rc) {
		defer_code(call, BOT_ECONFIG, "bad AWS endpoint URL");
		return;
	}
	sh[nsh++] = (struct aws_sigv4_header){ "Content-Type", si->content_type };
	if (si->target_prefix) {
		snprintf(target, sizeof target, "%s.%s", si->target_prefix, call->op);
		sh[nsh++] = (struct aws_sigv4_header){ "X-Amz-Target", target };
	}
	struct aws_sigv4_request sr = {
		.method = "POST",
		.host = host,
		.path = path,
		.headers = sh,
		.n_headers = nsh,
		.body = call->body,
		.body_len = call->body_len,
		.region = call->region,
		.service = si->signing_name,
		.when = time(NULL),
	};
	rc = aws_sigv4_sign(&sr, creds, &call->sig, &berr);
	if (rc) {
		defer_code(call, rc == BOT_EINVAL ? BOT_EAUTH : rc, berr.msg);
		return;
	}
	snprintf(h_host, sizeof h_host, "Host: %s", host);
	snprintf(h_ct, sizeof h_ct, "Content-Type: %s", si->content_type);
	snprintf(h_date, sizeof h_date, "X-Amz-Date: %s", call->sig.amz_date);
	hdrs[nh++] = h_host;
	hdrs[nh++] = h_ct;
	if (si->target_prefix) {
		snprintf(h_target, sizeof h_target, "X-Amz-Target: %s", target);
		hdrs[nh++] = h_target;
	}
	hdrs[nh++] = h_date;
	if (call->sig.security_token) {
		size_t l = strlen(call->sig.security_token) + 32;
		h_token = malloc(l);
		if (h_token) {
			snprintf(h_token, l, "X-Amz-Security-Token: %s", call->sig.security_token);
			hdrs[nh++] = h_token;
		}
	}
	size_t al = strlen(call->sig.authorization) + 32;
	h_auth = malloc(al);
	if (h_auth) {
		snprintf(h_auth, al, "Authorization: %s", call->sig.authorization);
		hdrs[nh++] = h_auth;
	}
	hdrs[nh] = NULL;
	if (!h_auth || (call->sig.security_token && !h_token)) {
		defer_code(call, BOT_ENOMEM, "out of memory");
		goto out;
	}
	struct http_request hr = {
		.method = "POST",
		.url = url,
		.headers = hdrs,
		.body = call->body,
		.body_len = call->body_len,
		.timeout_ms = call->timeout_ms > 0 ? call->timeout_ms : c->timeout_ms,
	};
	call->attempts++;
	c->stats.attempts++;
	rc = http_send(c->http, &hr, on_http, call, &call->http);
	if (rc) {
		call->attempts--;
		c->stats.attempts--;
		defer_code(call, rc == BOT_ESTATE ? BOT_ECANCELLED : rc,
			   rc == BOT_ESTATE ? "the HTTP client is shut down" : "cannot send the request");
		goto out;
	}
	call->state = CS_HTTP;
	log_debug("aws.send", "svc=%s op=%s region=%s attempt=%d", si->signing_name, call->op,
		  LOG_Q(call->region), call->attempts);
out:
	if (h_token) {
		/* the header copy held the token; http has its own copy now */
		memset(h_token, 0, strlen(h_token));
		free(h_token);
	}
	free(h_auth);
}

static void on_creds(void *ud, const struct cloud_error *err, const struct aws_creds *creds)
{
	struct aws_call *call = ud;

	call->wait = NULL;
	if (err) {
		struct cloud_error e = *err;
		e.attempts = call->attempts;
		if (e.code == BOT_EOK)
			e.code = BOT_EAUTH;
		finish(call, &e, NULL);
		return;
	}
	send_attempt(call, creds);
}

static void on_room(struct aws_budget_waiter *w)
{
	struct aws_call *call = container_of(w, struct aws_call, room);

	/* inside aws_budget_leave (another call's end): go on next turn */
	call->has_room = true;
	call->state = CS_WAIT;
	call->budget_pending = true;
	(void)uv_timer_start(&call->timer, on_timer, 0, 0);
}

/* Every attempt spends a token of its API and holds room in flight while
 * it runs: false when it waits for either (it goes on by itself). */
static bool budget_allows(struct aws_call *call)
{
	struct aws_budget *b = call->c->budget;
	char api[96];

	if (!b || !budgeted[call->svc])
		return true;
	if (!call->paid) {
		snprintf(api, sizeof api, "%s.%s", services[call->svc].signing_name, call->op);
		uint64_t wait = aws_budget_spend(b, api, uv_now(call->c->uv));
		if (wait) {
			log_debug("aws.budget", "svc=%s op=%s wait_ms=%llu", services[call->svc].signing_name,
				  call->op, (unsigned long long)wait);
			call->state = CS_WAIT;
			call->budget_pending = true;
			(void)uv_timer_start(&call->timer, on_timer, wait, 0);
			return false;
		}
		call->paid = true;
	}
	if (!call->has_room) {
		call->room.svc = (int)call->svc;
		call->room.go = on_room;
		if (!aws_budget_enter(b, &call->room)) {
			call->state = CS_ROOM;
			return false;
		}
		call->has_room = true;
	}
	return true;
}

static void start_attempt(struct aws_call *call)
{
	struct aws_creds_provider *p = call->creds ? call->creds : call->c->creds;
	const struct aws_creds *cached;
	int rc;

	if (!budget_allows(call))
		return;
	call->paid = false; /* the next attempt pays again */
	if (!p) {
		defer_code(call, BOT_EAUTH, "no AWS credentials configured");
		return;
	}
	cached = aws_creds_cached(p);
	if (cached) {
		send_attempt(call, cached);
		return;
	}
	call->state = CS_CREDS;
	rc = aws_creds_refresh(p, on_creds, call, &call->wait);
	if (rc)
		defer_code(call, rc, "cannot get AWS credentials");
}

static void on_timer(uv_timer_t *t)
{
	struct aws_call *call = t->data;

	if (call->finish_pending) {
		call->finish_pending = false;
		struct cloud_error e = call->err;
		finish(call, &e, NULL);
		return;
	}
	if (call->budget_pending)
		call->budget_pending = false;
	else
		call->c->stats.retries++;
	start_attempt(call);
}

static long parse_retry_after(const char *v)
{
	char *end;
	long ms;

	if (!v || !*v)
		return -1;
	errno = 0;
	ms = strtol(v, &end, 10);
	if (errno || *end || ms < 0)
		return -1;
	return ms;
}

bool aws_client_error_expected(enum aws_service svc, const char *aws_code, const char *body)
{
	json_t *doc, *reasons, *r;
	bool expected = false;
	size_t i;

	if (svc != AWS_SVC_DYNAMODB || !aws_code)
		return false;
	if (strcmp(aws_code, "ConditionalCheckFailedException") == 0)
		return true;
	if (strcmp(aws_code, "TransactionCanceledException") != 0 || !body)
		return false;
	/* cancelled by conditions alone: every reason None or ConditionalCheckFailed */
	doc = json_loads(body, 0, NULL);
	reasons = json_object_get(doc, "CancellationReasons");
	json_array_foreach(reasons, i, r) {
		const char *code = json_string_value(json_object_get(r, "Code"));
		if (!code || (strcmp(code, "None") != 0 && strcmp(code, "ConditionalCheckFailed") != 0)) {
			expected = false;
			break;
		}
		expected |= strcmp(code, "ConditionalCheckFailed") == 0;
	}
	json_decref(doc);
	return expected;
}

/* A failed try: go again after a backoff, or deliver err. */
/* eresp: the error answer (non-2xx with its body), handed to the callback
 * beside err when this try is the last; NULL when there was no answer. */
static void retry_or_finish(struct aws_call *call, enum aws_err_class cls, int http_rc,
			    long retry_after_ms, struct cloud_error *err,
			    const struct aws_response *eresp)
{
	struct aws_client *c = call->c;
	const struct aws_retry_policy *p = &c->retry;
	int cost = http_rc == BOT_ETIMEOUT ? p->timeout_cost : p->retry_cost;
	const char *why = NULL;

	err->attempts = call->attempts;
	if (!aws_err_retryable(cls))
		why = "not retryable";
	else if (call->no_retry)
		why = "not idempotent";
	else if (call->attempts >= p->max_attempts)
		why = "attempts exhausted";
	else if (c->closing)
		why = "shutting down";
	else if (p->quota > 0 && c->quota < cost)
		why = "retry quota exhausted";
	if (why) {
		/* a lost DynamoDB condition is an answer, not a fault (debug) */
		bool expected = aws_client_error_expected(call->svc, err->aws_code,
							  eresp ? eresp->body : NULL);
		log_emit(expected ? BOT_LOG_DEBUG : BOT_LOG_WARN, "aws.error",
			 "svc=%s op=%s region=%s status=%d code=%s class=%s attempts=%d "
			 "request_id=%s final=%s msg=%s", services[call->svc].signing_name, call->op,
			 LOG_Q(call->region), err->http_status,
			 LOG_Q(err->aws_code[0] ? err->aws_code : "-"), aws_err_class_name(cls),
			 call->attempts, LOG_Q(err->request_id[0] ? err->request_id : "-"),
			 LOG_Q(expected ? "expected outcome" : why), LOG_Q(err->message));
		finish(call, err, eresp);
		return;
	}
	if (p->quota > 0) {
		c->quota -= cost;
		call->cost += cost;
	}
	uint64_t delay = aws_retry_delay_ms(p, call->attempts, cls, c->rand01(c->rand_ud),
					    retry_after_ms);
	log_warn("aws.retry", "svc=%s op=%s region=%s status=%d code=%s class=%s attempt=%d "
		 "delay_ms=%llu request_id=%s", services[call->svc].signing_name, call->op,
		 LOG_Q(call->region), err->http_status,
		 LOG_Q(err->aws_code[0] ? err->aws_code : "-"), aws_err_class_name(cls),
		 call->attempts, (unsigned long long)delay,
		 LOG_Q(err->request_id[0] ? err->request_id : "-"));
	call->state = CS_WAIT;
	call->finish_pending = false;
	(void)uv_timer_start(&call->timer, on_timer, delay, 0);
}

static void on_http(void *ud, int rc, const struct http_response *resp, const char *errmsg)
{
	struct aws_call *call = ud;
	struct aws_client *c = call->c;
	struct cloud_error e;

	call->http = NULL;
	leave_room(call);
	memset(&e, 0, sizeof e);
	if (rc == BOT_ECANCELLED) {
		e.code = BOT_ECANCELLED;
		e.attempts = call->attempts;
		aws__copy(e.message, sizeof e.message, "cancelled");
		finish(call, &e, NULL);
		return;
	}
	if (rc) {
		enum aws_err_class cls = aws_err_classify_transport(rc);
		e.code = aws_err_bot_code(cls, rc);
		aws__copy(e.message, sizeof e.message, errmsg ? errmsg : bot_strerror(rc));
		retry_or_finish(call, cls, rc, -1, &e, NULL);
		return;
	}
	const char *rid = http_response_header(resp, "x-amzn-RequestId");
	if (!rid)
		rid = http_response_header(resp, "x-amz-request-id");
	if (resp->status >= 200 && resp->status < 300) {
		struct aws_response ar = {
			.status = resp->status,
			.body = resp->body,
			.body_len = resp->body_len,
			.request_id = rid ? rid : "",
			.attempts = call->attempts,
		};
		if (c->retry.quota > 0) {
			c->quota += call->cost ? call->cost : c->retry.success_refill;
			if (c->quota > c->retry.quota)
				c->quota = c->retry.quota;
		}
		log_debug("aws.ok", "svc=%s op=%s region=%s status=%ld attempts=%d request_id=%s",
			  services[call->svc].signing_name, call->op, LOG_Q(call->region),
			  resp->status, call->attempts, LOG_Q(rid));
		finish(call, NULL, &ar);
		return;
	}
	struct aws_err_headers hs = {
		.request_id = http_response_header(resp, "x-amzn-RequestId"),
		.request_id2 = http_response_header(resp, "x-amz-request-id"),
		.error_type = http_response_header(resp, "X-Amzn-ErrorType"),
		.query_error = http_response_header(resp, "x-amzn-query-error"),
	};
	struct aws_err_parsed pe;
	aws_err_parse(resp->body, resp->body_len, &hs, &pe);
	enum aws_err_class cls = aws_err_classify(resp->status, pe.code);
	aws_err_to_cloud(&pe, resp->status, cls, &e);
	if (strcmp(pe.code, "SignatureDoesNotMatch") == 0)
		aws_sigv4_log_diagnostics(&call->sig);
	if (cls == AWS_ERR_AUTH && !call->creds_retried &&
	    (strcmp(pe.code, "ExpiredToken") == 0 || strcmp(pe.code, "ExpiredTokenException") == 0 ||
	     strcmp(pe.code, "RequestExpired") == 0)) {
		struct aws_creds_provider *p = call->creds ? call->creds : c->creds;
		if (p && aws_creds_invalidate(p)) {
			call->creds_retried = true;
			log_warn("aws.retry", "svc=%s op=%s code=%s action=refresh-credentials",
				 services[call->svc].signing_name, call->op, LOG_Q(pe.code));
			call->state = CS_WAIT;
			call->finish_pending = false;
			(void)uv_timer_start(&call->timer, on_timer, 0, 0);
			return;
		}
	}
	struct aws_response er = {
		.status = resp->status,
		.body = resp->body ? resp->body : "",
		.body_len = resp->body ? resp->body_len : 0,
		.request_id = rid ? rid : "",
		.attempts = call->attempts,
	};
	retry_or_finish(call, cls, 0, parse_retry_after(http_response_header(resp, "x-amz-retry-after")),
			&e, &er);
}

int aws_client_call(struct aws_client *c, const struct aws_request *r, aws_client_cb cb, void *ud,
		    struct aws_call **out)
{
	struct aws_call *call;
	const char *region;

	if (out)
		*out = NULL;
	if (!c || !r || !cb || (unsigned)r->service >= AWS_SVC__N || !r->op || !*r->op ||
	    (r->body_len && !r->body))
		return BOT_EINVAL;
	if (c->closing)
		return BOT_ESTATE;
	region = set(r->region) ? r->region : c->region;
	if (strlen(region) >= sizeof call->region || strlen(r->op) >= sizeof call->op)
		return BOT_EINVAL;
	call = calloc(1, sizeof *call);
	if (!call)
		return BOT_ENOMEM;
	call->body = malloc(r->body_len + 1);
	if (!call->body) {
		free(call);
		return BOT_ENOMEM;
	}
	if (r->body_len)
		memcpy(call->body, r->body, r->body_len);
	call->body[r->body_len] = '\0';
	call->body_len = r->body_len;
	call->c = c;
	call->svc = r->service;
	call->no_retry = r->no_retry;
	call->timeout_ms = r->timeout_ms;
	call->creds = r->creds;
	call->cb = cb;
	call->ud = ud;
	call->t0 = uv_hrtime();
	aws__copy(call->region, sizeof call->region, region);
	aws__copy(call->op, sizeof call->op, r->op);
	(void)uv_timer_init(c->uv, &call->timer); /* cannot fail on unix */
	call->timer.data = call;
	call->next = c->calls;
	if (c->calls)
		c->calls->prev = call;
	c->calls = call;
	c->stats.calls++;
	if (out)
		*out = call;
	start_attempt(call);
	return BOT_EOK;
}

void aws_call_cancel(struct aws_call *call)
{
	if (!call)
		return;
	switch (call->state) {
	case CS_DONE:
		return;
	case CS_HTTP:
		http_cancel(call->http); /* on_http runs now and finishes */
		if (call->state != CS_HTTP)
			return;
		call->http = NULL;
		break;
	case CS_CREDS:
		aws_creds_wait_cancel(call->wait);
		call->wait = NULL;
		break;
	case CS_WAIT:
	case CS_ROOM: /* finish takes it out of the budget's queue */
		break;
	}
	finish_err(call, BOT_ECANCELLED, "cancelled");
}

void aws_client_cancel_all(struct aws_client *c)
{
	if (!c)
		return;
	while (c->calls)
		aws_call_cancel(c->calls);
}

/* ---- lifetime ----------------------------------------------------------- */

static void on_shutdown(void *ud, bot_loop_done_fn done, void *done_ud)
{
	struct aws_client *c = ud;

	c->closing = true;
	aws_client_cancel_all(c);
	done(done_ud);
}

void aws_client_set_budget(struct aws_client *c, struct aws_budget *b)
{
	if (c)
		c->budget = b;
}

void aws_client_set_creds(struct aws_client *c, struct aws_creds_provider *p)
{
	if (c)
		c->creds = p;
}

const char *aws_client_region(const struct aws_client *c)
{
	return c->region;
}

void aws_client_stats(const struct aws_client *c, struct aws_client_stats *out)
{
	*out = c->stats;
	out->quota = c->quota;
}

static void client_free(struct aws_client *c)
{
	free(c->region);
	free(c->config_url);
	free(c->pinned_url);
	free(c->env_global);
	for (int i = 0; i < AWS_SVC__N; i++)
		free(c->env_url[i]);
	free(c);
}

void aws_client_destroy(struct aws_client *c)
{
	if (!c)
		return;
	bot_loop_off_shutdown(c->loop, on_shutdown, c);
	c->closing = true;
	aws_client_cancel_all(c);
	client_free(c);
}

static bool env_true(const char *name)
{
	const char *v = getenv(name);
	return v && strcasecmp(v, "true") == 0;
}

/* An endpoint is https://, or http:// to a loopback host (bot/base/url.h). */
static int check_url(const char *what, const char *url, struct bot_error *err)
{
	char host[256], path[256];
	int rc;

	if (!set(url))
		return BOT_EOK;
	rc = url_check_http(url);
	if (rc == BOT_EPERM)
		return bot_error_set(err, BOT_EPERM, "%s: http:// " URL_NO_TLS_RULE "; use https://",
				     what);
	if (rc == BOT_ENOMEM)
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	if (rc || split_url(url, host, sizeof host, path, sizeof path) != BOT_EOK)
		return bot_error_set(err, BOT_EINVAL, "%s is not an http(s) URL", what);
	return BOT_EOK;
}

int aws_client_create(struct bot_loop *loop, struct http *http, const struct aws_client_opts *o,
		      struct aws_client **out, struct bot_error *err)
{
	struct aws_client *c;
	bool oom = false, ignore = env_true("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
	char name[64];
	int rc = BOT_EOK;

	*out = NULL;
	if (!loop || !http || !o || !set(o->region))
		return bot_error_set(err, BOT_EINVAL, "aws client: loop, http and region are required");
	c = calloc(1, sizeof *c);
	if (!c)
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	c->loop = loop;
	c->uv = bot_loop_uv(loop);
	c->http = http;
	c->retry = o->retry ? *o->retry : aws_retry_standard;
	if (c->retry.max_attempts < 1)
		c->retry.max_attempts = 1;
	c->quota = c->retry.quota;
	c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
	c->rand01 = o->rand01 ? o->rand01 : default_rand01;
	c->rand_ud = o->rand_ud;
	c->region = aws__dup(o->region, &oom);
	c->config_url = aws__dup(set(o->endpoint_url) ? o->endpoint_url : NULL, &oom);
	c->pinned_url = aws__dup(set(o->pinned_endpoint_url) ? o->pinned_endpoint_url : NULL, &oom);
	if (!ignore) {
		c->env_global = aws__dup(set(getenv("AWS_ENDPOINT_URL")) ? getenv("AWS_ENDPOINT_URL") : NULL, &oom);
		for (int i = 0; i < AWS_SVC__N; i++) {
			snprintf(name, sizeof name, "AWS_ENDPOINT_URL_%s", services[i].env_id);
			const char *v = getenv(name);
			c->env_url[i] = aws__dup(set(v) ? v : NULL, &oom);
			if (!rc)
				rc = check_url(name, v, err);
		}
		if (!rc)
			rc = check_url("AWS_ENDPOINT_URL", c->env_global, err);
	}
	if (!rc)
		rc = check_url("aws.endpoint_url", c->config_url, err);
	if (!rc)
		rc = check_url(o->pinned_what ? o->pinned_what : "endpoint", c->pinned_url, err);
	if (!rc && oom)
		rc = bot_error_set(err, BOT_ENOMEM, "out of memory");
	if (!rc) {
		rc = bot_loop_on_shutdown(loop, on_shutdown, c);
		if (rc)
			bot_error_set(err, rc, "cannot register the AWS client's shutdown hook");
	}
	if (rc) {
		client_free(c);
		return rc;
	}
	*out = c;
	return BOT_EOK;
}
