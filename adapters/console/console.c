/* console.c - chat backend on a terminal (see console.h). */
#include "adapters/console/console.h"
#include "bot/base/dbuf.h"
#include "bot/base/log.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINE 4096
#define MAX_KEPT 512      /* messages whose buttons can still be pressed */
#define MAX_BUTTONS 8

struct kept_button {
	char *action_id, *text, *value;
	bool confirm;
	char *confirm_text;
};

struct kept_msg {
	unsigned long id;
	char *channel;
	char *ref;          /* the message's chat_message.ref, e.g. "#3"; may be NULL */
	struct kept_button buttons[MAX_BUTTONS];
	size_t n_buttons;
};

struct console {
	struct chat chat;        /* first: the backend is a struct chat */
	uv_loop_t *loop;
	union {
		uv_handle_t handle;
		uv_stream_t stream;
		uv_tty_t tty;
		uv_pipe_t pipe;
	} in;
	uv_fs_t fs_req;          /* when stdin is a regular file */
	bool in_is_file, in_open, started, eof_sent;
	int in_fd, out_fd;
	char *user, *channel;
	bool color;
	void (*on_eof)(void *ud);
	int (*on_alarm)(void *ud, const char *name, const char *state, const char *reason,
			const char *channel);
	void *alarm_ud;
	void *eof_ud;

	char line[MAX_LINE + 1];
	size_t line_len;
	bool line_overflow;
	char fbuf[4096];
	int64_t file_off;

	struct kept_msg kept[MAX_KEPT];
	size_t n_kept, kept_head; /* ring buffer */
	unsigned long next_msg, next_event;
	uint64_t run_id;         /* makes event ids unique across runs */

	/* a click waiting for "y" */
	bool pending_confirm;
	unsigned long pc_msg;
	size_t pc_button;
	char *pc_user;
};

static void out_all(struct console *c, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(c->out_fd, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* a tty shared with a non-blocking stdin: wait briefly */
			struct pollfd p = {.fd = c->out_fd, .events = POLLOUT};
			(void)poll(&p, 1, 100);
			continue;
		}
		if (w <= 0)
			return; /* terminal gone; nothing else to tell */
		s += w;
		n -= (size_t)w;
	}
}

static void out_str(struct console *c, const char *s) { out_all(c, s, strlen(s)); }

