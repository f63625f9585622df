/* fuzz_config - the YAML configuration loader from a buffer
 * (config_load_string), with anchors/aliases and ${VAR} expansion in play.
 *
 * A few variables are set once so that ${FUZZ_SVC}, ${FUZZ_EMPTY:-x} and
 * the default token variables resolve; the dictionary (config.dict) has
 * the keys, "${", "&a" and "*a". Checks beyond the sanitizers: a refused
 * config has at least one error, each with a message; a loaded one finds
 * each of its services by name, each action of a service by its name
 * (with enough approvers), the alarm policy's action among them, and prints
 * nothing. Every error is printed
 * (to /dev/null) so the redacting printer runs too. */
#include "fuzz.h"

#include "bot/base/log.h"
#include "config/config.h"

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(BOT_LOG_OFF);
	setenv("FUZZ_SVC", "web", 1);
	setenv("FUZZ_USER", "U0FUZZ1", 1);
	setenv("FUZZ_EMPTY", "", 1);
	setenv("SLACK_APP_TOKEN", "xapp-1-fuzz-app-token", 1);
	setenv("SLACK_BOT_TOKEN", "xoxb-fuzz-bot-token", 1);
	unsetenv("SLACK_API_URL");
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	devnull = fopen("/dev/null", "w");
	if (!devnull)
		abort();
	return 0;
}

static void check_loaded(const struct config *c)
{
	for (size_t i = 0; i < c->n_services; i++) {
		const struct config_service *s = &c->services[i];
		FUZZ_CHECK(s->name && s->cluster, "service %zu", i);
		FUZZ_CHECK(config_service_find(c, s->name) == s, "service %s not found by name",
			   s->name);
		FUZZ_CHECK(s->min_desired <= s->max_desired, "%s: bounds", s->name);
		FUZZ_CHECK(s->n_actions >= 1, "%s: no actions", s->name);
		for (size_t j = 0; j < s->n_actions; j++)
			FUZZ_CHECK(config_action_find(s, s->actions[j].kind) == &s->actions[j] &&
				   (size_t)s->actions[j].min_approvals <= s->actions[j].approvers.n,
				   "%s: action %zu", s->name, j);
		FUZZ_CHECK(!s->on_alarm_action || config_action_find(s, s->on_alarm_action),
			   "%s: the alarm policy's action is not allowed", s->name);
	}
	FUZZ_CHECK(c->defaults.min_timer_ms <= c->defaults.max_timer_ms, "timer bounds");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *yaml = fuzz_cstr(data, size);
	struct config_errors errs = {0};
	struct config *c = NULL;
	int rc = config_load_string("fuzz.yaml", yaml, 0, &c, &errs);

	if (rc == BOT_EOK) {
		FUZZ_CHECK(c && c->refs == 1, "config");
		check_loaded(c);
		config_unref(c);
	} else {
		FUZZ_CHECK(!c, "rc %d with a config", rc);
		FUZZ_CHECK(rc == BOT_ENOMEM || errs.n > 0, "rc %d without errors", rc);
		for (size_t i = 0; i < errs.n; i++)
			FUZZ_CHECK(errs.v[i].msg[0], "error %zu without a message", i);
		config_errors_print(&errs, devnull);
	}
	config_errors_free(&errs);
	free(yaml);
	return 0;
}
