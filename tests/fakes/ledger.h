/* ledger.h - the AWS ledger proxy for integration tests (prefix ledger_).
 *
 * Starts tests/fakes/aws_ledger_proxy.py between the bot and moto_server:
 * every request is forwarded unchanged, and every call moto answered is
 * appended (fsync'd, before the answer is relayed) to a ledger file. Tests
 * then count, from outside the bot, which AWS calls really happened: "no
 * UpdateService after a deny", "exactly one per approved gate, across
 * SIGKILLs". The proxy dies with the test (PR_SET_PDEATHSIG) and is killed
 * and reaped by ledger_stop (also at exit).
 *
 * Blocking (fork/exec, reading a file): test setup and checks only.
 */
#ifndef TESTS_FAKES_LEDGER_H
#define TESTS_FAKES_LEDGER_H

#include <stddef.h>

struct ledger;

/* upstream: "http://127.0.0.1:PORT" (moto). 0, or -1 with the reason in msg. */
int ledger_start(const char *upstream, struct ledger **out, char *msg, size_t n);

struct ledger_opts {
	/* every call takes this much longer, like a real endpoint: half before
	 * it is forwarded to moto, half after its answer was recorded (so a
	 * client killed meanwhile finds its call applied); 0 = no delay */
	int latency_ms;
};

/* ledger_start with options; o may be NULL. */
int ledger_start_opts(const char *upstream, const struct ledger_opts *o, struct ledger **out,
		      char *msg, size_t n);
void ledger_stop(struct ledger *l); /* NULL ok */

const char *ledger_url(const struct ledger *l); /* "http://127.0.0.1:PORT" */
const char *ledger_path(const struct ledger *l);

/* Calls whose X-Amz-Target ends in ".<op>" (op NULL: any), for ECS service
 * `service` (NULL: any; only UpdateService records it) answered with HTTP
 * `status` (0: any). -1 if the ledger cannot be read. */
int ledger_count(const struct ledger *l, const char *op, const char *service, int status);

/* ledger_count, only calls whose request set `field` (UpdateService:
 * "desiredCount", "taskDefinition", "forceNewDeployment"): to any value
 * but null and false when value is NULL, else to the string value. */
int ledger_count_with(const struct ledger *l, const char *op, const char *service, int status,
		      const char *field, const char *value);

/* Wait until the proxy has no client connection open (bounded by
 * timeout_ms). After a client was killed, 0 means every request it had fully
 * sent has been forwarded to moto and recorded: nothing of it is still on
 * its way, so the ledger (and moto) can be read. 0, or -1 on timeout or
 * when the proxy does not answer. */
int ledger_wait_idle(const struct ledger *l, int timeout_ms);

#endif