__attribute__((format(printf, 2, 3)))
static void outf(struct console *c, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n > 0)
		out_all(c, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

/* ---- rendering: structured text, plain, as a terminal shows it ------------ */

static void put_local_time(struct dbuf *b, int64_t epoch_s, const char *fallback)
{
	time_t t = (time_t)epoch_s;
	struct tm tm;
	char d[64];

	if (localtime_r(&t, &tm) && strftime(d, sizeof d, "%Y-%m-%d %H:%M %Z", &tm) > 0)
		dbuf_puts(b, d);
	else
		dbuf_puts(b, fallback);
}

char *console_render_rich(const struct chat_text *t)
{
	struct dbuf b = {.max = 2 * CHAT_TEXT_MAX + 64 * CHAT_TEXT_SPANS};

	for (size_t i = 0; i < t->n; i++) {
		const struct chat_span *s = &t->spans[i];
		const char *text = chat_span_text(t, s);

		switch ((enum chat_span_type)s->type) {
		case CHAT_SPAN_TEXT:
			dbuf_puts(&b, text);
			break;
		case CHAT_SPAN_USER:
			dbuf_printf(&b, "@%s", text);
			break;
		case CHAT_SPAN_CHANNEL:
			dbuf_printf(&b, "#%s", text);
			break;
		case CHAT_SPAN_DATE:
			put_local_time(&b, s->when, text);
			break;
		case CHAT_SPAN_LINK:
			dbuf_printf(&b, "%s (%s)", text, t->buf + s->url);
			break;
		}
	}
	if (t->cut)
		dbuf_puts(&b, "...");
	return dbuf_take(&b);
}

/* Plain text as written, every line indented. */
static void out_plain(struct console *c, const char *indent, const char *text)
{
	for (const char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		out_str(c, indent);
		out_all(c, line, nl ? (size_t)(nl - line) : strlen(line));
		out_str(c, "\n");
	}
}

/* Structured text (none: nothing), every line indented. */
static void out_rich(struct console *c, const char *indent, const struct chat_text *t)
{
	char *s = t ? console_render_rich(t) : NULL;
	out_plain(c, indent, s);
	free(s);
}

static const char *bold(struct console *c) { return c->color ? "\033[1m" : ""; }
static const char *dim(struct console *c) { return c->color ? "\033[2m" : ""; }
static const char *reset(struct console *c) { return c->color ? "\033[0m" : ""; }

static void label_lower(char *dst, size_t n, const char *label)
{
	size_t i = 0;
	for (; label[i] && i + 1 < n; i++)
		dst[i] = (char)tolower((unsigned char)label[i]);
	dst[i] = '\0';
}

static void render_message(struct console *c, const char *header, unsigned long id,
			   const struct chat_message *m)
{
	const char *ind = m->thread_ts ? "    | " : "  ";

	if (m->thread_ts)
		outf(c, "%s  -> thread of message %s%s\n", dim(c), m->thread_ts, reset(c));
	else
		outf(c, "%s== %s %lu in #%s ==%s\n", bold(c), header, id,
		     m->channel ? m->channel : c->channel, reset(c));
	if (m->n_blocks == 0) {
		out_rich(c, ind, m->rich);
		return;
	}
	for (size_t i = 0; i < m->n_blocks; i++) {
		const struct chat_block *bl = &m->blocks[i];
		switch (bl->type) {
		case CHAT_BLOCK_HEADER:
			outf(c, "%s%s", ind, bold(c));
			out_str(c, bl->text ? bl->text : "");
			outf(c, "%s\n", reset(c));
			break;
		case CHAT_BLOCK_SECTION:
			out_rich(c, ind, bl->rich);
			break;
		case CHAT_BLOCK_PLAIN:
			out_plain(c, ind, bl->text);
			break;
		case CHAT_BLOCK_CONTEXT:
			out_str(c, dim(c));
			out_rich(c, ind, bl->rich);
			out_str(c, reset(c));
			break;
		case CHAT_BLOCK_DIVIDER:
			outf(c, "%s----\n", ind);
			break;
		case CHAT_BLOCK_ACTIONS:
			for (size_t k = 0; k < bl->n_buttons; k++) {
				char lower[64];
				label_lower(lower, sizeof lower, bl->buttons[k].text);
				if (m->ref)
					outf(c, "%s[ %s ]  type: %s %s\n", ind, bl->buttons[k].text,
					     lower, m->ref);
				else
					outf(c, "%s[ %s ]  type: %s %lu\n", ind, bl->buttons[k].text,
					     lower, id);
			}
			break;
		}
	}
}

/* ---- kept messages (for button presses) --------------------------------- */

static void kept_clear(struct kept_msg *k)
{
	free(k->channel);
	free(k->ref);
	for (size_t i = 0; i < k->n_buttons; i++) {
		free(k->buttons[i].action_id);
		free(k->buttons[i].text);
		free(k->buttons[i].value);
		free(k->buttons[i].confirm_text);
	}
	memset(k, 0, sizeof *k);
}

static struct kept_msg *kept_find(struct console *c, unsigned long id)
{
	for (size_t i = 0; i < c->n_kept; i++) {
		struct kept_msg *k = &c->kept[(c->kept_head + i) % MAX_KEPT];
		if (k->id == id)
			return k;
	}
	return NULL;
}

/* The newest kept message whose ref is ref ("#3"), or NULL. */
static struct kept_msg *kept_find_ref(struct console *c, const char *ref)
{
	for (size_t i = c->n_kept; i-- > 0;) {
		struct kept_msg *k = &c->kept[(c->kept_head + i) % MAX_KEPT];
		if (k->ref && strcmp(k->ref, ref) == 0)
			return k;
	}
	return NULL;
}

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

/* Remember the buttons of message id (replacing what it had). */
static int kept_store(struct console *c, unsigned long id, const struct chat_message *m)
{
	struct kept_msg *k = kept_find(c, id);

	if (!k) {
		if (c->n_kept == MAX_KEPT) {
			kept_clear(&c->kept[c->kept_head]);
			c->kept_head = (c->kept_head + 1) % MAX_KEPT;
			c->n_kept--;
		}
		k = &c->kept[(c->kept_head + c->n_kept) % MAX_KEPT];
		c->n_kept++;
	} else {
		kept_clear(k);
	}
	k->id = id;
	k->channel = dup_or_empty(m->channel ? m->channel : c->channel);
	if (!k->channel)
		return BOT_ENOMEM;
	if (m->ref && !(k->ref = strdup(m->ref)))
		return BOT_ENOMEM;
	for (size_t i = 0; i < m->n_blocks; i++) {
		const struct chat_block *bl = &m->blocks[i];
		if (bl->type != CHAT_BLOCK_ACTIONS)
			continue;
		for (size_t j = 0; j < bl->n_buttons && k->n_buttons < MAX_BUTTONS; j++) {
			const struct chat_button *btn = &bl->buttons[j];
			struct kept_button *kb = &k->buttons[k->n_buttons++];
			kb->action_id = dup_or_empty(btn->action_id);
			kb->text = dup_or_empty(btn->text);
			kb->value = dup_or_empty(btn->value);
			kb->confirm = btn->confirm != NULL;
			kb->confirm_text = btn->confirm ? dup_or_empty(btn->confirm->text) : NULL;
			if (!kb->action_id || !kb->text || !kb->value ||
			    (kb->confirm && !kb->confirm_text))
				return BOT_ENOMEM;
		}
	}
	return BOT_EOK;
}

/* ---- chat_ops ----------------------------------------------------------- */

static int con_post(struct chat *ch, const struct chat_message *m, chat_result_cb cb, void *ud)
{
	struct console *c = (struct console *)ch;
	char ts[32];
	int rc;

	if (!m || !m->rich)
		return BOT_EINVAL;
	unsigned long id = ++c->next_msg;
	snprintf(ts, sizeof ts, "%lu", id);
	rc = kept_store(c, id, m);
	if (rc)
		return rc;
	render_message(c, "message", id, m);
	if (cb)
		cb(ud, BOT_EOK, ts, NULL);
	return BOT_EOK;
}

static int con_update(struct chat *ch, const char *channel, const char *ts,
		      const struct chat_message *m, chat_result_cb cb, void *ud)
{
	struct console *c = (struct console *)ch;
	char *end = NULL;
	unsigned long id = ts ? strtoul(ts, &end, 10) : 0;
	int rc;

	if (!m || !m->rich)
		return BOT_EINVAL;
	if (!id || !end || *end || id > c->next_msg) {
		if (cb)
			cb(ud, BOT_ENOTFOUND, NULL, "message_not_found");
		return BOT_EOK;
	}
	struct chat_message copy = *m;
	if (!copy.channel)
		copy.channel = channel;
	rc = kept_store(c, id, &copy);
	if (rc)
		return rc;
	render_message(c, "updated message", id, &copy);
	if (cb)
		cb(ud, BOT_EOK, ts, NULL);
	return BOT_EOK;
}

static int con_ephemeral(struct chat *ch, const char *user, const struct chat_message *m,
			 chat_result_cb cb, void *ud)
{
	struct console *c = (struct console *)ch;

	if (!m || !m->rich)
		return BOT_EINVAL;
	outf(c, "%s(only visible to @%s)%s\n", dim(c), user ? user : "?", reset(c));
	if (m->n_blocks == 0) {
		out_rich(c, "  ", m->rich);
	} else {
		for (size_t i = 0; i < m->n_blocks; i++)
			if (m->blocks[i].type == CHAT_BLOCK_PLAIN)
				out_plain(c, "  ", m->blocks[i].text);
			else if (m->blocks[i].type == CHAT_BLOCK_SECTION ||
			    m->blocks[i].type == CHAT_BLOCK_CONTEXT)
				out_rich(c, "  ", m->blocks[i].rich);
			else if (m->blocks[i].type == CHAT_BLOCK_HEADER)
				out_plain(c, "  ", m->blocks[i].text);
	}
	if (cb)
		cb(ud, BOT_EOK, NULL, NULL);
	return BOT_EOK;
}

static void emit(struct console *c, struct chat_event *ev)
{
	char id[64];
	/* ids are unique across runs too: the store remembers processed ids */
	snprintf(id, sizeof id, "console-%" PRIx64 "-%lu", c->run_id, ++c->next_event);
	ev->id = id;
	ev->user = c->user;
	if (!ev->channel)
		ev->channel = c->channel;
	if (c->chat.on_event)
		c->chat.on_event(c->chat.event_ud, ev);
}

static void press(struct console *c, struct kept_msg *k, size_t bi)
{
	char ts[32];
	snprintf(ts, sizeof ts, "%lu", k->id);
	struct chat_event ev = {
		.type = CHAT_EV_BUTTON,
		.channel = k->channel,
		.action_id = k->buttons[bi].action_id,
		.value = k->buttons[bi].value,
		.message_ts = ts,
	};
	emit(c, &ev);
}

static void console_help(struct console *c)
{
	out_str(c,
		"Console chat. Type what you would type in Slack:\n"
		"  /chatops help                 list the bot's commands\n"
		"  /investigate <service>        look at a service\n"
		"  /scale <service> <count>      ask to scale (approvers get buttons)\n"
		"  /restart <service>            ask for a new deployment (if the service allows it)\n"
		"  /rollback <service> [--to N]  ask to deploy the previous task definition revision\n"
		"  <button> #<request>           press a request card's button, e.g. approve #1\n"
		"  <button> <message-number>     press a button on message N, e.g. approve 3\n"
		"  as <user-id>                  act as another person, e.g. as U0APPROVER1\n"
		"  alarm <name> [ok] [reason]    a CloudWatch alarm fires (or recovers), as if\n"
		"                                from the alarm queue\n"
		"  whoami                        who you are acting as\n"
		"  quit                          stop the bot (Ctrl-D works too)\n");
}

static void send_eof(struct console *c)
{
	if (c->eof_sent)
		return;
	c->eof_sent = true;
	if (c->on_eof)
		c->on_eof(c->eof_ud);
}

static bool valid_user_id(const char *s)
{
	if (!s || (s[0] != 'U' && s[0] != 'W'))
		return false;
	size_t n = strlen(s);
	if (n < 3 || n > 32)
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isupper((unsigned char)s[i]) && !isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* Press the button labelled label on the message target names: a message
 * number ("3") or a ref shown on a card ("#1"). false when target is
 * neither, or (quiet: a label of several words, which may as well be free
 * text) when there is no such button; the line is then text for the bot. */
static bool press_named(struct console *c, const char *label, const char *target, bool quiet)
{
	bool by_ref = target[0] == '#';
	const char *what = by_ref ? "card" : "message";
	struct kept_msg *k;
	char *end = NULL;

	if (by_ref) {
		k = kept_find_ref(c, target);
	} else {
		unsigned long id = strtoul(target, &end, 10);
		if (!isdigit((unsigned char)target[0]) || *end)
			return false;
		k = kept_find(c, id);
	}
	if (!k) {
		if (!quiet)
			outf(c, "  no %s %s with buttons\n", what, target);
		return !quiet;
	}
	for (size_t i = 0; i < k->n_buttons; i++) {
		char lower[64];
		label_lower(lower, sizeof lower, k->buttons[i].text);
		if (strcasecmp(lower, label) != 0)
			continue;
		if (k->buttons[i].confirm) {
			outf(c, "  %s  Confirm? [y/N] ", k->buttons[i].confirm_text);
			out_str(c, "\n");
			c->pending_confirm = true;
			c->pc_msg = k->id;
			c->pc_button = i;
			c->pc_user = strdup(c->user);
			if (!c->pc_user)
				c->pending_confirm = false;
			return true;
		}
		press(c, k, i);
		return true;
	}
	if (quiet)
		return false;
	if (k->n_buttons)
		outf(c, "  %s %s has no \"%s\" button\n", what, target, label);
	else
		outf(c, "  %s %s has no buttons (any more)\n", what, target);
	return true;
}

/* "alarm <name> [ALARM|OK|INSUFFICIENT_DATA] [reason...]" */
static void alarm_line(struct console *c, char *args)
{
	static const char *const states[] = {"ALARM", "OK", "INSUFFICIENT_DATA"};
	const char *state = "ALARM", *reason = NULL;
	char *name, *word;

	while (*args == ' ' || *args == '\t')
		args++;
	name = args;
	args += strcspn(args, " \t");
	if (*args)
		*args++ = '\0';
	if (!*name || strlen(name) > 255) {
		out_str(c, "  usage: alarm <name> [ALARM|OK|INSUFFICIENT_DATA] [reason]\n");
		return;
	}
	while (*args == ' ' || *args == '\t')
		args++;
	word = args;
	for (size_t i = 0; *word && i < sizeof states / sizeof states[0]; i++) {
		size_t n = strlen(states[i]);
		if (strncasecmp(word, states[i], n) == 0 &&
		    (!word[n] || word[n] == ' ' || word[n] == '\t')) {
			state = states[i];
			args = word + n;
			break;
		}
	}
	while (*args == ' ' || *args == '\t')
		args++;
	reason = *args ? args : NULL;
	int rc = c->on_alarm(c->alarm_ud, name, state, reason, c->channel);
	if (rc == BOT_ENOTFOUND)
		outf(c, "  no service has alarm %s: list it under a service's alarms: in the "
		     "config\n", name);
	else if (rc)
		outf(c, "  alarm %s: %s\n", name, bot_strerror(rc));
}

static void handle_line(struct console *c, char *line)
{
	/* trim */
	while (*line == ' ' || *line == '\t')
		line++;
	size_t n = strlen(line);
	while (n && (line[n - 1] == ' ' || line[n - 1] == '\t' || line[n - 1] == '\r'))
		line[--n] = '\0';

	if (c->pending_confirm) {
		c->pending_confirm = false;
		struct kept_msg *k = kept_find(c, c->pc_msg);
		bool yes = strcmp(line, "y") == 0 || strcmp(line, "yes") == 0;
		if (yes && k && c->pc_button < k->n_buttons && strcmp(c->pc_user, c->user) == 0)
			press(c, k, c->pc_button);
		else
			out_str(c, "  (cancelled)\n");
		free(c->pc_user);
		c->pc_user = NULL;
		return;
	}
	if (n == 0)
		return;
	if (line[0] == '/') {
		char *sp = strpbrk(line, " \t");
		if (sp)
			*sp++ = '\0';
		while (sp && (*sp == ' ' || *sp == '\t'))
			sp++;
		struct chat_event ev = {.type = CHAT_EV_COMMAND, .command = line, .text = sp ? sp : ""};
		emit(c, &ev);
		return;
	}
	if (strcmp(line, "help") == 0 || strcmp(line, "?") == 0) {
		console_help(c);
		return;
	}
	if (strcmp(line, "whoami") == 0) {
		outf(c, "  you are @%s in #%s\n", c->user, c->channel);
		return;
	}
	if (strcmp(line, "quit") == 0 || strcmp(line, "exit") == 0) {
		send_eof(c);
		return;
	}
	if (c->on_alarm && strncmp(line, "alarm", 5) == 0 && strchr(" \t", line[5])) {
		alarm_line(c, line + 5);
		return;
	}
	if (strncmp(line, "as ", 3) == 0) {
		const char *who = line + 3;
		while (*who == ' ')
			who++;
		if (!valid_user_id(who)) {
			out_str(c, "  usage: as <user-id>   (a Slack user id such as U0APPROVER1)\n");
			return;
		}
		char *u = strdup(who);
		if (!u)
			return;
		free(c->user);
		c->user = u;
		outf(c, "  you are now @%s\n", c->user);
		return;
	}
	/* "<button label> <message number>" or "<button label> #<request>";
	 * a label may have spaces ("scale to 2 1") */
	char *sp = strrchr(line, ' ');
	if (sp && sp > line && (size_t)(sp - line) < 64) {
		char label[64];
		size_t ln = (size_t)(sp - line);
		while (ln && line[ln - 1] == ' ')
			ln--;
		memcpy(label, line, ln);
		label[ln] = '\0';
		if (ln && press_named(c, label, sp + 1, strchr(label, ' ') != NULL))
			return;
	}
	struct chat_event ev = {.type = CHAT_EV_MENTION, .text = line};
	emit(c, &ev);
}

static void feed(struct console *c, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			c->line[c->line_len] = '\0';
			if (c->line_overflow)
				outf(c, "  line too long (over %d bytes); ignored\n", MAX_LINE);
			else
				handle_line(c, c->line);
			c->line_len = 0;
			c->line_overflow = false;
			continue;
		}
		if (c->line_len < MAX_LINE)
			c->line[c->line_len++] = buf[i];
		else
			c->line_overflow = true;
	}
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct console *c = h->data;
	(void)suggested;
	buf->base = c->fbuf;
	buf->len = sizeof c->fbuf;
}

