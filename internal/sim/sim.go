package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/ebbscale/ebb/internal/api/autoscaling"
	"github.com/ebbscale/ebb/internal/autoscaler"
	"github.com/ebbscale/ebb/internal/clock"
	"github.com/ebbscale/ebb/internal/emitter"
	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/modelmetrics"
	"github.com/ebbscale/ebb/internal/monitor"
	"github.com/ebbscale/ebb/internal/store/memory"
)

// Model is the endpoint the trace runs against: each instance serves
// Concurrency requests at once, each for ServiceTime (or, where the trace
// gives them, Services), after Startup.
type Model struct {
	ServiceTime time.Duration
	// Services, if set, are each second's requests' own service times in
	// seconds, in arrival order (a per-request trace's column). The fleet's
	// slots then serve the requests one each, first come first served
	// (slots), so that one long answer misses the SLO alone and holds one
	// slot, rather than lengthening its second's mean. Where the trace's
	// count for a second differs from the requests listed (a scaled
	// trace), each listed request stands for count/listed of them.
	Services [][]float64
	// Spread, if set, is the distribution of service times around their
	// mean: the quantile function of a distribution of mean 1. A bucket's
	// requests then take its mean service time times Spread(q) across q,
	// which shapes the latency percentiles; capacity follows the mean.
	// Requests with Services take their own times instead.
	Spread      func(q float64) float64
	Concurrency int
	Startup     time.Duration
	// InitialInstances is the instances ready when the trace starts, as
	// the endpoint config's InitialInstanceCount; 0 means the policy's
	// MinCapacity (at least 1). Registering the target then moves it
	// into the policy's bounds, as it does live. A trace cut out of
	// running traffic starts on the fleet that traffic had built.
	InitialInstances int
	// SLO is the latency a request must be answered within to count as
	// attained; Timeout, after which a waiting request fails (SageMaker's
	// 60 s model timeout).
	SLO, Timeout time.Duration
	// Start is the virtual time of the trace's first second (schedules and
	// their time zones see it).
	Start time.Time
	// Engine, if set, is an LLM engine's model of time per token: each
	// request then generates the tokens Services gives it (not seconds),
	// its latency is its time to first token, and every 10 s the
	// instances' vLLM metrics go where ebb publishes a model server's
	// (modelmetrics), for a queue-depth policy to read.
	Engine *Engine
	// Prompts are, with Engine, each request's prompt tokens, as Services
	// (none: no prefill).
	Prompts [][]float64
	// History is how much of the trace's start is run but not counted: the
	// metrics a predictive policy forecasts from (it needs a day's). Every
	// policy runs through it, so that they are compared over the same
	// traffic, each from the fleet its own decisions built.
	History time.Duration
}

// meanService is the mean service time in seconds: of the trace's
// requests where it gives theirs, else ServiceTime.
func (m Model) meanService() float64 {
	n, sum := 0, 0.0
	for _, sec := range m.Services {
		for _, s := range sec {
			n, sum = n+1, sum+s
		}
	}
	if n == 0 {
		return m.ServiceTime.Seconds()
	}
	return sum / float64(n)
}

// Policy is a policy file: a target's bounds, scaling policies and
// scheduled actions in the shapes of their AWS calls (ResourceId,
// ServiceNamespace and ScalableDimension may be left out).
type Policy struct {
	Name             string            `json:"-"`
	MinCapacity      int               `json:"MinCapacity"`
	MaxCapacity      int               `json:"MaxCapacity"`
	ScalingPolicies  []json.RawMessage `json:"ScalingPolicies"`
	ScheduledActions []json.RawMessage `json:"ScheduledActions"`
}

// Predictive says whether one of the policy's scaling policies is a
// predictive one (which forecasts from a day of history).
func (p Policy) Predictive() bool {
	for _, raw := range p.ScalingPolicies {
		var sp struct{ PolicyType string }
		if json.Unmarshal(raw, &sp) == nil && sp.PolicyType == "PredictiveScaling" {
			return true
		}
	}
	return false
}

// Activity is one scaling activity, as DescribeScalingActivities tells it.
type Activity struct {
	Time        time.Time `json:"time"`
	Description string    `json:"description"`
	Cause       string    `json:"cause"`
	Status      string    `json:"status"`
}

