/* fuzz_alarm_msg - the alarm intake's body parser (adapters/aws/alarm_msg)
 * on any bytes, as an SQS message body reaches it (bytes and a length),
 * plus its time and ARN helpers on the same bytes as a string.
 *
 * Checks beyond the sanitizers: a refusal says why, with a known code;
 * what parses keeps the promises of cloud.h (format one of sns, raw,
 * eventbridge; ARN, name, region, account, state and reason set; region
 * and account are the ARN's; a known state; n_dims within the bound and
 * every dim named; metric math has no namespace or metric). */
#include "fuzz.h"

#include "adapters/aws/alarm_msg.h"

static void check_change(const struct cloud_alarm_change *c)
{
	char region[64], account[16];
	const char *name = NULL;

	FUZZ_CHECK(c, "no change");
	FUZZ_CHECK(c->format && (strcmp(c->format, "sns") == 0 || strcmp(c->format, "raw") == 0 ||
				 strcmp(c->format, "eventbridge") == 0), "format");
	FUZZ_CHECK(c->arn && c->name && c->region && c->account && c->reason, "fields");
	FUZZ_CHECK(aws_alarm_msg_arn(c->arn, region, sizeof region, account, sizeof account, &name),
		   "ARN %s", c->arn);
	FUZZ_CHECK(strcmp(region, c->region) == 0 && strcmp(account, c->account) == 0,
		   "region/account not the ARN's");
	FUZZ_CHECK(aws_alarm_msg_state_ok(c->state), "state");
	FUZZ_CHECK(!c->old_state || aws_alarm_msg_state_ok(c->old_state), "old state");
	FUZZ_CHECK(c->n_dims <= AWS_ALARM_MSG_MAX_DIMS, "dims %zu", c->n_dims);
	FUZZ_CHECK((c->n_dims == 0) == (c->dims == NULL), "dims pointer");
	for (size_t i = 0; i < c->n_dims; i++)
		FUZZ_CHECK(c->dims[i].name && c->dims[i].value, "dim %zu", i);
	FUZZ_CHECK(!c->metric_math || (!c->metric && !c->namespace_), "metric math");
	FUZZ_CHECK(c->period_s >= 0 && c->evaluation_periods >= 0, "periods");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bot_error err = {0};
	struct aws_alarm_msg *m = NULL;
	char *s = fuzz_cstr(data, size);
	char region[64], account[16];
	const char *name;
	int64_t ms;
	int rc = aws_alarm_msg_parse((const char *)data, size, &m, &err);

	if (rc) {
		FUZZ_CHECK(rc == BOT_EPARSE || rc == BOT_ETOOBIG || rc == BOT_ENOMEM, "rc %d", rc);
		FUZZ_CHECK(err.msg[0], "rc %d without a reason", rc);
		FUZZ_CHECK(!m, "refused but set");
	} else {
		check_change(aws_alarm_msg_change(m));
	}
	aws_alarm_msg_free(m);
	if (aws_alarm_msg_time_ms(s, &ms))
		FUZZ_CHECK(ms >= -86400000LL && ms < 253402387200000LL, "time %lld", (long long)ms);
	if (aws_alarm_msg_arn(s, region, sizeof region, account, sizeof account, &name))
		FUZZ_CHECK(strlen(account) == 12 && region[0] && name && *name, "arn");
	free(s);
	return 0;
}
