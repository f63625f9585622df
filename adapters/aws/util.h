/* util.h - small helpers shared inside adapters/aws (prefix aws__; not for
 * use outside this directory). The botocore form encoder on top of bot/base/dbuf.h
 * (request bodies are capped at AWS__BUF_MAX), timestamps and a few jansson accessors. */
#ifndef ADAPTERS_AWS_UTIL_H
#define ADAPTERS_AWS_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "bot/base/dbuf.h"
#include "bot/base/error.h"

/* Bodies we build are small; anything past this is a bug, not data. */
#define AWS__BUF_MAX ((size_t)1 << 20)

/* Append "&key=value" (no '&' first) with value form-encoded exactly as
 * botocore/moto do (aws_sigv4_form_encode: space is '+'). key must be
 * made of safe characters ("Action", "MessageAttributes.entry.1.Name"). */
void aws__form_add(struct dbuf *b, const char *key, const char *value);

/* ISO 8601 UTC time "2026-11-23T21:48:34Z", with optional fraction and
 * "+00:00"/"Z" zone, to epoch seconds. Returns false when malformed. */
bool aws__iso8601_parse(const char *s, double *out);
/* "2026-11-23T21:48:34Z" for t (buf >= 21 bytes). */
void aws__iso8601_format(double t, char *buf, size_t n);

/* A JSON timestamp: awsJson numbers are epoch seconds (with a fraction);
 * some servers (moto) send ISO 8601 strings instead. 0 when absent/bad. */
double aws__json_time(const json_t *v);
/* obj[key] as a string, or NULL when absent or not a string (borrowed). */
const char *aws__json_str(const json_t *obj, const char *key);
/* obj[key] as an int (integer, or real with no fraction), or def when
 * absent or not a number. A number that is not a whole number within int
 * range (7.9547e+09, 2.5) is malformed: def is returned, and the first
 * such one sets *rc to BOT_EPARSE and err to "<key>: <number> is not a
 * whole number in int range" (later ones leave both alone). */
int aws__json_int(const json_t *obj, const char *key, int def, int *rc, struct bot_error *err);
/* obj[key] as a double (integer or real), or def. */
double aws__json_num(const json_t *obj, const char *key, double def);

/* strdup that records failure in *oom; NULL in, NULL out (no failure). */
char *aws__dup(const char *s, bool *oom);
/* snprintf(dst, n, "%s", src) without -Wformat-truncation noise; NULL src = "". */
void aws__copy(char *dst, size_t n, const char *src);
/* The part of an ARN after the last '/' ("arn:...:service/c/name" -> "name");
 * s itself when it has no '/'. Borrowed from s. */
const char *aws__arn_tail(const char *s);
/* For an ECS cluster name or ARN, the name (borrowed from s). */
const char *aws__cluster_name(const char *s);
/* Region field of an ARN ("arn:aws:ecs:eu-west-1:..." -> "eu-west-1") into
 * buf; false when s is not an ARN with a region. */
bool aws__arn_region(const char *s, char *buf, size_t n);

/* Parse an awsJson reply body that must be an object (caller decrefs), or
 * NULL with BOT_EPARSE detail in err. */
json_t *aws__json_object(const char *body, size_t len, struct bot_error *err);

#endif
