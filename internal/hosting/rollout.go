package hosting

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Blue/green deployments with traffic shifting, as SageMaker's deployment
// guardrails run them (UpdateEndpoint's DeploymentConfig): the new fleet
// (Pending) is started beside the old one; once it is healthy, traffic
// moves to it in steps (ALL_AT_ONCE: one; CANARY: the canary, then the
// rest; LINEAR: equal steps), each step baked for WaitIntervalInSeconds
// while the AutoRollbackConfiguration's alarms are watched. Any of them in
// ALARM during the deployment, or MaximumExecutionTimeoutInSeconds
// passing, sends all traffic back to the old fleet and ends the
// deployment, the endpoint InService on its old configuration with the
// reason in FailureReason. After the last bake the new fleet is current,
// and the old one goes TerminationWaitInSeconds later. A rolling
// deployment (RollingUpdatePolicy) instead replaces the old fleet in
// batches, watched by the same alarms. The decisions are advanceRollout's
// (plan.go); this file holds the configuration and its steps.

// DeploymentConfig is UpdateEndpoint's DeploymentConfig.
type DeploymentConfig struct {
	BlueGreenUpdatePolicy     *BlueGreenUpdatePolicy `json:",omitempty"`
	RollingUpdatePolicy       *RollingUpdatePolicy   `json:",omitempty"`
	AutoRollbackConfiguration *AutoRollbackConfig    `json:",omitempty"`
}

// RollingUpdatePolicy replaces the old fleet in batches: each batch of
// new instances starts and takes its share of traffic, bakes for
// WaitIntervalInSeconds, and then as many old instances go as the next
// batch starts: capacity in service stays the variant's.
type RollingUpdatePolicy struct {
	MaximumBatchSize                 CapacitySize
	WaitIntervalInSeconds            int
	MaximumExecutionTimeoutInSeconds *int          `json:",omitempty"`
	RollbackMaximumBatchSize         *CapacitySize `json:",omitempty"`
}

// BlueGreenUpdatePolicy is how traffic moves to the new fleet.
type BlueGreenUpdatePolicy struct {
	TrafficRoutingConfiguration      TrafficRoutingConfig
	TerminationWaitInSeconds         *int `json:",omitempty"`
	MaximumExecutionTimeoutInSeconds *int `json:",omitempty"`
}

// TrafficRoutingConfig is the traffic shifting mode and its steps.
type TrafficRoutingConfig struct {
	Type                  string
	WaitIntervalInSeconds int
	CanarySize            *CapacitySize `json:",omitempty"`
	LinearStepSize        *CapacitySize `json:",omitempty"`
}

// CapacitySize is a share of the new fleet: instances or a percentage.
type CapacitySize struct {
	Type  string
	Value int
}

// AutoRollbackConfig names the alarms that roll a deployment back.
type AutoRollbackConfig struct {
	Alarms []AlarmName `json:",omitempty"`
}

// AlarmName is one alarm of an AutoRollbackConfig.
type AlarmName struct{ AlarmName string }

// DefaultMaximumExecutionTimeout is a deployment's limit when its policy
// gives none: the model's largest value, 8 hours (SageMaker
// documents no default).
const DefaultMaximumExecutionTimeout = 28800 * time.Second

// rollout is a deployment in progress: the configuration, when it
// started, and its step: of a blue/green deployment, the step of its
// traffic shifting (-1 until the new fleet is healthy), Since when it
// began (its baking since); of a rolling one, the batch being replaced,
// Since when its new instances were all healthy (zero before).
type rollout struct {
	Config  DeploymentConfig `json:"config"`
	Started time.Time        `json:"started"`
	Step    int              `json:"step"`
	Since   time.Time        `json:"since"`
	// Back: a rolling deployment rolling back in batches of
	// RollbackMaximumBatchSize (the endpoint RollingBack, Step counting
	// its batches), from Old instances of the old fleet and New of the
	// new one when it began.
	Back bool `json:"back,omitempty"`
	Old  int  `json:"old,omitempty"`
	New  int  `json:"new,omitempty"`
}

// shares are the new fleet's successive shares of traffic, the last 1,
// for a new fleet of capacity instances.
func (p *BlueGreenUpdatePolicy) shares(capacity int) []float64 {
	t := p.TrafficRoutingConfiguration
	switch t.Type {
	case "CANARY":
		return []float64{t.CanarySize.share(capacity), 1}
	case "LINEAR":
		step := t.LinearStepSize.share(capacity)
		var out []float64
		for k := 1; float64(k)*step < 1-1e-9; k++ {
			out = append(out, float64(k)*step)
		}
		return append(out, 1)
	}
	return []float64{1} // ALL_AT_ONCE
}

