package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ebbscale/ebb/internal/arn"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ebbscale/ebb/internal/alarm"
	"github.com/ebbscale/ebb/internal/clock"
	"github.com/ebbscale/ebb/internal/jsonappend"
	"github.com/ebbscale/ebb/internal/metricquery"
	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/store"
)

// MetricAlarm is an alarm: its configuration (as PutMetricAlarm sets it) and
// its state.
//
// Its ARN is not kept (Monitor.ARN makes it from the name): 40,000 alarms
// would hold 5 MB of them.
type MetricAlarm struct {
	AlarmName                          string
	AlarmDescription                   string
	AlarmConfigurationUpdatedTimestamp time.Time
	ActionsEnabled                     bool
	OKActions                          []string
	AlarmActions                       []string
	InsufficientDataActions            []string
	StateValue                         alarm.State
	StateReason                        string
	StateReasonData                    string
	StateUpdatedTimestamp              time.Time
	StateTransitionedTimestamp         time.Time
	MetricName                         string
	Namespace                          string
	Statistic                          string
	ExtendedStatistic                  string
	Dimensions                         []metrics.Dimension
	Period                             int
	Unit                               string
	EvaluationPeriods                  int
	DatapointsToAlarm                  int
	Threshold                          float64
	ComparisonOperator                 string
	TreatMissingData                   string
	EvaluateLowSampleCountPercentile   string
	// Queries is the metric-math form (MetricDataQueries), ready to run;
	// the API writes it out in the model's shape.
	Queries []metricquery.Query `json:",omitempty"`

	// LastActions is when the actions of the current state last ran.
	LastActions time.Time
	// LastEvaluated is the start of the last period evaluated.
	LastEvaluated time.Time

	series   metrics.SeriesRef // the metric's series, found once
	seriesNo int               // the series' number in Monitor.order (0: none yet)
}

// alarmState is the part of an alarm that changes as it is evaluated; it is
// persisted on its own, so a transition writes a few hundred bytes.
type alarmState struct {
	StateValue                 alarm.State
	StateReason                string
	StateReasonData            string
	StateUpdatedTimestamp      time.Time
	StateTransitionedTimestamp time.Time
	LastActions                time.Time
}

// Stat is the statistic a single-metric alarm reads: its Statistic, or
// its ExtendedStatistic (a percentile) when it has one.
func (a *MetricAlarm) Stat() string {
	if a.ExtendedStatistic != "" {
		return a.ExtendedStatistic
	}
	return a.Statistic
}

func (a *MetricAlarm) state() alarmState {
	return alarmState{a.StateValue, a.StateReason, a.StateReasonData, a.StateUpdatedTimestamp, a.StateTransitionedTimestamp, a.LastActions}
}

func (a *MetricAlarm) config() alarm.Config {
	return alarm.Config{
		Period: time.Duration(a.Period) * time.Second, EvaluationPeriods: a.EvaluationPeriods,
		DatapointsToAlarm: a.DatapointsToAlarm, Threshold: a.Threshold, ComparisonOperator: a.ComparisonOperator,
		TreatMissingData: a.TreatMissingData, Statistic: a.Statistic, ExtendedStatistic: a.ExtendedStatistic,
		EvaluateLowSampleCountPercentile: a.EvaluateLowSampleCountPercentile,
	}
}

// ActionSink delivers alarm actions. Deliver returns ErrNoReceiver for
// actions it does not handle.
type ActionSink interface {
	Deliver(ctx context.Context, action string, act Action) error
}

// Action is what an alarm action is delivered with.
type Action struct {
	// Alarm is the alarm itself, not a copy (a busy round delivers tens of
	// thousands of actions): the sink reads only its configuration, which
	// never changes in place (PutMetricAlarm replaces the alarm), while its
	// state members change under the monitor's lock.
	Alarm *MetricAlarm
	// State is the state the action is for.
	State alarm.State
	// Newest is the newest datapoint of the alarm's last EvaluationPeriods
	// periods, as the evaluation that fired the action read it (the value a
	// target-tracking policy decides on); HasNewest is false when it read
	// none, or the state was set by hand.
	Newest    float64
	HasNewest bool
}

