/* store_open.h - pick and open the configured store backend (wiring).
 *
 * The only place that knows the concrete store backends: the domain gets a
 * struct store * and talks to it through adapters/store.h.
 */
#ifndef BOT_STORE_OPEN_H
#define BOT_STORE_OPEN_H

#include <stdbool.h>

#include "adapters/store.h"
#include "bot/base/error.h"
#include "config/config.h"

/* Open cfg's store (store.backend, default sqlite, at store.path), or the
 * SQLite file db_path when it is set (cfg may then be NULL). read_only: for
 * inspection (chatops-bot audit): never creates, migrates or writes. loop:
 * where the asynchronous calls answer (NULL: synchronous use only, by a
 * tool); the owner then calls store_stop before the loop closes. */
int bot_store_open(const struct config *cfg, uv_loop_t *loop, const char *db_path,
		   bool read_only, struct store **out, struct bot_error *err);

#endif
