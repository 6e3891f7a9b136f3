"""The study guide's "Mastering Auto Scaling Metrics" snippet against ebb.

SageMakerVariantUtilization is not a predefined metric type: AWS rejects the
policy with a ValidationException naming the allowed values, and so does
ebb. The example shows that error. Changed only where it must be: the
client's endpoint_url and credentials, and the endpoint created first.
"""
import botocore.exceptions

import ebb_example as ebb
from ebb_example import check, finish

ebb.deploy("sentiment-prod", instances=2)
client = ebb.client('application-autoscaling')
# 1. Define the target (the SageMaker variant)
client.register_scalable_target(ServiceNamespace='sagemaker', ResourceId='endpoint/sentiment-prod/variant/AllTraffic', ScalableDimension='sagemaker:variant:DesiredInstanceCount', MinCapacity=2, MaxCapacity=10)
# 2. Apply the policy
try:
    client.put_scaling_policy(PolicyName='CPU-Target-50', ServiceNamespace='sagemaker', ResourceId='endpoint/sentiment-prod/variant/AllTraffic', ScalableDimension='sagemaker:variant:DesiredInstanceCount', PolicyType='TargetTrackingScaling', TargetTrackingScalingPolicyConfiguration={'TargetValue': 50.0, 'PredefinedMetricSpecification': {'PredefinedMetricType': 'SageMakerVariantUtilization'}, 'ScaleInCooldown': 300, 'ScaleOutCooldown': 60})
    check("SageMakerVariantUtilization is rejected", False)
except botocore.exceptions.ClientError as e:
    err = e.response['Error']
    print(err['Code'] + ": " + err['Message'])
    check("SageMakerVariantUtilization is rejected with ValidationException",
          err['Code'] == 'ValidationException' and 'SageMakerVariantInvocationsPerInstance' in err['Message'])

policies = client.describe_scaling_policies(ServiceNamespace='sagemaker', ResourceId='endpoint/sentiment-prod/variant/AllTraffic')
check("the rejected policy changed nothing", policies['ScalingPolicies'] == [])
finish()
