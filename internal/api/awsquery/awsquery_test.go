package awsquery

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/ebbscale/ebb/internal/api/awsmodel"
)

func TestDecode(t *testing.T) {
	form, _ := url.ParseQuery("Action=PutMetricData&Version=2010-08-01&Namespace=App" +
		"&MetricData.member.1.MetricName=Latency&MetricData.member.1.Value=1.5" +
		"&MetricData.member.1.Timestamp=2026-11-23T12%3A00%3A00Z" +
		"&MetricData.member.1.Dimensions.member.1.Name=Host&MetricData.member.1.Dimensions.member.1.Value=a" +
		"&MetricData.member.2.MetricName=Count&MetricData.member.2.Values.member.1=1&MetricData.member.2.Values.member.2=2")
	b, err := Decode(awsmodel.CloudWatch, "PutMetricData", form)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"MetricData":[{"Dimensions":[{"Name":"Host","Value":"a"}],"MetricName":"Latency","Timestamp":1795435200,"Value":1.5},{"MetricName":"Count","Values":[1,2]}],"Namespace":"App"}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	if _, err := Decode(awsmodel.CloudWatch, "PutMetricData", url.Values{"MetricData.member.1.Value": {"abc"}}); err == nil {
		t.Fatal("a non-number Value decoded")
	}
}

func TestEncode(t *testing.T) {
	b, err := Encode(awsmodel.CloudWatch, "http://ns/", "GetMetricStatistics",
		[]byte(`{"Label":"L","Datapoints":[{"Timestamp":1795435200,"Sum":3,"ExtendedStatistics":{"p99":2.5}}]}`), "req-1")
	if err != nil {
		t.Fatal(err)
	}
	want := `<GetMetricStatisticsResponse xmlns="http://ns/"><GetMetricStatisticsResult><Datapoints><member><ExtendedStatistics><entry><key>p99</key><value>2.5</value></entry></ExtendedStatistics><Sum>3</Sum><Timestamp>2026-11-23T12:00:00.000Z</Timestamp></member></Datapoints><Label>L</Label></GetMetricStatisticsResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></GetMetricStatisticsResponse>`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("PutMetricData", "Namespace=A&MetricData.member.1.MetricName=m&MetricData.member.1.Value=1")
	f.Add("GetMetricStatistics", "Namespace=A&MetricName=m&StartTime=2026-01-01T00:00:00Z&EndTime=2026-01-02T00:00:00Z&Period=60&Statistics.member.1=Sum")
	f.Add("PutMetricAlarm", "AlarmName=a&Metrics.member.1.Id=m1&Metrics.member.1.MetricStat.Metric.Dimensions.member.1.Name=x&Tags=")
	f.Fuzz(func(t *testing.T, op, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		b, err := Decode(awsmodel.CloudWatch, op, form)
		if err != nil {
			return
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("decoded to invalid JSON %q", b)
		}
		// Whatever decodes must validate without panicking.
		if _, err := awsmodel.CloudWatch.Clean(op, b); err != nil && strings.Contains(err.Error(), "panic") {
			t.Fatal(err)
		}
	})
}
