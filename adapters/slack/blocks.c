/* blocks.c - chat_message -> Slack Block Kit JSON (see blocks.h). */
#include "adapters/slack/blocks.h"
#include "adapters/slack/mrkdwn.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Longest entity we back off over when a cut falls inside one ("&amp;" is
 * 5 bytes; allow numeric ones like "&#x1F600;"). */
#define ENTITY_MAX 10

/* ---- UTF-8 ---------------------------------------------------------- */

/* Decode one code point at s (s[0] != 0). Returns the number of bytes it
 * takes, or 0 if the bytes there are not valid UTF-8 (overlong forms,
 * surrogates and values past U+10FFFF are invalid). */
static size_t u8_len(const unsigned char *s)
{
	uint32_t cp;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1fu;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0fu;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07u;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0; /* also catches the terminating NUL */
		cp = (cp << 6) | (s[i] & 0x3fu);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Code points in s, or false if s is not valid UTF-8. */
static bool u8_count(const char *s, size_t *count)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;

	while (*p) {
		size_t l = u8_len(p);
		if (l == 0)
			return false;
		p += l;
		n++;
	}
	*count = n;
	return true;
}

/* ---- visible truncation -------------------------------------------- */

/* Before an entity that `cut` would leave unfinished: an '&' at most
 * ENTITY_MAX bytes back with no ';' after it (again from there). */
static size_t before_entity(const char *s, size_t cut)
{
	for (size_t i = cut; i > 0 && cut - i < ENTITY_MAX && s[i - 1] != ';'; i--)
		if (s[i - 1] == '&')
			cut = i - 1;
	return cut;
}

/* Before a '<' that `cut` would leave unclosed. */
static size_t before_angle(const char *s, size_t cut)
{
	for (size_t i = cut; i > 0 && s[i - 1] != '>'; i--)
		if (s[i - 1] == '<')
			return i - 1;
	return cut;
}

/* Where to cut mrkdwn so that nothing after `cut` leaves a half construct:
 * back off before an unfinished entity and before an unclosed '<' until
 * neither moves (backing off over an '&' can land inside a "<...>", e.g. a
 * link whose URL has a raw '&'). Linear: each pass moves the cut or ends.
 * Both are ASCII, so the result stays on a code point boundary. */
static size_t mrkdwn_safe_cut(const char *s, size_t cut)
{
	size_t prev;

	do {
		prev = cut;
		cut = before_angle(s, before_entity(s, cut));
	} while (cut != prev);
	return cut;
}

/* A copy of s (NULL is ""), valid UTF-8 (bad bytes become U+FFFD), at most
 * max code points (max >= 1), cut visibly with SLACK_BLOCKS_ELLIPSIS. NULL
 * on OOM. */
static char *cut_text(const char *s, size_t max, bool mrkdwn)
{
	static const char repl[] = "\xef\xbf\xbd";
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t len = strlen((const char *)p);
	size_t o = 0, count = 0, keep = 0;
	bool have_keep = false;
	/* room for every byte becoming U+FFFD, plus the marker and NUL */
	char *out = malloc(3 * len + sizeof SLACK_BLOCKS_ELLIPSIS);

	if (!out)
		return NULL;
	while (*p && count <= max) { /* one past max is enough to know we cut */
		size_t l = u8_len(p);
		if (count == max - 1 && !have_keep) {
			keep = o; /* end of the text kept if we must cut */
			have_keep = true;
		}
		if (l == 0) {
			memcpy(out + o, repl, 3);
			o += 3;
			p++;
		} else {
			memcpy(out + o, p, l);
			o += l;
			p += l;
		}
		count++;
	}
	if (count > max) {
		if (mrkdwn)
			keep = mrkdwn_safe_cut(out, keep);
		memcpy(out + keep, SLACK_BLOCKS_ELLIPSIS, sizeof SLACK_BLOCKS_ELLIPSIS - 1);
		o = keep + sizeof SLACK_BLOCKS_ELLIPSIS - 1;
	}
	out[o] = '\0';
	return out;
}

/* ---- JSON pieces ---------------------------------------------------- */

