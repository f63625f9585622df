/* Findings: the numbers, the verdict, the suggestion and the rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/slack/mrkdwn.h"
#include "bot/domain/findings.h"

static double hot_cpu[30], cool_cpu[30], times[30], mem[30];

static void fill(void)
{
	for (int i = 0; i < 30; i++) {
		times[i] = 1700000000.0 + i * 60;
		hot_cpu[i] = i < 20 ? 40.0 : 99.0;
		cool_cpu[i] = 20.0;
		mem[i] = 60.0 + i * 0.5;
	}
}

static struct cloud_metrics metrics(const double *cpu)
{
	struct cloud_metrics m = {
		.cpu_avg = {.name = "CPUUtilization", .stat = "Average", .period_s = 60, .values = cpu, .times = times, .n = 30},
		.cpu_max = {.name = "CPUUtilization", .stat = "Maximum", .period_s = 60, .values = cpu, .times = times, .n = 30},
		.mem_avg = {.name = "MemoryUtilization", .stat = "Average", .period_s = 60, .values = mem, .times = times, .n = 30},
		.mem_max = {.name = "MemoryUtilization", .stat = "Maximum", .period_s = 60, .values = mem, .times = times, .n = 30},
		.start = times[0], .end = times[0] + 30 * 60,
	};
	return m;
}

static const struct cloud_deployment deps[] = {
	{.id = "ecs-svc/1", .status = "PRIMARY", .rollout_state = "COMPLETED", .desired = 1, .running = 1},
};

static struct cloud_service service(int desired, int running)
{
	struct cloud_service s = {
		.name = "mysecretword-service", .cluster = "mysecretword-cluster", .status = "ACTIVE",
		.desired = desired, .running = running, .deployments = deps, .n_deployments = 1,
	};
	return s;
}

static void test_stat(void **state)
{
	(void)state;
	fill();
	struct cloud_metrics m = metrics(hot_cpu);
	struct stat_summary st = findings_stat(&m.cpu_avg);
	assert_true(st.has_data);
	assert_int_equal(st.n, 30);
	assert_float_equal(st.max, 99.0, 1e-9);
	assert_float_equal(st.last, 99.0, 1e-9);
	assert_float_equal(st.avg, (20 * 40.0 + 10 * 99.0) / 30.0, 1e-9);
	struct cloud_series empty = {.n = 0};
	assert_false(findings_stat(&empty).has_data);
	assert_false(findings_stat(NULL).has_data);
}

static void test_hot_cpu_suggests_scale(void **state)
{
	(void)state;
	fill();
	struct cloud_metrics m = metrics(hot_cpu);
	struct cloud_service s = service(1, 1);
	struct cloud_alarm al = {.name = "mysecretword-service-cpu-high", .state = "ALARM", .reason = "CPU > 80"};
	struct findings f;
	findings_analyse(&s, &m, &al, 1, 200, &f);
	assert_true(f.cpu_hot);
	assert_int_equal(f.alarms_in_alarm, 1);
	assert_int_equal(f.suggested, 2); /* 1 task at 99% -> 2 tasks at ~50% */
	assert_non_null(strstr(f.verdict, "lacks capacity"));

	struct cloud_service s4 = service(4, 4);
	findings_analyse(&s4, &m, NULL, 0, 200, &f);
	assert_int_equal(f.suggested, 8);
	findings_analyse(&s4, &m, NULL, 0, 6, &f); /* capped by max_desired */
	assert_int_equal(f.suggested, 6);
	findings_analyse(&s4, &m, NULL, 0, 4, &f); /* already at max: no suggestion */
	assert_int_equal(f.suggested, 0);
}

static void test_cool_and_no_data(void **state)
{
	(void)state;
	fill();
	struct cloud_metrics m = metrics(cool_cpu);
	struct cloud_service s = service(2, 2);
	struct findings f;
	findings_analyse(&s, &m, NULL, 0, 10, &f);
	assert_false(f.cpu_hot);
	assert_int_equal(f.suggested, 0);

	struct cloud_metrics none = {.start = 0, .end = 1800};
	struct cloud_service s0 = service(1, 0);
	findings_analyse(&s0, &none, NULL, 0, 10, &f);
	assert_false(f.cpu.has_data);
	assert_int_equal(f.suggested, 0);
	assert_non_null(strstr(f.verdict, "0 of 1 tasks are running"));

	struct cloud_service draining = service(1, 1);
	draining.status = "DRAINING";
	struct cloud_metrics hot = metrics(hot_cpu);
	findings_analyse(&draining, &hot, NULL, 0, 10, &f);
	assert_int_equal(f.suggested, 0);
	assert_non_null(strstr(f.verdict, "DRAINING"));
}

