package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebbscale/ebb/internal/api/autoscaling"
	"github.com/ebbscale/ebb/internal/api/awserr"
	"github.com/ebbscale/ebb/internal/api/awsjson"
	"github.com/ebbscale/ebb/internal/api/cloudwatch"
	"github.com/ebbscale/ebb/internal/api/cwlogs"
	"github.com/ebbscale/ebb/internal/api/sagemaker"
	"github.com/ebbscale/ebb/internal/api/sigv4"
	"github.com/ebbscale/ebb/internal/api/smruntime"
	"github.com/ebbscale/ebb/internal/asyncinv"
	"github.com/ebbscale/ebb/internal/objstore"
	"github.com/ebbscale/ebb/internal/router"
)

// Body limits, checked against Content-Length before a byte is read and
// again while reading. InvokeEndpoint's is SageMaker Runtime's documented
// 6 MB, an async invocation's inline body AWS's 128,000 bytes, CloudWatch's
// the 1 MB AWS documents for PutMetricData (also after gzip). AWS documents
// none for the SageMaker and Application Auto Scaling control planes; 1 MiB
// is several times the largest request their models allow.
const (
	maxControlBody    = 1 << 20
	maxCloudWatchBody = 1 << 20
)

// The answers to bodies above the limits, built once (never changed).
var (
	invokeTooLarge      = smruntime.TooLarge("InvokeEndpoint", router.MaxPayloadBytes)
	asyncTooLarge       = smruntime.TooLarge("InvokeEndpointAsync", asyncinv.MaxInlineBody)
	cloudWatchTooLarge  = tooLarge(maxCloudWatchBody, "CloudWatch")
	sageMakerTooLarge   = tooLarge(maxControlBody, "SageMaker")
	autoscalingTooLarge = tooLarge(maxControlBody, "Application Auto Scaling")
	logsTooLarge        = tooLarge(maxControlBody, "CloudWatch Logs")
)

// DefaultBodyReadTimeout is how long a client may take to send a request
// body that is read into memory (an S3 object gets one more second per MiB).
const DefaultBodyReadTimeout = 30 * time.Second

// Config wires the services into one handler.
type Config struct {
	SageMaker   *sagemaker.Handler
	Runtime     *smruntime.Handler
	CloudWatch  *cloudwatch.Handler
	Autoscaling *autoscaling.Handler
	// Logs serves CloudWatch Logs' read side over instance logs; nil
	// refuses those calls, saying where the logs are instead.
	Logs *cwlogs.Handler
	// Objects serves the S3-compatible subset (PUT, GET, HEAD, DELETE on
	// /bucket/key); nil serves nothing there.
	Objects *objstore.Store
	// Metrics serves GET /metrics (Prometheus); nil serves nothing there.
	Metrics http.Handler
	// Console serves the web console under /console/ (its own sign-in
	// with --credentials; loopback and allowed hosts only without); a
	// follower (nil, with Forward) forwards it to the leader, each live
	// page's stream until Done is closed (the replica is stopping).
	Console http.Handler
	Done    <-chan struct{}
	// Verifier checks SigV4 signatures; nil admits any signature of the
	// right shape, from loopback or allowed hosts only (see Admission).
	Verifier *sigv4.Verifier
	// Admission keeps browsers out and bounds the bytes held in memory.
	Admission *Admission
	// BodyReadTimeout bounds how long a request body may take to arrive
	// (default DefaultBodyReadTimeout), so that slow clients cannot hold
	// connections and memory indefinitely.
	BodyReadTimeout time.Duration
	Logger          *slog.Logger
	// Forward, if set, receives every AWS API call once it is admitted and
	// its signature verified, with its body (a follower replica forwards
	// them to the leader); the services are then not needed, except
	// Runtime, which, if set too, serves InvokeEndpoint and its streaming
	// form on this replica.
	Forward http.Handler
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
	if c.Admission == nil {
		c.Admission = &Admission{}
	}
	if c.BodyReadTimeout <= 0 {
		c.BodyReadTimeout = DefaultBodyReadTimeout
	}
	return &Handler{c: c}
}

