package hosting

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRolloutPlan: every step of a blue/green deployment with traffic
// shifting, as planInstances decides it: the new fleet's first share once
// it is healthy, each bake, the next share, the cut-over keeping the old
// fleet TerminationWaitInSeconds, and the rollback on an alarm, a failure
// or the time limit.
func TestRolloutPlan(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	ptrInt := func(n int) *int { return &n }
	policy := func(typ string, size *CapacitySize) DeploymentConfig {
		tr := TrafficRoutingConfig{Type: typ, WaitIntervalInSeconds: 60}
		switch typ {
		case "CANARY":
			tr.CanarySize = size
		case "LINEAR":
			tr.LinearStepSize = size
		}
		return DeploymentConfig{BlueGreenUpdatePolicy: &BlueGreenUpdatePolicy{TrafficRoutingConfiguration: tr, TerminationWaitInSeconds: ptrInt(120),
			MaximumExecutionTimeoutInSeconds: ptrInt(600)}, AutoRollbackConfiguration: &AutoRollbackConfig{Alarms: []AlarmName{{"errors"}}}}
	}
	canary := policy("CANARY", &CapacitySize{Type: "INSTANCE_COUNT", Value: 1})
	rec := func(cfg DeploymentConfig, step int, since time.Duration) endpointRecord {
		return endpointRecord{Name: "ep", Status: StatusUpdating,
			Current: deployment{ID: "old", ConfigName: "c-old", Variants: []variant{{Name: "v", DesiredCount: 2, DesiredWeight: 1, CurrentWeight: 1}}},
			Pending: &deployment{ID: "new", ConfigName: "c-new", Variants: []variant{{Name: "v", DesiredCount: 2, DesiredWeight: 1}}},
			Rollout: &rollout{Config: cfg, Started: t0, Step: step, Since: t0.Add(since)}}
	}
	fleet := func(d string, ready bool) []observedInstance {
		return []observedInstance{{Deployment: "old", Variant: "v", Ready: true}, {Deployment: "old", Variant: "v", Ready: true},
			{Deployment: d, Variant: "v", Ready: ready}, {Deployment: d, Variant: "v", Ready: ready}}
	}
	for _, tc := range []struct {
		name     string
		in       planInput
		status   string // the move's, "" for none
		step     int    // the rollout's step after the move
		current  string // the current deployment after the move
		reason   string
		wake     time.Duration
		retiring bool
	}{
		{name: "the new fleet starting: all traffic stays; wake at the time limit",
			in: planInput{Rec: rec(canary, -1, 0), Instances: fleet("new", false), Now: t0.Add(10 * time.Second)}, wake: 590 * time.Second},
		{name: "the new fleet healthy: the canary's share, baked from now",
			in: planInput{Rec: rec(canary, -1, 0), Instances: fleet("new", true), Now: t0.Add(30 * time.Second)}, status: StatusUpdating, step: 0, current: "old"},
		{name: "baking: nothing moves until the wait is over",
			in: planInput{Rec: rec(canary, 0, 30*time.Second), Instances: fleet("new", true), Now: t0.Add(60 * time.Second)}, wake: 30 * time.Second},
		{name: "baked: the rest of the traffic",
			in: planInput{Rec: rec(canary, 0, 30*time.Second), Instances: fleet("new", true), Now: t0.Add(90 * time.Second)}, status: StatusUpdating, step: 1, current: "old"},
		{name: "all traffic baked: the new fleet is current, the old one stays TerminationWaitInSeconds",
			in: planInput{Rec: rec(canary, 1, 90*time.Second), Instances: fleet("new", true), Now: t0.Add(150 * time.Second)}, status: StatusInService, current: "new", retiring: true},
		{name: "an alarm in ALARM: all traffic back, the old configuration stays",
			in:     planInput{Rec: rec(canary, 0, 30*time.Second), Instances: fleet("new", true), Alarming: []string{"errors"}, Now: t0.Add(40 * time.Second)},
			status: StatusInService, current: "old", reason: "Rolled back the update to endpoint configuration c-new: alarm errors went into ALARM."},
		{name: "the new fleet failing: rolled back",
			in:     planInput{Rec: rec(canary, -1, 0), Instances: fleet("new", false), Failure: "exit status 1", Now: t0.Add(40 * time.Second)},
			status: StatusInService, current: "old", reason: "the new fleet failed: exit status 1"},
		{name: "past MaximumExecutionTimeoutInSeconds: rolled back",
			in:     planInput{Rec: rec(canary, 0, 30*time.Second), Instances: fleet("new", true), Now: t0.Add(600 * time.Second)},
			status: StatusInService, current: "old", reason: "did not complete within MaximumExecutionTimeoutInSeconds (600)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planInstances(tc.in)
			if tc.status == "" {
				if p.Next != nil {
					t.Fatalf("moved to %s, want no move", p.Next.Rec.Status)
				}
				if p.WakeIn != tc.wake {
					t.Fatalf("wake in %v, want %v", p.WakeIn, tc.wake)
				}
				return
			}
			if p.Next == nil {
				t.Fatalf("no move, want %s", tc.status)
			}
			r := p.Next.Rec
			if r.Status != tc.status || r.Current.ID != tc.current || !strings.Contains(r.FailureReason, tc.reason) || (r.Retiring != nil) != tc.retiring {
				t.Fatalf("moved to %s on %s (reason %q, retiring %v); want %s on %s (%q, retiring %v)", r.Status, r.Current.ID, r.FailureReason, r.Retiring != nil,
					tc.status, tc.current, tc.reason, tc.retiring)
			}
			if tc.status == StatusUpdating && (r.Rollout == nil || r.Rollout.Step != tc.step || !r.Rollout.Since.Equal(tc.in.Now)) {
				t.Fatalf("rollout %+v, want step %d since now", r.Rollout, tc.step)
			}
			if tc.status == StatusInService && (r.Rollout != nil || r.Pending != nil) {
				t.Fatalf("a finished deployment left rollout %+v, pending %+v", r.Rollout, r.Pending)
			}
			if tc.retiring && !r.RetireAt.Equal(tc.in.Now.Add(120*time.Second)) {
				t.Fatalf("RetireAt %v, want 120 s after now", r.RetireAt)
			}
		})
	}

	// The old fleet is kept until RetireAt, then stopped.
	done := endpointRecord{Name: "ep", Status: StatusInService, Current: deployment{ID: "new", Variants: []variant{{Name: "v", DesiredCount: 1}}},
		Retiring: &deployment{ID: "old"}, RetireAt: t0.Add(time.Minute)}
	obs := []observedInstance{{Deployment: "new", Variant: "v", Ready: true}, {Deployment: "old", Variant: "v", Ready: true}}
	if p := planInstances(planInput{Rec: done, Instances: obs, Now: t0}); len(p.Stop) != 0 || p.WakeIn != time.Minute {
		t.Fatalf("before RetireAt: stops %v, wakes in %v; want none, a minute", p.Stop, p.WakeIn)
	}
	p := planInstances(planInput{Rec: done, Instances: obs, Now: t0.Add(time.Minute)})
	if !slices.Equal(p.Stop, []int{1}) || p.Next == nil || p.Next.Rec.Retiring != nil {
		t.Fatalf("at RetireAt: stops %v, move %+v; want the old instance stopped and Retiring cleared", p.Stop, p.Next)
	}
}

