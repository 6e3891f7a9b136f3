package autoscaler

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/clock"
	"github.com/ebbscale/ebb/internal/fault"
	"github.com/ebbscale/ebb/internal/hosting"
	"github.com/ebbscale/ebb/internal/metricquery"
	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/monitor"
	"github.com/ebbscale/ebb/internal/scaling"
	"github.com/ebbscale/ebb/internal/scenario"
	"github.com/ebbscale/ebb/internal/store/sqlite"
)

// fakeHosting is one endpoint "ep" with a variant "v" whose capacity
// changes as soon as it is asked to (real hosting is covered end to end).
type fakeHosting struct {
	mu       sync.Mutex
	capacity int
	busy     bool // the endpoint is Updating: changes are refused
	// serverless: "v" is a serverless variant whose provisioned
	// concurrency is the capacity.
	serverless bool
}

func (f *fakeHosting) DescribeEndpoint(ctx context.Context, name string) (hosting.EndpointView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	status := hosting.StatusInService
	if f.busy {
		status = hosting.StatusUpdating
	}
	v := hosting.VariantView{Name: "v", DesiredCount: f.capacity, CurrentCount: f.capacity}
	if f.serverless {
		maxc, pc := 200, f.capacity
		v.Serverless = &hosting.ServerlessConfig{MaxConcurrency: &maxc, ProvisionedConcurrency: &pc}
		v.CurrentServerless = v.Serverless
	}
	return hosting.EndpointView{Name: "ep", Status: status, Variants: []hosting.VariantView{v}}, nil
}

func (f *fakeHosting) UpdateEndpointWeightsAndCapacities(ctx context.Context, name string, c []hosting.WeightAndCapacity) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.busy {
		return "", fault.Errorf(hosting.ErrInProgress, "Cannot update in-progress endpoint")
	}
	if u := c[0].ServerlessUpdateConfig; u != nil {
		f.capacity = *u.ProvisionedConcurrency
	} else {
		f.capacity = *c[0].DesiredInstanceCount
	}
	return "arn", nil
}

// The inference component "ic" follows the variant's capacity.
func (f *fakeHosting) DescribeInferenceComponent(ctx context.Context, name string) (hosting.ComponentView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if name != "ic" {
		return hosting.ComponentView{}, fault.Errorf(hosting.ErrNotFound, "Could not find inference component")
	}
	status := hosting.ComponentInService
	if f.busy {
		status = hosting.ComponentUpdating
	}
	return hosting.ComponentView{Name: "ic", Endpoint: "ep", Variant: "v", Status: status, DesiredCopies: f.capacity, CurrentCopies: f.capacity}, nil
}

func (f *fakeHosting) UpdateInferenceComponentRuntimeConfig(ctx context.Context, name string, copies int) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.busy {
		return "", fault.Errorf(hosting.ErrInProgress, "Cannot update inference component while it is Updating")
	}
	f.capacity = copies
	return "arn", nil
}

var scenarioEpoch = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// The scalable target of a scenario: the variant, or (after "component")
// the inference component "ic", or (after "provisioned") the provisioned
// concurrency of the variant, serverless.
var (
	variantTarget     = target{"endpoint/ep/variant/v", Dimension, []metrics.Dimension{{Name: "EndpointName", Value: "ep"}, {Name: "VariantName", Value: "v"}}}
	componentTarget   = target{"inference-component/ic", ComponentDimension, []metrics.Dimension{{Name: "InferenceComponentName", Value: "ic"}}}
	provisionedTarget = target{"endpoint/ep/variant/v", ProvisionedDimension, variantTarget.dims}
)

const resourceID = "endpoint/ep/variant/v" // the variant (run_test.go)

type target struct {
	id, dim string
	dims    []metrics.Dimension
}

