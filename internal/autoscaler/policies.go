package autoscaler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/ebbscale/ebb/internal/arn"
	"github.com/ebbscale/ebb/internal/metricquery"
	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/monitor"
	"github.com/ebbscale/ebb/internal/scaling"
	"github.com/ebbscale/ebb/internal/store"
)

// TTInput is a TargetTrackingScalingPolicyConfiguration, decoded.
type TTInput struct {
	Raw              json.RawMessage
	TargetValue      float64
	DisableScaleIn   bool
	ScaleInCooldown  *int
	ScaleOutCooldown *int
	Predefined       string // PredefinedMetricType
	// Customized: a single metric, or Queries.
	Namespace, MetricName, Statistic, Unit string
	Dimensions                             []metrics.Dimension
	Queries                                []metricquery.Query
}

// PolicyInput is PutScalingPolicy's request.
type PolicyInput struct {
	Name, ServiceNamespace, ResourceID, ScalableDimension string
	Type                                                  string
	Step                                                  *scaling.StepConfig
	StepRaw                                               json.RawMessage
	TT                                                    *TTInput
	Pred                                                  *PredictiveInput
}

const defaultCooldown = 300

// PutPolicy creates or replaces a policy and returns its ARN and the alarms
// it owns (target tracking).
func (s *Service) PutPolicy(ctx context.Context, in PolicyInput) (string, []Alarm, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.target(in.ServiceNamespace, in.ResourceID, in.ScalableDimension)
	if err != nil {
		return "", nil, err
	}
	var existing *Policy
	count := 0
	key := t.Key()
	for _, p := range s.byTarget[key] {
		count++
		if p.Name == in.Name {
			existing = p
		}
	}
	if existing == nil && count >= MaxPoliciesPerTgt {
		return "", nil, errorf(ErrLimit, "Maximum number of scaling policies (%d) reached for this scalable target.", MaxPoliciesPerTgt)
	}
	if in.Type == "" && existing != nil {
		in.Type = existing.Type
	}
	// A configuration of another policy type asks for what this policy
	// would not do: refused, not ignored.
	for _, c := range []struct {
		typ, member string
		given       bool
	}{{"StepScaling", "StepScalingPolicyConfiguration", in.Step != nil}, {"TargetTrackingScaling", "TargetTrackingScalingPolicyConfiguration", in.TT != nil},
		{"PredictiveScaling", "PredictiveScalingPolicyConfiguration", in.Pred != nil}} {
		if c.given && in.Type != c.typ {
			return "", nil, errorf(ErrValidation, "%s is not valid with PolicyType %s.", c.member, in.Type)
		}
	}
	p := &Policy{Name: in.Name, TargetKey: t.Key(), Type: in.Type, CreationTime: s.o.Clock.Now()}
	if existing != nil {
		*p = *existing
		p.Type = in.Type
		p.CreationTime = existing.CreationTime
	} else {
		p.ARN = arn.New("autoscaling", s.o.Region, s.o.AccountID,
			fmt.Sprintf("scalingPolicy:%s:resource/%s/%s:policyName/%s", newUUID(), t.ServiceNamespace, t.ResourceID, in.Name))
	}
	switch in.Type {
	case "StepScaling":
		if in.Step == nil {
			return "", nil, errorf(ErrValidation, "StepScalingPolicyConfiguration is required for policy type StepScaling.")
		}
		if err := validateStep(in.Step); err != nil {
			return "", nil, err
		}
		if existing != nil && existing.TT != nil {
			if err := s.deleteAlarms(ctx, existing); err != nil {
				return "", nil, err
			}
		}
		p.Step, p.StepConfig, p.TT, p.Pred = in.Step, in.StepRaw, nil, nil
	case "TargetTrackingScaling":
		if in.TT == nil {
			return "", nil, errorf(ErrValidation, "TargetTrackingScalingPolicyConfiguration is required for policy type TargetTrackingScaling.")
		}
		tt, err := s.targetTracking(t, in.TT)
		if err != nil {
			return "", nil, err
		}
		// Several target-tracking policies on one target must use different metrics.
		for _, other := range s.byTarget[key] {
			if other.Name != in.Name && other.TT != nil && sameMetric(other.TT.Queries, tt.Queries) {
				return "", nil, errorf(ErrValidation, "Target tracking scaling policy %s already tracks this metric on the scalable target; each policy must use a different metric.", other.Name)
			}
		}
		if existing != nil && existing.TT != nil {
			tt.AlarmHigh, tt.AlarmLow = existing.TT.AlarmHigh, existing.TT.AlarmLow
		}
		p.TT, p.Step, p.StepConfig, p.Pred = tt, nil, nil, nil
		if err := s.putAlarms(ctx, t, p); err != nil {
			return "", nil, err
		}
	case "PredictiveScaling":
		if in.Pred == nil {
			return "", nil, errorf(ErrValidation, "PredictiveScalingPolicyConfiguration is required for policy type PredictiveScaling.")
		}
		pred, err := s.predictive(t, in.Pred)
		if err != nil {
			return "", nil, err
		}
		if existing != nil && existing.TT != nil {
			if err := s.deleteAlarms(ctx, existing); err != nil {
				return "", nil, err
			}
		}
		if existing != nil && existing.Pred != nil {
			pred.Forecast, pred.Tried = existing.Pred.Forecast, existing.Pred.Tried
			if pred.TargetValue != existing.Pred.TargetValue || !sameMetric(pred.Load, existing.Pred.Load) ||
				!sameMetric(pred.Scaling, existing.Pred.Scaling) || !sameMetric(pred.Capacity, existing.Pred.Capacity) {
				pred.Forecast, pred.Tried = nil, time.Time{} // forecast again
			}
		}
		p.Pred, p.TT, p.Step, p.StepConfig = pred, nil, nil, nil
	default:
		return "", nil, errorf(ErrValidation, "PolicyType is required when creating a scaling policy.")
	}
	if err := s.save(ctx, kindPolicy, p.ARN, p, existing == nil); err != nil {
		return "", nil, err
	}
	s.addPolicy(p)
	s.log.Info("scaling policy put", "policy", p.Name, "type", p.Type, "resource", t.ResourceID)
	return p.ARN, s.policyAlarms(p), nil
}

