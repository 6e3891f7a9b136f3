package modelmetrics

import (
	"maps"
	"slices"
	"time"

	"github.com/ebbscale/ebb/internal/metrics"
)

// Target is an instance (or an inference component's copy) that is read.
type Target struct {
	Endpoint, Variant string
	Component         string // set for a copy
	Instance          string
}

// group is the fleet a target's figures add up in.
func (t Target) group() []metrics.Dimension {
	if t.Component != "" {
		return []metrics.Dimension{{Name: "InferenceComponentName", Value: t.Component}}
	}
	return []metrics.Dimension{{Name: "EndpointName", Value: t.Endpoint}, {Name: "VariantName", Value: t.Variant}}
}

func (t Target) own() []metrics.Dimension {
	if t.Component != "" {
		return []metrics.Dimension{{Name: "InferenceComponentName", Value: t.Component}, {Name: "InstanceId", Value: t.Instance}}
	}
	return []metrics.Dimension{{Name: "EndpointName", Value: t.Endpoint}, {Name: "VariantName", Value: t.Variant}, {Name: "InstanceId", Value: t.Instance}}
}

// Scrape is what one target answered.
type Scrape struct {
	Target
	Values map[string]Value
}

// Aggregator turns scrapes into datapoints (the package documentation
// says which). It remembers each instance's counters to publish their
// increase: the first scrape of a counter publishes nothing, a counter
// that went down was reset and counts from zero, and an instance that
// did not answer is forgotten.
type Aggregator struct {
	last map[string]map[string]float64 // instance -> counter -> total
}

// ScrapedTargets is the metric of how many targets of a fleet answered.
const ScrapedTargets = "ScrapedTargets"

// Points are the datapoints of one round of scrapes at now: those of the
// targets that answered.
func (a *Aggregator) Points(now time.Time, scrapes []Scrape) []metrics.Point {
	last := map[string]map[string]float64{}
	type fleet struct {
		dims    []metrics.Dimension
		targets float64
		sums    map[string]float64
		ratios  map[string][]float64
	}
	fleets := map[string]*fleet{}
	var order []string
	var pts []metrics.Point
	put := func(dims []metrics.Dimension, name, unit string, v float64) {
		pts = append(pts, metrics.Point{Series: metrics.Series{Namespace: Namespace, MetricName: name, Dimensions: dims}, Unit: unit, Timestamp: now, Value: v})
	}
	for _, s := range scrapes {
		key := groupKey(s.Target)
		f := fleets[key]
		if f == nil {
			f = &fleet{dims: s.group(), sums: map[string]float64{}, ratios: map[string][]float64{}}
			fleets[key] = f
			order = append(order, key)
		}
		f.targets++
		before := a.last[s.Instance]
		last[s.Instance] = map[string]float64{}
		for _, name := range slices.Sorted(maps.Keys(s.Values)) {
			v := s.Values[name]
			switch {
			case v.Counter:
				last[s.Instance][name] = v.V
				prev, seen := before[name]
				if !seen {
					continue // an increase needs a total before
				}
				inc := v.V - prev
				if inc < 0 {
					inc = v.V // reset
				}
				put(s.own(), name, "Count", inc)
				f.sums[name] += inc
			case v.Kind == Ratio:
				put(s.own(), name, "None", v.V)
				f.ratios[name] = append(f.ratios[name], v.V)
			default:
				put(s.own(), name, "Count", v.V)
				f.sums[name] += v.V
			}
		}
	}
	a.last = last
	for _, key := range order {
		f := fleets[key]
		put(f.dims, ScrapedTargets, "Count", f.targets)
		for _, name := range slices.Sorted(maps.Keys(f.sums)) {
			put(f.dims, name, "Count", f.sums[name])
		}
		for _, name := range slices.Sorted(maps.Keys(f.ratios)) {
			pts = append(pts, metrics.Point{Series: metrics.Series{Namespace: Namespace, MetricName: name, Dimensions: f.dims}, Unit: "None",
				Timestamp: now, Values: f.ratios[name]})
		}
	}
	return pts
}

func groupKey(t Target) string {
	if t.Component != "" {
		return "c\x00" + t.Component
	}
	return "v\x00" + t.Endpoint + "\x00" + t.Variant
}
