package monitor

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/alarm"
	"github.com/ebbscale/ebb/internal/clock"
	"github.com/ebbscale/ebb/internal/metricquery"
	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/store/sqlite"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

type sink struct {
	mu  sync.Mutex
	got []string
}

func (s *sink) Deliver(ctx context.Context, action string, act Action) error {
	if !isAutoScaling(action) {
		return ErrNoReceiver
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, string(act.State)+" "+action)
	return nil
}

type fixture struct {
	t    *testing.T
	m    *Monitor
	ms   *metrics.Store
	st   *sqlite.SQLite
	sink *sink
}

func newFixture(t *testing.T, path string) *fixture {
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ms, _ := metrics.Open(st)
	s := &sink{}
	m, err := New(context.Background(), Options{Store: st, Metrics: ms, Clock: clock.NewFake(t0), Actions: s, Region: "us-east-1", AccountID: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t, m, ms, st, s}
}

var cpu = metrics.Series{Namespace: "App", MetricName: "CPU", Dimensions: []metrics.Dimension{{Name: "Host", Value: "a"}}}

func (f *fixture) put(at time.Time, v float64) {
	if err := f.ms.Put([]metrics.Point{{Series: cpu, Timestamp: at, Value: v}}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) state(name string) alarm.State {
	return f.m.Describe(Filter{Names: []string{name}})[0].StateValue
}

const scaleOut = "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:abc:resource/sagemaker/endpoint/e/variant/v:policyName/out"

func TestAlarmLifecycle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ebb.db")
	f := newFixture(t, path)
	ctx := context.Background()
	err := f.m.Put(ctx, MetricAlarm{
		AlarmName: "high-cpu", Namespace: "App", MetricName: "CPU", Dimensions: cpu.Dimensions, Statistic: "Average",
		Period: 60, EvaluationPeriods: 2, Threshold: 50, ComparisonOperator: "GreaterThanThreshold", ActionsEnabled: true,
		AlarmActions: []string{scaleOut, "arn:aws:sns:us-east-1:123456789012:ops"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.state("high-cpu") != alarm.InsufficientData {
		t.Fatal("a new alarm is not INSUFFICIENT_DATA")
	}
	// Two minutes above the threshold: ALARM at the next evaluation.
	f.put(t0, 80)
	f.put(t0.Add(time.Minute), 90)
	f.m.EvaluateAll(ctx, t0.Add(2*time.Minute+5*time.Second))
	if got := f.state("high-cpu"); got != alarm.Alarm {
		t.Fatalf("state = %s, want ALARM", got)
	}
	a := f.m.Describe(Filter{Names: []string{"high-cpu"}})[0]
	if !strings.HasPrefix(a.StateReason, "Threshold Crossed: 2 out of the last 2 datapoints [90.0 (23/11/26 12:01:00), 80.0 (23/11/26 12:00:00)] were greater than the threshold (50.0)") {
		t.Fatalf("reason = %q", a.StateReason)
	}
	// Still in ALARM a minute later: the Auto Scaling action repeats, the SNS one does not.
	f.put(t0.Add(2*time.Minute), 95)
	f.m.EvaluateAll(ctx, t0.Add(3*time.Minute+5*time.Second))
	if len(f.sink.got) != 2 || f.sink.got[1] != "ALARM "+scaleOut {
		t.Fatalf("deliveries = %v, want the scaling policy twice", f.sink.got)
	}
	// Not evaluated twice in the same minute.
	f.m.EvaluateAll(ctx, t0.Add(3*time.Minute+15*time.Second))
	if len(f.sink.got) != 2 {
		t.Fatalf("evaluated twice in one minute: %v", f.sink.got)
	}
	hist, _ := f.m.History(ctx, "high-cpu", "Action", t0, t0.Add(time.Hour))
	failed := 0
	for _, h := range hist {
		if strings.HasPrefix(h.Summary, "Failed to execute action arn:aws:sns") {
			failed++
		}
	}
	if failed != 1 {
		t.Fatalf("the undeliverable SNS action was not recorded as failed once: %+v", hist)
	}

	// SetAlarmState holds until the next evaluation.
	if err := f.m.SetState(ctx, "high-cpu", alarm.OK, "testing", ""); err != nil {
		t.Fatal(err)
	}
	if f.state("high-cpu") != alarm.OK {
		t.Fatal("SetState did not take")
	}

	// A restart keeps the alarm and its state.
	f.st.Close()
	g := newFixture(t, path)
	if got := g.state("high-cpu"); got != alarm.OK {
		t.Fatalf("after restart: %s", got)
	}
	g.m.EvaluateAll(ctx, t0.Add(4*time.Minute+5*time.Second))
	if got := g.state("high-cpu"); got != alarm.Alarm {
		t.Fatalf("re-evaluated after SetState: %s, want ALARM", got)
	}
	all, _ := g.m.History(ctx, "high-cpu", "", t0, t0.Add(time.Hour))
	types := map[string]int{}
	for _, h := range all {
		types[h.Type]++
	}
	if types["ConfigurationUpdate"] != 1 || types["StateUpdate"] != 3 {
		t.Fatalf("history types %v", types)
	}
	missing, err := g.m.Delete(ctx, []string{"high-cpu", "nope"})
	if err != nil || len(missing) != 1 || len(g.m.Describe(Filter{})) != 0 {
		t.Fatalf("Delete: missing %v, err %v", missing, err)
	}
}

func TestUpdateKeepsState(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "ebb.db"))
	ctx := context.Background()
	a := MetricAlarm{AlarmName: "a", Namespace: "App", MetricName: "CPU", Dimensions: cpu.Dimensions, Statistic: "Maximum",
		Period: 60, EvaluationPeriods: 1, Threshold: 10, ComparisonOperator: "GreaterThanThreshold"}
	f.m.Put(ctx, a)
	f.put(t0, 20)
	f.m.EvaluateAll(ctx, t0.Add(time.Minute))
	a.Threshold = 15
	f.m.Put(ctx, a)
	if got := f.state("a"); got != alarm.Alarm {
		t.Fatalf("PutMetricAlarm on an existing alarm reset its state to %s", got)
	}
}

func TestHighResolutionEveryTenSeconds(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "ebb.db"))
	ctx := context.Background()
	f.m.Put(ctx, MetricAlarm{AlarmName: "fast", Namespace: "App", MetricName: "CPU", Dimensions: cpu.Dimensions, Statistic: "Maximum",
		Period: 10, EvaluationPeriods: 1, Threshold: 10, ComparisonOperator: "GreaterThanThreshold", TreatMissingData: "notBreaching"})
	f.put(t0.Add(3*time.Second), 50)
	f.m.EvaluateAll(ctx, t0.Add(10*time.Second))
	if got := f.state("fast"); got != alarm.Alarm {
		t.Fatalf("after a breaching 10 s period: %s", got)
	}
	f.put(t0.Add(13*time.Second), 1)
	f.m.EvaluateAll(ctx, t0.Add(20*time.Second))
	if got := f.state("fast"); got != alarm.OK {
		t.Fatalf("10 s later, within the threshold: %s", got)
	}
}