/* {"type":"mrkdwn"|"plain_text","text":<cut s>} (+ "emoji":true). */
static json_t *text_obj(const char *s, size_t max, bool mrkdwn, bool emoji)
{
	char *t = cut_text(s, max, mrkdwn);
	json_t *o = NULL;

	if (!t)
		return NULL;
	if (emoji)
		o = json_pack("{s:s, s:s, s:b}", "type", "plain_text", "text", t, "emoji", 1);
	else
		o = json_pack("{s:s, s:s}", "type", mrkdwn ? "mrkdwn" : "plain_text", "text", t);
	free(t);
	return o;
}

static bool empty(const char *s)
{
	return !s || !*s;
}

/* An identifier is sent as is: it must be valid UTF-8 and within max. */
static int check_ident(const char *s, size_t max, const char *what, size_t bi,
		       struct bot_error *err)
{
	size_t n;

	if (!u8_count(s, &n))
		return bot_error_set(err, BOT_EINVAL, "block %zu: %s is not valid UTF-8", bi, what);
	if (n > max)
		return bot_error_set(err, BOT_ETOOBIG, "block %zu: %s has %zu characters (max %zu)",
				     bi, what, n, max);
	return BOT_EOK;
}

static int nomem(struct bot_error *err)
{
	return bot_error_set(err, BOT_ENOMEM, "out of memory rendering blocks");
}

static int render_confirm(const struct chat_confirm *c, bool danger, size_t bi,
			  json_t **out, struct bot_error *err)
{
	json_t *o;

	*out = NULL;
	if (empty(c->title) || empty(c->text) || empty(c->yes) || empty(c->no))
		return bot_error_set(err, BOT_EINVAL,
				     "block %zu: confirm needs title, text, yes and no", bi);
	o = json_pack("{s:o, s:o, s:o, s:o}",
		      "title", text_obj(c->title, SLACK_BLOCKS_CONFIRM_TITLE_MAX, false, false),
		      "text", text_obj(c->text, SLACK_BLOCKS_CONFIRM_TEXT_MAX, false, false),
		      "confirm", text_obj(c->yes, SLACK_BLOCKS_CONFIRM_BUTTON_MAX, false, false),
		      "deny", text_obj(c->no, SLACK_BLOCKS_CONFIRM_BUTTON_MAX, false, false));
	if (!o || (danger && json_object_set_new(o, "style", json_string("danger"))))
		goto fail;
	*out = o;
	return BOT_EOK;
fail:
	json_decref(o);
	return nomem(err);
}

/* Slack: omit "style" for the default look. */
static const char *style_name(enum chat_button_style style)
{
	switch (style) {
	case CHAT_BUTTON_DEFAULT: return NULL;
	case CHAT_BUTTON_PRIMARY: return "primary";
	case CHAT_BUTTON_DANGER: return "danger";
	}
	return NULL;
}

static int render_button(const struct chat_button *b, size_t bi, json_t **out,
			 struct bot_error *err)
{
	json_t *o = NULL, *confirm = NULL;
	int rc;

	*out = NULL;
	if (empty(b->action_id) || empty(b->text))
		return bot_error_set(err, BOT_EINVAL, "block %zu: button needs action_id and text", bi);
	rc = check_ident(b->action_id, SLACK_BLOCKS_ACTION_ID_MAX, "action_id", bi, err);
	if (rc)
		goto out;
	if (!empty(b->value)) {
		rc = check_ident(b->value, SLACK_BLOCKS_VALUE_MAX, "button value", bi, err);
		if (rc)
			goto out;
	}
	if (b->confirm) {
		rc = render_confirm(b->confirm, b->style == CHAT_BUTTON_DANGER, bi, &confirm, err);
		if (rc)
			goto out;
	}
	o = json_pack("{s:s, s:s, s:o}", "type", "button", "action_id", b->action_id,
		      "text", text_obj(b->text, SLACK_BLOCKS_BUTTON_TEXT_MAX, false, false));
	if (!o || (!empty(b->value) && json_object_set_new(o, "value", json_string(b->value))) ||
	    (style_name(b->style) &&
	     json_object_set_new(o, "style", json_string(style_name(b->style))))) {
		rc = nomem(err);
		goto out;
	}
	if (confirm) {
		int set = json_object_set_new(o, "confirm", confirm);
		confirm = NULL; /* stolen either way */
		if (set) {
			rc = nomem(err);
			goto out;
		}
	}
	*out = o;
	o = NULL;
out:
	json_decref(confirm);
	json_decref(o);
	return rc;
}

