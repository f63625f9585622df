/* fuzz_aws_xml - the awsQuery/XML side: STS (AssumeRole,
 * GetCallerIdentity), SNS Publish, XML error replies, and the tag
 * extractor under them (aws_xml_*).
 *
 * Bodies are bytes and a length, never NUL-terminated here, so a read past
 * the end is caught. Checks beyond the sanitizers: spans stay inside the
 * document, aws_xml_next always moves forward, decoding never grows the
 * text, and parsed credentials are complete. */
#include "fuzz.h"

#include "adapters/aws/errors.h"
#include "adapters/aws/sns.h"
#include "adapters/aws/sts.h"
#include "adapters/aws/xml.h"

static void check_span(const char *s, size_t n, const struct aws_xml_span *sp)
{
	FUZZ_CHECK(sp->p >= s && sp->p <= s + n && sp->n <= (size_t)(s + n - sp->p), "span");
}

static void extractor(const char *s, size_t n)
{
	static const char *const paths[] = {"Error/Code", "Credentials/AccessKeyId", "member"};
	struct aws_xml_span sp;
	size_t pos = 0, count = 0;
	char *t;

	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		if (aws_xml_find_path(s, n, paths[i], &sp))
			check_span(s, n, &sp);
		t = aws_xml_text(s, n, paths[i], NULL);
		free(t);
	}
	while (aws_xml_next(s, n, &pos, "member", &sp)) {
		size_t before = pos;
		check_span(s, n, &sp);
		FUZZ_CHECK(pos <= n && sp.p + sp.n <= s + pos, "pos %zu", pos);
		FUZZ_CHECK(++count <= n, "aws_xml_next does not advance (pos %zu)", before);
	}
	t = aws_xml_decode(s, n);
	FUZZ_CHECK(t && strlen(t) <= n, "decoding grew the text");
	free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	struct bot_error err = {0};
	struct aws_sts_assumed a;
	struct aws_sts_identity id;
	struct aws_err_parsed e;
	char *mid = NULL;

	if (aws_sts_parse_assume_role(body, size, &a, &err) == BOT_EOK) {
		FUZZ_CHECK(a.creds.access_key_id && a.creds.secret_access_key && a.creds.session_token,
			   "AssumeRole credentials");
		aws_sts_assumed_clear(&a);
	}
	if (aws_sts_parse_caller_identity(body, size, &id, &err) == BOT_EOK) {
		FUZZ_CHECK(id.arn, "GetCallerIdentity Arn");
		aws_sts_identity_clear(&id);
	}
	if (aws_sns_parse_publish(body, size, &mid, &err) == BOT_EOK)
		FUZZ_CHECK(mid, "MessageId");
	free(mid);
	aws_err_parse(body, size, NULL, &e);
	FUZZ_CHECK(strlen(e.code) < sizeof e.code && strlen(e.request_id) < sizeof e.request_id,
		   "sizes");
	extractor(body, size);
	return 0;
}
