package examplemodel

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func metricsPage(t *testing.T, l *LLM) string {
	rec := httptest.NewRecorder()
	l.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}

func wantMetric(t *testing.T, page, line string) {
	t.Helper()
	if !strings.Contains(page, line+"\n") {
		t.Fatalf("no %q in\n%s", line, page)
	}
}

// TestLLMBatches, on synctest's clock: continuous batching. A request
// joins the batch at the next step; two run at once, each step slower for
// the second; the third waits for room.
//
//	t=0   r1 runs alone (10 ms steps); r2 and r3 wait
//	t=10  r2 joins (15 ms steps); r3 waits: the batch holds two
//	t=55  r1 has its 4 tokens; r3 joins
//	t=70  r2 has its 4; r3 runs alone, 10 ms a step, to t=100
func TestLLMBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := NewLLM(LLMConfig{MaxBatch: 2, TimePerToken: 10 * time.Millisecond, BatchSlowdown: 0.5, KVCacheTokens: 1000, ModelName: "m"})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		start := time.Now()
		var wg sync.WaitGroup
		took := make([]time.Duration, 3)
		answers := make([]string, 3)
		for i := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rec := httptest.NewRecorder()
				l.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/invocations",
					strings.NewReader(`{"inputs": "a b c", "parameters": {"max_new_tokens": 4}}`)))
				took[i], answers[i] = time.Since(start), rec.Body.String()
			}()
			synctest.Wait() // in this order
		}
		page := metricsPage(t, l)
		wantMetric(t, page, `vllm:num_requests_running{model_name="m"} 1`)
		wantMetric(t, page, `vllm:num_requests_waiting{model_name="m"} 2`)
		wantMetric(t, page, `vllm:kv_cache_usage_perc{model_name="m"} 0.003`) // r1's prompt of 3
		wantMetric(t, page, `vllm:prompt_tokens_total{model_name="m"} 9`)
		time.Sleep(30 * time.Millisecond)
		synctest.Wait()
		page = metricsPage(t, l)
		wantMetric(t, page, `vllm:num_requests_running{model_name="m"} 2`)
		wantMetric(t, page, `vllm:num_requests_waiting{model_name="m"} 1`)
		wantMetric(t, page, `vllm:kv_cache_usage_perc{model_name="m"} 0.009`) // two prompts, r1's 2 tokens and r2's 1
		wg.Wait()
		if took[0] != 55*time.Millisecond || took[1] != 70*time.Millisecond || took[2] != 100*time.Millisecond {
			t.Fatalf("took %v", took)
		}
		var out struct {
			GeneratedText string `json:"generated_text"`
			Usage         struct{ PromptTokens, CompletionTokens int }
		}
		if err := json.Unmarshal([]byte(answers[2]), &out); err != nil || len(strings.Fields(out.GeneratedText)) != 4 {
			t.Fatalf("answer %q: %v", answers[2], err)
		}
		page = metricsPage(t, l)
		wantMetric(t, page, `vllm:generation_tokens_total{model_name="m"} 12`)
		wantMetric(t, page, `vllm:request_success_total{model_name="m"} 3`)
		wantMetric(t, page, `vllm:kv_cache_usage_perc{model_name="m"} 0`)
		wantMetric(t, page, `vllm:time_to_first_token_seconds_count{model_name="m"} 3`)
	})
}

func TestLLMStreamsAndRefuses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := NewLLM(LLMConfig{MaxBatch: 4, TimePerToken: 20 * time.Millisecond, KVCacheTokens: 10})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		req := httptest.NewRequest(http.MethodPost, "/invocations", strings.NewReader(`{"prompt": "hello there", "max_tokens": 3}`))
		req.Header.Set("Accept", "text/event-stream")
		rec := httptest.NewRecorder()
		l.Handler().ServeHTTP(rec, req)
		if ct := rec.Header().Get("Content-Type"); ct != "text/event-stream" || strings.Count(rec.Body.String(), "data: ") != 3 {
			t.Fatalf("stream %s: %q", ct, rec.Body.String())
		}
		for _, body := range []string{`{"inputs": "a b c d e f g h", "parameters": {"max_new_tokens": 3}}`, `{"inputs": "a", "max_tokens": 0}`, `not json`} {
			rec := httptest.NewRecorder()
			l.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/invocations", strings.NewReader(body)))
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("%s: %d %s", body, rec.Code, rec.Body.String())
			}
		}
	})
}
