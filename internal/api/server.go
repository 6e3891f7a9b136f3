package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ebbscale/ebb/internal/api/awserr"
	"github.com/ebbscale/ebb/internal/api/awsjson"
	"github.com/ebbscale/ebb/internal/api/sagemaker"
	"github.com/ebbscale/ebb/internal/api/sigv4"
	"github.com/ebbscale/ebb/internal/api/smruntime"
)

// maxControlBody bounds control-plane request bodies.
const maxControlBody = 8 << 20

// Config wires the services into one handler.
type Config struct {
	SageMaker *sagemaker.Handler
	Runtime   *smruntime.Handler
	// Verifier checks SigV4 signatures; nil accepts any signature.
	Verifier *sigv4.Verifier
	Logger   *slog.Logger
}

// Handler is ebb's single AWS endpoint.
type Handler struct {
	c   Config
	mux *http.ServeMux
}

// NewHandler returns the handler for all services.
func NewHandler(c Config) *Handler {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{c: c, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /endpoints/{name}/invocations", h.invoke)
	h.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	h.mux.HandleFunc("/", h.rpc)
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-RequestId", uuid.NewString())
	if !h.c.Logger.Enabled(r.Context(), slog.LevelDebug) {
		h.mux.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	h.mux.ServeHTTP(rec, r)
	h.c.Logger.LogAttrs(context.Background(), slog.LevelDebug, "request",
		slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.String("target", r.Header.Get("X-Amz-Target")), slog.Int("status", rec.status),
		slog.Duration("took", time.Since(start)))
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

func (h *Handler) invoke(w http.ResponseWriter, r *http.Request) {
	body, release, e := smruntime.Body(r)
	defer release()
	if e == nil && h.c.Verifier != nil {
		e = h.c.Verifier.Verify(r, body)
	}
	if e != nil {
		smruntime.Fail(w, e)
		return
	}
	h.c.Runtime.Invoke(w, r, r.PathValue("name"), body)
}

// rpc serves the awsJson services, told apart by X-Amz-Target.
func (h *Handler) rpc(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	contentType := r.Header.Get("Content-Type")
	if contentType == "" {
		contentType = sagemaker.ContentType
	}
	if r.Method != http.MethodPost || target == "" {
		awsjson.WriteError(w, contentType, awserr.New("UnknownOperationException", http.StatusNotFound,
			"No AWS operation at %s %s: send SageMaker requests as POST / with X-Amz-Target, or InvokeEndpoint to /endpoints/{name}/invocations.", r.Method, r.URL.Path))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxControlBody))
	if err != nil {
		awsjson.WriteError(w, contentType, awserr.Serialization("Could not read the request body: "+err.Error()))
		return
	}
	if h.c.Verifier != nil {
		if e := h.c.Verifier.Verify(r, body); e != nil {
			awsjson.WriteError(w, contentType, e)
			return
		}
	}
	if op, ok := strings.CutPrefix(target, sagemaker.TargetPrefix); ok {
		h.c.SageMaker.Serve(w, r, op, body)
		return
	}
	awsjson.WriteError(w, contentType, awserr.UnknownOperation(target))
}