func validateStep(c *scaling.StepConfig) error {
	switch c.AdjustmentType {
	case scaling.ChangeInCapacity, scaling.PercentChangeInCapacity, scaling.ExactCapacity:
	case "":
		return errorf(ErrValidation, "AdjustmentType is required for a step scaling policy.")
	default:
		return errorf(ErrValidation, "Unsupported AdjustmentType %s.", c.AdjustmentType)
	}
	if len(c.Steps) > MaxStepAdjustments {
		return errorf(ErrLimit, "A step scaling policy can have at most %d step adjustments.", MaxStepAdjustments)
	}
	if err := scaling.ValidateSteps(c.Steps); err != nil {
		return errorf(ErrValidation, "%v", err)
	}
	if c.MinAdjustmentMagnitude < 0 {
		return errorf(ErrValidation, "MinAdjustmentMagnitude must be greater than or equal to 0.")
	}
	if c.MinAdjustmentMagnitude != 0 && c.AdjustmentType != scaling.PercentChangeInCapacity {
		return errorf(ErrValidation, "MinAdjustmentMagnitude is only supported with AdjustmentType PercentChangeInCapacity.")
	}
	if c.AdjustmentType == scaling.ExactCapacity {
		for _, st := range c.Steps {
			if st.Adjustment < 0 {
				return errorf(ErrValidation, "ScalingAdjustment must be greater than or equal to 0 for AdjustmentType ExactCapacity.")
			}
		}
	}
	if c.Cooldown < 0 {
		return errorf(ErrValidation, "Cooldown must be greater than or equal to 0.")
	}
	return nil
}

// targetTracking resolves a TT configuration into the queries of its metric.
func (s *Service) targetTracking(t *Target, in *TTInput) (*TargetTracking, error) {
	tt := &TargetTracking{Config: in.Raw, TargetValue: in.TargetValue, DisableScaleIn: in.DisableScaleIn,
		ScaleInCooldown: defaultCooldown * time.Second, ScaleOutCooldown: defaultCooldown * time.Second}
	// AAS documents TargetValue's range as -2^360 to 2^360, as CloudWatch
	// bounds a metric value.
	if math.Abs(in.TargetValue) > 0x1p360 {
		return nil, errorf(ErrValidation, "TargetValue %g is out of range: it must be between -2^360 and 2^360.", in.TargetValue)
	}
	for name, c := range map[string]*int{"ScaleInCooldown": in.ScaleInCooldown, "ScaleOutCooldown": in.ScaleOutCooldown} {
		if c != nil && *c < 0 {
			return nil, errorf(ErrValidation, "%s must be greater than or equal to 0.", name)
		}
	}
	if in.ScaleInCooldown != nil {
		tt.ScaleInCooldown = time.Duration(*in.ScaleInCooldown) * time.Second
	}
	if in.ScaleOutCooldown != nil {
		tt.ScaleOutCooldown = time.Duration(*in.ScaleOutCooldown) * time.Second
	}
	switch {
	case in.Predefined != "" && (in.MetricName != "" || len(in.Queries) > 0):
		return nil, errorf(ErrValidation, "PredefinedMetricSpecification and CustomizedMetricSpecification are mutually exclusive.")
	case in.Predefined != "":
		var ok bool
		if tt.Queries, tt.HighResolution, ok = t.res.predefined(in.Predefined); !ok {
			return nil, errorf(ErrValidation, "The predefined metric type %s is not supported for the scalable dimension %s.", in.Predefined, t.ScalableDimension)
		}
	case len(in.Queries) > 0:
		if in.MetricName != "" {
			return nil, errorf(ErrValidation, "CustomizedMetricSpecification takes either Metrics or MetricName, Namespace, Dimensions and Statistic.")
		}
		tt.Queries = in.Queries
	case in.MetricName != "":
		if in.Namespace == "" || in.Statistic == "" {
			return nil, errorf(ErrValidation, "CustomizedMetricSpecification requires Namespace, MetricName and Statistic.")
		}
		tt.Queries = metricQuery(in.Namespace, in.MetricName, in.Statistic, in.Unit, in.Dimensions, time.Minute)
	default:
		return nil, errorf(ErrValidation, "A target tracking scaling policy requires a PredefinedMetricSpecification or a CustomizedMetricSpecification.")
	}
	if err := s.checkQueries("", tt.Queries); err != nil {
		return nil, err
	}
	return tt, nil
}

