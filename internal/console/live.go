package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ebbscale/ebb/internal/autoscaler"
	"github.com/ebbscale/ebb/internal/hosting"
	"github.com/ebbscale/ebb/internal/metricquery"
	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/modelmetrics"
	"github.com/ebbscale/ebb/internal/monitor"
)

// Snapshot is what a live endpoint page draws: every chart over one time
// range, and the events on the same axis. Times are Unix milliseconds on
// ebb's clock; the range is [Start, End), End the end of the present
// period (so that a snapshot changes only when something in it does).
type Snapshot struct {
	End      int64        `json:"end"`
	Start    int64        `json:"start"`
	Status   string       `json:"status"`
	Variants []variantNow `json:"variants"`
	// Components are the endpoint's inference components (copies).
	Components []variantNow `json:"components"`
	Charts     []Chart      `json:"charts"`
	Events     []Event      `json:"events"`
	Alarms     []alarmNow   `json:"alarms"`
}

type variantNow struct {
	Name    string  `json:"name"`
	Current int     `json:"current"`
	Desired int     `json:"desired"`
	Weight  float64 `json:"weight"`
}

// Chart is one chart: series over shared times, and horizontal lines
// (targets, alarm thresholds, step bounds).
type Chart struct {
	ID     string   `json:"id"`
	Title  string   `json:"title"`
	Unit   string   `json:"unit"`
	Times  []int64  `json:"times"` // ms
	Series []Series `json:"series"`
	Lines  []Line   `json:"lines,omitempty"`
}

// Series is a line of a chart; nil values are periods without data.
type Series struct {
	Label  string     `json:"label"`
	Values []*float64 `json:"values"`
	Step   bool       `json:"step,omitempty"`
	// Axis "right" draws the series on a second axis (another unit).
	Axis string `json:"axis,omitempty"`
}

// Line is a constant: a target value or a threshold.
type Line struct {
	Label string  `json:"label"`
	Value float64 `json:"value"`
	Kind  string  `json:"kind"` // target, high, low, step
}

// Event is a scaling activity (or not-scaled decision) or an alarm's state
// change.
type Event struct {
	Time    int64  `json:"time"`
	Kind    string `json:"kind"` // scaling, not-scaled, alarm
	Variant string `json:"variant,omitempty"`
	Title   string `json:"title"`
	Cause   string `json:"cause,omitempty"`
	Status  string `json:"status,omitempty"`
	State   string `json:"state,omitempty"` // an alarm's new state
	// Repeats counts the same decision not to scale taken again in a row
	// (every minute while an alarm stays in ALARM), folded into this one,
	// the newest; Since is the first's time.
	Repeats int   `json:"repeats,omitempty"`
	Since   int64 `json:"since,omitempty"`
}

type alarmNow struct {
	Name      string  `json:"name"`
	State     string  `json:"state"`
	Reason    string  `json:"reason"`
	Metric    string  `json:"metric"`
	Condition string  `json:"condition"`
	Threshold float64 `json:"threshold"`
	Updated   int64   `json:"updated"`
	// History is its newest history items in the time range (state
	// updates, actions, configuration updates), newest first.
	History []historyNow `json:"history"`
}

type historyNow struct {
	Time    int64  `json:"time"`
	Type    string `json:"type"`
	Summary string `json:"summary"`
}

// alarmHistoryItems is how many history items an alarm shows.
const alarmHistoryItems = 10

// rangeOf is a live page's time range and the period its charts use.
func rangeOf(s string) (time.Duration, time.Duration) {
	switch s {
	case "1h":
		return time.Hour, time.Minute
	case "3h":
		return 3 * time.Hour, time.Minute
	case "1d":
		return 24 * time.Hour, 5 * time.Minute
	}
	return 15 * time.Minute, time.Minute
}