// TestScenarios runs the scripts in testdata/*.test on a fake clock, in the
// grammar of package scenario:
//
//	endpoint CAPACITY                 the variant's starting capacity
//	component                         the target is the inference component "ic"
//	                                  (its copy count is the endpoint's capacity)
//	provisioned                       the target is the serverless variant's
//	                                  provisioned concurrency (the capacity)
//	register MIN MAX                  RegisterScalableTarget
//	step NAME TYPE COOLDOWN LO:HI:ADJ...  a step policy (empty bound = open);
//	                                  options min-magnitude=N aggregation=X
//	tracking NAME TARGET METRIC [out-cooldown=S] [in-cooldown=S] [disable-scale-in]
//	predictive NAME TARGET [mode=ForecastAndScale] [buffer=S] [max-buffer=PCT]
//	                                  a predictive policy on invocations per instance
//	                                  (or copy); max-buffer: IncreaseMaxCapacity
//	history NS/METRIC HOURS V0..V23   the metric's sum in each of the HOURS hours
//	                                  before now, by hour of the day
//	                                  METRIC: invocations (per instance or copy),
//	                                  provisioned (concurrency utilization), or NS/NAME:STAT
//	alarm NAME key=value...           an alarm (see package scenario) on the
//	                                  target's dimensions; action=policy:NAME
//	                                  names a policy of the scenario
//	set NS/METRIC VALUE               the value the metric reports from now on
//	schedule NAME EXPR [min=N] [max=N] [tz=ZONE]
//	suspend in|out|scheduled / resume in|out|scheduled
//	busy on|off                       the endpoint is (not) Updating
//	at TIME / advance DURATION        move the clock, ticking everything
//	expect capacity N
//	expect activity TEXT              the newest activity mentions TEXT
//	expect not-scaled CODE            the newest not-scaled reason
//	expect activities N               scaling activities so far
//	expect bounds MIN MAX             the target's MinCapacity and MaxCapacity
//	expect predicted N|none           the target's PredictedCapacity
func TestScenarios(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.test")
	if len(files) == 0 {
		t.Fatal("no scenarios")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runScenario(t, f) })
	}
}

type script struct {
	t      *testing.T
	ctx    context.Context
	clk    *clock.Fake
	host   *fakeHosting
	ms     *metrics.Store
	mon    *monitor.Monitor
	s      *Service
	values map[string]float64
	tg     target
}

