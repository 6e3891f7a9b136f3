package api_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ebbscale/ebb/internal/api"
	"github.com/ebbscale/ebb/internal/api/smruntime"
	"github.com/ebbscale/ebb/internal/router"
)

// BenchmarkInvokePath measures the whole InvokeEndpoint path in one process:
// client, ebb's handler and router, and a trivial model server.
func BenchmarkInvokePath(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body); io.WriteString(w, "0.5\n") }))
	defer backend.Close()
	rtr := router.New(router.Options{})
	rtr.Set(router.Endpoint{Name: "ep", Variants: []router.Variant{{Name: "v", Weight: 1, Instances: []router.Instance{{ID: "i", Addr: strings.TrimPrefix(backend.URL, "http://")}}}}})
	h := api.NewHandler(api.Config{Runtime: &smruntime.Handler{Router: rtr, Region: "us-east-1", AccountID: "123456789012"}})
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", srv.URL+"/endpoints/ep/invocations", bytes.NewReader([]byte("1,2,3")))
			req.Header.Set("Content-Type", "text/csv")
			req.Header.Set("Authorization", anyAuth)
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}
