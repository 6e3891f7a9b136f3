// Package autoscaling serves Application Auto Scaling (awsJson1_1,
// X-Amz-Target: AnyScaleFrontendService.<Op>) on top of internal/autoscaler.
package autoscaling

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/ebbscale/ebb/internal/api/awserr"
	"github.com/ebbscale/ebb/internal/api/awsjson"
	"github.com/ebbscale/ebb/internal/api/awsmodel"
	"github.com/ebbscale/ebb/internal/autoscaler"
	"github.com/ebbscale/ebb/internal/metricquery"
	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/paging"
	"github.com/ebbscale/ebb/internal/scaling"
	"github.com/ebbscale/ebb/internal/store"
)

// Wire constants.
const (
	ContentType  = "application/x-amz-json-1.1"
	TargetPrefix = "AnyScaleFrontendService."
)

// Handler serves Application Auto Scaling.
type Handler struct {
	awsjson.Service
	s *autoscaler.Service
}

// errorTable is the AAS error table: each kind is the error type of its
// name.
var errorTable = awserr.Table{
	Rules: append(func() []awserr.Rule {
		var rules []awserr.Rule
		for _, kind := range []error{autoscaler.ErrValidation, autoscaler.ErrObjectNotFound, autoscaler.ErrLimit,
			autoscaler.ErrInvalidNextToken, autoscaler.ErrResourceNotFound, autoscaler.ErrTooManyTags} {
			rules = append(rules, awserr.Rule{Kind: kind, Code: kind.Error(), Status: http.StatusBadRequest})
		}
		return rules
	}(), awserr.ModelRules...),
	InternalCode: "InternalServiceException",
}

// New returns the handler.
func New(s *autoscaler.Service) *Handler {
	h := &Handler{s: s}
	h.Service = awsjson.Service{ContentType: ContentType, TargetPrefix: TargetPrefix, Model: awsmodel.ApplicationAutoScaling, Errors: errorTable,
		Ops: map[string]awsjson.Op{
			"RegisterScalableTarget":       h.register,
			"DeregisterScalableTarget":     h.deregister,
			"DescribeScalableTargets":      h.describeTargets,
			"PutScalingPolicy":             h.putPolicy,
			"DescribeScalingPolicies":      h.describePolicies,
			"DeleteScalingPolicy":          h.deletePolicy,
			"PutScheduledAction":           h.putScheduled,
			"DescribeScheduledActions":     h.describeScheduled,
			"DeleteScheduledAction":        h.deleteScheduled,
			"DescribeScalingActivities":    h.activities,
			"TagResource":                  h.tag,
			"UntagResource":                h.untag,
			"ListTagsForResource":          h.listTags,
			"GetPredictiveScalingForecast": h.predictiveForecast,
		}}
	return h
}

func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return awserr.Serialization(err.Error())
	}
	return nil
}