// share is a capacity size as a share of a fleet of capacity instances.
func (c *CapacitySize) share(capacity int) float64 {
	if c.Type == "INSTANCE_COUNT" {
		return math.Min(1, float64(c.Value)/float64(max(1, capacity)))
	}
	return math.Min(1, float64(c.Value)/100)
}

// share is the new fleet's share of traffic at the blue/green step in
// progress (0 before the first, and for a rolling deployment, whose share
// follows its instances).
func (ro *rollout) share(pending deployment) float64 {
	p := ro.Config.BlueGreenUpdatePolicy
	if p == nil || ro.Step < 0 {
		return 0
	}
	return p.shares(pending.capacity())[ro.Step]
}

// wait is a step's baking period.
func (p *BlueGreenUpdatePolicy) wait() time.Duration {
	return time.Duration(p.TrafficRoutingConfiguration.WaitIntervalInSeconds) * time.Second
}

// terminationWait is how long the old fleet stays after the new one took
// all traffic.
func (p *BlueGreenUpdatePolicy) terminationWait() time.Duration {
	if p.TerminationWaitInSeconds == nil {
		return 0
	}
	return time.Duration(*p.TerminationWaitInSeconds) * time.Second
}

// alarms are the names of the rollback alarms.
func (c DeploymentConfig) alarms() []string {
	if c.AutoRollbackConfiguration == nil {
		return nil
	}
	out := make([]string, len(c.AutoRollbackConfiguration.Alarms))
	for i, a := range c.AutoRollbackConfiguration.Alarms {
		out[i] = a.AlarmName
	}
	return out
}

// checkDeployment refuses a DeploymentConfig ebb does not run or
// SageMaker's guide forbids, for an update from current to next. AWS's
// messages for these are not documented; each names the member.
func checkDeployment(c DeploymentConfig, current, next deployment) error {
	if c.RollingUpdatePolicy != nil && c.BlueGreenUpdatePolicy != nil {
		return errorf(ErrInvalid, "A DeploymentConfig takes a BlueGreenUpdatePolicy or a RollingUpdatePolicy, not both.")
	}
	if c.RollingUpdatePolicy != nil {
		return checkRolling(*c.RollingUpdatePolicy, current, next)
	}
	p := c.BlueGreenUpdatePolicy
	if p == nil {
		if c.AutoRollbackConfiguration != nil {
			return errorf(ErrInvalid, "AutoRollbackConfiguration needs a BlueGreenUpdatePolicy or a RollingUpdatePolicy, whose baking periods the alarms are watched in.")
		}
		return nil
	}
	t := p.TrafficRoutingConfiguration
	size := map[string]*CapacitySize{"CANARY": t.CanarySize, "LINEAR": t.LinearStepSize}
	name := map[string]string{"CANARY": "CanarySize", "LINEAR": "LinearStepSize"}
	for typ, s := range size {
		switch {
		case t.Type == typ && s == nil:
			return errorf(ErrInvalid, "TrafficRoutingConfiguration of Type %s needs %s.", typ, name[typ])
		case t.Type != typ && s != nil:
			return errorf(ErrInvalid, "TrafficRoutingConfiguration of Type %s takes no %s.", t.Type, name[typ])
		}
	}
	capacity := next.capacity()
	if s := t.CanarySize; s != nil && s.share(capacity) > 0.5 {
		// SageMaker's guide: the canary is at most half the new fleet.
		return errorf(ErrInvalid, "CanarySize (%s %d) must be at most 50%% of the new fleet's capacity (%d instances).", s.Type, s.Value, capacity)
	}
	if s := t.LinearStepSize; s != nil && s.share(capacity) > 0.5 {
		return errorf(ErrInvalid, "LinearStepSize (%s %d) must be at most 50%% of the new fleet's capacity (%d instances).", s.Type, s.Value, capacity)
	}
	if err := checkPercents(t.CanarySize, t.LinearStepSize); err != nil {
		return err
	}
	if limit := p.MaximumExecutionTimeoutInSeconds; limit != nil && time.Duration(*limit)*time.Second < p.wait()+p.terminationWait() {
		// SageMaker: the timeout "should be larger than the total waiting
		// time specified in TerminationWaitInSeconds and
		// WaitIntervalInSeconds".
		return errorf(ErrInvalid, "MaximumExecutionTimeoutInSeconds (%d) must be at least WaitIntervalInSeconds (%d) plus TerminationWaitInSeconds (%d).", *limit, t.WaitIntervalInSeconds, int(p.terminationWait().Seconds()))
	}
	if current.serverless() || next.serverless() {
		return errorf(ErrInvalid, "ebb does not run blue/green traffic shifting (DeploymentConfig) for serverless variants yet.")
	}
	if !sameVariants(current, next) {
		return errorf(ErrInvalid, "A DeploymentConfig shifts each variant's traffic to the variant of the same name: endpoint configuration %q must have the same variants (%s) as the endpoint's current one.", next.ConfigName, strings.Join(current.variantNames(), ", "))
	}
	return nil
}

