package api_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/api"
	"github.com/ebbscale/ebb/internal/api/cloudwatch"
	"github.com/ebbscale/ebb/internal/clock"
	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/monitor"
	"github.com/ebbscale/ebb/internal/store/sqlite"
)

// BenchmarkPutMetricData measures ingestion through the CloudWatch API
// (awsJson 1.0), persistence to SQLite included: 20 datums of 5 values per
// call, across 20 series.
func BenchmarkPutMetricData(b *testing.B) {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "ebb.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ms, _ := metrics.Open(st)
	clk := clock.Real{}
	mon, _ := monitor.New(context.Background(), monitor.Options{Store: st, Metrics: ms, Clock: clk})
	h := api.NewHandler(api.Config{CloudWatch: cloudwatch.New(ms, mon, st, clk)})
	var datums []string
	for i := range 20 {
		datums = append(datums, fmt.Sprintf(`{"MetricName":"Latency","Dimensions":[{"Name":"Host","Value":"h%d"}],"Values":[1,2,3,4,5],"Unit":"Milliseconds"}`, i))
	}
	body := []byte(`{"Namespace":"Bench","MetricData":[` + strings.Join(datums, ",") + `]}`)
	start := time.Now()
	for b.Loop() {
		req := httptest.NewRequest("POST", "http://127.0.0.1/", bytes.NewReader(body))
		req.Header.Set("Authorization", anyAuth)
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		req.Header.Set("X-Amz-Target", "GraniteServiceVersion20100801.PutMetricData")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	b.ReportMetric(float64(b.N*20*5)/time.Since(start).Seconds(), "datapoints/s")
}
