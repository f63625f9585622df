/* findings.c - analysis and rendering of a service's state (see findings.h). */
#include "bot/domain/findings.h"
#include "adapters/chat.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define CPU_HOT 80.0       /* percent: the lab's ECS CPU threshold */
#define CPU_TARGET 50.0    /* percent we aim for after scaling */
#define RECENT_POINTS 5    /* "now" = the last five datapoints */

struct stat_summary findings_stat(const struct cloud_series *s)
{
	struct stat_summary st = {0};

	if (!s || s->n == 0 || !s->values)
		return st;
	double sum = 0;
	st.max = -INFINITY;
	for (size_t i = 0; i < s->n; i++) {
		double v = s->values[i];
		sum += v;
		if (v > st.max)
			st.max = v;
	}
	st.has_data = true;
	st.n = s->n;
	st.avg = sum / (double)s->n;
	st.last = s->values[s->n - 1];
	return st;
}

static double recent_avg(const struct cloud_series *s)
{
	size_t from = s->n > RECENT_POINTS ? s->n - RECENT_POINTS : 0;
	double sum = 0;
	for (size_t i = from; i < s->n; i++)
		sum += s->values[i];
	return s->n > from ? sum / (double)(s->n - from) : 0;
}

void findings_analyse(const struct cloud_service *svc, const struct cloud_metrics *m,
		      const struct cloud_alarm *alarms, size_t n_alarms, int max_desired,
		      struct findings *f)
{
	memset(f, 0, sizeof *f);
	f->desired = svc->desired;
	f->running = svc->running;
	f->pending = svc->pending;
	for (size_t i = 0; i < svc->n_deployments; i++) {
		const char *rs = svc->deployments[i].rollout_state;
		if (rs && strcmp(rs, "IN_PROGRESS") == 0)
			f->rollout_in_progress = true;
		if (rs && strcmp(rs, "FAILED") == 0)
			f->rollout_failed = true;
	}
	if (m) {
		f->cpu = findings_stat(&m->cpu_avg);
		f->mem = findings_stat(&m->mem_avg);
	}
	for (size_t i = 0; i < n_alarms; i++)
		if (alarms[i].state && strcmp(alarms[i].state, "ALARM") == 0)
			f->alarms_in_alarm++;

	double now_cpu = f->cpu.has_data ? recent_avg(&m->cpu_avg) : 0;
	f->cpu_hot = f->cpu.has_data && now_cpu >= CPU_HOT;
	if (svc->status && strcmp(svc->status, "ACTIVE") != 0) {
		snprintf(f->verdict, sizeof f->verdict, "The service is %s, not ACTIVE; no scaling suggested.",
			 svc->status);
	} else if (f->cpu_hot) {
		/* Tasks needed to bring CPU to the target, assuming load spreads
		 * evenly: running * now / target, at least one more task. */
		int base = f->running > 0 ? f->running : (f->desired > 0 ? f->desired : 1);
		int want = (int)ceil((double)base * now_cpu / CPU_TARGET);
		if (want <= f->desired)
			want = f->desired + 1;
		if (max_desired > 0 && want > max_desired)
			want = max_desired;
		if (want > f->desired)
			f->suggested = want;
		snprintf(f->verdict, sizeof f->verdict,
			 "CPU is %.0f%% (last %d min) with %d of %d tasks running: the service lacks capacity.",
			 now_cpu, RECENT_POINTS, f->running, f->desired);
	} else if (f->running < f->desired) {
		snprintf(f->verdict, sizeof f->verdict,
			 "%d of %d tasks are running; tasks are still starting or failing to start.",
			 f->running, f->desired);
	} else if (!f->cpu.has_data) {
		snprintf(f->verdict, sizeof f->verdict,
			 "No CPU data in the window (ECS reports only while tasks run).");
	} else {
		snprintf(f->verdict, sizeof f->verdict, "CPU is %.0f%%; no sign of missing capacity.", now_cpu);
	}
}

