package e2e

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"
)

// expectCW checks an error's code and that its message holds part. The
// code is compared as expectCode does: awsQuery reports the query code
// (InvalidParameterValue), the JSON protocols the shape's name
// (InvalidParameterValueException).
func expectCW(t *testing.T, err error, code, part string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || !sameCode(ae.ErrorCode(), code) || !strings.Contains(ae.ErrorMessage(), part) {
		t.Errorf("got %v, want %s containing %q", err, code, part)
	}
}

// TestCloudWatchRefusesWhatAWSRefuses: in every protocol, non-finite
// values, too many datums or queries, Value with StatisticValues or Values,
// unsupported expression languages and tags of unknown alarms get AWS's
// errors; Values with StatisticValues is allowed and both are stored.
func TestCloudWatchRefusesWhatAWSRefuses(t *testing.T) {
	s := startServer(t, t.TempDir())
	ctx := context.Background()
	for proto, cw := range s.cloudWatchClients() {
		t.Run(proto, func(t *testing.T) {
			put := func(d ...types.MetricDatum) error {
				_, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("Fid/" + proto), MetricData: d})
				return err
			}
			for _, c := range []struct {
				v    float64
				text string
			}{{math.NaN(), "NaN"}, {math.Inf(1), "Infinity"}, {math.Inf(-1), "-Infinity"}} {
				expectCW(t, put(types.MetricDatum{MetricName: aws.String("m"), Value: aws.Float64(c.v)}), "InvalidParameterValue",
					"The value "+c.text+" for parameter MetricData.member.1.Value is invalid.")
			}
			expectCW(t, put(types.MetricDatum{MetricName: aws.String("m"), Values: []float64{1, math.NaN()}}), "InvalidParameterValue",
				"The value NaN for parameter MetricData.member.1.Values.member.2 is invalid.")
			many := make([]types.MetricDatum, 1001)
			for i := range many {
				many[i] = types.MetricDatum{MetricName: aws.String("m"), Value: aws.Float64(1)}
			}
			expectCW(t, put(many...), "InvalidParameterValue", "The collection MetricData must not have a size greater than 1000.")
			// A namespace that is not UTF-8 is refused, not stored mangled
			// (the SDK's JSON encoder itself sends U+FFFD instead).
			_, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("Fid/\xff" + proto), MetricData: []types.MetricDatum{{MetricName: aws.String("m"), Value: aws.Float64(1)}}})
			if proto != "awsjson" {
				expectCW(t, err, "SerializationException", "UTF-8")
			}
			set := &types.StatisticSet{SampleCount: aws.Float64(2), Sum: aws.Float64(10), Minimum: aws.Float64(4), Maximum: aws.Float64(6)}
			expectCW(t, put(types.MetricDatum{MetricName: aws.String("m"), Value: aws.Float64(1), StatisticValues: set}), "InvalidParameterCombination",
				"The parameters MetricData.member.1.Value and MetricData.member.1.StatisticValues are mutually exclusive and you have specified both.")
			expectCW(t, put(types.MetricDatum{MetricName: aws.String("m"), Value: aws.Float64(1), Values: []float64{1}}), "InvalidParameterCombination",
				"The parameters MetricData.member.1.Value and MetricData.member.1.Values are mutually exclusive and you have specified both.")
			if err := put(types.MetricDatum{MetricName: aws.String("both"), Values: []float64{1, 2}, StatisticValues: set}); err != nil {
				t.Fatalf("Values with StatisticValues: %v", err)
			}
			now := time.Now()
			st, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("Fid/" + proto), MetricName: aws.String("both"),
				StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now.Add(time.Minute)), Period: aws.Int32(3600),
				Statistics: []types.Statistic{types.StatisticSampleCount, types.StatisticSum}})
			if err != nil || len(st.Datapoints) != 1 || *st.Datapoints[0].SampleCount != 4 || *st.Datapoints[0].Sum != 13 {
				t.Fatalf("Values and StatisticValues stored: %+v, %v (want SampleCount 4, Sum 13)", st, err)
			}

			q := func(id, expr string) types.MetricDataQuery {
				if expr != "" {
					return types.MetricDataQuery{Id: aws.String(id), Expression: aws.String(expr), Period: aws.Int32(60)}
				}
				return types.MetricDataQuery{Id: aws.String(id), MetricStat: &types.MetricStat{Metric: &types.Metric{Namespace: aws.String("Fid/" + proto), MetricName: aws.String("both")},
					Period: aws.Int32(60), Stat: aws.String("Sum")}}
			}
			get := func(start, end time.Time, qs ...types.MetricDataQuery) error {
				_, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{MetricDataQueries: qs, StartTime: aws.Time(start), EndTime: aws.Time(end)})
				return err
			}
			var qs []types.MetricDataQuery
			for i := range 501 {
				qs = append(qs, q("q"+strings.Repeat("x", i%3)+string(rune('a'+i%26))+time.Duration(i).String()[:1], ""))
			}
			expectCW(t, get(now.Add(-time.Hour), now, qs...), "ValidationError", "The collection MetricDataQueries must not have a size greater than 500.")
			expectCW(t, get(now, now, q("a", "")), "ValidationError", "The parameter StartTime must not equal parameter EndTime.")
			expectCW(t, get(now, now.Add(-time.Hour), q("a", "")), "ValidationError", "The parameter StartTime must be less than the parameter EndTime.")
			expectCW(t, get(now.Add(-time.Hour), now, q("e", `SEARCH('{Fid} MetricName="both"', 'Sum', 60)`)), "ValidationError", "SEARCH expressions are not supported")
			expectCW(t, get(now.Add(-time.Hour), now, q("e", `SELECT AVG(both) FROM Fid`)), "ValidationError", "Metrics Insights queries (SELECT ...) are not supported")

			// No composite alarms in ebb: no children, no parents (not every alarm).
			if _, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("child-" + proto), Namespace: aws.String("Fid/" + proto),
				MetricName: aws.String("both"), Statistic: types.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(1),
				ComparisonOperator: types.ComparisonOperatorGreaterThanThreshold}); err != nil {
				t.Fatal(err)
			}
			for _, in := range []*cloudwatch.DescribeAlarmsInput{{ChildrenOfAlarmName: aws.String("child-" + proto)}, {ParentsOfAlarmName: aws.String("child-" + proto)}} {
				got, err := cw.DescribeAlarms(ctx, in)
				if err != nil || len(got.MetricAlarms) != 0 || len(got.CompositeAlarms) != 0 {
					t.Errorf("DescribeAlarms %+v = %+v, %v; want nothing", in, got, err)
				}
			}
			_, err = cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{ChildrenOfAlarmName: aws.String("x"), StateValue: types.StateValueOk})
			expectCW(t, err, "InvalidParameterCombination", "If you specify ChildrenOfAlarmName, you cannot specify any other parameters")

			arn := aws.String("arn:aws:cloudwatch:us-east-1:123456789012:alarm:nope")
			_, err = cw.TagResource(ctx, &cloudwatch.TagResourceInput{ResourceARN: arn, Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}})
			expectCW(t, err, "ResourceNotFoundException", "")
			_, err = cw.ListTagsForResource(ctx, &cloudwatch.ListTagsForResourceInput{ResourceARN: arn})
			expectCW(t, err, "ResourceNotFoundException", "")

			// A token this server did not hand out.
			_, err = cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{NextToken: aws.String("garbage")})
			expectCW(t, err, "InvalidNextToken", "The service couldn't process the NextToken.")
			_, err = cw.ListMetrics(ctx, &cloudwatch.ListMetricsInput{NextToken: aws.String("garbage")})
			expectCW(t, err, "InvalidNextToken", "The service couldn't process the NextToken.")
			_, err = cw.DescribeAlarmHistory(ctx, &cloudwatch.DescribeAlarmHistoryInput{NextToken: aws.String("1")})
			expectCW(t, err, "InvalidNextToken", "The service couldn't process the NextToken.")
			_, err = cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now),
				MetricDataQueries: []types.MetricDataQuery{q("m", "")}, NextToken: aws.String("5")})
			expectCW(t, err, "InvalidNextToken", "The service couldn't process the NextToken.")

			// An action that is not an ARN, a name with a control character.
			alarm := func(name string, actions ...string) error {
				_, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String(name), Namespace: aws.String("Fid/" + proto), AlarmActions: actions,
					MetricName: aws.String("both"), Statistic: types.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(1),
					ComparisonOperator: types.ComparisonOperatorGreaterThanThreshold})
				return err
			}
			expectCW(t, alarm("bad-action-"+proto, "not-an-arn"), "ValidationError", "Invalid arn syntax: not-an-arn")
			expectCW(t, alarm("bad\x01name-"+proto), "InvalidParameterValue", "AlarmName must not contain ASCII control characters")
			if got, _ := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("bad")}); len(got.MetricAlarms) != 0 {
				t.Errorf("refused alarms were stored: %+v", got.MetricAlarms)
			}

			// The tokens it hands out page through everything.
			if err := alarm("child-" + proto); err != nil { // a second configuration update
				t.Fatal(err)
			}
			history := &cloudwatch.DescribeAlarmHistoryInput{AlarmName: aws.String("child-" + proto), HistoryItemType: types.HistoryItemTypeConfigurationUpdate}
			all, err := cw.DescribeAlarmHistory(ctx, history)
			if err != nil || len(all.AlarmHistoryItems) != 2 {
				t.Fatalf("configuration history: %+v, %v", all, err)
			}
			paged := 0
			history.MaxRecords = aws.Int32(1)
			for p := cloudwatch.NewDescribeAlarmHistoryPaginator(cw, history); p.HasMorePages(); {
				page, err := p.NextPage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				paged += len(page.AlarmHistoryItems)
			}
			if paged != 2 {
				t.Errorf("DescribeAlarmHistory one per page: %d items, want 2", paged)
			}

			// Minutes are kept 15 days: older, a one-minute period answers no
			// datapoints, as the model says, not an error.
			old, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("Fid/" + proto), MetricName: aws.String("both"),
				StartTime: aws.Time(now.Add(-16 * 24 * time.Hour)), EndTime: aws.Time(now.Add(-16*24*time.Hour + time.Hour)), Period: aws.Int32(60),
				Statistics: []types.Statistic{types.StatisticSum}})
			if err != nil || len(old.Datapoints) != 0 {
				t.Errorf("GetMetricStatistics of a minute 16 days ago: %+v, %v; want no datapoints", old, err)
			}

			// No percentiles for a period with a negative value.
			if err := put(types.MetricDatum{MetricName: aws.String("signed"), Values: []float64{-5, 10, 20}}); err != nil {
				t.Fatal(err)
			}
			signed, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("Fid/" + proto), MetricName: aws.String("signed"),
				StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now.Add(time.Minute)), Period: aws.Int32(3600), ExtendedStatistics: []string{"p50"}})
			if err != nil || len(signed.Datapoints) != 1 || len(signed.Datapoints[0].ExtendedStatistics) != 0 {
				t.Errorf("p50 of a series with a negative value: %+v, %v; want a datapoint without it", signed, err)
			}
		})
	}

	// An unknown action: Coral's text (awsQuery code InvalidAction).
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/", strings.NewReader("Action=FooBar&Version=2010-08-01"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Amz-Date", "20261202T000000Z")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261202/us-east-1/monitoring/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcd")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "<Code>InvalidAction</Code><Message>Could not find operation FooBar for version 2010-08-01</Message>") {
		t.Errorf("unknown action: %d %s", resp.StatusCode, b)
	}

	// boto3 sends NaN as it is (CBOR, boto3 1.43) or as the string NaN
	// (query, Debian's 1.26): either way the same refusal.
	py := `
import sys, boto3, botocore
cw = boto3.client("cloudwatch", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="AKIDTEST", aws_secret_access_key="secret")
try:
    cw.put_metric_data(Namespace="Boto", MetricData=[{"MetricName": "m", "Value": float("nan")}])
    print("accepted")
except botocore.exceptions.ClientError as e:
    print(e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"], e.response["Error"]["Message"])
`
	pythons := withBoto3()
	for _, python := range pythons {
		out, err := exec.Command(python, "-c", py, s.URL).CombinedOutput()
		if err != nil {
			t.Fatalf("boto3 (%s): %v\n%s", python, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != "400 InvalidParameterValue The value NaN for parameter MetricData.member.1.Value is invalid." {
			t.Errorf("boto3 (%s): %s", python, got)
		}
	}
	if len(pythons) == 0 {
		t.Log("no boto3 here; the Go SDK legs ran")
	}
}

// TestCloudWatchUnitsPerDatapoint: a unit belongs to each datapoint.
// GetMetricStatistics with a Unit reads only the points published with it
// (None: those published without one) and without one answers a datapoint
// per unit, each carrying its Unit; GetMetricData's MetricStat Unit selects
// likewise, and without one merges every unit; ListMetrics lists the metric
// once.
func TestCloudWatchUnitsPerDatapoint(t *testing.T) {
	s := startServer(t, t.TempDir())
	ctx := context.Background()
	for proto, cw := range s.cloudWatchClients() {
		t.Run(proto, func(t *testing.T) {
			ns := "Units/" + proto
			at := time.Now().Add(-10 * time.Minute).Truncate(time.Minute)
			if _, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String(ns), MetricData: []types.MetricDatum{
				{MetricName: aws.String("Latency"), Timestamp: aws.Time(at), Value: aws.Float64(10), Unit: types.StandardUnitMilliseconds},
				{MetricName: aws.String("Latency"), Timestamp: aws.Time(at.Add(time.Second)), Value: aws.Float64(2), Unit: types.StandardUnitSeconds},
				{MetricName: aws.String("Latency"), Timestamp: aws.Time(at.Add(2 * time.Second)), Value: aws.Float64(5)},
			}}); err != nil {
				t.Fatal(err)
			}
			stats := func(unit types.StandardUnit) map[types.StandardUnit]float64 {
				t.Helper()
				out, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
					Namespace: aws.String(ns), MetricName: aws.String("Latency"), Unit: unit,
					StartTime: aws.Time(at), EndTime: aws.Time(at.Add(time.Minute)), Period: aws.Int32(60),
					Statistics: []types.Statistic{types.StatisticSum},
				})
				if err != nil {
					t.Fatal(err)
				}
				got := map[types.StandardUnit]float64{}
				for _, dp := range out.Datapoints {
					if !dp.Timestamp.Equal(at) {
						t.Errorf("datapoint at %v, want %v", dp.Timestamp, at)
					}
					got[dp.Unit] = aws.ToFloat64(dp.Sum)
				}
				if len(got) != len(out.Datapoints) {
					t.Errorf("two datapoints of one unit: %+v", out.Datapoints)
				}
				return got
			}
			if got := stats(""); len(got) != 3 || got[types.StandardUnitMilliseconds] != 10 || got[types.StandardUnitSeconds] != 2 || got[types.StandardUnitNone] != 5 {
				t.Errorf("without a unit: %v", got)
			}
			if got := stats(types.StandardUnitSeconds); len(got) != 1 || got[types.StandardUnitSeconds] != 2 {
				t.Errorf("Seconds: %v", got)
			}
			if got := stats(types.StandardUnitNone); len(got) != 1 || got[types.StandardUnitNone] != 5 {
				t.Errorf("None: %v", got)
			}
			if got := stats(types.StandardUnitCount); len(got) != 0 {
				t.Errorf("Count: %v", got)
			}
			data := func(unit string) []float64 {
				t.Helper()
				ms := &types.MetricStat{Metric: &types.Metric{Namespace: aws.String(ns), MetricName: aws.String("Latency")}, Period: aws.Int32(60), Stat: aws.String("Sum")}
				if unit != "" {
					ms.Unit = types.StandardUnit(unit)
				}
				out, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: aws.Time(at), EndTime: aws.Time(at.Add(time.Minute)),
					MetricDataQueries: []types.MetricDataQuery{{Id: aws.String("m1"), MetricStat: ms}}})
				if err != nil {
					t.Fatal(err)
				}
				return out.MetricDataResults[0].Values
			}
			if got := data("Milliseconds"); len(got) != 1 || got[0] != 10 {
				t.Errorf("GetMetricData in Milliseconds: %v", got)
			}
			if got := data(""); len(got) != 1 || got[0] != 17 {
				t.Errorf("GetMetricData without a unit: %v", got)
			}
			list, err := cw.ListMetrics(ctx, &cloudwatch.ListMetricsInput{Namespace: aws.String(ns)})
			if err != nil || len(list.Metrics) != 1 {
				t.Fatalf("ListMetrics = %+v, %v", list, err)
			}
		})
	}
}
