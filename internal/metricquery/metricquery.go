// Package metricquery runs MetricDataQueries, the input of GetMetricData
// and of metric-math alarms: MetricStat queries read the metrics store,
// expressions are evaluated with mathexpr over the same time grid.
package metricquery

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/ebbscale/ebb/internal/mathexpr"
	"github.com/ebbscale/ebb/internal/metrics"
)

// MetricStat is a metric, its period and statistic.
type MetricStat struct {
	Series metrics.Series
	Period time.Duration
	Stat   string // SampleCount, Average, Sum, Minimum, Maximum or pNN
	Unit   string
}

// Query is one MetricDataQuery.
type Query struct {
	ID         string
	MetricStat *MetricStat
	Expression string
	Label      string
	ReturnData bool
	Period     time.Duration // for expressions; 0 takes the metrics' period
}

// Result is one query's time series, oldest first.
type Result struct {
	ID         string
	Label      string
	Timestamps []time.Time
	Values     []float64 // NaN where missing
	ReturnData bool
}

// Error is a problem with one query, reported with its id.
type Error struct {
	ID  string
	Err error
}

func (e *Error) Error() string { return fmt.Sprintf("Error in expression %s: %v", e.ID, e.Err) }

// Store is what queries read: metrics.Store.Scan, the points of one unit
// or, with none, of every unit merged.
type Store interface {
	Scan(ref *metrics.SeriesRef, unit string, start, end time.Time, period time.Duration, quantiles []float64, now time.Time, fn func(metrics.Datapoint)) error
	// AppendStat is Scan for one statistic, appending its values.
	AppendStat(dst []metrics.Sample, ref *metrics.SeriesRef, unit string, start, end time.Time, period time.Duration, stat metrics.Stat, now time.Time) ([]metrics.Sample, error)
}

// Datapoint is one period's value of a metric's statistic, with the number
// of samples behind it (alarms treat percentiles of few samples specially).
type Datapoint = metrics.Sample

// Read reads one metric's statistic for each period of [start, end) that
// has data, with no math: the fast path behind alarms and policies on a
// single metric, reading what GetMetricData reads for a MetricStat. ref, if
// not nil, is the series' (see metrics.SeriesRef). A unit selects
// the points published with it; without one, every unit's are merged.
func Read(st Store, ms MetricStat, ref *metrics.SeriesRef, start, end, now time.Time) ([]Datapoint, error) {
	return Append(nil, st, ms, ref, start, end, now)
}

// Append is Read appending to dst: a reader of thousands of metrics a
// minute (the alarms) reuses one slice.
func Append(dst []Datapoint, st Store, ms MetricStat, ref *metrics.SeriesRef, start, end, now time.Time) ([]Datapoint, error) {
	stat, err := metrics.ParseStat(ms.Stat)
	if err != nil {
		return dst, err
	}
	if ref == nil {
		ref = &metrics.SeriesRef{ID: ms.Series.Normalize().ID()}
	}
	return st.AppendStat(dst, ref, ms.Unit, start, end, ms.Period, stat, now)
}

var idRE = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)