static void stop_input(struct console *c);

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct console *c = s->data;

	if (nread > 0) {
		feed(c, buf->base, (size_t)nread);
		return;
	}
	if (nread == 0)
		return;
	if (nread != UV_EOF)
		log_warn("console.read", "error=%s", LOG_Q(uv_strerror((int)nread)));
	if (c->line_len) /* last line without newline */
		feed(c, "\n", 1);
	stop_input(c);
	send_eof(c);
}

static void fs_read_cb(uv_fs_t *req);

static void fs_read_next(struct console *c)
{
	uv_buf_t b = uv_buf_init(c->fbuf, sizeof c->fbuf);
	int rc = uv_fs_read(c->loop, &c->fs_req, c->in_fd, &b, 1, c->file_off, fs_read_cb);
	if (rc < 0) {
		log_warn("console.read", "error=%s", LOG_Q(uv_strerror(rc)));
		send_eof(c);
	}
}

static void fs_read_cb(uv_fs_t *req)
{
	struct console *c = req->data;
	ssize_t n = req->result;

	uv_fs_req_cleanup(req);
	if (!c->in_open) {       /* stopped meanwhile */
		send_eof(c);
		return;
	}
	if (n > 0) {
		c->file_off += n;
		feed(c, c->fbuf, (size_t)n);
		if (c->in_open)
			fs_read_next(c);
		return;
	}
	if (c->line_len)
		feed(c, "\n", 1);
	c->in_open = false;
	send_eof(c);
}

