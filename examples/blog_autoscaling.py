"""The AWS Machine Learning Blog's "Configuring autoscaling inference
endpoints in Amazon SageMaker", snippet by snippet, against ebb.

Changed from the blog only where it must be: clients come from ebb_example
(endpoint_url, dummy credentials), the endpoint is created first, the
SageMaker SDK's get_execution_role is not needed, and
update_endpoint_weights_and_capacities is called on the SageMaker client
(the blog's snippet shows placeholder values on the wrong client).
"""
import pprint

import ebb_example as ebb
from ebb_example import check, finish, wait_until

pp = pprint.PrettyPrinter(indent=4, depth=4)
sagemaker_client = ebb.client("sagemaker")
endpoint_name = ebb.deploy("blog-example")
response = sagemaker_client.describe_endpoint(EndpointName=endpoint_name)
pp.pprint(response)

# Let us define a client to play with autoscaling options
client = ebb.client("application-autoscaling")

resource_id = 'endpoint/' + endpoint_name + '/variant/' + 'AllTraffic'

response = client.register_scalable_target(
    ServiceNamespace='sagemaker',
    ResourceId=resource_id,
    ScalableDimension='sagemaker:variant:DesiredInstanceCount',
    MinCapacity=1,
    MaxCapacity=2
)

# Example 1 - SageMakerVariantInvocationsPerInstance Metric
response = client.put_scaling_policy(
    PolicyName='Invocations-ScalingPolicy',
    ServiceNamespace='sagemaker',
    ResourceId=resource_id,
    ScalableDimension='sagemaker:variant:DesiredInstanceCount',
    PolicyType='TargetTrackingScaling',
    TargetTrackingScalingPolicyConfiguration={
        'TargetValue': 10.0,
        'PredefinedMetricSpecification': {
            'PredefinedMetricType': 'SageMakerVariantInvocationsPerInstance',
        },
        'ScaleInCooldown': 600,
        'ScaleOutCooldown': 300
    }
)
check("target tracking policy has its alarms", len(response['Alarms']) == 2)

# Example 2 - CPUUtilization metric
response = client.put_scaling_policy(
    PolicyName='CPUUtil-ScalingPolicy',
    ServiceNamespace='sagemaker',
    ResourceId=resource_id,
    ScalableDimension='sagemaker:variant:DesiredInstanceCount',
    PolicyType='TargetTrackingScaling',
    TargetTrackingScalingPolicyConfiguration={
        'TargetValue': 90.0,
        'CustomizedMetricSpecification':
        {
            'MetricName': 'CPUUtilization',
            'Namespace': '/aws/sagemaker/Endpoints',
            'Dimensions': [
                {'Name': 'EndpointName', 'Value': endpoint_name},
                {'Name': 'VariantName', 'Value': 'AllTraffic'}
            ],
            'Statistic': 'Average',
            'Unit': 'Percent'
        },
        'ScaleInCooldown': 600,
        'ScaleOutCooldown': 300
    }
)

# Example 3 - OverheadLatency metric and StepScaling Policy
response = client.put_scaling_policy(
    PolicyName='OverheadLatency-ScalingPolicy',
    ServiceNamespace='sagemaker',
    ResourceId=resource_id,
    ScalableDimension='sagemaker:variant:DesiredInstanceCount',
    PolicyType='StepScaling',
    StepScalingPolicyConfiguration={
        'AdjustmentType': 'ChangeInCapacity',
        'StepAdjustments': [
            {
                'MetricIntervalLowerBound': 0.0,
                'ScalingAdjustment': 1
            },
        ],
        'Cooldown': 120,
        'MetricAggregationType': 'Average',
    }
)
check("step scaling policy has no alarms until one is created", response['Alarms'] == [])

# Example 4 - Scaling based on a certain schedule.
response = client.put_scheduled_action(
    ServiceNamespace='sagemaker',
    Schedule='at(2020-10-07T06:20:00)',
    ScheduledActionName='ScheduledScalingTest',
    ResourceId=resource_id,
    ScalableDimension='sagemaker:variant:DesiredInstanceCount',
    ScalableTargetAction={
        'MinCapacity': 2,
        'MaxCapacity': 3
    }
)
actions = client.describe_scheduled_actions(ServiceNamespace='sagemaker', ResourceId=resource_id)
check("scheduled action is stored", [a['ScheduledActionName'] for a in actions['ScheduledActions']] == ['ScheduledScalingTest'])

# On-demand scaling
response = sagemaker_client.update_endpoint_weights_and_capacities(
    EndpointName=endpoint_name,
    DesiredWeightsAndCapacities=[
        {
            'VariantName': 'AllTraffic',
            'DesiredWeight': 1.0,
            'DesiredInstanceCount': 2
        }
    ])


def scaled_to_two():
    endpoint = sagemaker_client.describe_endpoint(EndpointName=endpoint_name)
    return endpoint['EndpointStatus'] == 'InService' and endpoint['ProductionVariants'][0].get('CurrentInstanceCount') == 2


wait_until("on-demand scaling runs 2 instances", scaled_to_two)

# Retrieving your scaling activity log
response = client.describe_scaling_policies(
    ServiceNamespace='sagemaker'
)

for i in response['ScalingPolicies']:
    print('')
    pp.pprint(i['PolicyName'])
    print('')
    if ('TargetTrackingScalingPolicyConfiguration' in i):
        pp.pprint(i['TargetTrackingScalingPolicyConfiguration'])
    else:
        pp.pprint(i['StepScalingPolicyConfiguration'])
    print('')

names = sorted(p['PolicyName'] for p in response['ScalingPolicies'] if p['ResourceId'] == resource_id)
check("all three policies are described", names == ['CPUUtil-ScalingPolicy', 'Invocations-ScalingPolicy', 'OverheadLatency-ScalingPolicy'])
cw = ebb.client('cloudwatch')
alarms = [a['AlarmName'] for a in cw.describe_alarms(AlarmNamePrefix='TargetTracking-' + resource_id)['MetricAlarms']]
check("CloudWatch holds the 4 target tracking alarms", len(alarms) == 4)
finish()
