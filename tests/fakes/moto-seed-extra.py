#!/usr/bin/env python3
"""Extra moto state for the AWS integration tests, on top of
scripts/moto-seed.py (run first, auth still off):

- a second service in mysecretword-cluster (ListServices has two names);
- alarms the bot must NOT report for mysecretword-service: one in ALARM for
  another service, one in ALARM naming our service but another cluster, and
  one for our service in OK state;
- an empty cluster (DescribeClusters finds it; ListServices is empty);
- a role chatops-test-session-role that chatops-scaler may assume, allowed
  to read ECS, CloudWatch and publish to SNS (session-token requests of
  every shape).

Usage: moto-seed-extra.py ENDPOINT_URL [--region us-east-1]
"""
import argparse
import json

import boto3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint")
    ap.add_argument("--region", default="us-east-1")
    a = ap.parse_args()
    kw = dict(endpoint_url=a.endpoint, region_name=a.region,
              aws_access_key_id="seed", aws_secret_access_key="seed")
    ecs, cw, iam = (boto3.client(n, **kw) for n in ("ecs", "cloudwatch", "iam"))

    svc = ecs.describe_services(cluster="mysecretword-cluster",
                                services=["mysecretword-service"])["services"][0]
    ecs.create_service(
        cluster="mysecretword-cluster", serviceName="mysecretword-worker",
        taskDefinition=svc["taskDefinition"], desiredCount=2, launchType="FARGATE",
        networkConfiguration=svc["networkConfiguration"])
    ecs.create_cluster(clusterName="empty-cluster")

    def alarm(name, cluster, service, state):
        cw.put_metric_alarm(
            AlarmName=name, Namespace="AWS/ECS", MetricName="CPUUtilization",
            Dimensions=[{"Name": "ClusterName", "Value": cluster},
                        {"Name": "ServiceName", "Value": service}],
            Statistic="Average", Period=60, EvaluationPeriods=1, Threshold=50.0,
            ComparisonOperator="GreaterThanThreshold")
        cw.set_alarm_state(AlarmName=name, StateValue=state, StateReason="seeded: " + state)

    alarm("other-service-cpu-high", "mysecretword-cluster", "other-service", "ALARM")
    alarm("mysecretword-service-elsewhere", "other-cluster", "mysecretword-service", "ALARM")
    alarm("mysecretword-service-cpu-ok", "mysecretword-cluster", "mysecretword-service", "OK")
    iam.create_role(RoleName="chatops-test-session-role", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sts:AssumeRole",
            "Principal": {"AWS": "arn:aws:iam::123456789012:user/chatops-scaler"}}]}))
    iam.put_role_policy(RoleName="chatops-test-session-role", PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
            "ecs:DescribeServices", "monitoring:GetMetricData", "cloudwatch:GetMetricData",
            "sns:Publish"]}]}))
    print("extra seed ok")


if __name__ == "__main__":
    main()