// checkQueries validates a policy's metric data queries (of a member of
// its configuration, named in the messages, or "" for target tracking's
// one metric): exactly one returns data, and the metric store can run
// them.
func (s *Service) checkQueries(member string, qs []metricquery.Query) error {
	of, in := "", ""
	if member != "" {
		of, in = " of "+member, member+": "
	}
	returned := 0
	for _, q := range qs {
		if q.ReturnData {
			returned++
		}
	}
	if returned != 1 {
		return errorf(ErrValidation, "Exactly one of the metric data queries%s must return data.", of)
	}
	now := s.o.Clock.Now()
	if _, err := metricquery.Run(s.o.Metrics, qs, now, now, now); err != nil {
		return errorf(ErrValidation, "%s%v", in, err)
	}
	return nil
}

func sameMetric(a, b []metricquery.Query) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// putAlarms creates (or updates) the AlarmHigh and AlarmLow of a TT policy,
// named, described and configured as AAS does (spec 3.3): AlarmHigh
// > target for 3 of 3 minutes, AlarmLow < 90% of target for 15 of 15. For
// the high-resolution predefined metric AlarmHigh uses 10-second periods
// (3 of 3: 30 seconds) while AlarmLow keeps its pace, as SageMaker documents
// that such policies "scale out much more quickly but scale in at the same
// speed". A policy with DisableScaleIn has no AlarmLow.
func (s *Service) putAlarms(ctx context.Context, t *Target, p *Policy) error {
	tt := p.TT
	action := p.ARN + ":createdBy/" + newUUID()
	desc := fmt.Sprintf("DO NOT EDIT OR DELETE. For TargetTrackingScaling policy %s.", action)
	if tt.AlarmHigh == "" {
		tt.AlarmHigh = fmt.Sprintf("TargetTracking-%s-AlarmHigh-%s", t.ResourceID, newUUID())
	}
	highPeriod := 60
	if tt.HighResolution {
		highPeriod = 10
	}
	base := func(name string) monitor.MetricAlarm {
		a := monitor.MetricAlarm{AlarmName: name, AlarmDescription: desc, ActionsEnabled: true, AlarmActions: []string{action},
			TreatMissingData: "missing"}
		q := tt.Queries
		if len(q) == 1 && q[0].MetricStat != nil {
			ms := q[0].MetricStat
			a.Namespace, a.MetricName, a.Dimensions, a.Unit = ms.Series.Namespace, ms.Series.MetricName, ms.Series.Dimensions, ms.Unit
			if st, err := metrics.ParseStat(ms.Stat); err == nil && st.Percentile() {
				a.ExtendedStatistic = ms.Stat
			} else {
				a.Statistic = ms.Stat
			}
		} else {
			a.Queries = q
		}
		return a
	}
	high := base(tt.AlarmHigh)
	high.Period, high.EvaluationPeriods, high.DatapointsToAlarm = highPeriod, 3, 3
	high.Threshold, high.ComparisonOperator = tt.TargetValue, "GreaterThanThreshold"
	high = withPeriod(high, highPeriod)
	if err := s.o.Alarms.Put(ctx, high); err != nil {
		return err
	}
	if tt.DisableScaleIn {
		if tt.AlarmLow != "" {
			if _, err := s.o.Alarms.Delete(ctx, []string{tt.AlarmLow}); err != nil {
				return err
			}
			tt.AlarmLow = ""
		}
		return nil
	}
	if tt.AlarmLow == "" {
		tt.AlarmLow = fmt.Sprintf("TargetTracking-%s-AlarmLow-%s", t.ResourceID, newUUID())
	}
	low := base(tt.AlarmLow)
	low.Period, low.EvaluationPeriods, low.DatapointsToAlarm = 60, 15, 15
	low.Threshold, low.ComparisonOperator = 0.9*tt.TargetValue, "LessThanThreshold"
	return s.o.Alarms.Put(ctx, withPeriod(low, 60))
}

