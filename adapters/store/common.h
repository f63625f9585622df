/* common.h - what every store backend writes the same way (prefix
 * store__): shared by the backends in adapters/store/ so that an audit event has one
 * shape whichever backend sealed it. */
#ifndef ADAPTERS_STORE_COMMON_H
#define ADAPTERS_STORE_COMMON_H

#include "adapters/store.h"

/* The "requested" audit event's detail: g's request as a JSON object text
 * (compact, sorted keys). The caller frees it; NULL on OOM. */
char *store__request_detail(const struct store_gate *g);

#endif
