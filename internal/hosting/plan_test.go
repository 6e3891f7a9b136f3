package hosting

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPlanInstances: the rules of planInstances, one case each, no
// goroutine and no runtime: what an endpoint starts and stops and where its
// status goes, given its record, what it observes and now.
func TestPlanInstances(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	v := func(name string, count int, weights ...float64) variant {
		w := []float64{1, 1}
		copy(w, weights)
		return variant{Name: name, DesiredCount: count, DesiredWeight: w[0], CurrentWeight: w[1]}
	}
	dep := func(id string, vs ...variant) deployment { return deployment{ID: id, Variants: vs} }
	rec := func(status string, current deployment) endpointRecord {
		return endpointRecord{Name: "ep", Status: status, Current: current, LastModifiedTime: now.Add(-time.Minute)}
	}
	withPending := func(r endpointRecord, d deployment) endpointRecord { r.Pending = &d; return r }
	withRollback := func(r endpointRecord, vs ...variant) endpointRecord { r.Rollback = vs; return r }
	modified := func(r endpointRecord, at time.Time) endpointRecord { r.LastModifiedTime = at; return r }
	ready := func(d, v string, age time.Duration) observedInstance {
		return observedInstance{Deployment: d, Variant: v, Ready: true, Started: now.Add(-age)}
	}
	starting := func(d, v string, age time.Duration) observedInstance {
		return observedInstance{Deployment: d, Variant: v, Started: now.Add(-age)}
	}
	stopping := func(o observedInstance) observedInstance { o.Stopping = true; return o }
	starts := func(ss ...string) []startOrder { // "deployment/variant"
		var out []startOrder
		for _, s := range ss {
			d, v, _ := strings.Cut(s, "/")
			out = append(out, startOrder{Deployment: d, Variant: v})
		}
		return out
	}

	for _, tc := range []struct {
		name     string
		in       planInput
		start    []startOrder
		stop     []int
		status   string // the move's status, "" for none
		reason   string
		clear    bool
		current  string // the current deployment after the move
		rollback bool   // the move keeps a Rollback
		weights  []float64
		wake     time.Duration
	}{
		{name: "Creating starts every variant's instances",
			in:    planInput{Rec: rec(StatusCreating, dep("d1", v("a", 2), v("b", 1)))},
			start: starts("d1/a", "d1/a", "d1/b")},
		{name: "Creating waits for instances starting",
			in: planInput{Rec: rec(StatusCreating, dep("d1", v("a", 2))), Instances: []observedInstance{ready("d1", "a", time.Second), starting("d1", "a", time.Second)}}},
		{name: "Creating with every instance healthy is InService, its weights current",
			in:     planInput{Rec: rec(StatusCreating, dep("d1", v("a", 1, 0.5, 0))), Instances: []observedInstance{ready("d1", "a", time.Second)}},
			status: StatusInService, current: "d1", weights: []float64{0.5}},
		{name: "Creating with a failure is Failed, with its reason",
			in:     planInput{Rec: rec(StatusCreating, dep("d1", v("a", 2))), Instances: []observedInstance{ready("d1", "a", time.Second)}, Failure: "no"},
			status: StatusFailed, reason: "no", current: "d1"},
		{name: "a capacity change that failed starts nothing: it rolls back",
			in: planInput{Rec: rec(StatusUpdating, dep("d1", v("a", 3))), Instances: []observedInstance{ready("d1", "a", time.Second)}, Failure: "no"},
			// a capacity change without Rollback: RollingBack to what it has
			status: StatusRollingBack, reason: "no", clear: true, current: "d1"},
		{name: "a failed instance is replaced at once",
			in:    planInput{Rec: rec(StatusInService, dep("d1", v("a", 2))), Instances: []observedInstance{ready("d1", "a", time.Hour)}},
			start: starts("d1/a")},
		{name: "replacement backoff holds a variant's replacement back",
			in: planInput{Rec: rec(StatusInService, dep("d1", v("a", 2), v("b", 1))), NotUntil: map[string]time.Time{"a": now.Add(time.Second)}},
			// b's is not held
			start: starts("d1/b")},
		{name: "replacement backoff over",
			in:    planInput{Rec: rec(StatusInService, dep("d1", v("a", 1))), NotUntil: map[string]time.Time{"a": now}},
			start: starts("d1/a")},
		{name: "surplus goes starting first, then the newest",
			in: planInput{Rec: rec(StatusInService, dep("d1", v("a", 1))), Instances: []observedInstance{
				ready("d1", "a", time.Hour), ready("d1", "a", time.Minute), starting("d1", "a", time.Hour), ready("d1", "a", 2*time.Hour)}},
			stop: []int{2, 1, 0}},
		{name: "an instance already stopping is neither live nor stopped again",
			in: planInput{Rec: rec(StatusInService, dep("d1", v("a", 1))), Instances: []observedInstance{
				stopping(ready("d1", "a", time.Hour)), ready("d1", "a", time.Minute)}}},
		{name: "an instance of a variant the deployment no longer has is stopped",
			in:   planInput{Rec: rec(StatusInService, dep("d1", v("a", 1))), Instances: []observedInstance{ready("d1", "a", time.Hour), ready("d1", "gone", time.Hour)}},
			stop: []int{1}},
		{name: "an instance of a deployment neither current nor pending is stopped",
			in:   planInput{Rec: rec(StatusInService, dep("d2", v("a", 1))), Instances: []observedInstance{ready("d1", "a", time.Hour), ready("d2", "a", time.Minute)}},
			stop: []int{0}},
		{name: "blue/green: the new fleet starts beside the old one",
			in:    planInput{Rec: withPending(rec(StatusUpdating, dep("d1", v("a", 1))), dep("d2", v("a", 2))), Instances: []observedInstance{ready("d1", "a", time.Hour)}},
			start: starts("d2/a", "d2/a")},
		{name: "blue/green: the old fleet serves while the new one starts",
			in: planInput{Rec: withPending(rec(StatusUpdating, dep("d1", v("a", 1))), dep("d2", v("a", 1))),
				Instances: []observedInstance{ready("d1", "a", time.Hour), starting("d2", "a", time.Second)}}},
		{name: "blue/green: cut over once the new fleet is healthy",
			in: planInput{Rec: withPending(rec(StatusUpdating, dep("d1", v("a", 1))), dep("d2", v("a", 1, 0.7, 0))),
				Instances: []observedInstance{ready("d1", "a", time.Hour), ready("d2", "a", time.Second)}},
			status: StatusInService, current: "d2", weights: []float64{0.7}},
		{name: "blue/green: a failed new fleet is dropped, the current one stays",
			in: planInput{Rec: withPending(rec(StatusUpdating, dep("d1", v("a", 1))), dep("d2", v("a", 1))),
				Instances: []observedInstance{ready("d1", "a", time.Hour)}, Failure: "bad image"},
			status: StatusInService, reason: "Failed to update endpoint: bad image", clear: true, current: "d1"},
		{name: "a failed capacity change rolls back to the variants before it",
			in: planInput{Rec: withRollback(rec(StatusUpdating, dep("d1", v("a", 3))), v("a", 1)),
				Instances: []observedInstance{ready("d1", "a", time.Hour)}, Failure: "no capacity"},
			status: StatusRollingBack, reason: "no capacity", clear: true, current: "d1"},
		{name: "RollingBack converged is InService, keeping the reason",
			in: func() planInput {
				r := rec(StatusRollingBack, dep("d1", v("a", 1)))
				r.FailureReason = "no capacity"
				return planInput{Rec: r, Instances: []observedInstance{ready("d1", "a", time.Hour)}}
			}(),
			status: StatusInService, reason: "no capacity", current: "d1"},
		{name: "a capacity change converged is InService, its Rollback dropped",
			in:     planInput{Rec: withRollback(rec(StatusUpdating, dep("d1", v("a", 2))), v("a", 1)), Instances: []observedInstance{ready("d1", "a", time.Hour), ready("d1", "a", time.Second)}},
			status: StatusInService, current: "d1"},
		{name: "a weight change stays Updating while traffic shifts",
			in: planInput{Rec: modified(withRollback(rec(StatusUpdating, dep("d1", v("a", 1, 0.2, 1))), v("a", 1)), now.Add(-2*time.Second)),
				Instances: []observedInstance{ready("d1", "a", time.Hour)}},
			wake: weightShift - 2*time.Second},
		{name: "a weight change is current once shifted",
			in: planInput{Rec: modified(rec(StatusUpdating, dep("d1", v("a", 1, 0.2, 1))), now.Add(-weightShift)),
				Instances: []observedInstance{ready("d1", "a", time.Hour)}},
			status: StatusInService, current: "d1", weights: []float64{0.2}},
		{name: "Deleting stops every instance",
			in:   planInput{Rec: rec(StatusDeleting, dep("d1", v("a", 1))), Instances: []observedInstance{ready("d1", "a", time.Hour), stopping(ready("d1", "a", time.Hour)), starting("d0", "b", 0)}},
			stop: []int{0, 2}},
		{name: "Failed stops every instance and starts none",
			in:   planInput{Rec: rec(StatusFailed, dep("d1", v("a", 2))), Instances: []observedInstance{starting("d1", "a", time.Second)}},
			stop: []int{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Now = now
			before := tc.in.Rec.Current.Variants[0]
			p := planInstances(tc.in)
			if tc.status != "" && p.Next != nil {
				p.Start, p.Stop = nil, nil // not applied before the move
			}
			if !slices.Equal(p.Start, tc.start) {
				t.Errorf("start %v, want %v", p.Start, tc.start)
			}
			if !slices.Equal(p.Stop, tc.stop) {
				t.Errorf("stop %v, want %v", p.Stop, tc.stop)
			}
			if p.WakeIn != tc.wake {
				t.Errorf("wake in %v, want %v", p.WakeIn, tc.wake)
			}
			if tc.in.Rec.Current.Variants[0].CurrentWeight != before.CurrentWeight || tc.in.Rec.Current.Variants[0].DesiredCount != before.DesiredCount {
				t.Errorf("the plan changed its input's record")
			}
			if tc.status == "" {
				if p.Next != nil {
					t.Fatalf("moved to %s (%q)", p.Next.Rec.Status, p.Next.Rec.FailureReason)
				}
				return
			}
			if p.Next == nil {
				t.Fatalf("no move, want %s", tc.status)
			}
			r := p.Next.Rec
			if r.Status != tc.status || r.FailureReason != tc.reason || p.Next.ClearFailure != tc.clear || r.Current.ID != tc.current ||
				r.Pending != nil || (r.Rollback != nil) != tc.rollback || !r.LastModifiedTime.Equal(now) {
				t.Errorf("moved to %s (%q) clear=%v current=%s pending=%v rollback=%v at %v", r.Status, r.FailureReason, p.Next.ClearFailure,
					r.Current.ID, r.Pending, r.Rollback, r.LastModifiedTime)
			}
			for i, w := range tc.weights {
				if got := r.Current.Variants[i].CurrentWeight; got != w {
					t.Errorf("variant %d's current weight %v, want %v", i, got, w)
				}
			}
		})
	}
}

