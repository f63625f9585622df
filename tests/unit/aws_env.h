/* aws_env.h - for AWS unit tests: an environment with no AWS settings, so
 * the credential chain finds nothing the test did not put there and never
 * probes the instance metadata address. */
#ifndef TESTS_UNIT_AWS_ENV_H
#define TESTS_UNIT_AWS_ENV_H

#include <stdlib.h>

#include "bot/base/error.h"

static inline void aws_env_clean(void)
{
	static const char *const vars[] = {
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_EC2_METADATA_SERVICE_ENDPOINT",
	};
	for (size_t i = 0; i < BOT_ARRAY_LEN(vars); i++)
		unsetenv(vars[i]);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
}

#endif
