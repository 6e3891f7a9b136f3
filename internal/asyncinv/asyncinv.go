// Package asyncinv is SageMaker asynchronous inference: InvokeEndpointAsync
// puts a request in a durable queue (committed before the 202 answer), and a
// dispatcher hands queued requests to the endpoint's instances, at most
// MaxConcurrentInvocationsPerInstance each, oldest first, writing each result
// to <S3OutputPath>/<InferenceId>.out or its failure to the failure path.
// Requests running when the server died are queued again on restart (at
// least once, same InferenceId); requests older than their TTL expire. The
// backlog metrics async endpoints publish (HasBacklogWithoutCapacity and the
// rest) come from here, so an async endpoint can scale from zero.
package asyncinv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ebbscale/ebb/internal/clock"
	"github.com/ebbscale/ebb/internal/hosting"
	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/objstore"
	"github.com/ebbscale/ebb/internal/router"
	"github.com/ebbscale/ebb/internal/store"
)

// Defaults of SageMaker async inference.
const (
	DefaultTTL                     = 6 * time.Hour
	DefaultInvocationTimeout       = 15 * time.Minute
	DefaultMaxConcurrent           = 4
	MaxInlineBody                  = 128000
	Namespace                      = "AWS/SageMaker"
	maxPayload               int64 = 1 << 30
)

// Config is an endpoint's AsyncInferenceConfig.
type Config struct {
	OutputConfig struct {
		S3OutputPath       string
		S3FailurePath      string
		NotificationConfig *struct {
			SuccessTopic, ErrorTopic   string
			IncludeInferenceResponseIn []string
		}
	}
	ClientConfig *struct {
		MaxConcurrentInvocationsPerInstance int
	}
}

// Request is one queued invocation.
type Request struct {
	InferenceID      string
	Endpoint         string
	InputLocation    string `json:",omitempty"`
	Inline           []byte `json:",omitempty"`
	ContentType      string `json:",omitempty"`
	Accept           string `json:",omitempty"`
	CustomAttributes string `json:",omitempty"`
	OutputLocation   string
	FailureLocation  string
	Received         time.Time
	TTL              time.Duration
	Timeout          time.Duration
	Attempts         int
	Outcome          string `json:",omitempty"` // done: Completed, Failed, Expired
	seq              int64
	running          bool
}

// Store is the queue's persistence.
type Store interface {
	store.AsyncQueue
}

// Hosting is what the dispatcher reads of endpoints.
type Hosting interface {
	DescribeEndpoint(ctx context.Context, name string) (hosting.EndpointView, error)
	RunningInstances() []hosting.RunningInstance
}

// Objects is where payloads and results are: ebb's own S3 subset or an
// external store.
type Objects interface {
	ReadAll(bucket, key string, max int64) ([]byte, error)
	PutBytes(bucket, key string, b []byte) error
}

// Options configure the Service.
type Options struct {
	Store    Store
	Hosting  Hosting
	Router   *router.Router
	Objects  Objects
	Metrics  interface{ Put([]metrics.Point) error }
	Clock    clock.Clock
	Logger   *slog.Logger
	Webhooks map[string]string // SNS topic ARN -> URL
	Region   string
}

// Service is async inference.
type Service struct {
	o Options

	mu      sync.Mutex
	queued  map[string][]*Request // by endpoint, oldest first
	running map[string]int
	stats   map[string]*endpointStats
	poke    chan struct{}
	wg      sync.WaitGroup
}

type endpointStats struct {
	processed, failures, expired, notifyFailures, downloadFailures, uploadFailures float64
	timeInBacklog, processing                                                      []float64
	variant                                                                        string
}

// New loads the open requests; running ones are queued again.
func New(ctx context.Context, o Options) (*Service, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Service{o: o, queued: map[string][]*Request{}, running: map[string]int{}, stats: map[string]*endpointStats{}, poke: make(chan struct{}, 1)}
	open, err := o.Store.OpenAsync(ctx)
	if err != nil {
		return nil, err
	}
	for _, row := range open {
		var r Request
		if err := json.Unmarshal(row.Doc, &r); err != nil {
			return nil, fmt.Errorf("stored async request: %w", err)
		}
		r.seq = row.Seq
		s.queued[r.Endpoint] = append(s.queued[r.Endpoint], &r)
	}
	if len(open) > 0 {
		o.Logger.Info("async requests resumed", "count", len(open))
	}
	return s, nil
}

