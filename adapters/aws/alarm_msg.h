/* alarm_msg.h - a CloudWatch alarm state change out of an SQS message body
 * (prefix aws_alarm_msg_). Pure: no I/O, no loop.
 *
 * Three shapes are told apart by their content, never by where they came
 * from (docs/aws-notes.md §11):
 *   "sns"          an SNS envelope ({"Type": "Notification", "Message":
 *                  "<alarm JSON as a string>", ...}): parsed twice;
 *   "raw"          the alarm JSON itself (SNS RawMessageDelivery): it has
 *                  AlarmArn and NewStateValue;
 *   "eventbridge"  a "CloudWatch Alarm State Change" event from source
 *                  aws.cloudwatch (resources[0] is the alarm ARN, dimensions
 *                  are an object).
 *
 * Region and account come from the alarm ARN
 * (arn:<partition>:cloudwatch:<region>:<12 digits>:alarm:<name>), never from
 * "Region" (a display name) nor the name from "Subject" (cut at ~100
 * characters). Times ("2024-07-05T15:20:44.959+0000"; Z, +00:00 and other
 * offsets too) become exact UTC epoch milliseconds.
 *
 * Bounded: a body of at most AWS_ALARM_MSG_MAX_BODY bytes, at most
 * AWS_ALARM_MSG_MAX_DIMS dimensions, every string at most
 * AWS_ALARM_MSG_MAX_STR bytes (reason and description
 * AWS_ALARM_MSG_MAX_TEXT). Any input is refused or parsed; none crashes.
 *
 *   struct aws_alarm_msg *m;
 *   struct bot_error err;
 *   if (aws_alarm_msg_parse(body, len, &m, &err) == BOT_EOK) {
 *       use(aws_alarm_msg_change(m));   // valid until aws_alarm_msg_free(m)
 *       aws_alarm_msg_free(m);
 *   } else {
 *       log("not an alarm change: %s", err.msg);
 *   }
 */
#ifndef ADAPTERS_AWS_ALARM_MSG_H
#define ADAPTERS_AWS_ALARM_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapters/cloud.h"
#include "bot/base/error.h"

#define AWS_ALARM_MSG_MAX_BODY ((size_t)256 * 1024)
#define AWS_ALARM_MSG_MAX_DIMS 30
#define AWS_ALARM_MSG_MAX_STR  2048
#define AWS_ALARM_MSG_MAX_TEXT 8192

struct aws_alarm_msg;

/* Parse body[0..len) (need not be NUL-terminated). BOT_EOK and *out (the
 * caller frees it), else *out NULL and one of BOT_EPARSE (not JSON, not an
 * alarm change, a bad field), BOT_ETOOBIG (body or dimensions over the
 * bounds), BOT_ENOMEM, with a short human reason in err. */
int aws_alarm_msg_parse(const char *body, size_t len, struct aws_alarm_msg **out,
			struct bot_error *err);
/* The change (borrowed from m: valid until aws_alarm_msg_free). */
const struct cloud_alarm_change *aws_alarm_msg_change(const struct aws_alarm_msg *m);
void aws_alarm_msg_free(struct aws_alarm_msg *m); /* NULL ok */

/* "2024-07-05T15:20:44.959+0000" (fraction optional, any number of its
 * digits, truncated to ms; zone Z, +hhmm, +hh:mm, +hh or the same with
 * '-') to UTC epoch ms. false when malformed (the zone is required). */
bool aws_alarm_msg_time_ms(const char *s, int64_t *out);

/* Split an alarm ARN: region and account into buf (NUL-terminated), *name
 * borrowed from arn. false when arn is not
 * arn:<partition>:cloudwatch:<region>:<12 digits>:alarm:<non-empty name>
 * or a part does not fit. */
bool aws_alarm_msg_arn(const char *arn, char *region, size_t rn, char *account, size_t an,
		       const char **name);

/* Is s "ALARM", "OK" or "INSUFFICIENT_DATA"? */
bool aws_alarm_msg_state_ok(const char *s);

#endif
