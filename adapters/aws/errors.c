/* errors.c - parse and classify AWS error replies (see errors.h). */
#include "adapters/aws/errors.h"
#include "adapters/aws/util.h"
#include "adapters/aws/xml.h"
#include "bot/base/error.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Codes whose class the status alone would get wrong or miss. From
 * botocore retries/standard.py (throttles, transient codes) and the
 * services' models and observed replies (auth, permission). */
static const struct {
	const char *code;
	enum aws_err_class cls;
} code_table[] = {
	/* authentication */
	{"AuthFailure", AWS_ERR_AUTH},
	{"ExpiredToken", AWS_ERR_AUTH},
	{"ExpiredTokenException", AWS_ERR_AUTH},
	{"IncompleteSignature", AWS_ERR_AUTH},
	{"IncompleteSignatureException", AWS_ERR_AUTH},
	{"InvalidAccessKeyId", AWS_ERR_AUTH},
	{"InvalidClientTokenId", AWS_ERR_AUTH},
	{"InvalidSignatureException", AWS_ERR_AUTH},
	{"MissingAuthenticationToken", AWS_ERR_AUTH},
	{"MissingAuthenticationTokenException", AWS_ERR_AUTH},
	{"RequestExpired", AWS_ERR_AUTH},
	{"SignatureDoesNotMatch", AWS_ERR_AUTH},
	{"UnrecognizedClientException", AWS_ERR_AUTH},
	/* permission */
	{"AccessDenied", AWS_ERR_PERMISSION},
	{"AccessDeniedException", AWS_ERR_PERMISSION},
	{"AuthorizationError", AWS_ERR_PERMISSION}, /* SNS */
	{"UnauthorizedOperation", AWS_ERR_PERMISSION},
	/* not found (besides the *NotFound / *NotFoundException rule) */
	{"NoSuchEntity", AWS_ERR_NOT_FOUND},
	/* throttling */
	{"BandwidthLimitExceeded", AWS_ERR_THROTTLE},
	{"EC2ThrottledException", AWS_ERR_THROTTLE},
	{"LimitExceededException", AWS_ERR_THROTTLE},
	{"PriorRequestNotComplete", AWS_ERR_TRANSIENT},
	{"ProvisionedThroughputExceededException", AWS_ERR_THROTTLE},
	{"RequestLimitExceeded", AWS_ERR_THROTTLE},
	{"RequestThrottled", AWS_ERR_THROTTLE},
	{"RequestThrottledException", AWS_ERR_THROTTLE},
	{"RequestTimeout", AWS_ERR_TRANSIENT},
	{"RequestTimeoutException", AWS_ERR_TRANSIENT},
	{"SlowDown", AWS_ERR_THROTTLE},
	{"ThrottledException", AWS_ERR_THROTTLE},
	{"Throttling", AWS_ERR_THROTTLE},
	{"ThrottlingException", AWS_ERR_THROTTLE},
	{"TooManyRequestsException", AWS_ERR_THROTTLE},
	{"TransactionInProgressException", AWS_ERR_THROTTLE},
};

static const struct {
	const char *name;
	int bot;
	bool retry;
} class_info[AWS_ERR__N] = {
	[AWS_ERR_NONE] = {"none", BOT_EOK, false},
	[AWS_ERR_AUTH] = {"auth", BOT_EAUTH, false},
	[AWS_ERR_PERMISSION] = {"permission", BOT_EPERM, false},
	[AWS_ERR_NOT_FOUND] = {"not-found", BOT_ENOTFOUND, false},
	[AWS_ERR_THROTTLE] = {"throttle", BOT_ERATELIMIT, true},
	[AWS_ERR_TRANSIENT] = {"transient", BOT_EREMOTE, true},
	[AWS_ERR_TRANSPORT] = {"transport", BOT_ETRANSPORT, true},
	[AWS_ERR_CLIENT] = {"client", BOT_EINVAL, false},
	[AWS_ERR_SERVER] = {"server", BOT_EREMOTE, false},
};

void aws_err_sanitize_code(const char *raw, char *out, size_t n)
{
	char tmp[256];
	char *colon, *hash;

	aws__copy(tmp, sizeof tmp, raw);
	colon = strchr(tmp, ':');
	if (colon)
		*colon = '\0';
	hash = strrchr(tmp, '#');
	aws__copy(out, n, hash ? hash + 1 : tmp);
}

static const char *skip_ws(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
		s++;
	return s;
}

static void parse_json(const char *body, size_t len, struct aws_err_parsed *out)
{
	json_t *j = json_loadb(body, len, 0, NULL);
	const char *code, *msg;

	if (!json_is_object(j))
		goto out;
	code = aws__json_str(j, "__type");
	if (!code)
		code = aws__json_str(j, "code");
	if (code)
		aws_err_sanitize_code(code, out->code, sizeof out->code);
	msg = aws__json_str(j, "message");
	if (!msg)
		msg = aws__json_str(j, "Message");
	if (!msg)
		msg = aws__json_str(j, "errorMessage");
	if (msg)
		aws__copy(out->message, sizeof out->message, msg);
out:
	json_decref(j);
}

