/* load.c - from a file to a libyaml document, within bounds.
 *
 * A file is read only if it is a regular file that neither its group nor
 * others may write (config__read_private; secrets.c reads token files with
 * it too). The text is then checked on libyaml's event stream against
 * bounds on its size and shape before any document is built, so that no
 * file can make loading slow or big, and parsed into a document that keeps
 * the position of every node. Syntax errors are reported at their position.
 */
#include "config/config.h"
#include "config/config_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define FILE_MAX        (128 * 1024)  /* config file size cap; keeps any load < 50 ms */
#define FILE_MAX_TEXT   "128 KiB"
/* Bounds on the shape of the document, checked on libyaml's event stream
 * before the document is built, so that no file can make loading slow or
 * big (see check_bounds). A valid config nests 5 levels deep and needs few
 * anchors; the limits leave room and keep the worst case in milliseconds. */
#define DEPTH_MAX       16            /* nesting of lists and mappings */
#define LIST_MAX        1000          /* entries in one list */
#define ANCHORS_MAX     64            /* &name definitions (libyaml looks each alias up linearly) */
#define ALIAS_NODES_MAX 10000         /* values that aliases add, all together */

/* ------------------------------------------------------------------ */
/* Files: the config and the token files                               */

static const char *file_kind(mode_t m)
{
	return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISSOCK(m) ? "a socket"
	       : S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device"
	       : "something else";
}

/* Read the file at path into *buf (NUL-terminated; the caller frees) and
 * *len, at most max + 1 bytes, so that the caller can tell "too big". The
 * file must be a regular file (symlinks are followed; what was opened is
 * checked with fstat, and O_NONBLOCK keeps a FIFO from blocking the open)
 * that neither its group nor others may write, as ssh requires of its
 * keys: whoever can change the file can change who approves, or the
 * token. name is the file as the chmod hint shows it. Returns BOT_EOK, or
 * BOT_EIO (cannot open or read), BOT_ECONFIG (refused) or BOT_ENOMEM with
 * the reason in why. */