func BenchmarkEvaluate10000Alarms(b *testing.B) {
	st, _ := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "ebb.db"))
	defer st.Close()
	ms, _ := metrics.Open(nil)
	m, _ := New(context.Background(), Options{Store: discardSaves{st}, Metrics: ms, Clock: clock.NewFake(t0)})
	for i := range 10000 {
		key := metrics.Series{Namespace: "App", MetricName: "CPU", Dimensions: []metrics.Dimension{{Name: "Host", Value: string(rune('a' + i%26))}, {Name: "N", Value: strings.Repeat("x", i%50)}}}
		for j := range 5 {
			ms.Put([]metrics.Point{{Series: key, Timestamp: t0.Add(time.Duration(j) * time.Minute), Value: float64(j * 10)}})
		}
		m.alarms[key.ID()+string(rune(i))] = &MetricAlarm{AlarmName: key.ID(), StateValue: alarm.InsufficientData, Namespace: "App", MetricName: "CPU", Dimensions: key.Dimensions,
			Statistic: "Average", Period: 60, EvaluationPeriods: 3, Threshold: 25, ComparisonOperator: "GreaterThanThreshold"}
	}
	now := t0.Add(5 * time.Minute)
	m.EvaluateAll(context.Background(), now) // the first transitions are not the steady state
	for b.Loop() {
		for _, a := range m.alarms {
			a.LastEvaluated = time.Time{}
		}
		m.EvaluateAll(context.Background(), now)
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/10k-alarms")
}