// Error is an InvokeEndpointAsync error the API maps to ValidationError.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func (s *Service) config(ctx context.Context, endpoint string) (Config, error) {
	var c Config
	v, err := s.o.Hosting.DescribeEndpoint(ctx, endpoint)
	if err != nil || v.Name != endpoint {
		return c, &Error{fmt.Sprintf("Endpoint %s of account not found.", endpoint)}
	}
	if len(v.AsyncConfig) == 0 {
		return c, &Error{fmt.Sprintf("Endpoint %s is not an asynchronous inference endpoint: its configuration has no AsyncInferenceConfig.", endpoint)}
	}
	if err := json.Unmarshal(v.AsyncConfig, &c); err != nil {
		return c, err
	}
	return c, nil
}

// Invocation is an InvokeEndpointAsync request.
type Invocation struct {
	Endpoint, InputLocation, InferenceID  string
	ContentType, Accept, CustomAttributes string
	Body                                  []byte
	TTL, Timeout                          time.Duration
	// Filename names the output object (default {InferenceId}.out) and
	// OutputPathExtension is appended to the output path, as the
	// X-Amzn-SageMaker-Filename and -S3OutputPathExtension headers say.
	// The failure object keeps its place and name ({InferenceId}-error.out
	// under the failure path): the model documents both for the output only.
	Filename, OutputPathExtension string
}

// Invoke queues a request and returns it once it is durable.
func (s *Service) Invoke(ctx context.Context, in Invocation) (*Request, error) {
	c, err := s.config(ctx, in.Endpoint)
	if err != nil {
		return nil, err
	}
	if in.InputLocation == "" && len(in.Body) == 0 {
		return nil, &Error{"Either the X-Amzn-SageMaker-InputLocation header or an inline payload is required."}
	}
	if len(in.Body) > MaxInlineBody {
		return nil, &Error{fmt.Sprintf("Inline payloads are limited to %d bytes; upload larger inputs and pass their location.", MaxInlineBody)}
	}
	if in.InferenceID == "" {
		in.InferenceID = uuid.NewString()
	}
	// S3 keys are literal, but ebb keeps objects as files: an id with "."
	// or ".." path segments would name an object outside the output
	// prefix, so it is refused rather than rewritten.
	for name, v := range map[string]string{"InferenceId": in.InferenceID, "S3OutputPathExtension": in.OutputPathExtension} {
		for _, seg := range strings.Split(v, "/") {
			if seg == "." || seg == ".." {
				return nil, &Error{fmt.Sprintf("%s %q has a %q path segment; ebb keeps results under the output path and refuses values that would leave it.", name, v, seg)}
			}
		}
	}
	out := strings.TrimSuffix(c.OutputConfig.S3OutputPath, "/")
	output := out
	if ext := strings.Trim(in.OutputPathExtension, "/"); ext != "" {
		output += "/" + ext
	}
	filename := in.InferenceID + ".out"
	if in.Filename != "" {
		filename = in.Filename
	}
	fail := strings.TrimSuffix(c.OutputConfig.S3FailurePath, "/")
	if fail == "" {
		fail = out
	}
	r := &Request{
		InferenceID: in.InferenceID, Endpoint: in.Endpoint, InputLocation: in.InputLocation, Inline: in.Body,
		ContentType: in.ContentType, Accept: in.Accept, CustomAttributes: in.CustomAttributes,
		OutputLocation: output + "/" + filename, FailureLocation: fail + "/" + in.InferenceID + "-error.out",
		Received: s.o.Clock.Now(), TTL: in.TTL, Timeout: in.Timeout,
	}
	if r.TTL == 0 {
		r.TTL = DefaultTTL
	}
	if r.Timeout == 0 {
		r.Timeout = DefaultInvocationTimeout
	}
	doc, _ := json.Marshal(r)
	seq, err := s.o.Store.EnqueueAsync(ctx, r.Endpoint, doc)
	if err != nil {
		return nil, err
	}
	r.seq = seq
	s.mu.Lock()
	s.queued[r.Endpoint] = append(s.queued[r.Endpoint], r)
	s.mu.Unlock()
	select {
	case s.poke <- struct{}{}:
	default:
	}
	return r, nil
}

// Run dispatches and publishes metrics until ctx ends, then waits for the
// requests in flight.
func (s *Service) Run(ctx context.Context) {
	t := s.o.Clock.NewTicker(time.Second)
	defer t.Stop()
	defer s.wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.poke:
			s.dispatch(ctx)
		case now := <-t.C():
			s.dispatch(ctx)
			s.publish(now)
		}
	}
}

// capacity counts the healthy instances of each endpoint.
func (s *Service) capacity() map[string]int {
	out := map[string]int{}
	for _, ri := range s.o.Hosting.RunningInstances() {
		out[ri.Endpoint]++
	}
	return out
}

