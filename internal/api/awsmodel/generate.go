package awsmodel

//go:generate go run gen.go -model ../../../../shared/aws-models/sagemaker/2017-07-24/service-2.json -o sagemaker.json CreateModel DescribeModel ListModels DeleteModel CreateEndpointConfig DescribeEndpointConfig ListEndpointConfigs DeleteEndpointConfig CreateEndpoint DescribeEndpoint ListEndpoints UpdateEndpoint UpdateEndpointWeightsAndCapacities DeleteEndpoint AddTags ListTags DeleteTags
//go:generate go run gen.go -model ../../../../shared/aws-models/sagemaker-runtime/2017-05-13/service-2.json -o sagemaker-runtime.json InvokeEndpoint InvokeEndpointAsync InvokeEndpointWithResponseStream
//go:generate go run gen.go -model ../../../../shared/aws-models/cloudwatch/2010-08-01/service-2.json -o cloudwatch.json PutMetricData GetMetricStatistics GetMetricData ListMetrics PutMetricAlarm DescribeAlarms DescribeAlarmsForMetric DeleteAlarms SetAlarmState EnableAlarmActions DisableAlarmActions DescribeAlarmHistory TagResource UntagResource ListTagsForResource
//go:generate go run gen.go -model ../../../../shared/aws-models/application-autoscaling/2016-02-06/service-2.json -o application-autoscaling.json RegisterScalableTarget DeregisterScalableTarget DescribeScalableTargets PutScalingPolicy DescribeScalingPolicies DeleteScalingPolicy PutScheduledAction DescribeScheduledActions DeleteScheduledAction DescribeScalingActivities TagResource UntagResource ListTagsForResource

// CloudWatch Logs is not among ../shared/aws-models: its model comes from botocore's data directory
// (botocore 1.43.11, data/logs/2014-03-28/service-2.json.gz).
//go:generate sh -c "gzip -dc $(python3 -c 'import botocore,os;print(os.path.dirname(botocore.__file__))')/data/logs/2014-03-28/service-2.json.gz > logs-service-2.json && go run gen.go -model logs-service-2.json -o logs.json DescribeLogGroups DescribeLogStreams GetLogEvents FilterLogEvents; rm -f logs-service-2.json"
