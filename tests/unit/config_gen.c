/* config_gen.c - see config_gen.h. */
#include "tests/unit/config_gen.h"
#include "bot/base/dbuf.h"

#include <stdio.h>

#define BASE_SERVICE "services:\n  web: {cluster: c, max_desired: 1, approvers: [U0AAA], " \
		     "requesters: ['*']}\n"

static void ids(struct dbuf *b, size_t n, size_t first)
{
	dbuf_puts(b, "[");
	for (size_t i = 0; i < n; i++)
		dbuf_printf(b, "%sU%07zu", i ? ", " : "", first + i);
	dbuf_puts(b, "]");
}

char *config_gen_fanout(size_t n_ids, size_t n_services)
{
	struct dbuf b = {0};

	dbuf_puts(&b, "defaults:\n  approvers: &a ");
	ids(&b, n_ids, 0);
	dbuf_puts(&b, "\n  requesters: ['*']\nservices:\n");
	for (size_t i = 0; i < n_services; i++)
		dbuf_printf(&b, "  s%zu: {cluster: c, max_desired: 1, approvers: *a, "
			    "requesters: *a}\n", i);
	return dbuf_take(&b);
}

char *config_gen_laughs(size_t levels, size_t width)
{
	struct dbuf b = {0};

	dbuf_puts(&b, BASE_SERVICE "x:\n  l0: &l0 [lol]\n");
	for (size_t l = 1; l < levels; l++) {
		dbuf_printf(&b, "  l%zu: &l%zu [", l, l);
		for (size_t i = 0; i < width; i++)
			dbuf_printf(&b, "%s*l%zu", i ? ", " : "", l - 1);
		dbuf_puts(&b, "]\n");
	}
	return dbuf_take(&b);
}

char *config_gen_anchors(size_t n)
{
	struct dbuf b = {0};

	dbuf_puts(&b, "defaults:\n  approvers: [");
	for (size_t i = 0; i < n; i++)
		dbuf_printf(&b, "%s&a%zu U%07zu", i ? ", " : "", i, i);
	dbuf_puts(&b, "]\n  requesters: ['*']\nservices:\n  web: {cluster: c, max_desired: 1}\n");
	return dbuf_take(&b);
}

char *config_gen_deep(size_t n)
{
	struct dbuf b = {0};

	dbuf_puts(&b, BASE_SERVICE "x: ");
	for (size_t i = 0; i < n; i++)
		dbuf_putc(&b, '[');
	for (size_t i = 0; i < n; i++)
		dbuf_putc(&b, ']');
	dbuf_putc(&b, '\n');
	return dbuf_take(&b);
}

char *config_gen_long_list(size_t n)
{
	struct dbuf b = {0};

	dbuf_puts(&b, "defaults:\n  approvers: [U0AAA]\n  requesters: ");
	ids(&b, n, 0);
	dbuf_puts(&b, "\nservices:\n  web: {cluster: c, max_desired: 1}\n");
	return dbuf_take(&b);
}

char *config_gen_big_services(size_t max_bytes)
{
	struct dbuf b = {0};

	dbuf_puts(&b, "defaults:\n  approvers: ");
	ids(&b, 1000, 0);
	dbuf_puts(&b, "\n  requesters: ");
	ids(&b, 1000, 1000);
	dbuf_puts(&b, "\nservices:\n");
	/* 60 anchored lists of 10; each alias then stands for 11 nodes */
	for (size_t i = 0; b.len < max_bytes; i++) {
		dbuf_printf(&b, "  service-%05zu: {cluster: cluster-%zu, max_desired: 10", i, i);
		if (i < 60) {
			dbuf_printf(&b, ", approvers: &g%zu ", i);
			ids(&b, 10, 10 * i);
		} else if (i < 60 + 900) {
			dbuf_printf(&b, ", approvers: *g%zu", i % 60);
		}
		dbuf_puts(&b, "}\n");
	}
	return dbuf_take(&b);
}

char *config_gen_big_lists(size_t n_services, size_t list_len)
{
	struct dbuf b = {0};

	dbuf_puts(&b, "services:\n");
	for (size_t i = 0; i < n_services; i++) {
		dbuf_printf(&b, "  s%zu:\n    cluster: c\n    max_desired: 1\n    approvers: ", i);
		ids(&b, list_len, i * list_len);
		dbuf_puts(&b, "\n    requesters: ");
		ids(&b, list_len, (i + n_services) * list_len);
		dbuf_puts(&b, "\n");
	}
	return dbuf_take(&b);
}

char *config_gen_alias_budget(void)
{
	struct dbuf b = {0};

	dbuf_puts(&b, "defaults:\n  approvers: [");
	for (size_t i = 0; i < 64; i++)
		dbuf_printf(&b, "%s&a%zu U%07zu", i ? ", " : "", i, i);
	dbuf_puts(&b, "]\n  requesters: ['*']\nservices:\n");
	/* each service: 64 alias nodes; 156 of them stay within 10000 */
	for (size_t s = 0; s < 156; s++) {
		dbuf_printf(&b, "  s%zu:\n    cluster: c\n    max_desired: 1\n    approvers: [", s);
		for (size_t i = 64; i-- > 0;)
			dbuf_printf(&b, "%s*a%zu", i == 63 ? "" : ", ", i);
		dbuf_puts(&b, "]\n");
	}
	return dbuf_take(&b);
}