func (s *Service) dispatch(ctx context.Context) {
	instances := s.capacity()
	now := s.o.Clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for ep, q := range s.queued {
		// Expire what waited past its TTL.
		kept := q[:0]
		for _, r := range q {
			if now.Sub(r.Received) > r.TTL {
				s.wg.Add(1)
				go s.finish(ctx, r, "Expired", nil, fmt.Errorf("the request expired after %v in the queue", r.TTL))
				continue
			}
			kept = append(kept, r)
		}
		q = kept
		if len(q) == 0 {
			s.queued[ep] = q
			continue
		}
		c, err := s.config(ctx, ep)
		if err != nil {
			s.queued[ep] = q
			continue
		}
		per := DefaultMaxConcurrent
		if c.ClientConfig != nil && c.ClientConfig.MaxConcurrentInvocationsPerInstance > 0 {
			per = c.ClientConfig.MaxConcurrentInvocationsPerInstance
		}
		for len(q) > 0 && s.running[ep] < instances[ep]*per {
			r := q[0]
			q = q[1:]
			s.running[ep]++
			r.running = true
			r.Attempts++
			doc, _ := json.Marshal(r)
			store.Report(s.o.Logger, "async", "mark running", s.o.Store.UpdateAsync(ctx, r.seq, "running", doc))
			s.wg.Add(1)
			go s.process(ctx, r)
		}
		s.queued[ep] = q
	}
}

// process runs one request on the endpoint and stores its result.
func (s *Service) process(ctx context.Context, r *Request) {
	started := s.o.Clock.Now()
	input := r.Inline
	if r.InputLocation != "" {
		b, k, err := objstore.ParseURI(r.InputLocation)
		if err == nil {
			input, err = s.o.Objects.ReadAll(b, k, maxPayload)
		}
		if err != nil {
			s.count(r.Endpoint, func(st *endpointStats) { st.downloadFailures++ })
			s.finish(ctx, r, "Failed", nil, fmt.Errorf("could not read the input %s: %v", r.InputLocation, err))
			return
		}
	}
	header := http.Header{}
	if r.ContentType != "" {
		header.Set("Content-Type", r.ContentType)
	}
	if r.Accept != "" {
		header.Set("Accept", r.Accept)
	}
	if r.CustomAttributes != "" {
		header.Set("X-Amzn-SageMaker-Custom-Attributes", r.CustomAttributes)
	}
	ictx, cancel := context.WithTimeout(ctx, r.Timeout)
	defer cancel()
	resp, err := s.o.Router.Invoke(ictx, router.Invocation{Endpoint: r.Endpoint, Body: input, Header: header, Queued: true})
	if err != nil {
		if ctx.Err() != nil {
			s.requeue(r) // shutting down: it runs again after the restart
			return
		}
		s.finish(ctx, r, "Failed", nil, err)
		return
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPayload+1))
	resp.Close()
	if err == nil && int64(len(body)) > maxPayload {
		err = fmt.Errorf("the model's response is larger than %d bytes, the largest async result ebb keeps", maxPayload)
	}
	if err != nil {
		s.finish(ctx, r, "Failed", nil, err)
		return
	}
	s.count(r.Endpoint, func(st *endpointStats) {
		st.variant = resp.Variant
		st.timeInBacklog = append(st.timeInBacklog, float64(started.Sub(r.Received).Milliseconds()))
		st.processing = append(st.processing, float64(s.o.Clock.Now().Sub(r.Received).Milliseconds()))
	})
	s.finish(ctx, r, "Completed", body, nil)
}

func (s *Service) requeue(r *Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.running {
		s.running[r.Endpoint]--
		r.running = false
	}
	s.wg.Done()
}

