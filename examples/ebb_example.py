"""Shared set-up for the examples: boto3 clients pointed at ebb, and an
endpoint running the example model for the snippet to scale.

The seed snippets run unchanged apart from what this module supplies: the
client's endpoint_url, dummy credentials, and the endpoint they scale.
"""
import os
import sys
import time

import boto3

ENDPOINT_URL = os.environ.get("EBB_ENDPOINT_URL", "http://127.0.0.1:8080")


def client(service):
    """A boto3 client for service that talks to ebb."""
    return boto3.client(
        service,
        endpoint_url=ENDPOINT_URL,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="example-secret",
    )


def deploy(name, instances=1, async_output=None):
    """Creates model, endpoint config and endpoint name running the example
    model, and waits until it is InService."""
    sm = client("sagemaker")
    sm.create_model(
        ModelName=name,
        PrimaryContainer={"Image": "ebb example-model --work-ms 1"},
        ExecutionRoleArn="arn:aws:iam::123456789012:role/ebb-example",
    )
    config = {
        "EndpointConfigName": name,
        "ProductionVariants": [{
            "VariantName": "AllTraffic" if async_output is None else "prod",
            "ModelName": name,
            "InstanceType": "ml.m5.large",
            "InitialInstanceCount": instances,
        }],
    }
    if async_output is not None:
        config["AsyncInferenceConfig"] = {"OutputConfig": {"S3OutputPath": async_output}}
    sm.create_endpoint_config(**config)
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    return name


def check(what, ok):
    """Records one check; the example exits non-zero if any failed."""
    print(("ok     " if ok else "FAILED ") + what, flush=True)
    if not ok:
        check.failed = True


check.failed = False


def wait_until(what, cond, timeout=60):
    """Polls cond (a real server's state, not the passage of time)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            check(what, True)
            return
        time.sleep(0.2)
    check(what, False)


def finish():
    sys.exit(1 if check.failed else 0)
