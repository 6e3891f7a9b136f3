package examplemodel

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// LLMConfig configures the LLM-like model: an engine that generates
// tokens with continuous batching, as vLLM, TGI and SGLang do.
type LLMConfig struct {
	// MaxBatch is how many requests run at once; the rest wait, first
	// come first served.
	MaxBatch int
	// TimePerToken is a decoding step's time with one request running;
	// each further request in the batch adds BatchSlowdown of it (a
	// bigger batch makes more tokens a step, each step slower).
	TimePerToken  time.Duration
	BatchSlowdown float64
	// PrefillPerToken is the time a step spends per prompt token of the
	// requests it admits (their first token comes after it).
	PrefillPerToken time.Duration
	// KVCacheTokens is the KV cache: a running request holds its prompt
	// and the tokens generated so far, and a request is admitted only when
	// its prompt and its max_new_tokens fit beside the others' (so none is
	// ever preempted).
	KVCacheTokens int
	// MaxNewTokens is a request's max_new_tokens when it gives none.
	MaxNewTokens int
	ModelName    string
}

// LLM is the engine. Requests are JSON, TGI's {"inputs": "...",
// "parameters": {"max_new_tokens": N}, "stream": false} or vLLM's
// {"prompt": "...", "max_tokens": N}; a prompt's tokens are its words. It
// generates exactly max_new_tokens tokens, and answers
// {"generated_text": "...", "usage": {...}} or, when the request asks to
// stream ("stream": true, or Accept: text/event-stream), server-sent
// events of one token each, as TGI streams. GET /metrics exports vLLM's
// metric names.
type LLM struct {
	cfg     LLMConfig
	mu      sync.Mutex
	waiting []*generation
	running []*generation
	kvUsed  int // tokens held: prompts and generated
	wake    chan struct{}
	stop    chan struct{}
	reg     *prometheus.Registry
	m       llmMetrics
}

type generation struct {
	prompt, max, done int
	arrived, first    time.Time
	tokens            chan string // one per token, closed at the end
}

type llmMetrics struct {
	prompt, generated, success prometheus.Counter
	ttft, tpot, e2e            prometheus.Observer
}

// NewLLM starts the engine; it runs until Close.
func NewLLM(cfg LLMConfig) (*LLM, error) {
	switch {
	case cfg.MaxBatch < 1:
		return nil, fmt.Errorf("the batch must hold at least one request")
	case cfg.TimePerToken <= 0:
		return nil, fmt.Errorf("the time per token must be positive")
	case cfg.KVCacheTokens < 2:
		return nil, fmt.Errorf("the KV cache must hold at least two tokens")
	case cfg.BatchSlowdown < 0 || cfg.PrefillPerToken < 0:
		return nil, fmt.Errorf("the batch slowdown and the prefill time must not be negative")
	}
	if cfg.MaxNewTokens < 1 {
		cfg.MaxNewTokens = 64
	}
	if cfg.ModelName == "" {
		cfg.ModelName = "ebb-example-llm"
	}
	l := &LLM{cfg: cfg, wake: make(chan struct{}, 1), stop: make(chan struct{}), reg: prometheus.NewRegistry()}
	labels := prometheus.Labels{"model_name": cfg.ModelName}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels}, func() float64 {
			l.mu.Lock()
			defer l.mu.Unlock()
			return f()
		})
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels})
	}
	histogram := func(name, help string, buckets []float64) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, ConstLabels: labels, Buckets: buckets})
	}
	prompt, generated, success := counter("vllm:prompt_tokens_total", "Number of prefill tokens processed."),
		counter("vllm:generation_tokens_total", "Number of generation tokens processed."), counter("vllm:request_success_total", "Count of successfully processed requests.")
	ttft := histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", prometheus.ExponentialBuckets(0.01, 2, 14))
	tpot := histogram("vllm:time_per_output_token_seconds", "Histogram of time per output token in seconds.", prometheus.ExponentialBuckets(0.005, 2, 10))
	e2e := histogram("vllm:e2e_request_latency_seconds", "Histogram of end to end request latency in seconds.", prometheus.ExponentialBuckets(0.05, 2, 14))
	l.m = llmMetrics{prompt: prompt, generated: generated, success: success, ttft: ttft, tpot: tpot, e2e: e2e}
	l.reg.MustRegister(prompt, generated, success, ttft, tpot, e2e,
		gauge("vllm:num_requests_running", "Number of requests in model execution batches.", func() float64 { return float64(len(l.running)) }),
		gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", func() float64 { return float64(len(l.waiting)) }),
		gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", func() float64 { return float64(l.kvUsed) / float64(cfg.KVCacheTokens) }))
	go l.run()
	return l, nil
}

// Close stops the engine once it is idle.
func (l *LLM) Close() { close(l.stop) }

// Handler serves the SageMaker container contract and /metrics.
func (l *LLM) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /invocations", l.invoke)
	mux.Handle("GET /metrics", promhttp.HandlerFor(l.reg, promhttp.HandlerOpts{}))
	return mux
}

