package forecast

import (
	"errors"
	"math"
	"time"
)

// Rules of Application Auto Scaling's predictive scaling that the
// forecast follows.
const (
	// MinHistory is the least history a forecast needs.
	MinHistory = 24 * time.Hour
	// MaxHistory is the most history a forecast uses.
	MaxHistory = 14 * 24 * time.Hour
	// Horizon is how far ahead a forecast goes, hour by hour.
	Horizon = 48 * time.Hour
	// Refresh is how often a forecast is made again.
	Refresh = 6 * time.Hour
)

// ErrTooShort is returned for less than MinHistory of data.
var ErrTooShort = errors.New("a forecast needs at least 24 hours of history")

// Weights of the method (see the package documentation); fixed, chosen on
// the traces in testdata, not fitted per series: with at most 14 days there
// is too little to fit them without overfitting.
const (
	dayDecay  = 0.7 // weight of each older day in the daily profile
	weekDecay = 0.5 // weight of the older week in a weekday's factor
	levelMin  = 0.5 // bounds of the level correction
	levelMax  = 2.0
	// recentHours are the last hours that correct the level, weighted
	// recentWeight: three average one hour's noise away and still see a
	// morning's change by its middle.
	recentHours  = 3
	recentWeight = 0.7
)

// Forecast predicts the n hours after history, whose first value is the
// hour starting at start (values are per hour, oldest first; NaN is an
// hour without data). At most the last MaxHistory is used.
func Forecast(start time.Time, history []float64, n int) ([]float64, error) {
	if most := int(MaxHistory / time.Hour); len(history) > most {
		start = start.Add(time.Duration(len(history)-most) * time.Hour)
		history = history[len(history)-most:]
	}
	if known(history) < int(MinHistory/time.Hour) {
		return nil, ErrTooShort
	}
	m := fit(start, history)
	out := make([]float64, n)
	end := start.Add(time.Duration(len(history)) * time.Hour)
	for i := range out {
		out[i] = math.Max(0, m.at(end.Add(time.Duration(i)*time.Hour))*m.level)
	}
	return out, nil
}

// model is the fitted decomposition: load at an hour is
// profile[hour of day] × weekday[day of week] × level.
type model struct {
	profile [24]float64
	weekday [7]float64
	level   float64
}

func (m *model) at(t time.Time) float64 {
	return m.profile[t.UTC().Hour()] * m.weekday[t.UTC().Weekday()]
}

// fit decomposes history: the weekday factors first (a day's mean over the
// mean of all days, the recent week weighted more; 1 until a weekday has
// been seen), then the daily profile of the deseasonalized hours (recent
// days weighted more), then the level: how the last day compares with
// what the model fitted on the days before it expects.
func fit(start time.Time, history []float64) *model {
	m := &model{level: 1}
	hourAt := func(i int) time.Time { return start.Add(time.Duration(i) * time.Hour).UTC() }
	last := hourAt(len(history) - 1)

	// Weekday factors, from each day's mean load (days with data).
	var daySum, dayW [7]float64
	overall, overallN := 0.0, 0.0
	type day struct{ sum, n float64 }
	days := map[time.Time]*day{}
	// Less than a week before the last day cannot tell a weekday from a
	// change of level; the last day is the level's (below).
	weekly := len(history)-24 >= 7*24
	for i, v := range history {
		if math.IsNaN(v) || !weekly || i >= len(history)-24 {
			continue
		}
		d := hourAt(i).Truncate(24 * time.Hour)
		if days[d] == nil {
			days[d] = &day{}
		}
		days[d].sum += v
		days[d].n++
		overall += v
		overallN++
	}
	mean := overall / max(1, overallN)
	for d, x := range days {
		if x.n < 12 || mean == 0 {
			continue // too little of the day to say
		}
		weeks := math.Floor(last.Sub(d).Hours() / (7 * 24))
		w := math.Pow(weekDecay, weeks)
		daySum[d.Weekday()] += w * x.sum / x.n / mean
		dayW[d.Weekday()] += w
	}
	for k := range m.weekday {
		m.weekday[k] = 1
		if dayW[k] > 0 {
			m.weekday[k] = daySum[k] / dayW[k]
		}
	}

	// The daily profile of what the weekdays leave.
	profileOf := func(until int) [24]float64 {
		var sum, weight [24]float64
		for i := 0; i < until; i++ {
			v := history[i]
			if math.IsNaN(v) {
				continue
			}
			t := hourAt(i)
			f := m.weekday[t.Weekday()]
			if f == 0 {
				continue
			}
			w := math.Pow(dayDecay, math.Floor(float64(until-1-i)/24))
			sum[t.Hour()] += w * v / f
			weight[t.Hour()] += w
		}
		var p [24]float64
		for h := range p {
			if weight[h] > 0 {
				p[h] = sum[h] / weight[h]
			}
		}
		return p
	}
	m.profile = profileOf(len(history))

	// A level estimate: the load of the hours from `from` on against what
	// the days before them expect, bounded; as the profile already holds
	// those hours at their weight, only what it leaves of the change
	// counts. False without data to tell.
	levelSince := func(from int) (float64, bool) {
		before := model{profile: profileOf(from), weekday: m.weekday}
		actual, expected := 0.0, 0.0
		for i := from; i < len(history); i++ {
			if !math.IsNaN(history[i]) {
				actual += history[i]
				expected += before.at(hourAt(i))
			}
		}
		if expected <= 0 {
			return 0, false
		}
		share := 1 / weightSum(len(history)/24)
		return bounded(1 + (actual/expected-1)*(1-share)), true
	}
	// The level: the last day against what the days before it expect
	// (from two days of history on).
	if len(history) >= 48 {
		if l, ok := levelSince(len(history) - 24); ok {
			m.level = l
		}
	}
	// The last hours are a second estimate of the level: a day's change
	// (a Monday after a weekend, a holiday) shows in its first hours,
	// before a whole day has seen it. The level is the two estimates'
	// geometric mean, weighted recentWeight to the last hours.
	if len(history) >= 24+recentHours {
		if recent, ok := levelSince(len(history) - recentHours); ok {
			m.level = math.Pow(m.level, 1-recentWeight) * math.Pow(recent, recentWeight)
		}
	}
	return m
}

// bounded is a level within levelMin and levelMax.
func bounded(level float64) float64 { return math.Min(levelMax, math.Max(levelMin, level)) }

// weightSum is the sum of the daily profile's weights over days days.
func weightSum(days int) float64 {
	s := 0.0
	for k := range days {
		s += math.Pow(dayDecay, float64(k))
	}
	return s
}

func known(vs []float64) int {
	n := 0
	for _, v := range vs {
		if !math.IsNaN(v) {
			n++
		}
	}
	return n
}
