#!/usr/bin/env python3
"""Seed a moto_server like the AWS lab: mysecretword-cluster/-service with one
task, 30 minutes of CPU/memory datapoints (CPU pegged near 99%), an alarm in
ALARM for the service and the owners' SNS topic.

Usage: moto-seed.py ENDPOINT_URL [--region us-east-1] [--iam OUT.json]
With --iam it also creates IAM users (readonly, scaler) and a role, and
writes their keys to OUT.json (for signature/permission tests).
Prints one JSON object with what it created.
"""
import argparse
import datetime
import json
import sys

import boto3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--iam")
    ap.add_argument("--cpu", type=float, default=99.0, help="CPU level of the last 10 minutes")
    a = ap.parse_args()
    kw = dict(endpoint_url=a.endpoint, region_name=a.region,
              aws_access_key_id="seed", aws_secret_access_key="seed")
    ec2, ecs, cw, sns = (boto3.client(n, **kw) for n in ("ec2", "ecs", "cloudwatch", "sns"))

    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    sub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="mysecretword-sg", Description="sg", VpcId=vpc)["GroupId"]
    ecs.create_cluster(clusterName="mysecretword-cluster")
    # two revisions, the service on the second: what /rollback goes back from
    for image in ("nginx:1.25", "nginx:1.27"):
        td = ecs.register_task_definition(
            family="mysecretword-task", networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
            cpu="256", memory="512",
            containerDefinitions=[{"name": "mysecretword-app", "image": image, "essential": True}],
        )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster="mysecretword-cluster", serviceName="mysecretword-service", taskDefinition=td,
        desiredCount=1, launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": [sub], "securityGroups": [sg]}},
    )

    now = datetime.datetime.now(datetime.timezone.utc).replace(second=0, microsecond=0)
    dims = [{"Name": "ClusterName", "Value": "mysecretword-cluster"},
            {"Name": "ServiceName", "Value": "mysecretword-service"}]
    data = []
    for m in range(30, 0, -1):
        ts = now - datetime.timedelta(minutes=m)
        cpu = a.cpu if m <= 10 else 35.0 + (30 - m) * 2.0
        mem = 60.0 + (30 - m) * 0.5
        data.append({"MetricName": "CPUUtilization", "Dimensions": dims, "Timestamp": ts,
                     "Value": cpu, "Unit": "Percent"})
        data.append({"MetricName": "MemoryUtilization", "Dimensions": dims, "Timestamp": ts,
                     "Value": mem, "Unit": "Percent"})
    for i in range(0, len(data), 20):
        cw.put_metric_data(Namespace="AWS/ECS", MetricData=data[i:i + 20])

    cw.put_metric_alarm(
        AlarmName="mysecretword-service-cpu-high", Namespace="AWS/ECS",
        MetricName="CPUUtilization", Dimensions=dims, Statistic="Average", Period=60,
        EvaluationPeriods=3, Threshold=80.0, ComparisonOperator="GreaterThanThreshold")
    cw.set_alarm_state(AlarmName="mysecretword-service-cpu-high", StateValue="ALARM",
                       StateReason="Threshold Crossed: CPU 99% > 80%")

    out = {"topic_arn": sns.create_topic(Name="mysecretword-owners")["TopicArn"],
           "cluster": "mysecretword-cluster", "service": "mysecretword-service"}

    if a.iam:
        iam = boto3.client("iam", **kw)

        def pol(actions):
            return json.dumps({"Version": "2012-10-17",
                               "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]})

        def user(name, actions):
            iam.create_user(UserName=name)
            iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=pol(actions))
            k = iam.create_access_key(UserName=name)["AccessKey"]
            return {"AccessKeyId": k["AccessKeyId"], "SecretAccessKey": k["SecretAccessKey"]}

        creds = {
            "readonly": user("chatops-readonly", [
                "ecs:DescribeServices", "ecs:ListServices", "ecs:DescribeClusters",
                "cloudwatch:GetMetricData", "monitoring:GetMetricData",
                "cloudwatch:DescribeAlarms", "monitoring:DescribeAlarms"]),
            "scaler": user("chatops-scaler", [
                "ecs:DescribeServices", "ecs:UpdateService", "ecs:ListServices",
                "ecs:DescribeClusters", "cloudwatch:GetMetricData", "cloudwatch:DescribeAlarms",
                "monitoring:GetMetricData", "monitoring:DescribeAlarms", "sns:Publish",
                "sts:AssumeRole", "sts:GetCallerIdentity"]),
        }
        iam.create_role(RoleName="mysecretword-scaler-role", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": "sts:AssumeRole",
                "Principal": {"AWS": "arn:aws:iam::123456789012:user/chatops-scaler"}}]}))
        iam.put_role_policy(RoleName="mysecretword-scaler-role", PolicyName="p",
                            PolicyDocument=pol(["ecs:DescribeServices", "ecs:UpdateService"]))
        creds["role_arn"] = "arn:aws:iam::123456789012:role/mysecretword-scaler-role"
        with open(a.iam, "w") as f:
            json.dump(creds, f)

    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
