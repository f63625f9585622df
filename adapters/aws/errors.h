/* errors.h - AWS error bodies and what they mean (prefix aws_err_).
 *
 * Parsing: every service's error reply is read the same way, whatever its
 * protocol or Content-Type (moto answers auth failures of JSON services with
 * XML 403s):
 *   - a body starting with '{' is JSON: the code is "__type" (or "code"),
 *     sanitised as botocore does ("ns#Name:http://..." -> "Name"), the
 *     message is "message" or "Message";
 *   - a body starting with '<' is XML: the first <Code> and <Message>
 *     (entities decoded), and <RequestId> when the headers had none;
 *   - headers: x-amzn-query-error ("Code;Sender", awsQueryCompatible
 *     services such as CloudWatch) wins over the body's code, as in
 *     botocore; X-Amzn-ErrorType fills in a missing code; the request id is
 *     x-amzn-RequestId, else x-amz-request-id.
 *
 * Classification is a table (aws_err_classify): an AWS code maps to a
 * class, a class maps to one bot error code and whether it may be retried.
 * Codes not in the table fall back on the HTTP status.
 */
#ifndef ADAPTERS_AWS_ERRORS_H
#define ADAPTERS_AWS_ERRORS_H

#include <stdbool.h>
#include <stddef.h>

#include "adapters/cloud.h"

enum aws_err_class {
	AWS_ERR_NONE = 0,
	AWS_ERR_AUTH,       /* bad signature/key/token: BOT_EAUTH, not retried */
	AWS_ERR_PERMISSION, /* IAM said no: BOT_EPERM, not retried */
	AWS_ERR_NOT_FOUND,  /* BOT_ENOTFOUND, not retried */
	AWS_ERR_THROTTLE,   /* BOT_ERATELIMIT, retried */
	AWS_ERR_TRANSIENT,  /* 500/502/503/504, request timeouts: BOT_EREMOTE, retried */
	AWS_ERR_TRANSPORT,  /* no response (connect, reset, timeout): BOT_ETRANSPORT/ETIMEOUT, retried */
	AWS_ERR_CLIENT,     /* any other refusal (validation, 4xx): BOT_EINVAL, not retried */
	AWS_ERR_SERVER,     /* other 5xx (501, 505...): BOT_EREMOTE, not retried */
	AWS_ERR__N
};

/* What one error reply said. Strings are truncated to the cloud_error
 * sizes. */
struct aws_err_parsed {
	char code[64];
	char message[512];
	char request_id[72];
};

/* Headers the parser looks at (any may be NULL). */
struct aws_err_headers {
	const char *request_id;   /* x-amzn-RequestId */
	const char *request_id2;  /* x-amz-request-id */
	const char *error_type;   /* X-Amzn-ErrorType */
	const char *query_error;  /* x-amzn-query-error */
};

/* Parse an error reply; never fails (an unreadable body leaves code and
 * message empty). */
void aws_err_parse(const char *body, size_t len, const struct aws_err_headers *h,
		   struct aws_err_parsed *out);

/* "ns#Name:http://..." -> "Name" into out (botocore's sanitising). */
void aws_err_sanitize_code(const char *raw, char *out, size_t n);

/* Class of an error reply: the code first (table and suffix rules such as
 * "...NotFoundException"), else the status. */
enum aws_err_class aws_err_classify(long http_status, const char *code);
/* Class of a call that got no response (rc from adapters/http). */
enum aws_err_class aws_err_classify_transport(int rc);

/* The bot error code for a class (transport: pass the http rc, kept when it
 * is BOT_ETIMEOUT/BOT_ETRANSPORT). */
int aws_err_bot_code(enum aws_err_class c, int transport_rc);
bool aws_err_retryable(enum aws_err_class c);
const char *aws_err_class_name(enum aws_err_class c);

/* Fill a cloud_error from a parsed reply (message defaults to the HTTP
 * status text when AWS gave none). */
void aws_err_to_cloud(const struct aws_err_parsed *p, long status, enum aws_err_class c,
		      struct cloud_error *out);

#endif
