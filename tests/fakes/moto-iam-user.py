#!/usr/bin/env python3
"""Create an IAM user holding exactly one managed policy, for tests that run
the bot with the policy `chatops-bot iam-policy` printed (moto's view of it:
see moto_policy_for_moto in tests/fakes/moto.c).

Run while moto's IAM checks are off (moto.c turns them off around it).

Usage: moto-iam-user.py ENDPOINT_URL USER_NAME POLICY_FILE [--region us-east-1]
Prints {"AccessKeyId", "SecretAccessKey", "Arn"} as one JSON object.
"""
import argparse
import json
import sys

import boto3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("endpoint")
    ap.add_argument("user")
    ap.add_argument("policy_file")
    ap.add_argument("--region", default="us-east-1")
    a = ap.parse_args()
    iam = boto3.client("iam", endpoint_url=a.endpoint, region_name=a.region,
                       aws_access_key_id="seed", aws_secret_access_key="seed")
    with open(a.policy_file) as f:
        document = f.read()
    user = iam.create_user(UserName=a.user)["User"]
    arn = iam.create_policy(PolicyName=a.user, PolicyDocument=document)["Policy"]["Arn"]
    iam.attach_user_policy(UserName=a.user, PolicyArn=arn)
    key = iam.create_access_key(UserName=a.user)["AccessKey"]
    json.dump({"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"],
               "Arn": user["Arn"]}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
