/* Tests for adapters/aws/xml: finding elements in AWS query replies and
 * error bodies, entity and CDATA decoding, malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "adapters/aws/xml.h"

static char *text(const char *doc, const char *path)
{
	bool oom = false;
	char *t = aws_xml_text(doc, strlen(doc), path, &oom);
	assert_false(oom);
	return t;
}

static void expect(const char *doc, const char *path, const char *want)
{
	char *t = text(doc, path);
	if (!want) {
		assert_null(t);
		return;
	}
	assert_non_null(t);
	assert_string_equal(t, want);
	free(t);
}

static void test_sns_publish_reply(void **state)
{
	(void)state;
	const char *doc =
		"<?xml version=\"1.0\"?>\n"
		"<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\n"
		"  <PublishResult>\n    <MessageId>50d6a2b0-1234</MessageId>\n  </PublishResult>\n"
		"  <ResponseMetadata><RequestId>f187a3c1-req</RequestId></ResponseMetadata>\n"
		"</PublishResponse>";
	expect(doc, "PublishResult/MessageId", "50d6a2b0-1234");
	expect(doc, "MessageId", "50d6a2b0-1234");
	expect(doc, "ResponseMetadata/RequestId", "f187a3c1-req");
	expect(doc, "PublishResult/RequestId", NULL); /* not inside that element */
	expect(doc, "Nope", NULL);
}

static void test_entities_and_cdata(void **state)
{
	(void)state;
	expect("<Message>a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;</Message>", "Message",
	       "a & b <c> \"d\" 'e'");
	expect("<M>&#65;&#x42;&#x263A;&#128512;</M>", "M", "AB\xE2\x98\xBA\xF0\x9F\x98\x80");
	/* Unknown or broken references stay as they are. */
	expect("<M>&nbsp; &#; &#xZZ; &#0; &amp</M>", "M", "&nbsp; &#; &#xZZ; &#0; &amp");
	expect("<M><![CDATA[<raw> & ]]>tail &amp; more</M>", "M", "<raw> & tail & more");
	/* Trimmed. */
	expect("<M>\n   spaced  \n</M>", "M", "spaced");
}

static void test_nesting_and_attributes(void **state)
{
	(void)state;
	/* Same name nested: matched by depth. */
	const char *doc = "<a><b>1<b>2</b>3</b><c x=\"<b>\">c</c></a>";
	struct aws_xml_span sp;
	assert_true(aws_xml_find(doc, strlen(doc), "b", &sp));
	assert_int_equal(sp.n, strlen("1<b>2</b>3"));
	assert_memory_equal(sp.p, "1<b>2</b>3", sp.n);
	expect(doc, "c", "c"); /* '>' inside a quoted attribute does not end the tag */
	/* Prefix names do not match: <Code> is not <CodeX>. */
	expect("<CodeX>no</CodeX><Code>yes</Code>", "Code", "yes");
	/* Self-closing and empty. */
	expect("<r><Code/><Message></Message></r>", "Code", "");
	expect("<r><Message></Message></r>", "Message", "");
	/* Comments and PIs are skipped while searching. */
	expect("<!-- <Code>fake</Code> --><?pi <Code>x</Code>?><Code>real</Code>", "Code", "real");
}

static void test_repeated(void **state)
{
	(void)state;
	const char *doc = "<L><member>a</member><member>b</member><other/><member>c</member></L>";
	struct aws_xml_span sp;
	size_t pos = 0;
	const char *want[] = { "a", "b", "c" };
	for (int i = 0; i < 3; i++) {
		assert_true(aws_xml_next(doc, strlen(doc), &pos, "member", &sp));
		assert_int_equal(sp.n, 1);
		assert_memory_equal(sp.p, want[i], 1);
	}
	assert_false(aws_xml_next(doc, strlen(doc), &pos, "member", &sp));
}

static void test_malformed(void **state)
{
	(void)state;
	expect("<Code>unterminated", "Code", NULL);
	expect("<Code", "Code", NULL);
	expect("", "Code", NULL);
	expect("not xml at all", "Code", NULL);
	expect("<a><Code>x</a>", "Code", NULL);
	struct aws_xml_span sp;
	assert_false(aws_xml_find(NULL, 0, "a", &sp));
	assert_false(aws_xml_find_path("<a><b/></a>", 11, "a//b", &sp));
	assert_true(aws_xml_find_path("<a><b/></a>", 11, "a/b", &sp));
	char *d = aws_xml_decode("", 0);
	assert_string_equal(d, "");
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sns_publish_reply),
		cmocka_unit_test(test_entities_and_cdata),
		cmocka_unit_test(test_nesting_and_attributes),
		cmocka_unit_test(test_repeated),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