/* ---- blocks --------------------------------------------------------- */

/* Append a block, stealing it; NULL (a failed json_pack) is OOM. */
static int push(json_t *list, json_t *block, struct bot_error *err)
{
	if (!block || json_array_append_new(list, block))
		return nomem(err);
	return BOT_EOK;
}

static int render_actions(const struct chat_block *cb, size_t bi, json_t *list,
			  struct bot_error *err)
{
	json_t *block = NULL, *elems = NULL, *btn;
	int rc = BOT_EOK;

	if (cb->n_buttons > 0 && !cb->buttons)
		return bot_error_set(err, BOT_EINVAL, "block %zu: n_buttons without buttons", bi);
	for (size_t i = 0; i < cb->n_buttons; i++) {
		if (!elems) {
			/* a new actions block every SLACK_BLOCKS_ACTIONS_MAX buttons */
			elems = json_array();
			block = json_pack("{s:s, s:o}", "type", "actions", "elements", elems);
			if (!block) {
				elems = NULL; /* json_pack released it */
				rc = nomem(err);
				goto out;
			}
		}
		rc = render_button(&cb->buttons[i], bi, &btn, err);
		if (rc)
			goto out;
		if (json_array_append_new(elems, btn)) {
			rc = nomem(err);
			goto out;
		}
		if (json_array_size(elems) == SLACK_BLOCKS_ACTIONS_MAX || i + 1 == cb->n_buttons) {
			rc = push(list, block, err);
			block = elems = NULL;
			if (rc)
				goto out;
		}
	}
out:
	json_decref(block);
	return rc;
}

/* A plain_text section: no markup, no mentions. Slack's control characters
 * & < > are escaped all the same (its rule for any text). */
static int render_plain(const char *text, json_t *list, struct bot_error *err)
{
	char *esc;
	int rc;

	if (empty(text))
		return BOT_EOK;
	esc = slack_mrkdwn_escape(text);
	if (!esc)
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	rc = push(list, json_pack("{s:s, s:o}", "type", "section", "text",
				  text_obj(esc, SLACK_BLOCKS_TEXT_MAX, false, false)), err);
	free(esc);
	return rc;
}

/* A section or context: its structured text rendered here. */
static int render_mrkdwn(const struct chat_block *cb, json_t *list, struct bot_error *err)
{
	char *text = cb->rich ? slack_mrkdwn(cb->rich) : NULL;
	json_t *t;
	int rc = BOT_EOK;

	if (cb->rich && !text)
		return nomem(err);
	if (empty(text))
		goto out; /* dropped, see blocks.h */
	t = text_obj(text, SLACK_BLOCKS_TEXT_MAX, true, false);
	if (cb->type == CHAT_BLOCK_SECTION)
		rc = push(list, json_pack("{s:s, s:o}", "type", "section", "text", t), err);
	else
		rc = push(list, json_pack("{s:s, s:[o]}", "type", "context", "elements", t), err);
out:
	free(text);
	return rc;
}

static int render_block(const struct chat_block *cb, size_t bi, json_t *list,
			struct bot_error *err)
{
	switch (cb->type) {
	case CHAT_BLOCK_HEADER:
		if (empty(cb->text))
			return BOT_EOK; /* dropped, see blocks.h */
		return push(list, json_pack("{s:s, s:o}", "type", "header", "text",
					    text_obj(cb->text, SLACK_BLOCKS_HEADER_MAX, false, true)),
			    err);
	case CHAT_BLOCK_SECTION:
	case CHAT_BLOCK_CONTEXT:
		return render_mrkdwn(cb, list, err);
	case CHAT_BLOCK_PLAIN:
		return render_plain(cb->text, list, err);
	case CHAT_BLOCK_DIVIDER:
		return push(list, json_pack("{s:s}", "type", "divider"), err);
	case CHAT_BLOCK_ACTIONS:
		return render_actions(cb, bi, list, err);
	}
	return bot_error_set(err, BOT_EINVAL, "block %zu: unknown type %d", bi, (int)cb->type);
}

