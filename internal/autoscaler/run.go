package autoscaler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ebbscale/ebb/internal/arn"
	"math"
	"strings"
	"time"

	"github.com/ebbscale/ebb/internal/alarm"
	"github.com/ebbscale/ebb/internal/hosting"
	"github.com/ebbscale/ebb/internal/metricquery"
	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/monitor"
	"github.com/ebbscale/ebb/internal/scaling"
	"github.com/ebbscale/ebb/internal/store"
)

// Deliver queues an alarm action for Run. It implements monitor.ActionSink:
// Application Auto Scaling policy ARNs (with or without :createdBy/<id>) are
// ebb's; anything else is not.
func (s *Service) Deliver(ctx context.Context, action string, act monitor.Action) error {
	if arn.Service(action) != "autoscaling" {
		return monitor.ErrNoReceiver
	}
	arn, _, _ := strings.Cut(action, ":createdBy/")
	// The monitor delivers outside its own lock, so taking s.mu (under which
	// the autoscaler calls the monitor) cannot deadlock.
	s.mu.Lock()
	p := s.policies[arn]
	s.mu.Unlock()
	if p == nil {
		return fmt.Errorf("no scaling policy %s", arn)
	}
	s.enqueue(trigger{policy: p, Action: act})
	return nil
}

// enqueue queues alarm actions for Run.
func (s *Service) enqueue(trs ...trigger) {
	s.qmu.Lock()
	s.queue = append(s.queue, trs...)
	s.qmu.Unlock()
	select {
	case s.woken <- struct{}{}:
	default:
	}
}

// decideQueued decides on every queued alarm action, in order, at now.
func (s *Service) decideQueued(ctx context.Context, now time.Time) {
	s.qmu.Lock()
	trs := s.queue
	s.queue = nil
	s.qmu.Unlock()
	if len(trs) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tr := range trs {
		s.react(ctx, tr, now)
	}
}

// Tick is how often Run follows activities, retries busy endpoints and
// looks at schedules.
const Tick = 5 * time.Second

// Run makes decisions until ctx ends: alarm actions as they come, and
// every Tick the activities' progress, the schedules and the predictive
// policies.
func (s *Service) Run(ctx context.Context) {
	s.running.Store(true)
	defer s.running.Store(false)
	t := s.o.Clock.NewTicker(Tick)
	defer t.Stop()
	var pruned time.Time // when activities past ActivityRetention were last deleted
	for {
		select {
		case <-ctx.Done():
			return
		case name := <-s.o.EndpointsDeleted:
			s.EndpointDeleted(name)
		case req := <-s.o.ColdStarts:
			req.Reply <- s.coldStart(req)
		case <-s.woken:
			s.decideQueued(ctx, s.o.Clock.Now())
		case <-s.kick:
		case now := <-t.C():
			s.tick(ctx, now)
			if now.Sub(pruned) >= time.Hour {
				store.Report(s.log, "autoscaler", "prune activities", s.o.Store.PruneActivities(ctx, now.Add(-ActivityRetention)))
				pruned = now
			}
		}
		s.applyPending(ctx)
	}
}

// Step does at now what Run does over time, for a caller that owns a
// virtual clock (ebb simulate): it decides the queued alarm actions,
// follows activities, runs schedules and applies what was decided, with
// the functions Run calls.
func (s *Service) Step(ctx context.Context, now time.Time) {
	s.decideQueued(ctx, now)
	s.tick(ctx, now)
	s.applyPending(ctx)
}

// tick is what Run does every Tick: follow the activities, run the
// schedules, forecast and scale on the forecasts.
func (s *Service) tick(ctx context.Context, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.progress(ctx, now)
	s.runSchedules(ctx, now)
	s.predict(ctx, now)
}

// retrigger re-evaluates, after a resume, the policies of a target whose
// alarms are in ALARM.
func (s *Service) retrigger(key string) {
	s.mu.Lock()
	var trs []trigger
	for _, p := range s.byTarget[key] {
		for _, a := range s.o.Alarms.Describe(monitor.Filter{ActionPrefix: p.ARN}) {
			if a.StateValue == alarm.Alarm {
				trs = append(trs, trigger{p, monitor.Action{Alarm: &a, State: a.StateValue}}) // a is a copy: its own
			}
		}
	}
	s.mu.Unlock()
	s.enqueue(trs...)
}