// ErrNoReceiver reports an action ebb cannot deliver.
var ErrNoReceiver = errors.New("ebb has no receiver for this action")

// Store is the persistence the monitor needs.
type Store interface {
	store.Documents
	store.History
}

// Metrics is the query the monitor needs.
type Metrics = metricquery.Store

const (
	kindAlarm      = "alarm"
	kindAlarmState = "alarm-state"
)

// HistoryRetention is how long alarm history is kept.
const HistoryRetention = 14 * 24 * time.Hour

// Monitor holds the alarms.
type Monitor struct {
	store   Store
	metrics Metrics
	clock   clock.Clock
	actions ActionSink
	log     *slog.Logger
	region  string
	account string

	mu     sync.Mutex
	alarms map[string]*MetricAlarm
	// order is the alarms in the order EvaluateAll reads them (see
	// evaluationOrder); nil when the alarms changed since it was made.
	order   []*MetricAlarm
	pending []store.HistoryItem // written together by flushHistory
	outbox  []delivery          // actions to deliver once mu is released
	spare   []delivery          // an outbox's array, delivered, for the next
	states  []store.Doc         // a round's changed states (see EvaluateAll)
	docs    []byte              // their documents
	// historyData holds the documents of pending's items, up to about
	// batchBytes before they are written (the array is kept).
	historyData []byte
	scratch     []alarm.Point           // the evaluation range being read (see points)
	read        []metricquery.Datapoint // its datapoints, as read
	last        lastRead                // what read holds
}

// Options configure a Monitor.
type Options struct {
	Store     Store
	Metrics   Metrics
	Clock     clock.Clock
	Actions   ActionSink // nil: every action fails with ErrNoReceiver
	Logger    *slog.Logger
	Region    string
	AccountID string
}

// New loads the persisted alarms.
func New(ctx context.Context, o Options) (*Monitor, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Monitor{store: o.Store, metrics: o.Metrics, clock: o.Clock, actions: o.Actions, log: o.Logger,
		region: o.Region, account: o.AccountID, alarms: map[string]*MetricAlarm{}}
	docs, err := o.Store.List(ctx, kindAlarm)
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		var a MetricAlarm
		if err := json.Unmarshal(d, &a); err != nil {
			return nil, fmt.Errorf("stored alarm: %w", err)
		}
		m.alarms[a.AlarmName] = &a
		m.order = nil
	}
	states, err := o.Store.List(ctx, kindAlarmState)
	if err != nil {
		return nil, err
	}
	for _, d := range states {
		var st storedState
		if json.Unmarshal(d, &st) == nil {
			if a := m.alarms[st.Name]; a != nil && st.StateUpdatedTimestamp.After(a.StateUpdatedTimestamp) || a != nil && st.LastActions.After(a.LastActions) {
				a.StateValue, a.StateReason, a.StateReasonData = st.StateValue, st.StateReason, st.StateReasonData
				a.StateUpdatedTimestamp, a.StateTransitionedTimestamp, a.LastActions = st.StateUpdatedTimestamp, st.StateTransitionedTimestamp, st.LastActions
			}
		}
	}
	return m, nil
}

// SetActions installs the action sink (the autoscaler, once it runs).
func (m *Monitor) SetActions(s ActionSink) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.actions = s
}

// Lookup returns an alarm itself and its state, without copying it (a
// busy round's decisions look thousands up): as for ActionSink, only its
// configuration may be read, which never changes in place.
func (m *Monitor) Lookup(name string) (*MetricAlarm, alarm.State, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a := m.alarms[name]
	if a == nil {
		return nil, "", false
	}
	return a, a.StateValue, true
}

// ARN builds an alarm's ARN.
func (m *Monitor) ARN(name string) string {
	return arn.New("cloudwatch", m.region, m.account, "alarm:"+name)
}