func runScenario(t *testing.T, file string) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ebb.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sc := &script{t: t, ctx: ctx, clk: clock.NewFake(scenarioEpoch), host: &fakeHosting{}, values: map[string]float64{}, tg: variantTarget}
	sc.ms, _ = metrics.Open(nil)
	sc.mon, _ = monitor.New(ctx, monitor.Options{Store: st, Metrics: sc.ms, Clock: sc.clk})
	sc.s, err = New(ctx, Options{Store: st, Hosting: sc.host, Alarms: sc.mon, Metrics: sc.ms, Clock: sc.clk, Region: "us-east-1", AccountID: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	sc.mon.SetActions(sc.s)
	cmds := map[string]scenario.Command{}
	for _, name := range []string{"endpoint", "component", "provisioned", "register", "step", "tracking", "predictive", "history", "alarm", "set", "schedule", "suspend", "resume", "busy", "at", "advance", "expect"} {
		cmds[name] = func(args []string) error {
			err := sc.do(args)
			sc.s.applyPending(sc.ctx) // as Run does when an activity starts
			return err
		}
	}
	scenario.Run(t, file, cmds)
}

func (sc *script) policyARN(name string) (string, error) {
	for _, p := range sc.s.Policies(Namespace, []string{name}, "", "") {
		return p.ARN, nil
	}
	return "", fmt.Errorf("no policy %s", name)
}

func (sc *script) do(f []string) error {
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	switch f[0] {
	case "endpoint":
		sc.host.capacity = atoi(f[1])
	case "component":
		sc.tg = componentTarget
	case "provisioned":
		sc.tg, sc.host.serverless = provisionedTarget, true
	case "register":
		min, max := atoi(f[1]), atoi(f[2])
		_, err := sc.s.Register(sc.ctx, RegisterInput{ServiceNamespace: Namespace, ResourceID: sc.tg.id, ScalableDimension: sc.tg.dim, MinCapacity: &min, MaxCapacity: &max})
		return err
	case "step":
		cfg := &scaling.StepConfig{AdjustmentType: f[2], Cooldown: atoi(f[3])}
		for _, s := range f[4:] {
			if k, v, ok := strings.Cut(s, "="); ok {
				switch k {
				case "min-magnitude":
					cfg.MinAdjustmentMagnitude = atoi(v)
				case "aggregation":
					cfg.MetricAggregationType = v
				}
				continue
			}
			parts := strings.Split(s, ":")
			var st scaling.Step
			if parts[0] != "" {
				v, _ := strconv.ParseFloat(parts[0], 64)
				st.Lower = &v
			}
			if parts[1] != "" {
				v, _ := strconv.ParseFloat(parts[1], 64)
				st.Upper = &v
			}
			st.Adjustment = atoi(parts[2])
			cfg.Steps = append(cfg.Steps, st)
		}
		_, _, err := sc.s.PutPolicy(sc.ctx, PolicyInput{Name: f[1], ServiceNamespace: Namespace, ResourceID: sc.tg.id, ScalableDimension: sc.tg.dim, Type: "StepScaling", Step: cfg})
		return err
	case "tracking":
		target, _ := strconv.ParseFloat(f[2], 64)
		in := &TTInput{TargetValue: target, Raw: []byte("{}")}
		switch f[3] {
		case "invocations":
			in.Predefined = InvocationsPerInstance
			if sc.tg.dim == ComponentDimension {
				in.Predefined = InvocationsPerCopy
			}
		case "provisioned":
			in.Predefined = ProvisionedConcurrencyUtilization
		default:
			nsName, stat, _ := strings.Cut(f[3], ":")
			ns, name := splitMetric(nsName)
			in.Namespace, in.MetricName, in.Statistic, in.Dimensions = ns, name, stat, sc.tg.dims
		}
		o, err := scenario.Options(f[4:], "out-cooldown", "in-cooldown", "disable-scale-in")
		if err != nil {
			return err
		}
		if v, ok := o["out-cooldown"]; ok {
			n := atoi(v)
			in.ScaleOutCooldown = &n
		}
		if v, ok := o["in-cooldown"]; ok {
			n := atoi(v)
			in.ScaleInCooldown = &n
		}
		_, in.DisableScaleIn = o["disable-scale-in"]
		_, _, err = sc.s.PutPolicy(sc.ctx, PolicyInput{Name: f[1], ServiceNamespace: Namespace, ResourceID: sc.tg.id, ScalableDimension: sc.tg.dim, Type: "TargetTrackingScaling", TT: in})
		return err
	case "alarm":
		c, err := scenario.ParseAlarm(f)
		if err != nil {
			return err
		}
		// An action names a policy of the scenario: action=policy:NAME.
		for i, a := range c.Actions {
			if name, ok := strings.CutPrefix(a, "policy:"); ok {
				if c.Actions[i], err = sc.policyARN(name); err != nil {
					return err
				}
			}
		}
		return sc.mon.Put(sc.ctx, monitor.MetricAlarm{AlarmName: c.Name, Namespace: c.Namespace, MetricName: c.MetricName, Dimensions: sc.tg.dims,
			Statistic: c.Statistic, ExtendedStatistic: c.ExtendedStatistic, Period: c.Period, EvaluationPeriods: c.EvaluationPeriods,
			DatapointsToAlarm: c.DatapointsToAlarm, Threshold: c.Threshold, ComparisonOperator: c.ComparisonOperator,
			TreatMissingData: c.TreatMissingData, ActionsEnabled: true, AlarmActions: c.Actions})
	case "predictive":
		// predictive NAME TARGET [mode=M] [buffer=S] [max-buffer=P]
		//   [load=NS/METRIC] [scaling=NS/METRIC] [capacity=NS/METRIC]:
		// the predefined pair, or customized load (Sum), scaling and
		// capacity (Average) metrics beside the predefined others.
		o, err := scenario.Options(f[3:], "mode", "buffer", "max-buffer", "load", "scaling", "capacity")
		if err != nil {
			return err
		}
		target, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			return err
		}
		pair, load := InvocationsPerInstance, "SageMakerVariantTotalInvocations"
		if sc.tg.dim == ComponentDimension {
			pair, load = InvocationsPerCopy, "SageMakerInferenceComponentTotalInvocations"
		}
		in := &PredictiveInput{Raw: []byte(`{}`), TargetValue: target, Mode: o["mode"], MetricSpecifications: 1, Pair: pair}
		custom := func(metric, stat string) []metricquery.Query {
			ns, name := splitMetric(metric)
			return []metricquery.Query{{ID: "m1", ReturnData: true, MetricStat: &metricquery.MetricStat{
				Series: metrics.Series{Namespace: ns, MetricName: name, Dimensions: sc.tg.dims}, Period: time.Hour, Stat: stat}}}
		}
		if o["load"] != "" || o["scaling"] != "" {
			in.Pair, in.LoadMetric, in.ScalingMetric = "", load, pair
		}
		if m := o["load"]; m != "" {
			in.LoadMetric, in.LoadQueries = "", custom(m, "Sum")
		}
		if m := o["scaling"]; m != "" {
			in.ScalingMetric, in.ScalingQueries = "", custom(m, "Average")
		}
		if m := o["capacity"]; m != "" {
			in.CapacityQueries = custom(m, "Average")
		}
		if v, ok := o["buffer"]; ok {
			n := atoi(v)
			in.SchedulingBufferTime = &n
		}
		if v, ok := o["max-buffer"]; ok {
			n := atoi(v)
			in.MaxCapacityBreachBehavior, in.MaxCapacityBuffer = "IncreaseMaxCapacity", &n
		}
		_, _, err = sc.s.PutPolicy(sc.ctx, PolicyInput{Name: f[1], ServiceNamespace: Namespace, ResourceID: sc.tg.id, ScalableDimension: sc.tg.dim,
			Type: "PredictiveScaling", Pred: in})
		return err
	case "history":
		// history NS/METRIC HOURS V0 ... V23: the metric's sum in each of
		// the HOURS hours before now, by hour of the day (UTC).
		ns, name := splitMetric(f[1])
		hours := atoi(f[2])
		if len(f) != 3+24 {
			return fmt.Errorf("history wants 24 hourly values")
		}
		now := sc.clk.Now().Truncate(time.Hour)
		for k := hours; k >= 1; k-- {
			at := now.Add(-time.Duration(k) * time.Hour)
			v, err := strconv.ParseFloat(f[3+at.Hour()], 64)
			if err != nil {
				return err
			}
			if err := sc.ms.Put([]metrics.Point{{Series: metrics.Series{Namespace: ns, MetricName: name, Dimensions: sc.tg.dims}, Timestamp: at.Add(30 * time.Minute), Value: v}}); err != nil {
				return err
			}
		}
	case "set":
		v, err := strconv.ParseFloat(f[2], 64)
		sc.values[f[1]] = v
		return err
	case "schedule":
		o, err := scenario.Options(f[3:], "min", "max", "tz")
		if err != nil {
			return err
		}
		in := ScheduledInput{Name: f[1], ServiceNamespace: Namespace, ResourceID: sc.tg.id, ScalableDimension: sc.tg.dim, Schedule: strings.ReplaceAll(f[2], "_", " "), Timezone: o["tz"]}
		if v, ok := o["min"]; ok {
			n := atoi(v)
			in.MinCapacity = &n
		}
		if v, ok := o["max"]; ok {
			n := atoi(v)
			in.MaxCapacity = &n
		}
		return sc.s.PutScheduled(sc.ctx, in)
	case "suspend", "resume":
		cur := sc.s.Targets(Namespace, nil, "")[0].Suspended
		on := f[0] == "suspend"
		switch f[1] {
		case "in":
			cur.DynamicScalingInSuspended = on
		case "out":
			cur.DynamicScalingOutSuspended = on
		case "scheduled":
			cur.ScheduledScalingSuspended = on
		}
		_, err := sc.s.Register(sc.ctx, RegisterInput{ServiceNamespace: Namespace, ResourceID: sc.tg.id, ScalableDimension: sc.tg.dim, Suspended: &cur})
		sc.drain()
		return err
	case "busy":
		sc.host.mu.Lock()
		sc.host.busy = f[1] == "on"
		sc.host.mu.Unlock()
	case "at":
		at, err := time.Parse(time.RFC3339, f[1])
		if err != nil {
			return err
		}
		// Long jumps skip ahead without ticking (nothing but schedules
		// matter over months), then tick through the last two minutes.
		if gap := at.Sub(sc.clk.Now()); gap > 2*time.Minute {
			sc.clk.Advance((gap - 2*time.Minute).Truncate(Tick))
		}
		sc.advance(at.Sub(sc.clk.Now()))
	case "advance":
		d, err := time.ParseDuration(f[1])
		if err != nil {
			return err
		}
		sc.advance(d)
	case "expect":
		return sc.expect(f[1], strings.Join(f[2:], " "))
	default:
		return fmt.Errorf("unknown command")
	}
	return nil
}