// Snapshot reads an endpoint's charts and events over the span before now.
func (h *Handler) Snapshot(ctx context.Context, name, span string) (Snapshot, error) {
	ep, err := h.o.Endpoints.DescribeEndpoint(ctx, name)
	if err != nil {
		return Snapshot{}, err
	}
	length, period := rangeOf(span)
	now := h.o.Clock.Now()
	start := now.Add(-length).Truncate(period)
	s := Snapshot{End: now.Truncate(period).Add(period).UnixMilli(), Start: start.UnixMilli(), Status: ep.Status,
		Variants: []variantNow{}, Components: []variantNow{}, Events: []Event{}, Alarms: []alarmNow{}}
	grid := metricquery.Grid(start, now, period, now)
	times := make([]int64, len(grid))
	for i, t := range grid {
		times[i] = t.UnixMilli()
	}
	// What scales: the variants (instances), and the inference components
	// on them (copies), each with its activities and policies.
	instances := &Chart{ID: "instances", Title: "Instances", Unit: "count", Times: times, Series: []Series{}}
	capacity := map[string]*Chart{"instances": instances,
		"provisioned": {ID: "provisioned", Title: "Provisioned concurrency", Unit: "count", Times: times, Series: []Series{}},
		"copies":      {ID: "copies", Title: "Inference component copies", Unit: "count", Times: times, Series: []Series{}}}
	for _, v := range ep.Variants {
		s.Variants = append(s.Variants, variantNow{Name: v.Name, Current: v.CurrentCount, Desired: v.DesiredCount, Weight: v.CurrentWeight})
	}
	components, err := h.components(ctx, name)
	if err != nil {
		return Snapshot{}, err
	}
	for _, c := range components {
		s.Components = append(s.Components, variantNow{Name: c.Name, Current: c.CurrentCopies, Desired: c.DesiredCopies})
	}
	policy := []Chart{}
	alarmNames := map[string]bool{}
	for _, t := range targets(ep, components) {
		chart := capacity[t.chart]
		acts, err := h.o.Scaling.Activities(ctx, "sagemaker", t.resource, t.dim, true, start)
		if err != nil {
			return Snapshot{}, err
		}
		desired, current := instanceSteps(acts, grid, period, now, t.desired, t.current)
		prefix := ""
		if len(ep.Variants) > 1 || t.chart == "copies" {
			prefix = t.name + " "
		}
		chart.Series = append(chart.Series, Series{Label: prefix + "desired", Values: desired, Step: true},
			Series{Label: prefix + "in service", Values: current, Step: true})
		for _, a := range acts { // since start: the store filters
			e := Event{Time: a.StartTime.UnixMilli(), Kind: "scaling", Variant: t.name, Title: a.Description, Cause: a.Cause, Status: a.StatusCode}
			if len(a.NotScaledReasons) > 0 {
				e.Kind = "not-scaled"
				var why []string
				for _, r := range a.NotScaledReasons {
					why = append(why, r.Code)
				}
				e.Title += " Not scaled: " + strings.Join(why, ", ") + "."
			}
			s.Events = append(s.Events, e)
		}
		for _, p := range h.o.Scaling.Policies("sagemaker", nil, t.resource, "") {
			if p.Pred != nil {
				c, err := h.predictiveChart(p, t.name, prefix, start, now)
				if err != nil {
					return Snapshot{}, err
				}
				policy = append(policy, c)
				continue
			}
			alarms := h.policyAlarms(p)
			for _, a := range alarms {
				alarmNames[a.AlarmName] = true
			}
			c, err := h.policyChart(p, alarms, t.name, prefix, start, now, times)
			if err != nil {
				return Snapshot{}, err
			}
			policy = append(policy, c)
		}
	}
	// A serverless endpoint has no instances to count: its environments
	// follow its invocations (the serverless chart).
	if !serverless(ep) {
		s.Charts = append(s.Charts, *instances)
	}
	for _, id := range []string{"provisioned", "copies"} {
		if c := capacity[id]; len(c.Series) > 0 {
			s.Charts = append(s.Charts, *c)
		}
	}
	s.Charts = append(s.Charts, policy...)
	dims := func(variant string) []metrics.Dimension {
		d := []metrics.Dimension{{Name: "EndpointName", Value: name}}
		if variant != "" {
			d = append(d, metrics.Dimension{Name: "VariantName", Value: variant})
		}
		return d
	}
	// Whose metrics: each variant's, and each inference component's (under
	// its name alone, as SageMaker publishes them).
	type subject struct {
		name      string
		dims      []metrics.Dimension
		component bool
	}
	var subjects []subject
	for _, v := range ep.Variants {
		subjects = append(subjects, subject{v.Name, dims(v.Name), false})
	}
	for _, c := range components {
		subjects = append(subjects, subject{c.Name, []metrics.Dimension{{Name: "InferenceComponentName", Value: c.Name}}, true})
	}
	type stat struct{ ns, metric, stat, label string }
	add := func(c *Chart, scale float64, ofVariant, ofComponent []stat) error {
		for _, sub := range subjects {
			stats := ofVariant
			if sub.component {
				stats = ofComponent
			}
			for _, st := range stats {
				vals, err := h.read(metricquery.MetricStat{Series: metrics.Series{Namespace: st.ns, MetricName: st.metric, Dimensions: sub.dims}, Period: period, Stat: st.stat}, start, now, grid, scale)
				if err != nil {
					return err
				}
				if vals != nil {
					label := st.label
					if len(subjects) > 1 {
						label = sub.name + " " + label
					}
					c.Series = append(c.Series, Series{Label: label, Values: vals})
				}
			}
		}
		return nil
	}
	const sm, host, ic = "AWS/SageMaker", "/aws/sagemaker/Endpoints", "/aws/sagemaker/InferenceComponents"
	invocations := []stat{{sm, "Invocations", "Sum", "invocations"}, {sm, "Invocation5XXErrors", "Sum", "5XX errors"}, {sm, "Invocation4XXErrors", "Sum", "4XX errors"}}
	latency := []stat{{sm, "ModelLatency", "p50", "p50"}, {sm, "ModelLatency", "p99", "p99"}}
	const ms = modelmetrics.Namespace
	engineQueue := []stat{{ms, "vllm:num_requests_waiting", "Average", "waiting"}, {ms, "vllm:num_requests_running", "Average", "running"},
		{ms, "tgi_queue_size", "Average", "waiting"}, {ms, "tgi_batch_current_size", "Average", "running"},
		{ms, "sglang:num_queue_reqs", "Average", "waiting"}, {ms, "sglang:num_running_reqs", "Average", "running"}}
	kvCache := []stat{{ms, "vllm:kv_cache_usage_perc", "Average", "mean"}, {ms, "vllm:kv_cache_usage_perc", "Maximum", "fullest instance"},
		{ms, "vllm:gpu_cache_usage_perc", "Average", "mean"}, {ms, "vllm:gpu_cache_usage_perc", "Maximum", "fullest instance"},
		{ms, "sglang:token_usage", "Average", "mean"}, {ms, "sglang:token_usage", "Maximum", "fullest instance"}}
	for _, c := range []struct {
		id, title, unit        string
		scale                  float64
		ofVariant, ofComponent []stat
		optional               bool // drawn only with data: published by some models only
	}{
		{"invocations", "Invocations", "per period", 1, invocations, invocations, false},
		{"latency", "ModelLatency", "ms", 0.001, latency, latency, false},
		{"utilization", "Utilization", "%", 1, []stat{{host, "CPUUtilization", "Average", "CPU"}, {host, "MemoryUtilization", "Average", "memory"},
			{host, "GPUUtilization", "Average", "GPU"}, {host, "GPUMemoryUtilization", "Average", "GPU memory"}},
			[]stat{{ic, "CPUUtilizationNormalized", "Average", "CPU of its cores"}, {ic, "MemoryUtilizationNormalized", "Average", "memory of its reservation"},
				{ic, "GPUUtilizationNormalized", "Average", "GPU"}, {ic, "GPUMemoryUtilizationNormalized", "Average", "GPU memory"}}, true},
		// What the model server reports of itself, where it asks ebb to
		// read it (modelmetrics).
		{"model-server", "Model server queue", "requests", 1, engineQueue, engineQueue, true},
		{"kv-cache", "Model server KV cache", "%", 100, kvCache, kvCache, true},
	} {
		ch := Chart{ID: c.id, Title: c.title, Unit: c.unit, Times: times, Series: []Series{}}
		if err := add(&ch, c.scale, c.ofVariant, c.ofComponent); err != nil {
			return Snapshot{}, err
		}
		if len(ch.Series) > 0 || !c.optional {
			s.Charts = append(s.Charts, ch)
		}
	}
	for _, v := range ep.Variants {
		if v.Serverless != nil {
			ch, err := h.serverlessCharts(v, dims(v.Name), start, now, grid, times, period)
			if err != nil {
				return Snapshot{}, err
			}
			s.Charts = append(s.Charts, ch...)
		}
	}
	// A deployment's fleets, by the configuration each runs (the
	// EndpointConfigName dimension, published while one runs): each
	// fleet's share of its variant's invocations over time, so that the
	// steps, the cut-over or the rollback show; drawn while a deployment
	// runs and while the range holds one.
	ch := Chart{ID: "fleets", Title: "Traffic share by fleet", Unit: "%", Times: times}
	if ep.Pending != nil {
		ch.Title += " (deployment to " + ep.Pending.ConfigName + " in progress)"
	}
	for _, v := range ep.Variants {
		var configs []string
		if ep.Pending != nil {
			configs = []string{ep.ConfigName, ep.Pending.ConfigName}
		}
		for _, ser := range h.o.Metrics.List(sm, "Invocations", append(dims(v.Name), metrics.Dimension{Name: "EndpointConfigName"}), start) {
			for _, d := range ser.Dimensions {
				if d.Name == "EndpointConfigName" && !slices.Contains(configs, d.Value) {
					configs = append(configs, d.Value)
				}
			}
		}
		shares, err := h.fleetShares(dims(v.Name), configs, start, now, grid, period)
		if err != nil {
			return Snapshot{}, err
		}
		for i, cfg := range configs {
			ch.Series = append(ch.Series, Series{Label: v.Name + " on " + cfg, Values: shares[i]})
		}
	}
	if len(ch.Series) > 0 {
		s.Charts = append(s.Charts, ch)
	}
	if len(ep.AsyncConfig) > 0 {
		ch := Chart{ID: "async", Title: "Async queue", Unit: "", Times: times}
		for _, st := range []stat{{sm, "ApproximateBacklogSize", "Average", "backlog (requests)"}, {sm, "ApproximateAgeOfOldestRequest", "Maximum", "oldest request (s)"}} {
			vals, err := h.read(metricquery.MetricStat{Series: metrics.Series{Namespace: st.ns, MetricName: st.metric, Dimensions: dims("")}, Period: period, Stat: st.stat}, start, now, grid, 1)
			if err != nil {
				return Snapshot{}, err
			}
			ch.Series = append(ch.Series, Series{Label: st.label, Values: orEmpty(vals, len(grid))})
		}
		s.Charts = append(s.Charts, ch)
	}

	// Alarms: the policies' (by name) and any other on this endpoint's
	// metrics (by dimension), without copying every alarm.
	var alarms []monitor.MetricAlarm
	if len(alarmNames) > 0 {
		names := make([]string, 0, len(alarmNames))
		for n := range alarmNames {
			names = append(names, n)
		}
		alarms = h.o.Alarms.Describe(monitor.Filter{Names: names})
	}
	alarms = append(alarms, h.o.Alarms.Describe(monitor.Filter{Dimension: &metrics.Dimension{Name: "EndpointName", Value: name}})...)
	slices.SortFunc(alarms, func(a, b monitor.MetricAlarm) int { return strings.Compare(a.AlarmName, b.AlarmName) })
	alarms = slices.CompactFunc(alarms, func(a, b monitor.MetricAlarm) bool { return a.AlarmName == b.AlarmName })
	for _, a := range alarms {
		s.Alarms = append(s.Alarms, alarmNow{Name: a.AlarmName, State: string(a.StateValue), Reason: a.StateReason, Metric: alarmMetric(a),
			Condition: a.ComparisonOperator, Threshold: a.Threshold, Updated: a.StateUpdatedTimestamp.UnixMilli()})
		hist, err := h.o.Alarms.History(ctx, a.AlarmName, "", start, now.Add(time.Second)) // newest first
		if err != nil {
			return Snapshot{}, err
		}
		an := &s.Alarms[len(s.Alarms)-1]
		for _, it := range hist {
			if len(an.History) < alarmHistoryItems {
				an.History = append(an.History, historyNow{Time: it.Timestamp.UnixMilli(), Type: it.Type, Summary: it.Summary})
			}
			if it.Type == "StateUpdate" {
				s.Events = append(s.Events, Event{Time: it.Timestamp.UnixMilli(), Kind: "alarm", Title: a.AlarmName, Cause: it.Summary, State: newState(it.Data)})
			}
		}
	}
	slices.SortStableFunc(s.Events, func(a, b Event) int { return int(b.Time - a.Time) })
	s.Events = fold(s.Events)
	return s, nil
}

