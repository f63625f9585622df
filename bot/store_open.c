/* store_open.c - pick and open the configured store backend (see store_open.h). */
#include "bot/store_open.h"
#include "adapters/store/sqlite.h"

#include <string.h>

int bot_store_open(const struct config *cfg, uv_loop_t *loop, const char *db_path,
		   bool read_only, struct store **out, struct bot_error *err)
{
	int rc;

	struct store_sqlite_opts so = {
		.path = db_path ? db_path : cfg ? cfg->store.path : NULL,
		.read_only = read_only,
	};

	*out = NULL;
	/* --db names a SQLite file; otherwise the configured backend (the
	 * loader accepts only backends this table knows) */
	if (!db_path && cfg && cfg->store.backend && strcmp(cfg->store.backend, "sqlite") != 0)
		return bot_error_set(err, BOT_ECONFIG, "store.backend: unknown backend '%s'",
				     cfg->store.backend);
	rc = store_sqlite_open(&so, out, err);
	if (rc == BOT_EOK && loop && (rc = store_attach_loop(*out, loop)) != BOT_EOK) {
		store_close(*out);
		*out = NULL;
		return bot_error_set(err, rc, "store: cannot attach to the loop");
	}
	return rc;
}
