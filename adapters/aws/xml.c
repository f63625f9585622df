/* xml.c - the tag extractor (see xml.h). */
#include "adapters/aws/xml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool name_end(char c)
{
	return c == '>' || c == '/' || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static const char *mem_find(const char *s, const char *end, const char *needle)
{
	size_t nl = strlen(needle);
	for (const char *p = s; p + nl <= end; p++)
		if (*p == needle[0] && memcmp(p, needle, nl) == 0)
			return p;
	return NULL;
}

/* End of the markup starting at p ('<'): one past its '>' (skipping
 * comments, CDATA and PIs as a whole); NULL when the document ends first. */
static const char *markup_end(const char *p, const char *end)
{
	const char *e;

	if (end - p >= 4 && memcmp(p, "<!--", 4) == 0) {
		e = mem_find(p + 4, end, "-->");
		return e ? e + 3 : NULL;
	}
	if (end - p >= 9 && memcmp(p, "<![CDATA[", 9) == 0) {
		e = mem_find(p + 9, end, "]]>");
		return e ? e + 3 : NULL;
	}
	if (end - p >= 2 && p[1] == '?') {
		e = mem_find(p + 2, end, "?>");
		return e ? e + 2 : NULL;
	}
	/* A tag: find '>' outside quoted attribute values. */
	char q = 0;
	for (e = p + 1; e < end; e++) {
		if (q) {
			if (*e == q)
				q = 0;
		} else if (*e == '"' || *e == '\'') {
			q = *e;
		} else if (*e == '>') {
			return e + 1;
		}
	}
	return NULL;
}

/* Is the tag at p (just after '<' and an optional '/') named name? */
static bool tag_is(const char *p, const char *end, const char *name, size_t nl)
{
	return (size_t)(end - p) > nl && memcmp(p, name, nl) == 0 && name_end(p[nl]);
}

static bool find_from(const char *s, size_t n, size_t *pos, const char *name,
		      struct aws_xml_span *out)
{
	const char *end = s + n, *p = s + *pos, *content = NULL;
	size_t nl = strlen(name);
	int depth = 0;

	if (nl == 0)
		return false;
	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p)), *me;
		if (!lt)
			return false;
		me = markup_end(lt, end);
		if (!me)
			return false;
		if (lt + 1 < end && lt[1] == '/') {
			if (depth > 0 && tag_is(lt + 2, end, name, nl) && --depth == 0) {
				out->p = content;
				out->n = (size_t)(lt - content);
				*pos = (size_t)(me - s);
				return true;
			}
		} else if (lt + 1 < end && lt[1] != '!' && lt[1] != '?' &&
			   tag_is(lt + 1, end, name, nl)) {
			bool empty = me - lt >= 2 && me[-2] == '/';
			if (depth == 0 && empty) {
				out->p = me;
				out->n = 0;
				*pos = (size_t)(me - s);
				return true;
			}
			if (!empty) {
				if (depth == 0)
					content = me;
				depth++;
			}
		}
		p = me;
	}
	return false;
}

bool aws_xml_find(const char *s, size_t n, const char *name, struct aws_xml_span *out)
{
	size_t pos = 0;
	return s && name && find_from(s, n, &pos, name, out);
}

bool aws_xml_next(const char *s, size_t n, size_t *pos, const char *name, struct aws_xml_span *out)
{
	return s && name && pos && *pos <= n && find_from(s, n, pos, name, out);
}

bool aws_xml_find_path(const char *s, size_t n, const char *path, struct aws_xml_span *out)
{
	struct aws_xml_span cur = { s, n };
	char part[128];

	if (!s || !path)
		return false;
	while (*path) {
		const char *slash = strchr(path, '/');
		size_t l = slash ? (size_t)(slash - path) : strlen(path);
		if (l == 0 || l >= sizeof part)
			return false;
		memcpy(part, path, l);
		part[l] = '\0';
		if (!aws_xml_find(cur.p, cur.n, part, &cur))
			return false;
		path += l;
		if (*path == '/')
			path++;
	}
	*out = cur;
	return true;
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* A character reference "&#...;" at p; returns its length (0 if not one). */
static size_t char_ref(const char *p, const char *end, uint32_t *cp)
{
	const char *q = p + 2;
	uint32_t v = 0;
	bool hex = false;
	int nd = 0;

	if (q < end && (*q == 'x' || *q == 'X')) {
		hex = true;
		q++;
	}
	for (; q < end && *q != ';'; q++, nd++) {
		int d;
		if (*q >= '0' && *q <= '9')
			d = *q - '0';
		else if (hex && *q >= 'a' && *q <= 'f')
			d = *q - 'a' + 10;
		else if (hex && *q >= 'A' && *q <= 'F')
			d = *q - 'A' + 10;
		else
			return 0;
		v = v * (hex ? 16 : 10) + (uint32_t)d;
		if (v > 0x10FFFF)
			return 0;
	}
	if (q >= end || nd == 0 || v == 0 || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return (size_t)(q - p) + 1;
}

char *aws_xml_decode(const char *s, size_t n)
{
	static const struct { const char *ent; char c; } ents[] = {
		{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''},
	};
	/* Decoding never grows the text (a 4-byte UTF-8 char needs "&#65536;"). */
	char *out = malloc(n + 1), *o = out;
	const char *p = s, *end = s + n;

	if (!out)
		return NULL;
	while (p < end) {
		if (*p == '<' && end - p >= 9 && memcmp(p, "<![CDATA[", 9) == 0) {
			const char *e = mem_find(p + 9, end, "]]>");
			const char *stop = e ? e : end;
			memcpy(o, p + 9, (size_t)(stop - (p + 9)));
			o += stop - (p + 9);
			p = e ? e + 3 : end;
			continue;
		}
		if (*p == '&') {
			size_t k, used = 0;
			uint32_t cp;
			if (end - p >= 3 && p[1] == '#' && (used = char_ref(p, end, &cp))) {
				o += put_utf8(o, cp);
				p += used;
				continue;
			}
			for (k = 0; k < sizeof ents / sizeof ents[0]; k++) {
				size_t l = strlen(ents[k].ent);
				if ((size_t)(end - p) >= l && memcmp(p, ents[k].ent, l) == 0) {
					*o++ = ents[k].c;
					p += l;
					break;
				}
			}
			if (k < sizeof ents / sizeof ents[0])
				continue;
		}
		*o++ = *p++;
	}
	*o = '\0';
	return out;
}

char *aws_xml_text(const char *s, size_t n, const char *path, bool *oom)
{
	struct aws_xml_span sp;
	char *t;

	if (!aws_xml_find_path(s, n, path, &sp))
		return NULL;
	while (sp.n && (sp.p[0] == ' ' || sp.p[0] == '\n' || sp.p[0] == '\r' || sp.p[0] == '\t')) {
		sp.p++;
		sp.n--;
	}
	while (sp.n && (sp.p[sp.n - 1] == ' ' || sp.p[sp.n - 1] == '\n' ||
			sp.p[sp.n - 1] == '\r' || sp.p[sp.n - 1] == '\t'))
		sp.n--;
	t = aws_xml_decode(sp.p, sp.n);
	if (!t && oom)
		*oom = true;
	return t;
}