int config__read_private(const char *path, const char *name, size_t max, char **buf,
			  size_t *len, char *why, size_t n)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat st;
	char *b = NULL;
	int rc = BOT_EIO;

	*buf = NULL;
	*len = 0;
	if (fd < 0) {
		snprintf(why, n, "cannot open: %s", strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		snprintf(why, n, "cannot read: %s", strerror(errno));
		goto out;
	}
	rc = BOT_ECONFIG;
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, n, "not a regular file (it is %s)", file_kind(st.st_mode));
		goto out;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(why, n, "the file is %s-writable (mode %04o), so others could change it; "
			 "run chmod go-w %.200s", (st.st_mode & S_IWOTH) ? "world" : "group",
			 (unsigned)(st.st_mode & 07777), name);
		goto out;
	}
	rc = BOT_ENOMEM;
	b = malloc(max + 2);
	if (!b) {
		snprintf(why, n, "out of memory");
		goto out;
	}
	rc = BOT_EIO;
	while (*len <= max) {
		ssize_t r = read(fd, b + *len, max + 1 - *len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(why, n, "cannot read: %s", strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		*len += (size_t)r;
	}
	b[*len] = '\0';
	*buf = b;
	b = NULL;
	rc = BOT_EOK;
out:
	if (b) {
		explicit_bzero(b, max + 2);
		free(b);
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Syntax errors                                                       */

static void syntax_error(struct loader *ld, const yaml_parser_t *p, const char *buf, size_t len)
{
	int line = (int)p->problem_mark.line + 1, col = (int)p->problem_mark.column + 1;
	const char *tab = p->problem_mark.index < len && buf[p->problem_mark.index] == '\t'
			  ? "; YAML cannot indent with tabs, use spaces" : "";

	if (p->error == YAML_MEMORY_ERROR) {
		ld->oom = true;
	} else if (p->error == YAML_READER_ERROR) {
		/* The reader gives a byte offset only: count lines up to it. */
		line = 1;
		col = 1;
		for (size_t i = 0; i < p->problem_offset && i < len; i++, col++)
			if (buf[i] == '\n') {
				line++;
				col = 0;
			}
		config__add_err_at(ld, line, col, "cannot read YAML: %s (the file must be UTF-8 "
				   "text)", p->problem ? p->problem : "unknown problem");
	} else if (p->context) {
		config__add_err_at(ld, line, col, "YAML syntax error: %s (%s at line %d, column "
				   "%d)%s", p->problem ? p->problem : "unknown problem", p->context,
				   (int)p->context_mark.line + 1, (int)p->context_mark.column + 1,
				   tab);
	} else {
		config__add_err_at(ld, line, col, "YAML syntax error: %s%s",
				   p->problem ? p->problem : "unknown problem", tab);
	}
}

/* ------------------------------------------------------------------ */
/* Bounds, checked before the document is built                        */

/* libyaml resolves an alias by pointing at the anchored node again, so a
 * few lines of aliases to aliases can stand for millions of nodes that the
 * walk then visits one by one ("billion laughs"); its own anchor lookup is
 * a linear search per alias, and its scanner slows down quadratically with
 * nesting. One pass over the events counts what the document would hold:
 * the nesting depth, the entries of each list, the anchors, and the nodes
 * each alias stands for (the anchored node's size, itself counted with the
 * aliases inside it). The first bound crossed is reported at its position
 * and nothing is built. */

struct anchor {
	char *name;
	size_t nodes;   /* size of the anchored node, aliases expanded */
	bool open;      /* its node has not ended yet */
};

struct frame {
	size_t nodes;   /* nodes so far in this collection, itself included */
	size_t items;   /* entries (lists) or keys and values (mappings) */
	int anchor;     /* index in anchors, or -1 */
	bool list;
	yaml_mark_t start;
};

struct bounds {
	struct anchor anchors[ANCHORS_MAX];
	size_t n_anchors;
	size_t alias_nodes;
	struct frame stack[DEPTH_MAX];
	size_t depth;
};

static int mark_line(const yaml_mark_t *m) { return (int)m->line + 1; }
static int mark_col(const yaml_mark_t *m) { return (int)m->column + 1; }

/* The most recent anchor called name (YAML: an alias names the latest). */
static int find_anchor(const struct bounds *b, const char *name)
{
	for (size_t i = b->n_anchors; i-- > 0;)
		if (strcmp(b->anchors[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Record anchor name (may be NULL) for a node starting at m; *idx is its
 * index or -1. Returns false after reporting. */
static bool add_anchor(struct loader *ld, struct bounds *b, const yaml_char_t *name,
		       const yaml_mark_t *m, int *idx)
{
	*idx = -1;
	if (!name)
		return true;
	if (b->n_anchors == ANCHORS_MAX) {
		config__add_err_at(ld, mark_line(m), mark_col(m), "more than %d anchors (&name) in "
				   "the file; at most %d are allowed", ANCHORS_MAX, ANCHORS_MAX);
		return false;
	}
	b->anchors[b->n_anchors].name = strdup((const char *)name);
	if (!b->anchors[b->n_anchors].name) {
		ld->oom = true;
		return false;
	}
	b->anchors[b->n_anchors].open = true;
	*idx = (int)b->n_anchors++;
	return true;
}

/* Count a finished node of size nodes into its parent. */
static bool add_node(struct loader *ld, struct bounds *b, size_t nodes)
{
	struct frame *f;

	if (b->depth == 0)
		return true;
	f = &b->stack[b->depth - 1];
	f->nodes += nodes;
	f->items++;
	if (f->list && f->items > LIST_MAX) {
		config__add_err_at(ld, mark_line(&f->start), mark_col(&f->start), "this list has "
				   "more than %d entries; at most %d are allowed", LIST_MAX,
				   LIST_MAX);
		return false;
	}
	return true;
}

static bool bound_alias(struct loader *ld, struct bounds *b, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	const yaml_mark_t *m = &ev->start_mark;
	int i = find_anchor(b, name);

	if (i < 0) /* libyaml reports the undefined alias when it loads */
		return add_node(ld, b, 1);
	if (b->anchors[i].open) {
		config__add_err_at(ld, mark_line(m), mark_col(m), "alias *%.64s is used inside the "
				   "node it names; a config cannot contain itself", name);
		return false;
	}
	b->alias_nodes += b->anchors[i].nodes;
	if (b->alias_nodes > ALIAS_NODES_MAX) {
		config__add_err_at(ld, mark_line(m), mark_col(m), "aliases stand for more than %d "
				   "values in all (alias fan-out; *%.64s alone is %zu); at most %d "
				   "are allowed", ALIAS_NODES_MAX, name, b->anchors[i].nodes,
				   ALIAS_NODES_MAX);
		return false;
	}
	return add_node(ld, b, b->anchors[i].nodes);
}

static bool bound_open(struct loader *ld, struct bounds *b, const yaml_event_t *ev, bool list)
{
	const yaml_mark_t *m = &ev->start_mark;
	const yaml_char_t *anchor = list ? ev->data.sequence_start.anchor
					 : ev->data.mapping_start.anchor;
	struct frame *f;

	if (b->depth == DEPTH_MAX) {
		config__add_err_at(ld, mark_line(m), mark_col(m), "lists and mappings nest more "
				   "than %d deep here; a config needs at most 5 levels", DEPTH_MAX);
		return false;
	}
	f = &b->stack[b->depth++];
	memset(f, 0, sizeof *f);
	f->nodes = 1;
	f->list = list;
	f->start = *m;
	return add_anchor(ld, b, anchor, m, &f->anchor);
}

static bool bound_close(struct loader *ld, struct bounds *b)
{
	struct frame *f = &b->stack[--b->depth];

	if (f->anchor >= 0) {
		b->anchors[f->anchor].nodes = f->nodes;
		b->anchors[f->anchor].open = false;
	}
	return add_node(ld, b, f->nodes);
}

static bool bound_event(struct loader *ld, struct bounds *b, const yaml_event_t *ev)
{
	int idx;

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		if (!add_anchor(ld, b, ev->data.scalar.anchor, &ev->start_mark, &idx))
			return false;
		if (idx >= 0) {
			b->anchors[idx].nodes = 1;
			b->anchors[idx].open = false;
		}
		return add_node(ld, b, 1);
	case YAML_ALIAS_EVENT:
		return bound_alias(ld, b, ev);
	case YAML_SEQUENCE_START_EVENT:
		return bound_open(ld, b, ev, true);
	case YAML_MAPPING_START_EVENT:
		return bound_open(ld, b, ev, false);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return bound_close(ld, b);
	default:
		return true;
	}
}

/* Check buf against the bounds above. Returns false after reporting a
 * crossed bound or a syntax error (then buf must not be loaded). */
static bool check_bounds(struct loader *ld, const char *buf, size_t len)
{
	yaml_parser_t parser;
	struct bounds *b = calloc(1, sizeof *b);
	bool ok = false, done = false;

	if (!b || !yaml_parser_initialize(&parser)) {
		ld->oom = true;
		free(b);
		return false;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (!done) {
		yaml_event_t ev;

		if (!yaml_parser_parse(&parser, &ev)) {
			syntax_error(ld, &parser, buf, len);
			ok = false;
			goto out;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		ok = bound_event(ld, b, &ev);
		yaml_event_delete(&ev);
		if (!ok)
			goto out;
	}
out:
	for (size_t i = 0; i < b->n_anchors; i++)
		free(b->anchors[i].name);
	free(b);
	yaml_parser_delete(&parser);
	return ok;
}

/* ------------------------------------------------------------------ */
/* The document                                                        */

/* Parse buf into doc; returns true if doc must be deleted. */
static bool parse_doc(struct loader *ld, const char *buf, size_t len, yaml_document_t *doc)
{
	yaml_parser_t parser;
	yaml_document_t extra;
	bool have = false;

	if (!yaml_parser_initialize(&parser)) {
		ld->oom = true;
		return false;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, doc)) {
		syntax_error(ld, &parser, buf, len);
		goto out;
	}
	have = true;
	/* A second document would be ignored silently: refuse it. */
	if (!yaml_parser_load(&parser, &extra)) {
		syntax_error(ld, &parser, buf, len);
		goto out;
	}
	if (yaml_document_get_root_node(&extra))
		config__add_err(ld, yaml_document_get_root_node(&extra),
				"only one YAML document is allowed; remove the second '---'");
	yaml_document_delete(&extra);
out:
	yaml_parser_delete(&parser);
	return have;
}

bool config__parse(struct loader *ld, const char *buf, size_t len, yaml_document_t *doc)
{
	if (len > FILE_MAX) {
		config__add_err(ld, NULL, "the file is larger than " FILE_MAX_TEXT "; this is not "
				"a config file");
		return false;
	}
	if (!check_bounds(ld, buf, len))
		return false;
	return parse_doc(ld, buf, len, doc);
}

/* Read the whole file, at most FILE_MAX + 1 bytes (config__parse refuses
 * more than FILE_MAX), if it may be read at all (see config__read_private). */
int config__read_file(struct loader *ld, const char *path, char **buf, size_t *len)
{
	char why[PATH_LEN + 128];
	int rc = config__read_private(path, path, FILE_MAX, buf, len, why, sizeof why);

	if (rc == BOT_ENOMEM)
		ld->oom = true;
	else if (rc)
		config__add_err(ld, NULL, "%s", why);
	return rc;
}