// withPeriod sets the period of an alarm's metric (or of its queries).
func withPeriod(a monitor.MetricAlarm, period int) monitor.MetricAlarm {
	a.Period = period
	if len(a.Queries) > 0 {
		qs := make([]metricquery.Query, len(a.Queries))
		for i, q := range a.Queries {
			if q.MetricStat != nil {
				ms := *q.MetricStat
				ms.Period = time.Duration(period) * time.Second
				q.MetricStat = &ms
			}
			qs[i] = q
		}
		a.Queries = qs
	}
	return a
}

func (s *Service) policyAlarms(p *Policy) []Alarm {
	var names []string
	if p.TT != nil {
		names = append(names, p.TT.AlarmHigh)
		if p.TT.AlarmLow != "" {
			names = append(names, p.TT.AlarmLow)
		}
	} else {
		// Step policies are referenced by user alarms.
		for _, a := range s.o.Alarms.Describe(monitor.Filter{ActionPrefix: p.ARN}) {
			names = append(names, a.AlarmName)
		}
	}
	out := []Alarm{}
	for _, n := range names {
		out = append(out, Alarm{AlarmName: n, AlarmARN: s.o.Alarms.ARN(n)})
	}
	return out
}

func (s *Service) deleteAlarms(ctx context.Context, p *Policy) error {
	if p.TT == nil {
		return nil
	}
	names := []string{p.TT.AlarmHigh}
	if p.TT.AlarmLow != "" {
		names = append(names, p.TT.AlarmLow)
	}
	_, err := s.o.Alarms.Delete(ctx, names)
	return err
}

// deletePolicy removes a policy; a TT policy's alarms go with it, a step
// policy's alarms stay (only their action stops working). Callers hold s.mu.
func (s *Service) deletePolicy(ctx context.Context, p *Policy) error {
	if err := s.deleteAlarms(ctx, p); err != nil {
		return err
	}
	if err := s.o.Store.Delete(ctx, kindCooldown, p.ARN); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return s.o.Store.Delete(ctx, kindPolicy, p.ARN)
}

// addPolicy indexes a policy (new, or replacing the one with its ARN).
// Callers hold s.mu.
func (s *Service) addPolicy(p *Policy) {
	if old := s.policies[p.ARN]; old != nil && old != p {
		old.removed = true
	}
	s.policies[p.ARN] = p
	m := s.byTarget[p.TargetKey]
	if m == nil {
		m = map[string]*Policy{}
		s.byTarget[p.TargetKey] = m
	}
	m[p.ARN] = p
}

// removePolicy forgets a policy. Callers hold s.mu.
func (s *Service) removePolicy(p *Policy) {
	p.removed = true
	delete(s.policies, p.ARN)
	if m := s.byTarget[p.TargetKey]; m != nil {
		delete(m, p.ARN)
		if len(m) == 0 {
			delete(s.byTarget, p.TargetKey)
		}
	}
}

// DeletePolicy deletes a policy by name.
func (s *Service) DeletePolicy(ctx context.Context, name, ns, id, dim string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.target(ns, id, dim)
	if err != nil {
		return err
	}
	for _, p := range s.byTarget[t.Key()] {
		if p.Name == name {
			if err := s.deletePolicy(ctx, p); err != nil {
				return err
			}
			s.removePolicy(p)
			return nil
		}
	}
	return errorf(ErrObjectNotFound, "No scaling policy found for service namespace: %s, resource ID: %s, scalable dimension: %s, policy name: %s", ns, id, dim, name)
}

// PolicyView is a policy as DescribeScalingPolicies shows it.
type PolicyView struct {
	Policy
	Target Target
	Alarms []Alarm
}

// Policies lists policies, filtered, sorted by name.
func (s *Service) Policies(ns string, names []string, id, dim string) []PolicyView {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PolicyView
	for _, p := range s.policies {
		t := s.targets[p.TargetKey]
		if t == nil || t.ServiceNamespace != ns || len(names) > 0 && !slices.Contains(names, p.Name) ||
			id != "" && t.ResourceID != id || dim != "" && t.ScalableDimension != dim {
			continue
		}
		pv := PolicyView{Policy: *p, Target: *t, Alarms: s.policyAlarms(p)}
		if p.Pred != nil {
			pred := *p.Pred // the loop replaces its forecast
			pv.Pred = &pred
		}
		out = append(out, pv)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Target.ResourceID < out[j].Target.ResourceID
	})
	return out
}