// fold folds runs of the same decision not to scale (newest first) into
// their newest, counting the others.
func fold(events []Event) []Event {
	out := events[:0]
	for _, e := range events {
		if n := len(out); n > 0 && e.Kind == "not-scaled" && out[n-1].Kind == e.Kind && out[n-1].Variant == e.Variant &&
			out[n-1].Title == e.Title && out[n-1].Cause == e.Cause {
			out[n-1].Repeats++
			out[n-1].Since = e.Time
			continue
		}
		out = append(out, e)
	}
	return out
}

// instanceSteps are a target's desired and in-service counts (instances or
// copies) at the end of each period of the grid, from its scaling
// activities (newest first): an activity sets the desired count when it
// starts and the count in service when it ends successfully. Before the
// first activity the counts are the one it started from; the present
// period ends with the state now. (A change made by hand, not by
// Application Auto Scaling, shows from the present period only.)
func instanceSteps(acts []autoscaler.Activity, grid []time.Time, period time.Duration, now time.Time, desiredNow, currentNow int) (desired, current []*float64) {
	desired, current = make([]*float64, len(grid)), make([]*float64, len(grid))
	var changes []autoscaler.Activity
	for _, a := range acts {
		if len(a.NotScaledReasons) == 0 && strings.HasPrefix(a.Description, "Setting desired") { // to 0 too: copies scale to zero
			changes = append(changes, a)
		}
	}
	slices.Reverse(changes) // oldest first
	at := func(t time.Time, ended bool) float64 {
		n := float64(desiredNow)
		if ended {
			n = float64(currentNow)
		}
		if len(changes) > 0 {
			n = float64(changes[0].From)
		}
		for _, a := range changes {
			switch {
			case !ended && !a.StartTime.After(t):
				n = float64(a.Desired)
			case ended && a.StatusCode == autoscaler.StatusSuccessful && a.EndTime != nil && !a.EndTime.After(t):
				n = float64(a.Desired)
			}
		}
		return n
	}
	for i, t := range grid {
		if t = t.Add(period); t.After(now) {
			t = now
		}
		d, c := at(t, false), at(t, true)
		desired[i], current[i] = &d, &c
	}
	if n := len(grid); n > 0 {
		d, c := float64(desiredNow), float64(currentNow)
		desired[n-1], current[n-1] = &d, &c
	}
	return desired, current
}

