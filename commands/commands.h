/* commands.h - the chat command table and the argument parser commands share.
 *
 * One file per command (commands/<name>.c), one sorted table here, looked up
 * with bsearch; /chatops help and --help text are generated from the same
 * table, and a unit test checks the table is sorted and complete.
 *
 * A command handler validates everything before anything happens and answers
 * through the reply it is given: errors go only to the person who typed the
 * command (ephemeral), with the usage line. Everything a command says is
 * structured text (adapters/chat.h); the chat backend writes the markup.
 *
 * Commands see the rest of the bot only through struct cmd_env, which the
 * wiring (bot/app.c) fills for each dispatch: they know nothing of the app.
 */
#ifndef COMMANDS_COMMANDS_H
#define COMMANDS_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>

#include "adapters/chat.h"

struct cloud;
struct config;
struct config_service;
struct service_reads;
struct workflow;

#define CMD_MAX_ARGS 16

/* What commands act on, filled by the wiring for each dispatch. Everything
 * is borrowed; cfg only for the dispatch (the config in force may be
 * swapped after it), chat and cloud as long as the wiring lives (an
 * investigation still answers through them). */
struct cmd_env {
	const struct config *cfg; /* the config in force: services, who, channels */
	struct chat *chat;        /* replies, help, the allowed-channels refusal count */
	struct cloud *cloud;      /* the cloud (reads go through reads) */
	struct service_reads *reads; /* service reads, shared with /scale */
	struct workflow *wf;      /* the gates /scale opens and /gates lists or cancels */
};

/* What a command sees: the event that invoked it and what it acts on. */
struct cmd_ctx {
	const struct cmd_env *env;
	const struct chat_event *ev;
	int argc;
	char *argv[CMD_MAX_ARGS]; /* argv[0] is the command name, e.g. "/scale" */
	const char *rest;         /* text after the last parsed argument, trimmed */
};

enum cmd_status {
	CMD_OK = 0,       /* handled; msg, when not empty, is a note for the asker */
	CMD_USAGE,        /* bad arguments: reply with msg + usage (ephemeral) */
	CMD_DENIED,       /* not allowed: reply with msg (ephemeral) */
	CMD_FAILED,       /* could not do it: reply with msg (ephemeral) */
};

/* msg: where a command says why it did not do what was asked (initialised,
 * empty); dispatch sends it. */
typedef enum cmd_status (*cmd_fn)(struct cmd_ctx *ctx, struct chat_text *msg);

/* Who a command is for; help lists only what the asker may use (the
 * command itself still checks, per service). */
enum cmd_audience {
	CMD_ANYONE = 0,
	CMD_REQUESTERS,   /* requesters or approvers of at least one service */
};

struct cmd_def {
	const char *name;     /* "/scale"; the table is sorted by this */
	cmd_fn fn;
	int min_args, max_args; /* words counted without argv[0] */
	bool takes_rest;      /* free text may follow the words (a reason) */
	enum cmd_audience audience;
	bool checks_audience; /* the command checks who per service itself (with
			       * a more precise answer); else dispatch refuses */
	const char *usage;    /* "/scale <service> <count> [--timer 10m] [reason...]" */
	const char *summary;  /* one line */
};

/* The table, sorted by name; n entries. */
extern const struct cmd_def cmd_table[];
extern const size_t cmd_table_len;

/* Find a command by name ("/scale" or "scale"); NULL if unknown. */
const struct cmd_def *cmd_lookup(const char *name);

/* Split text into ctx->argv[1..] (whitespace separated, "double quotes"
 * group words) keeping at most max_words words; ctx->rest points at what
 * follows them. buf is modified in place and must outlive ctx. Returns 0,
 * or BOT_EINVAL for an unbalanced quote / too many words. */
int cmd_split(struct cmd_ctx *ctx, char *buf, int max_words);

/* Run the command named by ev->command with ev->text, refusing it outside
 * the allowed channels. Replies go out through env->chat. */
void cmd_dispatch(const struct cmd_env *env, const struct chat_event *ev);

/* Help text for the commands this user may use under cfg (all when user is
 * NULL), appended to t. */
void cmd_help_text(const struct config *cfg, const char *user, struct chat_text *t);

/* Individual commands (one file each). */
enum cmd_status cmd_chatops(struct cmd_ctx *ctx, struct chat_text *msg);
enum cmd_status cmd_gates(struct cmd_ctx *ctx, struct chat_text *msg);
enum cmd_status cmd_investigate(struct cmd_ctx *ctx, struct chat_text *msg);
enum cmd_status cmd_restart(struct cmd_ctx *ctx, struct chat_text *msg);
enum cmd_status cmd_rollback(struct cmd_ctx *ctx, struct chat_text *msg);
enum cmd_status cmd_scale(struct cmd_ctx *ctx, struct chat_text *msg);

/* Start an investigation of svc for user, posting to channel through
 * env->chat once the read (env->reads) is in. When a report of a read still
 * reused is in channel or on its way, nothing is posted and note (for the
 * asker only) points to it. */
int investigate_start(const struct cmd_env *env, const struct config_service *svc,
		      const char *user, const char *channel, struct chat_text *note);

/* Shared by the command files. */
/* May user request actions on / look at service? (requesters, incl. "*",
 * and approvers of the service). */
bool cmd__may_request(const struct config_service *svc, const char *user);
bool cmd__may_approve(const struct config_service *svc, const char *user);
/* Where cards for this service go: its channel, else the event's channel. */
const char *cmd__channel_for(const struct config_service *svc, const char *event_channel);
/* The request commands (request.c): is argv[1] a service that allows
 * kind, and may the asker request it? CMD_OK with both set, or the answer. */
struct action_args;
struct config_action;
enum cmd_status cmd__request_check(struct cmd_ctx *ctx, const char *kind,
				   const struct config_service **svc,
				   const struct config_action **rule, struct chat_text *msg);
/* The options and reason in ctx->rest, then the workflow's request. */
enum cmd_status cmd__request_open(struct cmd_ctx *ctx, const char *kind,
				  const struct config_service *svc,
				  const struct config_action *rule, const struct action_args *args,
				  bool with_to, struct chat_text *msg);
/* "Known services: a, b, c" (the names as code), appended to t. */
void cmd__known_services(const struct config *cfg, struct chat_text *t);

#endif