// current reads the target's desired capacity.
func (s *Service) current(ctx context.Context, t *Target) (int, error) {
	c, err := t.res.capacity(ctx, s.o.Hosting)
	return c.desired, err
}

// policyOf is the policy an alarm action is for: the one it was delivered
// to, or, if that was replaced since (PutScalingPolicy), the policy of its
// ARN now; nil if it was deleted. Callers hold s.mu.
func (s *Service) policyOf(tr trigger) *Policy {
	if !tr.policy.removed {
		return tr.policy
	}
	return s.policies[tr.policy.ARN]
}

// react decides on one alarm action. Callers hold s.mu.
func (s *Service) react(ctx context.Context, tr trigger, now time.Time) {
	p := s.policyOf(tr)
	if p == nil {
		return
	}
	t := s.targets[p.TargetKey]
	if t == nil {
		return
	}
	current, err := s.current(ctx, t)
	if err != nil {
		s.log.Warn("reading capacity", "resource", t.ResourceID, "err", err)
		return
	}
	// A pending change of this target counts as its capacity.
	if a := s.pending[t.Key()]; a != nil {
		current = a.Desired
	}
	cause := "monitor alarm " + tr.Alarm.AlarmName + " in state " + string(tr.State) + " triggered policy " + p.Name
	var desired int
	var out bool
	switch {
	case p.TT != nil:
		var ok bool
		desired, out, ok = s.decideTT(p, tr.Action, current, now)
		if !ok {
			return
		}
	case p.Step != nil:
		var ok bool
		desired, out, ok = s.decideStep(p, tr.Alarm, current, now)
		if !ok {
			return
		}
	default:
		return
	}
	if out && t.Suspended.DynamicScalingOutSuspended || !out && t.Suspended.DynamicScalingInSuspended {
		return
	}
	if !out {
		// A predictive policy's forecast capacity holds: the higher wins.
		desired = max(desired, s.predictiveFloor(t, now))
	}
	d := scaling.Clamp(current, desired, t.MinCapacity, t.MaxCapacity)
	if !d.Scale {
		s.notScaled(ctx, t, cause, d, current, now)
		return
	}
	s.startActivity(ctx, t, d.Desired, current, cause, p.ARN, d.Desired > current)
}

// metricValue reads a policy's metric: the newest datapoint of the last
// periods (target tracking), or the aggregated datapoints of the alarm's
// evaluation (step), fresh from the store.
// cache, if not nil, finds the metric when it is one series.
func (s *Service) metricValues(queries []metricquery.Query, cache *seriesCache, period time.Duration, n int, now time.Time) []float64 {
	end := now.Truncate(period)
	if len(queries) == 1 && queries[0].MetricStat != nil {
		// One metric, no math: the reader's fast path.
		var ref *metrics.SeriesRef
		if cache != nil {
			ref = cache.get(queries[0].MetricStat.Series)
		}
		dps, err := metricquery.Read(s.o.Metrics, *queries[0].MetricStat, ref, end.Add(-time.Duration(n)*period), end, now)
		if err != nil {
			return nil
		}
		vals := make([]float64, len(dps))
		for i, dp := range dps {
			vals[i] = dp.Value
		}
		return vals
	}
	res, err := metricquery.Run(s.o.Metrics, queries, end.Add(-time.Duration(n)*period), end, now)
	if err != nil {
		return nil
	}
	var vals []float64
	for _, r := range res {
		if r.ReturnData {
			for _, v := range r.Values {
				if !math.IsNaN(v) {
					vals = append(vals, v)
				}
			}
		}
	}
	return vals
}

func seriesOf(a *monitor.MetricAlarm) metrics.Series {
	return metrics.Series{Namespace: a.Namespace, MetricName: a.MetricName, Dimensions: a.Dimensions}
}

func alarmQueries(a *monitor.MetricAlarm) ([]metricquery.Query, time.Duration) {
	period := time.Duration(a.Period) * time.Second
	if len(a.Queries) > 0 {
		return a.Queries, period
	}
	stat := a.Statistic
	if stat == "" {
		stat = a.ExtendedStatistic
	}
	return []metricquery.Query{{ID: "m1", ReturnData: true, MetricStat: &metricquery.MetricStat{
		Series: seriesOf(a), Period: period, Stat: stat, Unit: a.Unit}}}, period
}

