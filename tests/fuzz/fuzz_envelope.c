/* fuzz_envelope - one Socket Mode text frame through slack_frame_parse, as
 * the websocket hands it over (bytes and a length, no NUL).
 *
 * Checks beyond the sanitizers: a parsed envelope has a usable id and the
 * ack built from it reads back as the same id; an event carries its
 * dedupe key as its id; a refused frame says why. */
#include "fuzz.h"

#include <jansson.h>

#include "adapters/slack/envelope.h"

static void check_envelope(const struct slack_frame *f)
{
	char ack[256];
	size_t n;
	json_t *j;

	FUZZ_CHECK(f->envelope_id[0] && strlen(f->envelope_id) < sizeof f->envelope_id, "id");
	n = slack_ack_frame(f->envelope_id, ack, sizeof ack);
	FUZZ_CHECK(n > 0 && n < sizeof ack, "ack of %zu bytes", n);
	j = json_loadb(ack, n, 0, NULL);
	FUZZ_CHECK(j && json_is_string(json_object_get(j, "envelope_id")), "ack is JSON");
	FUZZ_CHECK(strcmp(json_string_value(json_object_get(j, "envelope_id")), f->envelope_id) == 0,
		   "ack names the envelope");
	json_decref(j);
	if (f->has_event) {
		FUZZ_CHECK(f->ev.id == f->dedupe_key && f->dedupe_key[0], "event id");
		FUZZ_CHECK(f->ev.user, "an event has a user");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct slack_frame f;
	struct bot_error err = {0};
	int rc = slack_frame_parse((const char *)data, size, &f, &err);

	if (rc) {
		FUZZ_CHECK(err.msg[0] && strlen(err.msg) < sizeof err.msg, "rc %d without detail", rc);
		FUZZ_CHECK(f.json_ == NULL, "a refused frame keeps nothing");
		return 0;
	}
	if (f.kind == SLACK_FRAME_ENVELOPE)
		check_envelope(&f);
	else if (f.kind == SLACK_FRAME_DISCONNECT)
		FUZZ_CHECK(strlen(f.reason) < sizeof f.reason, "reason");
	slack_frame_finish(&f);
	slack_frame_finish(&f); /* twice is harmless */
	return 0;
}
