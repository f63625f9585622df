/* findings.h - turn what the cloud reported about a service into findings:
 * numbers, a verdict and a suggested action, and render them as structured
 * text (adapters/chat.h: each chat backend writes its own markup). Pure
 * functions (no I/O), so they are unit-tested directly. */
#ifndef BOT_FINDINGS_H
#define BOT_FINDINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "adapters/chat.h"
#include "adapters/cloud.h"

struct stat_summary {
	bool has_data;
	double avg, max, last;
	size_t n;
};

struct findings {
	int desired, running, pending;
	bool rollout_in_progress, rollout_failed;
	struct stat_summary cpu, mem;   /* over the metrics window */
	size_t alarms_in_alarm;
	bool cpu_hot;                   /* CPU average of the last points >= hot threshold */
	int suggested;                  /* suggested desired count; 0 = no suggestion */
	char verdict[256];              /* one line, plain */
};

/* Summarise a series (NULL or n == 0 gives has_data = false). */
struct stat_summary findings_stat(const struct cloud_series *s);

/* Analyse. svc is required; m and alarms may be NULL. max_desired caps the
 * suggestion (the service's configured maximum). */
void findings_analyse(const struct cloud_service *svc, const struct cloud_metrics *m,
		      const struct cloud_alarm *alarms, size_t n_alarms, int max_desired,
		      struct findings *out);

/* A text sparkline of at most width cells ("▁▂▃▄▅▆▇█"; "·" for gaps) over
 * 0..100 % into buf. Returns buf. */
const char *findings_sparkline(const struct cloud_series *s, size_t width, char *buf, size_t n);

/* Append the findings to t as structured text: names in bold, the
 * sparklines as code, what AWS reported as it came (the chat backend
 * escapes it). What does not fit in t is cut (t->cut). */
void findings_render(const char *service, const char *cluster, const struct cloud_service *svc,
		     const struct cloud_metrics *m, const struct cloud_alarm *alarms,
		     size_t n_alarms, const struct findings *f, struct chat_text *t);

#endif
