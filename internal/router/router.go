package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Limits of SageMaker's InvokeEndpoint.
const (
	MaxPayloadBytes = 6 * 1024 * 1024 // request and response
	ModelTimeout    = 60 * time.Second
)

// Endpoint is what hosting publishes for one endpoint: the variants that
// take traffic and their healthy instances.
type Endpoint struct {
	Name     string
	Variants []Variant
	// Components are the inference components of an endpoint that hosts
	// them: its invocations name one and go to its copies (the variants'
	// instances are hosts, not model servers, and take no requests).
	Components []Component `json:",omitempty"`
	// Async marks an asynchronous endpoint, for which SageMaker publishes
	// no Invocations, InvocationsPerInstance or OverheadLatency.
	Async bool `json:",omitempty"`
}

// Variant is one production variant in the routing table.
type Variant struct {
	Name      string
	Weight    float64
	Instances []Instance
	// MultiModel is set on a multi-model variant: each invocation's
	// TargetModel names an artifact under its prefix (multimodel.go).
	MultiModel *MultiModel `json:",omitempty"`
	// Execution is how the containers of a model of several serve:
	// Serial or Direct (containers.go); "" for one container.
	Execution string `json:",omitempty"`
	// Serverless is set on a serverless variant (serverless.go).
	Serverless *Serverless `json:",omitempty"`
	// Fleet, during a blue/green deployment, names the endpoint
	// configuration Instances run (their figures also count apart under
	// it), and Green is the new fleet taking a share of the traffic
	// (fleets.go).
	Fleet string `json:",omitempty"`
	Green *Fleet `json:",omitempty"`
}

// Component is one inference component and its healthy copies.
type Component struct {
	Name    string
	Variant string // the variant whose instances host the copies
	Copies  []Instance
}

// Instance is one healthy model server.
type Instance struct {
	ID   string
	Addr string // host:port
	// Containers are the instance's containers, in order, when its model
	// has several (Addr is then the first one's).
	Containers []Container `json:",omitempty"`
}

// Container is one container of an instance.
type Container struct{ Hostname, Addr string }

// Errors Invoke returns; the API maps them to SageMaker Runtime errors.
var (
	ErrEndpointNotFound = errors.New("endpoint not found")
	ErrVariantNotFound  = errors.New("variant not found")
	ErrNoCapacity       = errors.New("no instance available")
	// ErrAsyncEndpoint: a real-time invocation of an asynchronous
	// endpoint, whose instances serve its queue only.
	ErrAsyncEndpoint = errors.New("asynchronous endpoint")
	ErrTimeout       = errors.New("model did not answer in time")
	// ErrComponentRequired: the endpoint hosts inference components and
	// the request named none; ErrComponentNotFound: it named another.
	ErrComponentRequired = errors.New("inference component required")
	ErrComponentNotFound = errors.New("inference component not found")
	// ErrNoComponents: the request named a component and the endpoint
	// hosts none; ErrNoCopy: the component has no healthy copy.
	ErrNoComponents = errors.New("endpoint hosts no inference components")
	ErrNoCopy       = errors.New("inference component has no copy")
)

// ModelError is a non-2xx answer from the model container.
type ModelError struct {
	Variant    string
	StatusCode int
	Body       []byte
}

func (e *ModelError) Error() string {
	return fmt.Sprintf("model answered %d: %s", e.StatusCode, e.Body)
}

// ejectFor is how long an instance whose connection broke mid-request
// (not refused: its process or container died, or a proxy in front of it,
// Docker's, closed the connection) takes no new request while another
// instance can, as Envoy's outlier detection ejects a host: only the
// requests in flight on it fail, not those that would follow until its
// runtime reports it ended.
const ejectFor = time.Second

type backend struct {
	id          string
	up          *upstream
	outstanding atomic.Int64
	removed     atomic.Bool
	// broke is when a connection to the instance last broke mid-request
	// (unix nanoseconds; see ejectFor).
	broke      atomic.Int64
	models     loadedModels // of a multi-model instance
	containers []container  // of an instance of a model of several
}

type variantRoute struct {
	name      string
	weight    float64
	backends  []*backend
	stats     *variantStats
	multi     *MultiModel
	execution string
	component bool // the route of an inference component (name is its name)
	// containers holds the statistics of each container of a Direct
	// variant, by hostname.
	containers map[string]*variantStats
	serverless *Serverless
	gate       *gate // of a serverless variant
	// fleet holds the figures of this fleet alone during a blue/green
	// deployment; green is the new fleet, share its share of traffic.
	fleet *variantStats
	green *variantRoute
	share float64
}

