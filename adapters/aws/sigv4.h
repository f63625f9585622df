/* sigv4.h - AWS Signature Version 4 request signing (Authorization header).
 *
 * Pure and deterministic: no I/O, no clock, no global state. The caller
 * passes the signing time and gets back the header values to add to the
 * request. The canonical request and string to sign come back too, for the
 * caller to log (aws_sigv4_log_diagnostics) on SignatureDoesNotMatch.
 * Hashing and HMAC use OpenSSL; derived keys are wiped after use and the
 * secret key is never copied into any output or log.
 *
 * Checked byte for byte against the aws-c-auth SigV4 test suite
 * (tests/data/sigv4/). Not implemented on purpose: presigned URLs
 * (query-string signing), SigV4a, chunked/streaming payloads and S3's
 * single-encoded paths.
 */
#ifndef ADAPTERS_AWS_SIGV4_H
#define ADAPTERS_AWS_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "bot/base/error.h"

/* Credentials; all strings borrowed for the duration of the call. */
struct aws_creds {
	const char *access_key_id;     /* required, e.g. "AKIA..." / "ASIA..." */
	const char *secret_access_key; /* required; never appears in any output */
	const char *session_token;     /* NULL or "" = no temporary credentials */
};

struct aws_sigv4_header {
	const char *name;
	const char *value;
};

/* One request to sign. Zero-initialise it and fill what you need. */
struct aws_sigv4_request {
	const char *method;  /* "POST" */
	const char *host;    /* value of the Host header: "ecs.us-east-1.amazonaws.com",
	                      * "127.0.0.1:5055" (with the port when it is not the default) */
	const char *path;    /* request path as sent, e.g. "/"; NULL or "" = "/". Unless
	                      * no_normalize_path, "." and ".." segments and repeated '/'
	                      * are resolved first. Each segment is then RFC 3986 encoded
	                      * (a '%' too: AWS's "double encoding" for non-S3 services). */
	const char *query;   /* raw query string without '?', or NULL. Split on '&', each
	                      * name and value %XX-decoded then RFC 3986 re-encoded, sorted
	                      * by name then value. '+' is a literal plus, not a space. */
	/* Headers the caller sends besides Host, X-Amz-Date, Authorization and
	 * X-Amz-Security-Token (which come from this module and are refused
	 * here, as is X-Amz-Content-Sha256 with add_content_sha256). Every one
	 * is signed (content-type, x-amz-target, ...) except user-agent, expect,
	 * connection, transfer-encoding and x-amzn-trace-id, which proxies and
	 * transports may rewrite. Repeated names are joined with ',' in order. */
	const struct aws_sigv4_header *headers;
	size_t n_headers;
	const void *body;    /* NULL with body_len 0 = empty body */
	size_t body_len;
	const char *region;  /* "us-east-1" */
	const char *service; /* signing name: "ecs", "monitoring", "sns", "sts" */
	time_t when;         /* signing time, seconds since the epoch (UTC) */
	bool no_normalize_path;  /* keep ".", ".." and "//" in the path as given */
	bool add_content_sha256; /* also sign x-amz-content-sha256 (= payload_hash);
	                          * the caller must then send that header */
};

#define AWS_SIGV4_DATE_LEN 16 /* "20150830T123600Z" */
#define AWS_SIGV4_HEX_LEN  64 /* hex SHA-256 / HMAC-SHA256 */
/* Canonical requests longer than this are refused with BOT_ETOOBIG. */
#define AWS_SIGV4_MAX_CANONICAL (256 * 1024)

/* What to add to the request:
 *   X-Amz-Date: amz_date
 *   X-Amz-Security-Token: security_token     (only when it is not NULL)
 *   x-amz-content-sha256: payload_hash       (only with add_content_sha256)
 *   Authorization: authorization
 * The char * members are owned by the result: release them with
 * aws_sigv4_result_free(). */
struct aws_sigv4_result {
	char amz_date[AWS_SIGV4_DATE_LEN + 1];
	char payload_hash[AWS_SIGV4_HEX_LEN + 1]; /* hex SHA-256 of the body */
	char signature[AWS_SIGV4_HEX_LEN + 1];
	char *authorization;     /* "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." */
	char *signed_headers;    /* "content-type;host;x-amz-date;..." */
	char *canonical_request; /* diagnostics; holds the session token if one is set */
	char *string_to_sign;    /* diagnostics */
	const char *security_token; /* borrowed from the creds (valid while they are);
	                             * NULL when there is none: never send it empty */
};

/* Sign r with c. On success returns BOT_EOK and fills out, which the caller
 * releases with aws_sigv4_result_free(). On failure out is left zeroed (safe
 * to free) and the code is BOT_EINVAL (a missing or malformed field: the
 * message names the field, never a secret or header value), BOT_ETOOBIG,
 * BOT_ENOMEM or BOT_ETLS (OpenSSL failed). */
int aws_sigv4_sign(const struct aws_sigv4_request *r, const struct aws_creds *c,
		   struct aws_sigv4_result *out, struct bot_error *err);

/* Free the strings in r and zero it; NULL and a zeroed result are fine. */
void aws_sigv4_result_free(struct aws_sigv4_result *r);

/* Log the canonical request and string to sign at debug level (event
 * "aws.sigv4.diagnostics"), the session token masked. Meant for the
 * SignatureDoesNotMatch path: compare with the server's canonical request. */
void aws_sigv4_log_diagnostics(const struct aws_sigv4_result *r);

/* RFC 3986 encoding: A-Za-z0-9 and "-._~" stay literal, every other byte
 * becomes %XX (uppercase hex), so space is "%20"; '/' stays literal when
 * keep_slash. Returns a string the caller frees, or NULL (s NULL or out of
 * memory). */
char *aws_sigv4_uri_encode(const char *s, bool keep_slash);

/* application/x-www-form-urlencoded exactly as botocore/moto produce it for
 * awsQuery bodies (SNS, STS): space becomes '+', A-Za-z0-9 and "_.-~" stay
 * literal, every other byte becomes %XX (uppercase). Returns a string the
 * caller frees, or NULL (s NULL or out of memory). */
char *aws_sigv4_form_encode(const char *s);

#endif
