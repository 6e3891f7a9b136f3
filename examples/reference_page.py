"""The reference page's Auto Scaling snippets (target tracking, step,
scheduled) against ebb, changed only where they must be: the client's
endpoint_url and credentials, and the endpoint "my-endpoint" created first.
"""
import ebb_example as ebb
from ebb_example import check, finish

ebb.deploy("my-endpoint")
asg_client = ebb.client("application-autoscaling")

# Register scalable target
asg_client.register_scalable_target(
    ServiceNamespace="sagemaker",
    ResourceId="endpoint/my-endpoint/variant/AllTraffic",
    ScalableDimension="sagemaker:variant:DesiredInstanceCount",
    MinCapacity=1,
    MaxCapacity=10
)

# Create scaling policy
asg_client.put_scaling_policy(
    PolicyName="target-tracking-policy",
    ServiceNamespace="sagemaker",
    ResourceId="endpoint/my-endpoint/variant/AllTraffic",
    ScalableDimension="sagemaker:variant:DesiredInstanceCount",
    PolicyType="TargetTrackingScaling",
    TargetTrackingScalingPolicyConfiguration={
        "TargetValue": 70.0,
        "PredefinedMetricSpecification": {
            "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
        },
        "ScaleInCooldown": 300,
        "ScaleOutCooldown": 60
    }
)

asg_client.put_scaling_policy(
    PolicyName="step-scaling-policy",
    ServiceNamespace="sagemaker",
    ResourceId="endpoint/my-endpoint/variant/AllTraffic",
    ScalableDimension="sagemaker:variant:DesiredInstanceCount",
    PolicyType="StepScaling",
    StepScalingPolicyConfiguration={
        "AdjustmentType": "ChangeInCapacity",
        "StepAdjustments": [
            {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 50, "ScalingAdjustment": 1},
            {"MetricIntervalLowerBound": 50, "ScalingAdjustment": 2}
        ],
        "Cooldown": 60
    }
)

asg_client.put_scheduled_action(
    ServiceNamespace="sagemaker",
    ScheduledActionName="scale-up-morning",
    ResourceId="endpoint/my-endpoint/variant/AllTraffic",
    ScalableDimension="sagemaker:variant:DesiredInstanceCount",
    Schedule="cron(0 8 * * ? *)",  # 8 AM daily
    ScalableTargetAction={
        "MinCapacity": 5,
        "MaxCapacity": 20
    }
)

rid = "endpoint/my-endpoint/variant/AllTraffic"
policies = asg_client.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=rid)["ScalingPolicies"]
check("both policies are stored", sorted(p["PolicyName"] for p in policies) == ["step-scaling-policy", "target-tracking-policy"])
step = [p for p in policies if p["PolicyName"] == "step-scaling-policy"][0]
check("step adjustments round-trip", len(step["StepScalingPolicyConfiguration"]["StepAdjustments"]) == 2)
actions = asg_client.describe_scheduled_actions(ServiceNamespace="sagemaker", ResourceId=rid)["ScheduledActions"]
check("the daily schedule is stored", [a["Schedule"] for a in actions] == ["cron(0 8 * * ? *)"])
finish()