type endpointRoute struct {
	variants    []*variantRoute
	totalWeight float64
	components  map[string]*variantRoute // by component name; its variant in variantOf
	variantOf   map[string]string
	async       bool
}

// Router routes invocations. The zero value is not usable; call New.
type Router struct {
	table        atomic.Pointer[map[string]*endpointRoute]
	sessions     sessionTable
	mu           sync.Mutex // serialises writers of table, backends and variantStats
	backends     map[string]*backend
	variantStats map[statsKey]*variantStats
	gates        map[statsKey]*gate // of serverless variants
	// Timeout bounds one invocation (SageMaker: 60 s).
	Timeout time.Duration
	o       Options
	cold    coldStarts
}

// Options configure a router. The zero value routes without cold starts.
type Options struct {
	// ColdStarts, if set, lets requests that find no instance wait while
	// capacity starts from zero (see coldstart.go): the router sends one
	// request per endpoint and the receiver (the autoscaler's loop, the
	// one owner of capacity changes) answers it.
	ColdStarts chan<- ColdStartRequest
	// ColdStartBuffer is how many requests of an endpoint may wait (0: a
	// request never waits: cold starts are off, and a request at zero
	// capacity fails as on AWS), and ColdStartTimeout for how long each.
	ColdStartBuffer  int
	ColdStartTimeout time.Duration
	// Artifacts prepares the artifacts of multi-model endpoints (nil:
	// their invocations fail).
	Artifacts Artifacts
	// RequestLog, if set, is told of every invocation that reached an
	// instance (ebb server --request-log).
	RequestLog RequestLog
	// Demand, if set, receives serverless variants' asks for
	// environments (hosting's); a full channel drops one. A router without
	// it (a follower replica's) serves no serverless variant: it answers
	// ErrServerlessElsewhere.
	Demand chan<- Demand
}

// RequestLog records invocations.
type RequestLog interface{ Log(LogEntry) }

// LogEntry is one invocation: when it arrived, what served it, how it
// ended and how long the model took.
type LogEntry struct {
	Received                                  time.Time
	Endpoint, Variant, Component, TargetModel string
	Outcome                                   Outcome
	Model, Overhead                           time.Duration
}

// New returns an empty router.
func New(o Options) *Router {
	if o.ColdStartBuffer <= 0 {
		o.ColdStarts = nil
	}
	r := &Router{
		backends:     map[string]*backend{},
		variantStats: map[statsKey]*variantStats{},
		gates:        map[statsKey]*gate{},
		Timeout:      ModelTimeout,
		o:            o,
	}
	empty := map[string]*endpointRoute{}
	r.table.Store(&empty)
	return r
}