// given reports whether a member was sent with a value (JSON null is
// left out).
func given(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

func bad(format string, args ...any) error {
	return awserr.New("ValidationException", http.StatusBadRequest, format, args...)
}

// page pages a list by offset (paging.Offset), MaxResults up to limit.
func page[T any](items []T, max int, token string, def, limit int) ([]T, *string, error) {
	if max == 0 {
		max = def
	}
	if max < 1 || max > limit {
		return nil, nil, bad("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and %d", max, limit)
	}
	p, next, ok := paging.Offset(items, token, max)
	if !ok {
		return nil, nil, awserr.New("InvalidNextTokenException", http.StatusBadRequest, "Invalid token")
	}
	// A page is never null on the wire: AWS answers an empty list as [].
	p = append(make([]T, 0, len(p)), p...)
	if next == "" {
		return p, nil, nil
	}
	return p, &next, nil
}

type suspended struct {
	DynamicScalingInSuspended  *bool `json:",omitempty"`
	DynamicScalingOutSuspended *bool `json:",omitempty"`
	ScheduledScalingSuspended  *bool `json:",omitempty"`
}

type targetKey struct {
	ServiceNamespace  string
	ResourceId        string
	ScalableDimension string
}

func (h *Handler) register(ctx context.Context, body []byte) (any, error) {
	var in struct {
		targetKey
		MinCapacity, MaxCapacity *int
		RoleARN                  string
		SuspendedState           *suspended
		Tags                     map[string]string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	ri := autoscaler.RegisterInput{ServiceNamespace: in.ServiceNamespace, ResourceID: in.ResourceId, ScalableDimension: in.ScalableDimension,
		MinCapacity: in.MinCapacity, MaxCapacity: in.MaxCapacity, RoleARN: in.RoleARN}
	if st := in.SuspendedState; st != nil {
		// Members left out keep their current value.
		cur := autoscaler.Suspended{}
		for _, t := range h.s.Targets(in.ServiceNamespace, []string{in.ResourceId}, in.ScalableDimension) {
			cur = t.Suspended
		}
		set := func(dst *bool, v *bool) {
			if v != nil {
				*dst = *v
			}
		}
		set(&cur.DynamicScalingInSuspended, st.DynamicScalingInSuspended)
		set(&cur.DynamicScalingOutSuspended, st.DynamicScalingOutSuspended)
		set(&cur.ScheduledScalingSuspended, st.ScheduledScalingSuspended)
		ri.Suspended = &cur
	}
	for k, v := range in.Tags {
		ri.Tags = append(ri.Tags, store.Tag{Key: k, Value: v})
	}
	arn, err := h.s.Register(ctx, ri)
	return map[string]string{"ScalableTargetARN": arn}, err
}

func (h *Handler) deregister(ctx context.Context, body []byte) (any, error) {
	var in targetKey
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, h.s.Deregister(ctx, in.ServiceNamespace, in.ResourceId, in.ScalableDimension)
}

type scalableTarget struct {
	ServiceNamespace, ResourceId, ScalableDimension string
	MinCapacity, MaxCapacity                        int
	PredictedCapacity                               *int `json:",omitempty"`
	RoleARN                                         string
	CreationTime                                    *awsjson.Time
	SuspendedState                                  autoscaler.Suspended
	ScalableTargetARN                               string
}

func (h *Handler) describeTargets(ctx context.Context, body []byte) (any, error) {
	var in struct {
		ServiceNamespace  string
		ResourceIds       []string
		ScalableDimension string
		MaxResults        int
		NextToken         string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.ScalableDimension != "" && len(in.ResourceIds) == 0 {
		return nil, bad("If you specify ScalableDimension, you must also specify ResourceIds.")
	}
	var all []scalableTarget
	for _, t := range h.s.Targets(in.ServiceNamespace, in.ResourceIds, in.ScalableDimension) {
		all = append(all, scalableTarget{t.ServiceNamespace, t.ResourceID, t.ScalableDimension, t.MinCapacity, t.MaxCapacity, t.Predicted,
			t.RoleARN, awsjson.T(t.CreationTime), t.Suspended, t.ARN})
	}
	items, next, err := page(all, in.MaxResults, in.NextToken, 50, 50)
	if err != nil {
		return nil, err
	}
	return struct {
		ScalableTargets []scalableTarget
		NextToken       *string `json:",omitempty"`
	}{items, next}, nil
}

// Wire shapes of policies.
type (
	metricDimension struct{ Name, Value string }
	metricDataQuery struct {
		Id         string
		Expression string `json:",omitempty"`
		Label      string `json:",omitempty"`
		ReturnData *bool  `json:",omitempty"`
		MetricStat *struct {
			Metric struct {
				Namespace, MetricName string
				Dimensions            []metricDimension
			}
			Stat string
			Unit string `json:",omitempty"`
		} `json:",omitempty"`
	}
	ttConfig struct {
		TargetValue                   float64
		DisableScaleIn                bool
		ScaleInCooldown               *int
		ScaleOutCooldown              *int
		PredefinedMetricSpecification *struct {
			PredefinedMetricType string
			ResourceLabel        string
		}
		CustomizedMetricSpecification *struct {
			MetricName, Namespace, Statistic, Unit string
			Dimensions                             []metricDimension
			Metrics                                []metricDataQuery
		}
	}
	predictiveMetric struct {
		PredefinedMetricType string
		ResourceLabel        string
	}
	// customizedPredictiveMetric is a predictive policy's customized load,
	// scaling or capacity metric: read hour by hour.
	customizedPredictiveMetric struct {
		MetricDataQueries []metricDataQuery
	}
	predictiveConfig struct {
		MetricSpecifications []struct {
			TargetValue                           float64
			PredefinedMetricPairSpecification     *predictiveMetric
			PredefinedScalingMetricSpecification  *predictiveMetric
			PredefinedLoadMetricSpecification     *predictiveMetric
			CustomizedScalingMetricSpecification  *customizedPredictiveMetric
			CustomizedLoadMetricSpecification     *customizedPredictiveMetric
			CustomizedCapacityMetricSpecification *customizedPredictiveMetric
		}
		Mode                      string
		SchedulingBufferTime      *int
		MaxCapacityBreachBehavior string
		MaxCapacityBuffer         *int
	}
	stepConfig struct {
		AdjustmentType  string
		StepAdjustments []struct {
			MetricIntervalLowerBound *float64
			MetricIntervalUpperBound *float64
			ScalingAdjustment        int
		}
		MinAdjustmentMagnitude int
		Cooldown               *int
		MetricAggregationType  string
	}
)

// queries are metric data queries as the metric store runs them, each
// metric and expression at period.
func queries(qs []metricDataQuery, period time.Duration) []metricquery.Query {
	var out []metricquery.Query
	for _, q := range qs {
		mq := metricquery.Query{ID: q.Id, Expression: q.Expression, Label: q.Label, ReturnData: q.ReturnData == nil || *q.ReturnData}
		if ms := q.MetricStat; ms != nil {
			mq.MetricStat = &metricquery.MetricStat{Series: metrics.Series{Namespace: ms.Metric.Namespace, MetricName: ms.Metric.MetricName,
				Dimensions: dims(ms.Metric.Dimensions)}, Period: period, Stat: ms.Stat, Unit: ms.Unit}
		}
		if q.Expression != "" {
			mq.Period = period
		}
		out = append(out, mq)
	}
	return out
}

func dims(ds []metricDimension) []metrics.Dimension {
	out := make([]metrics.Dimension, len(ds))
	for i, d := range ds {
		out[i] = metrics.Dimension{Name: d.Name, Value: d.Value}
	}
	return out
}

func (h *Handler) putPolicy(ctx context.Context, body []byte) (any, error) {
	var in struct {
		PolicyName string
		targetKey
		PolicyType                               string
		StepScalingPolicyConfiguration           json.RawMessage
		TargetTrackingScalingPolicyConfiguration json.RawMessage
		PredictiveScalingPolicyConfiguration     json.RawMessage
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	pi := autoscaler.PolicyInput{Name: in.PolicyName, ServiceNamespace: in.ServiceNamespace, ResourceID: in.ResourceId,
		ScalableDimension: in.ScalableDimension, Type: in.PolicyType}
	if given(in.StepScalingPolicyConfiguration) {
		var sc stepConfig
		if err := decode(in.StepScalingPolicyConfiguration, &sc); err != nil {
			return nil, err
		}
		cfg := &scaling.StepConfig{AdjustmentType: sc.AdjustmentType, MinAdjustmentMagnitude: sc.MinAdjustmentMagnitude,
			MetricAggregationType: sc.MetricAggregationType, Cooldown: 300} // AWS's default cooldown
		if sc.Cooldown != nil {
			cfg.Cooldown = *sc.Cooldown
		}
		for _, st := range sc.StepAdjustments {
			cfg.Steps = append(cfg.Steps, scaling.Step{Lower: st.MetricIntervalLowerBound, Upper: st.MetricIntervalUpperBound, Adjustment: st.ScalingAdjustment})
		}
		pi.Step, pi.StepRaw = cfg, in.StepScalingPolicyConfiguration
	}
	if given(in.TargetTrackingScalingPolicyConfiguration) {
		var tc ttConfig
		if err := decode(in.TargetTrackingScalingPolicyConfiguration, &tc); err != nil {
			return nil, err
		}
		ti := &autoscaler.TTInput{Raw: in.TargetTrackingScalingPolicyConfiguration, TargetValue: tc.TargetValue, DisableScaleIn: tc.DisableScaleIn,
			ScaleInCooldown: tc.ScaleInCooldown, ScaleOutCooldown: tc.ScaleOutCooldown}
		if p := tc.PredefinedMetricSpecification; p != nil {
			if p.ResourceLabel != "" && p.PredefinedMetricType != "ALBRequestCountPerTarget" {
				return nil, bad("ResourceLabel is only valid with PredefinedMetricType ALBRequestCountPerTarget, not %s.", p.PredefinedMetricType)
			}
			ti.Predefined = p.PredefinedMetricType
		}
		if c := tc.CustomizedMetricSpecification; c != nil {
			ti.Namespace, ti.MetricName, ti.Statistic, ti.Unit, ti.Dimensions = c.Namespace, c.MetricName, c.Statistic, c.Unit, dims(c.Dimensions)
			ti.Queries = queries(c.Metrics, time.Minute)
		}
		pi.TT = ti
	}
	if raw := in.PredictiveScalingPolicyConfiguration; given(raw) {
		var pc predictiveConfig
		if err := decode(raw, &pc); err != nil {
			return nil, err
		}
		pin := &autoscaler.PredictiveInput{Raw: raw, Mode: pc.Mode, SchedulingBufferTime: pc.SchedulingBufferTime,
			MaxCapacityBreachBehavior: pc.MaxCapacityBreachBehavior, MaxCapacityBuffer: pc.MaxCapacityBuffer, MetricSpecifications: len(pc.MetricSpecifications)}
		if len(pc.MetricSpecifications) > 0 {
			ms := pc.MetricSpecifications[0]
			pin.TargetValue = ms.TargetValue
			for member, m := range map[string]*predictiveMetric{"PredefinedMetricPairSpecification": ms.PredefinedMetricPairSpecification,
				"PredefinedLoadMetricSpecification": ms.PredefinedLoadMetricSpecification, "PredefinedScalingMetricSpecification": ms.PredefinedScalingMetricSpecification} {
				if m != nil && m.ResourceLabel != "" {
					return nil, bad("ResourceLabel (in %s) names an Application Load Balancer target group; SageMaker metrics take none.", member)
				}
			}
			if m := ms.PredefinedMetricPairSpecification; m != nil {
				pin.Pair = m.PredefinedMetricType
			}
			if m := ms.PredefinedLoadMetricSpecification; m != nil {
				pin.LoadMetric = m.PredefinedMetricType
			}
			if m := ms.PredefinedScalingMetricSpecification; m != nil {
				pin.ScalingMetric = m.PredefinedMetricType
			}
			for _, c := range []struct {
				member string
				m      *customizedPredictiveMetric
				to     *[]metricquery.Query
			}{{"CustomizedLoadMetricSpecification", ms.CustomizedLoadMetricSpecification, &pin.LoadQueries},
				{"CustomizedScalingMetricSpecification", ms.CustomizedScalingMetricSpecification, &pin.ScalingQueries},
				{"CustomizedCapacityMetricSpecification", ms.CustomizedCapacityMetricSpecification, &pin.CapacityQueries}} {
				if c.m == nil {
					continue
				}
				if len(c.m.MetricDataQueries) == 0 {
					return nil, bad("%s.MetricDataQueries must hold at least one metric data query.", c.member)
				}
				*c.to = queries(c.m.MetricDataQueries, time.Hour)
			}
		}
		pi.Pred = pin
	}
	arn, alarms, err := h.s.PutPolicy(ctx, pi)
	if err != nil {
		return nil, err
	}
	return struct {
		PolicyARN string
		Alarms    []autoscaler.Alarm
	}{arn, alarms}, nil
}

type scalingPolicy struct {
	PolicyARN, PolicyName                           string
	ServiceNamespace, ResourceId, ScalableDimension string
	PolicyType                                      string
	StepScalingPolicyConfiguration                  json.RawMessage `json:",omitempty"`
	TargetTrackingScalingPolicyConfiguration        json.RawMessage `json:",omitempty"`
	PredictiveScalingPolicyConfiguration            json.RawMessage `json:",omitempty"`
	Alarms                                          []autoscaler.Alarm
	CreationTime                                    *awsjson.Time
}

func (h *Handler) describePolicies(ctx context.Context, body []byte) (any, error) {
	var in struct {
		PolicyNames       []string
		ServiceNamespace  string
		ResourceId        string
		ScalableDimension string
		MaxResults        int
		NextToken         string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.ScalableDimension != "" && in.ResourceId == "" {
		return nil, bad("If you specify ScalableDimension, you must also specify ResourceId.")
	}
	var all []scalingPolicy
	for _, p := range h.s.Policies(in.ServiceNamespace, in.PolicyNames, in.ResourceId, in.ScalableDimension) {
		sp := scalingPolicy{PolicyARN: p.ARN, PolicyName: p.Name, ServiceNamespace: p.Target.ServiceNamespace, ResourceId: p.Target.ResourceID,
			ScalableDimension: p.Target.ScalableDimension, PolicyType: p.Type, Alarms: p.Alarms, CreationTime: awsjson.T(p.CreationTime)}
		switch {
		case p.TT != nil:
			sp.TargetTrackingScalingPolicyConfiguration = p.TT.Config
		case p.Pred != nil:
			sp.PredictiveScalingPolicyConfiguration = p.Pred.Config
		default:
			sp.StepScalingPolicyConfiguration = p.StepConfig
		}
		all = append(all, sp)
	}
	items, next, err := page(all, in.MaxResults, in.NextToken, 10, 10)
	if err != nil {
		return nil, err
	}
	return struct {
		ScalingPolicies []scalingPolicy
		NextToken       *string `json:",omitempty"`
	}{items, next}, nil
}

// predictiveForecast is GetPredictiveScalingForecast.
func (h *Handler) predictiveForecast(ctx context.Context, body []byte) (any, error) {
	var in struct {
		targetKey
		PolicyName         string
		StartTime, EndTime awsjson.Time
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	f, err := h.s.PredictiveForecast(in.ServiceNamespace, in.ResourceId, in.ScalableDimension, in.PolicyName, time.Time(in.StartTime), time.Time(in.EndTime))
	if err != nil {
		return nil, err
	}
	var cfg struct{ MetricSpecifications []json.RawMessage }
	if err := json.Unmarshal(f.Config, &cfg); err != nil || len(cfg.MetricSpecifications) == 0 {
		return nil, fmt.Errorf("the stored configuration of policy %s: %v", in.PolicyName, err)
	}
	times := make([]*awsjson.Time, len(f.Times))
	for i, t := range f.Times {
		times[i] = awsjson.T(t)
	}
	type series struct {
		Timestamps          []*awsjson.Time
		Values              []float64
		MetricSpecification json.RawMessage `json:",omitempty"`
	}
	return struct {
		LoadForecast     []series
		CapacityForecast series
		UpdateTime       *awsjson.Time `json:",omitempty"`
	}{[]series{{times, f.Load, cfg.MetricSpecifications[0]}}, series{Timestamps: times, Values: f.Capacity}, awsjson.T(f.Made)}, nil
}

func (h *Handler) deletePolicy(ctx context.Context, body []byte) (any, error) {
	var in struct {
		PolicyName string
		targetKey
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, h.s.DeletePolicy(ctx, in.PolicyName, in.ServiceNamespace, in.ResourceId, in.ScalableDimension)
}

type notScaledReason struct {
	Code                                      string
	MaxCapacity, MinCapacity, CurrentCapacity *int `json:",omitempty"`
}

type scalingActivity struct {
	ActivityId, ServiceNamespace, ResourceId, ScalableDimension string
	Description, Cause                                          string
	StartTime                                                   *awsjson.Time
	EndTime                                                     *awsjson.Time `json:",omitempty"`
	StatusCode                                                  string
	StatusMessage                                               string            `json:",omitempty"`
	Details                                                     string            `json:",omitempty"`
	NotScaledReasons                                            []notScaledReason `json:",omitempty"`
}

func (h *Handler) activities(ctx context.Context, body []byte) (any, error) {
	var in struct {
		ServiceNamespace           string
		ResourceId                 string
		ScalableDimension          string
		MaxResults                 int
		NextToken                  string
		IncludeNotScaledActivities bool
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.ScalableDimension != "" && in.ResourceId == "" {
		return nil, bad("If you specify ScalableDimension, you must also specify ResourceId.")
	}
	acts, err := h.s.Activities(ctx, in.ServiceNamespace, in.ResourceId, in.ScalableDimension, in.IncludeNotScaledActivities, time.Time{})
	if err != nil {
		return nil, err
	}
	var all []scalingActivity
	for _, a := range acts {
		sa := scalingActivity{a.ActivityID, a.ServiceNamespace, a.ResourceID, a.ScalableDimension, a.Description, a.Cause,
			awsjson.T(a.StartTime), nil, a.StatusCode, a.StatusMessage, a.Details, nil}
		if a.EndTime != nil {
			sa.EndTime = awsjson.T(*a.EndTime)
		}
		for _, r := range a.NotScaledReasons {
			sa.NotScaledReasons = append(sa.NotScaledReasons, notScaledReason{r.Code, r.MaxCapacity, r.MinCapacity, r.CurrentCapacity})
		}
		all = append(all, sa)
	}
	items, next, err := page(all, in.MaxResults, in.NextToken, 50, 50)
	if err != nil {
		return nil, err
	}
	return struct {
		ScalingActivities []scalingActivity
		NextToken         *string `json:",omitempty"`
	}{items, next}, nil
}

func (h *Handler) tag(ctx context.Context, body []byte) (any, error) {
	var in struct {
		ResourceARN string
		Tags        map[string]string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var tags []store.Tag
	for k, v := range in.Tags {
		tags = append(tags, store.Tag{Key: k, Value: v})
	}
	return struct{}{}, h.s.TagResource(ctx, in.ResourceARN, tags)
}

func (h *Handler) untag(ctx context.Context, body []byte) (any, error) {
	var in struct {
		ResourceARN string
		TagKeys     []string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, h.s.UntagResource(ctx, in.ResourceARN, in.TagKeys)
}

func (h *Handler) listTags(ctx context.Context, body []byte) (any, error) {
	var in struct{ ResourceARN string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	tags, err := h.s.ListTags(ctx, in.ResourceARN)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, t := range tags {
		out[t.Key] = t.Value
	}
	return map[string]any{"Tags": out}, nil
}

type scalableTargetAction struct {
	MinCapacity *int `json:",omitempty"`
	MaxCapacity *int `json:",omitempty"`
}

func (h *Handler) putScheduled(ctx context.Context, body []byte) (any, error) {
	var in struct {
		ScheduledActionName string
		targetKey
		Schedule, Timezone   string
		StartTime, EndTime   *awsjson.Time
		ScalableTargetAction *scalableTargetAction
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	si := autoscaler.ScheduledInput{Name: in.ScheduledActionName, ServiceNamespace: in.ServiceNamespace, ResourceID: in.ResourceId,
		ScalableDimension: in.ScalableDimension, Schedule: in.Schedule, Timezone: in.Timezone,
		StartTime: in.StartTime.Ptr(), EndTime: in.EndTime.Ptr()}
	if a := in.ScalableTargetAction; a != nil {
		si.MinCapacity, si.MaxCapacity = a.MinCapacity, a.MaxCapacity
	}
	return struct{}{}, h.s.PutScheduled(ctx, si)
}

type scheduledAction struct {
	ScheduledActionName, ScheduledActionARN         string
	ServiceNamespace, ResourceId, ScalableDimension string
	Schedule                                        string
	Timezone                                        string        `json:",omitempty"`
	StartTime                                       *awsjson.Time `json:",omitempty"`
	EndTime                                         *awsjson.Time `json:",omitempty"`
	ScalableTargetAction                            scalableTargetAction
	CreationTime                                    *awsjson.Time
}

func (h *Handler) describeScheduled(ctx context.Context, body []byte) (any, error) {
	var in struct {
		ScheduledActionNames []string
		ServiceNamespace     string
		ResourceId           string
		ScalableDimension    string
		MaxResults           int
		NextToken            string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.ScalableDimension != "" && in.ResourceId == "" {
		return nil, bad("If you specify ScalableDimension, you must also specify ResourceId.")
	}
	var all []scheduledAction
	for _, a := range h.s.Scheduled(in.ServiceNamespace, in.ScheduledActionNames, in.ResourceId, in.ScalableDimension) {
		sa := scheduledAction{a.Name, a.ARN, a.Target.ServiceNamespace, a.Target.ResourceID, a.Target.ScalableDimension, a.Schedule, a.Timezone,
			nil, nil, scalableTargetAction{a.MinCapacity, a.MaxCapacity}, awsjson.T(a.CreationTime)}
		if a.StartTime != nil {
			sa.StartTime = awsjson.T(*a.StartTime)
		}
		if a.EndTime != nil {
			sa.EndTime = awsjson.T(*a.EndTime)
		}
		all = append(all, sa)
	}
	items, next, err := page(all, in.MaxResults, in.NextToken, 50, 50)
	if err != nil {
		return nil, err
	}
	return struct {
		ScheduledActions []scheduledAction
		NextToken        *string `json:",omitempty"`
	}{items, next}, nil
}

func (h *Handler) deleteScheduled(ctx context.Context, body []byte) (any, error) {
	var in struct {
		ScheduledActionName string
		targetKey
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	return struct{}{}, h.s.DeleteScheduled(ctx, in.ScheduledActionName, in.ServiceNamespace, in.ResourceId, in.ScalableDimension)
}
