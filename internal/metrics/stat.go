package metrics

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
)

// Stat is a CloudWatch statistic: SampleCount, Average, Sum, Minimum,
// Maximum, or a percentile pNN.NN (ExtendedStatistic). It is parsed once,
// here, for every reader: the CloudWatch API, alarms, policies, metric math.
type Stat struct {
	Name string
	// Quantile is the percentile's quantile (0..1); -1 for the five
	// statistic-set statistics.
	Quantile float64
}

var percentileRE = regexp.MustCompile(`^p(\d{1,2}(\.\d{1,2})?|100(\.0{1,2})?)$`)

// ParseStat parses a statistic name. Percentiles are pNN with up to two
// decimals, p0 to p100; the trimmed mean and the other extended statistics
// (tm, wm, IQM, PR, TC, TS) are refused.
func ParseStat(s string) (Stat, error) {
	switch s {
	case "SampleCount", "Average", "Sum", "Minimum", "Maximum":
		return Stat{Name: s, Quantile: -1}, nil
	}
	if percentileRE.MatchString(s) {
		f, _ := strconv.ParseFloat(s[1:], 64)
		return Stat{Name: s, Quantile: f / 100}, nil
	}
	return Stat{}, fmt.Errorf("statistic %q is not supported: use SampleCount, Average, Sum, Minimum, Maximum or a percentile p0 to p100", s)
}

// Percentile reports whether s is a percentile.
func (s Stat) Percentile() bool { return s.Quantile >= 0 }

// Quantiles is what Query needs to compute s: its quantile, or nothing.
func (s Stat) Quantiles() []float64 {
	if s.Percentile() {
		return []float64{s.Quantile}
	}
	return nil
}

// Value is the statistic s of a datapoint; false when it is a percentile
// the datapoint does not have (a period too short to keep a distribution).
func (dp Datapoint) Value(s Stat) (float64, bool) {
	if s.Percentile() {
		v, ok := dp.Percentiles[s.Quantile]
		return v, ok
	}
	return statValue(s, dp.Stats, nil)
}

// statValue is the statistic s of a period's statistics and distribution
// (d nil: none kept).
func statValue(s Stat, st StatSet, d *dist) (float64, bool) {
	switch s.Name {
	case "SampleCount":
		return st.SampleCount, true
	case "Average":
		return st.Average(), true
	case "Sum":
		return st.Sum, true
	case "Minimum":
		return st.Minimum, true
	case "Maximum":
		return st.Maximum, true
	}
	if s.Percentile() && d != nil {
		return d.quantile(s.Quantile)
	}
	return math.NaN(), false
}
