package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
)

// BenchmarkRollback measures, in real time on the process runtime, how
// long after its rollback alarm goes into ALARM a bad canary's traffic is
// all back on the old fleet (the alarm's state change to the endpoint's
// rollback), and the share of requests that failed: at most the canary's
// share while the alarm needed to fire. The alarm is a 10-second
// high-resolution one on the new fleet's 5XX errors.
//
//	go test -run x -bench Rollback -benchtime 1x ./e2e
func BenchmarkRollback(b *testing.B) {
	for range b.N {
		s := startServer(b, b.TempDir())
		sm, rt, cw := s.SageMaker(), s.Runtime(), s.cloudWatchClients()["cbor"]
		ctx := context.Background()
		deploy(b, sm, "rb", "ebb example-model --work-ms 2", 4)
		waitInService(b, sm, "rb")
		createConfig(b, sm, "rb-bad", "rb-bad", "ebb example-model --error-rate 1", 4)
		if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("rb-bad-errors"), Namespace: aws.String("AWS/SageMaker"),
			MetricName: aws.String("Invocation5XXErrors"), Dimensions: []cwtypes.Dimension{{Name: aws.String("EndpointName"), Value: aws.String("rb")},
				{Name: aws.String("VariantName"), Value: aws.String("AllTraffic")}, {Name: aws.String("EndpointConfigName"), Value: aws.String("rb-bad")}},
			Statistic: cwtypes.StatisticSum, Period: aws.Int32(10), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(0),
			ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold, TreatMissingData: aws.String("notBreaching")}); err != nil {
			b.Fatal(err)
		}
		stop := traffic(rt, "rb", 4)
		if _, err := sm.UpdateEndpoint(ctx, &sagemaker.UpdateEndpointInput{EndpointName: aws.String("rb"), EndpointConfigName: aws.String("rb-bad"),
			DeploymentConfig: blueGreen(types.TrafficRoutingConfig{Type: types.TrafficRoutingConfigTypeCanary, WaitIntervalInSeconds: aws.Int32(600),
				CanarySize: &types.CapacitySize{Type: types.CapacitySizeTypeCapacityPercent, Value: aws.Int32(25)}}, 0, "rb-bad-errors")}); err != nil {
			b.Fatal(err)
		}
		var rolled *sagemaker.DescribeEndpointOutput
		eventually(b, 2*time.Minute, "the rollback", func() (bool, any) {
			o, err := sm.DescribeEndpoint(ctx, &sagemaker.DescribeEndpointInput{EndpointName: aws.String("rb")})
			rolled = o
			return err == nil && o.EndpointStatus == types.EndpointStatusInService && strings.HasPrefix(aws.ToString(o.FailureReason), "Rolled back"), o
		})
		ok, failed, _ := stop()
		hist, err := cw.DescribeAlarmHistory(ctx, &cloudwatch.DescribeAlarmHistoryInput{AlarmName: aws.String("rb-bad-errors"), HistoryItemType: cwtypes.HistoryItemTypeStateUpdate})
		if err != nil {
			b.Fatal(err)
		}
		var alarmAt time.Time
		for _, h := range hist.AlarmHistoryItems {
			if strings.Contains(aws.ToString(h.HistorySummary), "to ALARM") {
				alarmAt = aws.ToTime(h.Timestamp)
			}
		}
		if alarmAt.IsZero() {
			b.Fatalf("no ALARM in the alarm's history: %+v", hist.AlarmHistoryItems)
		}
		b.ReportMetric(float64(aws.ToTime(rolled.LastModifiedTime).Sub(alarmAt).Milliseconds()), "ms/rollback-after-alarm")
		b.ReportMetric(100*float64(failed)/float64(ok+failed), "%failed")
	}
}
