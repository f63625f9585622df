/* findings.c - analysis and rendering of a service's state (see findings.h). */
#include "bot/domain/findings.h"
#include "adapters/chat.h"

#include <math.h>
#include <stdarg.h>
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

struct out {
	char *buf;
	size_t n, o;
};

__attribute__((format(printf, 2, 3)))
static void put(struct out *w, const char *fmt, ...)
{
	va_list ap;
	if (w->o + 1 >= w->n)
		return;
	va_start(ap, fmt);
	int k = vsnprintf(w->buf + w->o, w->n - w->o, fmt, ap);
	va_end(ap);
	if (k < 0)
		return;
	if ((size_t)k >= w->n - w->o) {
		w->o = w->n - 1;
		if (w->n > 4)
			memcpy(w->buf + w->n - 4, "...", 4);
		return;
	}
	w->o += (size_t)k;
}

static void put_series(struct out *w, const char *label, const struct cloud_series *avg,
		       const struct cloud_series *max)
{
	char spark[128];
	struct stat_summary a = findings_stat(avg), mx = findings_stat(max);

	if (!a.has_data) {
		put(w, "• %s: _no data in the window_\n", label);
		return;
	}
	put(w, "• %s: avg %.1f%%, max %.1f%%, now %.1f%%  `%s`\n", label, a.avg,
	    mx.has_data ? mx.max : a.max, a.last, findings_sparkline(avg, 30, spark, sizeof spark));
}

size_t findings_render(const char *service, const char *cluster, const struct cloud_service *svc,
		       const struct cloud_metrics *m, const struct cloud_alarm *alarms,
		       size_t n_alarms, const struct findings *f, char *buf, size_t n)
{
	struct out w = {buf, n, 0};
	char esc_s[300], esc_c[300], esc_t[600];

	if (n == 0)
		return 0;
	buf[0] = '\0';
	chat_escape(esc_s, sizeof esc_s, service);
	chat_escape(esc_c, sizeof esc_c, cluster);
	put(&w, "*%s* in cluster *%s* is %s\n", esc_s, esc_c, svc->status ? svc->status : "?");
	put(&w, "• Tasks: %d desired, %d running, %d pending\n", svc->desired, svc->running, svc->pending);
	for (size_t i = 0; i < svc->n_deployments && i < 3; i++) {
		const struct cloud_deployment *d = &svc->deployments[i];
		put(&w, "• Deployment %s: %d/%d running, rollout %s\n", d->status ? d->status : "?",
		    d->running, d->desired, d->rollout_state ? d->rollout_state : "unknown");
	}
	if (m) {
		int minutes = (int)((m->end - m->start) / 60.0 + 0.5);
		put(&w, "_CPU and memory over the last %d min (ECS service metrics, %ds period)_\n",
		    minutes, m->cpu_avg.period_s ? m->cpu_avg.period_s : 60);
		put_series(&w, "CPU", &m->cpu_avg, &m->cpu_max);
		put_series(&w, "Memory", &m->mem_avg, &m->mem_max);
	}
	if (n_alarms == 0) {
		put(&w, "• Alarms in ALARM: none\n");
	} else {
		put(&w, "• Alarms in ALARM:\n");
		for (size_t i = 0; i < n_alarms && i < 5; i++) {
			chat_escape(esc_t, sizeof esc_t, alarms[i].name);
			put(&w, "    ◦ %s", esc_t);
			if (alarms[i].reason) {
				chat_escape(esc_t, sizeof esc_t, alarms[i].reason);
				put(&w, ": %s", esc_t);
			}
			put(&w, "\n");
		}
	}
	if (svc->n_events) {
		put(&w, "• Last service events:\n");
		for (size_t i = 0; i < svc->n_events && i < 3; i++) {
			chat_escape(esc_t, sizeof esc_t, svc->events[i].message);
			put(&w, "    ◦ %s\n", esc_t);
		}
	}
	put(&w, "*Verdict:* %s", f->verdict);
	if (f->suggested > 0)
		put(&w, "\n*Suggested:* scale %s from %d to %d tasks.", esc_s, f->desired, f->suggested);
	return w.o;
}