// TestRecordClone: a record's clone is untouched by what commands change
// in place (variant counts and weights, a Hosted mark, component
// statuses), so a command whose save fails is undone exactly.
func TestRecordClone(t *testing.T) {
	r := endpointRecord{Name: "ep", Status: StatusInService,
		Current:    deployment{ID: "d1", Variants: []variant{{Name: "a", DesiredCount: 1}}},
		Pending:    &deployment{ID: "d2", Variants: []variant{{Name: "a", DesiredCount: 2}}},
		Rollback:   []variant{{Name: "a", DesiredCount: 3}},
		Components: []component{{Name: "c", Status: "InService"}}}
	c := r.clone()
	r.Current.Variants[0].DesiredCount, r.Current.Variants[0].Hosted = 9, true
	r.Pending.Variants[0].DesiredCount = 9
	r.Pending.ID = "d9"
	r.Rollback[0].DesiredCount = 9
	r.Components[0].Status = "Updating"
	if c.Current.Variants[0].DesiredCount != 1 || c.Current.Variants[0].Hosted || c.Pending.ID != "d2" || c.Pending.Variants[0].DesiredCount != 2 ||
		c.Rollback[0].DesiredCount != 3 || c.Components[0].Status != "InService" {
		t.Fatalf("the clone changed with the record: %+v", c)
	}
	var back endpointRecord
	back.Name, back.ARN = "ep", "arn"
	back.setChangeable(c)
	if back.Name != "ep" || back.ARN != "arn" || back.Status != StatusInService || back.Current.Variants[0].DesiredCount != 1 || back.Components[0].Name != "c" {
		t.Fatalf("setChangeable: %+v", back)
	}
}
