// Package smruntime serves SageMaker Runtime's InvokeEndpoint (restJson1,
// POST /endpoints/{EndpointName}/invocations) through the router.
package smruntime

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/ebbscale/ebb/internal/arn"
	"io"
	"net/http"
	"strconv"
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
// The header lists are in net/http's canonical form ("X-Amzn-Sagemaker-..."),
// so that the hot path looks them up without canonicalising each time.
var forwarded = canonical(
	"Content-Type",
	"Accept",
	"X-Amzn-SageMaker-Custom-Attributes",
	"X-Amzn-SageMaker-Target-Model",
	"X-Amzn-SageMaker-Inference-Id",
	"X-Amzn-SageMaker-Enable-Explanations",
	"X-Amzn-SageMaker-Session-Id",
)

// returned are the model's response headers SageMaker passes back.
var returned = canonical(
	"Content-Type",
	"X-Amzn-SageMaker-Custom-Attributes",
	"X-Amzn-SageMaker-New-Session-Id",
	"X-Amzn-SageMaker-Closed-Session-Id",
)

func canonical(keys ...string) []string {
	for i, k := range keys {
		keys[i] = http.CanonicalHeaderKey(k)
	}
	return keys
}

// get is Header.Get for a key already canonical.
func get(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

var (
	acceptStream  = http.CanonicalHeaderKey("X-Amzn-SageMaker-Accept")
	targetVariant = http.CanonicalHeaderKey("X-Amzn-SageMaker-Target-Variant")
	component     = http.CanonicalHeaderKey("X-Amzn-SageMaker-Inference-Component")
	targetModel   = http.CanonicalHeaderKey("X-Amzn-SageMaker-Target-Model")
	targetHost    = http.CanonicalHeaderKey("X-Amzn-SageMaker-Target-Container-Hostname")
)

// Handler serves InvokeEndpoint and InvokeEndpointAsync.
type Handler struct {
	Router    *router.Router
	Async     *asyncinv.Service // nil: async invocations are refused
	Region    string
	AccountID string
	// Fallback, if set, answers the invocations the router cannot place
	// (an endpoint, variant or instance it does not know of, a cold start):
	// a follower replica forwards them to the leader, whose table is the
	// newest and which starts capacity from zero.
	Fallback http.Handler
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
		CustomAttributes: r.Header.Get("X-Amzn-SageMaker-Custom-Attributes"),
		Body:             bytes.Clone(body), // the queue keeps it; body is the server's pooled buffer
		TTL:              seconds("X-Amzn-SageMaker-RequestTTLSeconds"), Timeout: seconds("X-Amzn-SageMaker-InvocationTimeoutSeconds"),
		Filename: r.Header.Get("X-Amzn-SageMaker-Filename"), OutputPathExtension: r.Header.Get("X-Amzn-SageMaker-S3OutputPathExtension"),
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

// TooLarge is SageMaker Runtime's answer to a body above op's limit.
func TooLarge(op string, limit int) *awserr.Error {
	return awserr.New("ValidationError", http.StatusBadRequest,
		"Request payload is too large: the limit for %s is %d bytes.", op, limit)
}

// Invoke answers one InvokeEndpoint whose body was read (and authenticated).
func (h *Handler) Invoke(w http.ResponseWriter, r *http.Request, endpoint string, body []byte, received time.Time) {
	resp, ok := h.route(w, r, "InvokeEndpoint", endpoint, body, received)
	if !ok {
		return
	}
	defer resp.Close()
	// An answer above the limit is the model's error, never passed on:
	// refused by its Content-Length, or buffered up to the limit when it
	// has none.
	answer := io.Reader(resp.Body)
	if resp.ContentLength < 0 {
		b, err := io.ReadAll(io.LimitReader(resp.Body, router.MaxPayloadBytes+1))
		if err != nil {
			h.fail(w, endpoint, h.fromError(err, endpoint))
			return
		}
		answer, resp.ContentLength = bytes.NewReader(b), int64(len(b))
	}
	if resp.ContentLength > router.MaxPayloadBytes {
		h.fail(w, endpoint, &awserr.Error{Code: "ModelError", Status: http.StatusFailedDependency,
			Message: fmt.Sprintf("Received a response from primary of %d bytes, larger than the %d bytes InvokeEndpoint may return. Make the model's answers smaller, or use asynchronous inference.", resp.ContentLength, router.MaxPayloadBytes),
			Fields:  map[string]any{"OriginalStatusCode": resp.StatusCode}})
		return
	}
	out := w.Header()
	for _, k := range returned {
		if v := resp.Header[k]; len(v) > 0 {
			out[k] = v
		}
	}
	out.Set("X-Amzn-Invoked-Production-Variant", resp.Variant)
	if resp.ContentLength >= 0 {
		out.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	w.WriteHeader(http.StatusOK)
	io.Copy(w, answer)
}

// route validates an invocation (op: its operation in the runtime model)
// and sends it to an instance with the headers the model gets; on failure
// it has answered and ok is false.
func (h *Handler) route(w http.ResponseWriter, r *http.Request, op, endpoint string, body []byte, received time.Time) (*router.Response, bool) {
	if err := awsmodel.SageMakerRuntime.ValidateREST(op, map[string]string{"EndpointName": endpoint}, r.Header); err != nil {
		h.fail(w, endpoint, awserr.New("ValidationError", http.StatusBadRequest, "%s", err.Error()))
		return nil, false
	}
	if e := notApplicable(r, endpoint); e != nil {
		h.fail(w, endpoint, e)
		return nil, false
	}
	header := make(http.Header, len(forwarded))
	for _, k := range forwarded {
		if v := r.Header[k]; len(v) > 0 {
			header[k] = v
		}
	}
	if a := get(r.Header, acceptStream); a != "" { // the streaming operation's Accept
		header["Accept"] = []string{a}
	}
	resp, err := h.Router.Invoke(r.Context(), router.Invocation{
		Endpoint:        endpoint,
		TargetVariant:   get(r.Header, targetVariant),
		Component:       get(r.Header, component),
		TargetModel:     get(r.Header, targetModel),
		TargetContainer: get(r.Header, targetHost),
		Body:            body,
		Header:          header,
		Received:        received,
	})
	if err != nil {
		if h.Fallback != nil && placeable(err) {
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
			h.Fallback.ServeHTTP(w, r)
			return nil, false
		}
		h.fail(w, endpoint, h.fromError(err, endpoint))
		return nil, false
	}
	return resp, true
}

// placeable reports the errors of a router whose table may be older than
// the leader's, that does not know a session the leader opened, or that
// leaves serverless variants to the leader: a follower hands those
// requests to the leader.
func placeable(err error) bool {
	for _, e := range []error{router.ErrEndpointNotFound, router.ErrVariantNotFound, router.ErrNoCapacity, router.ErrSessionNotFound,
		router.ErrNoComponents, router.ErrComponentNotFound, router.ErrNoCopy, router.ErrServerlessElsewhere} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

var explanations = http.CanonicalHeaderKey("X-Amzn-SageMaker-Enable-Explanations")

// notApplicable refuses the EnableExplanations header: ebb's endpoints have
// no explainer (it refuses ExplainerConfig), so the header is refused rather
// than ignored, in the words of AWS's other routing-header refusals. (The
// inference component, target model and target container headers go to the
// router, which knows what each endpoint hosts.)
func notApplicable(r *http.Request, endpoint string) *awserr.Error {
	if get(r.Header, explanations) != "" {
		return awserr.New("ValidationError", http.StatusBadRequest, "Endpoint %s does not have an explainer configured and does not support enable explanations header.", endpoint)
	}
	return nil
}

func (h *Handler) fail(w http.ResponseWriter, endpoint string, e *awserr.Error) {
	awsjson.WriteError(w, errorContentType, e)
}

// Fail answers with a runtime error (used by the server for errors found
// before Invoke, such as authentication).
func Fail(w http.ResponseWriter, e *awserr.Error) { awsjson.WriteError(w, errorContentType, e) }

// runtimeErrors is SageMaker Runtime's error table; messages name the
// endpoint and the account, as Runtime's do.
var runtimeErrors = []struct {
	kind    error
	code    string
	status  int
	message func(endpoint, account string) string
}{
	{router.ErrTimeout, "ModelError", http.StatusFailedDependency, func(string, string) string {
		return "Your invocation timed out while waiting for a response from container primary. Review the latency metrics for each container in Amazon CloudWatch, resolve the issue, and try again."
	}},
	{router.ErrEndpointNotFound, "ValidationError", http.StatusBadRequest, func(ep, acct string) string {
		return fmt.Sprintf("Endpoint %s of account %s not found.", ep, acct)
	}},
	{router.ErrVariantNotFound, "ValidationError", http.StatusBadRequest, func(ep, acct string) string {
		return fmt.Sprintf("The target variant is not part of endpoint %s of account %s.", ep, acct)
	}},
	{router.ErrColdStartBufferFull, "ServiceUnavailable", http.StatusServiceUnavailable, func(ep, _ string) string {
		return fmt.Sprintf("Endpoint %s is starting an instance and already holds as many waiting requests as it may; retry with backoff.", ep)
	}},
	{router.ErrColdStartTimeout, "ServiceUnavailable", http.StatusServiceUnavailable, func(ep, _ string) string {
		return fmt.Sprintf("Endpoint %s did not get an instance in time to serve this request; its instance is still starting, retry with backoff.", ep)
	}},
	// A serverless endpoint over its MaxConcurrency: SageMaker answers
	// ThrottlingException (which the SDKs retry with backoff) and documents
	// no message; this one says what the limit is.
	{router.ErrThrottled, "ThrottlingException", http.StatusBadRequest, func(ep, _ string) string {
		return fmt.Sprintf("Endpoint %s is serverless and serving as many invocations as its MaxConcurrency allows; retry with backoff, or raise MaxConcurrency.", ep)
	}},
	// Only without a leader to hand it to (never in a server).
	{router.ErrServerlessElsewhere, "ServiceUnavailable", http.StatusServiceUnavailable, func(ep, _ string) string {
		return fmt.Sprintf("Endpoint %s is serverless, and its invocations are served by the leader replica, which could not be reached; retry with backoff.", ep)
	}},
	// As an InvokeEndpoint body above 6 MB is answered (TooLarge).
	{router.ErrServerlessPayload, "ValidationError", http.StatusBadRequest, func(ep, _ string) string {
		return fmt.Sprintf("Request payload is too large: the limit for InvokeEndpoint on serverless endpoint %s is %d bytes.", ep, router.ServerlessMaxPayloadBytes)
	}},
	// SageMaker documents no message for this; it is a ValidationError
	// that names the operation to use instead.
	{router.ErrAsyncEndpoint, "ValidationError", http.StatusBadRequest, func(ep, acct string) string {
		return fmt.Sprintf("Endpoint %s of account %s is an asynchronous endpoint and does not support InvokeEndpoint or InvokeEndpointWithResponseStream; use InvokeEndpointAsync.", ep, acct)
	}},
	{router.ErrNoMultiModelContract, "ModelError", http.StatusFailedDependency, func(ep, _ string) string {
		return fmt.Sprintf("The container of endpoint %s does not serve SageMaker's multi-model contract: it answered POST /models with 404 or 405. A model with Mode MultiModel needs an image that loads models on request (SageMaker checks the label com.amazonaws.sagemaker.capabilities.multi-models=true at CreateModel; ebb cannot check a command line, so it says so here). Use such a server, or Mode SingleModel.", ep)
	}},
	{router.ErrSessionNotFound, "ValidationError", http.StatusBadRequest, func(ep, _ string) string {
		return fmt.Sprintf("The stateful session is not open on endpoint %s: it was never opened, the model closed it, it expired, or its instance is gone. Open one with SessionId NEW_SESSION.", ep)
	}},
	{router.ErrSessionComponents, "ValidationError", http.StatusBadRequest, func(ep, _ string) string {
		return fmt.Sprintf("ebb does not support stateful sessions (SessionId) on endpoint %s, which hosts inference components, yet; leave SessionId out.", ep)
	}},
	{router.ErrNotDirect, "ValidationError", http.StatusBadRequest, func(ep, _ string) string {
		return fmt.Sprintf("Endpoint %s is not a multi-container endpoint with direct invocation and does not support target container hostname header.", ep)
	}},
	{router.ErrContainerRequired, "ValidationError", http.StatusBadRequest, func(ep, _ string) string {
		return fmt.Sprintf("Endpoint %s is a multi-container endpoint with direct invocation: the TargetContainerHostname header is required, naming the container to invoke.", ep)
	}},
	{router.ErrContainerNotFound, "ValidationError", http.StatusBadRequest, func(ep, _ string) string {
		return fmt.Sprintf("The target container hostname is not a container of endpoint %s.", ep)
	}},
	{router.ErrNotMultiModel, "ValidationError", http.StatusBadRequest, func(ep, _ string) string {
		return fmt.Sprintf("Endpoint %s is not a multi-model endpoint and does not support target model header.", ep)
	}},
	{router.ErrTargetModelRequired, "ValidationError", http.StatusBadRequest, func(ep, _ string) string {
		return fmt.Sprintf("Endpoint %s is a multi-model endpoint: the TargetModel header is required, naming the model artifact to invoke.", ep)
	}},
	{router.ErrBadTargetModel, "ValidationError", http.StatusBadRequest, func(ep, _ string) string {
		return fmt.Sprintf("TargetModel must be a relative path under the model data prefix of endpoint %s, without . or .. segments.", ep)
	}},
	{router.ErrModelNotFound, "ValidationError", http.StatusBadRequest, func(ep, _ string) string {
		return fmt.Sprintf("Failed to download model data for endpoint %s: there is no artifact with that TargetModel under the model's ModelDataUrl. Please ensure that there is an object located at the URL.", ep)
	}},
	{router.ErrNoComponents, "ValidationError", http.StatusBadRequest, func(ep, _ string) string {
		return fmt.Sprintf("Endpoint %s does not host inference components and does not support inference component header.", ep)
	}},
	{router.ErrComponentRequired, "ValidationError", http.StatusBadRequest, func(ep, _ string) string {
		return fmt.Sprintf("Inference Component Name header is required for endpoint %s, which hosts inference components. Include the InferenceComponentName of the component to invoke.", ep)
	}},
	{router.ErrComponentNotFound, "ValidationError", http.StatusBadRequest, func(ep, acct string) string {
		return fmt.Sprintf("The inference component is not part of endpoint %s of account %s.", ep, acct)
	}},
	{router.ErrNoCopy, "ValidationError", http.StatusBadRequest, func(ep, _ string) string {
		return fmt.Sprintf("Inference component of endpoint %s has no capacity to process this request. Application Auto Scaling may be in progress (if configured), or increase the copy count with UpdateInferenceComponentRuntimeConfig.", ep)
	}},
	{router.ErrNoCapacity, "ValidationError", http.StatusBadRequest, func(ep, _ string) string {
		return fmt.Sprintf("Endpoint %s has no capacity to process this request. Application Auto Scaling may be in progress (if configured), or increase the capacity with UpdateEndpointWeightsAndCapacities.", ep)
	}},
}

// fromError maps an error of InvokeEndpoint: the model's own error with
// the fields SageMaker Runtime adds, then the table.
func (h *Handler) fromError(err error, endpoint string) *awserr.Error {
	var e *awserr.Error
	var me *router.ModelError
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, router.ErrModelArtifact):
		return awserr.New("ValidationError", http.StatusBadRequest, "%s", err.Error())
	case errors.As(err, &me):
		kind := "client"
		if me.StatusCode >= 500 {
			kind = "server"
		}
		logURL := fmt.Sprintf("https://%s.console.aws.amazon.com/cloudwatch/home?region=%s#logEventViewer:group=/aws/sagemaker/Endpoints/%s", h.Region, h.Region, endpoint)
		return &awserr.Error{
			Code:   "ModelError",
			Status: http.StatusFailedDependency,
			Message: fmt.Sprintf("Received %s error (%d) from primary with message \"%s\". See %s in account %s for more information.",
				kind, me.StatusCode, me.Body, logURL, h.AccountID),
			Fields: map[string]any{
				"OriginalStatusCode": me.StatusCode,
				"OriginalMessage":    string(me.Body),
				"LogStreamArn":       arn.New("logs", h.Region, h.AccountID, "log-group:/aws/sagemaker/Endpoints/"+endpoint),
			},
		}
	}
	for _, r := range runtimeErrors {
		if errors.Is(err, r.kind) {
			return &awserr.Error{Code: r.code, Status: r.status, Message: r.message(endpoint, h.AccountID)}
		}
	}
	return awserr.Internal(err)
}
