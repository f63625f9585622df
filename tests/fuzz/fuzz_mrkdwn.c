/* fuzz_mrkdwn - structured text as Slack mrkdwn (slack_mrkdwn), plain-text
 * escaping (slack_mrkdwn_escape) and Block Kit rendering with its visible
 * truncation (slack_blocks_build), on any text.
 *
 * Input: byte 0 says how the text becomes structured text (even: one text
 * span; odd: spans split at \x01, each led by a byte choosing its kind -
 * text, user, channel, date, link "url\x02label" - and its styles), byte 1
 * how many times the rest is repeated (1..8, so short inputs reach the
 * 3,000 and 3,900 character caps), the rest is the text.
 *
 * Checks, aborting when violated:
 * - slack_mrkdwn_escape: no '<' or '>' left, every '&' starts one of
 *   &amp; &lt; &gt;, and undoing them gives the text back.
 * - every rendered text (fallback, section and context: the structured
 *   text's mrkdwn; header, button, confirm dialog: the text itself): valid
 *   UTF-8, at most its cap in code points; the whole with bad bytes as
 *   U+FFFD when it fits, else a prefix of that cut on a code point boundary
 *   plus the ellipsis; a mrkdwn cut never splits a "<...>" construct or an
 *   entity. */
#include "fuzz.h"

#include <jansson.h>

#include "adapters/chat.h"
#include "adapters/slack/blocks.h"
#include "adapters/slack/mrkdwn.h"

/* Longest entity blocks.c backs off over ("&#x1F600;" and shorter). */
#define ENTITY_MAX 10

static void check_escape(const char *s)
{
	char *e = slack_mrkdwn_escape(s);
	size_t o = 0;

	if (!e)
		abort();
	for (const char *p = e; *p; o++) {
		FUZZ_CHECK(*p != '<' && *p != '>', "'%c' left in \"%s\"", *p, e);
		if (*p != '&') {
			FUZZ_CHECK(s[o] == *p, "escaping changed byte %zu", o);
			p++;
			continue;
		}
		char c = strncmp(p, "&amp;", 5) == 0 ? '&' : strncmp(p, "&lt;", 4) == 0 ? '<' :
			 strncmp(p, "&gt;", 4) == 0 ? '>' : 0;
		FUZZ_CHECK(c && s[o] == c, "'&' that is not an entity of the text at %zu", o);
		p += c == '&' ? 5 : 4;
	}
	FUZZ_CHECK(s[o] == '\0', "escaping dropped bytes");
	free(e);
}

/* The text as structured text into t: one text span, or (spans) pieces
 * split at \x01, each led by a byte: kind = b % 6 (text, user, channel,
 * date "<epoch>", link "url\x02label", text), styles = b / 6 % 8. */
static void structure(char *s, bool spans, struct chat_text *t)
{
	chat_text_init(t);
	if (!spans) {
		chat_text_printf(t, "%s", s);
		return;
	}
	for (char *p = s, *next; p; p = next) {
		next = strchr(p, '\x01');
		if (next)
			*next++ = '\0';
		if (!*p)
			continue;
		unsigned char b = (unsigned char)*p++;
		char *label;
		chat_text_style(t, (unsigned)(b / 6 % 8));
		switch (b % 6) {
		case 1: chat_text_user(t, p); break;
		case 2: chat_text_channel(t, p); break;
		case 3: chat_text_date(t, (int64_t)strtoll(p, NULL, 10)); break;
		case 4:
			label = strchr(p, '\x02');
			if (label)
				*label++ = '\0';
			chat_text_link(t, p, label);
			break;
		default: chat_text_printf(t, "%s", p); break;
		}
	}
	chat_text_style(t, 0);
}

/* s with every byte that is not valid UTF-8 as U+FFFD (as blocks.h says). */
static char *sanitize(const char *s, size_t *count)
{
	size_t n = strlen(s), o = 0;
	char *out = malloc(3 * n + 1);

	if (!out)
		abort();
	*count = 0;
	for (size_t i = 0; i < n; (*count)++) {
		size_t l = fuzz_u8_len((const unsigned char *)s + i, n - i);
		if (l) {
			memcpy(out + o, s + i, l);
			o += l;
			i += l;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		}
	}
	out[o] = '\0';
	return out;
}

