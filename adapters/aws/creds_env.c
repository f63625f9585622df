/* creds_env.c - the environment source: AWS_ACCESS_KEY_ID +
 * AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), static keys read at create
 * (see creds_source.h). */
#include "adapters/aws/creds.h"
#include "adapters/aws/creds_source.h"

#include <stddef.h>

int aws__creds_env_new(const struct aws__creds_ctx *x, struct aws_creds_provider **out,
		       struct bot_error *err)
{
	const char *k = aws__creds_env("AWS_ACCESS_KEY_ID");
	const char *s = aws__creds_env("AWS_SECRET_ACCESS_KEY");

	*out = NULL;
	if (!k && !s)
		return BOT_EOK;
	/* Half a key pair is an error, not a fall-through. */
	if (!k || !s)
		return bot_error_set(err, BOT_ECONFIG, "%s is set but %s is not",
				     k ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
				     k ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
	return aws__creds_static_new(x, "env", k, s, aws__creds_env("AWS_SESSION_TOKEN"), out, err);
}