// Run runs the queries over [start, end) at now. All queries share the
// period of the first MetricStat unless an expression sets its own.
func Run(st Store, queries []Query, start, end, now time.Time) ([]Result, error) {
	byID := map[string]*Query{}
	for i := range queries {
		q := &queries[i]
		if !idRE.MatchString(q.ID) {
			return nil, &Error{q.ID, fmt.Errorf("the id must start with a lowercase letter and hold only letters, digits and underscores")}
		}
		if byID[q.ID] != nil {
			return nil, &Error{q.ID, fmt.Errorf("duplicate id")}
		}
		if (q.MetricStat == nil) == (q.Expression == "") {
			return nil, &Error{q.ID, fmt.Errorf("exactly one of MetricStat and Expression must be given")}
		}
		byID[q.ID] = q
	}
	period := time.Duration(0)
	for _, q := range queries {
		if q.MetricStat != nil {
			period = q.MetricStat.Period
			break
		}
	}
	for _, q := range queries {
		if q.Expression != "" && q.Period != 0 && period == 0 {
			period = q.Period
		}
	}
	if period <= 0 {
		return nil, &Error{queries[0].ID, fmt.Errorf("no period: give a MetricStat or the expression's Period")}
	}
	grid := Grid(start, end, period, now)
	results := map[string]*Result{}
	evaluating := map[string]bool{}
	var resolve func(id string) (mathexpr.Value, error)
	resolve = func(id string) (mathexpr.Value, error) {
		if r, ok := results[id]; ok {
			return mathexpr.Value{Series: []mathexpr.Series{{Label: r.Label, Values: r.Values}}}, nil
		}
		q := byID[id]
		if q == nil {
			return mathexpr.Value{}, fmt.Errorf("unknown id %q", id)
		}
		if evaluating[id] {
			return mathexpr.Value{}, fmt.Errorf("circular reference to %q", id)
		}
		evaluating[id] = true
		r := &Result{ID: q.ID, Label: q.Label, Timestamps: grid, ReturnData: q.ReturnData}
		if q.MetricStat != nil {
			if q.MetricStat.Period != period {
				return mathexpr.Value{}, fmt.Errorf("all metrics must use the same period")
			}
			vals, err := readMetric(st, *q.MetricStat, grid, end, now)
			if err != nil {
				return mathexpr.Value{}, err
			}
			r.Values = vals
			if r.Label == "" {
				r.Label = q.MetricStat.Series.MetricName
			}
		} else {
			n, err := mathexpr.Parse(q.Expression)
			if err != nil {
				return mathexpr.Value{}, &Error{q.ID, err}
			}
			env := mathexpr.Env{N: len(grid), Lookup: func(ref string) (mathexpr.Value, bool) {
				v, err := resolve(ref)
				return v, err == nil
			}, Metrics: func(filter string) []mathexpr.Series {
				var out []mathexpr.Series
				for _, other := range queries {
					if other.MetricStat == nil {
						continue
					}
					v, err := resolve(other.ID)
					if err == nil && strings.Contains(v.Series[0].Label, filter) {
						out = append(out, v.Series...)
					}
				}
				return out
			}}
			for _, ref := range mathexpr.Refs(n) {
				if _, err := resolve(ref); err != nil && byID[ref] != nil {
					return mathexpr.Value{}, &Error{q.ID, err}
				}
			}
			v, err := mathexpr.Eval(n, env)
			if err != nil {
				return mathexpr.Value{}, &Error{q.ID, err}
			}
			switch {
			case v.Scalar != nil:
				r.Values = make([]float64, len(grid))
				for i := range r.Values {
					r.Values[i] = *v.Scalar
				}
			case len(v.Series) == 1:
				r.Values = v.Series[0].Values
			case len(v.Series) == 0:
				r.Values = nanSlice(len(grid))
			default:
				return mathexpr.Value{}, &Error{q.ID, fmt.Errorf("the expression returns %d time series; ebb returns one per query", len(v.Series))}
			}
			if r.Label == "" {
				r.Label = q.ID
			}
		}
		results[id] = r
		return mathexpr.Value{Series: []mathexpr.Series{{Label: r.Label, Values: r.Values}}}, nil
	}
	var out []Result
	for _, q := range queries {
		if _, err := resolve(q.ID); err != nil {
			if e, ok := err.(*Error); ok {
				return nil, e
			}
			return nil, &Error{q.ID, err}
		}
		out = append(out, *results[q.ID])
	}
	return out, nil
}

// Grid returns the period starts from start (rounded down as
// GetMetricStatistics rounds it) up to end.
func Grid(start, end time.Time, period time.Duration, now time.Time) []time.Time {
	p := int64(period / time.Second)
	first := start.Unix()
	round := int64(60)
	switch age := now.Sub(start); {
	case p < 60:
		round = p
	case age >= 63*24*time.Hour:
		round = 3600
	case age >= 15*24*time.Hour:
		round = 300
	}
	first -= ((first % round) + round) % round
	var out []time.Time
	for t := first; t < end.Unix(); t += p {
		out = append(out, time.Unix(t, 0).UTC())
	}
	return out
}

func nanSlice(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = math.NaN()
	}
	return out
}

func readMetric(st Store, ms MetricStat, grid []time.Time, end, now time.Time) ([]float64, error) {
	vals := nanSlice(len(grid))
	if len(grid) == 0 {
		return vals, nil
	}
	index := map[int64]int{}
	for i, t := range grid {
		index[t.Unix()] = i
	}
	dps, err := Read(st, ms, nil, grid[0], end, now)
	for _, dp := range dps {
		if i, ok := index[dp.Timestamp.Unix()]; ok {
			vals[i] = dp.Value
		}
	}
	if err != nil {
		return nil, err
	}
	return vals, nil
}
