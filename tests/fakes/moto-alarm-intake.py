#!/usr/bin/env python3
"""moto state for the alarm intake test (tests/integration/sqs_test.c), made
while moto's IAM checks are off:

- queues: env (SNS subscription, raw delivery off), raw (SNS subscription,
  RawMessageDelivery=true), eb (target of an EventBridge rule for
  aws.cloudwatch "CloudWatch Alarm State Change"), work, dry, poll;
- the alarm JSON CloudWatch publishes, published to the topic (moto's
  CloudWatch fires no alarm actions: notes §11), so env holds the SNS
  envelope and raw the alarm JSON itself;
- one EventBridge event (put_events with source aws.cloudwatch) -> eb;
- work: a body that is not an alarm change, then a raw alarm JSON;
- dry: a raw alarm JSON;
- metric alarms intake-web-cpu (ALARM), intake-api-5xx (OK) and
  other-thing (ALARM, matched by neither name nor prefix); in eu-west-1
  intake-web-cpu (OK: another alarm of the same name) and intake-eu-only.

Prints one JSON object: the queue URLs and each intake alarm's
StateUpdatedTimestamp in epoch ms.

Usage: moto-alarm-intake.py ENDPOINT_URL [--region us-east-1]
"""
import argparse
import json

import boto3

ACCOUNT = "123456789012"


def alarm_json(name, region, state, old, when, dims):
    return {
        "AlarmName": name, "AlarmDescription": None, "AWSAccountId": ACCOUNT,
        "NewStateValue": state, "NewStateReason": "Threshold Crossed: 1 datapoint [97.0] was "
        "greater than the threshold (80.0).", "StateChangeTime": when,
        "Region": "US East (N. Virginia)",
        "AlarmArn": "arn:aws:cloudwatch:%s:%s:alarm:%s" % (region, ACCOUNT, name),
        "OldStateValue": old, "OKActions": [], "InsufficientDataActions": [],
        "AlarmActions": ["arn:aws:sns:%s:%s:alarm-intake" % (region, ACCOUNT)],
        "Trigger": {"MetricName": "CPUUtilization", "Namespace": "AWS/ECS",
                    "StatisticType": "Statistic", "Statistic": "AVERAGE", "Unit": None,
                    "Dimensions": [{"value": v, "name": k} for k, v in dims],
                    "Period": 60, "EvaluationPeriods": 1,
                    "ComparisonOperator": "GreaterThanThreshold", "Threshold": 80.0,
                    "TreatMissingData": "missing", "EvaluateLowSampleCountPercentile": ""}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint")
    ap.add_argument("--region", default="us-east-1")
    a = ap.parse_args()
    kw = dict(endpoint_url=a.endpoint, region_name=a.region,
              aws_access_key_id="seed", aws_secret_access_key="seed")
    sqs, sns, events, cw = (boto3.client(n, **kw) for n in ("sqs", "sns", "events", "cloudwatch"))
    out = {}

    def queue(name):
        url = sqs.create_queue(QueueName="intake-" + name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        out[name] = url
        return url, arn

    env_url, env_arn = queue("env")
    raw_url, raw_arn = queue("raw")
    eb_url, eb_arn = queue("eb")
    work_url, _ = queue("work")
    dry_url, _ = queue("dry")
    queue("poll")

    topic = sns.create_topic(Name="alarm-intake")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=env_arn)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=raw_arn,
                  Attributes={"RawMessageDelivery": "true"})
    dims = [("ClusterName", "prod"), ("ServiceName", "web")]
    msg = alarm_json("intake-web-cpu-high-and-a-name-long-enough-that-the-subject-line-is-cut-short-by-sns",
                     "eu-west-1", "ALARM", "OK", "2024-07-05T15:20:44.959+0000", dims)
    sns.publish(TopicArn=topic, Message=json.dumps(msg),
                Subject='ALARM: "intake-web-cpu-high-and-a-name-long-enough-that-the-subject-..." in EU (Ireland)')

    events.put_rule(Name="alarm-changes", EventPattern=json.dumps(
        {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"]}))
    events.put_targets(Rule="alarm-changes", Targets=[{"Id": "intake", "Arn": eb_arn}])
    r = events.put_events(Entries=[{
        "Source": "aws.cloudwatch", "DetailType": "CloudWatch Alarm State Change",
        "Resources": ["arn:aws:cloudwatch:us-east-1:%s:alarm:intake-api-5xx" % ACCOUNT],
        "Detail": json.dumps({
            "alarmName": "intake-api-5xx",
            "state": {"value": "ALARM", "reason": "Threshold Crossed",
                      "timestamp": "2024-07-05T17:20:44.959+0200"},
            "previousState": {"value": "OK", "reason": "fine",
                              "timestamp": "2024-07-05T15:00:00.000+0000"},
            "configuration": {"description": "5xx above 5", "metrics": [{
                "id": "m1", "metricStat": {"metric": {
                    "namespace": "AWS/ApplicationELB", "name": "HTTPCode_Target_5XX_Count",
                    "dimensions": {"LoadBalancer": "app/api/50dc6c495c0c9188"}},
                    "period": 300, "stat": "Sum"}, "returnData": True}]}})}])
    assert r["FailedEntryCount"] == 0, r

    sqs.send_message(QueueUrl=work_url, MessageBody="deploy of web finished")
    sqs.send_message(QueueUrl=work_url, MessageBody=json.dumps(
        alarm_json("intake-work", "us-east-1", "OK", "ALARM", "2024-07-05T15:20:44Z", dims)))
    sqs.send_message(QueueUrl=dry_url, MessageBody=json.dumps(
        alarm_json("intake-dry", "us-east-1", "ALARM", "OK", "2024-07-05T15:20:44Z", dims)))

    def alarm(name, state, cw=cw):
        cw.put_metric_alarm(
            AlarmName=name, AlarmDescription="intake test", Namespace="AWS/ECS",
            MetricName="CPUUtilization", Dimensions=[{"Name": k, "Value": v} for k, v in dims],
            Statistic="Average", Period=60, EvaluationPeriods=2, Threshold=80.0,
            ComparisonOperator="GreaterThanThreshold")
        cw.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test: " + state)
        got = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
        key = "updated_ms_" + name + ("" if cw.meta.region_name == a.region else "@" + cw.meta.region_name)
        out[key] = round(got["StateUpdatedTimestamp"].timestamp() * 1000)

    alarm("intake-web-cpu", "ALARM")
    alarm("intake-api-5xx", "OK")
    alarm("other-thing", "ALARM")
    # the same name in another region is another alarm; one only there
    eu = boto3.client("cloudwatch", **dict(kw, region_name="eu-west-1"))
    alarm("intake-web-cpu", "OK", cw=eu)
    alarm("intake-eu-only", "ALARM", cw=eu)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
