package awsmodel

//go:generate go run gen.go -model ../../../../shared/aws-models/sagemaker/2017-07-24/service-2.json -o sagemaker.json CreateModel DescribeModel ListModels DeleteModel CreateEndpointConfig DescribeEndpointConfig ListEndpointConfigs DeleteEndpointConfig CreateEndpoint DescribeEndpoint ListEndpoints UpdateEndpoint UpdateEndpointWeightsAndCapacities DeleteEndpoint AddTags ListTags DeleteTags
//go:generate go run gen.go -model ../../../../shared/aws-models/sagemaker-runtime/2017-05-13/service-2.json -o sagemaker-runtime.json InvokeEndpoint InvokeEndpointAsync
//go:generate go run gen.go -model ../../../../shared/aws-models/cloudwatch/2010-08-01/service-2.json -o cloudwatch.json PutMetricData GetMetricStatistics GetMetricData ListMetrics PutMetricAlarm DescribeAlarms DescribeAlarmsForMetric DeleteAlarms SetAlarmState EnableAlarmActions DisableAlarmActions DescribeAlarmHistory TagResource UntagResource ListTagsForResource
