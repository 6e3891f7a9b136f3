package scaling

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// decision is what a decide function returns.
type decision struct {
	desired int
	out, ok bool
}

func expectDecision(t *testing.T, name string, got, want decision) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %+v, want %+v", name, got, want)
	}
}

func TestTargetTrackingScaleOutCooldown(t *testing.T) {
	// 2 instances at metric 150 for target 50: 6. A scale-out 2 -> 4
	// completed at t0 with a 300 s cooldown.
	cooling := Cooldown{}.Completed(true, 2, 4, t0, 5*time.Minute, 5*time.Minute)
	for _, tt := range []struct {
		name    string
		current int
		metric  float64
		c       Cooldown
		now     time.Time
		want    decision
	}{
		{"no cooldown", 2, 150, Cooldown{}, t0, decision{6, true, true}},
		{"zero capacity decides nothing", 0, 150, Cooldown{}, t0, decision{}},
		{"in cooldown, from the capacity before it: 2 at 150 wants 6 > 4", 4, 150, cooling, t0.Add(time.Minute), decision{6, true, true}},
		{"in cooldown, no more than the cooling activity added", 4, 100, cooling, t0.Add(time.Minute), decision{}},
		{"cooldown over", 4, 100, cooling, t0.Add(5 * time.Minute), decision{8, true, true}},
	} {
		d, ok := TargetTrackingScaleOut(tt.current, tt.metric, 50, tt.c, tt.now)
		got := decision{d, true, ok}
		if !ok {
			got = decision{}
		}
		expectDecision(t, tt.name, got, tt.want)
	}
}

func TestTargetTrackingScaleInConsensus(t *testing.T) {
	scaledIn := Cooldown{}.Completed(false, 0, 0, t0, 0, 5*time.Minute)
	ready := func(metric, target float64) ScaleInVote {
		return ScaleInVote{Ready: true, Metric: metric, Target: target}
	}
	for _, tt := range []struct {
		name  string
		votes []ScaleInVote
		c     Cooldown
		now   time.Time
		want  decision
	}{
		// 10 instances.
		{"one policy: ceil(10*20/50) = 4", []ScaleInVote{ready(20, 50)}, Cooldown{}, t0, decision{4, false, true}},
		{"every policy must be ready", []ScaleInVote{ready(20, 50), {}}, Cooldown{}, t0, decision{}},
		{"the largest capacity wins", []ScaleInVote{ready(20, 50), ready(40, 50)}, Cooldown{}, t0, decision{8, false, true}},
		{"a policy that would not scale in keeps the capacity", []ScaleInVote{ready(20, 50), ready(60, 50)}, Cooldown{}, t0, decision{10, false, true}},
		{"no votes", nil, Cooldown{}, t0, decision{}},
		{"in the scale-in cooldown", []ScaleInVote{ready(20, 50)}, scaledIn, t0.Add(time.Minute), decision{}},
		{"after the scale-in cooldown", []ScaleInVote{ready(20, 50)}, scaledIn, t0.Add(5 * time.Minute), decision{4, false, true}},
	} {
		d, ok := TargetTrackingScaleIn(10, tt.votes, tt.c, tt.now)
		got := decision{d, false, ok}
		if !ok {
			got = decision{}
		}
		expectDecision(t, tt.name, got, tt.want)
	}
}

func TestCooldownCompleted(t *testing.T) {
	c := Cooldown{}.Completed(false, 0, 0, t0, 0, time.Minute)
	c = c.Completed(true, 2, 3, t0.Add(time.Second), 2*time.Minute, time.Minute)
	if !c.ScaleInUntil.IsZero() || c.ScaleOutFrom != 2 || c.ScaleOutTo != 3 || !c.ScaleOutUntil.Equal(t0.Add(time.Second+2*time.Minute)) {
		t.Fatalf("a scale-out ends the scale-in cooldown and starts its own: %+v", c)
	}
}

func TestStepScalingCooldown(t *testing.T) {
	lo := 0.0
	cfg := StepConfig{AdjustmentType: ChangeInCapacity, Steps: []Step{{Lower: &lo, Adjustment: 2}}}
	in := StepConfig{AdjustmentType: ChangeInCapacity, Steps: []Step{{Upper: &lo, Adjustment: -1}}}
	cooling := Cooldown{}.Completed(true, 2, 4, t0, 5*time.Minute, 5*time.Minute)
	scaledIn := Cooldown{}.Completed(false, 0, 0, t0, 5*time.Minute, 5*time.Minute)
	for _, tt := range []struct {
		name    string
		cfg     StepConfig
		current int
		above   bool
		c       Cooldown
		now     time.Time
		want    decision
	}{
		{"scale out", cfg, 2, true, Cooldown{}, t0, decision{4, true, true}},
		{"in cooldown: only beyond the cooling activity (2+2 = 4, not > 4)", cfg, 4, true, cooling, t0.Add(time.Minute), decision{}},
		{"in cooldown, capacity dropped meanwhile: 2+2 = 4 > 3", cfg, 3, true, cooling, t0.Add(time.Minute), decision{4, true, true}},
		{"scale in", in, 4, false, Cooldown{}, t0, decision{3, false, true}},
		{"scale in during its cooldown", in, 4, false, scaledIn, t0.Add(time.Minute), decision{}},
		{"no datapoints", cfg, 2, true, Cooldown{}, t0, decision{}},
	} {
		values := []float64{120, 130}
		if tt.name == "no datapoints" {
			values = nil
		}
		threshold := 100.0
		if !tt.above {
			values, threshold = []float64{10}, 50
		}
		d, out, ok := StepScaling(tt.cfg, tt.current, values, threshold, tt.above, tt.c, tt.now)
		expectDecision(t, tt.name, decision{d, out, ok}, tt.want)
	}
}

func TestDueRun(t *testing.T) {
	s, err := ParseSchedule("rate(10 minutes)", time.UTC, t0)
	if err != nil {
		t.Fatal(err)
	}
	end := t0.Add(time.Hour)
	for _, tt := range []struct {
		name      string
		last, now time.Time
		end       *time.Time
		run       time.Time
		late, ok  bool
	}{
		{"not yet", t0, t0.Add(9 * time.Minute), nil, time.Time{}, false, false},
		{"due", t0, t0.Add(10*time.Minute + time.Second), nil, t0.Add(10 * time.Minute), false, true},
		{"the latest of several, older ones not replayed", t0, t0.Add(35 * time.Minute), nil, t0.Add(30 * time.Minute), true, true},
		{"after the end time", t0, t0.Add(70 * time.Minute), &end, time.Time{}, false, false},
	} {
		run, late, ok := DueRun(s, tt.last, tt.now, nil, tt.end, 2*time.Minute)
		if !run.Equal(tt.run) || late != tt.late || ok != tt.ok {
			t.Errorf("%s: got %v late=%v ok=%v, want %v late=%v ok=%v", tt.name, run, late, ok, tt.run, tt.late, tt.ok)
		}
	}
}
