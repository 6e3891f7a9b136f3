package api_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/ebbscale/ebb/internal/api"
	"github.com/ebbscale/ebb/internal/api/smruntime"
	"github.com/ebbscale/ebb/internal/router"
)

// streamRequest serves endpoint llm, whose one instance is model, through
// ebb's API, and returns an InvokeEndpointWithResponseStream request to it.
func streamRequest(t *testing.T, model http.Handler) *http.Request {
	m := httptest.NewServer(model)
	t.Cleanup(m.Close)
	rtr := router.New(router.Options{})
	rtr.Set(router.Endpoint{Name: "llm", Variants: []router.Variant{{Name: "AllTraffic", Weight: 1,
		Instances: []router.Instance{{ID: "i-1", Addr: strings.TrimPrefix(m.URL, "http://")}}}}})
	srv := httptest.NewServer(api.NewHandler(api.Config{Runtime: &smruntime.Handler{Router: rtr, Region: "us-east-1", AccountID: "123456789012"}}))
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/endpoints/llm/invocations-response-stream", strings.NewReader("hi"))
	req.Header.Set("Authorization", anyAuth)
	return req
}

// TestResponseStreamBroken: a model whose connection breaks in the middle
// of its answer ends the stream with a ModelStreamError event (StreamBroken)
// after the parts that did arrive, as SageMaker does.
func TestResponseStreamBroken(t *testing.T) {
	model := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "token-1 ")
		w.(http.Flusher).Flush()
		io.WriteString(w, "token-2 ")
		w.(http.Flusher).Flush()
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close() // mid-chunk: the stream is broken
		}
	})
	req := streamRequest(t, model)
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != smruntime.EventStreamType ||
		resp.Header.Get("X-Amzn-Invoked-Production-Variant") != "AllTraffic" || resp.Header.Get("X-Amzn-SageMaker-Content-Type") != "text/plain" {
		t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Header)
	}
	dec := eventstream.NewDecoder()
	var payload strings.Builder
	var last eventstream.Message
	for {
		m, err := dec.Decode(resp.Body, nil)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if m.Headers.Get(":message-type").String() == "event" {
			if m.Headers.Get(":event-type").String() != "PayloadPart" {
				t.Fatalf("event %v", m.Headers)
			}
			payload.Write(m.Payload)
		}
		last = m
	}
	if payload.String() != "token-1 token-2 " {
		t.Errorf("payload = %q", payload.String())
	}
	if last.Headers.Get(":message-type").String() != "exception" || last.Headers.Get(":exception-type").String() != "ModelStreamError" ||
		!strings.Contains(string(last.Payload), `"ErrorCode":"StreamBroken"`) {
		t.Fatalf("last message %v %s, want a ModelStreamError with StreamBroken", last.Headers, last.Payload)
	}
}

// TestResponseStreamStopsWithTheClient: a client that goes away in the
// middle of a response stream ends the model's request too (ebb closes
// its connection to the model), rather than leaving the model generating
// for nobody.
func TestResponseStreamStopsWithTheClient(t *testing.T) {
	gone := make(chan struct{})
	model := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "token-1 ")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // generating, slowly, until its client goes
		close(gone)
	})
	req := streamRequest(t, model)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eventstream.NewDecoder().Decode(resp.Body, nil); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // the client goes away after the first part
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Fatal("the model still generates 10 s after the client went away")
	}
}
