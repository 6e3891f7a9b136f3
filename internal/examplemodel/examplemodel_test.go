package examplemodel

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestInvocations(t *testing.T) {
	m, err := New(Config{WorkPerRequest: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	tests := []struct {
		name, contentType, accept, body string
		status                          int
		want                            string
	}{
		{"csv", "text/csv", "", "1,2,3\n4,5,6", 200, "\n"},
		{"json instances", "application/json", "", `{"instances":[[1,2],[3,4]]}`, 200, `"predictions":[{"score":`},
		{"json row", "application/json", "text/csv", `[1,2]`, 200, "0."},
		{"bad csv", "text/csv", "", "1,x", 400, "not a number"},
		{"empty", "text/csv", "", "", 400, "empty payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", srv.URL+"/invocations", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.contentType)
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b strings.Builder
			buf := make([]byte, 4096)
			for {
				n, err := resp.Body.Read(buf)
				b.WriteString(string(buf[:n]))
				if err != nil {
					break
				}
			}
			if resp.StatusCode != tt.status || !strings.Contains(b.String(), tt.want) {
				t.Fatalf("got %d %q, want %d containing %q", resp.StatusCode, b.String(), tt.status, tt.want)
			}
		})
	}
}

func TestPredictIsDeterministic(t *testing.T) {
	a, _ := New(Config{})
	b, _ := New(Config{})
	x, y := a.Predict([][]float64{{1, 2}}, 0), b.Predict([][]float64{{1, 2}}, 0)
	if x[0] != y[0] || x[0] <= 0 || x[0] >= 1 {
		t.Fatalf("scores %v and %v: want equal and in (0,1)", x, y)
	}
}

func BenchmarkPredict(b *testing.B) {
	m, _ := New(Config{})
	rows := [][]float64{{1, 2, 3, 4}}
	for b.Loop() {
		m.Predict(rows, 0)
	}
}

// TestErrorRate: a model with ErrorRate 1 answers every invocation 500,
// and still answers /ping (a broken version that passes health checks).
func TestErrorRate(t *testing.T) {
	m, err := New(Config{ErrorRate: 1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/invocations", "text/csv", strings.NewReader("1,2"))
	if err != nil || resp.StatusCode != 500 {
		t.Fatalf("invocation: %v %v, want 500", resp, err)
	}
	resp.Body.Close()
	if resp, err := http.Get(srv.URL + "/ping"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("ping: %v %v, want 200", resp, err)
	}
}
