package sim

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// stepTrace is 10 minutes at 5 req/s, 20 at 50, 30 at 5.
func stepTrace() Trace {
	var t Trace
	for _, p := range []struct{ minutes, rps int }{{10, 5}, {20, 50}, {30, 5}} {
		for range p.minutes * 60 {
			t = append(t, float64(p.rps))
		}
	}
	return t
}

func policy(t *testing.T, doc string) Policy {
	var p Policy
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

var model = Model{ServiceTime: 100 * time.Millisecond, Concurrency: 2, Startup: 30 * time.Second, SLO: 500 * time.Millisecond} // 20 req/s per instance

func TestTargetTrackingFollowsTheLoad(t *testing.T) {
	p := policy(t, `{"MinCapacity": 1, "MaxCapacity": 10, "ScalingPolicies": [{"PolicyName": "tt", "PolicyType": "TargetTrackingScaling",
		"TargetTrackingScalingPolicyConfiguration": {"TargetValue": 600, "ScaleOutCooldown": 60, "ScaleInCooldown": 120,
		"PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}}]}`)
	p.Name = "tt"
	r, err := Run(context.Background(), stepTrace(), p, model)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range r.Activities {
		t.Logf("%s %s (%s)", a.Time.Format("15:04:05"), a.Description, a.Status)
	}
	t.Logf("%+v", struct {
		H, U, P99, SLO float64
		Max            int
		N              int
	}{r.InstanceHours, r.MeanUtilization, r.P99ms, r.SLOAttainment, r.MaxInstances, len(r.Activities)})
	if r.MaxInstances < 4 || r.MaxInstances > 10 || len(r.Activities) < 2 {
		t.Fatalf("max %d instances, %d activities: %+v", r.MaxInstances, len(r.Activities), r.Activities)
	}
	out, in := false, false
	for _, a := range r.Activities {
		out = out || strings.Contains(a.Cause, "AlarmHigh")
		in = in || strings.Contains(a.Cause, "AlarmLow")
	}
	if !out || !in {
		t.Fatalf("want a scale-out and a scale-in by the policy's alarms: %+v", r.Activities)
	}
	if r.InstanceHours >= 10 || r.SLOAttainment < 0.6 {
		t.Fatalf("instance-hours %v, SLO attainment %v", r.InstanceHours, r.SLOAttainment)
	}

	// One instance for the same trace: cheaper, and the peak is lost.
	fixed := policy(t, `{"MinCapacity": 1, "MaxCapacity": 1}`)
	f, err := Run(context.Background(), stepTrace(), fixed, model)
	if err != nil {
		t.Fatal(err)
	}
	if f.InstanceHours >= r.InstanceHours || f.SLOAttainment >= r.SLOAttainment || f.Dropped == 0 {
		t.Fatalf("fixed: %v h, SLO %v, dropped %v; tracking: %v h, SLO %v", f.InstanceHours, f.SLOAttainment, f.Dropped, r.InstanceHours, r.SLOAttainment)
	}
}

func TestBadPolicyIsRefusedAsLive(t *testing.T) {
	p := policy(t, `{"MinCapacity": 1, "MaxCapacity": 2, "ScalingPolicies": [{"PolicyName": "x", "PolicyType": "TargetTrackingScaling",
		"TargetTrackingScalingPolicyConfiguration": {"TargetValue": 600, "PredefinedMetricSpecification": {"PredefinedMetricType": "NoSuchMetric"}}}]}`)
	if _, err := Run(context.Background(), stepTrace()[:60], p, model); err == nil || !strings.Contains(err.Error(), "PutScalingPolicy") {
		t.Fatalf("want the API's refusal, got %v", err)
	}
}

func TestSearchFindsACheaperPolicy(t *testing.T) {
	base := policy(t, `{"MinCapacity": 1, "MaxCapacity": 10, "ScalingPolicies": [{"PolicyName": "aws-default", "PolicyType": "TargetTrackingScaling",
		"TargetTrackingScalingPolicyConfiguration": {"TargetValue": 300, "ScaleOutCooldown": 300, "ScaleInCooldown": 300,
		"PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}}]}`)
	base.Name = "aws-default"
	runs := 0
	f, err := Search(context.Background(), stepTrace(), base, model, func(Report) { runs++ })
	if err != nil {
		t.Fatal(err)
	}
	if runs != Candidates-12 /* an hour: no daily floors */ || f.Best.SLOAttainment < f.Baseline.SLOAttainment || f.Best.InstanceHours > f.Baseline.InstanceHours {
		t.Fatalf("%d runs; baseline %v h at %v, best %s %v h at %v", runs, f.Baseline.InstanceHours, f.Baseline.SLOAttainment, f.Best.Name, f.Best.InstanceHours, f.Best.SLOAttainment)
	}
	t.Logf("baseline %.2f h at %.3f; best %s %.2f h at %.3f", f.Baseline.InstanceHours, f.Baseline.SLOAttainment, f.Best.Name, f.Best.InstanceHours, f.Best.SLOAttainment)
}

func TestLoadTraceWithServiceTimes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.csv")
	os.WriteFile(path, []byte("TIMESTAMP,EndpointName,ModelLatencyMs\n2026-01-05 00:00:00.100000,e,100\n2026-01-05 00:00:00.900000,e,300\n2026-01-05 00:00:02.000000,e,50\n"), 0o644)
	tr, cols, err := LoadTrace(path, TraceOptions{ServiceColumn: "ModelLatencyMs", ServicePerUnit: time.Millisecond, ServiceBase: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	services := cols.Services
	near := func(got []float64, want ...float64) bool {
		return slices.EqualFunc(got, want, func(g, w float64) bool { return math.Abs(g-w) < 1e-9 })
	}
	if len(tr) != 2 || tr[0] != 2 || tr[1] != 1 || len(services) != 2 || !near(services[0], 0.11, 0.31) || !near(services[1], 0.06) { // seconds from the first request
		t.Fatalf("trace %v, services %v", tr, services)
	}
	if _, _, err := LoadTrace(path, TraceOptions{ServiceColumn: "Nope"}); err == nil {
		t.Fatal("a missing service column was accepted")
	}
	if _, _, err := LoadTrace(path, TraceOptions{PromptColumn: "Nope"}); err == nil {
		t.Fatal("a missing prompt column was accepted")
	}
	if _, cols, err := LoadTrace(path, TraceOptions{ServiceColumn: "EndpointName"}); err == nil || cols.Services != nil {
		t.Fatal("a column of names was read as service times")
	}
	// An LLM trace's generated and prompt tokens, per request.
	llm := filepath.Join(t.TempDir(), "llm.csv")
	os.WriteFile(llm, []byte("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6,374,44\n2023-11-16 18:15:46.9,396,109\n"), 0o644)
	if _, cols, err := LoadTrace(llm, TraceOptions{ServiceColumn: "GeneratedTokens", ServicePerUnit: time.Second, PromptColumn: "ContextTokens"}); err != nil ||
		!near(cols.Services[0], 44, 109) || !near(cols.Prompts[0], 374, 396) {
		t.Fatalf("LLM trace: %+v, %v", cols, err)
	}
	// The model's service is then the trace's: 0.42 s of work in the first
	// second on one slot; the two requests wait for no one.
	r, err := Run(context.Background(), tr, policy(t, `{"MinCapacity": 1, "MaxCapacity": 1}`), Model{ServiceTime: time.Second, Services: services, Concurrency: 1, SLO: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.P50ms != 110 || r.P99ms != 310 || r.Requests != 3 || r.SLOAttainment != 1 {
		t.Fatalf("%+v", r)
	}
}

// With per-request service times, a long answer misses the SLO alone: a
// second's mean would have hidden it. A scaled trace's requests keep their
// own times.
func TestServicesPerRequest(t *testing.T) {
	one := []float64{5, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1} // mean 0.59 s
	p := policy(t, `{"MinCapacity": 1, "MaxCapacity": 1}`)
	for _, scale := range []float64{1, 2} {
		m := Model{ServiceTime: time.Second, Services: [][]float64{one}, Concurrency: int(20 * scale), SLO: time.Second}
		r, err := Run(context.Background(), Trace{10 * scale}, p, m)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(r.SLOAttainment-0.9) > 1e-9 || r.P99ms != 5000 || r.P50ms != 100 || r.Requests != 10*scale || r.Dropped != 0 {
			t.Fatalf("scale %v: SLO %v, p50 %v, p99 %v, %v requests, %v dropped", scale, r.SLOAttainment, r.P50ms, r.P99ms, r.Requests, r.Dropped)
		}
	}
	// On two slots the long one holds one, and the others take turns on
	// the other as they arrive (0.1 s apart, 0.1 s each): none waits. A
	// fluid queue, spreading the long one's work over both slots, would
	// have made them wait for it.
	r, err := Run(context.Background(), Trace{10}, p, Model{ServiceTime: time.Second, Services: [][]float64{one}, Concurrency: 2, SLO: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.P50ms != 100 || r.Queued != 0 || math.Abs(r.SLOAttainment-0.9) > 1e-9 {
		t.Fatalf("two slots: p50 %v, %v queued, SLO %v", r.P50ms, r.Queued, r.SLOAttainment)
	}
	// A trace scaled by 1.5: the listed requests stand for 15, whole.
	r, err = Run(context.Background(), Trace{15}, p, Model{ServiceTime: time.Second, Services: [][]float64{one}, Concurrency: 20, SLO: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 15 || math.Abs(r.SLOAttainment-14.0/15) > 1e-9 { // the long one once, the others 14 times
		t.Fatalf("scaled: %v requests, SLO %v", r.Requests, r.SLOAttainment)
	}
	// On one slot they queue behind the long one, in arrival order: it
	// holds the slot until 5.05 s, and each then waits for the one before
	// it (they arrived 0.1 s apart and take 0.1 s).
	r, err = Run(context.Background(), Trace{10}, p, Model{ServiceTime: time.Second, Services: [][]float64{one}, Concurrency: 1, SLO: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.P50ms != 5000 || r.Queued != 9 || r.SLOAttainment != 1 {
		t.Fatalf("one slot: p50 %v, %v queued, SLO %v", r.P50ms, r.Queued, r.SLOAttainment)
	}
}

// TestSpread: a distribution of service times moves the percentiles, not
// the capacity or the mean.
func TestSpread(t *testing.T) {
	var trace Trace
	for range 600 {
		trace = append(trace, 5)
	}
	p := policy(t, `{"MinCapacity": 1, "MaxCapacity": 1}`)
	fixed, err := Run(context.Background(), trace, p, model)
	if err != nil {
		t.Fatal(err)
	}
	m := model
	m.Spread = Exponential
	spread, err := Run(context.Background(), trace, p, m)
	if err != nil {
		t.Fatal(err)
	}
	if fixed.P99ms != 100 || spread.P99ms < 400 || spread.P99ms > 500 || spread.P50ms > 80 || spread.InstanceHours != fixed.InstanceHours {
		t.Fatalf("fixed p50 %v p99 %v; exponential p50 %v p99 %v", fixed.P50ms, fixed.P99ms, spread.P50ms, spread.P99ms)
	}
	if q := LogNormal(0.5); math.Abs(q(0.5)-math.Exp(-0.125)) > 1e-9 {
		t.Fatalf("log-normal median %v", q(0.5))
	}
}

// TestInitialInstances: the fleet starts at the endpoint's initial count,
// and registering the target moves it into the policy's bounds, as live.
func TestInitialInstances(t *testing.T) {
	trace := make(Trace, 3600)
	hours := (3600 + time.Minute.Seconds() + model.Startup.Seconds()) / 3600 // the trace, then the timeout and a startup to finish
	for _, c := range []struct {
		initial, max, want int
	}{{0, 10, 1}, {2, 10, 2}, {5, 3, 3}} {
		p := policy(t, `{"MinCapacity": 1, "MaxCapacity": `+strconv.Itoa(c.max)+`}`)
		m := model
		m.InitialInstances = c.initial
		r, err := Run(context.Background(), trace, p, m)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(r.InstanceHours-float64(c.want)*hours) > 0.01 {
			t.Errorf("initial %d, max %d: %.3f instance-hours; want %d instances throughout", c.initial, c.max, r.InstanceHours, c.want)
		}
	}
}

// TestMinutesJSON: minutes are written as columns, rounded to thousandths.
func TestMinutesJSON(t *testing.T) {
	b, err := json.Marshal(Minutes{{Requests: 60, Instances: 1.0000001, Capacity: 600}, {Requests: 120.12345, Instances: 2, Capacity: 1200}})
	if want := `{"requests":[60,120.123],"instances":[1,2],"capacity":[600,1200]}`; err != nil || string(b) != want {
		t.Fatalf("%s %v, want %s", b, err, want)
	}
	if b, _ := json.Marshal(Minutes(nil)); string(b) != `{"requests":[],"instances":[],"capacity":[]}` {
		t.Fatalf("no minutes: %s", b)
	}
}

// A run's figures are the same bits every time: Search compares SLO
// attainments exactly, and a candidate as good as the baseline must not
// lose to the last digits of a sum taken in a map's order.
func TestRunIsDeterministic(t *testing.T) {
	p := policy(t, `{"MinCapacity": 1, "MaxCapacity": 10, "ScalingPolicies": [{"PolicyName": "p", "PolicyType": "TargetTrackingScaling",
		"TargetTrackingScalingPolicyConfiguration": {"TargetValue": 300, "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}}]}`)
	m := model
	m.Spread = func(q float64) float64 { return 0.5 + q } // many latencies, so many terms to sum
	var first Report
	for i := range 5 {
		r, err := Run(context.Background(), stepTrace(), p, m)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = r
		} else if r.SLOAttainment != first.SLOAttainment || r.P99ms != first.P99ms || r.InstanceHours != first.InstanceHours {
			t.Fatalf("run %d: SLO %v, p99 %v, %v h; first: %v, %v, %v h", i, r.SLOAttainment, r.P99ms, r.InstanceHours, first.SLOAttainment, first.P99ms, first.InstanceHours)
		}
	}
}

// The one-minute concurrency candidates track ConcurrentRequestsPerModel
// as a customized metric of the simulated variant, which the live API
// accepts as it would from a user.
func TestSearchTracksConcurrencyPerMinute(t *testing.T) {
	p := candidate(Policy{MinCapacity: 1, MaxCapacity: 10}, concurrentRequestsPerMinute, 4, 60, 300)
	r, err := Run(context.Background(), stepTrace(), p, model)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Activities) == 0 || !strings.Contains(r.Activities[0].Cause, "TargetTracking") {
		t.Fatalf("want scaling by the policy's alarms: %+v", r.Activities)
	}
}

// Capacity is counted at the service times of the requests served: in the
// minutes after the trace, with none to serve, at the last ones'.
func TestCapacityFollowsServiceTimes(t *testing.T) {
	trace := make(Trace, 120)
	services := make([][]float64, 120)
	for i := range trace {
		if i%4 == 0 {
			trace[i], services[i] = 1, []float64{2}
		}
	}
	r, err := Run(context.Background(), trace, policy(t, `{"MinCapacity": 1, "MaxCapacity": 1}`),
		Model{ServiceTime: 100 * time.Millisecond, Services: services, Concurrency: 1, SLO: 5 * time.Second, Startup: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Minutes) < 3 {
		t.Fatalf("%d minutes", len(r.Minutes))
	}
	for i, m := range r.Minutes {
		if math.Abs(m.Capacity-30) > 1e-9 { // 60 slot-seconds at 2 s each
			t.Fatalf("minute %d: capacity %v, want 30", i, m.Capacity)
		}
	}
}

// A day-long trace that gives each request its service time has its daily
// floors sized by those times, not by --service-time.
func TestDailyFloorsUseTheTracesServiceTimes(t *testing.T) {
	trace := make(Trace, 86400)
	services := make([][]float64, len(trace))
	for i := range trace {
		trace[i], services[i] = 4, []float64{1, 1, 1, 1}
	}
	floors := dailyFloors(trace, Model{ServiceTime: 100 * time.Millisecond, Services: services, Concurrency: 1})
	if len(floors) != 24 || floors[0] != 5 { // 4 requests/s × 1 s, at 80 %
		t.Fatalf("floors %v", floors)
	}
}

// BenchmarkRunDay replays a day of diurnal traffic through target tracking:
// the cost of one candidate of `ebb simulate --search` per simulated day.
func BenchmarkRunDay(b *testing.B) {
	var tr Trace
	for s := range 86400 {
		tr = append(tr, 30+25*math.Sin(2*math.Pi*float64(s)/86400))
	}
	var p Policy
	json.Unmarshal([]byte(`{"MinCapacity": 1, "MaxCapacity": 10, "ScalingPolicies": [{"PolicyName": "tt", "PolicyType": "TargetTrackingScaling",
		"TargetTrackingScalingPolicyConfiguration": {"TargetValue": 600,
		"PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}}]}`), &p)
	for b.Loop() {
		if _, err := Run(context.Background(), tr, p, model); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHistoryIsRunNotCounted: the history's requests and instances are not
// in the figures, but the fleet the history built is: a burst in the
// history that one instance drops counts for nothing, and an hour after it
// is counted from the history's end.
func TestHistoryIsRunNotCounted(t *testing.T) {
	var tr Trace
	for s := range 2 * 3600 {
		rps := 5.0
		if s < 600 {
			rps = 100 // 10 instances' worth on one
		}
		tr = append(tr, rps)
	}
	p := policy(t, `{"MinCapacity": 1, "MaxCapacity": 1}`)
	m := model
	m.Timeout = time.Minute
	all, err := Run(context.Background(), tr, p, m)
	if err != nil {
		t.Fatal(err)
	}
	m.History = time.Hour
	later, err := Run(context.Background(), tr, p, m)
	if err != nil {
		t.Fatal(err)
	}
	if all.Dropped == 0 || later.Dropped != 0 || later.Requests != 5*3600 || later.SLOAttainment != 1 {
		t.Fatalf("without history: %v dropped; with: %v dropped, %v requests, SLO %v", all.Dropped, later.Dropped, later.Requests, later.SLOAttainment)
	}
	// The tail the model lets finish is counted, as without history.
	tail := (m.Timeout + m.Startup).Hours()
	if math.Abs(later.InstanceHours-(1+tail)) > 1e-9 || !later.Start.Equal(time.Date(2026, 1, 5, 1, 0, 0, 0, time.UTC)) || len(later.Minutes) < 60 {
		t.Fatalf("with history: %v instance-hours from %v, %d minutes", later.InstanceHours, later.Start, len(later.Minutes))
	}
	m.History = 2 * time.Hour
	if _, err := Run(context.Background(), tr, p, m); err == nil {
		t.Fatal("a history as long as the trace was accepted")
	}
}

func TestRampHours(t *testing.T) {
	day := []float64{5, 4, 3, 2, 2, 3, 4, 6, 9, 12, 14, 15, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 6, 5}
	var tr Trace
	for d := range 2 {
		for h, v := range day {
			if d == 1 {
				v *= 2
			}
			if d == 1 && h == 20 {
				v = 40 // an evening spike: the peak the morning rises to
			}
			for range 3600 {
				tr = append(tr, v)
			}
		}
	}
	tr = append(tr, make(Trace, 3600*5)...) // not a whole day: no ramp
	var got []int
	for h, r := range rampHours(tr) {
		if r {
			got = append(got, h)
		}
	}
	// Day one: peak 15 at 11:00, the trough before it 2 at 03:00: halfway
	// 8.5, reached at 08:00. Day two: peak 40 (the spike) at 20:00, the
	// trough before it 4 at 03:00: halfway 22, reached at 09:00 (24).
	if !slices.Equal(got, []int{8, 24 + 9}) {
		t.Fatalf("ramp hours %v", got)
	}
}

// TestPredictiveInSimulate: a predictive policy runs in the simulator as
// live, on the virtual clock: with the trace's first day as history, on
// the third day the capacity for the afternoon's load is scheduled before
// the afternoon, caused by the forecast, and target tracking alone (the
// same policy without the predictive one) is later and misses more.
func TestPredictiveInSimulate(t *testing.T) {
	var tr Trace
	for range 3 {
		for h := range 24 {
			rps := 2.0
			if h >= 12 && h < 16 {
				rps = 40 // four instances' worth at 100 ms, one at a time
			}
			for range 3600 {
				tr = append(tr, rps)
			}
		}
	}
	reactive := `{"PolicyName": "reactive", "PolicyType": "TargetTrackingScaling",
		"TargetTrackingScalingPolicyConfiguration": {"TargetValue": 450, "ScaleOutCooldown": 60, "ScaleInCooldown": 300,
		"PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}}`
	predictive := `{"PolicyName": "daily", "PolicyType": "PredictiveScaling",
		"PredictiveScalingPolicyConfiguration": {"Mode": "ForecastAndScale", "SchedulingBufferTime": 600,
		"MetricSpecifications": [{"TargetValue": 300, "PredefinedMetricPairSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}}]}}`
	m := Model{ServiceTime: 100 * time.Millisecond, Concurrency: 1, Startup: 5 * time.Minute, SLO: time.Second, History: 24 * time.Hour}
	alone, err := Run(context.Background(), tr, policy(t, `{"MinCapacity": 1, "MaxCapacity": 10, "ScalingPolicies": [`+reactive+`]}`), m)
	if err != nil {
		t.Fatal(err)
	}
	both := policy(t, `{"MinCapacity": 1, "MaxCapacity": 10, "ScalingPolicies": [`+reactive+`, `+predictive+`]}`)
	if !both.Predictive() {
		t.Fatal("a policy with a predictive one is not Predictive")
	}
	r, err := Run(context.Background(), tr, both, m)
	if err != nil {
		t.Fatal(err)
	}
	third := r.Start.AddDate(0, 0, 1) // r.Start is the history's end
	var early *Activity
	for i, a := range r.Activities {
		if a.Time.Before(r.Start) {
			t.Fatalf("an activity of the history is reported: %+v", a)
		}
		if strings.Contains(a.Cause, "predictive scaling policy daily forecast capacity") && !a.Time.Before(third.Add(11*time.Hour)) && a.Time.Before(third.Add(12*time.Hour)) {
			early = &r.Activities[i]
		}
	}
	if early == nil {
		t.Fatalf("no activity of the forecast before the third afternoon: %+v", r.Activities)
	}
	// The third day's afternoon is served from its first minute.
	first := int(third.Add(12*time.Hour).Sub(r.Start) / time.Minute)
	if got := r.Minutes[first].Capacity; got < 40*60 {
		t.Fatalf("capacity in the third afternoon's first minute %v, want at least its load %v", got, 40*60)
	}
	if r.SLOAttainment <= alone.SLOAttainment || r.RampP99ms >= alone.RampP99ms {
		t.Fatalf("with the forecast: SLO %v, ramp p99 %v ms; target tracking alone: SLO %v, ramp p99 %v ms",
			r.SLOAttainment, r.RampP99ms, alone.SLOAttainment, alone.RampP99ms)
	}
	t.Logf("with the forecast: %.2f h, SLO %.4f, ramp p99 %v ms; alone: %.2f h, SLO %.4f, ramp p99 %v ms",
		r.InstanceHours, r.SLOAttainment, r.RampP99ms, alone.InstanceHours, alone.SLOAttainment, alone.RampP99ms)
}

// TestEngineTimeToFirstToken: the LLM engine's model. A request's latency
// is its time to first token; a batch that is full makes the next wait
// for a place, and a bigger batch steps slower.
func TestEngineTimeToFirstToken(t *testing.T) {
	p := policy(t, `{"MinCapacity": 1, "MaxCapacity": 1}`)
	m := Model{Concurrency: 2, SLO: 100 * time.Millisecond, Timeout: time.Minute,
		Engine: &Engine{TimePerToken: 10 * time.Millisecond, BatchSlowdown: 0.5, PrefillPerToken: time.Millisecond}}
	// Three requests of 200 tokens, prompts of 5, in the first second (at
	// 1/6, 1/2 and 5/6 s): the first runs alone from 1/6 s (15 ms to its
	// first token, its prefill and a step), the second joins at the first
	// step's end after 1/2 s (its prefill and a step of two, 20 ms, and
	// the wait for that step); the third finds the batch full and waits
	// for the first's end, seconds later.
	m.Services, m.Prompts = [][]float64{{200, 200, 200}}, [][]float64{{5, 5, 5}}
	r, err := Run(context.Background(), Trace{3}, p, m)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests != 3 || r.P50ms < 20 || r.P50ms > 30 || r.P99ms < 1000 || math.Abs(r.SLOAttainment-2.0/3) > 1e-9 {
		t.Fatalf("p50 %v ms, p99 %v ms, SLO %v, %v requests", r.P50ms, r.P99ms, r.SLOAttainment, r.Requests)
	}
}

// TestEngineQueueDepthPolicy: the engine's instances report vLLM's
// waiting requests where ebb publishes a model server's metrics, and a
// target-tracking policy on waiting requests per instance (metric math
// over ebb/ModelServer, as the README's) scales out on them.
func TestEngineQueueDepthPolicy(t *testing.T) {
	var tr Trace
	var tokens [][]float64
	for s := range 40 * 60 {
		rps := 0.0
		if s < 15*60 {
			rps = 4 // each 200 tokens at 20 ms: 4 s a request, 8 at once: 2 a second on one instance
		}
		tr = append(tr, rps)
		tokens = append(tokens, []float64{200})
	}
	stat := func(name string) string {
		return `{"Metric": {"Namespace": "ebb/ModelServer", "MetricName": "` + name + `", "Dimensions": [{"Name": "EndpointName", "Value": "sim"}, {"Name": "VariantName", "Value": "AllTraffic"}]}, "Stat": "Average"}`
	}
	p := policy(t, `{"MinCapacity": 1, "MaxCapacity": 6, "ScalingPolicies": [{"PolicyName": "queue-depth", "PolicyType": "TargetTrackingScaling",
		"TargetTrackingScalingPolicyConfiguration": {"TargetValue": 2, "ScaleOutCooldown": 60, "ScaleInCooldown": 300,
		"CustomizedMetricSpecification": {"Metrics": [{"Id": "waiting", "MetricStat": `+stat("vllm:num_requests_waiting")+`, "ReturnData": false},
			{"Id": "instances", "MetricStat": `+stat("ScrapedTargets")+`, "ReturnData": false},
			{"Id": "per_instance", "Expression": "waiting / instances", "ReturnData": true}]}}}]}`)
	m := Model{Concurrency: 8, SLO: 10 * time.Second, Startup: time.Minute, Services: tokens,
		Engine: &Engine{TimePerToken: 20 * time.Millisecond}}
	r, err := Run(context.Background(), tr, p, m)
	if err != nil {
		t.Fatal(err)
	}
	out, in := false, false
	for _, a := range r.Activities {
		out = out || strings.Contains(a.Cause, "AlarmHigh")
		in = in || strings.Contains(a.Cause, "AlarmLow")
	}
	if !out || !in || r.MaxInstances < 2 {
		t.Fatalf("max %d instances, %v dropped, activities %+v", r.MaxInstances, r.Dropped, r.Activities)
	}
	t.Logf("%.2f instance-hours, SLO %.4f, TTFT p99 %v ms, max %d instances", r.InstanceHours, r.SLOAttainment, r.P99ms, r.MaxInstances)
}