// TestShares: the new fleet's shares of traffic, step by step.
func TestShares(t *testing.T) {
	for _, c := range []struct {
		typ      string
		size     *CapacitySize
		capacity int
		want     []float64
	}{
		{"ALL_AT_ONCE", nil, 4, []float64{1}},
		{"CANARY", &CapacitySize{"INSTANCE_COUNT", 1}, 4, []float64{0.25, 1}},
		{"CANARY", &CapacitySize{"CAPACITY_PERCENT", 10}, 4, []float64{0.1, 1}},
		{"LINEAR", &CapacitySize{"CAPACITY_PERCENT", 25}, 4, []float64{0.25, 0.5, 0.75, 1}},
		{"LINEAR", &CapacitySize{"INSTANCE_COUNT", 2}, 5, []float64{0.4, 0.8, 1}},
	} {
		tr := TrafficRoutingConfig{Type: c.typ}
		if c.typ == "CANARY" {
			tr.CanarySize = c.size
		} else {
			tr.LinearStepSize = c.size
		}
		p := &BlueGreenUpdatePolicy{TrafficRoutingConfiguration: tr}
		got := p.shares(c.capacity)
		if len(got) != len(c.want) {
			t.Fatalf("%s %+v of %d: %v, want %v", c.typ, c.size, c.capacity, got, c.want)
		}
		for i := range got {
			if d := got[i] - c.want[i]; d > 1e-9 || d < -1e-9 {
				t.Fatalf("%s %+v of %d: %v, want %v", c.typ, c.size, c.capacity, got, c.want)
			}
		}
	}
}

