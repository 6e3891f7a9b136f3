package alarm

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// series turns "0 - X - X" into points: 0 within the threshold, X breaching,
// - missing; one per minute, oldest first.
func series(s string) []Point {
	var ps []Point
	for i, f := range strings.Fields(s) {
		p := Point{Timestamp: t0.Add(time.Duration(i) * time.Minute), SampleCount: 1}
		switch f {
		case "-":
			p.Missing = true
		case "X":
			p.Value = 100
		case "0":
			p.Value = 0
		}
		ps = append(ps, p)
	}
	return ps
}

const retain = State("retain")

// The two tables of "How alarm state is evaluated when data is missing".
func TestMissingDataTables(t *testing.T) {
	tables := []struct {
		m, n int
		rows []struct {
			points                              string
			missing, ignore, breaching, notBrch State
		}
	}{
		{3, 3, []struct {
			points                              string
			missing, ignore, breaching, notBrch State
		}{
			{"0 - X - X", OK, OK, OK, OK},
			{"0 - - - -", OK, OK, OK, OK},
			{"- - - - -", InsufficientData, retain, Alarm, OK},
			{"0 X X - X", Alarm, Alarm, Alarm, Alarm},
			{"- - - - X", InsufficientData, retain, Alarm, OK},
			{"X - - - -", Alarm, retain, Alarm, OK},
		}},
		{2, 3, []struct {
			points                              string
			missing, ignore, breaching, notBrch State
		}{
			{"0 - X - X", Alarm, Alarm, Alarm, Alarm},
			{"0 0 X 0 X", Alarm, Alarm, Alarm, Alarm},
			{"0 - X - -", OK, OK, Alarm, OK},
			{"- - - - 0", OK, OK, Alarm, OK},
			{"- - - - X", InsufficientData, retain, Alarm, OK},
		}},
	}
	for _, tab := range tables {
		for _, row := range tab.rows {
			for treat, want := range map[string]State{"missing": row.missing, "ignore": row.ignore, "breaching": row.breaching, "notBreaching": row.notBrch} {
				// Start from each state so that "retain" and no-change cases show.
				for _, from := range []State{OK, Alarm, InsufficientData} {
					c := Config{Period: time.Minute, EvaluationPeriods: tab.n, DatapointsToAlarm: tab.m, Threshold: 50,
						ComparisonOperator: "GreaterThanThreshold", TreatMissingData: treat, Statistic: "Average"}
					got := Evaluate(c, from, series(row.points), t0.Add(5*time.Minute)).State
					expect := want
					if want == retain {
						expect = from
					}
					if got != expect {
						t.Errorf("%d of %d, %q, %s, from %s: got %s, want %s", tab.m, tab.n, row.points, treat, from, got, expect)
					}
				}
			}
		}
	}
}

func TestMOutOfN(t *testing.T) {
	c := Config{Period: time.Minute, EvaluationPeriods: 5, DatapointsToAlarm: 3, Threshold: 10, ComparisonOperator: "GreaterThanOrEqualToThreshold"}
	for points, want := range map[string]State{
		"0 0 X 0 X 0 X": Alarm, // 3 of the last 5, not consecutive
		"0 0 X 0 0 0 X": OK,    // 2 of the last 5
		"X X X X 0 0 0": OK,    // old breaches fall out of the last 5
	} {
		if got := Evaluate(c, InsufficientData, series(points), t0).State; got != want {
			t.Errorf("%q: got %s, want %s", points, got, want)
		}
	}
}

func TestReason(t *testing.T) {
	c := Config{Period: time.Minute, EvaluationPeriods: 1, Threshold: 50, ComparisonOperator: "GreaterThanThreshold", Statistic: "Average"}
	ps := []Point{{Timestamp: t0, Missing: true}, {Timestamp: t0.Add(time.Minute), Missing: true}, {Timestamp: t0.Add(2 * time.Minute), Value: 99.50160229693434, SampleCount: 3}}
	r := Evaluate(c, OK, ps, t0.Add(3*time.Minute))
	want := "Threshold Crossed: 1 out of the last 1 datapoints [99.50160229693434 (23/11/26 12:02:00)] was greater than the threshold (50.0) (minimum 1 datapoint for OK -> ALARM transition)."
	if r.State != Alarm || r.Reason != want {
		t.Fatalf("got %s %q\nwant %q", r.State, r.Reason, want)
	}
	if !strings.Contains(r.ReasonData, `"recentDatapoints":[99.50160229693434]`) || !strings.Contains(r.ReasonData, `"threshold":50`) ||
		!strings.Contains(r.ReasonData, `"evaluatedDatapoints":[{"timestamp":"2026-11-23T12:02:00.000+0000","sampleCount":3,"value":99.50160229693434}]`) {
		t.Fatalf("ReasonData = %s", r.ReasonData)
	}
	// No change, no new reason.
	if r := Evaluate(c, Alarm, ps, t0); r.State != Alarm || r.Reason != "" {
		t.Fatalf("unchanged state carried a reason: %+v", r)
	}
	back := Evaluate(c, Alarm, series("X X 0"), t0)
	if back.State != OK || !strings.HasPrefix(back.Reason, "Threshold Crossed: 1 datapoint [0.0 (23/11/26 12:02:00)] was not greater than the threshold (50.0)") {
		t.Fatalf("back to OK: %+v", back)
	}
}