// checkRolling refuses a RollingUpdatePolicy ebb does not run or
// SageMaker's guide forbids: serverless and multi-variant endpoints
// ("Exclusions"), and a batch outside 5 to 50 % of the variant.
func checkRolling(r RollingUpdatePolicy, current, next deployment) error {
	if current.serverless() || next.serverless() {
		return errorf(ErrInvalid, "SageMaker's rolling deployments (RollingUpdatePolicy) exclude serverless endpoints: update a serverless endpoint without a DeploymentConfig.")
	}
	if len(current.Variants) > 1 || len(next.Variants) > 1 {
		return errorf(ErrInvalid, "SageMaker's rolling deployments (RollingUpdatePolicy) exclude endpoints of several variants: use a BlueGreenUpdatePolicy, which shifts each variant's traffic to its new fleet.")
	}
	if !sameVariants(current, next) {
		return errorf(ErrInvalid, "A RollingUpdatePolicy replaces each variant's instances with the variant of the same name: endpoint configuration %q must have the same variants (%s) as the endpoint's current one.", next.ConfigName, strings.Join(current.variantNames(), ", "))
	}
	if err := checkPercents(&r.MaximumBatchSize, r.RollbackMaximumBatchSize); err != nil {
		return err
	}
	for _, v := range next.Variants {
		if share := float64(r.MaximumBatchSize.batch(v.DesiredCount)) / float64(max(1, v.DesiredCount)); share < 0.05 || share > 0.5 {
			return errorf(ErrInvalid, "MaximumBatchSize (%s %d) must be 5%% to 50%% of variant %q's %d instances.", r.MaximumBatchSize.Type, r.MaximumBatchSize.Value, v.Name, v.DesiredCount)
		}
	}
	return nil
}

// checkPercents refuses a CAPACITY_PERCENT size above 100 (the others,
// nil included, pass).
func checkPercents(sizes ...*CapacitySize) error {
	for _, c := range sizes {
		if c != nil && c.Type == "CAPACITY_PERCENT" && c.Value > 100 {
			return errorf(ErrInvalid, "A CAPACITY_PERCENT size (%d) is at most 100.", c.Value)
		}
	}
	return nil
}

// rollbackBatch is how many old instances of v a rollback brings back at
// once: RollbackMaximumBatchSize, by default the whole fleet.
func (ro *rollout) rollbackBatch(v variant) int {
	if b := ro.Config.RollingUpdatePolicy.RollbackMaximumBatchSize; b != nil {
		return b.batch(v.DesiredCount)
	}
	return v.DesiredCount
}

// rollbackTarget is how many instances a variant of the current (old) or
// pending (new) deployment has at the batch a rollback in batches is at:
// the old fleet Old plus Step+1 batches, the new one New less Step
// batches: the mirror of rollingTarget.
func (ro *rollout) rollbackTarget(rec endpointRecord, d *deployment, v variant) int {
	b := ro.rollbackBatch(rec.Current.Variants[0]) // a rolling deployment has one variant
	if d.ID == rec.Pending.ID {
		return max(0, ro.New-ro.Step*b)
	}
	return min(v.DesiredCount, ro.Old+(ro.Step+1)*b)
}

// batch is a capacity size as a number of a fleet's instances or copies
// (at least one).
func (c CapacitySize) batch(instances int) int {
	if c.Type == "INSTANCE_COUNT" || c.Type == "COPY_COUNT" {
		return max(1, min(c.Value, instances))
	}
	return max(1, int(math.Ceil(float64(instances)*float64(c.Value)/100)))
}

