#!/bin/sh
# The blog's main flow with the AWS CLI against ebb: deploy the example
# model, wait for it with the CLI's own waiter, register the variant as a
# scalable target, attach the InvocationsPerInstance target tracking policy
# and read it back. Usage: EBB_ENDPOINT_URL=http://127.0.0.1:8080 examples/cli.sh
set -eu
URL="${EBB_ENDPOINT_URL:-http://127.0.0.1:8080}"
AWS="${AWS:-aws}"
export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=example-secret AWS_DEFAULT_REGION=us-east-1
aws_() { "$AWS" --endpoint-url "$URL" --output json "$@"; }
fail=0
check() { if [ "$2" = "$3" ]; then echo "ok     $1"; else echo "FAILED $1: got '$2', want '$3'"; fail=1; fi; }

name=cli-example
aws_ sagemaker create-model --model-name $name \
	--primary-container Image="ebb example-model --work-ms 1" \
	--execution-role-arn arn:aws:iam::123456789012:role/ebb-example >/dev/null
aws_ sagemaker create-endpoint-config --endpoint-config-name $name \
	--production-variants VariantName=AllTraffic,ModelName=$name,InstanceType=ml.m5.large,InitialInstanceCount=1 >/dev/null
aws_ sagemaker create-endpoint --endpoint-name $name --endpoint-config-name $name >/dev/null
aws_ sagemaker wait endpoint-in-service --endpoint-name $name
check "endpoint is InService" "$(aws_ sagemaker describe-endpoint --endpoint-name $name --query EndpointStatus --output text)" InService

resource=endpoint/$name/variant/AllTraffic
aws_ application-autoscaling register-scalable-target --service-namespace sagemaker \
	--resource-id $resource --scalable-dimension sagemaker:variant:DesiredInstanceCount \
	--min-capacity 1 --max-capacity 2 >/dev/null
aws_ application-autoscaling put-scaling-policy --policy-name Invocations-ScalingPolicy \
	--service-namespace sagemaker --resource-id $resource \
	--scalable-dimension sagemaker:variant:DesiredInstanceCount --policy-type TargetTrackingScaling \
	--target-tracking-scaling-policy-configuration \
	'{"TargetValue": 10.0, "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}, "ScaleInCooldown": 600, "ScaleOutCooldown": 300}' >/dev/null
check "policy is described" "$(aws_ application-autoscaling describe-scaling-policies --service-namespace sagemaker --resource-id $resource --query 'ScalingPolicies[0].PolicyName' --output text)" Invocations-ScalingPolicy
check "its alarms exist in CloudWatch" "$(aws_ cloudwatch describe-alarms --alarm-name-prefix TargetTracking-$resource --query 'length(MetricAlarms)' --output text)" 2
exit $fail