// saveState persists an alarm's state.
func (m *Monitor) saveState(ctx context.Context, a *MetricAlarm) error {
	return m.store.Upsert(ctx, kindAlarmState, []store.Doc{m.stateDoc(a)})
}

// stateDoc is an alarm's state as stored.
func (m *Monitor) stateDoc(a *MetricAlarm) store.Doc {
	return store.Doc{Name: a.AlarmName, Created: m.clock.Now(), Doc: appendStateDoc(nil, a)}
}

// appendStateDoc appends an alarm's state document, storedState, written by
// hand as encoding/json writes it (TestStateDocAsEncodingJSON), since a
// busy round stores thousands.
func appendStateDoc(b []byte, a *MetricAlarm) []byte {
	b = slices.Grow(b, 200+len(a.AlarmName)+len(a.StateReason)+len(a.StateReasonData)*5/4)
	b = jsonappend.String(append(b, `{"Name":`...), a.AlarmName)
	b = jsonappend.String(jsonappend.Field(b, "StateValue"), string(a.StateValue))
	b = jsonappend.String(jsonappend.Field(b, "StateReason"), a.StateReason)
	b = jsonappend.String(jsonappend.Field(b, "StateReasonData"), a.StateReasonData)
	b = jsonappend.Time(jsonappend.Field(b, "StateUpdatedTimestamp"), a.StateUpdatedTimestamp)
	b = jsonappend.Time(jsonappend.Field(b, "StateTransitionedTimestamp"), a.StateTransitionedTimestamp)
	b = jsonappend.Time(jsonappend.Field(b, "LastActions"), a.LastActions)
	return append(b, '}')
}

// storedState is an alarm's state document.
type storedState struct {
	Name string
	alarmState
}

func (m *Monitor) save(ctx context.Context, a *MetricAlarm, create bool) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if create {
		return m.store.Create(ctx, kindAlarm, a.AlarmName, a.AlarmConfigurationUpdatedTimestamp, b)
	}
	return m.store.Update(ctx, kindAlarm, a.AlarmName, b)
}

// Put creates an alarm, or replaces the configuration of an existing one
// while keeping its state, as PutMetricAlarm does.
// A configuration CloudWatch refuses is an *InvalidError, and changes
// nothing.
func (m *Monitor) Put(ctx context.Context, a MetricAlarm) error {
	now := m.clock.Now()
	if err := a.check(m.metrics, now); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.alarms[a.AlarmName]
	a.AlarmConfigurationUpdatedTimestamp = now
	summary := fmt.Sprintf("Alarm %q created", a.AlarmName)
	if old != nil {
		a.StateValue, a.StateReason, a.StateReasonData = old.StateValue, old.StateReason, old.StateReasonData
		a.StateUpdatedTimestamp, a.StateTransitionedTimestamp = old.StateUpdatedTimestamp, old.StateTransitionedTimestamp
		a.LastActions, a.LastEvaluated = old.LastActions, old.LastEvaluated
		summary = fmt.Sprintf("Alarm %q updated", a.AlarmName)
	} else {
		a.StateValue = alarm.InsufficientData
		a.StateReason = "Unchecked: Initial alarm creation"
		a.StateUpdatedTimestamp, a.StateTransitionedTimestamp = now, now
	}
	if err := m.save(ctx, &a, old == nil); err != nil {
		return err
	}
	m.alarms[a.AlarmName] = &a
	data, _ := json.Marshal(map[string]any{"version": "1.0", "type": map[bool]string{true: "Create", false: "Update"}[old == nil], "updatedAlarm": configView(&a)})
	m.history(ctx, store.HistoryItem{Alarm: a.AlarmName, Timestamp: now, Type: "ConfigurationUpdate", Summary: summary, Data: data})
	m.flushHistory(ctx)
	return nil
}

// configView is the alarm configuration as history records it.
func configView(a *MetricAlarm) map[string]any {
	return map[string]any{
		"alarmName": a.AlarmName, "namespace": a.Namespace, "metricName": a.MetricName, "statistic": a.Statistic,
		"period": a.Period, "evaluationPeriods": a.EvaluationPeriods, "threshold": a.Threshold,
		"comparisonOperator": a.ComparisonOperator, "treatMissingData": a.TreatMissingData, "actionsEnabled": a.ActionsEnabled,
	}
}