// decideTT gathers the inputs of a target-tracking decision (the metric,
// and for a scale-in every policy's vote) and asks package scaling.
func (s *Service) decideTT(p *Policy, act monitor.Action, current int, now time.Time) (int, bool, bool) {
	tt, a := p.TT, act.Alarm
	// The datapoint the alarm's evaluation read, as AWS decides on the
	// alarm's data; read again only for an action without it (a resumed
	// target's alarms, a state set by hand).
	metric, ok := act.Newest, act.HasNewest
	if !ok {
		queries, period := alarmQueries(a)
		vals := s.metricValues(queries, &tt.series, period, a.EvaluationPeriods, now)
		if len(vals) == 0 {
			return 0, false, false
		}
		metric = vals[len(vals)-1]
	}
	switch a.AlarmName {
	case tt.AlarmHigh:
		desired, ok := scaling.TargetTrackingScaleOut(current, metric, tt.TargetValue, p.Cooldown, now)
		return desired, true, ok
	case tt.AlarmLow:
		if tt.DisableScaleIn {
			return 0, false, false
		}
		var votes []scaling.ScaleInVote
		for _, other := range s.byTarget[p.TargetKey] {
			if other.TT == nil || other.TT.DisableScaleIn {
				continue
			}
			v := s.scaleInVote(other, p, metric, now)
			votes = append(votes, v)
			if !v.Ready {
				break // one policy not ready decides it; no need to read the others' metrics
			}
		}
		desired, ok := scaling.TargetTrackingScaleIn(current, votes, p.Cooldown, now)
		return desired, false, ok
	}
	return 0, false, false
}

// scaleInVote is a target-tracking policy's say in a scale-in that policy
// deciding (whose metric is known) considers: ready when its low alarm is in
// ALARM and its metric has a value.
func (s *Service) scaleInVote(p, deciding *Policy, metric float64, now time.Time) scaling.ScaleInVote {
	low, state, ok := s.o.Alarms.Lookup(p.TT.AlarmLow)
	if !ok || state != alarm.Alarm {
		return scaling.ScaleInVote{}
	}
	if p != deciding {
		q, per := alarmQueries(low)
		vals := s.metricValues(q, &p.TT.series, per, low.EvaluationPeriods, now)
		if len(vals) == 0 {
			return scaling.ScaleInVote{}
		}
		metric = vals[len(vals)-1]
	}
	return scaling.ScaleInVote{Ready: true, Metric: metric, Target: p.TT.TargetValue}
}

// decideStep gathers the inputs of a step decision and asks package scaling.
func (s *Service) decideStep(p *Policy, a *monitor.MetricAlarm, current int, now time.Time) (int, bool, bool) {
	queries, period := alarmQueries(a)
	vals := s.metricValues(queries, nil, period, a.EvaluationPeriods, now)
	above := strings.HasPrefix(a.ComparisonOperator, "GreaterThan")
	return scaling.StepScaling(*p.Step, current, vals, a.Threshold, above, p.Cooldown, now)
}

// startActivity records a capacity change, Pending, for Run to apply (it
// wakes Run). An unapplied change of the same target is overridden.
// Callers hold s.mu.
func (s *Service) startActivity(ctx context.Context, t *Target, desired, from int, cause, policy string, out bool) *Activity {
	now := s.o.Clock.Now()
	if old := s.pending[t.Key()]; old != nil && old.StatusCode == StatusPending {
		old.StatusCode, old.StatusMessage = StatusOverridden, "Overridden by a newer scaling activity."
		end := now
		old.EndTime = &end
		s.saveActivity(old)
		old.signal()
	}
	a := &Activity{
		ActivityID: newUUID(), ServiceNamespace: t.ServiceNamespace, ResourceID: t.ResourceID, ScalableDimension: t.ScalableDimension,
		Description: fmt.Sprintf("Setting desired %s to %d.", t.res.noun(), desired), Cause: cause, StartTime: now,
		StatusCode: StatusPending, Desired: desired, Policy: policy, Out: out, From: from,
		applied: make(chan struct{}),
	}
	s.pending[t.Key()] = a
	s.saveActivity(a)
	s.log.Info("scaling", "resource", t.ResourceID, "from", from, "to", desired, "cause", cause)
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return a
}

