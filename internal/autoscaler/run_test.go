package autoscaler

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ebbscale/ebb/internal/alarm"
	"github.com/ebbscale/ebb/internal/clock"
	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/monitor"
	"github.com/ebbscale/ebb/internal/store"
	"github.com/ebbscale/ebb/internal/store/sqlite"
)

// activitiesDown is a store whose activity writes fail while down is set.
type activitiesDown struct {
	*sqlite.SQLite
	down   atomic.Bool
	writes atomic.Int32
}

func (s *activitiesDown) PutActivities(ctx context.Context, as []store.ActivityDoc) error {
	if s.down.Load() {
		return errors.New("store unavailable")
	}
	s.writes.Add(1)
	return s.SQLite.PutActivities(ctx, as)
}

// newTestService is an autoscaler on st and host, on a fake clock, with the
// scenarios' target registered (capacity 1 to 5).
func newTestService(t *testing.T, st benchStore, host Hosting) (*Service, *monitor.Monitor, *clock.Fake) {
	t.Helper()
	ctx := context.Background()
	clk := clock.NewFake(scenarioEpoch)
	ms, _ := metrics.Open(nil)
	mon, _ := monitor.New(ctx, monitor.Options{Store: st, Metrics: ms, Clock: clk})
	s, err := New(ctx, Options{Store: st, Hosting: host, Alarms: mon, Metrics: ms, Clock: clk, Region: "us-east-1", AccountID: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := 1, 5
	if _, err := s.Register(ctx, RegisterInput{ServiceNamespace: Namespace, ResourceID: resourceID, ScalableDimension: Dimension, MinCapacity: &lo, MaxCapacity: &hi}); err != nil {
		t.Fatal(err)
	}
	return s, mon, clk
}

func openSQLite(t *testing.T) *sqlite.SQLite {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ebb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestActivityStoredBeforeItsChange: an activity's record is written
// before hosting is asked for the change, all of a pass's changes in one
// write; while the record cannot be written, the capacity does not change.
func TestActivityStoredBeforeItsChange(t *testing.T) {
	ctx := context.Background()
	st := &activitiesDown{SQLite: openSQLite(t)}
	host := &fakeHosting{capacity: 1}
	s, _, _ := newTestService(t, st, host)
	st.down.Store(true)
	s.mu.Lock()
	s.startActivity(ctx, s.targets[Namespace+"|"+resourceID+"|"+Dimension], 3, 1, "test", "", true)
	s.mu.Unlock()
	s.applyPending(ctx)
	if host.capacity != 1 {
		t.Fatalf("capacity changed to %d without its activity stored", host.capacity)
	}
	st.down.Store(false)
	s.applyPending(ctx)
	if host.capacity != 3 {
		t.Fatalf("capacity %d once the store is back, want 3", host.capacity)
	}
	acts, err := s.Activities(ctx, Namespace, resourceID, Dimension, false, time.Time{})
	if err != nil || len(acts) != 1 || acts[0].StatusCode != StatusInProgress || acts[0].Desired != 3 {
		t.Fatalf("activities %+v, %v", acts, err)
	}
	// Pending before the change and InProgress after: two writes.
	if n := st.writes.Load(); n != 2 {
		t.Fatalf("%d activity writes, want 2", n)
	}
}

// TestDeliverNeverRefuses: a round of thousands of targets delivers tens of
// thousands of alarm actions at once; each is queued and decided, none
// refused (a bounded queue of 4,096 once refused most of them).
func TestDeliverNeverRefuses(t *testing.T) {
	ctx := context.Background()
	s, mon, clk := newTestService(t, openSQLite(t), &fakeHosting{capacity: 1})
	arn, alarms, err := s.PutPolicy(ctx, PolicyInput{Name: "inv", ServiceNamespace: Namespace, ResourceID: resourceID, ScalableDimension: Dimension,
		Type: "TargetTrackingScaling", TT: &TTInput{TargetValue: 100, Predefined: InvocationsPerInstance, Raw: []byte("{}")}})
	if err != nil {
		t.Fatal(err)
	}
	high := mon.Describe(monitor.Filter{Names: []string{alarms[0].AlarmName}})[0]
	const n = 20000
	for i := range n {
		if err := s.Deliver(ctx, arn, monitor.Action{Alarm: &high, State: alarm.Alarm}); err != nil {
			t.Fatalf("delivery %d refused: %v", i, err)
		}
	}
	if len(s.queue) != n {
		t.Fatalf("%d queued, want %d", len(s.queue), n)
	}
	s.decideQueued(ctx, clk.Now())
	if len(s.queue) != 0 {
		t.Fatalf("%d left after deciding", len(s.queue))
	}
}

// TestQueuedActionFollowsItsPolicy: an action queued for a policy that is
// replaced before it is decided is decided by the replacement; one queued
// for a deleted policy by none.
func TestQueuedActionFollowsItsPolicy(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newTestService(t, openSQLite(t), &fakeHosting{capacity: 1})
	put := func(target float64) *Policy {
		arn, _, err := s.PutPolicy(ctx, PolicyInput{Name: "inv", ServiceNamespace: Namespace, ResourceID: resourceID, ScalableDimension: Dimension,
			Type: "TargetTrackingScaling", TT: &TTInput{TargetValue: target, Predefined: InvocationsPerInstance, Raw: []byte("{}")}})
		if err != nil {
			t.Fatal(err)
		}
		return s.policies[arn]
	}
	first := put(100)
	tr := trigger{policy: first, Action: monitor.Action{State: alarm.Alarm}}
	second := put(50)
	s.mu.Lock()
	got := s.policyOf(tr)
	s.mu.Unlock()
	if got != second || got.TT.TargetValue != 50 {
		t.Fatalf("a queued action of a replaced policy is for %+v, want the replacement", got)
	}
	if err := s.DeletePolicy(ctx, "inv", Namespace, resourceID, Dimension); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if got := s.policyOf(trigger{policy: second}); got != nil {
		t.Fatalf("a queued action of a deleted policy is for %+v", got)
	}
}

// TestActivityJSONAsEncodingJSON: an activity's hand-written stored form is
// what encoding/json writes, byte for byte, and reads back as it.
func TestActivityJSONAsEncodingJSON(t *testing.T) {
	end := scenarioEpoch.Add(90 * time.Second).In(time.FixedZone("x", 3600))
	two, five := 2, 5
	for _, a := range []Activity{
		{ActivityID: "a1", ServiceNamespace: Namespace, ResourceID: resourceID, ScalableDimension: Dimension,
			Description: "Setting desired instance count to 3.", Cause: `monitor alarm "x" <&> in state ALARM triggered policy p` + "\t\u2028ü",
			StartTime: scenarioEpoch.Add(123456789), StatusCode: StatusPending, Desired: 3, From: 1},
		{ActivityID: "a2", StartTime: scenarioEpoch, EndTime: &end, StatusCode: StatusSuccessful, StatusMessage: "Successfully set desired instance count to 3.",
			Details: "{}", Desired: 3, Policy: "arn:aws:autoscaling:...:policyName/p", Out: true, From: 2},
		{ActivityID: "a3", StartTime: scenarioEpoch, StatusCode: "Failed", NotScaledReasons: []NotScaledReason{
			{Code: "AlreadyAtMaxCapacity", MaxCapacity: &five, CurrentCapacity: &five}, {Code: "AlreadyAtMinCapacity", MinCapacity: &two}}},
	} {
		want, err := json.Marshal(&a)
		if err != nil {
			t.Fatal(err)
		}
		got := a.appendJSON(nil)
		if string(got) != string(want) {
			t.Errorf("activity %s\n got %s\nwant %s", a.ActivityID, got, want)
		}
	}
}

// TestSeriesCacheFollowsTheMetric: the cache finds the series of the metric
// it is asked for, also when that is another metric than the last.
func TestSeriesCacheFollowsTheMetric(t *testing.T) {
	var c seriesCache
	a := metrics.Series{Namespace: "AWS/SageMaker", MetricName: "InvocationsPerInstance", Dimensions: []metrics.Dimension{{Name: "VariantName", Value: "v"}, {Name: "EndpointName", Value: "e"}}}
	b := a
	b.Dimensions = []metrics.Dimension{{Name: "VariantName", Value: "v"}, {Name: "EndpointName", Value: "other"}}
	for _, m := range []metrics.Series{a, a, b, a} {
		if got, want := c.get(m).ID, m.Normalize().ID(); got != want {
			t.Fatalf("ref of %v = %s, want %s", m.Dimensions, got, want)
		}
	}
}

// TestCooldownSurvivesRestart: the cooldown an activity starts is stored on
// its own and is the policy's again after a restart; deleting the policy
// deletes it.
func TestCooldownSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	st := openSQLite(t)
	s, _, _ := newTestService(t, st, &fakeHosting{capacity: 1})
	sixty := 60
	arn, _, err := s.PutPolicy(ctx, PolicyInput{Name: "inv", ServiceNamespace: Namespace, ResourceID: resourceID, ScalableDimension: Dimension,
		Type: "TargetTrackingScaling", TT: &TTInput{TargetValue: 100, Predefined: InvocationsPerInstance, Raw: []byte("{}"), ScaleOutCooldown: &sixty}})
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	tgt := s.targets[Namespace+"|"+resourceID+"|"+Dimension]
	a := s.startActivity(ctx, tgt, 3, 1, "test", arn, true)
	s.finish(ctx, tgt, a, StatusSuccessful, "done")
	want := s.policies[arn].Cooldown
	s.mu.Unlock()
	if want.ScaleOutTo != 3 || want.ScaleOutUntil.IsZero() {
		t.Fatalf("cooldown after the activity = %+v", want)
	}
	again, _, _ := newTestService(t, st, &fakeHosting{capacity: 3})
	if got := again.policies[arn].Cooldown; got.ScaleOutFrom != want.ScaleOutFrom || got.ScaleOutTo != want.ScaleOutTo || !got.ScaleOutUntil.Equal(want.ScaleOutUntil) {
		t.Fatalf("cooldown after a restart = %+v, want %+v", got, want)
	}
	if err := again.DeletePolicy(ctx, "inv", Namespace, resourceID, Dimension); err != nil {
		t.Fatal(err)
	}
	if docs, err := st.List(ctx, kindCooldown); err != nil || len(docs) != 0 {
		t.Fatalf("cooldowns left after the policy was deleted: %d, %v", len(docs), err)
	}
}

// TestActivityRetention: an activity older than ActivityRetention is not
// listed, and the loop deletes it from the store (within the hour), not
// a reader.
func TestActivityRetention(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		st := openSQLite(t)
		s, _, clk := newTestService(t, st, &fakeHosting{capacity: 1})
		s.mu.Lock()
		tgt := s.targets[Namespace+"|"+resourceID+"|"+Dimension]
		a := s.startActivity(ctx, tgt, 2, 1, "test", "", true)
		s.finish(ctx, tgt, a, StatusSuccessful, "done")
		s.mu.Unlock()
		stored := func() int {
			docs, err := st.Activities(ctx, Namespace+"|", time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			return len(docs)
		}
		if got, _ := s.Activities(ctx, Namespace, "", "", false, time.Time{}); len(got) != 1 || stored() != 1 {
			t.Fatalf("a new activity: %d listed, %d stored", len(got), stored())
		}
		clk.Advance(ActivityRetention + time.Second)
		if got, _ := s.Activities(ctx, Namespace, "", "", false, time.Time{}); len(got) != 0 || stored() != 1 {
			t.Fatalf("past retention, before the loop ran: %d listed (want 0), %d stored (the reader deletes nothing)", len(got), stored())
		}
		loop, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { s.Run(loop); close(done) }()
		synctest.Wait() // the loop waits for its ticker
		clk.Advance(Tick)
		synctest.Wait()
		stop()
		<-done
		if n := stored(); n != 0 {
			t.Fatalf("%d activities stored after the loop's pass, want 0", n)
		}
	})
}
