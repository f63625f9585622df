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
void ledger_stop(struct ledger *l); /* NULL ok */

const char *ledger_url(const struct ledger *l); /* "http://127.0.0.1:PORT" */
const char *ledger_path(const struct ledger *l);

/* Calls whose X-Amz-Target ends in ".<op>" (op NULL: any), for ECS service
 * `service` (NULL: any; only UpdateService records it) answered with HTTP
 * `status` (0: any). -1 if the ledger cannot be read. */
int ledger_count(const struct ledger *l, const char *op, const char *service, int status);

#endif