// discardSaves keeps alarm saves out of the benchmark (SQLite writes are
// measured elsewhere); history and lists go to the real store.
type discardSaves struct{ *sqlite.SQLite }

func (discardSaves) Update(context.Context, string, string, []byte) error { return nil }

func TestMetricMathAlarm(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "ebb.db"))
	ctx := context.Background()
	err := f.m.Put(ctx, MetricAlarm{AlarmName: "ratio", EvaluationPeriods: 1, Threshold: 2, ComparisonOperator: "GreaterThanThreshold", Period: 60,
		Queries: []metricquery.Query{
			{ID: "m1", MetricStat: &metricquery.MetricStat{Series: cpu, Period: time.Minute, Stat: "Sum"}},
			{ID: "e1", Expression: "m1 / 60", ReturnData: true},
		}})
	if err != nil {
		t.Fatal(err)
	}
	f.put(t0, 100)
	f.put(t0.Add(time.Second), 100) // 200 in the minute: 3.33 per second
	f.m.EvaluateAll(ctx, t0.Add(time.Minute))
	if got := f.state("ratio"); got != alarm.Alarm {
		t.Fatalf("state = %s, want ALARM", got)
	}
}

// TestStateDocAsEncodingJSON: the hand-written state document is what
// encoding/json writes for storedState, and reads back as it.
func TestStateDocAsEncodingJSON(t *testing.T) {
	m := &Monitor{clock: clock.NewFake(t0)}
	a := &MetricAlarm{AlarmName: `TargetTracking-endpoint/e "x"/variant/v-AlarmHigh-<&>`, StateValue: alarm.Alarm,
		StateReason:     "Threshold Crossed: 3 datapoints were greater than the threshold (OK -> ALARM transition).\tnaïve",
		StateReasonData: `{"version":"1.0","recentDatapoints":[1.5,2]}`, StateUpdatedTimestamp: t0.Add(1500 * time.Millisecond),
		StateTransitionedTimestamp: t0, LastActions: t0.Add(time.Minute)}
	d := m.stateDoc(a)
	want, _ := json.Marshal(storedState{a.AlarmName, a.state()})
	if string(d.Doc) != string(want) {
		t.Fatalf("state document\n got %s\nwant %s", d.Doc, want)
	}
	var back storedState
	if err := json.Unmarshal(d.Doc, &back); err != nil || back.alarmState != a.state() {
		t.Fatalf("read back %+v, %v", back, err)
	}
}

// TestRepeatsAreNotStored: a repeated Auto Scaling action is not a stored
// change (the state document keeps the transition's LastActions), and after
// a restart the alarm repeats at its first evaluation.
func TestRepeatsAreNotStored(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ebb.db")
	f := newFixture(t, path)
	ctx := context.Background()
	if err := f.m.Put(ctx, MetricAlarm{AlarmName: "high", Namespace: "App", MetricName: "CPU", Dimensions: cpu.Dimensions, Statistic: "Average",
		Period: 60, EvaluationPeriods: 1, Threshold: 50, ComparisonOperator: "GreaterThanThreshold", ActionsEnabled: true, AlarmActions: []string{scaleOut}}); err != nil {
		t.Fatal(err)
	}
	stored := func() storedState {
		t.Helper()
		d, err := f.st.Get(ctx, kindAlarmState, "high")
		if err != nil {
			t.Fatal(err)
		}
		var st storedState
		json.Unmarshal(d, &st)
		return st
	}
	transition := t0.Add(time.Minute + 5*time.Second)
	for i := range 3 {
		f.put(t0.Add(time.Duration(i)*time.Minute), 90)
		f.m.EvaluateAll(ctx, transition.Add(time.Duration(i)*time.Minute))
	}
	if len(f.sink.got) != 3 {
		t.Fatalf("deliveries %v, want the transition and two repeats", f.sink.got)
	}
	if st := stored(); st.StateValue != alarm.Alarm || !st.LastActions.Equal(transition) {
		t.Fatalf("stored %+v, want ALARM with the transition's LastActions %v", st, transition)
	}
	f.st.Close()
	g := newFixture(t, path)
	g.put(t0.Add(3*time.Minute), 90)
	g.m.EvaluateAll(ctx, transition.Add(3*time.Minute))
	if len(g.sink.got) != 1 || g.sink.got[0] != "ALARM "+scaleOut {
		t.Fatalf("after a restart: %v, want the action repeated", g.sink.got)
	}
}