func TestLowSampleCountPercentile(t *testing.T) {
	c := Config{Period: time.Minute, EvaluationPeriods: 1, Threshold: 1, ComparisonOperator: "GreaterThanThreshold",
		ExtendedStatistic: "p99", EvaluateLowSampleCountPercentile: "ignore"}
	ps := []Point{{Timestamp: t0, Value: 5, SampleCount: 999}} // p99 needs 1000 samples
	if got := Evaluate(c, OK, ps, t0).State; got != OK {
		t.Fatalf("low sample count evaluated: %s", got)
	}
	ps[0].SampleCount = 1000
	if got := Evaluate(c, OK, ps, t0).State; got != Alarm {
		t.Fatalf("enough samples: %s", got)
	}
	c.EvaluateLowSampleCountPercentile = "evaluate"
	ps[0].SampleCount = 1
	if got := Evaluate(c, OK, ps, t0).State; got != Alarm {
		t.Fatalf("evaluate: %s", got)
	}
}

// reasonDoc is StateReasonData's shape; reasonData writes it by hand.
type reasonDoc struct {
	Version             string           `json:"version"`
	QueryDate           string           `json:"queryDate"`
	StartDate           string           `json:"startDate,omitempty"`
	Statistic           string           `json:"statistic,omitempty"`
	Period              int              `json:"period"`
	RecentDatapoints    []float64        `json:"recentDatapoints"`
	Threshold           float64          `json:"threshold"`
	EvaluatedDatapoints []reasonDocPoint `json:"evaluatedDatapoints,omitempty"`
}

type reasonDocPoint struct {
	Timestamp   string  `json:"timestamp"`
	SampleCount float64 `json:"sampleCount,omitempty"`
	Value       float64 `json:"value"`
}

// TestReasonDataAsEncodingJSON: the hand-written StateReasonData is what
// encoding/json writes for its shape, for ranges with and without missing
// periods, evaluated points and statistics.
func TestReasonDataAsEncodingJSON(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 5, 3, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		c := Config{Period: time.Minute, Threshold: rng.NormFloat64() * 1e3, Statistic: []string{"", "Average", "Sum"}[i%3]}
		if i%5 == 0 {
			c.Statistic, c.ExtendedStatistic = "", "p99.9"
		}
		var all []Point
		for j := range i % 7 {
			all = append(all, Point{Timestamp: now.Add(time.Duration(j-7) * time.Minute), Value: rng.ExpFloat64() * math.Pow(10, float64(rng.IntN(30)-15)),
				SampleCount: float64(rng.IntN(3)), Missing: rng.IntN(4) == 0})
		}
		evaluated := all[:len(all)/2]
		want := reasonDoc{Version: "1.0", QueryDate: now.Format(reasonTime), Statistic: c.statistic(), Period: 60, Threshold: c.Threshold, RecentDatapoints: []float64{}}
		if len(all) > 0 {
			want.StartDate = all[0].Timestamp.Format(reasonTime)
		}
		for _, p := range all {
			if !p.Missing {
				want.RecentDatapoints = append(want.RecentDatapoints, p.Value)
			}
		}
		for j := len(evaluated) - 1; j >= 0; j-- {
			p := evaluated[j]
			want.EvaluatedDatapoints = append(want.EvaluatedDatapoints, reasonDocPoint{p.Timestamp.Format(reasonTime), p.SampleCount, p.Value})
		}
		wantJSON, _ := json.Marshal(want)
		if got := c.reasonData(now, all, evaluated); got != string(wantJSON) {
			t.Fatalf("case %d:\n got %s\nwant %s", i, got, wantJSON)
		}
	}
}
