/* fuzz_aws_json - every awsJson reply parser on the same body: ECS
 * (DescribeServices, UpdateService, ListServices, DescribeClusters),
 * CloudWatch (GetMetricData with page merging, DescribeAlarms), the
 * container/IMDS credentials document and JSON error replies.
 *
 * Bodies are passed as bytes and a length, as the HTTP client hands them
 * over. Checks beyond the sanitizers: a refusal says why; what parses is
 * usable (names present, series in ascending time order, also after
 * merging a second page). */
#include "fuzz.h"

#include "adapters/aws/creds.h"
#include "adapters/aws/cw.h"
#include "adapters/aws/ecs.h"
#include "adapters/aws/errors.h"

static void check_refusal(int rc, const struct bot_error *err)
{
	FUZZ_CHECK(rc == BOT_EPARSE || rc == BOT_ENOMEM || rc == BOT_EAUTH, "rc %d", rc);
	FUZZ_CHECK(err->msg[0] && strlen(err->msg) < sizeof err->msg, "rc %d without detail", rc);
}

static void ecs(const char *body, size_t len)
{
	struct bot_error err = {0};
	struct aws_ecs_services s;
	struct aws_ecs_list l;
	struct aws_ecs_clusters c;
	struct cloud_service *one = NULL;
	int rc;

	rc = aws_ecs_parse_describe_services(body, len, "arn:aws:ecs:us-east-1:1:cluster/hint", &s,
					     &err);
	if (rc) {
		check_refusal(rc, &err);
	} else {
		for (size_t i = 0; i < s.n; i++) {
			FUZZ_CHECK(s.v[i]->name && s.v[i]->cluster, "service %zu", i);
			FUZZ_CHECK(s.v[i]->n_events <= AWS_ECS_MAX_EVENTS, "events");
			cloud_service_free(cloud_service_dup(s.v[i]));
		}
		aws_ecs_services_clear(&s);
	}
	rc = aws_ecs_parse_update_service(body, len, NULL, &one, &err);
	if (rc)
		check_refusal(rc, &err);
	cloud_service_free(one);
	rc = aws_ecs_parse_list_services(body, len, &l, &err);
	if (rc)
		check_refusal(rc, &err);
	aws_ecs_list_clear(&l);
	rc = aws_ecs_parse_describe_clusters(body, len, &c, &err);
	if (rc)
		check_refusal(rc, &err);
	aws_ecs_clusters_clear(&c);
}

static void check_sorted(const struct aws_cw_results *r)
{
	for (size_t i = 0; i < r->n; i++)
		for (size_t k = 1; k < r->v[i].n; k++)
			FUZZ_CHECK(r->v[i].times[k - 1] <= r->v[i].times[k], "series %zu point %zu", i, k);
}

static void cw(const char *body, size_t len)
{
	struct bot_error err = {0};
	struct aws_cw_results acc, page;
	struct aws_cw_alarms a;
	int rc;

	rc = aws_cw_parse_get_metric_data(body, len, &acc, &err);
	if (rc) {
		check_refusal(rc, &err);
	} else {
		check_sorted(&acc);
		/* The same reply again as a next page: ids merge, order holds. */
		if (aws_cw_parse_get_metric_data(body, len, &page, &err) == BOT_EOK &&
		    aws_cw_results_merge(&acc, &page) == BOT_EOK)
			check_sorted(&acc);
		aws_cw_results_clear(&page);
		aws_cw_results_clear(&acc);
	}
	rc = aws_cw_parse_describe_alarms(body, len, &a, &err);
	if (rc) {
		check_refusal(rc, &err);
	} else {
		for (size_t i = 0; i < a.n; i++)
			(void)aws_cw_alarm_names_service(&a.v[i], "prod", "web");
		aws_cw_alarms_clear(&a);
	}
}

static void creds_and_errors(const char *body, size_t len)
{
	static const struct aws_err_headers h = {
		.request_id2 = "rid-2", .error_type = "ThrottlingException:http://internal",
	};
	struct bot_error err = {0};
	struct aws_creds_owned c;
	struct aws_err_parsed e;
	int rc = aws_creds_parse_json(body, len, &c, &err);

	if (rc)
		check_refusal(rc, &err);
	else
		FUZZ_CHECK(c.access_key_id && c.secret_access_key, "keys");
	aws_creds_owned_clear(&c);
	aws_err_parse(body, len, NULL, &e);
	aws_err_parse(body, len, &h, &e);
	FUZZ_CHECK(strlen(e.code) < sizeof e.code && strlen(e.message) < sizeof e.message, "sizes");
	(void)aws_err_classify(400, e.code);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;

	ecs(body, size);
	cw(body, size);
	creds_and_errors(body, size);
	return 0;
}