// advance moves time in steps of the autoscaler's tick: metrics report
// their set values every 10 s, alarms are evaluated, their actions
// handled, activities followed and schedules run.
func (sc *script) advance(d time.Duration) {
	for end := sc.clk.Now().Add(d); sc.clk.Now().Before(end); {
		sc.clk.Advance(Tick)
		now := sc.clk.Now()
		if now.Second() == 0 {
			// One datapoint per minute, for the minute that just ended: a
			// Sum metric then reads as "per minute".
			for key, v := range sc.values {
				ns, name := splitMetric(key)
				if key == "invocations" && sc.tg.dim == ComponentDimension {
					name = "InvocationsPerCopy"
				}
				sc.ms.Put([]metrics.Point{{Series: metrics.Series{Namespace: ns, MetricName: name, Dimensions: sc.tg.dims}, Timestamp: now.Add(-30 * time.Second), Value: v}})
			}
		}
		if now.Second()%10 == 0 {
			sc.mon.EvaluateAll(sc.ctx, now)
		}
		sc.drain()
		sc.s.tick(sc.ctx, now)
		sc.s.applyPending(sc.ctx)
	}
}

// splitMetric splits NS/NAME at the last slash ("invocations" is the
// predefined InvocationsPerInstance).
func splitMetric(key string) (string, string) {
	if key == "invocations" {
		return "AWS/SageMaker", "InvocationsPerInstance"
	}
	i := strings.LastIndex(key, "/")
	return key[:i], key[i+1:]
}

