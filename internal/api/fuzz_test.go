package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ebbscale/ebb/internal/api"
	"github.com/ebbscale/ebb/internal/api/sagemaker"
	"github.com/ebbscale/ebb/internal/api/smruntime"
	"github.com/ebbscale/ebb/internal/hosting"
	"github.com/ebbscale/ebb/internal/router"
	"github.com/ebbscale/ebb/internal/runtime"
	"github.com/ebbscale/ebb/internal/store/sqlite"
)

// noRuntime refuses to start instances: fuzzing must not spawn processes.
type noRuntime struct{}

func (noRuntime) Start(context.Context, runtime.Spec) (runtime.Instance, error) {
	return nil, errors.New("fuzzing starts no instances")
}

// Runs every feature, so that the decoders of every way of hosting are fuzzed.
func (noRuntime) Runs(runtime.Feature) bool { return true }

func newHandler(t testing.TB) *api.Handler {
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ebb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rtr := router.New(router.Options{})
	hs := hosting.New(hosting.Options{Store: st, Runtime: noRuntime{}, Routes: rtr, Region: "us-east-1", AccountID: "123456789012"})
	t.Cleanup(func() { hs.Close(context.Background()) })
	return api.NewHandler(api.Config{
		SageMaker: sagemaker.New(hs, nil),
		Runtime:   &smruntime.Handler{Router: rtr, Region: "us-east-1", AccountID: "123456789012"},
	})
}

// anyAuth is an Authorization header of SigV4's shape: a server without
// credentials admits it from loopback.
const anyAuth = "AWS4-HMAC-SHA256 Credential=AKIDTEST/20261201/us-east-1/sagemaker/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"

// FuzzAWSJSON sends arbitrary awsJson1_1 requests: every answer must be
// well-formed JSON, and a 4xx must carry an error type; nothing may panic
// or fail with a 5xx.
func FuzzAWSJSON(f *testing.F) {
	f.Add("CreateModel", []byte(`{"ModelName":"m","PrimaryContainer":{"Image":"serve"}}`))
	f.Add("CreateEndpointConfig", []byte(`{"EndpointConfigName":"c","ProductionVariants":[{"VariantName":"v","ModelName":"m","InstanceType":"ml.m5.large","InitialInstanceCount":1}]}`))
	f.Add("ListEndpoints", []byte(`{"MaxResults":5,"SortBy":"Name","NextToken":"eyJvIjoxfQ"}`))
	f.Add("UpdateEndpointWeightsAndCapacities", []byte(`{"EndpointName":"e","DesiredWeightsAndCapacities":[{"VariantName":"v","DesiredInstanceCount":0}]}`))
	f.Add("AddTags", []byte(`{"ResourceArn":"arn:aws:sagemaker:us-east-1:123456789012:model/m","Tags":[{"Key":"k","Value":"v"}]}`))
	f.Add("DescribeEndpoint", []byte(`{"EndpointName":1e400}`))
	h := newHandler(f)
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		req := httptest.NewRequest("POST", "http://127.0.0.1/", bytes.NewReader(body))
		req.Header.Set("Authorization", anyAuth)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", "SageMaker."+op)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
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

// FuzzRestJSON sends arbitrary InvokeEndpoint requests (path and headers):
// with no endpoint deployed every answer is a 400 ValidationError.
func FuzzRestJSON(f *testing.F) {
	f.Add("ep", "text/csv", "trace=1", "AllTraffic", "id-1", []byte("1,2"))
	f.Add("bad_name", "", "", "", "", []byte{})
	f.Add(strings.Repeat("a", 70), "application/json", strings.Repeat("x", 2000), "v", strings.Repeat("i", 65), []byte("{}"))
	h := newHandler(f)
	f.Fuzz(func(t *testing.T, endpoint, contentType, custom, variant, inferenceID string, body []byte) {
		req, err := http.NewRequest("POST", "http://127.0.0.1/endpoints/x/invocations", bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Authorization", anyAuth)
		req.URL.RawPath = ""
		req.URL.Path = "/endpoints/" + endpoint + "/invocations"
		for k, v := range map[string]string{
			"Content-Type": contentType, "X-Amzn-SageMaker-Custom-Attributes": custom,
			"X-Amzn-SageMaker-Target-Variant": variant, "X-Amzn-SageMaker-Inference-Id": inferenceID,
		} {
			if v != "" {
				req.Header.Set(k, v)
			}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var doc map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
			t.Fatalf("answer is not JSON: %d %q", w.Code, w.Body.String())
		}
		if w.Code != 400 || doc["__type"] != "ValidationError" {
			t.Fatalf("%q: %v", endpoint, doc)
		}
	})
}