// call is one recognised request: the service it goes to and how that
// service reads bodies and answers errors.
type call struct {
	// service is the SigV4 signing name; "" for what is not an AWS API
	// (/healthz, /metrics), which needs no signature.
	service string
	// maxBody > 0: the body is read into memory up to this many bytes
	// before serve; 0: serve streams it (S3 objects) or there is none.
	maxBody  int64
	tooLarge *awserr.Error
	fail     func(http.ResponseWriter, *awserr.Error)
	// serve answers; its body is a pooled buffer valid only until serve
	// returns, so what keeps it (the async queue) copies it.
	serve func(http.ResponseWriter, *http.Request, []byte)
	// invoke marks the synchronous invocations, which a follower replica
	// with a Runtime routes itself rather than forwarding.
	invoke bool
}

// classify tells the services apart. It is written out rather than left to
// http.ServeMux, which would clean paths and answer with redirects no AWS
// client expects.
func (h *Handler) classify(r *http.Request) call {
	jsonFail := func(contentType string) func(http.ResponseWriter, *awserr.Error) {
		return func(w http.ResponseWriter, e *awserr.Error) { awsjson.WriteError(w, contentType, e) }
	}
	// The console's pages and its sign-in form (a form POST, which is
	// otherwise CloudWatch's query protocol at POST /).
	if (r.Method == http.MethodGet || r.Method == http.MethodPost) && (r.URL.Path == "/console" || strings.HasPrefix(r.URL.Path, "/console/")) {
		plain := func(w http.ResponseWriter, e *awserr.Error) { http.Error(w, e.Message, e.Status) }
		return call{fail: plain,
			serve: func(w http.ResponseWriter, r *http.Request, _ []byte) {
				switch {
				case h.c.Console != nil:
					h.c.Console.ServeHTTP(w, r)
				case h.c.Forward != nil: // a follower: the leader's console, its live pages streamed through
					ctx, cancel := context.WithCancel(r.Context())
					defer cancel()
					go func() {
						select {
						case <-h.c.Done:
							cancel()
						case <-ctx.Done():
						}
					}()
					h.c.Forward.ServeHTTP(w, r.WithContext(awserr.WithWriter(ctx, plain)))
				default:
					http.Error(w, "No console here.", http.StatusNotFound)
				}
			}}
	}
	if r.Method == http.MethodPost && !isS3Post(r) {
		if rest, ok := strings.CutPrefix(r.URL.Path, "/endpoints/"); ok {
			if name, ok := strings.CutSuffix(rest, "/invocations"); ok {
				received := time.Now()
				return call{service: "sagemaker", maxBody: router.MaxPayloadBytes, tooLarge: invokeTooLarge, invoke: true,
					fail: smruntime.Fail, serve: func(w http.ResponseWriter, r *http.Request, body []byte) {
						h.c.Runtime.Invoke(w, r, name, body, received)
					}}
			}
			if name, ok := strings.CutSuffix(rest, "/invocations-response-stream"); ok {
				received := time.Now()
				return call{service: "sagemaker", maxBody: router.MaxPayloadBytes, tooLarge: invokeTooLarge, invoke: true,
					fail: smruntime.Fail, serve: func(w http.ResponseWriter, r *http.Request, body []byte) {
						h.c.Runtime.InvokeStream(w, r, name, body, received)
					}}
			}
			if name, ok := strings.CutSuffix(rest, "/async-invocations"); ok {
				return call{service: "sagemaker", maxBody: asyncinv.MaxInlineBody, tooLarge: asyncTooLarge,
					fail: smruntime.Fail, serve: func(w http.ResponseWriter, r *http.Request, body []byte) {
						h.c.Runtime.InvokeAsync(w, r, name, body)
					}}
			}
		}
		proto, op, ok := cloudwatch.Protocol(0), "", false
		if op, ok = strings.CutPrefix(r.URL.Path, cloudwatch.CBORPathPrefix); ok {
			proto = cloudwatch.CBOR
		} else if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
			proto, ok = cloudwatch.Query, true
		} else if op, ok = strings.CutPrefix(r.Header.Get("X-Amz-Target"), cloudwatch.TargetPrefix); ok {
			proto = cloudwatch.JSON
		}
		if ok {
			if h.c.CloudWatch == nil && h.c.Forward == nil {
				return call{fail: jsonFail(cloudwatch.JSONType), serve: func(w http.ResponseWriter, r *http.Request, _ []byte) {
					awsjson.WriteError(w, cloudwatch.JSONType, awserr.UnknownOperation("CloudWatch "+op))
				}}
			}
			return call{service: "monitoring", maxBody: maxCloudWatchBody, tooLarge: cloudWatchTooLarge,
				fail: func(w http.ResponseWriter, e *awserr.Error) { h.c.CloudWatch.Fail(w, proto, e) },
				serve: func(w http.ResponseWriter, r *http.Request, body []byte) {
					h.cloudwatch(w, r, proto, op, body)
				}}
		}
	}
	if r.Method == http.MethodGet && r.URL.Path == "/metrics" && h.c.Metrics != nil {
		return call{fail: jsonFail("application/json"), serve: func(w http.ResponseWriter, r *http.Request, _ []byte) { h.c.Metrics.ServeHTTP(w, r) }}
	}
	if r.Method == http.MethodGet && r.URL.Path == "/healthz" {
		return call{fail: jsonFail("application/json"), serve: func(w http.ResponseWriter, _ *http.Request, _ []byte) { io.WriteString(w, "ok\n") }}
	}
	if (h.c.Objects != nil || h.c.Forward != nil) && (r.Method == http.MethodPut || r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodDelete || isS3Post(r)) {
		return call{service: "s3",
			fail: func(w http.ResponseWriter, e *awserr.Error) {
				code, ok := s3Codes[e.Code]
				if !ok {
					code = e.Code
				}
				objstore.WriteError(w, r, code, e.Status, e.Message)
			},
			serve: func(w http.ResponseWriter, r *http.Request, _ []byte) { h.c.Objects.ServeHTTP(w, r) }}
	}
	contentType := r.Header.Get("Content-Type")
	if contentType == "" {
		contentType = sagemaker.ContentType
	}
	target := r.Header.Get("X-Amz-Target")
	if r.Method != http.MethodPost || target == "" {
		return call{fail: jsonFail(contentType), serve: func(w http.ResponseWriter, r *http.Request, _ []byte) {
			awsjson.WriteError(w, contentType, awserr.New("UnknownOperationException", http.StatusNotFound,
				"No AWS operation at %s %s: send SageMaker requests as POST / with X-Amz-Target, or InvokeEndpoint to /endpoints/{name}/invocations.", r.Method, r.URL.Path))
		}}
	}
	if op, ok := strings.CutPrefix(target, sagemaker.TargetPrefix); ok {
		return call{service: "sagemaker", maxBody: maxControlBody, tooLarge: sageMakerTooLarge, fail: jsonFail(contentType),
			serve: func(w http.ResponseWriter, r *http.Request, body []byte) { h.c.SageMaker.Serve(w, r, op, body) }}
	}
	if op, ok := strings.CutPrefix(target, autoscaling.TargetPrefix); ok && (h.c.Autoscaling != nil || h.c.Forward != nil) {
		return call{service: "application-autoscaling", maxBody: maxControlBody, tooLarge: autoscalingTooLarge, fail: jsonFail(contentType),
			serve: func(w http.ResponseWriter, r *http.Request, body []byte) { h.c.Autoscaling.Serve(w, r, op, body) }}
	}
	if op, ok := strings.CutPrefix(target, cwlogs.TargetPrefix); ok {
		if h.c.Logs == nil && h.c.Forward == nil {
			return call{fail: jsonFail(contentType), serve: func(w http.ResponseWriter, _ *http.Request, _ []byte) {
				awsjson.WriteError(w, contentType, awserr.New("InvalidOperationException", http.StatusBadRequest,
					"This ebb server keeps no instance logs: its runtime does not collect them."))
			}}
		}
		return call{service: "logs", maxBody: maxControlBody, tooLarge: logsTooLarge, fail: jsonFail(contentType),
			serve: func(w http.ResponseWriter, r *http.Request, body []byte) { h.c.Logs.Serve(w, r, op, body) }}
	}
	return call{fail: jsonFail(contentType), serve: func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		awsjson.WriteError(w, contentType, awserr.UnknownOperation(target))
	}}
}

