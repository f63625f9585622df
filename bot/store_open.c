/* store_open.c - pick and open the configured store backend (see store_open.h). */
#include "bot/store_open.h"
#include "adapters/store/sqlite.h"

int bot_store_open(const struct config *cfg, const char *db_path, bool read_only,
		   struct store **out, struct bot_error *err)
{
	struct store_sqlite_opts so = {
		.path = db_path ? db_path : cfg ? cfg->store.path : NULL,
		.read_only = read_only,
	};

	*out = NULL;
	return store_sqlite_open(&so, out, err);
}
