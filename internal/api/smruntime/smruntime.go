// Package smruntime serves SageMaker Runtime's InvokeEndpoint (restJson1,
// POST /endpoints/{EndpointName}/invocations) through the router.
package smruntime

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ebbscale/ebb/internal/api/awserr"
	"github.com/ebbscale/ebb/internal/api/awsjson"
	"github.com/ebbscale/ebb/internal/api/awsmodel"
	"github.com/ebbscale/ebb/internal/asyncinv"
	"github.com/ebbscale/ebb/internal/router"
)

const errorContentType = "application/json"

// forwarded are the request headers SageMaker passes to the model; it drops
// the rest (the container contract says containers must ignore unknown ones).
var forwarded = []string{
	"Content-Type",
	"Accept",
	"X-Amzn-SageMaker-Custom-Attributes",
	"X-Amzn-SageMaker-Target-Model",
	"X-Amzn-SageMaker-Inference-Id",
	"X-Amzn-SageMaker-Enable-Explanations",
	"X-Amzn-SageMaker-Session-Id",
}

// returned are the model's response headers SageMaker passes back.
var returned = []string{
	"Content-Type",
	"X-Amzn-SageMaker-Custom-Attributes",
	"X-Amzn-SageMaker-New-Session-Id",
	"X-Amzn-SageMaker-Closed-Session-Id",
}

// Handler serves InvokeEndpoint and InvokeEndpointAsync.
type Handler struct {
	Router    *router.Router
	Async     *asyncinv.Service // nil: async invocations are refused
	Region    string
	AccountID string
}

// InvokeAsync answers one InvokeEndpointAsync: 202 once the request is
// durable in the queue.
func (h *Handler) InvokeAsync(w http.ResponseWriter, r *http.Request, endpoint string, body []byte) {
	if err := awsmodel.SageMakerRuntime.ValidateREST("InvokeEndpointAsync", map[string]string{"EndpointName": endpoint}, r.Header); err != nil {
		h.fail(w, endpoint, awserr.New("ValidationError", http.StatusBadRequest, "%s", err.Error()))
		return
	}
	if h.Async == nil {
		h.fail(w, endpoint, awserr.New("ValidationError", http.StatusBadRequest, "Asynchronous inference is not enabled on this server."))
		return
	}
	seconds := func(name string) time.Duration {
		n, _ := strconv.Atoi(r.Header.Get(name))
		return time.Duration(n) * time.Second
	}
	req, err := h.Async.Invoke(r.Context(), asyncinv.Invocation{
		Endpoint: endpoint, InputLocation: r.Header.Get("X-Amzn-SageMaker-InputLocation"), InferenceID: r.Header.Get("X-Amzn-SageMaker-Inference-Id"),
		ContentType: r.Header.Get("X-Amzn-SageMaker-Content-Type"), Accept: r.Header.Get("X-Amzn-SageMaker-Accept"),
		CustomAttributes: r.Header.Get("X-Amzn-SageMaker-Custom-Attributes"), Body: body,
		TTL: seconds("X-Amzn-SageMaker-RequestTTLSeconds"), Timeout: seconds("X-Amzn-SageMaker-InvocationTimeoutSeconds"),
	})
	var ae *asyncinv.Error
	switch {
	case errors.As(err, &ae):
		h.fail(w, endpoint, awserr.New("ValidationError", http.StatusBadRequest, "%s", ae.Msg))
		return
	case err != nil:
		h.fail(w, endpoint, awserr.Internal(err))
		return
	}
	w.Header().Set("X-Amzn-SageMaker-OutputLocation", req.OutputLocation)
	w.Header().Set("X-Amzn-SageMaker-FailureLocation", req.FailureLocation)
	awsjson.Write(w, "application/json", http.StatusAccepted, map[string]string{"InferenceId": req.InferenceID})
}

// Body reads a request body up to the payload limit into a pooled buffer.
// It is used before authentication so the signature covers the payload.
func Body(r *http.Request) ([]byte, func(), *awserr.Error) {
	if r.ContentLength > router.MaxPayloadBytes {
		return nil, func() {}, tooLarge()
	}
	buf := pool.Get().(*[]byte)
	b := (*buf)[:0]
	release := func() {
		if cap(b) <= maxPooled {
			*buf = b[:0]
			pool.Put(buf)
		}
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if len(b) > router.MaxPayloadBytes {
			release()
			return nil, func() {}, tooLarge()
		}
		if errors.Is(err, io.EOF) {
			return b, release, nil
		}
		if err != nil {
			release()
			return nil, func() {}, awserr.New("ValidationError", http.StatusBadRequest, "Could not read the request body: %v", err)
		}
	}
}

// maxPooled keeps the occasional huge payload's buffer out of the pool.
const maxPooled = 1 << 20

var pool = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

func tooLarge() *awserr.Error {
	return awserr.New("ValidationError", http.StatusBadRequest,
		"Request payload is too large: the limit for InvokeEndpoint is %d bytes.", router.MaxPayloadBytes)
}

// Invoke answers one InvokeEndpoint whose body was read (and authenticated).
func (h *Handler) Invoke(w http.ResponseWriter, r *http.Request, endpoint string, body []byte, received time.Time) {
	if err := awsmodel.SageMakerRuntime.ValidateREST("InvokeEndpoint", map[string]string{"EndpointName": endpoint}, r.Header); err != nil {
		h.fail(w, endpoint, awserr.New("ValidationError", http.StatusBadRequest, "%s", err.Error()))
		return
	}
	header := make(http.Header, len(forwarded))
	for _, k := range forwarded {
		if v := r.Header.Values(k); len(v) > 0 {
			header[k] = v
		}
	}
	resp, err := h.Router.Invoke(r.Context(), router.Invocation{
		Endpoint:      endpoint,
		TargetVariant: r.Header.Get("X-Amzn-SageMaker-Target-Variant"),
		Body:          body,
		Header:        header,
		Received:      received,
	})
	if err != nil {
		h.fail(w, endpoint, awserr.FromRuntime(err, endpoint, h.Region, h.AccountID))
		return
	}
	defer resp.Close()
	out := w.Header()
	for _, k := range returned {
		if v := resp.Header.Values(k); len(v) > 0 {
			out[k] = v
		}
	}
	out.Set("X-Amzn-Invoked-Production-Variant", resp.Variant)
	if resp.ContentLength >= 0 {
		out.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.WriteHeader(http.StatusOK)
	io.Copy(w, resp.Body)
}

func (h *Handler) fail(w http.ResponseWriter, endpoint string, e *awserr.Error) {
	awsjson.WriteError(w, errorContentType, e)
}

// Fail answers with a runtime error (used by the server for errors found
// before Invoke, such as authentication).
func Fail(w http.ResponseWriter, e *awserr.Error) { awsjson.WriteError(w, errorContentType, e) }
