package autoscaler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/ebbscale/ebb/internal/forecast"
	"github.com/ebbscale/ebb/internal/metricquery"
	"github.com/ebbscale/ebb/internal/scaling"
	"github.com/ebbscale/ebb/internal/store"
)

// Predictive scaling (PolicyType PredictiveScaling), which AWS offers for
// ECS services only and ebb offers for SageMaker variants and inference
// components, with the same shapes: the policy forecasts its load metric
// (package forecast: from the last 14 days, at least one, hour by hour for
// 48 hours, made again every 6 hours), turns it into capacity at its
// TargetValue, and in ForecastAndScale mode raises the target to each
// hour's capacity SchedulingBufferTime before the hour. It never scales in
// on a forecast, and a target-tracking or step policy beside it never
// scales below the hour's forecast capacity: the higher capacity wins.
//
// The metric pairs ebb defines for SageMaker (AWS defines ECS's), as
// PredefinedMetricPairSpecification or as the PredefinedLoadMetric and
// PredefinedScalingMetric they stand for:
//
//	pair / scaling metric                          load metric
//	SageMakerVariantInvocationsPerInstance         SageMakerVariantTotalInvocations
//	SageMakerInferenceComponentInvocationsPerCopy  SageMakerInferenceComponentTotalInvocations
//
// The load is the variant's (or component's) Invocations summed per hour;
// the scaling metric is what target tracking tracks, invocations per
// instance (copy) per minute, so an hour's capacity is its load over 60 x
// TargetValue. Predictive scaling counts as dynamic scaling out:
// DynamicScalingOutSuspended stops it (ForecastOnly goes on forecasting).

// Predictive is a PredictiveScalingPolicyConfiguration, kept as given
// (Config) and as ebb runs it.
type Predictive struct {
	Config           json.RawMessage
	TargetValue      float64
	ForecastAndScale bool
	Buffer           time.Duration // SchedulingBufferTime
	IncreaseMax      bool          // MaxCapacityBreachBehavior IncreaseMaxCapacity
	MaxBuffer        int           // MaxCapacityBuffer, percent
	// Load is the load metric's query, summed per hour; PerUnit the load
	// one unit of capacity carries per unit of the scaling metric.
	Load    []metricquery.Query
	PerUnit float64
	// Forecast is the newest forecast, if one could be made; Tried when
	// one was last attempted.
	Forecast *Forecast `json:",omitempty"`
	Tried    time.Time
}

// Forecast is a predictive policy's forecast: made at Made, hour by hour
// from Start (the hours before Made's as earlier forecasts gave them).
type Forecast struct {
	Made     time.Time
	Start    time.Time
	Load     []float64
	Capacity []int
}

// PredictiveInput is a PredictiveScalingPolicyConfiguration, decoded.
type PredictiveInput struct {
	Raw                             json.RawMessage
	TargetValue                     float64
	Mode                            string
	SchedulingBufferTime            *int
	MaxCapacityBreachBehavior       string
	MaxCapacityBuffer               *int
	MetricSpecifications            int // how many were given
	Pair, LoadMetric, ScalingMetric string
	Customized                      []string // the customized specifications given, by member
}

// Predefined load metric types of predictive policies, each the total of
// a scaling metric (the pair's name).
var loadMetrics = map[string]string{
	"SageMakerVariantTotalInvocations":            InvocationsPerInstance,
	"SageMakerInferenceComponentTotalInvocations": InvocationsPerCopy,
}

