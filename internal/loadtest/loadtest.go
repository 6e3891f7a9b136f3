package loadtest

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Invoker sends one request and reports whether it succeeded.
type Invoker func(ctx context.Context) error

// Options shape a ramp.
type Options struct {
	// P99 and MaxErrorRate are the SLO a load must keep to be sustainable.
	P99          time.Duration
	MaxErrorRate float64 // a fraction: 0.001 is 0.1 %
	// The ramp: StartRPS, then each step Growth times the last, for
	// StepDuration each, up to MaxRPS; then Refine bisection steps between
	// the last sustainable rate and the first that was not.
	StartRPS     float64
	Growth       float64
	StepDuration time.Duration
	MaxRPS       float64
	Refine       int
	// MaxInFlight bounds the requests outstanding at once; a request that
	// would exceed it is dropped, and counts as an error.
	MaxInFlight int
	// StepStarted and Progress, if set, are told of each step as it starts
	// (its offered load) and as it ends.
	StepStarted func(rps float64)
	Progress    func(Step)
}

func (o *Options) defaults() {
	if o.P99 <= 0 {
		o.P99 = 300 * time.Millisecond
	}
	if o.StartRPS <= 0 {
		o.StartRPS = 5
	}
	if o.Growth <= 1 {
		o.Growth = 1.5
	}
	if o.StepDuration <= 0 {
		o.StepDuration = 10 * time.Second
	}
	if o.MaxRPS <= 0 {
		o.MaxRPS = 20000
	}
	if o.Refine < 0 {
		o.Refine = 0
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 4096
	}
}

// Step is what one offered load gave.
type Step struct {
	OfferedRPS  float64       `json:"offered_rps"`
	AchievedRPS float64       `json:"achieved_rps"` // successful answers per second
	P50         time.Duration `json:"-"`
	P90         time.Duration `json:"-"`
	P99         time.Duration `json:"-"`
	Mean        time.Duration `json:"-"`
	Requests    int           `json:"requests"`
	Errors      int           `json:"errors"` // failed or dropped
	ErrorRate   float64       `json:"error_rate"`
	Sustainable bool          `json:"sustainable"`
	// The window the step ran in (to read its metrics afterwards).
	Start, End time.Time `json:"-"`
}

// Result is a whole ramp.
type Result struct {
	Steps []Step
	// Max is the highest sustainable step, Knee the step where latency
	// starts to climb (the knee of the p99 curve, at or below Max).
	Max, Knee Step
}

// ErrNothingSustainable: even the first step broke the SLO.
var ErrNothingSustainable = errors.New("no load is sustainable within the SLO: lower --start-rps, or loosen --p99 or --max-error-rate")

// Run ramps open-loop load through inv until the SLO breaks, then refines
// the boundary. Open loop: requests are sent on a schedule whatever the
// answers do, and each latency counts from its scheduled time, so a slow
// server cannot hide its queueing (no coordinated omission).
func Run(ctx context.Context, inv Invoker, o Options) (Result, error) {
	o.defaults()
	var res Result
	step := func(rps float64) (Step, error) {
		if o.StepStarted != nil {
			o.StepStarted(rps)
		}
		s := runStep(ctx, inv, rps, o)
		if err := ctx.Err(); err != nil {
			return s, err
		}
		res.Steps = append(res.Steps, s)
		if o.Progress != nil {
			o.Progress(s)
		}
		return s, nil
	}
	good, bad := 0.0, 0.0
	for rps := o.StartRPS; rps <= o.MaxRPS; rps *= o.Growth {
		s, err := step(rps)
		if err != nil {
			return res, err
		}
		if !s.Sustainable {
			bad = rps
			break
		}
		good = rps
	}
	if good == 0 {
		return res, ErrNothingSustainable
	}
	for range o.Refine {
		if bad == 0 || bad/good < 1.05 {
			break
		}
		mid := math.Sqrt(good * bad)
		s, err := step(mid)
		if err != nil {
			return res, err
		}
		if s.Sustainable {
			good = mid
		} else {
			bad = mid
		}
	}
	for _, s := range res.Steps {
		if s.Sustainable && s.OfferedRPS >= res.Max.OfferedRPS {
			res.Max = s
		}
	}
	res.Knee = knee(res.Steps, res.Max)
	return res, nil
}

// runStep offers rps for the step's duration.
func runStep(ctx context.Context, inv Invoker, rps float64, o Options) Step {
	n := int(math.Round(rps * o.StepDuration.Seconds()))
	interval := time.Duration(float64(time.Second) / rps)
	lat := make([]time.Duration, n)
	ok := make([]bool, n)
	var inflight atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
				wg.Wait()
				return Step{OfferedRPS: rps}
			}
		}
		if inflight.Load() >= int64(o.MaxInFlight) {
			lat[i] = math.MaxInt64 // dropped
			continue
		}
		inflight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer inflight.Add(-1)
			err := inv(ctx)
			lat[i] = time.Since(due) // from when it was due, not when it went
			ok[i] = err == nil
		}()
	}
	wg.Wait()
	end := time.Now()
	s := Step{OfferedRPS: rps, Requests: n, Start: start, End: end}
	var good []time.Duration
	var sum time.Duration
	for i := range n {
		if ok[i] {
			good = append(good, lat[i])
			sum += lat[i]
		} else {
			s.Errors++
		}
	}
	if n > 0 {
		s.ErrorRate = float64(s.Errors) / float64(n)
	}
	s.AchievedRPS = float64(len(good)) / end.Sub(start).Seconds()
	slices.Sort(good)
	if len(good) > 0 {
		s.P50, s.P90, s.P99 = quantile(good, 0.5), quantile(good, 0.9), quantile(good, 0.99)
		s.Mean = sum / time.Duration(len(good))
	}
	s.Sustainable = len(good) > 0 && s.P99 <= o.P99 && s.ErrorRate <= o.MaxErrorRate
	return s
}

// quantile of sorted durations (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// knee finds where p99 starts to climb with load, with the Kneedle method
// (Satopää et al., 2011): both axes scaled to [0, 1] over the sustainable
// steps, the knee is the step farthest below the straight line from the
// lightest to the heaviest. A flat curve has its knee at max.
func knee(steps []Step, maxStep Step) Step {
	var pts []Step
	for _, s := range steps {
		if s.Sustainable {
			pts = append(pts, s)
		}
	}
	slices.SortFunc(pts, func(a, b Step) int { return cmpFloat(a.OfferedRPS, b.OfferedRPS) })
	if len(pts) < 3 {
		return maxStep
	}
	x0, x1 := pts[0].OfferedRPS, pts[len(pts)-1].OfferedRPS
	y0, y1 := float64(pts[0].P99), float64(pts[len(pts)-1].P99)
	if x1 <= x0 || y1 <= y0 {
		return maxStep
	}
	best, bestD := maxStep, 0.0
	for _, s := range pts {
		x := (s.OfferedRPS - x0) / (x1 - x0)
		y := (float64(s.P99) - y0) / (y1 - y0)
		if d := x - y; d > bestD {
			best, bestD = s, d
		}
	}
	if bestD < 0.1 { // no marked bend: latency grows about linearly
		return maxStep
	}
	return best
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