// TestActionDataAsEncodingJSON: an Action history item's data is what
// encoding/json writes for its three members.
func TestActionDataAsEncodingJSON(t *testing.T) {
	for _, ok := range []bool{true, false} {
		action := `arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:1:resource/sagemaker/endpoint/e "x"<&>/variant/v:policyName/p`
		want, _ := json.Marshal(struct {
			ActionState          string `json:"actionState"`
			NotificationResource string `json:"notificationResource"`
			StateUpdateTimestamp int64  `json:"stateUpdateTimestamp"`
		}{map[bool]string{true: "Succeeded", false: "Failed"}[ok], action, t0.Add(1500 * time.Millisecond).UnixMilli()})
		if got := string(appendActionData(nil, ok, action, t0.Add(1500*time.Millisecond))); got != string(want) {
			t.Errorf("actionData\n got %s\nwant %s", got, want)
		}
	}
}

// TestStateUpdateDataAsEncodingJSON: a StateUpdate history item's data is
// what encoding/json writes for the document CloudWatch's has.
func TestStateUpdateDataAsEncodingJSON(t *testing.T) {
	type stateUpdate struct {
		NewState struct {
			StateReason     string          `json:"stateReason"`
			StateReasonData json.RawMessage `json:"stateReasonData"`
			StateValue      alarm.State     `json:"stateValue"`
		} `json:"newState"`
		OldState struct {
			StateReason string      `json:"stateReason"`
			StateValue  alarm.State `json:"stateValue"`
		} `json:"oldState"`
		Version string `json:"version"`
	}
	for _, r := range []alarm.Result{
		{State: alarm.Alarm, Reason: "Threshold Crossed: 3 datapoints [1.0 (03/12/26 08:00:00)] were greater than the threshold (0.5).\t<&>\"ü\"",
			ReasonData: `{"version":"1.0","recentDatapoints":[1.5,2]}`},
		{State: alarm.OK, Reason: "set by hand", ReasonData: "{ \"spaced\" : [ 1, 2 ] }"},
		{State: alarm.OK, Reason: "set by hand", ReasonData: `{"html":"<b>&amp;</b>","sep":"\u2028","raw":"` + "\u2028" + `"}`},
		{State: alarm.InsufficientData, Reason: "Unchecked"},
	} {
		var h stateUpdate
		h.Version = "1.0"
		h.OldState.StateValue, h.OldState.StateReason = alarm.OK, "before \u2028"
		h.NewState.StateValue, h.NewState.StateReason = r.State, r.Reason
		if r.ReasonData != "" {
			h.NewState.StateReasonData = json.RawMessage(r.ReasonData)
		}
		want, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(appendStateUpdateData(nil, alarm.OK, "before \u2028", r)); got != string(want) {
			t.Errorf("stateUpdateData\n got %s\nwant %s", got, want)
		}
	}
}