// s3Codes are S3's names for the errors ebb answers before a request
// reaches the object store.
var s3Codes = map[string]string{
	"AccessDeniedException":               "AccessDenied",
	"MissingAuthenticationTokenException": "AccessDenied",
	"InvalidSignatureException":           "SignatureDoesNotMatch",
	"UnrecognizedClientException":         "InvalidAccessKeyId",
	"IncompleteSignatureException":        "AuthorizationHeaderMalformed",
	"ThrottlingException":                 "SlowDown",
	"RequestTimeout":                      "RequestTimeout",
}

// route admits a request (origin, host, the signature's shape: all before
// the body is read), reads its body within the service's limit and the
// in-flight budget, verifies the signature over it and serves it.
func (h *Handler) route(w http.ResponseWriter, r *http.Request) {
	c := h.classify(r)
	auth, e := h.admit(r, c.service)
	if e != nil {
		c.fail(w, e)
		return
	}
	var body []byte
	if c.maxBody > 0 {
		if r.ContentLength > c.maxBody {
			c.fail(w, c.tooLarge)
			return
		}
		reserved := r.ContentLength
		if reserved < 0 {
			reserved = c.maxBody
		}
		if !h.c.Admission.reserve(reserved) {
			c.fail(w, throttled())
			return
		}
		defer h.c.Admission.release(reserved)
		b, release, e := h.readBody(w, r, c.maxBody, c.tooLarge)
		defer release()
		if e == nil && auth != nil {
			e = h.c.Verifier.Verify(r, auth, b)
		}
		if e != nil {
			c.fail(w, e)
			return
		}
		body = b
	} else if c.service != "" && r.ContentLength != 0 {
		// A streamed body (an S3 object) gets the read deadline too, one
		// second more per MiB it declares.
		d := h.c.BodyReadTimeout + 10*time.Minute
		if r.ContentLength > 0 {
			d = h.c.BodyReadTimeout + time.Duration(r.ContentLength>>20)*time.Second
		}
		http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
	}
	if c.service == "s3" && auth != nil {
		if e := h.c.Verifier.Verify(r, auth, nil); e != nil {
			c.fail(w, e)
			return
		}
		switch p := r.Header.Get("X-Amz-Content-Sha256"); {
		case strings.HasPrefix(p, "STREAMING-") && p != "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" && p != "STREAMING-UNSIGNED-PAYLOAD-TRAILER":
			c.fail(w, awserr.New("NotImplemented", http.StatusNotImplemented,
				"X-Amz-Content-Sha256: %s is not supported; send the payload's SHA-256, STREAMING-AWS4-HMAC-SHA256-PAYLOAD or STREAMING-UNSIGNED-PAYLOAD-TRAILER.", p))
			return
		}
		if verify := h.c.Verifier.ChunkVerifier(r, auth); verify != nil {
			r = r.WithContext(objstore.WithChunkVerifier(r.Context(), verify))
		}
	}
	if h.c.Forward != nil && c.service != "" && !(c.invoke && h.c.Runtime != nil) {
		// The forwarder answers its own errors in the request's protocol,
		// and may send a read body again (to the next leader).
		r = r.WithContext(awserr.WithWriter(r.Context(), c.fail))
		if body != nil {
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
			r.Body, _ = r.GetBody()
			r.ContentLength = int64(len(body))
		}
		h.c.Forward.ServeHTTP(w, r)
		return
	}
	c.serve(w, r, body)
}

