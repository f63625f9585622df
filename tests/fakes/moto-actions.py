#!/usr/bin/env python3
"""ECS state for the /restart and /rollback end-to-end tests
(tests/integration/e2e_actions_test.c), changed and read behind the bot's
back. Run while moto's IAM checks are off (moto_script). Everything is in
mysecretword-cluster (seeded by scripts/moto-seed.py).

Usage: moto-actions.py ENDPOINT_URL COMMAND ARGS...
  service NAME FAMILY REVISIONS ON   register REVISIONS revisions of FAMILY
                                     (container "app", image nginx:1.<20+N>
                                     for revision N) and create service NAME
                                     (1 desired task) on revision ON
  state NAME                         the service as ECS tells it
  force NAME                         UpdateService forceNewDeployment=true
  deploy NAME TASKDEF                UpdateService taskDefinition=TASKDEF
Prints one JSON object: {"taskDefinition": ARN, "desiredCount": N,
"deployments": [{"id", "status", "taskDefinition"}]} (service, state,
force, deploy).
"""
import json
import sys

import boto3

CLUSTER = "mysecretword-cluster"


def state(ecs, name):
    s = ecs.describe_services(cluster=CLUSTER, services=[name])["services"][0]
    return {"taskDefinition": s["taskDefinition"], "desiredCount": s["desiredCount"],
            "deployments": [{"id": d["id"], "status": d["status"],
                             "taskDefinition": d.get("taskDefinition")}
                            for d in s.get("deployments", [])]}


def main():
    url, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    ecs = boto3.client("ecs", endpoint_url=url, region_name="us-east-1",
                       aws_access_key_id="seed", aws_secret_access_key="seed")
    if cmd == "service":
        name, family, revs, on = args[0], args[1], int(args[2]), int(args[3])
        seeded = ecs.describe_services(cluster=CLUSTER,
                                       services=["mysecretword-service"])["services"][0]
        arns = []
        for n in range(1, revs + 1):
            arns.append(ecs.register_task_definition(
                family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
                cpu="256", memory="512",
                containerDefinitions=[{"name": "app", "image": "nginx:1.%d" % (20 + n),
                                       "essential": True}],
            )["taskDefinition"]["taskDefinitionArn"])
        ecs.create_service(cluster=CLUSTER, serviceName=name, taskDefinition=arns[on - 1],
                           desiredCount=1, launchType="FARGATE",
                           networkConfiguration=seeded["networkConfiguration"])
    elif cmd == "force":
        ecs.update_service(cluster=CLUSTER, service=args[0], forceNewDeployment=True)
    elif cmd == "deploy":
        ecs.update_service(cluster=CLUSTER, service=args[0], taskDefinition=args[1])
    elif cmd != "state":
        sys.exit("unknown command " + cmd)
    json.dump(state(ecs, args[0]), sys.stdout)
    print()


if __name__ == "__main__":
    main()