// Set publishes an endpoint's routing table. Instances missing from it are
// withdrawn: no new request goes to them (see Drain).
func (r *Router) Set(ep Endpoint) {
	r.mu.Lock()
	defer r.mu.Unlock()
	route := &endpointRoute{async: ep.Async}
	keep := map[string]bool{}
	for _, v := range ep.Variants {
		vr := &variantRoute{name: v.Name, weight: v.Weight, stats: r.stats(ep.Name, v.Name), multi: v.MultiModel, execution: v.Execution,
			backends: r.backendsOf(v.Instances, keep), serverless: v.Serverless}
		if v.Serverless != nil {
			vr.gate = r.gateOf(ep.Name, v.Name)
			defer vr.gate.notify() // once published: an environment may be new
		}
		instances := len(v.Instances)
		if v.Fleet != "" {
			vr.fleet = r.statsOf(statsKey{endpoint: ep.Name, variant: v.Name, fleet: v.Fleet})
			vr.fleet.setInstances(len(v.Instances), ep.Async)
		}
		if v.Green != nil {
			vr.green = r.greenRoute(ep.Name, v, vr, keep)
			instances += len(v.Green.Instances)
		}
		vr.stats.setInstances(instances, ep.Async)
		if v.Execution == "Direct" && len(v.Instances) > 0 {
			vr.containers = map[string]*variantStats{}
			for _, c := range v.Instances[0].Containers {
				vr.containers[c.Hostname] = r.statsOf(statsKey{endpoint: ep.Name, variant: v.Name, container: c.Hostname})
			}
		}
		route.variants = append(route.variants, vr)
		route.totalWeight += v.Weight
	}
	if len(ep.Components) > 0 {
		route.components = map[string]*variantRoute{}
		route.variantOf = map[string]string{}
	}
	for _, c := range ep.Components {
		cr := &variantRoute{name: c.Name, weight: 1, stats: r.componentStats(ep.Name, c.Name), backends: r.backendsOf(c.Copies, keep), component: true}
		cr.stats.mu.Lock()
		cr.stats.instances = len(c.Copies)
		cr.stats.mu.Unlock()
		route.components[c.Name] = cr
		route.variantOf[c.Name] = c.Variant
		if len(cr.backends) > 0 {
			r.wake(waitKey(ep.Name, c.Name))
		}
	}
	old := *r.table.Load()
	r.withdraw(old[ep.Name], keep)
	next := make(map[string]*endpointRoute, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[ep.Name] = route
	r.table.Store(&next)
	for _, v := range route.variants {
		if len(v.backends) > 0 {
			r.wake(ep.Name)
			break
		}
	}
}

// backendsOf returns the backends of instances, creating those it does not
// know, and marks them kept. Callers hold r.mu.
func (r *Router) backendsOf(ins []Instance, keep map[string]bool) []*backend {
	var out []*backend
	for _, in := range ins {
		b := r.backends[in.ID]
		if b == nil {
			b = &backend{id: in.ID, up: newUpstream(in.Addr)}
			for _, c := range in.Containers {
				b.containers = append(b.containers, container{hostname: c.Hostname, up: newUpstream(c.Addr)})
			}
			r.backends[in.ID] = b
		}
		b.removed.Store(false)
		keep[in.ID] = true
		out = append(out, b)
	}
	return out
}

// Delete removes an endpoint from the table.
func (r *Router) Delete(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.table.Load()
	if _, ok := old[name]; !ok {
		return
	}
	r.withdraw(old[name], nil)
	next := make(map[string]*endpointRoute, len(old))
	for k, v := range old {
		if k != name {
			next[k] = v
		}
	}
	r.table.Store(&next)
	for _, v := range old[name].variants {
		if v.gate != nil {
			v.gate.notify() // its waiting invocations find the endpoint gone
		}
	}
}

func (r *Router) withdraw(old *endpointRoute, keep map[string]bool) {
	if old == nil {
		return
	}
	for _, v := range old.all() {
		for _, b := range v.backends {
			if !keep[b.id] {
				b.removed.Store(true)
			}
		}
	}
}

// Drain waits until a withdrawn instance has no request in flight, then
// forgets it.
func (r *Router) Drain(ctx context.Context, instanceID string) error {
	r.mu.Lock()
	b := r.backends[instanceID]
	r.mu.Unlock()
	if b == nil {
		return nil
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !b.removed.Load() || b.outstanding.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	r.mu.Lock()
	if b.removed.Load() {
		delete(r.backends, instanceID)
		b.up.closeIdle()
	}
	r.mu.Unlock()
	return nil
}

// all lists the variants (and their green fleets) and components of a
// route.
func (e *endpointRoute) all() []*variantRoute {
	out := slices.Clone(e.variants)
	for _, v := range e.variants {
		if v.green != nil {
			out = append(out, v.green)
		}
	}
	for _, c := range e.components {
		out = append(out, c)
	}
	return out
}

// Invocation is one InvokeEndpoint request.
type Invocation struct {
	Endpoint      string
	TargetVariant string
	// Component names the inference component of an endpoint that hosts
	// them (InferenceComponentName).
	Component string
	// TargetModel names the artifact a multi-model endpoint serves the
	// request with, relative to its model data prefix.
	TargetModel string
	// TargetContainer names the container of a Direct multi-container
	// endpoint that serves the request (TargetContainerHostname).
	TargetContainer string
	Body            []byte
	// Header holds the headers to pass to the model (Content-Type, Accept,
	// custom attributes ...).
	Header http.Header
	// Received is when ebb received the request (for OverheadLatency);
	// zero means when Invoke was called.
	Received time.Time
	// pinned is the instance that holds the request's stateful session.
	pinned *backend
	// reserved is the serverless environment the request has (counted
	// against it).
	reserved *backend
	// Queued marks the asynchronous queue's own invocation. An
	// asynchronous endpoint serves only those; any other is refused with
	// ErrAsyncEndpoint, as SageMaker answers InvokeEndpoint there.
	Queued bool
}

// Response is the model's answer. The caller must Close it.
type Response struct {
	Variant string
	*http.Response

	b                           *backend
	v                           *variantRoute
	also                        []*variantStats // a Direct container's, a fleet's: they count it too
	start, received, capacityAt time.Time
	log                         RequestLog
	entry                       LogEntry
	ticket                      ticket // of a serverless variant's invocation
}

// Close releases the response and the instance it came from, and records
// the invocation: ModelLatency runs from sending the request to the last
// byte of the answer; OverheadLatency is the time before that.
func (r *Response) Close() {
	r.Body.Close()
	r.b.outstanding.Add(-1)
	if r.ticket.g != nil {
		r.ticket.release()
	}
	if !r.capacityAt.IsZero() {
		r.v.stats.coldResponse(time.Since(r.capacityAt))
	}
	r.v.stats.record(OutcomeOK, time.Since(r.start), r.start.Sub(r.received))
	for _, s := range r.also {
		s.record(OutcomeOK, time.Since(r.start), r.start.Sub(r.received))
	}
	if r.log != nil {
		r.entry.Model = time.Since(r.start)
		r.log.Log(r.entry)
	}
}

// Invoke routes one invocation and returns the model's 2xx answer; a non-2xx
// answer is a *ModelError.
func (r *Router) Invoke(ctx context.Context, inv Invocation) (*Response, error) {
	route := (*r.table.Load())[inv.Endpoint]
	if route == nil {
		return nil, ErrEndpointNotFound
	}
	if route.async && !inv.Queued {
		return nil, ErrAsyncEndpoint
	}
	if sid := inv.Header.Get(sessionHeader); sid != "" {
		if route.components != nil || inv.Component != "" {
			return nil, ErrSessionComponents
		}
		if sid != NewSession {
			s, ok := r.sessions.lookup(inv.Endpoint, sid, time.Now())
			if !ok {
				return nil, ErrSessionNotFound
			}
			inv.TargetVariant, inv.pinned = s.variant, s.b
		}
	}
	if route.components != nil || inv.Component != "" {
		return r.invokeComponent(ctx, route, inv)
	}
	v, err := route.pick(inv.TargetVariant)
	if err != nil {
		return nil, err
	}
	if v.serverless != nil {
		return r.invokeServerless(ctx, inv, v)
	}
	v = v.fleetFor(inv.pinned)
	var capacityAt time.Time // set when this request waited for a cold start
	if len(v.backends) == 0 && r.o.ColdStarts != nil && !route.hasCapacity(inv.TargetVariant) {
		waitStart := time.Now()
		decision, err := r.waitForCapacity(ctx, inv.Endpoint, ColdStartRequest{Endpoint: inv.Endpoint, Variant: v.name})
		if err != nil {
			return nil, err
		}
		capacityAt = time.Now()
		v.stats.coldStart(decision, capacityAt.Sub(waitStart))
		if route = (*r.table.Load())[inv.Endpoint]; route == nil {
			return nil, ErrEndpointNotFound
		}
		if v, err = route.pick(inv.TargetVariant); err != nil {
			return nil, err
		}
	}
	var mm *multiCall
	switch {
	case v.multi != nil:
		if mm, err = v.multi.call(inv.TargetModel); err != nil {
			return nil, err
		}
	case inv.TargetModel != "":
		return nil, ErrNotMultiModel
	}
	switch {
	case v.execution == "Direct" && inv.TargetContainer == "":
		return nil, ErrContainerRequired
	case v.execution != "Direct" && inv.TargetContainer != "":
		return nil, ErrNotDirect
	case v.execution == "Direct" && !v.hasContainer(inv.TargetContainer):
		return nil, ErrContainerNotFound
	}
	resp, err := r.send(ctx, v, inv, capacityAt, mm)
	if resp != nil {
		resp.Variant = v.name
	}
	return resp, err
}

// invokeComponent routes an invocation among the copies of the inference
// component it names. With no copy, the request fails at once and counts
// as a NoCapacityInvocationFailure (SageMaker's scale-from-zero recipe is a
// step policy on that metric), unless cold starts are on and the
// component may scale out from zero: then it waits for its first copy.
func (r *Router) invokeComponent(ctx context.Context, route *endpointRoute, inv Invocation) (*Response, error) {
	switch {
	case route.components == nil:
		return nil, ErrNoComponents
	case inv.Component == "":
		return nil, ErrComponentRequired
	}
	c := route.components[inv.Component]
	if c == nil {
		return nil, ErrComponentNotFound
	}
	var capacityAt time.Time
	if len(c.backends) == 0 {
		if r.o.ColdStarts == nil {
			c.stats.noCapacity()
			return nil, ErrNoCopy
		}
		waitStart := time.Now()
		decision, err := r.waitForCapacity(ctx, waitKey(inv.Endpoint, c.name), ColdStartRequest{Endpoint: inv.Endpoint, Component: c.name})
		if errors.Is(err, ErrNoCapacity) {
			c.stats.noCapacity()
			return nil, ErrNoCopy
		}
		if err != nil {
			return nil, err
		}
		capacityAt = time.Now()
		c.stats.coldStart(decision, capacityAt.Sub(waitStart))
		if route = (*r.table.Load())[inv.Endpoint]; route == nil || route.components[inv.Component] == nil {
			return nil, ErrComponentNotFound
		}
		if c = route.components[inv.Component]; len(c.backends) == 0 {
			c.stats.noCapacity()
			return nil, ErrNoCopy
		}
	}
	switch {
	case inv.TargetModel != "":
		return nil, ErrNotMultiModel
	case inv.TargetContainer != "":
		return nil, ErrNotDirect
	}
	resp, err := r.send(ctx, c, inv, capacityAt, nil)
	if resp != nil {
		resp.Variant = route.variantOf[c.name]
	}
	return resp, err
}

// send sends an invocation to the instance of v with the fewest requests in
// flight (for a multi-model call, among those that have its model loaded,
// loading it first on a cache miss), and records it in v's statistics.
func (r *Router) send(ctx context.Context, v *variantRoute, inv Invocation, capacityAt time.Time, mm *multiCall) (*Response, error) {
	start := time.Now()
	received := inv.Received
	if received.IsZero() {
		received = start
	}
	// What counts the invocation besides the variant: a Direct
	// container's own statistics, a fleet's.
	var also []*variantStats
	for _, s := range [...]*variantStats{v.containers[inv.TargetContainer], v.fleet} {
		if s != nil {
			also = append(also, s)
		}
	}
	var entry LogEntry
	if r.o.RequestLog != nil {
		entry = LogEntry{Received: received, Endpoint: inv.Endpoint, Variant: v.name, TargetModel: inv.TargetModel, Overhead: start.Sub(received)}
		if v.component {
			entry.Variant, entry.Component = "", v.name
		}
	}
	record := func(o Outcome) {
		v.stats.record(o, time.Since(start), start.Sub(received))
		for _, s := range also {
			s.record(o, time.Since(start), start.Sub(received))
		}
		if r.o.RequestLog != nil {
			entry.Outcome, entry.Model = o, time.Since(start)
			r.o.RequestLog.Log(entry)
		}
	}
	deadline := start.Add(r.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	// An instance that refuses the connection never saw the request, so the
	// request may go to another one; at most once per instance.
	var triedBuf [4]*backend
	tried := triedBuf[:0]
	for attempt := 0; attempt < len(v.backends); attempt++ {
		var b *backend
		switch {
		case inv.reserved != nil: // an idle serverless environment, counted
			if attempt > 0 {
				return nil, ErrNoCapacity
			}
			b = inv.reserved
		case inv.pinned == nil:
			b = v.acquire(tried, mm)
		case attempt > 0 || inv.pinned.removed.Load():
			return nil, ErrSessionNotFound // its instance is gone
		default: // the instance that holds the request's stateful session
			b = inv.pinned
			b.outstanding.Add(1)
		}
		if b == nil {
			break
		}
		tried = append(tried, b)
		path := "/invocations"
		if mm != nil {
			if err := r.ensureLoaded(ctx, v, b, mm); err != nil {
				b.outstanding.Add(-1)
				return nil, err
			}
			path = "/models/" + mm.name + "/invoke"
		}
		var resp *http.Response
		var err error
		switch v.execution {
		case "Direct":
			resp, err = b.direct(ctx, deadline, inv)
		case "Serial":
			resp, err = b.serial(ctx, deadline, inv)
		default:
			resp, err = b.up.roundTrip(ctx, deadline, path, inv.Header, inv.Body)
		}
		if err == nil && mm != nil && resp.StatusCode == http.StatusNotFound {
			// The container no longer has the model (it restarted, or
			// unloaded it): load it again, once.
			resp.Body.Close()
			b.models.set(mm.name, false)
			if err := r.ensureLoaded(ctx, v, b, mm); err != nil {
				b.outstanding.Add(-1)
				return nil, err
			}
			resp, err = b.up.roundTrip(ctx, deadline, path, inv.Header, inv.Body)
		}
		if err != nil {
			b.outstanding.Add(-1)
			var de errDial
			if errors.As(err, &de) && ctx.Err() == nil {
				continue
			}
			if ctx.Err() == nil && !errors.Is(err, errTimeout) {
				b.broke.Store(time.Now().UnixNano())
			}
			record(OutcomeFailed)
			if errors.Is(err, errTimeout) || errors.Is(err, context.DeadlineExceeded) {
				return nil, ErrTimeout
			}
			return nil, err
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, MaxPayloadBytes))
			resp.Body.Close()
			b.outstanding.Add(-1)
			o := Outcome4XX
			if resp.StatusCode >= 500 {
				o = Outcome5XX
			}
			record(o)
			return nil, &ModelError{Variant: v.name, StatusCode: resp.StatusCode, Body: body}
		}
		r.sessions.observe(inv.Endpoint, v.name, b, resp.Header, time.Now())
		return &Response{Response: resp, b: b, v: v, also: also, start: start, received: received, capacityAt: capacityAt, log: r.o.RequestLog, entry: entry}, nil
	}
	return nil, ErrNoCapacity
}

// hasCapacity reports whether a request could be served now: the targeted
// variant, or any variant with weight, has an instance.
func (e *endpointRoute) hasCapacity(target string) bool {
	for _, v := range e.variants {
		if (target == "" && v.weight > 0 || v.name == target) && len(v.backends) > 0 {
			return true
		}
	}
	return false
}

// pick chooses the variant: the targeted one, or by weight among those with
// instances (all of them when none has any).
func (e *endpointRoute) pick(target string) (*variantRoute, error) {
	if target != "" {
		for _, v := range e.variants {
			if v.name == target {
				return v, nil
			}
		}
		return nil, ErrVariantNotFound
	}
	if e.totalWeight <= 0 {
		return nil, ErrNoCapacity
	}
	total, serving := 0.0, false
	for _, v := range e.variants {
		if len(v.backends) > 0 {
			total += v.weight
		}
	}
	if total > 0 {
		serving = true
	} else {
		total = e.totalWeight
	}
	x := rand.Float64() * total
	var last *variantRoute
	for _, v := range e.variants {
		if serving && len(v.backends) == 0 || v.weight <= 0 {
			continue
		}
		last = v
		if x < v.weight {
			return v, nil
		}
		x -= v.weight
	}
	return last, nil
}

// acquire picks the instance with the fewest requests in flight (ties go to
// a random one), among those that have a multi-model call's model loaded if
// any has, and counts the new request against it. An instance withdrawn
// between the pick and the count is given back, so Drain never misses a
// request.
func (v *variantRoute) acquire(skip []*backend, mm *multiCall) *backend {
	n := len(v.backends)
	broken := time.Now().Add(-ejectFor).UnixNano()
	for try := 0; try < 4; try++ {
		var best *backend
		start := 0
		if n > 1 {
			start = rand.IntN(n)
		}
		for i := 0; i < n; i++ {
			b := v.backends[(start+i)%n]
			if b.removed.Load() || slices.Contains(skip, b) || try == 0 && b.broke.Load() > broken {
				continue
			}
			if mm != nil && best != nil {
				if has, bestHas := b.models.has(mm.name), best.models.has(mm.name); has != bestHas {
					if has {
						best = b
					}
					continue
				}
			}
			if best == nil || b.outstanding.Load() < best.outstanding.Load() {
				best = b
			}
		}
		if best == nil {
			if try == 0 {
				continue // every instance left broke of late: take one anyway
			}
			return nil
		}
		best.outstanding.Add(1)
		if !best.removed.Load() {
			return best
		}
		best.outstanding.Add(-1)
	}
	return nil
}
