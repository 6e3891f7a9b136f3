package alarm

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ebbscale/ebb/internal/jsonappend"
)

// State is an alarm state.
type State string

const (
	OK               State = "OK"
	Alarm            State = "ALARM"
	InsufficientData State = "INSUFFICIENT_DATA"
)

// Config is what evaluation needs of an alarm.
type Config struct {
	Period             time.Duration
	EvaluationPeriods  int
	DatapointsToAlarm  int // 0 means EvaluationPeriods
	Threshold          float64
	ComparisonOperator string
	TreatMissingData   string // missing (default), ignore, breaching, notBreaching
	// Statistic or ExtendedStatistic (pNN) names the value, for reasons.
	Statistic         string
	ExtendedStatistic string
	// EvaluateLowSampleCountPercentile: "ignore" keeps the state while a
	// percentile rests on too few samples; "evaluate" (default) does not.
	EvaluateLowSampleCountPercentile string
}

// M returns DatapointsToAlarm with its default.
func (c Config) M() int {
	if c.DatapointsToAlarm > 0 {
		return c.DatapointsToAlarm
	}
	return c.EvaluationPeriods
}

// Range is the number of periods in the evaluation range.
func (c Config) Range() int { return c.EvaluationPeriods + 2 }

// Point is the value of one period; Missing marks a period without data.
type Point struct {
	Timestamp   time.Time // start of the period
	Value       float64
	SampleCount float64
	Missing     bool
}

// Result is the outcome of one evaluation.
type Result struct {
	State      State
	Reason     string
	ReasonData string // JSON, as in StateReasonData
}

// breaches reports whether v is on the alarming side of the threshold.
func (c Config) breaches(v float64) bool {
	switch c.ComparisonOperator {
	case "GreaterThanOrEqualToThreshold":
		return v >= c.Threshold
	case "GreaterThanThreshold":
		return v > c.Threshold
	case "LessThanThreshold":
		return v < c.Threshold
	case "LessThanOrEqualToThreshold":
		return v <= c.Threshold
	}
	return false
}

var comparisonText = map[string]string{
	"GreaterThanOrEqualToThreshold": "greater than or equal to",
	"GreaterThanThreshold":          "greater than",
	"LessThanThreshold":             "less than",
	"LessThanOrEqualToThreshold":    "less than or equal to",
}

// Evaluate decides the state of an alarm from its evaluation range (oldest
// first, Range() periods ending with the last complete one) at now. When the
// state does not change, the Result's reason fields are empty: CloudWatch
// keeps the reason of the last transition.
func Evaluate(c Config, current State, points []Point, now time.Time) Result {
	n, m := c.EvaluationPeriods, c.M()
	real := points // without a missing period, as is usual, nothing is copied
	if slices.ContainsFunc(points, func(p Point) bool { return p.Missing }) {
		var buf [32]Point // on the stack: ranges are short (a longer one grows onto the heap)
		real = buf[:0]
		for _, p := range points {
			if !p.Missing {
				real = append(real, p)
			}
		}
	}
	if c.lowSamples(real) {
		return Result{State: current}
	}
	if len(real) >= n {
		evaluated := real[len(real)-n:]
		return c.decide(current, evaluated, countBreaching(c, evaluated) >= m, now, points)
	}
	breaching := countBreaching(c, real)
	fills := n - len(real)
	switch c.TreatMissingData {
	case "breaching":
		return c.decide(current, real, breaching+fills >= m, now, points)
	case "notBreaching":
		return c.decide(current, real, breaching >= m, now, points)
	}
	// missing and ignore.
	good := len(real) - breaching
	switch {
	case breaching >= m:
		return c.decide(current, real, true, now, points)
	case c.TreatMissingData != "ignore" && good == 0 && breaching > 0 && c.oldestBreachAge(points) >= m:
		return c.decide(current, real, true, now, points)
	case good > 0:
		return c.decide(current, real, false, now, points)
	case c.TreatMissingData == "ignore":
		return Result{State: current}
	}
	if current == InsufficientData {
		return Result{State: current}
	}
	return Result{
		State:      InsufficientData,
		Reason:     fmt.Sprintf("Insufficient Data: %d datapoint%s %s unknown.", n, plural(n), wasWere(n)),
		ReasonData: c.reasonData(now, points, nil),
	}
}

// oldestBreachAge is the age in periods of the oldest breaching datapoint
// of the range (the newest period has age 1).
func (c Config) oldestBreachAge(points []Point) int {
	for i, p := range points {
		if !p.Missing && c.breaches(p.Value) {
			return len(points) - i
		}
	}
	return 0
}