// TestRollingPlan: a rolling deployment in batches of one of three
// instances: each batch's new instance starts before an old one goes
// (never fewer than three in service but while one is starting), bakes,
// then the next; the last baked, the new fleet is current; an alarm rolls
// it back, the old fleet coming back first (RollingBack).
func TestRollingPlan(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	cfg := DeploymentConfig{RollingUpdatePolicy: &RollingUpdatePolicy{MaximumBatchSize: CapacitySize{Type: "INSTANCE_COUNT", Value: 1}, WaitIntervalInSeconds: 60},
		AutoRollbackConfiguration: &AutoRollbackConfig{Alarms: []AlarmName{{"errors"}}}}
	rec := func(step int, since time.Duration) endpointRecord {
		r := endpointRecord{Name: "ep", Status: StatusUpdating,
			Current: deployment{ID: "old", ConfigName: "c-old", Variants: []variant{{Name: "v", DesiredCount: 3, DesiredWeight: 1, CurrentWeight: 1}}},
			Pending: &deployment{ID: "new", ConfigName: "c-new", Variants: []variant{{Name: "v", DesiredCount: 3, DesiredWeight: 1}}},
			Rollout: &rollout{Config: cfg, Started: t0, Step: step}}
		if since >= 0 {
			r.Rollout.Since = t0.Add(since)
		}
		return r
	}
	fleets := func(old, new int) []observedInstance {
		var out []observedInstance
		for range old {
			out = append(out, observedInstance{Deployment: "old", Variant: "v", Ready: true})
		}
		for range new {
			out = append(out, observedInstance{Deployment: "new", Variant: "v", Ready: true})
		}
		return out
	}
	now := t0.Add(5 * time.Minute)
	for _, tc := range []struct {
		name          string
		in            planInput
		starts, stops int    // new instances started, old ones stopped
		status        string // the move's, "" for none
		step          int
		baking        bool // the move starts the batch's bake
		current       string
		wake          time.Duration
	}{
		{name: "the first batch: one new instance, no old one stopped yet", in: planInput{Rec: rec(0, -1), Instances: fleets(3, 0), Now: now}, starts: 1,
			wake: DefaultMaximumExecutionTimeout - 5*time.Minute},
		{name: "the batch healthy: its bake begins", in: planInput{Rec: rec(0, -1), Instances: fleets(3, 1), Now: now}, status: StatusUpdating, step: 0, baking: true, current: "old"},
		{name: "baking", in: planInput{Rec: rec(0, 5*time.Minute-30*time.Second), Instances: fleets(3, 1), Now: now}, wake: 30 * time.Second},
		{name: "baked: the next batch", in: planInput{Rec: rec(0, 4*time.Minute), Instances: fleets(3, 1), Now: now}, status: StatusUpdating, step: 1, current: "old"},
		{name: "the second batch: an old instance goes as a new one starts", in: planInput{Rec: rec(1, -1), Instances: fleets(3, 1), Now: now}, starts: 1, stops: 1,
			wake: DefaultMaximumExecutionTimeout - 5*time.Minute},
		{name: "the last batch baked: the new fleet is current", in: planInput{Rec: rec(2, 4*time.Minute), Instances: fleets(1, 3), Now: now}, status: StatusInService, current: "new"},
		{name: "an alarm: rolled back, the old fleet first", in: planInput{Rec: rec(1, -1), Instances: fleets(2, 2), Alarming: []string{"errors"}, Now: now},
			status: StatusRollingBack, current: "old"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planInstances(tc.in)
			starts, stops := 0, 0
			for _, s := range p.Start {
				if s.Deployment == "new" {
					starts++
				}
			}
			for _, i := range p.Stop {
				if tc.in.Instances[i].Deployment == "old" {
					stops++
				}
			}
			if tc.status == "" {
				if p.Next != nil || starts != tc.starts || stops != tc.stops || p.WakeIn != tc.wake {
					t.Fatalf("move %v, %d started, %d old stopped, wake %v; want no move, %d, %d, %v", p.Next != nil, starts, stops, p.WakeIn, tc.starts, tc.stops, tc.wake)
				}
				return
			}
			if p.Next == nil {
				t.Fatalf("no move, want %s", tc.status)
			}
			r := p.Next.Rec
			if r.Status != tc.status || r.Current.ID != tc.current {
				t.Fatalf("moved to %s on %s (%q); want %s on %s", r.Status, r.Current.ID, r.FailureReason, tc.status, tc.current)
			}
			if tc.status == StatusUpdating && (r.Rollout.Step != tc.step || r.Rollout.Since.IsZero() != !tc.baking) {
				t.Fatalf("rollout step %d since %v; want step %d, baking %v", r.Rollout.Step, r.Rollout.Since, tc.step, tc.baking)
			}
			if tc.status == StatusRollingBack && (r.Pending != nil || !strings.Contains(r.FailureReason, "alarm errors went into ALARM")) {
				t.Fatalf("rolled back with pending %v, reason %q", r.Pending, r.FailureReason)
			}
		})
	}
}