static size_t code_points(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* Does a cut at keep split a construct of s: "<...>" (nothing but '<' ... '>'
 * with no '<' or '>' inside) or an entity ('&', letters, digits or '#', ';'
 * in at most ENTITY_MAX bytes)? */
static bool inside_construct(const char *s, size_t keep)
{
	size_t j = keep;

	while (j > 0 && s[j - 1] != '<' && s[j - 1] != '>')
		j--;
	if (j > 0 && s[j - 1] == '<' && s[keep + strcspn(s + keep, "<>")] == '>')
		return true;
	for (j = keep; j > 0 && keep - j < ENTITY_MAX; j--) {
		if (s[j - 1] != '&')
			continue;
		size_t k = j + strspn(s + j, "#0123456789abcdefghijklmnopqrstuvwxyz"
					  "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
		if (k > j && s[k] == ';' && k >= keep && k + 2 - j <= ENTITY_MAX)
			return true;
	}
	return false;
}

static void check_text(const char *what, const char *got, const char *in, size_t cap, bool mrkdwn)
{
	static const char ell[] = SLACK_BLOCKS_ELLIPSIS;
	size_t count, len, keep;
	char *want = sanitize(in, &count);

	FUZZ_CHECK(got, "%s: missing", what);
	len = strlen(got);
	FUZZ_CHECK(fuzz_utf8_valid(got, len), "%s: not UTF-8", what);
	FUZZ_CHECK(code_points(got) <= cap, "%s: %zu code points, cap %zu", what, code_points(got),
		   cap);
	if (count <= cap) {
		FUZZ_CHECK(strcmp(got, want) == 0, "%s: changed though it fits", what);
		goto out;
	}
	FUZZ_CHECK(len >= sizeof ell - 1 && strcmp(got + len - (sizeof ell - 1), ell) == 0,
		   "%s: cut without the ellipsis", what);
	keep = len - (sizeof ell - 1);
	FUZZ_CHECK(memcmp(got, want, keep) == 0, "%s: not a prefix of the text", what);
	FUZZ_CHECK((want[keep] & 0xc0) != 0x80, "%s: cut inside a character", what);
	if (!mrkdwn)
		goto out;
	FUZZ_CHECK(!inside_construct(want, keep),
		   "%s: cut inside a <...> construct or an entity: \"%.*s|%.24s\"", what,
		   (int)(keep < 40 ? keep : 40), want + keep - (keep < 40 ? keep : 40), want + keep);
out:
	free(want);
}

static const char *text_of(json_t *o)
{
	return json_string_value(json_object_get(o, "text"));
}

static void check_blocks(const char *s, const struct chat_text *t)
{
	const struct chat_confirm confirm = {.title = s, .text = s, .yes = s, .no = s};
	const struct chat_button button = {
		.action_id = "gate.deny", .text = s, .value = "g-1", .style = CHAT_BUTTON_DANGER,
		.confirm = &confirm,
	};
	const struct chat_block blocks[] = {
		{.type = CHAT_BLOCK_HEADER, .text = s},
		{.type = CHAT_BLOCK_SECTION, .rich = t},
		{.type = CHAT_BLOCK_CONTEXT, .rich = t},
		{.type = CHAT_BLOCK_ACTIONS, .buttons = &button, .n_buttons = 1},
	};
	const struct chat_message m = {
		.channel = "C0OPS", .rich = t, .blocks = blocks, .n_blocks = 4,
	};
	struct bot_error err = {0};
	json_t *body = NULL, *b, *btn, *conf;
	int rc = slack_blocks_build(&m, &body, &err);
	char *md;

	if (chat_text_empty(t)) {
		FUZZ_CHECK(rc == BOT_EINVAL && !body, "an empty text is refused");
		return;
	}
	FUZZ_CHECK(rc == BOT_EOK, "rc %d: %s", rc, err.msg);
	md = slack_mrkdwn(t);
	if (!md)
		abort();
	b = json_object_get(body, "blocks");
	FUZZ_CHECK(json_array_size(b) == 4, "4 blocks");
	btn = json_array_get(json_object_get(json_array_get(b, 3), "elements"), 0);
	conf = json_object_get(btn, "confirm");
	check_text("fallback", json_string_value(json_object_get(body, "text")), md,
		   SLACK_BLOCKS_FALLBACK_MAX, true);
	check_text("header", text_of(json_object_get(json_array_get(b, 0), "text")), s,
		   SLACK_BLOCKS_HEADER_MAX, false);
	check_text("section", text_of(json_object_get(json_array_get(b, 1), "text")), md,
		   SLACK_BLOCKS_TEXT_MAX, true);
	check_text("context",
		   text_of(json_array_get(json_object_get(json_array_get(b, 2), "elements"), 0)), md,
		   SLACK_BLOCKS_TEXT_MAX, true);
	check_text("button", text_of(json_object_get(btn, "text")), s,
		   SLACK_BLOCKS_BUTTON_TEXT_MAX, false);
	check_text("confirm title", text_of(json_object_get(conf, "title")), s,
		   SLACK_BLOCKS_CONFIRM_TITLE_MAX, false);
	check_text("confirm text", text_of(json_object_get(conf, "text")), s,
		   SLACK_BLOCKS_CONFIRM_TEXT_MAX, false);
	check_text("confirm yes", text_of(json_object_get(conf, "confirm")), s,
		   SLACK_BLOCKS_CONFIRM_BUTTON_MAX, false);
	check_text("confirm no", text_of(json_object_get(conf, "deny")), s,
		   SLACK_BLOCKS_CONFIRM_BUTTON_MAX, false);
	free(md);
	json_decref(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t reps, tl;
	bool spans;
	char *text, *work;
	struct chat_text *t;

	if (size < 2)
		return 0;
	spans = data[0] & 1;
	reps = 1 + data[1] % 8;
	data += 2;
	size -= 2;
	text = malloc(size * reps + 1);
	work = malloc(size * reps + 1);
	t = malloc(sizeof *t);
	if (!text || !work || !t)
		abort();
	for (size_t i = 0; i < reps; i++)
		if (size)
			memcpy(text + i * size, data, size);
	tl = size * reps;
	text[tl] = '\0';
	memcpy(work, text, tl + 1);
	check_escape(text);
	structure(work, spans, t);
	check_blocks(text, t);
	free(t);
	free(work);
	free(text);
	return 0;
}
