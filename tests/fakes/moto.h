/* moto.h - a moto_server for integration tests (prefix moto_).
 *
 * moto_start() picks a free loopback port, starts `moto_server -H 127.0.0.1
 * -p PORT` (found on PATH; absent = a loud failure with an install hint,
 * never a skip), waits until it answers (bounded), seeds it like the lab
 * with scripts/moto-seed.py --iam (the IAM users chatops-readonly and
 * chatops-scaler, the role mysecretword-scaler-role, the owners' topic)
 * plus tests/fakes/moto-seed-extra.py, and then turns IAM/SigV4 checking on
 * with POST /moto-api/reset-auth "0".
 *
 * The child runs with PR_SET_PDEATHSIG=SIGKILL, so it dies with the test
 * even when the test crashes; moto_stop() (also registered with atexit)
 * kills it by PID (SIGTERM, then SIGKILL after 3 s) and reaps it. Its log
 * and the seed output live in a temporary directory that moto_stop removes
 * (kept, with its path printed, when CHATOPS_KEEP_MOTO_LOG is set).
 *
 * Blocking (fork/exec/waitpid and a plain curl easy handle): for test setup
 * only, never on the bot's loop.
 */
#ifndef TESTS_FAKES_MOTO_H
#define TESTS_FAKES_MOTO_H

#include <stdbool.h>
#include <stddef.h>

struct moto;

struct moto_opts {
	bool no_seed;   /* just start it */
	bool no_auth;   /* leave IAM/SigV4 checking off */
};

/* 0 on success; else -1 with the reason (and a hint) in msg. */
int moto_start(const struct moto_opts *o, struct moto **out, char *msg, size_t n);
void moto_stop(struct moto *m); /* NULL ok */

const char *moto_url(const struct moto *m);   /* "http://127.0.0.1:PORT" */
int moto_port(const struct moto *m);
int moto_pid(const struct moto *m);
/* Seeded values: who is "readonly" or "scaler", field "AccessKeyId" or
 * "SecretAccessKey"; NULL when unknown. */
const char *moto_key(const struct moto *m, const char *who, const char *field);
const char *moto_role_arn(const struct moto *m);
const char *moto_topic_arn(const struct moto *m);

/* POST /moto-api/reset-auth with body count ("0", "inf"). 0 or -1. */
int moto_reset_auth(struct moto *m, const char *count);
/* GET path; returns the body (caller frees) or NULL. */
char *moto_get(struct moto *m, const char *path);

#endif