// applyPending asks hosting for the capacity of every Pending activity,
// without holding s.mu (hosting may take its time), then records the
// outcomes. Only Run calls it: the one owner of capacity changes.
func (s *Service) applyPending(ctx context.Context) {
	type job struct {
		t *Target
		a *Activity
		n int
	}
	s.mu.Lock()
	s.flushActivities(ctx)
	var jobs []job
	if len(s.unsaved) == 0 { // else not stored: no change before its record
		for key, a := range s.pending {
			if t := s.targets[key]; t != nil && a.StatusCode == StatusPending {
				jobs = append(jobs, job{t, a, a.Desired})
			}
		}
	}
	s.mu.Unlock()
	if len(jobs) == 0 {
		return
	}
	errs := make([]error, len(jobs))
	for i, j := range jobs {
		errs[i] = j.t.res.set(ctx, s.o.Hosting, j.n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, j := range jobs {
		if j.a.StatusCode == StatusPending && s.pending[j.t.Key()] == j.a {
			s.applied(ctx, j.t, j.a, errs[i])
		}
		j.a.signal()
	}
	s.flushActivities(ctx)
}

// applied records what hosting answered to an activity's change; a busy
// endpoint keeps it Pending, retried on the next round. Callers hold s.mu.
func (s *Service) applied(ctx context.Context, t *Target, a *Activity, err error) {
	n := a.Desired
	switch {
	case err == nil:
		a.StatusCode = StatusInProgress
	case errors.Is(err, hosting.ErrInProgress):
		a.StatusMessage = "Waiting for the endpoint to finish its update."
	default:
		code := "ValidationException"
		if errors.Is(err, hosting.ErrLimit) {
			code = "ResourceLimitExceeded"
		}
		s.finish(ctx, t, a, StatusFailed, fmt.Sprintf("Failed to set desired %s to %d. Reason: %v (Service: AmazonSageMaker; Status Code: 400; Error Code: %s; Request ID: %s).", t.res.noun(), n, err, code, newUUID()))
		return
	}
	s.saveActivity(a)
}

func (s *Service) finish(ctx context.Context, t *Target, a *Activity, status, message string) {
	now := s.o.Clock.Now()
	a.StatusCode, a.StatusMessage, a.EndTime = status, message, &now
	s.saveActivity(a)
	delete(s.pending, t.Key())
	if status != StatusSuccessful || a.Policy == "" {
		return
	}
	if p := s.policies[a.Policy]; p != nil {
		p.Cooldown = p.Cooldown.Completed(a.Out, a.From, a.Desired, now, p.outCooldown(), p.inCooldown())
		doc, err := json.Marshal(policyCooldown{p.ARN, p.Cooldown})
		if err == nil {
			err = s.o.Store.Upsert(ctx, kindCooldown, []store.Doc{{Name: p.ARN, Created: now, Doc: doc}})
		}
		store.Report(s.log, "autoscaler", "save policy cooldown", err)
	}
}

func (p *Policy) outCooldown() time.Duration {
	if p.TT != nil {
		return p.TT.ScaleOutCooldown
	}
	return time.Duration(p.Step.Cooldown) * time.Second
}

func (p *Policy) inCooldown() time.Duration {
	if p.TT != nil {
		return p.TT.ScaleInCooldown
	}
	return time.Duration(p.Step.Cooldown) * time.Second
}

// progress follows unfinished activities: applies the pending ones and
// completes those the endpoint has fulfilled.
func (s *Service) progress(ctx context.Context, now time.Time) {
	for key, a := range s.pending {
		t := s.targets[key]
		if t == nil {
			delete(s.pending, key)
			continue
		}
		if a.StatusCode == StatusPending {
			continue // applyPending's
		}
		c, err := t.res.capacity(ctx, s.o.Hosting)
		if err != nil {
			s.finish(ctx, t, a, StatusFailed, fmt.Sprintf("Failed to set desired %s to %d. Reason: %v.", t.res.noun(), a.Desired, err))
			continue
		}
		switch {
		case !c.settled:
		case c.desired == a.Desired && c.current == a.Desired:
			s.finish(ctx, t, a, StatusSuccessful, fmt.Sprintf("Successfully set desired %s to %d. Change successfully fulfilled by sagemaker.", t.res.noun(), a.Desired))
		case c.desired != a.Desired:
			reason := c.reason
			if reason == "" {
				reason = "the endpoint's capacity was changed by another update"
			}
			s.finish(ctx, t, a, StatusFailed, fmt.Sprintf("Failed to set desired %s to %d. Reason: %s", t.res.noun(), a.Desired, reason))
		}
	}
}

func (s *Service) notScaled(ctx context.Context, t *Target, cause string, d scaling.Decision, current int, now time.Time) {
	r := NotScaledReason{Code: d.Reason, CurrentCapacity: &current}
	switch d.Reason {
	case scaling.AlreadyAtMaxCapacity:
		r.MaxCapacity = &t.MaxCapacity
	case scaling.AlreadyAtMinCapacity:
		r.MinCapacity = &t.MinCapacity
	}
	a := &Activity{
		ActivityID: newUUID(), ServiceNamespace: t.ServiceNamespace, ResourceID: t.ResourceID, ScalableDimension: t.ScalableDimension,
		Description: "Attempting to scale due to alarm triggered", Cause: cause, StartTime: now, EndTime: &now,
		StatusCode: StatusFailed, StatusMessage: "Failed to scale", NotScaledReasons: []NotScaledReason{r}, Desired: current,
	}
	s.saveActivity(a)
}

// saveActivity marks an activity changed; flushActivities stores it.
// Callers hold s.mu.
func (s *Service) saveActivity(a *Activity) {
	if !a.unsaved {
		a.unsaved = true
		s.unsaved = append(s.unsaved, a)
	}
}

// batchBytes is about how many bytes of activity documents one write
// holds.
const batchBytes = 1 << 20

// flushActivities stores the changed activities in a few writes (batches
// of about batchBytes): an activity is written up to three times in a
// round (Pending, InProgress, done), and with PostgreSQL each write was a
// round trip. applyPending flushes before it asks hosting for a change, so an activity is always stored before the
// capacity change it records, and again after, ending every pass of Run;
// Activities flushes before it reads. What a failed write holds stays for
// the next flush. Callers hold s.mu.
func (s *Service) flushActivities(ctx context.Context) {
	if len(s.unsaved) == 0 {
		return
	}
	// The documents are written in batches of about a MiB, whose arrays
	// are kept from flush to flush (a store keeps no bytes it was given).
	docs, buf := s.activityDocs[:0], s.activityBuf[:0]
	var err error
	write := func() {
		if len(docs) > 0 && err == nil {
			err = s.o.Store.PutActivities(ctx, docs)
		}
		clear(docs) // an array that buf outgrew is not kept
		docs, buf = docs[:0], buf[:0]
	}
	for _, a := range s.unsaved {
		if len(buf) >= batchBytes {
			write()
		}
		start := len(buf)
		buf = a.appendJSON(buf)
		docs = append(docs, store.ActivityDoc{ID: a.ActivityID, Target: a.ServiceNamespace + "|" + a.ResourceID + "|" + a.ScalableDimension, Start: a.StartTime,
			Doc: buf[start:len(buf):len(buf)]})
	}
	write()
	s.activityDocs, s.activityBuf = docs, buf
	store.Report(s.log, "autoscaler", "save activities", err)
	if err == nil {
		for _, a := range s.unsaved {
			a.unsaved = false
		}
		clear(s.unsaved) // the array is kept, not the activities
		s.unsaved = s.unsaved[:0]
	}
}

// Activities lists a target's (or all targets') activities that started
// at or after since (and within ActivityRetention), newest first.
func (s *Service) Activities(ctx context.Context, ns, id, dim string, includeNotScaled bool, since time.Time) ([]Activity, error) {
	prefix := ns + "|"
	if id != "" {
		prefix += id + "|"
		if dim != "" {
			prefix += dim
		}
	}
	s.mu.Lock()
	s.flushActivities(ctx)
	s.mu.Unlock()
	// The loop deletes what is past retention every hour; a reader asks
	// for nothing older.
	if oldest := s.o.Clock.Now().Add(-ActivityRetention); since.Before(oldest) {
		since = oldest
	}
	docs, err := s.o.Store.Activities(ctx, prefix, since)
	if err != nil {
		return nil, err
	}
	out := []Activity{}
	for _, d := range docs {
		var a Activity
		if err := json.Unmarshal(d, &a); err != nil {
			return nil, err
		}
		if len(a.NotScaledReasons) > 0 && !includeNotScaled {
			continue
		}
		if !includeNotScaled {
			a.NotScaledReasons = nil
		}
		out = append(out, a)
	}
	return out, nil
}