// policyChart draws a policy's metric as its alarms (those that run it,
// from policyAlarms) read it, with the
// target value and the alarms' thresholds (a target-tracking policy) or
// each alarm's threshold and step bounds (a step policy).
func (h *Handler) policyChart(p autoscaler.PolicyView, alarms []monitor.MetricAlarm, variant, prefix string, start, now time.Time, times []int64) (Chart, error) {
	c := Chart{ID: "policy-" + variant + "-" + p.Name, Title: prefix + "Policy " + p.Name, Times: times, Series: []Series{}}
	if p.TT != nil {
		c.Lines = append(c.Lines, Line{Label: "target", Value: p.TT.TargetValue, Kind: "target"})
	}
	for i, a := range alarms {
		if i == 0 || p.TT == nil {
			vals, err := h.alarmSeries(a, start, now, times)
			if err != nil {
				return c, err
			}
			c.Series = append(c.Series, Series{Label: alarmMetric(a), Values: vals})
		}
		kind := "high"
		if strings.HasPrefix(a.ComparisonOperator, "Less") {
			kind = "low"
		}
		label := a.AlarmName
		if p.TT != nil { // its own two: named by their role
			label = map[string]string{"high": "AlarmHigh", "low": "AlarmLow"}[kind]
		}
		c.Lines = append(c.Lines, Line{Label: label, Value: a.Threshold, Kind: kind})
		if p.Step != nil {
			for _, st := range p.Step.Steps {
				for _, b := range []*float64{st.Lower, st.Upper} {
					if b != nil && *b != 0 && !slices.ContainsFunc(c.Lines, func(l Line) bool { return l.Value == a.Threshold+*b }) {
						c.Lines = append(c.Lines, Line{Label: "step bound", Value: a.Threshold + *b, Kind: "step"})
					}
				}
			}
		}
	}
	if len(c.Series) == 0 {
		c.Series = append(c.Series, Series{Label: "no alarm yet", Values: make([]*float64, len(times))})
	}
	return c, nil
}