// finish writes the output (or the failure) and closes the request.
func (s *Service) finish(ctx context.Context, r *Request, outcome string, output []byte, cause error) {
	defer s.wg.Done()
	location := r.OutputLocation
	payload := output
	if cause != nil {
		location = r.FailureLocation
		payload = []byte(cause.Error())
	}
	if b, k, err := objstore.ParseURI(location); err == nil {
		if err := s.o.Objects.PutBytes(b, k, payload); err != nil {
			s.o.Logger.Warn("async result not written", "inference_id", r.InferenceID, "location", location, "err", err)
			s.count(r.Endpoint, func(st *endpointStats) { st.uploadFailures++ })
		}
	}
	r.Outcome = outcome
	doc, _ := json.Marshal(r)
	if err := s.o.Store.UpdateAsync(ctx, r.seq, "done", doc); err != nil {
		s.o.Logger.Error("closing async request", "inference_id", r.InferenceID, "err", err)
	}
	s.mu.Lock()
	if r.running {
		s.running[r.Endpoint]--
		r.running = false
	}
	s.mu.Unlock()
	s.count(r.Endpoint, func(st *endpointStats) {
		switch outcome {
		case "Completed":
			st.processed++
		case "Expired":
			st.expired++
		default:
			st.failures++
		}
	})
	s.notify(ctx, r, outcome, cause)
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

func (s *Service) count(endpoint string, f func(*endpointStats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats[endpoint]
	if st == nil {
		st = &endpointStats{}
		s.stats[endpoint] = st
	}
	f(st)
}

// notify POSTs the SNS-style notification to the webhook of the topic, with
// retries and backoff; a notification that cannot be delivered is counted.
func (s *Service) notify(ctx context.Context, r *Request, outcome string, cause error) {
	c, err := s.config(ctx, r.Endpoint)
	if err != nil || c.OutputConfig.NotificationConfig == nil {
		return
	}
	topic := c.OutputConfig.NotificationConfig.SuccessTopic
	if outcome != "Completed" {
		topic = c.OutputConfig.NotificationConfig.ErrorTopic
	}
	if topic == "" {
		return
	}
	url, ok := s.o.Webhooks[topic]
	if !ok {
		s.count(r.Endpoint, func(st *endpointStats) { st.notifyFailures++ })
		return
	}
	msg := map[string]any{
		"awsRegion": s.o.Region, "eventTime": s.o.Clock.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		"receivedTime": r.Received.UTC().Format("2006-01-02T15:04:05.000Z"), "invocationStatus": outcome,
		"requestParameters":  map[string]any{"contentType": r.ContentType, "endpointName": r.Endpoint, "inputLocation": r.InputLocation},
		"responseParameters": map[string]any{"contentType": "application/json", "outputLocation": r.OutputLocation},
		"inferenceId":        r.InferenceID, "eventVersion": "1.0", "eventSource": "aws:sagemaker", "eventName": "InferenceResult",
	}
	if cause != nil {
		msg["failureReason"] = cause.Error()
		msg["responseParameters"] = map[string]any{"failureLocation": r.FailureLocation}
	}
	body, _ := json.Marshal(msg)
	delay := 100 * time.Millisecond
	for attempt := 0; attempt < 5; attempt++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode < 300 {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay): // backoff between delivery attempts
		}
		delay *= 2
	}
	s.o.Logger.Warn("notification not delivered", "topic", topic, "url", url, "inference_id", r.InferenceID)
	s.count(r.Endpoint, func(st *endpointStats) { st.notifyFailures++ })
}

// publish writes the backlog metrics of every async endpoint.
func (s *Service) publish(now time.Time) {
	instances := s.capacity()
	s.mu.Lock()
	var pts []metrics.Point
	put := func(name, unit string, dims []metrics.Dimension, p metrics.Point) {
		p.Series = metrics.Series{Namespace: Namespace, MetricName: name, Dimensions: dims}
		p.Unit, p.Timestamp = unit, now
		pts = append(pts, p)
	}
	for ep, q := range s.queued {
		dims := []metrics.Dimension{{Name: "EndpointName", Value: ep}}
		backlog := len(q) + s.running[ep]
		oldest := 0.0
		if len(q) > 0 {
			oldest = now.Sub(q[0].Received).Seconds()
		}
		perInstance := float64(backlog)
		if n := instances[ep]; n > 0 {
			perInstance = float64(backlog) / float64(n)
		}
		hasBacklog := 0.0
		if backlog > 0 && instances[ep] == 0 {
			hasBacklog = 1
		}
		put("ApproximateBacklogSize", "Count", dims, metrics.Point{Value: float64(backlog)})
		put("ApproximateBacklogSizePerInstance", "Count", dims, metrics.Point{Value: perInstance})
		put("ApproximateAgeOfOldestRequest", "Seconds", dims, metrics.Point{Value: oldest})
		put("HasBacklogWithoutCapacity", "Count", dims, metrics.Point{Value: hasBacklog})
	}
	for ep, st := range s.stats {
		if st.variant == "" {
			continue
		}
		dims := []metrics.Dimension{{Name: "EndpointName", Value: ep}, {Name: "VariantName", Value: st.variant}}
		for name, v := range map[string]float64{"InvocationsProcesssed": st.processed, "InvocationFailures": st.failures, "ExpiredRequests": st.expired,
			"NotificationFailures": st.notifyFailures, "RequestDownloadFailures": st.downloadFailures, "ResponseUploadFailures": st.uploadFailures} {
			put(name, "Count", dims, metrics.Point{Value: v})
		}
		if len(st.timeInBacklog) > 0 {
			put("TimeInBacklog", "Milliseconds", dims, metrics.Point{Values: st.timeInBacklog})
			put("TotalProcessingTime", "Milliseconds", dims, metrics.Point{Values: st.processing})
		}
		*st = endpointStats{variant: st.variant}
	}
	s.mu.Unlock()
	if len(pts) > 0 {
		if err := s.o.Metrics.Put(pts); err != nil {
			s.o.Logger.Error("storing async metrics", "err", err)
		}
	}
}