static void test_sparkline(void **state)
{
	char buf[256];
	(void)state;
	double v[] = {0, 12.5, 25, 37.5, 50, 62.5, 75, 87.5, 100};
	struct cloud_series s = {.values = v, .n = 9};
	assert_string_equal(findings_sparkline(&s, 30, buf, sizeof buf), "▁▂▃▄▅▅▆▇█");
	/* compressed: 9 points in 3 cells, averaged */
	assert_string_equal(findings_sparkline(&s, 3, buf, sizeof buf), "▂▅▇");
	struct cloud_series e = {.n = 0};
	assert_string_equal(findings_sparkline(&e, 10, buf, sizeof buf), "");
	/* tiny buffer never overflows and never cuts a multi-byte cell */
	char tiny[8];
	findings_sparkline(&s, 30, tiny, sizeof tiny);
	assert_int_equal(strlen(tiny), 6);
}

/* The findings are structured text: names in bold, what AWS said as it
 * came; the Slack renderer escapes it, the console shows it as written. */
static void test_render_escapes_and_suggests(void **state)
{
	struct chat_text t;
	char buf[4096];
	(void)state;
	fill();
	struct cloud_metrics m = metrics(hot_cpu);
	struct cloud_service s = service(1, 1);
	struct cloud_event ev = {.message = "(service x) has reached a steady state <ok> & more"};
	s.events = &ev;
	s.n_events = 1;
	struct cloud_alarm al = {.name = "cpu<high>", .state = "ALARM", .reason = "Threshold Crossed"};
	struct findings f;
	findings_analyse(&s, &m, &al, 1, 200, &f);
	chat_text_init(&t);
	findings_render("my<svc>", "c&c", &s, &m, &al, 1, &f, &t);
	assert_false(t.cut);

	/* as the approvers see it on the card (plain text, as stored) */
	chat_text_plain(&t, buf, sizeof buf);
	assert_non_null(strstr(buf, "my<svc> in cluster c&c is ACTIVE\n"));
	assert_non_null(strstr(buf, "1 desired, 1 running, 0 pending"));
	assert_non_null(strstr(buf, "CPU: avg"));
	assert_non_null(strstr(buf, "max 99.0%"));
	assert_non_null(strstr(buf, "cpu<high>: Threshold Crossed"));
	assert_non_null(strstr(buf, "steady state <ok> & more"));
	assert_non_null(strstr(buf, "Suggested: scale my<svc> from 1 to 2 tasks."));
	assert_null(strstr(buf, "*"));
	assert_null(strstr(buf, "`"));
	assert_null(strstr(buf, "&lt;"));

	/* as Slack gets it: styles as markup, what came from outside escaped */
	char *md = slack_mrkdwn(&t);
	assert_non_null(md);
	assert_non_null(strstr(md, "*my&lt;svc&gt;* in cluster *c&amp;c* is ACTIVE"));
	assert_non_null(strstr(md, "cpu&lt;high&gt;: Threshold Crossed"));
	assert_non_null(strstr(md, "steady state &lt;ok&gt; &amp; more"));
	assert_non_null(strstr(md, "_CPU and memory over the last"));
	assert_non_null(strstr(md, "now 99.0%  `"));
	assert_non_null(strstr(md, "*Suggested:* scale my&lt;svc&gt; from 1 to 2 tasks."));
	assert_null(strstr(md, "<svc>"));
	free(md);

	/* what does not fit is cut, visibly */
	char long_msg[2000];
	memset(long_msg, 'e', sizeof long_msg - 1);
	long_msg[sizeof long_msg - 1] = '\0';
	struct cloud_event evs[3] = {{.message = long_msg}, {.message = long_msg}, {.message = long_msg}};
	s.events = evs;
	s.n_events = 3;
	chat_text_init(&t);
	findings_render("svc", "c", &s, &m, &al, 1, &f, &t);
	assert_true(t.cut);
	chat_text_plain(&t, buf, sizeof buf);
	assert_int_equal(strcmp(buf + strlen(buf) - 3, "..."), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stat),
		cmocka_unit_test(test_hot_cpu_suggests_scale),
		cmocka_unit_test(test_cool_and_no_data),
		cmocka_unit_test(test_sparkline),
		cmocka_unit_test(test_render_escapes_and_suggests),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
