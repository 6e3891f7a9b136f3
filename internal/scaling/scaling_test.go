package scaling

import "testing"

func f(v float64) *float64 { return &v }

// The worked example of the step scaling documentation: threshold 50,
// capacity 10, percent steps out and in.
func TestStepWorkedExample(t *testing.T) {
	cfg := StepConfig{AdjustmentType: PercentChangeInCapacity, Steps: []Step{
		{Lower: f(0), Upper: f(10), Adjustment: 0},
		{Lower: f(10), Upper: f(20), Adjustment: 10},
		{Lower: f(20), Adjustment: 30},
		{Lower: f(-10), Upper: f(0), Adjustment: 0},
		{Lower: f(-20), Upper: f(-10), Adjustment: -10},
		{Upper: f(-20), Adjustment: -30},
	}}
	if err := ValidateSteps(cfg.Steps); err != nil {
		t.Fatal(err)
	}
	capacity := 10
	for _, tt := range []struct {
		metric float64
		want   int
	}{{60, 11}, {70, 14}, {40, 13}, {30, 10}} {
		s, ok := FindStep(cfg.Steps, tt.metric, 50, tt.metric > 50)
		if !ok {
			t.Fatalf("metric %v: no step", tt.metric)
		}
		capacity = Apply(cfg, capacity, s.Adjustment)
		if capacity != tt.want {
			t.Fatalf("metric %v: capacity %d, want %d", tt.metric, capacity, tt.want)
		}
	}
}

func TestPercentRounding(t *testing.T) {
	cfg := StepConfig{AdjustmentType: PercentChangeInCapacity}
	for _, tt := range []struct {
		current, pct, min, want int
	}{
		{127, 10, 0, 139}, // +12.7 -> +12
		{5, 10, 0, 6},     // +0.5 -> +1
		{5, -10, 0, 4},    // -0.5 -> -1
		{100, -67, 0, 33}, // -67 exactly
		{10, -67, 0, 4},   // -6.7 -> -6
		{4, 25, 2, 6},     // +1, raised to MinAdjustmentMagnitude 2
		{4, -25, 2, 2},    // -1, raised to -2
		{10, 200, 0, 30},  // +20
	} {
		cfg.MinAdjustmentMagnitude = tt.min
		if got := Apply(cfg, tt.current, tt.pct); got != tt.want {
			t.Errorf("%d%% of %d (min %d) = %d, want %d", tt.pct, tt.current, tt.min, got, tt.want)
		}
	}
	if got := Apply(StepConfig{AdjustmentType: ExactCapacity}, 7, 3); got != 3 {
		t.Errorf("ExactCapacity = %d", got)
	}
}

func TestInclusivity(t *testing.T) {
	steps := []Step{{Lower: f(0), Upper: f(10), Adjustment: 1}, {Lower: f(10), Adjustment: 2}, {Upper: f(0), Adjustment: -1}}
	for _, tt := range []struct {
		metric float64
		want   int
	}{{50, 1}, {59.9, 1}, {60, 2}, {49.9, -1}} {
		s, _ := FindStep(steps, tt.metric, 50, tt.metric >= 50)
		if s.Adjustment != tt.want {
			t.Errorf("metric %v: adjustment %d, want %d", tt.metric, s.Adjustment, tt.want)
		}
	}
	// Below the threshold the upper bound is inclusive: -10 falls in (-20, -10].
	below := []Step{{Lower: f(-20), Upper: f(-10), Adjustment: -1}, {Lower: f(-10), Upper: f(0), Adjustment: 0}, {Upper: f(-20), Adjustment: -2}}
	if s, _ := FindStep(below, 40, 50, false); s.Adjustment != -1 {
		t.Errorf("-10 below: adjustment %d, want -1", s.Adjustment)
	}
}

func TestValidateSteps(t *testing.T) {
	bad := map[string][]Step{
		"both open":  {{Adjustment: 1}},
		"overlap":    {{Lower: f(0), Upper: f(10), Adjustment: 1}, {Lower: f(5), Adjustment: 2}},
		"gap":        {{Lower: f(0), Upper: f(10), Adjustment: 1}, {Lower: f(20), Adjustment: 2}},
		"two open":   {{Lower: f(0), Adjustment: 1}, {Lower: f(10), Adjustment: 2}},
		"no open up": {{Lower: f(0), Upper: f(10), Adjustment: 1}},
		"inverted":   {{Lower: f(10), Upper: f(0), Adjustment: 1}},
	}
	for name, steps := range bad {
		if ValidateSteps(steps) == nil {
			t.Errorf("%s: want an error", name)
		}
	}
	if err := ValidateSteps([]Step{{Lower: f(0), Adjustment: 1}}); err != nil {
		t.Errorf("seed step policy: %v", err)
	}
}

func TestTargetTracking(t *testing.T) {
	if got := TargetTrackingOut(10, 57.5, 50); got != 12 {
		t.Errorf("10 x 57.5/50 = %d, want 12", got)
	}
	if got, ok := TargetTrackingIn(10, 47.5, 50); ok || got != 10 {
		t.Errorf("scale-in that would overshoot: %d %v", got, ok)
	}
	if got, ok := TargetTrackingIn(10, 20, 50); !ok || got != 4 {
		t.Errorf("10 x 20/50 = %d %v, want 4", got, ok)
	}
	if got, ok := TargetTrackingIn(3, 0, 50); !ok || got != 0 {
		t.Errorf("idle: %d %v, want 0 (clamped by Min later)", got, ok)
	}
	for _, tt := range []struct {
		current, desired, min, max int
		scale                      bool
		want                       int
		reason                     string
	}{
		{4, 12, 1, 4, false, 4, AlreadyAtMaxCapacity},
		{2, 12, 1, 4, true, 4, ""},
		{1, 0, 1, 4, false, 1, AlreadyAtMinCapacity},
		{3, 3, 1, 4, false, 3, AlreadyAtDesiredCapacity},
	} {
		d := Clamp(tt.current, tt.desired, tt.min, tt.max)
		if d.Scale != tt.scale || d.Desired != tt.want || d.Reason != tt.reason {
			t.Errorf("Clamp(%d, %d, %d, %d) = %+v", tt.current, tt.desired, tt.min, tt.max, d)
		}
	}
}