// stepTime is a decoding step's time with batch requests running.
func (l *LLM) stepTime(batch int) time.Duration {
	return time.Duration(float64(l.cfg.TimePerToken) * (1 + l.cfg.BatchSlowdown*float64(batch-1)))
}

// run is the engine's loop: admit what fits, run a step, hand each
// running request its token, finish those done.
func (l *LLM) run() {
	for {
		l.mu.Lock()
		var prefill time.Duration
		for len(l.waiting) > 0 && len(l.running) < l.cfg.MaxBatch && l.reserved()+l.waiting[0].prompt+l.waiting[0].max <= l.cfg.KVCacheTokens {
			g := l.waiting[0]
			l.waiting = l.waiting[1:]
			l.running = append(l.running, g)
			l.kvUsed += g.prompt
			prefill += time.Duration(g.prompt) * l.cfg.PrefillPerToken
		}
		batch := len(l.running)
		l.mu.Unlock()
		if batch == 0 {
			select {
			case <-l.wake:
			case <-l.stop:
				return
			}
			continue
		}
		time.Sleep(prefill + l.stepTime(batch))
		now := time.Now()
		l.mu.Lock()
		kept := l.running[:0]
		for _, g := range l.running {
			g.done++
			l.kvUsed++
			if g.done == 1 {
				g.first = now
				l.m.ttft.Observe(now.Sub(g.arrived).Seconds())
			}
			g.tokens <- word(g.done)
			if g.done < g.max {
				kept = append(kept, g)
				continue
			}
			close(g.tokens)
			l.kvUsed -= g.prompt + g.done
			l.m.e2e.Observe(now.Sub(g.arrived).Seconds())
			if g.max > 1 {
				l.m.tpot.Observe(now.Sub(g.first).Seconds() / float64(g.max-1))
			}
			l.m.success.Inc()
		}
		l.running = kept
		l.m.generated.Add(float64(batch))
		l.mu.Unlock()
	}
}

// reserved is the KV cache the running requests may come to hold.
// Callers hold l.mu.
func (l *LLM) reserved() int {
	n := 0
	for _, g := range l.running {
		n += g.prompt + g.max
	}
	return n
}

var vocabulary = strings.Fields("the model answers every request one token at a time while others wait in its queue for room in the batch")

func word(i int) string { return vocabulary[(i-1)%len(vocabulary)] }

type llmRequest struct {
	Inputs     string `json:"inputs"`
	Prompt     string `json:"prompt"`
	Parameters struct {
		MaxNewTokens *int `json:"max_new_tokens"`
	} `json:"parameters"`
	MaxTokens *int `json:"max_tokens"`
	Stream    bool `json:"stream"`
}

func (l *LLM) invoke(w http.ResponseWriter, r *http.Request) {
	var req llmRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 16<<20)).Decode(&req); err != nil {
		http.Error(w, `want JSON: {"inputs": "...", "parameters": {"max_new_tokens": N}} or {"prompt": "...", "max_tokens": N}: `+err.Error(), http.StatusBadRequest)
		return
	}
	prompt := max(1, len(strings.Fields(req.Inputs+" "+req.Prompt)))
	n := l.cfg.MaxNewTokens
	for _, v := range []*int{req.Parameters.MaxNewTokens, req.MaxTokens} {
		if v != nil {
			n = *v
		}
	}
	if n < 1 || prompt+n > l.cfg.KVCacheTokens {
		http.Error(w, fmt.Sprintf("the prompt's %d tokens and max_new_tokens %d must fit in the KV cache's %d tokens, with max_new_tokens at least 1", prompt, n, l.cfg.KVCacheTokens), http.StatusBadRequest)
		return
	}
	g := &generation{prompt: prompt, max: n, arrived: time.Now(), tokens: make(chan string, n)}
	l.mu.Lock()
	l.waiting = append(l.waiting, g)
	l.m.prompt.Add(float64(prompt))
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	// A client that leaves does not free the slot: the engine finishes
	// the generation, as a real one finishes its step.
	if req.Stream || strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		i := 0
		for tok := range g.tokens {
			i++
			b, _ := json.Marshal(map[string]any{"token": map[string]any{"id": i, "text": tok + " "}})
			fmt.Fprintf(w, "data: %s\n\n", b)
			if rc.Flush() != nil {
				return
			}
		}
		return
	}
	var text []string
	for tok := range g.tokens {
		text = append(text, tok)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"generated_text": strings.Join(text, " "),
		"usage": map[string]int{"prompt_tokens": prompt, "completion_tokens": n}})
}

// String says what the engine is, for its log.
func (c LLMConfig) String() string {
	return fmt.Sprintf("batch %d, %v a token (+%g%% per request in the batch), KV cache %d tokens", c.MaxBatch, c.TimePerToken, 100*c.BatchSlowdown, c.KVCacheTokens)
}