// predictive resolves a predictive configuration for a target. AWS's
// messages for these are not documented; each names the member.
func (s *Service) predictive(t *Target, in *PredictiveInput) (*Predictive, error) {
	if in.MetricSpecifications != 1 {
		return nil, errorf(ErrValidation, "MetricSpecifications must hold exactly one metric specification (it holds %d).", in.MetricSpecifications)
	}
	if len(in.Customized) > 0 {
		return nil, errorf(ErrValidation, "ebb does not run customized metrics in predictive scaling policies yet (%s): use PredefinedMetricPairSpecification.", in.Customized[0])
	}
	if !(in.TargetValue > 0) {
		return nil, errorf(ErrValidation, "The TargetValue of a predictive scaling policy must be greater than 0.")
	}
	scalingMetric := in.Pair
	switch {
	case in.Pair != "" && (in.LoadMetric != "" || in.ScalingMetric != ""):
		return nil, errorf(ErrValidation, "Specify a PredefinedMetricPairSpecification or a PredefinedLoadMetricSpecification and a PredefinedScalingMetricSpecification, not both.")
	case in.Pair == "" && (in.LoadMetric == "" || in.ScalingMetric == ""):
		return nil, errorf(ErrValidation, "A predictive metric specification needs a PredefinedMetricPairSpecification, or a PredefinedLoadMetricSpecification and a PredefinedScalingMetricSpecification.")
	case in.Pair == "":
		if loadMetrics[in.LoadMetric] != in.ScalingMetric {
			return nil, errorf(ErrValidation, "The load metric %s does not go with the scaling metric %s.", in.LoadMetric, in.ScalingMetric)
		}
		scalingMetric = in.ScalingMetric
	}
	load, perUnit, ok := t.res.loadMetric(scalingMetric)
	if !ok {
		return nil, errorf(ErrValidation, "Unsupported predefined metric type %s for predictive scaling of %s.", scalingMetric, t.ScalableDimension)
	}
	p := &Predictive{Config: in.Raw, TargetValue: in.TargetValue, Buffer: 300 * time.Second, Load: load, PerUnit: perUnit}
	switch in.Mode {
	case "", "ForecastOnly":
	case "ForecastAndScale":
		p.ForecastAndScale = true
	}
	if in.SchedulingBufferTime != nil {
		p.Buffer = time.Duration(*in.SchedulingBufferTime) * time.Second
	}
	switch in.MaxCapacityBreachBehavior {
	case "", "HonorMaxCapacity":
		if in.MaxCapacityBuffer != nil && *in.MaxCapacityBuffer != 0 {
			return nil, errorf(ErrValidation, "MaxCapacityBuffer applies only with MaxCapacityBreachBehavior IncreaseMaxCapacity.")
		}
	case "IncreaseMaxCapacity":
		if in.MaxCapacityBuffer == nil {
			return nil, errorf(ErrValidation, "MaxCapacityBuffer is required when MaxCapacityBreachBehavior is IncreaseMaxCapacity.")
		}
		p.IncreaseMax, p.MaxBuffer = true, *in.MaxCapacityBuffer
	}
	return p, nil
}

// forecastDue reports whether a predictive policy forecasts again: every
// forecast.Refresh, and every hour while it has too little history.
func (p *Predictive) forecastDue(now time.Time) bool {
	if p.Forecast != nil {
		return now.Sub(p.Forecast.Made) >= forecast.Refresh
	}
	return p.Tried.IsZero() || now.Sub(p.Tried) >= time.Hour
}

// refreshForecast forecasts a predictive policy's load from the hours
// before now's and its capacity at the policy's target.
func (s *Service) refreshForecast(p *Policy, now time.Time) error {
	pr := p.Pred
	pr.Tried = now
	hour := now.Truncate(time.Hour)
	start := hour.Add(-forecast.MaxHistory)
	res, err := metricquery.Run(s.o.Metrics, pr.Load, start, hour, now)
	if err != nil {
		return err
	}
	var history []float64
	for _, r := range res {
		if r.ReturnData {
			history = r.Values
			if len(r.Timestamps) > 0 {
				start = r.Timestamps[0]
			}
		}
	}
	// Leading hours without data are before the metric existed.
	for len(history) > 0 && math.IsNaN(history[0]) {
		history, start = history[1:], start.Add(time.Hour)
	}
	load, err := forecast.Forecast(start, history, int(forecast.Horizon/time.Hour))
	if err != nil {
		return err
	}
	f := &Forecast{Made: now, Start: hour, Load: load, Capacity: scaling.CapacityForecast(load, pr.TargetValue, pr.PerUnit)}
	if old := pr.Forecast; old != nil && !old.Start.After(hour) {
		// The hours the old forecast held before this one's stay, as they
		// were forecast (GetPredictiveScalingForecast and the console
		// compare them with the load), at most forecast.MaxHistory of them.
		k := min(len(old.Load), int(hour.Sub(old.Start)/time.Hour))
		keep := max(0, k-int(forecast.MaxHistory/time.Hour))
		if k == int(hour.Sub(old.Start)/time.Hour) { // contiguous
			f.Start = old.Start.Add(time.Duration(keep) * time.Hour)
			f.Load = append(slices.Clone(old.Load[keep:k]), f.Load...)
			f.Capacity = append(slices.Clone(old.Capacity[keep:k]), f.Capacity...)
		}
	}
	pr.Forecast = f
	return nil
}

// scheduled is the capacity a predictive policy wants in force at now on
// t, within t's bounds; false without a forecast covering now.
func (p *Predictive) scheduled(t *Target, now time.Time) (int, bool) {
	if p.Forecast == nil {
		return 0, false
	}
	c, ok := scaling.Forecast{Start: p.Forecast.Start, Capacity: p.Forecast.Capacity}.At(now, p.Buffer)
	if !ok {
		return 0, false
	}
	return scaling.PredictiveBounds(c, t.MinCapacity, t.MaxCapacity, p.IncreaseMax, p.MaxBuffer), true
}

// predictiveFloor is the capacity t's ForecastAndScale policies hold at
// now (0 without one): other policies do not scale in below it. Callers
// hold s.mu.
func (s *Service) predictiveFloor(t *Target, now time.Time) int {
	c, _ := s.forecastCapacity(t, now, true)
	return c
}

