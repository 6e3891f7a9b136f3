package cwlogs

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/ebbscale/ebb/internal/logs"
)

// FuzzLogs sends arbitrary requests to each operation over a group with
// events: every answer is JSON, an error has a type, nothing panics or
// answers 5xx (bad tokens and patterns included).
func FuzzLogs(f *testing.F) {
	f.Add("DescribeLogGroups", []byte(`{"logGroupNamePrefix":"/aws","limit":1}`))
	f.Add("DescribeLogGroups", []byte(`{"nextToken":"Ii9hd3MvIg"}`))
	f.Add("DescribeLogStreams", []byte(`{"logGroupName":"/aws/sagemaker/Endpoints/ep","orderBy":"LastEventTime","descending":true,"nextToken":"MQ"}`))
	f.Add("GetLogEvents", []byte(`{"logGroupName":"/aws/sagemaker/Endpoints/ep","logStreamName":"AllTraffic/i1","nextToken":"b/2","limit":1}`))
	f.Add("GetLogEvents", []byte(`{"logGroupIdentifier":"arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/ep:*","logStreamName":"AllTraffic/i1","startTime":0,"endTime":99999999999999}`))
	f.Add("FilterLogEvents", []byte(`{"logGroupName":"/aws/sagemaker/Endpoints/ep","filterPattern":"?b -\"c d\"","limit":1,"nextToken":"eyJ0IjowLCJzIjoiIiwicSI6MH0"}`))
	dir := f.TempDir()
	store, err := logs.Open(logs.Options{Dir: filepath.Join(dir, "streams")})
	if err != nil {
		f.Fatal(err)
	}
	src := filepath.Join(dir, "i1.log")
	os.WriteFile(src, []byte("a\nb\nc d\n"), 0o644)
	store.Follow(src, logs.EndpointGroup("ep"), logs.InstanceStream("AllTraffic", "i1"), make(chan struct{}))
	store.Collect()
	h := New(store, "us-east-1", "123456789012")
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		w := httptest.NewRecorder()
		h.Serve(w, httptest.NewRequest("POST", "/", bytes.NewReader(body)), op, body)
		var doc map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
			t.Fatalf("%s %q: answer is not JSON: %q", op, body, w.Body.String())
		}
		if w.Code >= 500 {
			t.Fatalf("%s %q: %d %v", op, body, w.Code, doc)
		}
		if w.Code != 200 && (doc["__type"] == nil || w.Header().Get("X-Amzn-ErrorType") == "") {
			t.Fatalf("%s %q: error without a type: %d %v", op, body, w.Code, doc)
		}
	})
}
