/* error.c - messages and names for the error enum, from BOT_ERRNO_MAP. */
#include "bot/base/error.h"

#include <stdio.h>
#include <string.h>

const char *bot_strerror(int code)
{
	switch (code) {
#define BOT_ERR_MSG(name, num, msg) case num: return msg;
	BOT_ERRNO_MAP(BOT_ERR_MSG)
#undef BOT_ERR_MSG
	}
	return "unknown error";
}

const char *bot_err_name(int code)
{
	switch (code) {
#define BOT_ERR_NAME(name, num, msg) case num: return "E" #name;
	BOT_ERRNO_MAP(BOT_ERR_NAME)
#undef BOT_ERR_NAME
	}
	return "EUNKNOWN";
}

int bot_error_setv(struct bot_error *err, int code, const char *fmt, va_list ap)
{
	if (err) {
		vsnprintf(err->msg, sizeof err->msg, fmt, ap);
		err->file = NULL;
		err->line = err->col = 0;
	}
	return code;
}

int bot_error_set(struct bot_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bot_error_setv(err, code, fmt, ap);
	va_end(ap);
	return code;
}

int bot_error_at(struct bot_error *err, int code, const char *file, int line,
		 int col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bot_error_setv(err, code, fmt, ap);
	va_end(ap);
	if (err) {
		err->file = file;
		err->line = line;
		err->col = col;
	}
	return code;
}

void bot_error_clear(struct bot_error *err)
{
	if (err)
		memset(err, 0, sizeof *err);
}