// history queues history items; callers hold m.mu and call flushHistory.
func (m *Monitor) history(ctx context.Context, items ...store.HistoryItem) {
	m.pending = append(m.pending, items...)
	if len(m.historyData) >= batchBytes {
		m.flushHistory(ctx)
	}
}

// appendData builds a history item's document in historyData.
func (m *Monitor) appendData(build func([]byte) []byte) []byte {
	start := len(m.historyData)
	m.historyData = build(m.historyData)
	return m.historyData[start:len(m.historyData):len(m.historyData)]
}

// flushHistory writes queued history items in one transaction.
func (m *Monitor) flushHistory(ctx context.Context) {
	if len(m.pending) == 0 {
		return
	}
	if err := m.store.AddHistory(ctx, m.pending); err != nil {
		m.log.Error("recording alarm history", "err", err)
	}
	clear(m.pending) // the array is kept for the next items, not their strings
	m.pending, m.historyData = m.pending[:0], m.historyData[:0]
}

// repeats reports whether the alarm's current state has Auto Scaling
// actions, the only ones delivered again while the state lasts.
func (m *Monitor) repeats(a *MetricAlarm) bool {
	if !a.ActionsEnabled {
		return false
	}
	var actions []string
	switch a.StateValue {
	case alarm.Alarm:
		actions = a.AlarmActions
	case alarm.OK:
		actions = a.OKActions
	case alarm.InsufficientData:
		actions = a.InsufficientDataActions
	}
	for _, act := range actions {
		if isAutoScaling(act) {
			return true
		}
	}
	return false
}

// Filter selects alarms for Describe.
type Filter struct {
	Names        []string
	NamePrefix   string
	StateValue   string
	ActionPrefix string
	// Metric selects alarms on one metric (DescribeAlarmsForMetric).
	Metric *metrics.Series
	// Dimension selects alarms whose metric has this dimension (the
	// console: an endpoint's alarms), without copying the others.
	Dimension *metrics.Dimension
}

// Describe returns the matching alarms, sorted by name.
func (m *Monitor) Describe(f Filter) []MetricAlarm {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []MetricAlarm
	candidates := m.alarms
	if len(f.Names) > 0 {
		// By name: look up, do not scan.
		candidates = make(map[string]*MetricAlarm, len(f.Names))
		for _, n := range f.Names {
			if a := m.alarms[n]; a != nil {
				candidates[n] = a
			}
		}
	}
	for _, a := range candidates {
		if len(f.Names) > 0 && !slices.Contains(f.Names, a.AlarmName) ||
			f.NamePrefix != "" && !strings.HasPrefix(a.AlarmName, f.NamePrefix) ||
			f.StateValue != "" && string(a.StateValue) != f.StateValue {
			continue
		}
		if f.ActionPrefix != "" && !hasPrefix(a.AlarmActions, f.ActionPrefix) && !hasPrefix(a.OKActions, f.ActionPrefix) && !hasPrefix(a.InsufficientDataActions, f.ActionPrefix) {
			continue
		}
		if f.Dimension != nil && !slices.Contains(a.Dimensions, *f.Dimension) {
			continue
		}
		if f.Metric != nil && (a.Namespace != f.Metric.Namespace || a.MetricName != f.Metric.MetricName ||
			metrics.Series{Dimensions: a.Dimensions}.Normalize().ID() != metrics.Series{Dimensions: f.Metric.Dimensions}.Normalize().ID()) {
			continue
		}
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AlarmName < out[j].AlarmName })
	return out
}

func hasPrefix(list []string, prefix string) bool {
	for _, x := range list {
		if strings.HasPrefix(x, prefix) {
			return true
		}
	}
	return false
}

// ErrNotFound reports an alarm that does not exist.
var ErrNotFound = errors.New("alarm not found")

