package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/ebbscale/ebb/internal/examplemodel"
)

func runExampleModel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	port := os.Getenv("SAGEMAKER_BIND_TO_PORT")
	if port == "" {
		port = "8080"
	}
	host := os.Getenv("SAGEMAKER_BIND_TO_HOST")
	if host == "" {
		host = "127.0.0.1"
	}
	cfg := examplemodel.Config{ModelDir: os.Getenv("SM_MODEL_DIR")}
	fs := newFlags("example-model", "Serve a small neural network on the SageMaker container contract (GET /ping, POST /invocations),\ndoing real CPU work per request. Input: CSV rows or JSON {\"instances\": [[...]]}.", stderr)
	fs.StringVar(&port, "port", port, "port to listen on (default: $SAGEMAKER_BIND_TO_PORT, else 8080)")
	fs.StringVar(&host, "host", host, "address to listen on (default: $SAGEMAKER_BIND_TO_HOST, else 127.0.0.1; 0.0.0.0 in a container)")
	fs.DurationVar(&cfg.WorkPerRequest, "work", 10*time.Millisecond, "CPU time spent per request")
	workMS := fs.Float64("work-ms", -1, "CPU milliseconds per request (shorthand for --work)")
	fs.DurationVar(&cfg.WorkPerKB, "work-per-kb", 0, "extra CPU time per KiB of payload")
	fs.Float64Var(&cfg.ErrorRate, "error-rate", 0, "answer this share of invocations (0 to 1) with 500, as a broken model version does")
	fs.IntVar(&cfg.StreamTokens, "stream-tokens", 0, "stream every answer as this many tokens, as an LLM does (for InvokeEndpointWithResponseStream)")
	fs.DurationVar(&cfg.TokenDelay, "token-delay", 20*time.Millisecond, "with --stream-tokens: the time between tokens")
	fs.DurationVar(&cfg.SessionTTL, "stateful", 0, "hold stateful sessions this long: SessionId NEW_SESSION opens one, a request with the custom attribute \"close\" closes it, and a session this instance does not hold answers 400")
	startupDelay := fs.Duration("startup-delay", 0, "wait this long before serving, as a model that loads its weights does")
	fs.StringVar(&cfg.ModelDir, "model-dir", cfg.ModelDir, "directory holding model.json (default: $SM_MODEL_DIR)")
	multi := fs.Bool("multi-model", false, "serve SageMaker's multi-model contract (POST/GET/DELETE /models, POST /models/NAME/invoke) for a multi-model endpoint, instead of one model")
	logRequests := fs.Bool("log-requests", false, "log every invocation's size and custom attributes (X-Amzn-SageMaker-Custom-Attributes), as a model's own logging would")
	llm := fs.Bool("llm", false, "serve an LLM-like engine instead: tokens generated with continuous batching (--max-batch at once, the rest queued), a KV cache, streaming, and vLLM's metrics on GET /metrics")
	lc := examplemodel.LLMConfig{MaxBatch: 8, TimePerToken: 20 * time.Millisecond, BatchSlowdown: 0.05, PrefillPerToken: 100 * time.Microsecond, KVCacheTokens: 16384, MaxNewTokens: 64}
	fs.IntVar(&lc.MaxBatch, "max-batch", lc.MaxBatch, "with --llm: requests generated at once")
	fs.DurationVar(&lc.TimePerToken, "time-per-token", lc.TimePerToken, "with --llm: a decoding step's time with one request in the batch")
	fs.Float64Var(&lc.BatchSlowdown, "batch-slowdown", lc.BatchSlowdown, "with --llm: how much longer a step takes per further request in the batch, as a share of --time-per-token")
	fs.DurationVar(&lc.PrefillPerToken, "prefill-per-token", lc.PrefillPerToken, "with --llm: the time per prompt token (a prompt's tokens are its words) before a request's first token")
	fs.IntVar(&lc.KVCacheTokens, "kv-cache-tokens", lc.KVCacheTokens, "with --llm: the KV cache, in tokens: a request runs when its prompt and max_new_tokens fit beside the others'")
	fs.IntVar(&lc.MaxNewTokens, "max-new-tokens", lc.MaxNewTokens, "with --llm: the tokens generated for a request that does not say")
	memoryMiB := fs.Int("model-memory-mb", 100, "with --multi-model: memory for loaded models; a load beyond it answers 507 (each model's model.json may give \"memory_mb\", default 10)")
	// SageMaker runs a container as `docker run IMAGE serve`: the argument
	// follows the image's entrypoint (and its flags).
	if n := len(args); n > 0 && args[n-1] == "serve" {
		args = args[:n-1]
	} else if n > 0 && args[0] == "serve" {
		args = args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if *workMS >= 0 {
		cfg.WorkPerRequest = time.Duration(*workMS * float64(time.Millisecond))
	}
	if cfg.WorkPerRequest < 0 || cfg.WorkPerKB < 0 {
		return usageError{errors.New("--work and --work-per-kb must not be negative")}
	}
	if cfg.ErrorRate < 0 || cfg.ErrorRate > 1 {
		return usageError{errors.New("--error-rate must be between 0 and 1")}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if *startupDelay > 0 {
		log.Info("loading model", "startup_delay", *startupDelay)
		select {
		case <-time.After(*startupDelay):
		case <-ctx.Done():
			return nil
		}
	}
	if *llm {
		var unused []string
		fs.Visit(func(f *flag.Flag) {
			switch f.Name {
			case "work", "work-ms", "work-per-kb", "stream-tokens", "token-delay", "stateful", "multi-model", "model-memory-mb", "error-rate":
				unused = append(unused, "--"+f.Name)
			}
		})
		if len(unused) > 0 {
			return usageError{fmt.Errorf("%s: not with --llm, which generates tokens (see --time-per-token, --max-batch)", strings.Join(unused, ", "))}
		}
	}
	var handler http.Handler
	if *llm {
		engine, err := examplemodel.NewLLM(lc)
		if err != nil {
			return usageError{err}
		}
		defer engine.Close()
		handler = engine.Handler()
		log.Info("LLM engine", "config", lc.String())
	} else if *multi {
		handler = examplemodel.NewMultiModel(cfg, *memoryMiB).Handler()
	} else {
		m, err := examplemodel.New(cfg)
		if err != nil {
			return err
		}
		handler = m.Handler()
	}
	if *logRequests {
		next := handler
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/invocations" {
				log.Info("invocation", "bytes", r.ContentLength, "custom_attributes", r.Header.Get("X-Amzn-SageMaker-Custom-Attributes"))
			}
			next.ServeHTTP(w, r)
		})
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return fmt.Errorf("--port: %w", err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if *llm {
		log.Info("example model serving", "addr", ln.Addr().String(), "metrics", "/metrics")
	} else {
		log.Info("example model serving", "addr", ln.Addr().String(), "work", cfg.WorkPerRequest, "work_per_kb", cfg.WorkPerKB)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// SIGTERM: finish the requests in flight, within SageMaker's 30 s grace.
	sctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	log.Info("example model stopped")
	return err
}
