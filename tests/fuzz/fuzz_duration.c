/* fuzz_duration - duration_parse on any text, and duration_format on any
 * 64-bit value.
 *
 * Checks the header's promises: what parses, formats and parses back to the
 * same milliseconds; every value formats in DURATION_FMT_MAX and parses
 * back; a buffer too small gives BOT_ETOOBIG and whole parts only; an
 * error always says what was wrong. */
#include "fuzz.h"

#include "bot/base/duration.h"

static void round_trip(uint64_t ms)
{
	char buf[DURATION_FMT_MAX], small[DURATION_FMT_MAX];
	struct bot_error err = {0};
	uint64_t back = 0;

	FUZZ_CHECK(duration_format(ms, buf, sizeof buf) == BOT_EOK, "%llu does not fit",
		   (unsigned long long)ms);
	FUZZ_CHECK(duration_parse(buf, &back, &err) == BOT_EOK, "\"%s\": %s", buf, err.msg);
	FUZZ_CHECK(back == ms, "\"%s\" is %llu, not %llu", buf, (unsigned long long)back,
		   (unsigned long long)ms);
	/* Every smaller buffer: the parts that fit, NUL-terminated. */
	for (size_t n = 1; n <= strlen(buf); n++) {
		int rc = duration_format(ms, small, n);
		FUZZ_CHECK(rc == BOT_ETOOBIG, "n=%zu rc=%d", n, rc);
		FUZZ_CHECK(strlen(small) < n && strncmp(small, buf, strlen(small)) == 0,
			   "\"%s\" is not a prefix of \"%s\"", small, buf);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	struct bot_error err = {0};
	uint64_t ms = 42, raw = 0;

	if (duration_parse(s, &ms, &err) == BOT_EOK)
		round_trip(ms);
	else
		FUZZ_CHECK(err.msg[0] && ms == 42, "error without detail, or *ms_out changed");
	if (size >= sizeof raw) {
		memcpy(&raw, data, sizeof raw);
		round_trip(raw);
	}
	free(s);
	return 0;
}
