package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ebbscale/ebb/internal/api/autoscaling"
	"github.com/ebbscale/ebb/internal/api/awserr"
	"github.com/ebbscale/ebb/internal/api/awsjson"
	"github.com/ebbscale/ebb/internal/api/cloudwatch"
	"github.com/ebbscale/ebb/internal/api/sagemaker"
	"github.com/ebbscale/ebb/internal/api/sigv4"
	"github.com/ebbscale/ebb/internal/api/smruntime"
)

// maxControlBody bounds control-plane request bodies.
const maxControlBody = 8 << 20

// Config wires the services into one handler.
type Config struct {
	SageMaker   *sagemaker.Handler
	Runtime     *smruntime.Handler
	CloudWatch  *cloudwatch.Handler
	Autoscaling *autoscaling.Handler
	// Objects serves the S3-compatible subset (PUT, GET, HEAD, DELETE on
	// /bucket/key); nil serves nothing there.
	Objects http.Handler
	// Metrics serves GET /metrics (Prometheus); nil serves nothing there.
	Metrics http.Handler
	// Verifier checks SigV4 signatures; nil accepts any signature.
	Verifier *sigv4.Verifier
	Logger   *slog.Logger
}

// Handler is ebb's single AWS endpoint.
type Handler struct {
	c Config
}

// NewHandler returns the handler for all services.
func NewHandler(c Config) *Handler {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{c: c}
}

// route tells the services apart. It is written out rather than left to
// http.ServeMux, which would clean paths and answer with redirects no AWS
// client expects.
func (h *Handler) route(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		if rest, ok := strings.CutPrefix(r.URL.Path, "/endpoints/"); ok {
			if name, ok := strings.CutSuffix(rest, "/invocations"); ok {
				h.invoke(w, r, name)
				return
			}
			if name, ok := strings.CutSuffix(rest, "/async-invocations"); ok {
				h.invokeAsync(w, r, name)
				return
			}
		}
	}
	if r.Method == http.MethodPost {
		if op, ok := strings.CutPrefix(r.URL.Path, cloudwatch.CBORPathPrefix); ok {
			h.cloudwatch(w, r, cloudwatch.CBOR, op)
			return
		}
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			h.cloudwatch(w, r, cloudwatch.Query, "")
			return
		}
		if op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), cloudwatch.TargetPrefix); ok {
			h.cloudwatch(w, r, cloudwatch.JSON, op)
			return
		}
	}
	if r.Method == http.MethodGet && r.URL.Path == "/metrics" && h.c.Metrics != nil {
		h.c.Metrics.ServeHTTP(w, r)
		return
	}
	if r.Method == http.MethodGet && r.URL.Path == "/healthz" {
		io.WriteString(w, "ok\n")
		return
	}
	if h.c.Objects != nil && (r.Method == http.MethodPut || r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodDelete) {
		if h.c.Verifier != nil {
			if e := h.c.Verifier.Verify(r, nil); e != nil {
				awsjson.WriteError(w, "application/json", e)
				return
			}
		}
		h.c.Objects.ServeHTTP(w, r)
		return
	}
	h.rpc(w, r)
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header()["X-Amzn-Requestid"] = []string{requestID()}
	if !h.c.Logger.Enabled(r.Context(), slog.LevelDebug) {
		h.route(w, r)
		return
	}
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	h.route(rec, r)
	h.c.Logger.LogAttrs(context.Background(), slog.LevelDebug, "request",
		slog.String("method", r.Method), slog.String("path", r.URL.Path),
		slog.String("target", r.Header.Get("X-Amz-Target")), slog.Int("status", rec.status),
		slog.Duration("took", time.Since(start)))
}

// requestID returns a unique id in UUID form: a random prefix chosen at
// start and a counter, far cheaper than a random UUID per request.
func requestID() string {
	n := requestSeq.Add(1)
	var b [36]byte
	hex.Encode(b[0:8], requestPrefix[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], requestPrefix[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], requestPrefix[6:8])
	b[18] = '-'
	var c [8]byte
	binary.BigEndian.PutUint64(c[:], n)
	hex.Encode(b[19:23], c[0:2])
	b[23] = '-'
	hex.Encode(b[24:36], c[2:8])
	return string(b[:])
}

var (
	requestSeq    atomic.Uint64
	requestPrefix = func() (p [8]byte) { rand.Read(p[:]); return p }()
)

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

func (h *Handler) invoke(w http.ResponseWriter, r *http.Request, endpoint string) {
	received := time.Now()
	body, release, e := smruntime.Body(r)
	defer release()
	if e == nil && h.c.Verifier != nil {
		e = h.c.Verifier.Verify(r, body)
	}
	if e != nil {
		smruntime.Fail(w, e)
		return
	}
	h.c.Runtime.Invoke(w, r, endpoint, body, received)
}

func (h *Handler) invokeAsync(w http.ResponseWriter, r *http.Request, endpoint string) {
	body, release, e := smruntime.Body(r)
	defer release()
	if e == nil && h.c.Verifier != nil {
		e = h.c.Verifier.Verify(r, body)
	}
	if e != nil {
		smruntime.Fail(w, e)
		return
	}
	h.c.Runtime.InvokeAsync(w, r, endpoint, body)
}

// cloudwatch reads, authenticates and decompresses a CloudWatch request in
// any of its protocols. For awsQuery the operation is the form's Action.
func (h *Handler) cloudwatch(w http.ResponseWriter, r *http.Request, proto cloudwatch.Protocol, op string) {
	if h.c.CloudWatch == nil {
		awsjson.WriteError(w, cloudwatch.JSONType, awserr.UnknownOperation("CloudWatch "+op))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxControlBody))
	if err == nil && h.c.Verifier != nil {
		if e := h.c.Verifier.Verify(r, body); e != nil {
			h.c.CloudWatch.Fail(w, proto, e)
			return
		}
	}
	if err == nil && r.Header.Get("Content-Encoding") == "gzip" {
		// PutMetricData bodies may be compressed (requestcompression trait).
		var zr *gzip.Reader
		if zr, err = gzip.NewReader(bytes.NewReader(body)); err == nil {
			body, err = io.ReadAll(io.LimitReader(zr, maxControlBody))
		}
	}
	if err != nil {
		h.c.CloudWatch.Fail(w, proto, awserr.Serialization("Could not read the request body: "+err.Error()))
		return
	}
	h.c.CloudWatch.Serve(w, r, proto, op, body)
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
	if op, ok := strings.CutPrefix(target, autoscaling.TargetPrefix); ok && h.c.Autoscaling != nil {
		h.c.Autoscaling.Serve(w, r, op, body)
		return
	}
	awsjson.WriteError(w, contentType, awserr.UnknownOperation(target))
}
