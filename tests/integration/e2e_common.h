/* e2e_common.h - what the end-to-end tests (e2e_test.c, e2e_actions_test.c)
 * share, prefix e2e_: the bot wired in process on a harness (the fake
 * Slack on one side, moto through the ledger proxy on the other), and the
 * helpers that read what the fake Slack got and act as its users.
 *
 * Unlike tests/fakes/harness.h these assert (cmocka): a helper that does
 * not get what it waits for fails the test, naming what it waited for.
 * Every wait is bounded by E2E_STEP_MS unless it says otherwise. Messages
 * returned are the fake's (see fake_slack_messages): borrowed, valid until
 * the fake records the next one. */
#ifndef TESTS_INTEGRATION_E2E_COMMON_H
#define TESTS_INTEGRATION_E2E_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include "tests/fakes/harness.h"
#include "tests/fakes/ledger.h"
#include "tests/fakes/moto.h"

#define E2E_CHANNEL "C0OPS" /* where commands come from and cards go */
#define E2E_STEP_MS 10000   /* the deadline of one wait */

/* One test's bot and what it runs on. */
struct e2e {
	struct harness h;
	char dir[64]; /* the test's temporary directory (its store) */
	struct config *cfg;
	struct store *store;
	struct chat *chat;
	struct cloud *cloud;
	struct app *app;
	const char *who;       /* moto IAM user the bot acts as */
	int updates_before;    /* ledger UpdateService count at test start (e2e_test) */
	int denied_before;     /* ledger calls refused (HTTP 403) at test start */
	bool denial_expected;  /* the test makes the bot call beyond its policy (e2e_test) */
};

/* How e2e_bot_up wires the bot. */
struct e2e_bot_opts {
	const char *app_token, *bot_token; /* the fake Slack's */
	struct moto *moto;                 /* t->who's keys are moto's */
	struct ledger *ledger;             /* AWS calls go through it */
	unsigned ephemeral_per_minute;     /* per user; 0: the bot's default */
};

/* ---- the bot ---------------------------------------------------------------- */

/* A test's start: a harness with the fake Slack (fake), log capture at
 * debug (every line is searched for secrets at teardown), a fresh
 * temporary directory from dir_template ("/tmp/e2e-XXXXXX"); the bot is to
 * act as moto IAM user who. */
struct e2e *e2e_new(const struct fake_slack_opts *fake, const char *dir_template,
		    const char *who);
/* Load t->cfg from yaml (needing Slack); fails the test if it is invalid. */
void e2e_load_config(struct e2e *t, const char *yaml);
/* Open t->cfg's store, create chat, cloud and app on t->h, start them and
 * wait until the bot is connected to the fake. */
void e2e_bot_up(struct e2e *t, const struct e2e_bot_opts *o);
/* Stop the bot but keep the loop, the fake Slack and moto: a restart. */
void e2e_bot_down(struct e2e *t);
/* A test's end: stop the bot and the harness (asserting uv_loop_close()
 * == 0), assert the audit chain verifies, close the store, drop t->cfg. */
void e2e_bot_finish(struct e2e *t);

/* After e2e_bot_finish and the test's own checks of the log: release the
 * log capture, remove t->dir, free t. */
void e2e_free(struct e2e *t);

/* Write yaml for dir (a temporary directory, for paths) with
 * write_yaml, run `chatops-bot iam-policy` on it with moto's seeded
 * scaler's keys (so it asks moto's STS for the account): the policy into
 * out, its note (stderr) into note. 0 or -1 with msg. */
int e2e_print_policy(struct moto *moto, void (*write_yaml)(char *yaml, size_t n, const char *dir),
		     char *out, size_t n_out, char *note, size_t n_note, char *msg, size_t n);

/* Give moto IAM user user (moto's key name who) exactly policy (as
 * e2e_print_policy printed it), as moto can evaluate it. 0 or -1 with msg. */
int e2e_policy_user(struct moto *moto, const char *who, const char *user, const char *policy,
		    char *msg, size_t n);

/* ---- Slack, as the fake saw it ---------------------------------------------- */

/* The newest message the bot sent by method (NULL: any) whose body holds
 * needle and needle2 (NULL: no second); NULL if none. */
const struct fake_slack_message *e2e_find_msg(struct e2e *t, const char *method,
					      const char *needle, const char *needle2);
/* e2e_find_msg, waited for; fails the test if it does not come. */
const struct fake_slack_message *e2e_wait_msg(struct e2e *t, const char *method,
					      const char *needle, const char *needle2);
/* How many messages the bot sent by method whose body holds needle. */
size_t e2e_count_msgs(struct e2e *t, const char *method, const char *needle);

/* For a harness_wait with another deadline: e2e_seen(&look) is whether
 * e2e_find_msg finds it. */
struct e2e_look {
	struct e2e *t;
	const char *method, *needle, *needle2;
};
bool e2e_seen(void *look);

/* ---- acting as Slack's users ------------------------------------------------ */

/* Slash command cmd ("/scale") with text, as user, in E2E_CHANNEL. */
void e2e_command(struct e2e *t, const char *user, const char *cmd, const char *text);

/* A request's card, as first posted. */
struct e2e_card {
	char body[8192]; /* the card as first posted */
	char ts[32];     /* its message's ts; after body, not before it, so that
			  * gcc's -Wformat-truncation bounds a string read from
			  * inside ts (c.ts + 11 in e2e_test) by id, not by body */
	char id[16];     /* the gate's id */
};

/* cmd as user with text; waits for the new card of title ("Scale") and
 * for the update that gives its deadline, and returns it. svc not NULL:
 * the card's header must name it ("Scale request #7: svc"). */
struct e2e_card e2e_request(struct e2e *t, const char *user, const char *cmd, const char *title,
			    const char *svc, const char *text);
/* Press button action (CARD_ACTION_*) on card c as user. */
void e2e_click(struct e2e *t, const char *user, const struct e2e_card *c, const char *action);

/* The newest update of card c showing needle (and needle2); NULL if none. */
const struct fake_slack_message *e2e_find_card(struct e2e *t, const struct e2e_card *c,
					       const char *needle, const char *needle2);
/* e2e_find_card, waited for; fails the test if it does not come. */
const struct fake_slack_message *e2e_wait_card(struct e2e *t, const struct e2e_card *c,
					       const char *needle, const char *needle2);

/* For a harness_wait with another deadline: e2e_card_seen(&look) is
 * whether e2e_find_card finds it. */
struct e2e_card_look {
	struct e2e *t;
	const struct e2e_card *c;
	const char *needle, *needle2;
};
bool e2e_card_seen(void *look);

#endif
