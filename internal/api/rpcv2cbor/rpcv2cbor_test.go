package rpcv2cbor

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/ebbscale/ebb/internal/api/awsmodel"
)

func TestRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	body, _ := encMode.Marshal(map[string]any{
		"Namespace":  "A",
		"MetricName": "m",
		"StartTime":  cbor.Tag{Number: 1, Content: float64(at.Unix())},
		"EndTime":    cbor.Tag{Number: 1, Content: at.Unix() + 60},
		"Period":     60,
		"Statistics": []string{"Sum"},
	})
	doc, err := Decode(awsmodel.CloudWatch, "GetMetricStatistics", body)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"EndTime":1795435260,"MetricName":"m","Namespace":"A","Period":60,"StartTime":1795435200,"Statistics":["Sum"]}`
	if string(doc) != want {
		t.Fatalf("got  %s\nwant %s", doc, want)
	}
	out, err := Encode(awsmodel.CloudWatch, "GetMetricStatistics", []byte(`{"Label":"m","Datapoints":[{"Timestamp":1795435200,"Sum":2}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := decMode.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	dp := back["Datapoints"].([]any)[0].(map[any]any)
	if ts, ok := dp["Timestamp"].(time.Time); !ok || !ts.Equal(at) {
		t.Fatalf("Timestamp = %#v, want tag 1 for %v", dp["Timestamp"], at)
	}
}

func FuzzDecode(f *testing.F) {
	seed, _ := encMode.Marshal(map[string]any{"Namespace": "A", "MetricData": []any{map[string]any{"MetricName": "m", "Value": 1.5, "Timestamp": cbor.Tag{Number: 1, Content: 1.7e9}}}})
	f.Add("PutMetricData", seed)
	f.Add("ListMetrics", []byte{0xa0})
	f.Add("DescribeAlarms", []byte{0xbf, 0xff})
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		doc, err := Decode(awsmodel.CloudWatch, op, body)
		if err != nil {
			return
		}
		var v map[string]any
		if err := json.Unmarshal(doc, &v); err != nil {
			t.Fatalf("decoded to invalid JSON %q", doc)
		}
		awsmodel.CloudWatch.Clean(op, doc)
	})
}
