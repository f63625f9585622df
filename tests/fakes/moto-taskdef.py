#!/usr/bin/env python3
"""Register a second revision of the lab's task definition (another image)
and a family whose name only starts like it, for the task definition and
deploy tests (issue 17). Run while moto's IAM checks are off (moto_script).

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
    rev1 = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    keep = ("family", "networkMode", "requiresCompatibilities", "cpu", "memory")
    kw = {k: rev1[k] for k in keep if k in rev1}
    containers = [dict(c, image="nginx:1.27") for c in rev1["containerDefinitions"]]
    rev2 = ecs.register_task_definition(containerDefinitions=containers, **kw)["taskDefinition"]
    ecs.register_task_definition(family=rev1["family"] + "-other", containerDefinitions=[
        {"name": "other", "image": "busybox", "memory": 128}])
    json.dump({"rev1": rev1["taskDefinitionArn"], "rev2": rev2["taskDefinitionArn"]}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