// lowSamples reports whether a percentile alarm set to ignore low sample
// counts must keep its state: fewer than 10/(1-p) samples for p >= 0.5, or
// 10/p below, in the most recent datapoint.
func (c Config) lowSamples(real []Point) bool {
	if c.EvaluateLowSampleCountPercentile != "ignore" || !strings.HasPrefix(c.ExtendedStatistic, "p") || len(real) == 0 {
		return false
	}
	p, err := strconv.ParseFloat(c.ExtendedStatistic[1:], 64)
	if err != nil {
		return false
	}
	p /= 100
	need := 10 / p
	if p >= 0.5 {
		need = 10 / (1 - p)
	}
	return real[len(real)-1].SampleCount < need
}

func countBreaching(c Config, ps []Point) int {
	n := 0
	for _, p := range ps {
		if c.breaches(p.Value) {
			n++
		}
	}
	return n
}

// decide turns the verdict into a Result with CloudWatch's reason texts.
func (c Config) decide(current State, evaluated []Point, alarm bool, now time.Time, all []Point) Result {
	next := OK
	if alarm {
		next = Alarm
	}
	if next == current {
		return Result{State: current}
	}
	// Newest first, as CloudWatch lists them.
	var shown []Point
	for i := len(evaluated) - 1; i >= 0; i-- {
		if c.breaches(evaluated[i].Value) == alarm {
			shown = append(shown, evaluated[i])
		}
	}
	values := make([]string, len(shown))
	for i, p := range shown {
		values[i] = fmt.Sprintf("%s (%s)", javaDouble(p.Value), p.Timestamp.UTC().Format("02/01/06 15:04:05"))
	}
	cmp := comparisonText[c.ComparisonOperator]
	var reason string
	if alarm {
		reason = fmt.Sprintf("Threshold Crossed: %d out of the last %d datapoints [%s] %s %s the threshold (%s) (minimum %d datapoint%s for %s -> %s transition).",
			len(shown), len(evaluated), strings.Join(values, ", "), wasWere(len(shown)), cmp, javaDouble(c.Threshold), c.M(), plural(c.M()), current, next)
	} else {
		reason = fmt.Sprintf("Threshold Crossed: %d datapoint%s [%s] %s not %s the threshold (%s) (minimum 1 datapoint for %s -> %s transition).",
			len(shown), plural(len(shown)), strings.Join(values, ", "), wasWere(len(shown)), cmp, javaDouble(c.Threshold), current, next)
	}
	return Result{State: next, Reason: reason, ReasonData: c.reasonData(now, all, evaluated)}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func wasWere(n int) string {
	if n == 1 {
		return "was"
	}
	return "were"
}

// javaDouble formats like Java's Double.toString, which CloudWatch's texts use.
func javaDouble(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e7 {
		return strconv.FormatFloat(f, 'f', 1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

const reasonTime = "2006-01-02T15:04:05.000-0700"

// reasonData is StateReasonData: the query, the recent values and the
// evaluated datapoints. It is written by hand, member by member as
// encoding/json would write reasonDoc (TestReasonDataAsEncodingJSON): a
// busy round writes thousands.
func (c Config) reasonData(now time.Time, all, evaluated []Point) string {
	b := make([]byte, 0, 256+24*len(all)+80*len(evaluated))
	b = append(b, `{"version":"1.0","queryDate":`...)
	b = appendReasonTime(b, now)
	if len(all) > 0 {
		b = jsonappend.Field(b, "startDate")
		b = appendReasonTime(b, all[0].Timestamp)
	}
	if stat := c.statistic(); stat != "" {
		b = jsonappend.Field(b, "statistic")
		b = jsonappend.String(b, stat)
	}
	b = jsonappend.Field(b, "period")
	b = strconv.AppendInt(b, int64(c.Period/time.Second), 10)
	b = append(jsonappend.Field(b, "recentDatapoints"), '[')
	for _, p := range all {
		if !p.Missing {
			b = jsonappend.Float(b, p.Value)
			b = append(b, ',')
		}
	}
	b = closeList(b, ']')
	b = jsonappend.Float(jsonappend.Field(b, "threshold"), c.Threshold)
	if len(evaluated) > 0 {
		b = append(jsonappend.Field(b, "evaluatedDatapoints"), '[')
		for i := len(evaluated) - 1; i >= 0; i-- {
			p := evaluated[i]
			b = appendReasonTime(append(b, `{"timestamp":`...), p.Timestamp)
			if p.SampleCount != 0 {
				b = jsonappend.Float(jsonappend.Field(b, "sampleCount"), p.SampleCount)
			}
			b = append(jsonappend.Float(jsonappend.Field(b, "value"), p.Value), '}', ',')
		}
		b = closeList(b, ']')
	}
	return string(append(b, '}'))
}

// statistic is the statistic's name for reasons.
func (c Config) statistic() string {
	if c.ExtendedStatistic != "" {
		return c.ExtendedStatistic
	}
	return c.Statistic
}

func appendReasonTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, reasonTime)
	return append(b, '"')
}

// closeList replaces a list's trailing comma, if any, with its closer.
func closeList(b []byte, closer byte) []byte {
	if b[len(b)-1] == ',' {
		b[len(b)-1] = closer
		return b
	}
	return append(b, closer)
}
