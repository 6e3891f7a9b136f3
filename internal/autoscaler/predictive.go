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
// hour's capacity SchedulingBufferTime before the hour, and holds it to the
// hour's end. It never scales in
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
//
// Customized metrics (CustomizedLoadMetricSpecification,
// CustomizedScalingMetricSpecification, CustomizedCapacityMetricSpecification)
// are metric data queries, read hour by hour (each metric at a period of
// an hour, in the statistic given). The load is the total load, the
// scaling metric the load per unit of capacity that TargetValue applies
// to, and the capacity metric the capacity that carried it. As AWS
// documents, the capacity an hour needs comes from the history's
// relationship between them: the load one unit of capacity carried per
// unit of the scaling metric is the history's load over its scaling metric
// times its capacity, and an hour's capacity is its forecast load over that
// times TargetValue. A customized scaling metric needs the capacity metric
// (ebb publishes no metric of a variant's capacity to read it from); a
// capacity metric beside a predefined scaling metric is refused as unused
// (that metric times the capacity is the hour's Invocations over 60).

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
	// one unit of capacity carries per unit of the scaling metric, or 0
	// where the history tells it: the load over Scaling times Capacity
	// (1 where there is none), hour by hour.
	Load              []metricquery.Query
	PerUnit           float64
	Scaling, Capacity []metricquery.Query `json:",omitempty"`
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
	// The customized metrics' queries, each metric at a period of an hour.
	LoadQueries, ScalingQueries, CapacityQueries []metricquery.Query
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
	if !(in.TargetValue > 0) {
		return nil, errorf(ErrValidation, "The TargetValue of a predictive scaling policy must be greater than 0.")
	}
	for _, c := range []struct {
		member string
		qs     []metricquery.Query
	}{{"CustomizedLoadMetricSpecification", in.LoadQueries}, {"CustomizedScalingMetricSpecification", in.ScalingQueries},
		{"CustomizedCapacityMetricSpecification", in.CapacityQueries}} {
		if len(c.qs) == 0 {
			continue
		}
		if err := s.checkQueries(c.member, c.qs); err != nil {
			return nil, err
		}
	}
	hasLoad := in.LoadMetric != "" || len(in.LoadQueries) > 0
	hasScaling := in.ScalingMetric != "" || len(in.ScalingQueries) > 0
	switch {
	case in.Pair != "" && (hasLoad || hasScaling || len(in.CapacityQueries) > 0):
		return nil, errorf(ErrValidation, "Specify a PredefinedMetricPairSpecification or a load metric and a scaling metric, not both.")
	case in.Pair == "" && (!hasLoad || !hasScaling):
		return nil, errorf(ErrValidation, "A predictive metric specification needs a PredefinedMetricPairSpecification, or a load metric (PredefinedLoadMetricSpecification or CustomizedLoadMetricSpecification) and a scaling metric (PredefinedScalingMetricSpecification or CustomizedScalingMetricSpecification).")
	case in.LoadMetric != "" && len(in.LoadQueries) > 0:
		return nil, errorf(ErrValidation, "Specify a PredefinedLoadMetricSpecification or a CustomizedLoadMetricSpecification, not both.")
	case in.ScalingMetric != "" && len(in.ScalingQueries) > 0:
		return nil, errorf(ErrValidation, "Specify a PredefinedScalingMetricSpecification or a CustomizedScalingMetricSpecification, not both.")
	case len(in.ScalingQueries) > 0 && len(in.CapacityQueries) == 0:
		return nil, errorf(ErrValidation, "A CustomizedScalingMetricSpecification needs a CustomizedCapacityMetricSpecification: ebb publishes no metric of a variant's capacity to learn from.")
	case len(in.ScalingQueries) == 0 && len(in.CapacityQueries) > 0:
		return nil, errorf(ErrValidation, "A CustomizedCapacityMetricSpecification applies only with a CustomizedScalingMetricSpecification.")
	}
	p := &Predictive{Config: in.Raw, TargetValue: in.TargetValue, Buffer: 300 * time.Second}
	predefined := func(scalingMetric string) ([]metricquery.Query, float64, error) {
		load, perUnit, ok := t.res.loadMetric(scalingMetric)
		if !ok {
			return nil, 0, errorf(ErrValidation, "Unsupported predefined metric type %s for predictive scaling of %s.", scalingMetric, t.ScalableDimension)
		}
		return load, perUnit, nil
	}
	if in.LoadMetric != "" && loadMetrics[in.LoadMetric] == "" {
		return nil, errorf(ErrValidation, "Unsupported predefined metric type %s for predictive scaling of %s.", in.LoadMetric, t.ScalableDimension)
	}
	var err error
	switch {
	case in.Pair != "":
		p.Load, p.PerUnit, err = predefined(in.Pair)
	case in.LoadMetric != "" && in.ScalingMetric != "":
		if loadMetrics[in.LoadMetric] != in.ScalingMetric {
			return nil, errorf(ErrValidation, "The load metric %s does not go with the scaling metric %s.", in.LoadMetric, in.ScalingMetric)
		}
		p.Load, p.PerUnit, err = predefined(in.ScalingMetric)
	case in.LoadMetric != "": // and a customized scaling metric
		p.Load, _, err = predefined(loadMetrics[in.LoadMetric])
		p.Scaling, p.Capacity = in.ScalingQueries, in.CapacityQueries
	case in.ScalingMetric != "": // and a customized load metric
		var load []metricquery.Query
		var perUnit float64
		load, perUnit, err = predefined(in.ScalingMetric)
		p.Load, p.Scaling = in.LoadQueries, perUnitQueries(load, perUnit)
	default:
		p.Load, p.Scaling, p.Capacity = in.LoadQueries, in.ScalingQueries, in.CapacityQueries
	}
	if err != nil {
		return nil, err
	}
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