func (sc *script) drain() {
	sc.s.decideQueued(sc.ctx, sc.clk.Now())
	sc.s.applyPending(sc.ctx)
}

func (sc *script) expect(what, arg string) error {
	acts, _ := sc.s.Activities(sc.ctx, Namespace, sc.tg.id, sc.tg.dim, true, time.Time{})
	switch what {
	case "capacity":
		if got := sc.host.capacity; strconv.Itoa(got) != arg {
			return fmt.Errorf("capacity %d (at +%v; activities: %s)", got, sc.clk.Now().Sub(scenarioEpoch), summary(acts))
		}
	case "activity":
		for _, a := range acts {
			if len(a.NotScaledReasons) > 0 {
				continue
			}
			if !strings.Contains(a.Description+" | "+a.Cause+" | "+a.StatusMessage, arg) {
				return fmt.Errorf("newest activity is %q | %q | %q", a.Description, a.Cause, a.StatusMessage)
			}
			return nil
		}
		return fmt.Errorf("no activity")
	case "not-scaled":
		for _, a := range acts {
			if len(a.NotScaledReasons) > 0 {
				if a.NotScaledReasons[0].Code != arg {
					return fmt.Errorf("newest not-scaled reason %s", a.NotScaledReasons[0].Code)
				}
				return nil
			}
		}
		return fmt.Errorf("no not-scaled activity")
	case "activities":
		n := 0
		for _, a := range acts {
			if len(a.NotScaledReasons) == 0 {
				n++
			}
		}
		if strconv.Itoa(n) != arg {
			return fmt.Errorf("%d activities: %s", n, summary(acts))
		}
	case "predicted":
		ts := sc.s.Targets(Namespace, []string{sc.tg.id}, sc.tg.dim)
		if len(ts) != 1 || (ts[0].Predicted == nil) != (arg == "none") || ts[0].Predicted != nil && strconv.Itoa(*ts[0].Predicted) != arg {
			got := "none"
			if len(ts) == 1 && ts[0].Predicted != nil {
				got = strconv.Itoa(*ts[0].Predicted)
			}
			return fmt.Errorf("predicted capacity %s, want %s", got, arg)
		}
	case "bounds":
		ts := sc.s.Targets(Namespace, []string{sc.tg.id}, sc.tg.dim)
		if len(ts) != 1 || fmt.Sprintf("%d %d", ts[0].MinCapacity, ts[0].MaxCapacity) != arg {
			return fmt.Errorf("bounds %+v, want %s", ts, arg)
		}
	case "alarm":
		name, state, _ := strings.Cut(arg, " ")
		got := sc.mon.Describe(monitor.Filter{NamePrefix: name})
		if len(got) == 0 || string(got[0].StateValue) != state {
			return fmt.Errorf("alarm %s: %+v", name, got)
		}
	default:
		return fmt.Errorf("unknown expectation %q", what)
	}
	return nil
}

func summary(acts []Activity) string {
	var parts []string
	for i := len(acts) - 1; i >= 0; i-- {
		a := acts[i]
		s := fmt.Sprintf("%s %s", a.StatusCode, a.Description)
		if len(a.NotScaledReasons) > 0 {
			s += " (" + a.NotScaledReasons[0].Code + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}
