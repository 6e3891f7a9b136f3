package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/ebbscale/ebb/internal/api"
	"github.com/ebbscale/ebb/internal/api/sigv4"
	"github.com/ebbscale/ebb/internal/api/smruntime"
	"github.com/ebbscale/ebb/internal/router"
)

// BenchmarkInvokePath measures the whole InvokeEndpoint path in one process:
// client, ebb's handler and router, and a trivial model server; Unsigned
// without credentials, Signed with --credentials (every request's SigV4
// signature verified), in the same run.
func BenchmarkInvokePath(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body); io.WriteString(w, "0.5\n") }))
	defer backend.Close()
	rtr := router.New(router.Options{})
	rtr.Set(router.Endpoint{Name: "ep", Variants: []router.Variant{{Name: "v", Weight: 1, Instances: []router.Instance{{ID: "i", Addr: strings.TrimPrefix(backend.URL, "http://")}}}}})
	body := []byte("1,2,3")
	bench := func(b *testing.B, verifier *sigv4.Verifier, header http.Header) {
		var h http.Handler = api.NewHandler(api.Config{Runtime: &smruntime.Handler{Router: rtr, Region: "us-east-1", AccountID: "123456789012"}, Verifier: verifier})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		front := api.NewFront(func() http.Handler { return h }, nil) // as ebb server serves
		go front.Serve(ln)
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100}}
		defer func() {
			b.StopTimer() // shutting down waits for the server's 100 ms tick
			client.CloseIdleConnections()
			front.Shutdown(context.Background())
		}()
		url := "http://" + ln.Addr().String() + "/endpoints/ep/invocations"
		if verifier != nil {
			header = signed(b, url, body)
		}
		b.SetParallelism(8)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
				for k, v := range header {
					req.Header[k] = v
				}
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
	b.Run("Unsigned", func(b *testing.B) {
		bench(b, nil, http.Header{"Content-Type": {"text/csv"}, "Authorization": {anyAuth}})
	})
	b.Run("Signed", func(b *testing.B) {
		v := sigv4.New(map[string]string{"AKIDBENCH": "bench-secret"})
		v.Region = "us-east-1"
		bench(b, v, nil)
	})
}

// signed returns the headers of one request signed with the AWS SDK's
// signer; the benchmark sends it again and again (within the clock skew
// SigV4 allows), so every request is verified in full.
func signed(b *testing.B, url string, body []byte) http.Header {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "text/csv")
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIDBENCH", SecretAccessKey: "bench-secret"},
		req, hash, "sagemaker", "us-east-1", time.Now()); err != nil {
		b.Fatal(err)
	}
	return req.Header
}
