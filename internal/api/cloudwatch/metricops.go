package cloudwatch

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ebbscale/ebb/internal/api/awsjson"
	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/paging"
)

type dimension struct {
	Name  string
	Value string `json:",omitempty"`
}

type statisticSet struct {
	SampleCount awsjson.Double
	Sum         awsjson.Double
	Minimum     awsjson.Double
	Maximum     awsjson.Double
}

type metricDatum struct {
	MetricName        string
	Dimensions        []dimension
	Timestamp         *awsjson.Time
	Value             *awsjson.Double
	StatisticValues   *statisticSet
	Values            []awsjson.Double
	Counts            []awsjson.Double
	Unit              string
	StorageResolution *int
}

// maxValue is CloudWatch's bound on values: ±2^360.
var maxValue = math.Pow(2, 360)

func validValue(d awsjson.Double) bool {
	v := float64(d)
	return !math.IsNaN(v) && !math.IsInf(v, 0) && math.Abs(v) <= maxValue
}

// maxDatums is how many datums one PutMetricData may carry.
const maxDatums = 1000

func floats(ds []awsjson.Double) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d)
	}
	return out
}

func (h *Handler) putMetricData(ctx context.Context, body []byte) (any, error) {
	var in struct {
		Namespace  string
		MetricData []metricDatum
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if strings.HasPrefix(in.Namespace, "AWS/") {
		return nil, invalidValue("The value %s for parameter Namespace is invalid: the AWS/ prefix is reserved for AWS services.", in.Namespace)
	}
	if strings.HasPrefix(in.Namespace, ":") {
		return nil, invalidValue("The value %s for parameter Namespace is invalid.", in.Namespace)
	}
	if len(in.MetricData) == 0 {
		return nil, missing("MetricData")
	}
	if len(in.MetricData) > maxDatums {
		return nil, invalidValue("The collection MetricData must not have a size greater than %d.", maxDatums)
	}
	now := h.clock.Now()
	var pts []metrics.Point
	for i, d := range in.MetricData {
		at := fmt.Sprintf("MetricData.member.%d", i+1)
		// Value excludes the other two; Values with StatisticValues is
		// allowed (both are stored), as CloudWatch's pairwise rules say.
		for other, given := range map[string]bool{"StatisticValues": d.StatisticValues != nil, "Values": len(d.Values) > 0} {
			if d.Value != nil && given {
				return nil, invalidCombination("The parameters %[1]s.Value and %[1]s.%[2]s are mutually exclusive and you have specified both.", at, other)
			}
		}
		if len(d.Counts) > 0 && len(d.Counts) != len(d.Values) {
			return nil, invalidValue("The parameters %[1]s.Values and %[1]s.Counts must be of the same size.", at)
		}
		if d.StorageResolution != nil && *d.StorageResolution != 1 && *d.StorageResolution != 60 {
			return nil, invalidValue("The value %d for parameter %s.StorageResolution is invalid: it must be 1 or 60.", *d.StorageResolution, at)
		}
		names := map[string]bool{}
		var dims []metrics.Dimension
		for _, dim := range d.Dimensions {
			if names[dim.Name] {
				return nil, invalidValue("No metric may have duplicate dimension names: %s has dimension %s twice.", at, dim.Name)
			}
			if strings.TrimSpace(dim.Value) == "" {
				return nil, invalidValue("The value for parameter %s.Dimensions %s must not be blank.", at, dim.Name)
			}
			names[dim.Name] = true
			dims = append(dims, metrics.Dimension{Name: dim.Name, Value: dim.Value})
		}
		ts := now
		if d.Timestamp != nil {
			ts = time.Time(*d.Timestamp)
			if ts.Before(now.Add(-14 * 24 * time.Hour)) {
				return nil, invalidValue("The parameter %s.Timestamp must specify a time no more than two weeks in the past.", at)
			}
			if ts.After(now.Add(2 * time.Hour)) {
				return nil, invalidValue("The parameter %s.Timestamp must specify a time no more than two hours in the future.", at)
			}
		}
		p := metrics.Point{
			Series: metrics.Series{Namespace: in.Namespace, MetricName: d.MetricName, Dimensions: dims},
			Unit:   d.Unit, Timestamp: ts,
		}
		if d.StatisticValues != nil {
			sv := *d.StatisticValues
			for name, v := range map[string]awsjson.Double{"SampleCount": sv.SampleCount, "Sum": sv.Sum, "Minimum": sv.Minimum, "Maximum": sv.Maximum} {
				if !validValue(v) {
					return nil, invalidValue("The value %s for parameter %s.StatisticValues.%s is invalid.", v, at, name)
				}
			}
			if sv.SampleCount <= 0 || sv.Minimum > sv.Maximum {
				return nil, invalidValue("The parameter %s.StatisticValues must have a positive SampleCount and Minimum no greater than Maximum.", at)
			}
			set := p
			set.Set = &metrics.StatSet{SampleCount: float64(sv.SampleCount), Sum: float64(sv.Sum), Minimum: float64(sv.Minimum), Maximum: float64(sv.Maximum)}
			pts = append(pts, set)
			if len(d.Values) == 0 {
				continue
			}
		}
		switch {
		case len(d.Values) > 0:
			if len(d.Values) > 150 {
				return nil, invalidValue("The parameter %s.Values may hold at most 150 values.", at)
			}
			for j, v := range d.Values {
				if !validValue(v) {
					return nil, invalidValue("The value %s for parameter %s.Values.member.%d is invalid.", v, at, j+1)
				}
			}
			for j, c := range d.Counts {
				if !(c > 0) || !validValue(c) {
					return nil, invalidValue("The value %s for parameter %s.Counts.member.%d is invalid.", c, at, j+1)
				}
			}
			p.Values, p.Counts = floats(d.Values), floats(d.Counts)
		case d.Value != nil:
			if !validValue(*d.Value) {
				return nil, invalidValue("The value %s for parameter %s.Value is invalid.", *d.Value, at)
			}
			p.Value = float64(*d.Value)
		default:
			return nil, missing(at + ".Value")
		}
		pts = append(pts, p)
	}
	// All or nothing: every datum was checked before anything is stored.
	return struct{}{}, h.metrics.Put(pts)
}

// percentile parses an extended statistic; only percentiles (pNN.NN) are
// supported.
func percentile(name string) (metrics.Stat, bool) {
	st, err := metrics.ParseStat(name)
	return st, err == nil && st.Percentile()
}

func validPeriod(p int) bool {
	return p > 0 && (p%60 == 0 || p == 1 || p == 5 || p == 10 || p == 20 || p == 30)
}

type datapoint struct {
	Timestamp          *awsjson.Time
	SampleCount        *float64           `json:",omitempty"`
	Average            *float64           `json:",omitempty"`
	Sum                *float64           `json:",omitempty"`
	Minimum            *float64           `json:",omitempty"`
	Maximum            *float64           `json:",omitempty"`
	Unit               string             `json:",omitempty"`
	ExtendedStatistics map[string]float64 `json:",omitempty"`
}

// maxDatapoints is GetMetricStatistics' limit per call.
const maxDatapoints = 1440

func (h *Handler) getMetricStatistics(ctx context.Context, body []byte) (any, error) {
	var in struct {
		Namespace          string
		MetricName         string
		Dimensions         []dimension
		StartTime, EndTime awsjson.Time
		Period             int
		Statistics         []string
		ExtendedStatistics []string
		Unit               string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	start, end := time.Time(in.StartTime), time.Time(in.EndTime)
	switch {
	case len(in.Statistics) == 0 && len(in.ExtendedStatistics) == 0:
		return nil, missing("Statistics or ExtendedStatistics")
	case len(in.Statistics) > 0 && len(in.ExtendedStatistics) > 0:
		return nil, invalidCombination("The parameters Statistics and ExtendedStatistics are mutually exclusive and you have specified both.")
	case !validPeriod(in.Period):
		return nil, invalidValue("The parameter Period must be 1, 5, 10, 20, 30 or a multiple of 60.")
	case !start.Before(end):
		return nil, invalidValue("The parameter StartTime must be less than the parameter EndTime.")
	}
	now := h.clock.Now()
	if n := int(math.Ceil(end.Sub(start).Seconds() / float64(in.Period))); n > maxDatapoints {
		return nil, invalidCombination("You have requested up to %s datapoints, which exceeds the limit of 1,440. You may reduce the datapoints requested by increasing Period, or decreasing the time range.", thousands(n))
	}
	var quantiles []float64
	var extended []metrics.Stat
	for _, s := range in.ExtendedStatistics {
		st, ok := percentile(s)
		if !ok {
			return nil, invalidValue("The value %s for parameter ExtendedStatistics is not supported: ebb computes percentiles (p0.0 to p100).", s)
		}
		quantiles = append(quantiles, st.Quantile)
		extended = append(extended, st)
	}
	key := metrics.Series{Namespace: in.Namespace, MetricName: in.MetricName, Dimensions: toDims(in.Dimensions)}
	out := struct {
		Label      string
		Datapoints []datapoint
	}{Label: in.MetricName, Datapoints: []datapoint{}}
	if !periodKept(start, in.Period, now) {
		return out, nil
	}
	dps, err := h.metrics.Query(key, in.Unit, start, end, time.Duration(in.Period)*time.Second, quantiles, now)
	if err != nil {
		return nil, invalidValue("%v", err)
	}
	for _, dp := range dps {
		d := datapoint{Timestamp: awsjson.T(dp.Timestamp), Unit: dp.Unit}
		for _, s := range in.Statistics {
			st, err := metrics.ParseStat(s)
			if err != nil {
				continue // the model allows only the five
			}
			v, _ := dp.Value(st)
			switch s {
			case "SampleCount":
				d.SampleCount = &v
			case "Average":
				d.Average = &v
			case "Sum":
				d.Sum = &v
			case "Minimum":
				d.Minimum = &v
			case "Maximum":
				d.Maximum = &v
			}
		}
		for i, s := range in.ExtendedStatistics {
			if v, ok := dp.Value(extended[i]); ok {
				if d.ExtendedStatistics == nil {
					d.ExtendedStatistics = map[string]float64{}
				}
				d.ExtendedStatistics[s] = v
			}
		}
		out.Datapoints = append(out.Datapoints, d)
	}
	return out, nil
}

// periodKept reports whether data from start is kept at period: CloudWatch
// keeps sub-minute data 3 hours, minutes 15 days, 5 minutes 63 days, and
// answers no datapoints (not an error) for a period finer than what is
// kept from the start time on.
func periodKept(start time.Time, period int, now time.Time) bool {
	age := now.Sub(start)
	return !(age > 3*time.Hour && period%60 != 0 || age > 15*24*time.Hour && period%300 != 0 || age > 63*24*time.Hour && period%3600 != 0)
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func toDims(ds []dimension) []metrics.Dimension {
	out := make([]metrics.Dimension, len(ds))
	for i, d := range ds {
		out[i] = metrics.Dimension{Name: d.Name, Value: d.Value}
	}
	return out
}

// listPage is ListMetrics' page size.
const listPage = 500

type metric struct {
	Namespace  string
	MetricName string
	Dimensions []dimension
}

func (h *Handler) listMetrics(ctx context.Context, body []byte) (any, error) {
	var in struct {
		Namespace      string
		MetricName     string
		Dimensions     []dimension
		NextToken      string
		RecentlyActive string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	since := h.clock.Now().Add(-14 * 24 * time.Hour)
	if in.RecentlyActive == "PT3H" {
		since = h.clock.Now().Add(-3 * time.Hour)
	}
	all := h.metrics.List(in.Namespace, in.MetricName, toDims(in.Dimensions), since)
	page, next, ok := paging.After(all, metrics.Series.ID, in.NextToken, listPage)
	if !ok {
		return nil, invalidNextToken()
	}
	out := struct {
		Metrics   []metric
		NextToken string `json:",omitempty"`
	}{Metrics: []metric{}, NextToken: next}
	for _, s := range page {
		m := metric{Namespace: s.Namespace, MetricName: s.MetricName, Dimensions: []dimension{}}
		for _, d := range s.Dimensions {
			m.Dimensions = append(m.Dimensions, dimension{d.Name, d.Value})
		}
		out.Metrics = append(out.Metrics, m)
	}
	return out, nil
}
