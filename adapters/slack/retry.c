/* retry.c - backoff policies as data (see retry.h). */
#include "adapters/slack/retry.h"

#include <time.h>
#include <unistd.h>

bool slack_retry_allowed(const struct slack_retry_policy *p, unsigned attempt)
{
	if (!p)
		return false;
	return p->max_retries == SLACK_RETRY_FOREVER || attempt < p->max_retries;
}

uint64_t slack_retry_delay_ms(const struct slack_retry_policy *p, unsigned attempt, uint32_t rnd)
{
	uint64_t d;
	unsigned j;

	if (!p || !p->delays_ms || p->n_delays == 0)
		return 0;
	d = p->delays_ms[attempt < p->n_delays ? attempt : p->n_delays - 1];
	j = p->jitter_pct > 100 ? 100 : p->jitter_pct;
	return d + d * (rnd % (j + 1)) / 100;
}

uint32_t slack_retry_random(void)
{
	static uint64_t s;

	if (!s) {
		struct timespec ts;

		(void)clock_gettime(CLOCK_MONOTONIC, &ts);
		s = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40);
		if (!s)
			s = 0x9E3779B97F4A7C15ull;
	}
	/* xorshift64* */
	s ^= s >> 12;
	s ^= s << 25;
	s ^= s >> 27;
	return (uint32_t)((s * 0x2545F4914F6CDD1Dull) >> 32);
}