// forecastCapacity is the highest capacity t's predictive policies (those
// that scale, if scaling) schedule at now; false without a forecast
// covering now. Callers hold s.mu.
func (s *Service) forecastCapacity(t *Target, now time.Time, scaling bool) (int, bool) {
	most, found := 0, false
	for _, p := range s.byTarget[t.Key()] {
		if p.Pred == nil || scaling && !p.Pred.ForecastAndScale {
			continue
		}
		if c, ok := p.Pred.scheduled(t, now); ok {
			most, found = max(most, c), true
		}
	}
	return most, found
}

// predict forecasts where due, and raises each target with a
// ForecastAndScale policy to the capacity its forecast schedules. Callers
// hold s.mu.
func (s *Service) predict(ctx context.Context, now time.Time) {
	for _, p := range s.policies {
		if p.Pred == nil {
			continue
		}
		t := s.targets[p.TargetKey]
		if t == nil {
			continue
		}
		if p.Pred.forecastDue(now) {
			if err := s.refreshForecast(p, now); err == nil {
				s.log.Info("load forecast", "policy", p.Name, "resource", t.ResourceID, "hours", len(p.Pred.Forecast.Load))
			} else if !errors.Is(err, forecast.ErrTooShort) {
				s.log.Warn("load forecast", "policy", p.Name, "resource", t.ResourceID, "err", err)
			}
			store.Report(s.log, "autoscaler", "save forecast", s.save(ctx, kindPolicy, p.ARN, p, false))
		}
		if !p.Pred.ForecastAndScale || t.Suspended.DynamicScalingOutSuspended {
			continue
		}
		want, ok := p.Pred.scheduled(t, now)
		if !ok {
			continue
		}
		current, err := s.current(ctx, t)
		if err != nil {
			continue
		}
		if a := s.pending[t.Key()]; a != nil {
			current = a.Desired
		}
		if want > current {
			hour := now.Add(p.Pred.Buffer).Truncate(time.Hour)
			cause := fmt.Sprintf("predictive scaling policy %s forecast capacity %d for the hour from %s", p.Name, want, hour.UTC().Format("2006-01-02T15:04Z"))
			s.startActivity(ctx, t, want, current, cause, "", true) // no cooldown: the hour says when
		}
	}
}

// predicted is the capacity t's predictive policies (of either mode)
// forecast for the hour of now, nil without a forecast
// (PredictedCapacity). Callers hold s.mu.
func (s *Service) predicted(t *Target, now time.Time) *int {
	if c, ok := s.forecastCapacity(t, now, false); ok {
		return &c
	}
	return nil
}

// ForecastView is GetPredictiveScalingForecast's answer: the policy's
// forecast hours in the range asked, and when it was made.
type ForecastView struct {
	Config   json.RawMessage // the policy's configuration, as given
	Times    []time.Time
	Load     []float64
	Capacity []float64
	Made     time.Time
}

// MaxForecastRange is the longest range GetPredictiveScalingForecast
// answers (the model: 30 days).
const MaxForecastRange = 30 * 24 * time.Hour

// PredictiveForecast returns a predictive policy's forecast for the hours
// of [start, end): empty lists before its first forecast.
func (s *Service) PredictiveForecast(ns, id, dim, name string, start, end time.Time) (ForecastView, error) {
	switch now := s.o.Clock.Now(); {
	case !end.After(start):
		return ForecastView{}, errorf(ErrValidation, "EndTime must be after StartTime.")
	case end.Sub(start) > MaxForecastRange:
		return ForecastView{}, errorf(ErrValidation, "The time range between StartTime and EndTime must be at most 30 days.")
	case start.Before(now.AddDate(-1, 0, 0)):
		return ForecastView{}, errorf(ErrValidation, "StartTime must be at most one year before now.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.target(ns, id, dim)
	if err != nil {
		return ForecastView{}, errorf(ErrValidation, "%v", err)
	}
	var p *Policy
	for _, q := range s.byTarget[t.Key()] {
		if q.Name == name {
			p = q
		}
	}
	if p == nil || p.Pred == nil {
		return ForecastView{}, errorf(ErrValidation, "No predictive scaling policy named %s exists for resource %s.", name, id)
	}
	out := ForecastView{Config: p.Pred.Config, Times: []time.Time{}, Load: []float64{}, Capacity: []float64{}}
	if f := p.Pred.Forecast; f != nil {
		out.Made = f.Made
		for i := range f.Load {
			if at := f.Start.Add(time.Duration(i) * time.Hour); !at.Before(start) && at.Before(end) {
				out.Times = append(out.Times, at)
				out.Load = append(out.Load, f.Load[i])
				out.Capacity = append(out.Capacity, float64(scaling.PredictiveBounds(f.Capacity[i], t.MinCapacity, t.MaxCapacity, p.Pred.IncreaseMax, p.Pred.MaxBuffer)))
			}
		}
	}
	return out, nil
}
