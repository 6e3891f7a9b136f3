package monitor

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/metricquery"
	"github.com/ebbscale/ebb/internal/metrics"
)

// TestPutRefuses: PutMetricAlarm's rules on a configuration, each refused
// with CloudWatch's error and words, and nothing stored.
func TestPutRefuses(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "ebb.db"))
	ok := MetricAlarm{AlarmName: "a", Namespace: "App", MetricName: "CPU", Statistic: "Maximum",
		Period: 60, EvaluationPeriods: 1, Threshold: 10, ComparisonOperator: "GreaterThanThreshold"}
	stat := func(period time.Duration) *metricquery.MetricStat {
		return &metricquery.MetricStat{Series: cpu, Period: period, Stat: "Average"}
	}
	for _, tt := range []struct {
		name string
		edit func(*MetricAlarm)
		kind InvalidKind
		want string
	}{
		{"control character in the name", func(a *MetricAlarm) { a.AlarmName = "a\tb" }, InvalidValue, "must not contain ASCII control characters"},
		{"an action that is not an ARN", func(a *MetricAlarm) { a.OKActions = []string{"sns-topic"} }, Validation, "Invalid arn syntax: sns-topic"},
		{"an anomaly band operator", func(a *MetricAlarm) { a.ComparisonOperator = "LessThanLowerThreshold" }, InvalidValue, "only valid for anomaly detection alarms"},
		{"a percentile that is not one", func(a *MetricAlarm) { a.Statistic, a.ExtendedStatistic = "", "tm90" }, InvalidValue, "parameter ExtendedStatistic is not supported"},
		{"a period of 45 s", func(a *MetricAlarm) { a.Period = 45 }, InvalidValue, "Period must be 10, 20, 30 or a multiple of 60"},
		{"a day and a minute", func(a *MetricAlarm) { a.EvaluationPeriods = 1441 }, InvalidValue, "must not exceed 86400 seconds"},
		{"an hourly week and an hour", func(a *MetricAlarm) { a.Period, a.EvaluationPeriods = 3600, 169 }, InvalidValue, "must not exceed 604800 seconds"},
		{"more datapoints than periods", func(a *MetricAlarm) { a.DatapointsToAlarm = 2 }, InvalidValue, "DatapointsToAlarm (2) must be less than or equal to EvaluationPeriods (1)"},
		{"missing data treated as zero", func(a *MetricAlarm) { a.TreatMissingData = "zero" }, InvalidValue, "parameter TreatMissingData is invalid"},
		{"low sample counts skipped", func(a *MetricAlarm) { a.EvaluateLowSampleCountPercentile = "skip" }, InvalidValue, "EvaluateLowSampleCountPercentile is invalid"},
		{"two queries return data", func(a *MetricAlarm) {
			a.Queries = []metricquery.Query{{ID: "m1", MetricStat: stat(time.Minute), ReturnData: true}, {ID: "m2", MetricStat: stat(time.Minute), ReturnData: true}}
		}, InvalidValue, "Exactly one element of the metrics list should return data"},
		{"queries at two periods", func(a *MetricAlarm) {
			a.Queries = []metricquery.Query{{ID: "m1", MetricStat: stat(time.Minute)}, {ID: "m2", MetricStat: stat(5 * time.Minute)}, {ID: "e", Expression: "m1+m2", ReturnData: true}}
		}, InvalidValue, "must use the same period"},
		{"an expression that does not parse", func(a *MetricAlarm) {
			a.Queries = []metricquery.Query{{ID: "m1", MetricStat: stat(time.Minute)}, {ID: "e", Expression: "m1 +", ReturnData: true}}
		}, Validation, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := ok
			if tt.edit(&a); len(a.Queries) > 0 {
				a.Namespace, a.MetricName, a.Statistic, a.Period = "", "", "", 0
			}
			err := f.m.Put(context.Background(), a)
			var bad *InvalidError
			if !errors.As(err, &bad) || bad.Kind != tt.kind || !strings.Contains(bad.Message, tt.want) {
				t.Fatalf("Put = %v, want a %v error saying %q", err, tt.kind, tt.want)
			}
			if _, _, found := f.m.Lookup(a.AlarmName); found {
				t.Fatal("a refused alarm was stored")
			}
		})
	}
	// Queries give an alarm without a Period theirs.
	a := ok
	a.Namespace, a.MetricName, a.Statistic, a.Period = "", "", "", 0
	a.Queries = []metricquery.Query{{ID: "m1", MetricStat: &metricquery.MetricStat{Series: metrics.Series{Namespace: "App", MetricName: "CPU"}, Period: 5 * time.Minute, Stat: "Average"}, ReturnData: true}}
	if err := f.m.Put(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := f.m.Lookup("a"); got.Period != 300 {
		t.Fatalf("Period = %d, want the queries' 300", got.Period)
	}
}
