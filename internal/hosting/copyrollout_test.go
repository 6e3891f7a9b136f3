package hosting

import (
	"strings"
	"testing"
	"time"
)

// TestAdvanceCopies: every step of a component's rolling update, one case
// each: a batch waits for its copies, bakes, gives way to the next, the
// last bake ends the update, and an alarm, a failed copy or the time limit
// rolls it back to the previous specification.
func TestAdvanceCopies(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	limit := 600
	base := func(step int, since time.Time) component {
		return component{Name: "ic", Status: ComponentUpdating, DesiredCopies: 4,
			componentSpec: componentSpec{Generation: 2, ModelName: "new"},
			Rollout: &copyRollout{Config: ComponentDeploymentConfig{RollingUpdatePolicy: &RollingUpdatePolicy{
				MaximumBatchSize: CapacitySize{Type: "CAPACITY_PERCENT", Value: 50}, WaitIntervalInSeconds: 60, MaximumExecutionTimeoutInSeconds: &limit}},
				Previous: componentSpec{Generation: 1, ModelName: "old"}, Started: t0, Step: step, Since: since}}
	}
	type want struct {
		changed  bool
		step     int // -1: the update ended
		since    time.Time
		rolled   string // in RollbackReason
		wake     time.Duration
		previous bool // the previous specification is current again
	}
	for _, tc := range []struct {
		name     string
		c        component
		ready    int
		failure  string
		alarming []string
		now      time.Time
		want     want
	}{
		{"the batch's copies are starting: wait for them, no longer than the limit",
			base(0, time.Time{}), 1, "", nil, t0.Add(time.Minute), want{step: 0, wake: 9 * time.Minute}},
		{"the batch is healthy: its bake starts",
			base(0, time.Time{}), 2, "", nil, t0.Add(time.Minute), want{changed: true, step: 0, since: t0.Add(time.Minute)}},
		{"baking: look again when it ends",
			base(0, t0.Add(time.Minute)), 2, "", nil, t0.Add(90 * time.Second), want{step: 0, since: t0.Add(time.Minute), wake: 30 * time.Second}},
		{"baked: the next batch",
			base(0, t0.Add(time.Minute)), 2, "", nil, t0.Add(2 * time.Minute), want{changed: true, step: 1}},
		{"the last batch baked: the update ends",
			base(1, t0.Add(3*time.Minute)), 4, "", nil, t0.Add(4 * time.Minute), want{changed: true, step: -1}},
		{"an alarm in ALARM while baking: rolled back",
			base(1, t0.Add(3*time.Minute)), 4, "", []string{"errors"}, t0.Add(3*time.Minute + time.Second),
			want{changed: true, step: -1, rolled: "alarm errors went into ALARM", previous: true}},
		{"a copy of the new specification failed: rolled back",
			base(0, time.Time{}), 0, "exit status 1", nil, t0.Add(time.Second),
			want{changed: true, step: -1, rolled: "a copy of the new specification failed: exit status 1", previous: true}},
		{"the time limit passed: rolled back",
			base(0, time.Time{}), 1, "", nil, t0.Add(10 * time.Minute),
			want{changed: true, step: -1, rolled: "MaximumExecutionTimeoutInSeconds (600)", previous: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changed, wake := advanceCopies(tc.c, tc.ready, tc.failure, tc.alarming, tc.now)
			step, since := -1, time.Time{}
			if got.Rollout != nil {
				step, since = got.Rollout.Step, got.Rollout.Since
			}
			if changed != tc.want.changed || step != tc.want.step || !since.Equal(tc.want.since) || wake != tc.want.wake {
				t.Fatalf("changed %v step %d since %v wake %v; want %+v", changed, step, since, wake, tc.want)
			}
			if (tc.want.rolled == "") != (got.RollbackReason == "") || !strings.Contains(got.RollbackReason, tc.want.rolled) {
				t.Fatalf("RollbackReason %q, want it to say %q", got.RollbackReason, tc.want.rolled)
			}
			if tc.want.previous != (got.ModelName == "old" && got.Generation == 1 && got.Discard == 2) {
				t.Fatalf("specification %q generation %d discard %d", got.ModelName, got.Generation, got.Discard)
			}
		})
	}
}

func TestCheckComponentDeployment(t *testing.T) {
	size := func(typ string, v int) CapacitySize { return CapacitySize{Type: typ, Value: v} }
	rolling := func(batch CapacitySize, rollback *CapacitySize) ComponentDeploymentConfig {
		return ComponentDeploymentConfig{RollingUpdatePolicy: &RollingUpdatePolicy{MaximumBatchSize: batch, RollbackMaximumBatchSize: rollback}}
	}
	whole := size("CAPACITY_PERCENT", 100)
	for _, tc := range []struct {
		name   string
		c      ComponentDeploymentConfig
		copies int
		err    string
	}{
		{"one of four copies", rolling(size("COPY_COUNT", 1), nil), 4, ""},
		{"half", rolling(size("CAPACITY_PERCENT", 50), &whole), 4, ""},
		{"no policy", ComponentDeploymentConfig{AutoRollbackConfiguration: &AutoRollbackConfig{}}, 4, "needs a RollingUpdatePolicy"},
		{"more than half", rolling(size("COPY_COUNT", 3), nil), 4, "5% to 50%"},
		{"one copy cannot roll", rolling(size("COPY_COUNT", 1), nil), 1, "5% to 50%"},
		{"above 100 percent", rolling(size("CAPACITY_PERCENT", 101), nil), 4, "at most 100"},
		{"rollback in batches", rolling(size("COPY_COUNT", 1), &CapacitySize{Type: "COPY_COUNT", Value: 1}), 4, ""},
		{"rollback batches above 100 percent", rolling(size("COPY_COUNT", 1), &CapacitySize{Type: "CAPACITY_PERCENT", Value: 101}), 4, "at most 100"},
	} {
		err := checkComponentDeployment(tc.c, tc.copies)
		if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.err)
		}
	}
}