// Delete deletes alarms. Names that do not exist do not stop the others
// from being deleted; they are returned.
func (m *Monitor) Delete(ctx context.Context, names []string) (missing []string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range names {
		if _, ok := m.alarms[n]; !ok {
			missing = append(missing, n)
			continue
		}
		if err := m.store.Delete(ctx, kindAlarm, n); err != nil {
			return nil, err
		}
		// The state is absent until the first transition.
		if err := m.store.Delete(ctx, kindAlarmState, n); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		delete(m.alarms, n)
		m.order = nil
	}
	return missing, nil
}

// SetState sets an alarm's state until its next evaluation, firing actions
// as a real transition would.
func (m *Monitor) SetState(ctx context.Context, name string, state alarm.State, reason, reasonData string) error {
	defer m.deliver(ctx) // after the lock is released
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.alarms[name]
	if !ok {
		return ErrNotFound
	}
	m.transition(ctx, a, alarm.Result{State: state, Reason: reason, ReasonData: reasonData}, m.clock.Now(), Action{})
	m.flushHistory(ctx)
	return m.saveState(ctx, a)
}

// SetActionsEnabled enables or disables the actions of alarms.
func (m *Monitor) SetActionsEnabled(ctx context.Context, names []string, enabled bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range names {
		if a, ok := m.alarms[n]; ok && a.ActionsEnabled != enabled {
			a.ActionsEnabled = enabled
			if err := m.save(ctx, a, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// History returns history items, newest first.
func (m *Monitor) History(ctx context.Context, name, typ string, start, end time.Time) ([]store.HistoryItem, error) {
	return m.store.History(ctx, name, typ, start, end)
}

// transition moves an alarm to a new state, records it and runs its actions.
// Callers hold m.mu.
// read is what the evaluation read, for the actions (Action's Newest).
func (m *Monitor) transition(ctx context.Context, a *MetricAlarm, r alarm.Result, now time.Time, read Action) {
	old := a.StateValue
	oldReason := a.StateReason
	a.StateValue, a.StateReason, a.StateReasonData = r.State, r.Reason, r.ReasonData
	a.StateUpdatedTimestamp = now
	if old != r.State {
		a.StateTransitionedTimestamp = now
	}
	data := m.appendData(func(b []byte) []byte { return appendStateUpdateData(b, old, oldReason, r) })
	m.history(ctx, store.HistoryItem{Alarm: a.AlarmName, Timestamp: now, Type: "StateUpdate",
		Summary: "Alarm updated from " + string(old) + " to " + string(r.State), Data: data})
	m.log.Info("alarm state changed", "alarm", a.AlarmName, "from", old, "to", r.State, "reason", r.Reason)
	m.runActions(ctx, a, now, false, read)
}

// appendStateUpdateData appends a StateUpdate history item's HistoryData:
// newState and oldState (value, reason, and the new state's reason data)
// and the version, members in alphabetical order as CloudWatch writes
// them. It is written by hand as encoding/json writes that document
// (TestStateUpdateDataAsEncodingJSON): a busy round writes thousands.
func appendStateUpdateData(b []byte, old alarm.State, oldReason string, r alarm.Result) []byte {
	b = slices.Grow(b, 128+2*len(r.Reason)+len(r.ReasonData)+len(oldReason))
	b = jsonappend.String(append(b, `{"newState":{"stateReason":`...), r.Reason)
	b = jsonappend.Field(b, "stateReasonData")
	if r.ReasonData == "" {
		b = append(b, "null"...)
	} else if verbatim(r.ReasonData) {
		b = append(b, r.ReasonData...) // the alarm's own: compact, nothing to escape
	} else {
		// SetAlarmState's (validated as JSON): compacted and HTML-escaped,
		// as encoding/json writes a RawMessage.
		raw, err := json.Marshal(json.RawMessage(r.ReasonData))
		if err != nil {
			raw = []byte("null")
		}
		b = append(b, raw...)
	}
	b = jsonappend.String(jsonappend.Field(b, "stateValue"), string(r.State))
	b = jsonappend.String(append(b, `},"oldState":{"stateReason":`...), oldReason)
	b = jsonappend.String(jsonappend.Field(b, "stateValue"), string(old))
	return append(b, `},"version":"1.0"}`...)
}

// verbatim reports whether encoding/json writes the JSON document s as it
// is: without whitespace to compact away and without anything it escapes
// (<, >, &, U+2028, U+2029, whose UTF-8 starts with 0xE2).
func verbatim(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\r', '<', '>', '&', 0xe2:
			return false
		}
	}
	return true
}

// appendActionData appends an Action history item's HistoryData, written
// by hand as encoding/json writes {actionState, notificationResource,
// stateUpdateTimestamp} (TestActionDataAsEncodingJSON): a busy round
// writes tens of thousands.
func appendActionData(b []byte, succeeded bool, action string, updated time.Time) []byte {
	b = append(b, `{"actionState":`...)
	if succeeded {
		b = append(b, `"Succeeded"`...)
	} else {
		b = append(b, `"Failed"`...)
	}
	b = jsonappend.String(jsonappend.Field(b, "notificationResource"), action)
	b = strconv.AppendInt(jsonappend.Field(b, "stateUpdateTimestamp"), updated.UnixMilli(), 10)
	return append(b, '}')
}

// isAutoScaling reports an Application Auto Scaling policy ARN, whose
// actions repeat every minute while the alarm stays in the state.
func isAutoScaling(action string) bool {
	return arn.Service(action) == "autoscaling"
}

// delivery is an alarm action waiting to be delivered.
type delivery struct {
	action string
	Action
	updated time.Time // the state's StateUpdatedTimestamp
	now     time.Time
}

// runActions queues the actions of the alarm's current state for deliver;
// repeat limits them to Auto Scaling actions; read carries what the
// evaluation read. Callers hold mu.
func (m *Monitor) runActions(ctx context.Context, a *MetricAlarm, now time.Time, repeat bool, read Action) {
	if !a.ActionsEnabled {
		return
	}
	var actions []string
	switch a.StateValue {
	case alarm.Alarm:
		actions = a.AlarmActions
	case alarm.OK:
		actions = a.OKActions
	case alarm.InsufficientData:
		actions = a.InsufficientDataActions
	}
	a.LastActions = now
	for _, act := range actions {
		if repeat && !isAutoScaling(act) {
			continue
		}
		read.Alarm, read.State = a, a.StateValue
		m.outbox = append(m.outbox, delivery{act, read, a.StateUpdatedTimestamp, now})
	}
}

// deliver delivers the queued actions without holding mu, so that the sink
// (the autoscaler, which calls the monitor under its own lock) may take its
// lock, then records each outcome in the alarm's history.
func (m *Monitor) deliver(ctx context.Context) {
	m.mu.Lock()
	out, sink := m.outbox, m.actions
	m.outbox, m.spare = m.spare[:0], nil
	m.mu.Unlock()
	if len(out) == 0 {
		return
	}
	items := make([]store.HistoryItem, 0, len(out))
	succeeded := make([]bool, 0, len(out))
	for _, d := range out {
		err := ErrNoReceiver
		if sink != nil {
			err = sink.Deliver(ctx, d.action, d.Action)
		}
		summary := "Successfully executed action " + d.action
		if err != nil {
			summary = fmt.Sprintf("Failed to execute action %s. Received error: %q", d.action, err.Error())
			m.log.Warn("alarm action failed", "alarm", d.Alarm.AlarmName, "action", d.action, "err", err)
		}
		items = append(items, store.HistoryItem{Alarm: d.Alarm.AlarmName, Timestamp: d.now, Type: "Action", Summary: summary})
		succeeded = append(succeeded, err == nil)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, d := range out { // the documents go into historyData, under mu
		items[i].Data = m.appendData(func(b []byte) []byte { return appendActionData(b, succeeded[i], d.action, d.updated) })
	}
	m.history(ctx, items...)
	m.flushHistory(ctx)
	if m.spare == nil {
		clear(out) // the array is kept, not the alarms
		m.spare = out[:0]
	}
}
