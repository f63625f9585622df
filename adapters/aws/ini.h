/* ini.h - the AWS shared config and credentials file format (prefix
 * aws_ini_): "[section]" headers, "key = value" lines, '#' and ';'
 * comments at the start of a line. Indented lines after "key =" (nested
 * sub-sections such as "s3 =\n  max_concurrent_requests = 10") are
 * attached as "key.sub" entries, which is how [services ...] sections say
 * "ecs =\n  endpoint_url = ...". Section names and keys are compared
 * exactly (keys are lower-cased on load, as botocore does). Last one wins.
 * Read once at startup (a small synchronous file read). */
#ifndef ADAPTERS_AWS_INI_H
#define ADAPTERS_AWS_INI_H

#include <stddef.h>

#include "bot/base/error.h"

struct aws_ini;

/* Parse text (len bytes). Returns 0 or BOT_ENOMEM. */
int aws_ini_parse(const char *text, size_t len, struct aws_ini **out);
/* Read and parse path; a missing file gives an empty ini and 0 (missing
 * files are normal). BOT_EIO for other read errors. */
int aws_ini_load(const char *path, struct aws_ini **out, struct bot_error *err);
void aws_ini_free(struct aws_ini *ini);

/* Value of key in section, or NULL (borrowed until aws_ini_free). */
const char *aws_ini_get(const struct aws_ini *ini, const char *section, const char *key);
/* Whether the section appears at all. */
int aws_ini_has_section(const struct aws_ini *ini, const char *section);

#endif