static int con_start(struct chat *ch)
{
	struct console *c = (struct console *)ch;
	int rc;

	if (c->started)
		return BOT_ESTATE;
	c->started = true;
	switch (uv_guess_handle(c->in_fd)) {
	case UV_TTY:
		rc = uv_tty_init(c->loop, &c->in.tty, c->in_fd, 1);
		break;
	case UV_NAMED_PIPE:
	case UV_TCP:
	case UV_UDP:
		rc = uv_pipe_init(c->loop, &c->in.pipe, 0);
		if (rc == 0 && (rc = uv_pipe_open(&c->in.pipe, c->in_fd)) != 0)
			uv_close(&c->in.handle, NULL);
		break;
	case UV_FILE:
		c->in_is_file = true;
		c->in_open = true;
		c->fs_req.data = c;
		fs_read_next(c);
		return BOT_EOK;
	default:
		rc = UV_EINVAL;
	}
	if (rc) {
		log_error("console.start", "error=\"cannot read input: %s\"", uv_strerror(rc));
		return BOT_EIO;
	}
	c->in.handle.data = c;
	c->in_open = true;
	rc = uv_read_start(&c->in.stream, alloc_cb, read_cb);
	if (rc) {
		log_error("console.start", "error=\"cannot read input: %s\"", uv_strerror(rc));
		stop_input(c);
		return BOT_EIO;
	}
	outf(c, "chatops console: you are @%s in #%s. Type help for help.\n", c->user, c->channel);
	return BOT_EOK;
}