// predictiveChart draws a predictive policy's story hour by hour, from the
// range's start to the end of its forecast: the load as it came (its load
// metric summed per hour), the load forecast (the hours before the newest
// forecast as earlier ones gave them) and the capacity forecast, on a
// second axis (the capacity the policy schedules, ForecastAndScale, or
// would, ForecastOnly).
func (h *Handler) predictiveChart(p autoscaler.PolicyView, variant, prefix string, start, now time.Time) (Chart, error) {
	mode := "forecast only"
	if p.Pred.ForecastAndScale {
		mode = "forecast and scale"
	}
	c := Chart{ID: "policy-" + variant + "-" + p.Name, Title: prefix + "Policy " + p.Name + " (predictive, " + mode + ")", Unit: "per hour", Series: []Series{}}
	from, to := start.Truncate(time.Hour), now.Truncate(time.Hour).Add(time.Hour)
	f := p.Pred.Forecast
	if f != nil {
		if end := f.Start.Add(time.Duration(len(f.Load)) * time.Hour); end.After(to) {
			to = end
		}
	}
	var grid []time.Time
	for t := from; t.Before(to); t = t.Add(time.Hour) {
		grid = append(grid, t)
		c.Times = append(c.Times, t.UnixMilli())
	}
	// The load as the policy reads it (hour by hour; metric math
	// included).
	actual := make([]*float64, len(grid))
	res, err := metricquery.Run(h.o.Metrics, p.Pred.Load, from, now, now)
	if err != nil {
		return c, err
	}
	for _, r := range res {
		for i, at := range r.Timestamps {
			if k := int(at.Sub(from) / time.Hour); r.ReturnData && k >= 0 && k < len(grid) && !math.IsNaN(r.Values[i]) {
				v := r.Values[i]
				actual[k] = &v
			}
		}
	}
	load, capacity := make([]*float64, len(grid)), make([]*float64, len(grid))
	if f != nil {
		for i, t := range grid {
			if k := int(t.Sub(f.Start) / time.Hour); k >= 0 && k < len(f.Load) {
				l, n := f.Load[k], float64(f.Capacity[k])
				load[i], capacity[i] = &l, &n
			}
		}
	}
	c.Series = append(c.Series, Series{Label: "load", Values: actual}, Series{Label: "load forecast", Values: load},
		Series{Label: "capacity forecast", Values: capacity, Step: true, Axis: "right"})
	return c, nil
}