const char *findings_sparkline(const struct cloud_series *s, size_t width, char *buf, size_t n)
{
	static const char *const bars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
	size_t o = 0;

	buf[0] = '\0';
	if (!s || s->n == 0 || width == 0)
		return buf;
	size_t cells = s->n < width ? s->n : width;
	for (size_t c = 0; c < cells; c++) {
		/* average the points that fall in this cell */
		size_t from = c * s->n / cells, to = (c + 1) * s->n / cells;
		double sum = 0;
		for (size_t i = from; i < to; i++)
			sum += s->values[i];
		double v = to > from ? sum / (double)(to - from) : 0;
		const char *bar = "·";
		if (to > from && !isnan(v)) {
			int k = (int)lround(v / 100.0 * 7.0);
			bar = bars[k < 0 ? 0 : k > 7 ? 7 : k];
		}
		size_t bl = strlen(bar);
		if (o + bl + 1 > n)
			break;
		memcpy(buf + o, bar, bl);
		o += bl;
	}
	buf[o] = '\0';
	return buf;
}

/* "• CPU: avg ..., now ...%  ▁▂▃" */
static void put_series(struct chat_text *t, const char *label, const struct cloud_series *avg,
		       const struct cloud_series *max)
{
	char spark[128];
	struct stat_summary a = findings_stat(avg), mx = findings_stat(max);

	chat_text_printf(t, "• %s: ", label);
	if (!a.has_data) {
		unsigned old = chat_text_style(t, CHAT_STYLE_ITALIC);
		chat_text_printf(t, "no data in the window");
		chat_text_style(t, old);
		chat_text_printf(t, "\n");
		return;
	}
	chat_text_printf(t, "avg %.1f%%, max %.1f%%, now %.1f%%  ", a.avg,
			 mx.has_data ? mx.max : a.max, a.last);
	chat_text_code(t, "%s", findings_sparkline(avg, 30, spark, sizeof spark));
	chat_text_printf(t, "\n");
}

void findings_render(const char *service, const char *cluster, const struct cloud_service *svc,
		     const struct cloud_metrics *m, const struct cloud_alarm *alarms,
		     size_t n_alarms, const struct findings *f, struct chat_text *t)
{
	chat_text_bold(t, "%s", service);
	chat_text_printf(t, " in cluster ");
	chat_text_bold(t, "%s", cluster);
	chat_text_printf(t, " is %s\n", svc->status ? svc->status : "?");
	chat_text_printf(t, "• Tasks: %d desired, %d running, %d pending\n", svc->desired,
			 svc->running, svc->pending);
	for (size_t i = 0; i < svc->n_deployments && i < 3; i++) {
		const struct cloud_deployment *d = &svc->deployments[i];
		chat_text_printf(t, "• Deployment %s: %d/%d running, rollout %s\n",
				 d->status ? d->status : "?", d->running, d->desired,
				 d->rollout_state ? d->rollout_state : "unknown");
	}
	if (m) {
		int minutes = (int)((m->end - m->start) / 60.0 + 0.5);
		unsigned old = chat_text_style(t, CHAT_STYLE_ITALIC);
		chat_text_printf(t, "CPU and memory over the last %d min (ECS service metrics, %ds "
				 "period)", minutes, m->cpu_avg.period_s ? m->cpu_avg.period_s : 60);
		chat_text_style(t, old);
		chat_text_printf(t, "\n");
		put_series(t, "CPU", &m->cpu_avg, &m->cpu_max);
		put_series(t, "Memory", &m->mem_avg, &m->mem_max);
	}
	if (n_alarms == 0) {
		chat_text_printf(t, "• Alarms in ALARM: none\n");
	} else {
		chat_text_printf(t, "• Alarms in ALARM:\n");
		for (size_t i = 0; i < n_alarms && i < 5; i++) {
			chat_text_printf(t, "    ◦ %s", alarms[i].name ? alarms[i].name : "");
			if (alarms[i].reason)
				chat_text_printf(t, ": %s", alarms[i].reason);
			chat_text_printf(t, "\n");
		}
	}
	if (svc->n_events) {
		chat_text_printf(t, "• Last service events:\n");
		for (size_t i = 0; i < svc->n_events && i < 3; i++)
			chat_text_printf(t, "    ◦ %s\n", svc->events[i].message ?
					 svc->events[i].message : "");
	}
	chat_text_bold(t, "Verdict:");
	chat_text_printf(t, " %s", f->verdict);
	if (f->suggested > 0) {
		chat_text_printf(t, "\n");
		chat_text_bold(t, "Suggested:");
		chat_text_printf(t, " scale %s from %d to %d tasks.", service, f->desired,
				 f->suggested);
	}
}