static void parse_xml(const char *body, size_t len, struct aws_err_parsed *out)
{
	char *code = aws_xml_text(body, len, "Code", NULL);
	char *msg = aws_xml_text(body, len, "Message", NULL);
	char *rid = aws_xml_text(body, len, "RequestId", NULL);

	if (code)
		aws__copy(out->code, sizeof out->code, code);
	if (msg)
		aws__copy(out->message, sizeof out->message, msg);
	if (rid && !out->request_id[0])
		aws__copy(out->request_id, sizeof out->request_id, rid);
	free(code);
	free(msg);
	free(rid);
}

void aws_err_parse(const char *body, size_t len, const struct aws_err_headers *h,
		   struct aws_err_parsed *out)
{
	static const struct aws_err_headers none = {0};
	const char *p, *end;

	memset(out, 0, sizeof *out);
	if (!h)
		h = &none;
	if (h->request_id && *h->request_id)
		aws__copy(out->request_id, sizeof out->request_id, h->request_id);
	else if (h->request_id2 && *h->request_id2)
		aws__copy(out->request_id, sizeof out->request_id, h->request_id2);
	if (body && len) {
		end = body + len;
		p = skip_ws(body, end);
		if (p < end && *p == '{')
			parse_json(p, (size_t)(end - p), out);
		else if (p < end && *p == '<')
			parse_xml(p, (size_t)(end - p), out);
	}
	if (h->query_error && *h->query_error) {
		/* "ResourceNotFound;Sender" */
		char tmp[128];
		aws__copy(tmp, sizeof tmp, h->query_error);
		char *semi = strchr(tmp, ';');
		if (semi)
			*semi = '\0';
		if (tmp[0])
			aws__copy(out->code, sizeof out->code, tmp);
	}
	if (!out->code[0] && h->error_type && *h->error_type)
		aws_err_sanitize_code(h->error_type, out->code, sizeof out->code);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

enum aws_err_class aws_err_classify(long status, const char *code)
{
	if (code && *code) {
		for (size_t i = 0; i < BOT_ARRAY_LEN(code_table); i++)
			if (strcmp(code_table[i].code, code) == 0)
				return code_table[i].cls;
		if (ends_with(code, "NotFoundException") || ends_with(code, "NotFound"))
			return AWS_ERR_NOT_FOUND;
	}
	if (status >= 200 && status < 300)
		return AWS_ERR_NONE;
	switch (status) {
	case 401: return AWS_ERR_AUTH;
	case 403: return AWS_ERR_PERMISSION;
	case 404: return AWS_ERR_NOT_FOUND;
	case 429: return AWS_ERR_THROTTLE;
	case 500: case 502: case 503: case 504: return AWS_ERR_TRANSIENT;
	default: break;
	}
	return status >= 500 ? AWS_ERR_SERVER : AWS_ERR_CLIENT;
}

enum aws_err_class aws_err_classify_transport(int rc)
{
	switch (rc) {
	case BOT_EOK:
		return AWS_ERR_NONE;
	case BOT_ETIMEOUT:
	case BOT_ETRANSPORT:
		return AWS_ERR_TRANSPORT;
	default:
		/* TLS (a certificate problem does not heal), too big,
		 * cancelled, out of memory: not retried. */
		return AWS_ERR__N;
	}
}

int aws_err_bot_code(enum aws_err_class c, int transport_rc)
{
	if (c == AWS_ERR_TRANSPORT && (transport_rc == BOT_ETIMEOUT || transport_rc == BOT_ETRANSPORT))
		return transport_rc;
	if ((unsigned)c >= AWS_ERR__N)
		return transport_rc ? transport_rc : BOT_EREMOTE;
	return class_info[c].bot;
}

bool aws_err_retryable(enum aws_err_class c)
{
	return (unsigned)c < AWS_ERR__N && class_info[c].retry;
}

const char *aws_err_class_name(enum aws_err_class c)
{
	return (unsigned)c < AWS_ERR__N ? class_info[c].name : "other";
}

void aws_err_to_cloud(const struct aws_err_parsed *p, long status, enum aws_err_class c,
		      struct cloud_error *out)
{
	out->code = aws_err_bot_code(c, 0);
	out->http_status = (int)status;
	aws__copy(out->aws_code, sizeof out->aws_code, p->code);
	aws__copy(out->request_id, sizeof out->request_id, p->request_id);
	if (p->message[0])
		aws__copy(out->message, sizeof out->message, p->message);
	else
		snprintf(out->message, sizeof out->message, "HTTP %ld%s%s", status,
			 p->code[0] ? " " : "", p->code);
}