// policyAlarms are the alarms that run a policy: a target-tracking
// policy's own, or those whose actions name a step policy.
func (h *Handler) policyAlarms(p autoscaler.PolicyView) []monitor.MetricAlarm {
	if p.TT != nil {
		return h.o.Alarms.Describe(monitor.Filter{Names: []string{p.TT.AlarmHigh, p.TT.AlarmLow}})
	}
	var out []monitor.MetricAlarm
	for _, a := range h.o.Alarms.Describe(monitor.Filter{ActionPrefix: p.ARN}) {
		if slices.Contains(a.AlarmActions, p.ARN) || slices.Contains(a.OKActions, p.ARN) || slices.Contains(a.InsufficientDataActions, p.ARN) {
			out = append(out, a)
		}
	}
	return out
}

// alarmSeries reads an alarm's metric (or metric math) at its own period,
// placed on the chart's times (the nearest period at or before each).
func (h *Handler) alarmSeries(a monitor.MetricAlarm, start, now time.Time, times []int64) ([]*float64, error) {
	queries := a.Queries
	if len(queries) == 0 {
		queries = []metricquery.Query{{ID: "m", ReturnData: true, MetricStat: &metricquery.MetricStat{
			Series: metrics.Series{Namespace: a.Namespace, MetricName: a.MetricName, Dimensions: a.Dimensions},
			Period: time.Duration(a.Period) * time.Second, Stat: a.Stat(), Unit: a.Unit}}}
	}
	res, err := metricquery.Run(h.o.Metrics, queries, start, now, now)
	if err != nil {
		return nil, err
	}
	out := make([]*float64, len(times))
	for _, r := range res {
		if !r.ReturnData {
			continue
		}
		j := 0
		for i, t := range times {
			// The last point at or before t within one chart step.
			for j+1 < len(r.Timestamps) && r.Timestamps[j+1].UnixMilli() <= t {
				j++
			}
			if j < len(r.Timestamps) && r.Timestamps[j].UnixMilli() <= t && !math.IsNaN(r.Values[j]) {
				v := r.Values[j]
				out[i] = &v
			}
		}
	}
	return out, nil
}

