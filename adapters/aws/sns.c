/* sns.c - SNS Publish (see sns.h). */
#include "adapters/aws/sns.h"
#include "adapters/aws/util.h"
#include "adapters/aws/xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *aws_sns_publish_body(const struct aws_sns_publish *p)
{
	struct dbuf b = {.max = AWS__BUF_MAX};
	char key[80];

	if (!p || !p->topic_arn || !p->message)
		return NULL;
	aws__form_add(&b, "Action", "Publish");
	aws__form_add(&b, "Version", "2010-03-31");
	aws__form_add(&b, "TopicArn", p->topic_arn);
	aws__form_add(&b, "Message", p->message);
	if (p->subject && *p->subject)
		aws__form_add(&b, "Subject", p->subject);
	for (size_t i = 0; i < p->n_attrs; i++) {
		if (!p->attrs[i].name || !p->attrs[i].value) {
			dbuf_free(&b);
			return NULL;
		}
		snprintf(key, sizeof key, "MessageAttributes.entry.%zu.Name", i + 1);
		aws__form_add(&b, key, p->attrs[i].name);
		snprintf(key, sizeof key, "MessageAttributes.entry.%zu.Value.DataType", i + 1);
		aws__form_add(&b, key, "String");
		snprintf(key, sizeof key, "MessageAttributes.entry.%zu.Value.StringValue", i + 1);
		aws__form_add(&b, key, p->attrs[i].value);
	}
	return dbuf_take(&b);
}

int aws_sns_parse_publish(const char *xml, size_t len, char **message_id, struct bot_error *err)
{
	bool oom = false;

	*message_id = aws_xml_text(xml, len, "PublishResult/MessageId", &oom);
	if (oom)
		return bot_error_set(err, BOT_ENOMEM, "out of memory");
	if (!*message_id || !**message_id) {
		free(*message_id);
		*message_id = NULL;
		return bot_error_set(err, BOT_EPARSE, "Publish reply has no MessageId");
	}
	return BOT_EOK;
}

struct pub {
	aws_sns_publish_cb cb;
	void *ud;
};

static void on_publish(void *ud, const struct cloud_error *err, const struct aws_response *r)
{
	struct pub *x = ud;
	struct bot_error be = { .msg = "" };
	char *id = NULL;

	if (err) {
		x->cb(x->ud, err, NULL);
	} else if (aws_sns_parse_publish(r->body, r->body_len, &id, &be)) {
		struct cloud_error e = { .code = BOT_EPROTOCOL, .http_status = (int)r->status,
					 .attempts = r->attempts };
		aws__copy(e.request_id, sizeof e.request_id, r->request_id);
		snprintf(e.message, sizeof e.message, "unexpected Publish reply: %s", be.msg);
		x->cb(x->ud, &e, NULL);
	} else {
		x->cb(x->ud, NULL, id);
	}
	free(id);
	free(x);
}

int aws_sns_publish(struct aws_client *c, const char *region, const struct aws_sns_publish *p,
		    aws_sns_publish_cb cb, void *ud, struct aws_call **out)
{
	struct pub *x;
	char *body;
	int rc;

	if (!p || !p->topic_arn || !p->message || !cb)
		return BOT_EINVAL;
	body = aws_sns_publish_body(p);
	x = calloc(1, sizeof *x);
	if (!body || !x) {
		free(body);
		free(x);
		return BOT_ENOMEM;
	}
	x->cb = cb;
	x->ud = ud;
	rc = aws_client_call(c, &(struct aws_request){
		.service = AWS_SVC_SNS, .region = region, .op = "Publish",
		.body = body, .body_len = strlen(body), .no_retry = true,
	}, on_publish, x, out);
	free(body);
	if (rc)
		free(x);
	return rc;
}
