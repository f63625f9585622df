#!/usr/bin/env python3
"""CloudWatch alarm notifications the way AWS delivers them, for the alarm
intake's end-to-end test (tests/integration/e2e_test.c). moto's CloudWatch
fires no alarm actions (notes §11), so this publishes the alarm JSON to the
alarms' SNS topic itself; moto delivers it to the subscribed SQS queue.

  moto-alarms.py URL setup
      creates the queue chatops-alarms, the topic chatops-alarms and the
      subscription (raw delivery off: the queue gets the SNS envelope);
      prints {"queue_url": ..., "queue_arn": ..., "topic_arn": ...}
  moto-alarms.py URL publish TOPIC_ARN NAME STATE EPOCH_MS CLUSTER SERVICE
      publishes NAME's change to STATE at EPOCH_MS (StateChangeTime in the
      +0000 form CloudWatch uses), on the ECS dimensions of the service
"""
import datetime
import json
import sys

import boto3

ACCOUNT = "123456789012"
REGION = "us-east-1"


def client(url, name):
    return boto3.client(name, endpoint_url=url, region_name=REGION,
                        aws_access_key_id="seed", aws_secret_access_key="seed")


def setup(url):
    sqs, sns = client(url, "sqs"), client(url, "sns")
    q = sqs.create_queue(QueueName="chatops-alarms")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = sns.create_topic(Name="chatops-alarms")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    print(json.dumps({"queue_url": q, "queue_arn": arn, "topic_arn": topic}))


def publish(url, topic, name, state, epoch_ms, cluster, service):
    when = datetime.datetime.fromtimestamp(int(epoch_ms) / 1000, datetime.timezone.utc)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S.") + "%03d+0000" % (int(epoch_ms) % 1000)
    old = "OK" if state == "ALARM" else "ALARM"
    msg = {
        "AlarmName": name, "AlarmDescription": "CPU of the service above 80 %",
        "AWSAccountId": ACCOUNT, "NewStateValue": state,
        "NewStateReason": "Threshold Crossed: 1 out of the last 1 datapoints [97.5] was "
                          "greater than the threshold (80.0)." if state == "ALARM" else
                          "Threshold Crossed: 1 out of the last 1 datapoints [41.0] was "
                          "not greater than the threshold (80.0).",
        "StateChangeTime": stamp, "Region": "US East (N. Virginia)",
        "AlarmArn": "arn:aws:cloudwatch:%s:%s:alarm:%s" % (REGION, ACCOUNT, name),
        "OldStateValue": old, "OKActions": [topic], "AlarmActions": [topic],
        "InsufficientDataActions": [],
        "Trigger": {"MetricName": "CPUUtilization", "Namespace": "AWS/ECS",
                    "StatisticType": "Statistic", "Statistic": "AVERAGE", "Unit": None,
                    "Dimensions": [{"value": cluster, "name": "ClusterName"},
                                   {"value": service, "name": "ServiceName"}],
                    "Period": 60, "EvaluationPeriods": 1,
                    "ComparisonOperator": "GreaterThanThreshold", "Threshold": 80.0,
                    "TreatMissingData": "missing", "EvaluateLowSampleCountPercentile": ""},
    }
    subject = '%s: "%s" in US East (N. Virginia)' % (state, name)
    r = client(url, "sns").publish(TopicArn=topic, Message=json.dumps(msg), Subject=subject[:100])
    print(json.dumps({"message_id": r["MessageId"]}))


def main():
    url, cmd = sys.argv[1], sys.argv[2]
    if cmd == "setup":
        setup(url)
    elif cmd == "publish":
        publish(url, *sys.argv[3:10])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
