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
	/* Serve single-threaded (tests/fakes/moto-single.py, moto's WSGI app
	 * under werkzeug with threaded=False): DynamoDB's conditional writes
	 * and transactions are then atomic, as in AWS. For race tests only: a
	 * slow request holds up every other one. */
	bool single_threaded;
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

/* A policy `chatops-bot iam-policy` printed, as moto 5.2.1 can evaluate it
 * (caller frees; NULL when aws_policy is not a policy document). Checked by
 * experiment against moto's iam/access_control.py:
 *  - moto names an action after the SigV4 signing name, so CloudWatch's
 *    "cloudwatch:X" is checked as "monitoring:X";
 *  - moto evaluates ECS, CloudWatch and SNS calls against the resource "*":
 *    a statement naming ARNs never matches them, not even the right ARN
 *    (an Allow refuses everything, a Deny is ignored), so such statements
 *    get Resource "*". sts:AssumeRole keeps its role ARN: moto checks it.
 *    DynamoDB is resource-blind too;
 *  - moto authorises a DynamoDB transaction by its API name, AWS by each
 *    action inside it: a statement holding PutItem, UpdateItem, DeleteItem
 *    and ConditionCheckItem also gets dynamodb:TransactWriteItems, one
 *    holding GetItem dynamodb:TransactGetItems.
 * The actions are kept exactly: what the user may do is the printed set of
 * actions, no more; which resources it may touch is not checked by moto. */
char *moto_policy_for_moto(const char *aws_policy);

/* Create the IAM user `user` holding exactly `policy` (one managed policy,
 * attached), with IAM checks turned off for the few calls it takes and on
 * again after; its keys are then moto_key(m, who, ...). 0, or -1 with the
 * reason in msg. */
int moto_iam_user(struct moto *m, const char *who, const char *user, const char *policy,
		  char *msg, size_t n);

/* Run python3 tests/fakes/<script> URL args... with IAM checks off (on
 * again after; when auth was on); its stdout into out (NUL-terminated, cut
 * at out_n). 0, or -1 with the reason in msg. */
int moto_script(struct moto *m, const char *script, const char *const *args, size_t n_args,
		char *out, size_t out_n, char *msg, size_t n);
/* POST /moto-api/reset-auth with body count ("0", "inf"). 0 or -1. */
int moto_reset_auth(struct moto *m, const char *count);
/* GET path; returns the body (caller frees) or NULL. */
char *moto_get(struct moto *m, const char *path);

#endif
