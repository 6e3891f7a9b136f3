package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

func TestAlarmsAllProtocols(t *testing.T) {
	s := startServer(t, t.TempDir())
	ctx := context.Background()
	for proto, cw := range s.cloudWatchClients() {
		t.Run(proto, func(t *testing.T) {
			name := "cpu-high-" + proto
			dims := []types.Dimension{{Name: aws.String("Host"), Value: aws.String(proto)}}
			_, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{
				AlarmName: aws.String(name), Namespace: aws.String("App"), MetricName: aws.String("CPU"), Dimensions: dims,
				Statistic: types.StatisticAverage, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(3), DatapointsToAlarm: aws.Int32(2),
				Threshold: aws.Float64(70), ComparisonOperator: types.ComparisonOperatorGreaterThanThreshold,
				TreatMissingData: aws.String("notBreaching"), AlarmActions: []string{"arn:aws:sns:us-east-1:123456789012:ops"},
				Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("ml")}},
			})
			if err != nil {
				t.Fatalf("PutMetricAlarm: %v", err)
			}
			out, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{name}})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.MetricAlarms) != 1 {
				t.Fatalf("DescribeAlarms = %+v", out.MetricAlarms)
			}
			a := out.MetricAlarms[0]
			if a.StateValue != types.StateValueInsufficientData || aws.ToString(a.StateReason) != "Unchecked: Initial alarm creation" ||
				aws.ToString(a.AlarmArn) != "arn:aws:cloudwatch:us-east-1:123456789012:alarm:"+name || *a.Threshold != 70 ||
				*a.DatapointsToAlarm != 2 || !aws.ToBool(a.ActionsEnabled) || a.AlarmConfigurationUpdatedTimestamp == nil {
				t.Fatalf("alarm = %+v", a)
			}
			if _, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String(name), StateValue: types.StateValueAlarm, StateReason: aws.String("drill")}); err != nil {
				t.Fatal(err)
			}
			byState, _ := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{StateValue: types.StateValueAlarm, AlarmNamePrefix: aws.String("cpu-high-" + proto)})
			if len(byState.MetricAlarms) != 1 || aws.ToString(byState.MetricAlarms[0].StateReason) != "drill" {
				t.Fatalf("by state: %+v", byState.MetricAlarms)
			}
			hist, err := cw.DescribeAlarmHistory(ctx, &cloudwatch.DescribeAlarmHistoryInput{AlarmName: aws.String(name)})
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[types.HistoryItemType]int{}
			for _, h := range hist.AlarmHistoryItems {
				kinds[h.HistoryItemType]++
			}
			if kinds[types.HistoryItemTypeConfigurationUpdate] != 1 || kinds[types.HistoryItemTypeStateUpdate] != 1 || kinds[types.HistoryItemTypeAction] != 1 {
				t.Fatalf("history kinds %v: %+v", kinds, hist.AlarmHistoryItems)
			}
			for _, h := range hist.AlarmHistoryItems {
				if h.HistoryItemType == types.HistoryItemTypeAction && !strings.HasPrefix(aws.ToString(h.HistorySummary), "Failed to execute action arn:aws:sns") {
					t.Errorf("undeliverable action summary %q", aws.ToString(h.HistorySummary))
				}
			}
			// A metric-math alarm, as target tracking creates them.
			if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{
				AlarmName: aws.String("math-" + proto), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(5),
				ComparisonOperator: types.ComparisonOperatorGreaterThanThreshold,
				Metrics: []types.MetricDataQuery{
					{Id: aws.String("m1"), ReturnData: aws.Bool(false), MetricStat: &types.MetricStat{
						Metric: &types.Metric{Namespace: aws.String("App"), MetricName: aws.String("CPU"), Dimensions: dims}, Period: aws.Int32(60), Stat: aws.String("Sum")}},
					{Id: aws.String("e1"), Expression: aws.String("m1 / 60"), Label: aws.String("per second"), ReturnData: aws.Bool(true)},
				},
			}); err != nil {
				t.Fatalf("metric-math alarm: %v", err)
			}
			mathAlarm, _ := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"math-" + proto}})
			if len(mathAlarm.MetricAlarms) != 1 || len(mathAlarm.MetricAlarms[0].Metrics) != 2 || aws.ToString(mathAlarm.MetricAlarms[0].Metrics[1].Expression) != "m1 / 60" {
				t.Fatalf("metric-math alarm described as %+v", mathAlarm.MetricAlarms)
			}
			_, err = cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{
				AlarmName: aws.String("bad-math"), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(5), ComparisonOperator: types.ComparisonOperatorGreaterThanThreshold,
				Metrics: []types.MetricDataQuery{{Id: aws.String("e1"), Expression: aws.String("SUM("), Period: aws.Int32(60)}},
			})
			expectCode(t, err, "ValidationError")
			cw.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{"math-" + proto}})

			forMetric, _ := cw.DescribeAlarmsForMetric(ctx, &cloudwatch.DescribeAlarmsForMetricInput{Namespace: aws.String("App"), MetricName: aws.String("CPU"), Dimensions: dims})
			if len(forMetric.MetricAlarms) != 1 {
				t.Fatalf("DescribeAlarmsForMetric = %+v", forMetric.MetricAlarms)
			}
			tags, err := cw.ListTagsForResource(ctx, &cloudwatch.ListTagsForResourceInput{ResourceARN: a.AlarmArn})
			if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Value) != "ml" {
				t.Fatalf("ListTagsForResource = %+v, %v", tags, err)
			}
			if _, err := cw.DisableAlarmActions(ctx, &cloudwatch.DisableAlarmActionsInput{AlarmNames: []string{name}}); err != nil {
				t.Fatal(err)
			}
			d, _ := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{name}})
			if aws.ToBool(d.MetricAlarms[0].ActionsEnabled) {
				t.Fatal("actions still enabled")
			}

			// Errors.
			_, err = cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("bad"), Namespace: aws.String("App"), MetricName: aws.String("CPU"),
				Statistic: types.StatisticAverage, Period: aws.Int32(45), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(1), ComparisonOperator: types.ComparisonOperatorGreaterThanThreshold})
			expectCode(t, err, "InvalidParameterValue")
			_, err = cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("bad"), Namespace: aws.String("App"), MetricName: aws.String("CPU"),
				Statistic: types.StatisticAverage, ExtendedStatistic: aws.String("p99"), Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(1), ComparisonOperator: types.ComparisonOperatorGreaterThanThreshold})
			expectCode(t, err, "InvalidParameterCombination")
			_, err = cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("nope"), StateValue: types.StateValueOk, StateReason: aws.String("x")})
			expectCode(t, err, "ResourceNotFound")

			if _, err := cw.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{name, "does-not-exist"}}); err != nil {
				t.Fatalf("DeleteAlarms: %v", err)
			}
			gone, _ := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{name}})
			if len(gone.MetricAlarms) != 0 {
				t.Fatal("alarm not deleted")
			}
		})
	}
}