// TestCheckDeployment: what UpdateEndpoint's DeploymentConfig refuses, one
// rule each (SageMaker's guide and API reference), and what it takes.
func TestCheckDeployment(t *testing.T) {
	fleet := func(config string, counts ...int) deployment {
		d := deployment{ConfigName: config}
		for i, n := range counts {
			d.Variants = append(d.Variants, variant{Name: fmt.Sprintf("v%d", i), InstanceType: "ml.m5.large", DesiredCount: n})
		}
		return d
	}
	serverless := fleet("sl", 0)
	serverless.Variants[0].Serverless = &ServerlessConfig{}
	size := func(typ string, v int) *CapacitySize { return &CapacitySize{Type: typ, Value: v} }
	seconds := func(n int) *int { return &n }
	blueGreen := func(typ string, canary, linear *CapacitySize) DeploymentConfig {
		return DeploymentConfig{BlueGreenUpdatePolicy: &BlueGreenUpdatePolicy{TrafficRoutingConfiguration: TrafficRoutingConfig{Type: typ, WaitIntervalInSeconds: 300, CanarySize: canary, LinearStepSize: linear}}}
	}
	rolling := func(batch CapacitySize, rollback *CapacitySize) DeploymentConfig {
		return DeploymentConfig{RollingUpdatePolicy: &RollingUpdatePolicy{MaximumBatchSize: batch, WaitIntervalInSeconds: 60, RollbackMaximumBatchSize: rollback}}
	}
	timed := blueGreen("ALL_AT_ONCE", nil, nil)
	timed.BlueGreenUpdatePolicy.TerminationWaitInSeconds, timed.BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds = seconds(400), seconds(600)
	both := rolling(*size("INSTANCE_COUNT", 1), nil)
	both.BlueGreenUpdatePolicy = blueGreen("ALL_AT_ONCE", nil, nil).BlueGreenUpdatePolicy
	for _, tc := range []struct {
		name          string
		c             DeploymentConfig
		current, next deployment
		err           string
	}{
		{"a canary of one of four", blueGreen("CANARY", size("INSTANCE_COUNT", 1), nil), fleet("a", 4), fleet("b", 4), ""},
		{"linear steps of a quarter, several variants", blueGreen("LINEAR", nil, size("CAPACITY_PERCENT", 25)), fleet("a", 2, 2), fleet("b", 2, 2), ""},
		{"a rolling batch of one of four", rolling(*size("INSTANCE_COUNT", 1), nil), fleet("a", 4), fleet("b", 4), ""},
		{"both policies", both, fleet("a", 4), fleet("b", 4), "not both"},
		{"a canary without its size", blueGreen("CANARY", nil, nil), fleet("a", 4), fleet("b", 4), "needs CanarySize"},
		{"a size the mode does not take", blueGreen("ALL_AT_ONCE", size("INSTANCE_COUNT", 1), nil), fleet("a", 4), fleet("b", 4), "takes no CanarySize"},
		{"a canary above half the new fleet", blueGreen("CANARY", size("INSTANCE_COUNT", 3), nil), fleet("a", 4), fleet("b", 4), "at most 50%"},
		{"linear steps above half", blueGreen("LINEAR", nil, size("CAPACITY_PERCENT", 60)), fleet("a", 4), fleet("b", 4), "at most 50%"},
		{"a time limit shorter than the waits", timed, fleet("a", 4), fleet("b", 4), "MaximumExecutionTimeoutInSeconds (600) must be at least"},
		{"other variant names", blueGreen("ALL_AT_ONCE", nil, nil), fleet("a", 4), deployment{ConfigName: "b", Variants: []variant{{Name: "other", DesiredCount: 4}}}, "same variants"},
		{"blue/green of a serverless endpoint", blueGreen("ALL_AT_ONCE", nil, nil), serverless, serverless, "serverless"},
		{"rolling: a serverless endpoint", rolling(*size("INSTANCE_COUNT", 1), nil), serverless, serverless, "exclude serverless endpoints"},
		{"rolling: several variants", rolling(*size("INSTANCE_COUNT", 1), nil), fleet("a", 2, 2), fleet("b", 2, 2), "exclude endpoints of several variants"},
		{"rolling: a batch above half", rolling(*size("INSTANCE_COUNT", 3), nil), fleet("a", 4), fleet("b", 4), "5% to 50%"},
		{"rolling: back in batches", rolling(*size("INSTANCE_COUNT", 1), size("INSTANCE_COUNT", 1)), fleet("a", 4), fleet("b", 4), ""},
		{"rolling: back in batches above 100 percent", rolling(*size("INSTANCE_COUNT", 1), size("CAPACITY_PERCENT", 101)), fleet("a", 4), fleet("b", 4), "at most 100"},
		{"alarms with no policy", DeploymentConfig{AutoRollbackConfiguration: &AutoRollbackConfig{Alarms: []AlarmName{{"x"}}}}, fleet("a", 4), fleet("b", 4), "needs a BlueGreenUpdatePolicy or a RollingUpdatePolicy"},
	} {
		err := checkDeployment(tc.c, tc.current, tc.next)
		if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.err)
		}
	}
}