// TestSharedReadIsTheOwn: an alarm whose range lies within the one the
// previous alarm read (the short alarm of a target-tracking pair after the
// long one) gets the datapoints its own read would get; another statistic
// or period reads anew.
func TestSharedReadIsTheOwn(t *testing.T) {
	ms, _ := metrics.Open(nil)
	for i := range 40 {
		ms.Put([]metrics.Point{{Series: cpu, Timestamp: t0.Add(time.Duration(i)*time.Minute + 10*time.Second), Value: float64(i % 7)},
			{Series: cpu, Timestamp: t0.Add(time.Duration(i)*time.Minute + 40*time.Second), Value: float64(i % 5)}})
	}
	now := t0.Add(40*time.Minute + 5*time.Second)
	alarmOf := func(name, stat string, periods int) *MetricAlarm {
		return &MetricAlarm{AlarmName: name, Namespace: cpu.Namespace, MetricName: cpu.MetricName, Dimensions: cpu.Dimensions,
			Statistic: stat, Period: 60, EvaluationPeriods: periods, Threshold: 3, ComparisonOperator: "GreaterThanThreshold"}
	}
	own := func(a *MetricAlarm) []alarm.Point {
		m := &Monitor{metrics: ms}
		return slices.Clone(m.points(a, a.config(), now))
	}
	long, short, max := alarmOf("low", "Average", 15), alarmOf("high", "Average", 3), alarmOf("max", "Maximum", 3)
	m := &Monitor{metrics: ms, alarms: map[string]*MetricAlarm{"low": long, "high": short, "max": max}}
	if order := m.evaluationOrder(); order[0] != long || long.seriesNo != short.seriesNo {
		t.Fatalf("evaluation order %v: want the long range first, the series numbered alike", order)
	}
	m.points(long, long.config(), now)
	longRead := m.last
	for _, a := range []*MetricAlarm{short, max} {
		got, want := slices.Clone(m.points(a, a.config(), now)), own(a)
		if !slices.Equal(got, want) {
			t.Errorf("%s after the long read:\n got %+v\nwant %+v", a.AlarmName, got, want)
		}
		if a == short && m.last != longRead {
			t.Errorf("the short range was read anew: %+v", m.last)
		}
	}
	if m.last.stat != "Maximum" {
		t.Errorf("another statistic did not read anew: last read %+v", m.last)
	}
}

// TestNewestOfTheLastPeriods: an action carries the newest datapoint of the
// alarm's last EvaluationPeriods periods, skipping missing ones, and none
// when those periods have none.
func TestNewestOfTheLastPeriods(t *testing.T) {
	p := func(v float64) alarm.Point { return alarm.Point{Value: v} }
	missing := alarm.Point{Missing: true}
	for _, tc := range []struct {
		points []alarm.Point
		n      int
		want   Action
	}{
		{[]alarm.Point{p(1), p(2), p(3)}, 1, Action{Newest: 3, HasNewest: true}},
		{[]alarm.Point{p(1), p(2), missing}, 2, Action{Newest: 2, HasNewest: true}},
		{[]alarm.Point{p(1), missing, missing}, 2, Action{}},
		{nil, 3, Action{}},
	} {
		if got := newest(tc.points, tc.n); got != tc.want {
			t.Errorf("newest(%v, %d) = %+v, want %+v", tc.points, tc.n, got, tc.want)
		}
	}
}

// TestDescribeByDimension: a Dimension filter selects the alarms whose
// metric has it, and only those.
func TestDescribeByDimension(t *testing.T) {
	f := newFixture(t, filepath.Join(t.TempDir(), "ebb.db"))
	ctx := context.Background()
	for name, host := range map[string]string{"on-a": "a", "on-b": "b", "also-a": "a"} {
		f.m.Put(ctx, MetricAlarm{AlarmName: name, Namespace: "App", MetricName: "CPU", Dimensions: []metrics.Dimension{{Name: "Host", Value: host}},
			Statistic: "Maximum", Period: 60, EvaluationPeriods: 1, Threshold: 10, ComparisonOperator: "GreaterThanThreshold"})
	}
	var got []string
	for _, a := range f.m.Describe(Filter{Dimension: &metrics.Dimension{Name: "Host", Value: "a"}}) {
		got = append(got, a.AlarmName)
	}
	if !slices.Equal(got, []string{"also-a", "on-a"}) {
		t.Fatalf("alarms on Host=a: %v", got)
	}
}