// Report is what one policy did with the trace.
type Report struct {
	Name            string  `json:"name"`
	InstanceHours   float64 `json:"instance_hours"`
	MeanUtilization float64 `json:"mean_utilization"`
	P50ms           float64 `json:"p50_ms"`
	P99ms           float64 `json:"p99_ms"`
	// RampP99ms is the p99 latency of the requests that arrived in each
	// day's ramp hour (rampHours), where a reactive policy is late.
	RampP99ms     float64    `json:"ramp_p99_ms"`
	SLOAttainment float64    `json:"slo_attainment"`
	Requests      float64    `json:"requests"`
	Queued        float64    `json:"queued"`  // waited a second or more
	Dropped       float64    `json:"dropped"` // waited beyond the timeout
	MaxInstances  int        `json:"max_instances"`
	Activities    []Activity `json:"activities"`
	// Start is the virtual time of the trace's first second; Minutes are
	// the load and the capacity, minute by minute from it (the plot), in
	// JSON as columns: {"requests": [...], "instances": [...], "capacity": [...]}.
	Start   time.Time `json:"start"`
	Minutes Minutes   `json:"minutes"`
}

// Minutes are a run's minutes.
type Minutes []Minute

// MarshalJSON writes the minutes as three columns, values rounded to
// thousandths: a week is 10,080 minutes.
func (ms Minutes) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 16+len(ms)*3*8)
	for i, col := range []struct {
		name string
		of   func(Minute) float64
	}{{"requests", func(m Minute) float64 { return m.Requests }}, {"instances", func(m Minute) float64 { return m.Instances }},
		{"capacity", func(m Minute) float64 { return m.Capacity }}} {
		if i == 0 {
			b = append(b, '{')
		} else {
			b = append(b, ',')
		}
		b = append(append(append(b, '"'), col.name...), `":[`...)
		for j, m := range ms {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendFloat(b, math.Round(col.of(m)*1000)/1000, 'f', -1, 64)
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

// Minute is one minute of a run.
type Minute struct {
	Requests  float64 // arrived
	Instances float64 // mean instances (ready or starting)
	Capacity  float64 // requests the ready instances could serve
}

const (
	endpointName = "sim"
	variantName  = "AllTraffic"
	resourceID   = "endpoint/" + endpointName + "/variant/" + variantName
)

// Run replays trace through policy.
func Run(ctx context.Context, trace Trace, p Policy, m Model) (Report, error) {
	if m.Concurrency < 1 || m.ServiceTime <= 0 && m.Engine == nil {
		return Report{}, fmt.Errorf("the model needs a concurrency of at least 1 and a positive service time")
	}
	if m.Timeout <= 0 {
		m.Timeout = time.Minute
	}
	if m.Start.IsZero() {
		m.Start = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) // a Monday
	}
	clk := clock.NewFake(m.Start)
	st := memory.New()
	ms, err := metrics.Open(nil)
	if err != nil {
		return Report{}, err
	}
	fl := &fleet{clk: clk, startup: m.Startup}
	em := &emitter.Emitter{Router: fl, Hosting: fl, Store: ms, Clock: clk, SampleEvery: 10 * time.Second}
	mon, err := monitor.New(ctx, monitor.Options{Store: st, Metrics: ms, Clock: clk})
	if err != nil {
		return Report{}, err
	}
	as, err := autoscaler.New(ctx, autoscaler.Options{Store: st, Hosting: fl, Alarms: mon, Metrics: ms, Clock: clk, Region: "us-east-1", AccountID: "123456789012"})
	if err != nil {
		return Report{}, err
	}
	mon.SetActions(as)
	initial := m.InitialInstances
	if initial <= 0 {
		initial = max(p.MinCapacity, 1)
	}
	fl.set(initial, clk.Now(), true)
	if err := apply(ctx, autoscaling.New(as), p); err != nil {
		return Report{}, fmt.Errorf("policy %s: %w", p.Name, err)
	}

	from := int(m.History.Seconds())
	if from >= len(trace) {
		return Report{}, fmt.Errorf("the history (%v) takes the whole trace (%v)", m.History, time.Duration(len(trace))*time.Second)
	}
	r := Report{Name: p.Name, Start: m.Start.Add(m.History)}
	o := newOutcomes(from, rampHours(trace))
	var q queueing = &queue{service: m.ServiceTime.Seconds(), spread: m.Spread}
	switch {
	case m.Engine != nil:
		q = &engine{cfg: *m.Engine, batch: m.Concurrency, tokens: m.Services, prompts: m.Prompts}
	case m.Services != nil:
		q = &slots{services: m.Services, fallback: m.ServiceTime.Seconds()}
	}
	var scraped modelmetrics.Aggregator
	var busy, slotTime, instanceSeconds float64
	var minute Minute
	// A minute's capacity is its slot-seconds at the mean service time of
	// the requests it served (the last such minute's when it served none).
	var minuteSlots, minuteWork, minuteServed float64
	meanService := m.meanService()
	tail := int((m.Timeout + m.Startup).Seconds()) // let the last requests finish
	for sec := 0; sec < len(trace)+tail; sec++ {
		if sec%3600 == 0 && ctx.Err() != nil {
			return r, ctx.Err()
		}
		now := clk.Now()
		counted := sec >= from
		if sec < len(trace) {
			q.arrive(sec, trace[sec])
			if counted {
				r.Requests += trace[sec]
			}
			minute.Requests += trace[sec]
		}
		ready, total := fl.count(now)
		slotSeconds := float64(ready * m.Concurrency) // of service, this second
		served, work := q.serve(ready*m.Concurrency, sec, o)
		q.expire(sec, m.Timeout, o)
		inFlight := q.waiting() + min(work, slotSeconds) // waiting, and in service (Little's law)
		if ready > 0 {
			fl.served(now, served, inFlight, min(1, work/slotSeconds))
		} else {
			fl.served(now, served, inFlight, 0)
		}
		if counted {
			r.MaxInstances = max(r.MaxInstances, total)
			instanceSeconds += float64(total)
			busy += work
			slotTime += slotSeconds
		}
		minute.Instances += float64(total) / 60
		minuteSlots, minuteWork, minuteServed = minuteSlots+slotSeconds, minuteWork+work, minuteServed+served
		if (sec+1)%60 == 0 {
			if minuteServed > 0 && minuteWork > 0 {
				meanService = minuteWork / minuteServed
			}
			minute.Capacity = minuteSlots / meanService
			if counted {
				r.Minutes = append(r.Minutes, minute)
			}
			minute = Minute{}
			minuteSlots, minuteWork, minuteServed = 0, 0, 0
		}
		if (sec+1)%10 == 0 {
			// Ten seconds of metrics, published by the emitter as live.
			if err := em.Tick(now); err != nil {
				return r, err
			}
			if e, ok := q.(*engine); ok {
				if err := ms.Put(scraped.Points(now, e.scrapes())); err != nil {
					return r, err
				}
			}
			mon.EvaluateAll(ctx, now)
		}
		if (sec+1)%int(autoscaler.Tick.Seconds()) == 0 {
			as.Step(ctx, now)
		}
		clk.Advance(time.Second)
	}
	r.InstanceHours = instanceSeconds / 3600
	if slotTime > 0 {
		r.MeanUtilization = busy / slotTime
	}
	r.Queued, r.Dropped = o.queued, o.dropped
	lat := summarize(o.all)
	r.P50ms, r.P99ms = lat.percentile(0.5), lat.percentile(0.99)
	if total := lat.total + r.Dropped; total > 0 {
		r.SLOAttainment = lat.within(m.SLO) / total
	}
	if ramp := summarize(o.ramps); ramp.total > 0 {
		r.RampP99ms = ramp.percentile(0.99)
	}
	acts, err := as.Activities(ctx, "sagemaker", resourceID, autoscaler.Dimension, false, time.Time{})
	if err != nil {
		return r, err
	}
	for _, a := range acts {
		if a.StartTime.Before(r.Start) {
			continue
		}
		r.Activities = append(r.Activities, Activity{Time: a.StartTime, Description: a.Description, Cause: a.Cause, Status: a.StatusCode})
	}
	slices.SortFunc(r.Activities, func(a, b Activity) int { return a.Time.Compare(b.Time) })
	return r, nil
}

// apply registers the target and puts the policies and scheduled actions
// through Application Auto Scaling's own operations, as its API runs them:
// a policy file is what PutScalingPolicy takes, validated as AWS does.
func apply(ctx context.Context, h *autoscaling.Handler, p Policy) error {
	call := func(op string, body []byte) error {
		if _, err := h.Call(ctx, op, body); err != nil {
			return fmt.Errorf("%s: %s: %s", op, err.Code, err.Message)
		}
		return nil
	}
	target, _ := json.Marshal(map[string]any{"ServiceNamespace": "sagemaker", "ResourceId": resourceID, "ScalableDimension": autoscaler.Dimension,
		"MinCapacity": p.MinCapacity, "MaxCapacity": p.MaxCapacity})
	if err := call("RegisterScalableTarget", target); err != nil {
		return err
	}
	for op, docs := range map[string][]json.RawMessage{"PutScalingPolicy": p.ScalingPolicies, "PutScheduledAction": p.ScheduledActions} {
		for _, d := range docs {
			var m map[string]any
			if err := json.Unmarshal(d, &m); err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
			// The simulated target, whatever the file names.
			m["ServiceNamespace"], m["ResourceId"], m["ScalableDimension"] = "sagemaker", resourceID, autoscaler.Dimension
			body, _ := json.Marshal(m)
			if err := call(op, body); err != nil {
				return err
			}
		}
	}
	return nil
}

// queueing is how the fleet's slots serve the requests, second by second:
// arrive queues a second's requests; serve runs second sec on k slots,
// recording each answered request in o, and returns the requests answered
// and the seconds of service given; expire drops those that waited beyond
// the timeout, recording them in o; waiting is how many wait.
type queueing interface {
	arrive(sec int, n float64)
	serve(k, sec int, o *outcomes) (served, spent float64)
	expire(sec int, timeout time.Duration, o *outcomes)
	waiting() float64
}

// queue is the fluid model of requests that all take the same service time
// (or a spread around it): each second's requests wait in a bucket, oldest
// first, and a second's slots serve the buckets' work in order.
type queue struct {
	service float64
	spread  func(float64) float64
	buckets []bucket
}

// bucket is the requests that arrived in one second and the seconds of
// service they need.
type bucket struct {
	second  int
	n, work float64
}

func (q *queue) arrive(sec int, n float64) {
	if n > 0 {
		q.buckets = append(q.buckets, bucket{sec, n, n * q.service})
	}
}

func (q *queue) waiting() float64 {
	s := 0.0
	for _, b := range q.buckets {
		s += b.n
	}
	return s
}

// serve spends the k slots' second of service on the buckets, oldest first,
// each request's latency being its wait in whole seconds and its bucket's
// mean service time (spread, if set).
func (q *queue) serve(k, sec int, o *outcomes) (served, spent float64) {
	capacity := float64(k)
	for capacity > 1e-9 && len(q.buckets) > 0 {
		b := &q.buckets[0]
		wait := float64(sec - b.second)
		w := min(b.work, capacity)
		n := b.n
		if b.work > 0 {
			n = b.n * w / b.work
		}
		service := b.work / b.n
		if q.spread == nil {
			o.answered(b.second, wait, wait+service, n)
		} else {
			for i := range spreadSlices {
				o.answered(b.second, wait, wait+service*q.spread((float64(i)+0.5)/spreadSlices), n/spreadSlices)
			}
		}
		served += n
		spent += w
		capacity -= w
		b.n -= n
		b.work -= w
		if b.n <= 1e-9 || b.work <= 1e-12 {
			q.buckets = q.buckets[1:]
		}
	}
	return served, spent
}

// spreadSlices is how many quantiles of the service time distribution a
// bucket's requests are spread over.
const spreadSlices = 100

// Exponential is the quantile function of the exponential distribution of
// mean 1 (service times of memoryless work).
func Exponential(q float64) float64 { return -math.Log(1 - q) }

// LogNormal returns the quantile function of the log-normal distribution of
// mean 1 with shape sigma (the long tail of model latencies).
func LogNormal(sigma float64) func(float64) float64 {
	mu := -sigma * sigma / 2
	return func(q float64) float64 { return math.Exp(mu + sigma*math.Sqrt2*math.Erfinv(2*q-1)) }
}

// expire drops the requests that have waited beyond timeout.
func (q *queue) expire(sec int, timeout time.Duration, o *outcomes) {
	for len(q.buckets) > 0 && time.Duration(sec-q.buckets[0].second)*time.Second >= timeout {
		o.drop(q.buckets[0].second, q.buckets[0].n)
		q.buckets = q.buckets[1:]
	}
}

// latencies are a run's latency histogram in order of latency. Sums over
// it go in that order, so that a run's figures are the same bits every
// time (a map's order would move its last digits, and Search compares
// SLO attainments exactly).
type latencies struct {
	ms    []int64   // latency in milliseconds, ascending
	n     []float64 // requests at each
	total float64
}

func summarize(hist map[int64]float64) latencies {
	l := latencies{ms: slices.Sorted(maps.Keys(hist))}
	for _, k := range l.ms {
		l.n = append(l.n, hist[k])
		l.total += hist[k]
	}
	return l
}

// percentile is the latency (ms) below which share p of the requests were
// answered; NaN for none.
func (l latencies) percentile(p float64) float64 {
	acc := 0.0
	for i, k := range l.ms {
		acc += l.n[i]
		if acc >= p*l.total-1e-9 {
			return float64(k)
		}
	}
	return math.NaN()
}

// within is the requests answered within slo.
func (l latencies) within(slo time.Duration) float64 {
	acc := 0.0
	for i, k := range l.ms {
		if time.Duration(k)*time.Millisecond > slo {
			break
		}
		acc += l.n[i]
	}
	return acc
}
