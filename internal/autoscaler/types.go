package autoscaler

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/ebbscale/ebb/internal/jsonappend"
	"github.com/ebbscale/ebb/internal/metricquery"
	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/scaling"
)

// Suspended is a target's SuspendedState.
type Suspended struct {
	DynamicScalingInSuspended  bool
	DynamicScalingOutSuspended bool
	ScheduledScalingSuspended  bool
}

// Target is a scalable target.
type Target struct {
	ServiceNamespace  string
	ResourceID        string
	ScalableDimension string
	MinCapacity       int
	MaxCapacity       int
	RoleARN           string
	Suspended         Suspended
	CreationTime      time.Time
	ARN               string
	// Predicted is the capacity its predictive policies forecast for now
	// (DescribeScalableTargets' PredictedCapacity); set by Targets.
	Predicted *int `json:"-"`
	// res is the resource the target scales (from the registry).
	res resource
	// key is Key, made once (decisions look targets up by it).
	key string
}

// Key identifies a target.
func (t *Target) Key() string {
	if t.key != "" {
		return t.key
	}
	return targetKey(t.ServiceNamespace, t.ResourceID, t.ScalableDimension)
}

func targetKey(namespace, resourceID, dimension string) string {
	return namespace + "|" + resourceID + "|" + dimension
}

// Alarm names an alarm of a policy.
type Alarm struct {
	AlarmName string
	AlarmARN  string
}

// TargetTracking is a TargetTrackingScalingPolicyConfiguration, kept as
// given (Config) and as ebb runs it.
type TargetTracking struct {
	Config           json.RawMessage
	TargetValue      float64
	DisableScaleIn   bool
	ScaleInCooldown  time.Duration
	ScaleOutCooldown time.Duration
	HighResolution   bool
	// Queries compute the metric (one returns data).
	Queries []metricquery.Query
	// AlarmHigh and AlarmLow are the alarms the policy owns.
	AlarmHigh, AlarmLow string

	// series finds the metric of its alarms in the metric store, for the
	// decisions that read it whenever an alarm in ALARM repeats its action
	// (every minute, for thousands of policies).
	series seriesCache
}

// seriesCache finds a metric's series in the metric store without making
// its ID (normalized, sorted, joined) on every read: it holds the ref of
// the last metric it was asked for.
type seriesCache struct {
	of  metrics.Series
	ref metrics.SeriesRef
}

// get returns the ref of a metric.
func (c *seriesCache) get(m metrics.Series) *metrics.SeriesRef {
	if c.ref.ID == "" || c.of.Namespace != m.Namespace || c.of.MetricName != m.MetricName || !slices.Equal(c.of.Dimensions, m.Dimensions) {
		m.Dimensions = slices.Clone(m.Dimensions)
		*c = seriesCache{of: m, ref: metrics.SeriesRef{ID: m.Normalize().ID()}}
	}
	return &c.ref
}

// Policy is a scaling policy.
type Policy struct {
	Name         string
	ARN          string
	TargetKey    string
	Type         string // TargetTrackingScaling, StepScaling or PredictiveScaling
	Step         *scaling.StepConfig
	StepConfig   json.RawMessage // as given
	TT           *TargetTracking
	Pred         *Predictive `json:",omitempty"`
	CreationTime time.Time

	// Cooldown state (persisted flat, as its fields).
	scaling.Cooldown

	// removed is set when the policy is deleted or replaced: the alarm
	// actions queued for it then look its ARN up again.
	removed bool
}

// ScheduledAction is a scheduled action.
type ScheduledAction struct {
	Name         string
	ARN          string
	TargetKey    string
	Schedule     string
	Timezone     string
	StartTime    *time.Time
	EndTime      *time.Time
	MinCapacity  *int
	MaxCapacity  *int
	CreationTime time.Time
	// LastRun is when the action last fired (missed runs are not replayed).
	LastRun time.Time
}

// Activity status codes.
const (
	StatusPending     = "Pending"
	StatusInProgress  = "InProgress"
	StatusSuccessful  = "Successful"
	StatusOverridden  = "Overridden"
	StatusUnfulfilled = "Unfulfilled"
	StatusFailed      = "Failed"
)

// NotScaledReason explains a decision not to scale.
type NotScaledReason struct {
	Code            string
	MaxCapacity     *int `json:",omitempty"`
	MinCapacity     *int `json:",omitempty"`
	CurrentCapacity *int `json:",omitempty"`
}

// Activity is a scaling activity.
type Activity struct {
	ActivityID        string
	ServiceNamespace  string
	ResourceID        string
	ScalableDimension string
	Description       string
	Cause             string
	StartTime         time.Time
	EndTime           *time.Time `json:",omitempty"`
	StatusCode        string
	StatusMessage     string            `json:",omitempty"`
	Details           string            `json:",omitempty"`
	NotScaledReasons  []NotScaledReason `json:",omitempty"`

	// Desired is the capacity the activity sets; Policy and Out say which
	// policy's cooldown it starts.
	Desired int
	Policy  string `json:",omitempty"`
	Out     bool   `json:",omitempty"`
	From    int

	// applied is closed once the loop has asked for the capacity (or the
	// activity was overridden first); nil for one restored from the store.
	applied chan struct{}
	unsaved bool // in Service.unsaved
}

// signal closes applied, once.
func (a *Activity) signal() {
	if a.applied != nil {
		close(a.applied)
		a.applied = nil
	}
}

// appendJSON appends the activity as encoding/json writes it (its stored
// form), by hand: a busy round stores thousands of activities, each two or
// three times (TestActivityJSONAsEncodingJSON).
func (a *Activity) appendJSON(b []byte) []byte {
	str := func(b []byte, name, v string) []byte { return jsonappend.String(jsonappend.Field(b, name), v) }
	b = append(b, '{')
	b = str(b, "ActivityID", a.ActivityID)
	b = str(b, "ServiceNamespace", a.ServiceNamespace)
	b = str(b, "ResourceID", a.ResourceID)
	b = str(b, "ScalableDimension", a.ScalableDimension)
	b = str(b, "Description", a.Description)
	b = str(b, "Cause", a.Cause)
	b = jsonappend.Time(jsonappend.Field(b, "StartTime"), a.StartTime)
	if a.EndTime != nil {
		b = jsonappend.Time(jsonappend.Field(b, "EndTime"), *a.EndTime)
	}
	b = str(b, "StatusCode", a.StatusCode)
	if a.StatusMessage != "" {
		b = str(b, "StatusMessage", a.StatusMessage)
	}
	if a.Details != "" {
		b = str(b, "Details", a.Details)
	}
	if len(a.NotScaledReasons) > 0 {
		b = append(jsonappend.Field(b, "NotScaledReasons"), '[')
		for i, r := range a.NotScaledReasons {
			if i > 0 {
				b = append(b, ',')
			}
			b = str(append(b, '{'), "Code", r.Code)
			for _, c := range []struct {
				name string
				v    *int
			}{{"MaxCapacity", r.MaxCapacity}, {"MinCapacity", r.MinCapacity}, {"CurrentCapacity", r.CurrentCapacity}} {
				if c.v != nil {
					b = strconv.AppendInt(jsonappend.Field(b, c.name), int64(*c.v), 10)
				}
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = strconv.AppendInt(jsonappend.Field(b, "Desired"), int64(a.Desired), 10)
	if a.Policy != "" {
		b = str(b, "Policy", a.Policy)
	}
	if a.Out {
		b = append(jsonappend.Field(b, "Out"), "true"...)
	}
	b = strconv.AppendInt(jsonappend.Field(b, "From"), int64(a.From), 10)
	return append(b, '}')
}