// rollingTarget is how many instances a variant of the current or pending
// deployment has in the batch a rolling deployment is at: the new fleet
// (Step+1) batches, the old one what the completed batches leave.
func (ro *rollout) rollingTarget(rec endpointRecord, d *deployment, v variant) int {
	r := ro.Config.RollingUpdatePolicy
	nv := rec.Pending.variant(v.Name)
	if nv == nil {
		return v.DesiredCount
	}
	b := r.MaximumBatchSize.batch(nv.DesiredCount)
	if d.ID == rec.Pending.ID {
		return min(v.DesiredCount, (ro.Step+1)*b)
	}
	return max(0, v.DesiredCount-ro.Step*b)
}

// timeout is how long a deployment may take: its policy's
// MaximumExecutionTimeoutInSeconds, else the model's largest value.
func (c DeploymentConfig) timeout() time.Duration {
	var limit *int
	if c.BlueGreenUpdatePolicy != nil {
		limit = c.BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds
	}
	if c.RollingUpdatePolicy != nil {
		limit = c.RollingUpdatePolicy.MaximumExecutionTimeoutInSeconds
	}
	if limit == nil {
		return DefaultMaximumExecutionTimeout
	}
	return time.Duration(*limit) * time.Second
}

// variantsAt reports whether every variant of d is at its DesiredCount
// by target.
func (d deployment) variantsAt(target func(variant) int) bool {
	for _, v := range d.Variants {
		if target(v) < v.DesiredCount {
			return false
		}
	}
	return true
}

// capacity is a deployment's desired instances.
func (d deployment) capacity() int {
	n := 0
	for _, v := range d.Variants {
		n += v.DesiredCount
	}
	return n
}

func (d deployment) variantNames() []string {
	out := make([]string, len(d.Variants))
	for i, v := range d.Variants {
		out[i] = v.Name
	}
	return out
}

func sameVariants(a, b deployment) bool {
	if len(a.Variants) != len(b.Variants) {
		return false
	}
	for _, v := range a.Variants {
		if b.variant(v.Name) == nil {
			return false
		}
	}
	return true
}

// rolledBack is the FailureReason of a deployment rolled back.
func rolledBack(configName, why string) string {
	return fmt.Sprintf("Rolled back the update to endpoint configuration %s: %s. All traffic is on the previous configuration.", configName, why)
}

// checkAlarms refuses rollback alarms that do not exist.
func (s *Service) checkAlarms(names []string) error {
	for _, name := range names {
		if s.opts.AlarmState == nil {
			return errorf(ErrInvalid, "This server watches no alarms: AutoRollbackConfiguration cannot be honoured.")
		}
		if _, ok := s.opts.AlarmState(name); !ok {
			return errorf(ErrInvalid, "The alarm %s of AutoRollbackConfiguration does not exist: create it (PutMetricAlarm) first.", name)
		}
	}
	return nil
}

// alarming lists the deployment's rollback alarms in ALARM.
func (e *endpoint) alarming() []string {
	if e.rec.Rollout == nil {
		return nil
	}
	return e.inAlarm(e.rec.Rollout.Config.alarms())
}

// inAlarm lists the alarms of names in ALARM.
func (e *endpoint) inAlarm(names []string) []string {
	if e.s.opts.AlarmState == nil {
		return nil
	}
	var out []string
	for _, name := range names {
		if state, ok := e.s.opts.AlarmState(name); ok && state == "ALARM" {
			out = append(out, name)
		}
	}
	return out
}

// alarmPoll is how often a deployment's rollback alarms are read: an alarm
// going into ALARM sends traffic back within it.
const alarmPoll = 500 * time.Millisecond

// watchAlarms has the endpoint look again while a deployment, or a
// component's rolling update, has rollback alarms to watch.
func (e *endpoint) watchAlarms() {
	watched := e.rec.Rollout != nil && len(e.rec.Rollout.Config.alarms()) > 0 ||
		slices.ContainsFunc(e.rec.Components, func(c component) bool { return c.Rollout != nil && len(c.Rollout.Config.alarms()) > 0 })
	if !watched {
		return
	}
	if now := e.s.opts.Clock.Now(); !now.Before(e.alarmsAt) {
		e.alarmsAt = now.Add(alarmPoll)
		e.wakeIn(alarmPoll)
	}
}
