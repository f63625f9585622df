#!/usr/bin/env python3
"""moto state for the crash test (tests/integration/crash_test.c).

    crash-seed.py ENDPOINT --cluster NAME --services N [--out FILE] seed
    crash-seed.py ENDPOINT --cluster NAME --services N --dump       read back

Seed: one cluster with N FARGATE services svc-0 .. svc-(N-1) at
desiredCount 1 (awsvpc needs a subnet and a security group, aws-notes
section 8.2). Service svc-K has its own task definition family crash-K with
two ACTIVE revisions whose images differ (:1 nginx:1.25, :2 nginx:1.27) and
is created on :2, so that a rollback goes :2 -> :1. With --out, writes
what crash_child needs to build each gate's parameters, and the checks
need to tell a changed service from the seeded one, to FILE (replica_test
and the benches seed without it):

    {"svc-K": {"from": ARN of crash-K:2, "to": ARN of crash-K:1,
               "from_image": "nginx:1.27", "to_image": "nginx:1.25",
               "deployment": the PRIMARY deployment's id}, ...}

and prints "seeded N".

Dump: DescribeServices for all of them (10 per call, the ECS limit) and
prints one JSON object {"svc-K": {"desired": desiredCount, "taskDefinition":
ARN, "deployment": the PRIMARY deployment's id, "deployments": how many},
...}; a missing service is left out. Talks to moto directly, not through
the ledger proxy, so the reads are not counted as the bot's calls.
"""
import argparse
import concurrent.futures
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
    ap.add_argument("--out")
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
                primary = [d for d in s.get("deployments", []) if d.get("status") == "PRIMARY"]
                out[s["serviceName"]] = {
                    "desired": s["desiredCount"],
                    "taskDefinition": s.get("taskDefinition"),
                    "deployment": primary[0]["id"] if primary else None,
                    "deployments": len(s.get("deployments", [])),
                }
        print(json.dumps(out, sort_keys=True))
        return

    ec2 = boto3.client("ec2", **kw)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    sub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="crash-sg", Description="crash test",
                                   VpcId=vpc)["GroupId"]
    ecs.create_cluster(clusterName=a.cluster)
    net = {"awsvpcConfiguration": {"subnets": [sub], "securityGroups": [sg]}}
    images = ("nginx:1.25", "nginx:1.27")  # revisions 1 and 2

    def seed_one(k):
        name = names[k]
        arns = [ecs.register_task_definition(
            family="crash-%d" % k, networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
            cpu="256", memory="512",
            containerDefinitions=[{"name": "app", "image": img, "essential": True}],
        )["taskDefinition"]["taskDefinitionArn"] for img in images]
        svc = ecs.create_service(cluster=a.cluster, serviceName=name, taskDefinition=arns[1],
                                 desiredCount=1, launchType="FARGATE",
                                 networkConfiguration=net)["service"]
        primary = [d["id"] for d in svc["deployments"] if d["status"] == "PRIMARY"]
        assert len(primary) == 1 and len(svc["deployments"]) == 1, svc["deployments"]
        return name, {"from": arns[1], "to": arns[0], "from_image": images[1],
                      "to_image": images[0], "deployment": primary[0]}

    # a few at a time (~500 calls; moto_server answers in threads): each worker
    # registers its own families, so no two touch the same revision counter
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        seeded = dict(pool.map(seed_one, range(len(names))))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(seeded, f, sort_keys=True)
    print("seeded %d" % len(names))


if __name__ == "__main__":
    main()
