"""The async endpoint's two policies (the seed "SageMaker Async Endpoint
Autoscaling"): CPU target tracking at 50% and a HasBacklogWithoutCapacity
step policy that brings an idle endpoint back from zero.

Changed only where it must be: the clients' endpoint_url and credentials,
and the async endpoint "esd-example" created first. Run the server with a
scaled clock (ebb server --time-scale 60) to watch the 15 minutes of idle
CPU that scale in to zero pass in 15 seconds.
"""
import boto3
import botocore.config

import ebb_example as ebb
from ebb_example import check, finish, wait_until

endpoint_name = ebb.deploy("esd-example", async_output="s3://ebb-example/out")
resource_id = "endpoint/" + endpoint_name + "/variant/prod"
client = ebb.client("application-autoscaling")
sm = ebb.client("sagemaker")
cw = ebb.client("cloudwatch")

client.register_scalable_target(
    ServiceNamespace="sagemaker",
    ResourceId=resource_id,
    ScalableDimension="sagemaker:variant:DesiredInstanceCount",
    MinCapacity=0,
    MaxCapacity=2,
)
client.put_scaling_policy(
    PolicyName="CPUUtil-ScalingPolicy",
    ServiceNamespace="sagemaker",
    ResourceId=resource_id,
    ScalableDimension="sagemaker:variant:DesiredInstanceCount",
    PolicyType="TargetTrackingScaling",
    TargetTrackingScalingPolicyConfiguration={
        "TargetValue": 50.0,
        "CustomizedMetricSpecification": {
            "MetricName": "CPUUtilization",
            "Namespace": "/aws/sagemaker/Endpoints",
            "Dimensions": [
                {"Name": "EndpointName", "Value": endpoint_name},
                {"Name": "VariantName", "Value": "prod"},
            ],
            "Statistic": "Average",
            "Unit": "Percent",
        },
        "ScaleOutCooldown": 300,
        "ScaleInCooldown": 300,
    },
)
step = client.put_scaling_policy(
    PolicyName="HasBacklogWithoutCapacity-ScalingPolicy",
    ServiceNamespace="sagemaker",
    ResourceId=resource_id,
    ScalableDimension="sagemaker:variant:DesiredInstanceCount",
    PolicyType="StepScaling",
    StepScalingPolicyConfiguration={
        "AdjustmentType": "ChangeInCapacity",
        "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1}],
        "Cooldown": 300,
        "MetricAggregationType": "Average",
    },
)
cw.put_metric_alarm(
    AlarmName="stable-diffusion-hasbacklogwithoutcapacity-alarm",
    MetricName="HasBacklogWithoutCapacity",
    Namespace="AWS/SageMaker",
    Statistic="Average",
    Dimensions=[{"Name": "EndpointName", "Value": endpoint_name}],
    Period=60,
    EvaluationPeriods=2,
    DatapointsToAlarm=2,
    Threshold=1,
    ComparisonOperator="GreaterThanOrEqualToThreshold",
    TreatMissingData="missing",
    AlarmActions=[step["PolicyARN"]],
)


def instances():
    v = sm.describe_endpoint(EndpointName=endpoint_name)["ProductionVariants"][0]
    return v.get("DesiredInstanceCount"), v.get("CurrentInstanceCount")


wait_until("idle endpoint scales in to zero", lambda: instances() == (0, 0), timeout=120)

s3 = boto3.client(
    "s3", endpoint_url=ebb.ENDPOINT_URL, region_name="us-east-1",
    aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="example-secret",
    config=botocore.config.Config(s3={"addressing_style": "path"}))
s3.create_bucket(Bucket="ebb-example")
s3.put_object(Bucket="ebb-example", Key="in/request.json", Body=b'{"instances": [[0.5, 1.5, 2.5]]}')
runtime = ebb.client("sagemaker-runtime")
out = runtime.invoke_endpoint_async(EndpointName=endpoint_name, InputLocation="s3://ebb-example/in/request.json")
print("queued", out["InferenceId"], "->", out["OutputLocation"])

wait_until("backlog brings the endpoint back to one instance", lambda: instances() == (1, 1), timeout=120)
key = out["OutputLocation"].split("/", 3)[3]


def output_written():
    try:
        s3.head_object(Bucket="ebb-example", Key=key)
        return True
    except Exception:
        return False


wait_until("the inference's output is written", output_written, timeout=60)
finish()