// perUnitQueries are a predefined load's queries over perUnit: the
// predefined scaling metric times the capacity, hour by hour.
func perUnitQueries(load []metricquery.Query, perUnit float64) []metricquery.Query {
	qs := slices.Clone(load)
	for i := range qs {
		qs[i].ReturnData = false
	}
	return append(qs, metricquery.Query{ID: "per_unit", Expression: fmt.Sprintf("%s / %g", qs[len(qs)-1].ID, perUnit), ReturnData: true, Period: time.Hour})
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
	perUnit := pr.PerUnit
	if perUnit == 0 {
		if perUnit, err = learnPerUnit(s.o.Metrics, history, pr.Scaling, pr.Capacity, start, hour, now); err != nil {
			return err
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
	f := &Forecast{Made: now, Start: hour, Load: load, Capacity: scaling.CapacityForecast(load, pr.TargetValue, perUnit)}
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

// learnPerUnit is the load one unit of capacity carried per unit of the
// scaling metric over the hours of load (from start, until end): the
// hours' load over their scaling metric times their capacity, summed over
// the hours where all three are known and positive.
func learnPerUnit(st metricquery.Store, load []float64, scalingQ, capacityQ []metricquery.Query, start, end, now time.Time) (float64, error) {
	series := func(qs []metricquery.Query) ([]float64, error) {
		if len(qs) == 0 {
			return nil, nil
		}
		res, err := metricquery.Run(st, qs, start, end, now)
		if err != nil {
			return nil, err
		}
		for _, r := range res {
			if r.ReturnData {
				return r.Values, nil
			}
		}
		return nil, nil
	}
	sc, err := series(scalingQ)
	if err != nil {
		return 0, err
	}
	capacity, err := series(capacityQ)
	if err != nil {
		return 0, err
	}
	var carried, units float64
	for i, l := range load {
		if i >= len(sc) || !(l > 0) || !(sc[i] > 0) {
			continue
		}
		c := 1.0
		if capacity != nil {
			if i >= len(capacity) || !(capacity[i] > 0) {
				continue
			}
			c = capacity[i]
		}
		carried, units = carried+l, units+sc[i]*c
	}
	if units == 0 {
		return 0, fmt.Errorf("%w: no hour has the load, the scaling metric and the capacity to learn what a unit carries", forecast.ErrTooShort)
	}
	return carried / units, nil
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