static void stop_input(struct console *c)
{
	if (!c->in_open)
		return;
	c->in_open = false;
	if (c->in_is_file)
		return; /* the in-flight fs read (if any) finishes by itself */
	if (c->in.handle.type == UV_TTY)
		uv_tty_reset_mode();
	uv_read_stop(&c->in.stream);
	uv_close(&c->in.handle, NULL);
}

static void con_stop(struct chat *ch, void (*done)(void *ud), void *ud)
{
	struct console *c = (struct console *)ch;
	stop_input(c);
	if (done)
		done(ud);
}

static void con_destroy(struct chat *ch)
{
	struct console *c = (struct console *)ch;
	if (!c)
		return;
	for (size_t i = 0; i < c->n_kept; i++)
		kept_clear(&c->kept[(c->kept_head + i) % MAX_KEPT]);
	free(c->pc_user);
	free(c->user);
	free(c->channel);
	free(c);
}

static const struct chat_ops console_ops = {
	.name = "console",
	.start = con_start,
	.post = con_post,
	.update = con_update,
	.ephemeral = con_ephemeral,
	.stop = con_stop,
	.destroy = con_destroy,
};

int console_chat_create(uv_loop_t *loop, const struct console_opts *o, struct chat **out,
			struct bot_error *err)
{
	struct console *c;

	*out = NULL;
	if (!o || !o->user || !valid_user_id(o->user))
		return bot_error_set(err, BOT_EINVAL, "console: a user id such as U0ONCALL1 is required");
	c = calloc(1, sizeof *c);
	if (!c)
		return bot_error_set(err, BOT_ENOMEM, "console: out of memory");
	c->chat.ops = &console_ops;
	c->loop = loop;
	c->run_id = uv_hrtime() ^ ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
	c->in_fd = o->in_fd;
	c->out_fd = (o->in_fd == 0 && o->out_fd == 0) ? 1 : o->out_fd;
	c->user = strdup(o->user);
	c->channel = strdup(o->channel ? o->channel : "C0CONSOLE");
	c->color = o->color;
	c->on_eof = o->on_eof;
	c->eof_ud = o->eof_ud;
	c->on_alarm = o->on_alarm;
	c->alarm_ud = o->alarm_ud;
	if (!c->user || !c->channel) {
		con_destroy(&c->chat);
		return bot_error_set(err, BOT_ENOMEM, "console: out of memory");
	}
	*out = &c->chat;
	return BOT_EOK;
}
