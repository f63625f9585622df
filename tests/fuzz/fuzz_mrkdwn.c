/* fuzz_mrkdwn - escaping (chat_escape) and Block Kit rendering with its
 * visible truncation (slack_blocks_build), on any text.
 *
 * Input: byte 0 is the size of chat_escape's buffer (0..255), byte 1 how
 * many times the rest is repeated (1..8, so short inputs reach the 3,000
 * and 3,900 character caps), the rest is the text.
 *
 * Checks, aborting when violated:
 * - chat_escape: the output fits the buffer; it is the whole escaped text,
 *   or a prefix of it followed by "..." that never ends inside an entity
 *   nor, for valid UTF-8 input, inside a character (valid in, valid out).
 * - every rendered text (fallback, header, section, context, button,
 *   confirm dialog): valid UTF-8, at most its cap in code points; the
 *   input with bad bytes as U+FFFD when it fits, else a prefix of that cut
 *   on a code point boundary plus the ellipsis; a mrkdwn cut never splits a
 *   "<...>" construct or an entity of the text. */
#include "fuzz.h"

#include <jansson.h>

#include "adapters/chat.h"
#include "adapters/slack/blocks.h"

/* Longest entity blocks.c backs off over ("&#x1F600;" and shorter). */
#define ENTITY_MAX 10

static void check_escape(const char *s, size_t n)
{
	char *buf = malloc(n ? n : 1), *full = chat_escape_dup(s);
	size_t len, keep;

	if (!buf || !full)
		abort();
	chat_escape(buf, n, s);
	if (n == 0)
		goto out;
	len = strlen(buf);
	FUZZ_CHECK(len < n, "%zu bytes in a buffer of %zu", len, n);
	if (strcmp(buf, full) == 0)
		goto out;
	keep = len >= 3 && strcmp(buf + len - 3, "...") == 0 ? len - 3 : len;
	FUZZ_CHECK(n < 4 || keep < len, "cut without \"...\": \"%s\"", buf);
	FUZZ_CHECK(memcmp(buf, full, keep) == 0, "not a prefix of the escaped text");
	/* every '&' of the escaped text starts an entity ending in ';' */
	for (size_t i = keep; i > 0 && buf[i - 1] != ';'; i--)
		FUZZ_CHECK(buf[i - 1] != '&', "cut inside an entity: \"%s\"", buf);
	if (fuzz_utf8_valid(s, strlen(s))) {
		FUZZ_CHECK((full[keep] & 0xc0) != 0x80, "cut inside a UTF-8 sequence: \"%s\"", buf);
		FUZZ_CHECK(fuzz_utf8_valid(buf, len), "not UTF-8: \"%s\"", buf);
	}
out:
	free(full);
	free(buf);
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

static void check_blocks(const char *s)
{
	const struct chat_confirm confirm = {.title = s, .text = s, .yes = s, .no = s};
	const struct chat_button button = {
		.action_id = "gate.deny", .text = s, .value = "g-1", .style = CHAT_BUTTON_DANGER,
		.confirm = &confirm,
	};
	const struct chat_block blocks[] = {
		{.type = CHAT_BLOCK_HEADER, .text = s},
		{.type = CHAT_BLOCK_SECTION, .text = s},
		{.type = CHAT_BLOCK_CONTEXT, .text = s},
		{.type = CHAT_BLOCK_ACTIONS, .buttons = &button, .n_buttons = 1},
	};
	const struct chat_message m = {
		.channel = "C0OPS", .text = s, .blocks = blocks, .n_blocks = 4,
	};
	struct bot_error err = {0};
	json_t *body = NULL, *b, *btn, *conf;
	int rc = slack_blocks_build(&m, &body, &err);

	if (!*s) {
		FUZZ_CHECK(rc == BOT_EINVAL && !body, "an empty text is refused");
		return;
	}
	FUZZ_CHECK(rc == BOT_EOK, "rc %d: %s", rc, err.msg);
	b = json_object_get(body, "blocks");
	FUZZ_CHECK(json_array_size(b) == 4, "4 blocks");
	btn = json_array_get(json_object_get(json_array_get(b, 3), "elements"), 0);
	conf = json_object_get(btn, "confirm");
	check_text("fallback", json_string_value(json_object_get(body, "text")), s,
		   SLACK_BLOCKS_FALLBACK_MAX, true);
	check_text("header", text_of(json_object_get(json_array_get(b, 0), "text")), s,
		   SLACK_BLOCKS_HEADER_MAX, false);
	check_text("section", text_of(json_object_get(json_array_get(b, 1), "text")), s,
		   SLACK_BLOCKS_TEXT_MAX, true);
	check_text("context",
		   text_of(json_array_get(json_object_get(json_array_get(b, 2), "elements"), 0)), s,
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
	json_decref(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n, reps, tl;
	char *text;

	if (size < 2)
		return 0;
	n = data[0];
	reps = 1 + data[1] % 8;
	data += 2;
	size -= 2;
	text = malloc(size * reps + 1);
	if (!text)
		abort();
	for (size_t i = 0; i < reps; i++)
		if (size)
			memcpy(text + i * size, data, size);
	tl = size * reps;
	text[tl] = '\0';
	check_escape(text, n);
	check_blocks(text);
	free(text);
	return 0;
}
