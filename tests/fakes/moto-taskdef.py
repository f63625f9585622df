#!/usr/bin/env python3
"""Name the seed's two revisions of the lab's task definition (the service
runs the second) and register a family whose name only starts like it, for
the task definition and deploy tests (issue 17). Run while moto's IAM
checks are off (moto_script).

Usage: moto-taskdef.py ENDPOINT_URL [--region us-east-1]
Prints {"rev1": ARN, "rev2": ARN} as one JSON object.
"""
import argparse
import json
import sys

import boto3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint")
    ap.add_argument("--region", default="us-east-1")
    a = ap.parse_args()
    ecs = boto3.client("ecs", endpoint_url=a.endpoint, region_name=a.region,
                       aws_access_key_id="seed", aws_secret_access_key="seed")
    svc = ecs.describe_services(cluster="mysecretword-cluster",
                                services=["mysecretword-service"])["services"][0]
    rev2 = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    rev1 = ecs.describe_task_definition(
        taskDefinition=f'{rev2["family"]}:{rev2["revision"] - 1}')["taskDefinition"]
    ecs.register_task_definition(family=rev2["family"] + "-other", containerDefinitions=[
        {"name": "other", "image": "busybox", "memory": 128}])
    json.dump({"rev1": rev1["taskDefinitionArn"], "rev2": rev2["taskDefinitionArn"]}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