// read reads one statistic on the grid, scaled; nil when it has no data
// at all (a metric the endpoint does not publish).
func (h *Handler) read(ms metricquery.MetricStat, start, now time.Time, grid []time.Time, scale float64) ([]*float64, error) {
	dps, err := metricquery.Read(h.o.Metrics, ms, nil, start, now, now)
	if err != nil || len(dps) == 0 {
		return nil, err
	}
	out := make([]*float64, len(grid))
	j := 0
	for i, t := range grid {
		for j < len(dps) && dps[j].Timestamp.Before(t) {
			j++
		}
		if j < len(dps) && dps[j].Timestamp.Equal(t) {
			v := dps[j].Value * scale
			out[i] = &v
		}
	}
	return out, nil
}

// serverlessCharts are a serverless variant's: its concurrent executions
// against MaxConcurrency and its provisioned concurrency, and the
// invocations provisioned concurrency served and those that spilled over
// to on-demand capacity.
func (h *Handler) serverlessCharts(v hosting.VariantView, dims []metrics.Dimension, start, now time.Time, grid []time.Time, times []int64, period time.Duration) ([]Chart, error) {
	read := func(metric, stat string, scale float64) ([]*float64, error) {
		vals, err := h.read(metricquery.MetricStat{Series: metrics.Series{Namespace: "AWS/SageMaker", MetricName: metric, Dimensions: dims}, Period: period, Stat: stat}, start, now, grid, scale)
		return orEmpty(vals, len(grid)), err
	}
	maxc := *v.Serverless.MaxConcurrency
	prefix := v.Name + " "
	conc := Chart{ID: "serverless-" + v.Name, Title: prefix + "concurrency (serverless)", Unit: "invocations at once", Times: times,
		Lines: []Line{{Label: "MaxConcurrency", Value: float64(maxc), Kind: "high"}}}
	// Executions are published as a share of MaxConcurrency.
	execs, err := read("ServerlessConcurrentExecutionsUtilization", "Maximum", float64(maxc))
	if err != nil {
		return nil, err
	}
	conc.Series = append(conc.Series, Series{Label: "executions (peak)", Values: execs})
	pc := v.Serverless.ProvisionedConcurrency
	if pc == nil {
		return []Chart{conc}, nil
	}
	conc.Lines = append(conc.Lines, Line{Label: "provisioned concurrency", Value: float64(*pc), Kind: "target"})
	onPC, err := read("ServerlessProvisionedConcurrencyExecutions", "Maximum", 1)
	if err != nil {
		return nil, err
	}
	conc.Series = append(conc.Series, Series{Label: "on provisioned concurrency (peak)", Values: onPC})
	spill := Chart{ID: "spillover-" + v.Name, Title: prefix + "provisioned concurrency and spillover", Unit: "invocations per period", Times: times}
	for _, m := range []struct{ metric, label string }{{"ServerlessProvisionedConcurrencyInvocations", "on provisioned concurrency"},
		{"ServerlessProvisionedConcurrencySpilloverInvocations", "spilled over (on demand)"}} {
		vals, err := read(m.metric, "Sum", 1)
		if err != nil {
			return nil, err
		}
		spill.Series = append(spill.Series, Series{Label: m.label, Values: vals})
	}
	return []Chart{conc, spill}, nil
}

