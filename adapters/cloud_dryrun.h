/* cloud_dryrun.h - a cloud that reads through another one and never writes.
 *
 * --dry-run wraps the real backend: describe/metrics/alarms and the
 * discovery reads (describe_cluster, list_services) and the task
 * definition reads (task_definitions, describe_task_definition) are
 * forwarded; scale, deploy and notify answer BOT_EDRYRUN with a message saying what would
 * have been done, so the workflow plans and reports but changes nothing. */
#ifndef ADAPTERS_CLOUD_DRYRUN_H
#define ADAPTERS_CLOUD_DRYRUN_H

#include <uv.h>

#include "adapters/cloud.h"

/* inner is borrowed (may be NULL: reads then fail with BOT_ESTATE "no AWS
 * access configured"). Returns NULL on OOM. */
struct cloud *cloud_dryrun_create(uv_loop_t *loop, struct cloud *inner);

#endif
