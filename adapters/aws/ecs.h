/* ecs.h - Amazon ECS over awsJson1_1 (prefix aws_ecs_): DescribeServices,
 * UpdateService, ListServices, DescribeClusters, ListTaskDefinitions,
 * DescribeTaskDefinition.
 *
 * Request bodies and reply parsers are pure functions (unit-tested on every
 * reply shape); the async calls put them on an aws_client. Parsed services
 * are struct cloud_service objects owned by the result (each one freed by
 * cloud_service_free): cluster is the cluster's name (from clusterArn, else
 * the name asked for), events are newest first and at most
 * AWS_ECS_MAX_EVENTS, timestamps are epoch seconds. */
#ifndef ADAPTERS_AWS_ECS_H
#define ADAPTERS_AWS_ECS_H

#include <stdbool.h>
#include <stddef.h>

#include "adapters/aws/client.h"
#include "adapters/cloud.h"

#define AWS_ECS_MAX_EVENTS 20
/* DescribeServices takes at most 10 names, DescribeClusters 100. */
#define AWS_ECS_MAX_DESCRIBE 10
#define AWS_ECS_MAX_CLUSTERS 100

struct aws_ecs_failure {
	char *arn, *reason, *detail; /* reason "MISSING" for an unknown name */
};

struct aws_ecs_services {
	struct cloud_service **v;
	size_t n;
	struct aws_ecs_failure *failures;
	size_t n_failures;
};
void aws_ecs_services_clear(struct aws_ecs_services *s);

struct aws_ecs_list {
	char **names;    /* service names (the ARN's last segment) */
	size_t n;
	char *next_token; /* NULL on the last page */
};
void aws_ecs_list_clear(struct aws_ecs_list *l);

struct aws_ecs_clusters {
	struct cloud_cluster *v; /* strings owned */
	size_t n;
	struct aws_ecs_failure *failures;
	size_t n_failures;
};
void aws_ecs_clusters_clear(struct aws_ecs_clusters *c);

/* ListTaskDefinitions page: task definition ARNs as ECS sent them. */
struct aws_ecs_taskdefs {
	char **arns;
	size_t n;
	char *next_token; /* NULL on the last page */
};
void aws_ecs_taskdefs_clear(struct aws_ecs_taskdefs *t);

/* Bodies (caller frees; NULL on OOM or bad arguments). */
char *aws_ecs_describe_services_body(const char *cluster, const char *const *services, size_t n);
char *aws_ecs_update_service_body(const char *cluster, const char *service, int desired,
				  bool force_new_deployment);
char *aws_ecs_list_services_body(const char *cluster, const char *next_token, int max_results);
char *aws_ecs_describe_clusters_body(const char *const *clusters, size_t n);
/* UpdateService with taskDefinition (no desiredCount: the count stays). */
char *aws_ecs_deploy_body(const char *cluster, const char *service, const char *task_definition,
			  bool force_new_deployment);
/* ListTaskDefinitions familyPrefix, status ACTIVE, sort DESC (newest
 * first); max_results 1..100, 0 = 100. */
char *aws_ecs_list_task_definitions_body(const char *family_prefix, const char *next_token,
					 int max_results);
char *aws_ecs_describe_task_definition_body(const char *task_definition);

/* Parsers: 0, BOT_EPARSE (err says what), BOT_ENOMEM. cluster_hint names
 * the cluster when the reply has no clusterArn (may be NULL). */
int aws_ecs_parse_describe_services(const char *body, size_t len, const char *cluster_hint,
				    struct aws_ecs_services *out, struct bot_error *err);
int aws_ecs_parse_update_service(const char *body, size_t len, const char *cluster_hint,
				 struct cloud_service **out, struct bot_error *err);
int aws_ecs_parse_list_services(const char *body, size_t len, struct aws_ecs_list *out,
				struct bot_error *err);
int aws_ecs_parse_describe_clusters(const char *body, size_t len, struct aws_ecs_clusters *out,
				    struct bot_error *err);
int aws_ecs_parse_list_task_definitions(const char *body, size_t len,
					struct aws_ecs_taskdefs *out, struct bot_error *err);
/* *out is the caller's (cloud_task_definition_free). */
int aws_ecs_parse_describe_task_definition(const char *body, size_t len,
					   struct cloud_task_definition **out,
					   struct bot_error *err);

/* Results are valid only during the callback (NULL on error). A reply
 * that does not parse is an error with code BOT_EPROTOCOL. */
typedef void (*aws_ecs_services_cb)(void *ud, const struct cloud_error *err,
				    const struct aws_ecs_services *r);
typedef void (*aws_ecs_service_cb)(void *ud, const struct cloud_error *err,
				   const struct cloud_service *svc);
typedef void (*aws_ecs_list_cb)(void *ud, const struct cloud_error *err,
				const struct aws_ecs_list *page);
typedef void (*aws_ecs_clusters_cb)(void *ud, const struct cloud_error *err,
				    const struct aws_ecs_clusters *r);
typedef void (*aws_ecs_taskdefs_cb)(void *ud, const struct cloud_error *err,
				    const struct aws_ecs_taskdefs *page);
typedef void (*aws_ecs_taskdef_cb)(void *ud, const struct cloud_error *err,
				   const struct cloud_task_definition *td);

int aws_ecs_describe_services(struct aws_client *c, const char *region, const char *cluster,
			      const char *const *services, size_t n, aws_ecs_services_cb cb,
			      void *ud, struct aws_call **out);
/* UpdateService with an absolute desiredCount (idempotent, so retried). */
int aws_ecs_update_service(struct aws_client *c, const char *region, const char *cluster,
			   const char *service, int desired, bool force_new_deployment,
			   aws_ecs_service_cb cb, void *ud, struct aws_call **out);
/* One page (max_results 1..100, 0 = 100). */
int aws_ecs_list_services(struct aws_client *c, const char *region, const char *cluster,
			  const char *next_token, int max_results, aws_ecs_list_cb cb, void *ud,
			  struct aws_call **out);
int aws_ecs_describe_clusters(struct aws_client *c, const char *region,
			      const char *const *clusters, size_t n, aws_ecs_clusters_cb cb,
			      void *ud, struct aws_call **out);

/* UpdateService with a taskDefinition (idempotent: the same target twice
 * is one deployment, unless force_new_deployment). */
int aws_ecs_deploy(struct aws_client *c, const char *region, const char *cluster,
		   const char *service, const char *task_definition, bool force_new_deployment,
		   aws_ecs_service_cb cb, void *ud, struct aws_call **out);
/* One page of ListTaskDefinitions (see the body). */
int aws_ecs_list_task_definitions(struct aws_client *c, const char *region,
				  const char *family_prefix, const char *next_token,
				  int max_results, aws_ecs_taskdefs_cb cb, void *ud,
				  struct aws_call **out);
int aws_ecs_describe_task_definition(struct aws_client *c, const char *region,
				     const char *task_definition, aws_ecs_taskdef_cb cb, void *ud,
				     struct aws_call **out);

#endif