// fleetShares reads each configuration's fleet invocations (of a variant
// of dims) and returns each one's share of their sum per period, in
// percent; a period without invocations has no share.
func (h *Handler) fleetShares(dims []metrics.Dimension, configs []string, start, now time.Time, grid []time.Time, period time.Duration) ([][]*float64, error) {
	counts := make([][]*float64, len(configs))
	for i, cfg := range configs {
		d := append(slices.Clone(dims), metrics.Dimension{Name: "EndpointConfigName", Value: cfg})
		vals, err := h.read(metricquery.MetricStat{Series: metrics.Series{Namespace: "AWS/SageMaker", MetricName: "Invocations", Dimensions: d}, Period: period, Stat: "Sum"}, start, now, grid, 1)
		if err != nil {
			return nil, err
		}
		counts[i] = orEmpty(vals, len(grid))
	}
	shares := make([][]*float64, len(configs))
	for i := range shares {
		shares[i] = make([]*float64, len(grid))
	}
	for k := range grid {
		total := 0.0
		for _, c := range counts {
			if c[k] != nil {
				total += *c[k]
			}
		}
		for i, c := range counts {
			if total > 0 {
				share := 0.0 // the fleet took none of the period's invocations
				if c[k] != nil {
					share = 100 * *c[k] / total
				}
				shares[i][k] = &share
			}
		}
	}
	return shares, nil
}

func orEmpty(v []*float64, n int) []*float64 {
	if v == nil {
		return make([]*float64, n)
	}
	return v
}

// alarmMetric names what an alarm watches.
func alarmMetric(a monitor.MetricAlarm) string {
	if len(a.Queries) > 0 {
		for _, q := range a.Queries {
			if q.ReturnData {
				if q.Expression != "" {
					return q.Expression
				}
				if q.MetricStat != nil {
					return q.MetricStat.Series.MetricName + " (" + q.MetricStat.Stat + ")"
				}
			}
		}
		return "metric math"
	}
	return a.MetricName + " (" + a.Stat() + ")"
}

// newState is the state a StateUpdate history item's data moved to.
func newState(data []byte) string {
	var d struct{ NewState struct{ StateValue string } }
	json.Unmarshal(data, &d)
	return d.NewState.StateValue
}

// live streams an endpoint's snapshot as Server-Sent Events: one at once,
// then one whenever it changes, checked every Refresh, and a comment every
// 15 s so that a closed page is noticed (?once=1: one snapshot as JSON).
func (h *Handler) live(w http.ResponseWriter, r *http.Request) {
	name, span := r.PathValue("name"), r.URL.Query().Get("range")
	if r.URL.Query().Get("once") != "" {
		s, err := h.Snapshot(r.Context(), name, span)
		if err != nil {
			h.fail(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s)
		return
	}
	h.stream(w, r, func() ([]byte, error) {
		s, err := h.Snapshot(r.Context(), name, span)
		if err != nil {
			return nil, err
		}
		return json.Marshal(s)
	})
}

// stream runs an event stream: next returns the data to send, sent when
// it differs from the last, until the client goes away.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request, next func() ([]byte, error)) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	rc := http.NewResponseController(w)
	tick := h.o.Wall.NewTicker(h.o.Refresh)
	defer tick.Stop()
	var last []byte
	quiet := time.Duration(0)
	for {
		b, err := next()
		if err != nil {
			fmt.Fprintf(w, "event: failure\ndata: %s\n\n", strings.ReplaceAll(err.Error(), "\n", " "))
			rc.Flush()
			return
		}
		var msg []byte
		switch {
		case !bytes.Equal(b, last):
			msg, last, quiet = append(append([]byte("data: "), b...), "\n\n"...), b, 0
		case quiet >= 15*time.Second:
			msg, quiet = []byte(": still here\n\n"), 0
		default:
			quiet += h.o.Refresh
		}
		if msg != nil {
			if _, err := w.Write(msg); err != nil || rc.Flush() != nil {
				return
			}
		}
		select {
		case <-r.Context().Done():
			return
		case <-h.o.Done:
			return
		case <-tick.C():
		}
	}
}