// isS3Post recognises S3's POST operations (multipart uploads,
// DeleteObjects): a path below a bucket with their subresource, never an
// AWS JSON or query call (POST /) or an invocation.
func isS3Post(r *http.Request) bool {
	if r.Method != http.MethodPost || r.URL.Path == "/" || r.Header.Get("X-Amz-Target") != "" ||
		strings.HasPrefix(r.URL.Path, "/endpoints/") || strings.HasPrefix(r.URL.Path, "/service/") {
		return false
	}
	q := r.URL.Query()
	_, uploads := q["uploads"]
	_, del := q["delete"]
	return uploads || del || q.Get("uploadId") != ""
}

// admit runs every check that needs no body, once. service is "" for
// requests that are not AWS API calls. With a Verifier it returns the
// checked Authorization, whose signature Verify then checks over the body.
func (h *Handler) admit(r *http.Request, service string) (*sigv4.Authorization, *awserr.Error) {
	if e := checkOrigin(r); e != nil {
		return nil, e
	}
	if h.c.Verifier == nil {
		return nil, h.c.Admission.checkUnsigned(r, service != "")
	}
	if service == "" {
		return nil, nil
	}
	return h.c.Verifier.Check(r, service)
}

// readBody reads a body of at most limit bytes into a pooled buffer within
// the body read deadline; release returns the buffer.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request, limit int64, tooLarge *awserr.Error) ([]byte, func(), *awserr.Error) {
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Now().Add(h.c.BodyReadTimeout))
	buf := bodyPool.Get().(*[]byte)
	b := (*buf)[:0]
	release := func() {
		if cap(b) <= maxPooled {
			*buf = b[:0]
			bodyPool.Put(buf)
		}
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) > limit {
			release()
			r.Body.Close()
			return nil, func() {}, tooLarge
		}
		if errors.Is(err, io.EOF) {
			// The deadline would otherwise still hold while the request is
			// served, and net/http's background read would cancel a long
			// invocation.
			rc.SetReadDeadline(time.Time{})
			return b, release, nil
		}
		if err != nil {
			release()
			// Closed unread, the body makes net/http close the connection
			// after the answer instead of waiting to drain it.
			r.Body.Close()
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil, func() {}, awserr.New("RequestTimeout", http.StatusBadRequest,
					"Your socket connection to the server was not read from or written to within the timeout period (%s for the whole body).", h.c.BodyReadTimeout)
			}
			return nil, func() {}, awserr.Serialization("Could not read the request body: " + err.Error())
		}
	}
}

// maxPooled keeps the occasional huge payload's buffer out of the pool.
const maxPooled = 1 << 20

var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

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

// Unwrap lets http.ResponseController reach the connection (read deadlines).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// cloudwatch decompresses a CloudWatch request (PutMetricData bodies may
// be gzip-compressed: the requestcompression trait) within the same limit.
func (h *Handler) cloudwatch(w http.ResponseWriter, r *http.Request, proto cloudwatch.Protocol, op string, body []byte) {
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err == nil {
			body, err = io.ReadAll(io.LimitReader(zr, maxCloudWatchBody+1))
		}
		if err != nil {
			h.c.CloudWatch.Fail(w, proto, awserr.Serialization("Could not decompress the gzip request body: "+err.Error()))
			return
		}
		if len(body) > maxCloudWatchBody {
			h.c.CloudWatch.Fail(w, proto, tooLarge(maxCloudWatchBody, "CloudWatch (after decompression)"))
			return
		}
	}
	h.c.CloudWatch.Serve(w, r, proto, op, body)
}