/* Next render number: see blocks.h for why it starts at the clock. */
static uint64_t next_seq(void)
{
	static uint64_t seq;

	if (seq == 0) {
		struct timespec ts;
		if (timespec_get(&ts, TIME_UTC) == TIME_UTC)
			seq = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	}
	return ++seq;
}

static void base36(uint64_t v, char *buf, size_t n)
{
	char tmp[16];
	size_t i = 0, o = 0;

	do {
		tmp[i++] = "0123456789abcdefghijklmnopqrstuvwxyz"[v % 36];
		v /= 36;
	} while (v && i < sizeof tmp);
	while (i > 0 && o + 1 < n)
		buf[o++] = tmp[--i];
	buf[o] = '\0';
}

/* Cap the list at SLACK_BLOCKS_MAX with a "more" note, then number it. */
static int finish_list(json_t *list, struct bot_error *err)
{
	size_t n = json_array_size(list);
	char seq[16], id[48];

	if (n > SLACK_BLOCKS_MAX) {
		size_t hidden = n - (SLACK_BLOCKS_MAX - 1);
		char note[64];

		while (json_array_size(list) > SLACK_BLOCKS_MAX - 1)
			json_array_remove(list, json_array_size(list) - 1);
		snprintf(note, sizeof note, SLACK_BLOCKS_ELLIPSIS " %zu more blocks not shown", hidden);
		if (push(list, json_pack("{s:s, s:[{s:s, s:s}]}", "type", "context", "elements",
					 "type", "mrkdwn", "text", note), err))
			return BOT_ENOMEM;
	}
	base36(next_seq(), seq, sizeof seq);
	for (size_t i = 0; i < json_array_size(list); i++) {
		snprintf(id, sizeof id, "%s.%zu", seq, i);
		if (json_object_set_new(json_array_get(list, i), "block_id", json_string(id)))
			return nomem(err);
	}
	return BOT_EOK;
}

static int set_ident(json_t *body, const char *key, const char *v, struct bot_error *err)
{
	size_t n;

	if (empty(v))
		return BOT_EOK;
	if (!u8_count(v, &n))
		return bot_error_set(err, BOT_EINVAL, "%s is not valid UTF-8", key);
	if (json_object_set_new(body, key, json_string(v)))
		return nomem(err);
	return BOT_EOK;
}

int slack_blocks_build(const struct chat_message *m, json_t **out, struct bot_error *err)
{
	json_t *body = NULL, *list = NULL;
	char *text = NULL, *mine = NULL;
	int rc;

	if (!out)
		return bot_error_set(err, BOT_EINVAL, "no output for blocks");
	*out = NULL;
	if (!m)
		return bot_error_set(err, BOT_EINVAL, "no message");
	if (!m->rich || chat_text_empty(m->rich))
		return bot_error_set(err, BOT_EINVAL, "message without fallback text");
	if (m->n_blocks > 0 && !m->blocks)
		return bot_error_set(err, BOT_EINVAL, "n_blocks without blocks");

	list = json_array();
	body = json_object();
	mine = slack_mrkdwn(m->rich);
	text = mine ? cut_text(mine, SLACK_BLOCKS_FALLBACK_MAX, true) : NULL;
	if (!list || !body || !text) {
		rc = nomem(err);
		goto out;
	}
	for (size_t i = 0; i < m->n_blocks; i++) {
		rc = render_block(&m->blocks[i], i, list, err);
		if (rc)
			goto out;
	}
	rc = finish_list(list, err);
	if (rc)
		goto out;
	rc = set_ident(body, "channel", m->channel, err);
	if (rc)
		goto out;
	if (json_object_set_new(body, "text", json_string(text))) {
		rc = nomem(err);
		goto out;
	}
	if (json_array_size(list) > 0) {
		rc = json_object_set(body, "blocks", list) ? nomem(err) : BOT_EOK;
		if (rc)
			goto out;
	}
	rc = set_ident(body, "thread_ts", m->thread_ts, err);
	if (rc)
		goto out;
	*out = body;
	body = NULL;
out:
	free(text);
	free(mine);
	json_decref(list);
	json_decref(body);
	return rc;
}

json_t *slack_blocks_message(const struct chat_message *m, struct bot_error *err)
{
	json_t *o = NULL;

	(void)slack_blocks_build(m, &o, err); /* o stays NULL on error; err has the detail */
	return o;
}
