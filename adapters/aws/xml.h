/* xml.h - a tiny XML tag extractor for AWS query-protocol replies (SNS,
 * STS) and XML error bodies (prefix aws_xml_).
 *
 * Not a parser: it finds elements by name in a well-formed document the way
 * AWS shapes them (no namespaces prefixes on element names, no DTD). That is
 * enough for <MessageId>, <Credentials><AccessKeyId>..., <Error><Code>.
 * Text is decoded: the five predefined entities, decimal and hex character
 * references (as UTF-8) and CDATA sections. Comments and processing
 * instructions are skipped while searching. Pure, no allocation except the
 * decoded strings the caller frees.
 */
#ifndef ADAPTERS_AWS_XML_H
#define ADAPTERS_AWS_XML_H

#include <stdbool.h>
#include <stddef.h>

struct aws_xml_span {
	const char *p; /* the element's content, between its tags (borrowed) */
	size_t n;
};

/* The first element named name (at any depth) in [s, s+n). Nested elements
 * of the same name are matched by depth. "<name/>" gives an empty span.
 * Returns false when there is none or the document ends inside it. */
bool aws_xml_find(const char *s, size_t n, const char *name, struct aws_xml_span *out);

/* Follow "A/B/C": C inside B inside A (each at any depth below the last). */
bool aws_xml_find_path(const char *s, size_t n, const char *path, struct aws_xml_span *out);

/* The next element named name at or after *pos inside [s, s+n); advances
 * *pos past it. For repeated elements (<member>...</member>...). */
bool aws_xml_next(const char *s, size_t n, size_t *pos, const char *name, struct aws_xml_span *out);

/* Decode character data (entities, char refs, CDATA; a bare '&' that starts
 * no known entity is kept as is). Returns a new string, or NULL on OOM. */
char *aws_xml_decode(const char *s, size_t n);

/* aws_xml_find_path + aws_xml_decode, whitespace around the text trimmed.
 * NULL when absent; sets *oom (if not NULL) on allocation failure. */
char *aws_xml_text(const char *s, size_t n, const char *path, bool *oom);

#endif