// TestRollbackInBatches: a rolling deployment with a RollbackMaximumBatchSize
// of one instance rolls back as it rolled forward, mirrored: the new fleet
// serves while old instances come back a batch at a time, each batch
// replacing as many new ones once healthy; a new instance that does not
// serve goes at once, and none starts.
func TestRollbackInBatches(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	one := CapacitySize{Type: "INSTANCE_COUNT", Value: 1}
	cfg := DeploymentConfig{RollingUpdatePolicy: &RollingUpdatePolicy{MaximumBatchSize: one, WaitIntervalInSeconds: 60, RollbackMaximumBatchSize: &one}}
	rec := func(status string, ro rollout) endpointRecord {
		ro.Config, ro.Started = cfg, t0
		return endpointRecord{Name: "ep", Status: status,
			Current: deployment{ID: "old", ConfigName: "c-old", Variants: []variant{{Name: "v", DesiredCount: 3, DesiredWeight: 1, CurrentWeight: 1}}},
			Pending: &deployment{ID: "new", ConfigName: "c-new", Variants: []variant{{Name: "v", DesiredCount: 3, DesiredWeight: 1}}},
			Rollout: &ro}
	}
	back := func(step int) endpointRecord {
		return rec(StatusRollingBack, rollout{Step: step, Back: true, Old: 1, New: 3})
	}
	fleets := func(old, new int, starting ...int) []observedInstance {
		var out []observedInstance
		for range old {
			out = append(out, observedInstance{Deployment: "old", Variant: "v", Ready: true})
		}
		for i := range new {
			out = append(out, observedInstance{Deployment: "new", Variant: "v", Ready: !slices.Contains(starting, i)})
		}
		return out
	}
	now := t0.Add(5 * time.Minute)
	for _, tc := range []struct {
		name                 string
		in                   planInput
		oldStarts, newStarts int
		newStops             int
		status               string // the move's, "" for none
		step                 int
		pending              bool // the move keeps the new fleet
	}{
		{name: "an alarm in the last batch: rolling back in batches, the new fleet serving",
			in:     planInput{Rec: rec(StatusUpdating, rollout{Step: 2, Since: now}), Instances: fleets(1, 3), Alarming: []string{"errors"}, Now: now},
			status: StatusRollingBack, step: 0, pending: true},
		{name: "the first batch of old instances starts, no new one goes yet",
			in: planInput{Rec: back(0), Instances: fleets(1, 3), Now: now}, oldStarts: 1},
		{name: "the batch healthy: the next",
			in: planInput{Rec: back(0), Instances: fleets(2, 3), Now: now}, status: StatusRollingBack, step: 1, pending: true},
		{name: "the next batch: an old instance starts as a new one goes",
			in: planInput{Rec: back(1), Instances: fleets(2, 3), Now: now}, oldStarts: 1, newStops: 1},
		{name: "the old fleet whole again: in service on it, the new fleet gone",
			in: planInput{Rec: back(1), Instances: fleets(3, 2), Now: now}, status: StatusInService},
		{name: "a new instance that does not serve goes at once; none starts",
			in: planInput{Rec: back(0), Instances: fleets(1, 3, 2), Now: now}, oldStarts: 1, newStops: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planInstances(tc.in)
			oldStarts, newStarts, newStops := 0, 0, 0
			for _, s := range p.Start {
				if s.Deployment == "old" {
					oldStarts++
				} else {
					newStarts++
				}
			}
			for _, i := range p.Stop {
				if tc.in.Instances[i].Deployment == "new" {
					newStops++
				}
			}
			if tc.status == "" {
				if p.Next != nil || oldStarts != tc.oldStarts || newStarts != 0 || newStops != tc.newStops {
					t.Fatalf("move %v, %d old started, %d new started, %d new stopped; want no move, %d, 0, %d", p.Next != nil, oldStarts, newStarts, newStops, tc.oldStarts, tc.newStops)
				}
				return
			}
			if p.Next == nil {
				t.Fatalf("no move, want %s", tc.status)
			}
			r := p.Next.Rec
			if r.Status != tc.status || (r.Pending != nil) != tc.pending || r.Current.ID != "old" {
				t.Fatalf("moved to %s on %s, pending %v; want %s, pending %v", r.Status, r.Current.ID, r.Pending != nil, tc.status, tc.pending)
			}
			if tc.pending && (!r.Rollout.Back || r.Rollout.Step != tc.step) {
				t.Fatalf("rollout %+v; want rolling back, batch %d", r.Rollout, tc.step)
			}
		})
	}
}