// TestAlarmOnEndpointTraffic puts an alarm on an endpoint's Invocations: it
// goes to ALARM under load and back to OK when the endpoint is idle, on a
// clock running 60 times faster (a minute per second).
func TestAlarmOnEndpointTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	dir := t.TempDir()
	s := startServer(t, dir, "--time-scale", "60")
	sm, rt := s.SageMaker(), s.Runtime()
	deploy(t, sm, "busy", "ebb example-model --work-ms 1", 1)
	waitInService(t, sm, "busy")
	cw := s.cloudWatchClients()["cbor"]
	ctx := context.Background()
	if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{
		AlarmName: aws.String("busy-invocations"), Namespace: aws.String("AWS/SageMaker"), MetricName: aws.String("Invocations"),
		Dimensions: []types.Dimension{{Name: aws.String("EndpointName"), Value: aws.String("busy")}, {Name: aws.String("VariantName"), Value: aws.String("AllTraffic")}},
		Statistic:  types.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(20),
		ComparisonOperator: types.ComparisonOperatorGreaterThanThreshold,
	}); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			invoke(t, rt, "busy", "1,2")
		}
	}()
	waitAlarm(t, cw, "busy-invocations", types.StateValueAlarm)
	stop.Store(true)
	<-done
	// Idle minutes report zero invocations, so the alarm returns to OK.
	waitAlarm(t, cw, "busy-invocations", types.StateValueOk)

	// A restart keeps the alarm, its state and the metric history.
	s.Stop()
	s2 := startServer(t, dir, "--time-scale", "60")
	out, err := s2.cloudWatchClients()["cbor"].DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"busy-invocations"}})
	if err != nil || len(out.MetricAlarms) != 1 || out.MetricAlarms[0].StateValue != types.StateValueOk {
		t.Fatalf("after restart: %+v, %v", out, err)
	}
	// The scaled clock of the first server ran ahead: ask for a wide window.
	hist, _ := s2.cloudWatchClients()["cbor"].DescribeAlarmHistory(ctx, &cloudwatch.DescribeAlarmHistoryInput{
		AlarmName: aws.String("busy-invocations"), HistoryItemType: types.HistoryItemTypeStateUpdate,
		StartDate: aws.Time(time.Now().Add(-time.Hour)), EndDate: aws.Time(time.Now().Add(30 * 24 * time.Hour)),
	})
	if len(hist.AlarmHistoryItems) < 2 {
		t.Fatalf("state history after restart: %+v", hist.AlarmHistoryItems)
	}
}

func waitAlarm(t *testing.T, cw *cloudwatch.Client, name string, want types.StateValue) {
	t.Helper()
	eventually(t, 90*time.Second, fmt.Sprintf("alarm %s reaches %s", name, want), func() (bool, any) {
		out, err := cw.DescribeAlarms(context.Background(), &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{name}})
		if err != nil || len(out.MetricAlarms) != 1 {
			return false, err
		}
		return out.MetricAlarms[0].StateValue == want, out.MetricAlarms[0].StateValue
	})
}
