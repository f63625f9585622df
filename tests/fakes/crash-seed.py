#!/usr/bin/env python3
"""moto state for the crash test (tests/integration/crash_test.c).

    crash-seed.py ENDPOINT --cluster NAME --services N            seed
    crash-seed.py ENDPOINT --cluster NAME --services N --dump     read back

Seed: one cluster with N FARGATE services svc-0 .. svc-(N-1) at
desiredCount 1 (awsvpc needs a subnet and a security group, aws-notes
section 8.2). Prints "seeded N".

Dump: DescribeServices for all of them (10 per call, the ECS limit) and
prints one JSON object {"svc-0": desiredCount, ...}; a missing service is
left out. Talks to moto directly, not through the ledger proxy, so the
reads are not counted as the bot's calls.
"""
import argparse
import json

import boto3
import botocore.config


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint")
    ap.add_argument("--cluster", required=True)
    ap.add_argument("--services", type=int, required=True)
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--dump", action="store_true")
    a = ap.parse_args()
    cfg = botocore.config.Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=20)
    kw = dict(endpoint_url=a.endpoint, region_name=a.region, config=cfg,
              aws_access_key_id="seed", aws_secret_access_key="seed")
    ecs = boto3.client("ecs", **kw)
    names = ["svc-%d" % i for i in range(a.services)]

    if a.dump:
        out = {}
        for i in range(0, len(names), 10):
            r = ecs.describe_services(cluster=a.cluster, services=names[i:i + 10])
            for s in r["services"]:
                out[s["serviceName"]] = s["desiredCount"]
        print(json.dumps(out, sort_keys=True))
        return

    ec2 = boto3.client("ec2", **kw)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    sub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="crash-sg", Description="crash test",
                                   VpcId=vpc)["GroupId"]
    ecs.create_cluster(clusterName=a.cluster)
    td = ecs.register_task_definition(
        family="crash-task", networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
        cpu="256", memory="512",
        containerDefinitions=[{"name": "app", "image": "nginx", "essential": True}],
    )["taskDefinition"]["taskDefinitionArn"]
    net = {"awsvpcConfiguration": {"subnets": [sub], "securityGroups": [sg]}}
    for name in names:
        ecs.create_service(cluster=a.cluster, serviceName=name, taskDefinition=td,
                           desiredCount=1, launchType="FARGATE", networkConfiguration=net)
    print("seeded %d" % len(names))


if __name__ == "__main__":
    main()
