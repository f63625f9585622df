/* fuzz_aws_ini - the AWS shared config / credentials file format
 * (aws_ini_parse) and the profile lookup that reads it.
 *
 * The parser works on the bytes and a length (no NUL), as aws_ini_load
 * hands a file over; lookups of the usual sections must not fail or
 * return anything but a string. */
#include "fuzz.h"

#include "adapters/aws/creds.h"
#include "adapters/aws/ini.h"

static void check_str(const char *s)
{
	if (s)
		FUZZ_CHECK(strlen(s) < (size_t)1 << 20, "a value longer than any file");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const profiles[] = {"default", "dev", "ci"};
	struct aws_ini *ini = NULL;
	struct aws_profile p;
	int rc = aws_ini_parse((const char *)data, size, &ini);

	if (rc) {
		FUZZ_CHECK(rc == BOT_ENOMEM && !ini, "rc %d", rc);
		return 0;
	}
	FUZZ_CHECK(ini, "no ini");
	check_str(aws_ini_get(ini, "default", "region"));
	check_str(aws_ini_get(ini, "services dev", "ecs.endpoint_url"));
	(void)aws_ini_has_section(ini, "profile dev");
	for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++) {
		aws_profile_lookup(ini, ini, profiles[i], &p);
		check_str(p.access_key_id);
		check_str(p.role_arn);
		check_str(p.region);
	}
	aws_ini_free(ini);
	return 0;
}
