package autoscaler

import (
	"context"
	"fmt"
	"github.com/ebbscale/ebb/internal/arn"
	"slices"
	"sort"
	"time"

	"github.com/ebbscale/ebb/internal/scaling"
	"github.com/ebbscale/ebb/internal/store"
)

// ScheduledInput is PutScheduledAction's request.
type ScheduledInput struct {
	Name, ServiceNamespace, ResourceID, ScalableDimension string
	Schedule, Timezone                                    string
	StartTime, EndTime                                    *time.Time
	MinCapacity, MaxCapacity                              *int
}

// missedGrace is how late a run may still happen (a tick or two late, a
// short restart); older runs are not replayed, as in AWS.
const missedGrace = 2 * time.Minute

func (a *ScheduledAction) parse() (scaling.Schedule, error) {
	loc := time.UTC
	if a.Timezone != "" {
		l, err := time.LoadLocation(a.Timezone)
		if err != nil {
			return nil, fmt.Errorf("unknown time zone %q", a.Timezone)
		}
		loc = l
	}
	base := a.CreationTime
	if a.StartTime != nil {
		base = *a.StartTime
	}
	return scaling.ParseSchedule(a.Schedule, loc, base)
}

// PutScheduled creates or replaces a scheduled action. On update, a
// StartTime or EndTime left out is removed, as AWS documents.
func (s *Service) PutScheduled(ctx context.Context, in ScheduledInput) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.target(in.ServiceNamespace, in.ResourceID, in.ScalableDimension)
	if err != nil {
		return err
	}
	var existing *ScheduledAction
	count := 0
	for _, a := range s.scheduled {
		if a.TargetKey == t.Key() {
			count++
			if a.Name == in.Name {
				existing = a
			}
		}
	}
	if existing == nil && count >= MaxScheduledPerTgt {
		return errorf(ErrLimit, "Maximum number of scheduled actions (%d) reached for this scalable target.", MaxScheduledPerTgt)
	}
	a := &ScheduledAction{Name: in.Name, TargetKey: t.Key(), CreationTime: s.o.Clock.Now()}
	if existing != nil {
		a.ARN, a.CreationTime, a.Schedule, a.Timezone, a.MinCapacity, a.MaxCapacity = existing.ARN, existing.CreationTime, existing.Schedule, existing.Timezone, existing.MinCapacity, existing.MaxCapacity
	} else {
		a.ARN = arn.New("autoscaling", s.o.Region, s.o.AccountID,
			fmt.Sprintf("scheduledAction:%s:resource/%s/%s:scheduledActionName/%s", newUUID(), t.ServiceNamespace, t.ResourceID, in.Name))
	}
	if in.Schedule != "" {
		a.Schedule = in.Schedule
	}
	if in.Timezone != "" {
		a.Timezone = in.Timezone
	}
	if in.MinCapacity != nil {
		a.MinCapacity = in.MinCapacity
	}
	if in.MaxCapacity != nil {
		a.MaxCapacity = in.MaxCapacity
	}
	a.StartTime, a.EndTime = in.StartTime, in.EndTime
	if a.Schedule == "" {
		return errorf(ErrValidation, "Schedule is required to create a scheduled action.")
	}
	if a.MinCapacity == nil && a.MaxCapacity == nil {
		return errorf(ErrValidation, "ScalableTargetAction must set MinCapacity, MaxCapacity or both.")
	}
	if (a.MinCapacity != nil && *a.MinCapacity < 0) || (a.MaxCapacity != nil && *a.MaxCapacity < 0) {
		return errorf(ErrValidation, "Capacity values must be greater than or equal to 0.")
	}
	if a.MinCapacity != nil && a.MaxCapacity != nil && *a.MinCapacity > *a.MaxCapacity {
		return errorf(ErrValidation, "Minimum capacity (%d) cannot be greater than maximum capacity (%d).", *a.MinCapacity, *a.MaxCapacity)
	}
	if a.StartTime != nil && a.EndTime != nil && !a.EndTime.After(*a.StartTime) {
		return errorf(ErrValidation, "EndTime must be after StartTime.")
	}
	if _, err := a.parse(); err != nil {
		return errorf(ErrValidation, "Invalid schedule expression %q: %v.", a.Schedule, err)
	}
	a.LastRun = s.o.Clock.Now()
	if err := s.save(ctx, kindScheduled, a.ARN, a, existing == nil); err != nil {
		return err
	}
	if existing != nil {
		delete(s.scheduled, existing.ARN)
	}
	s.scheduled[a.ARN] = a
	return nil
}

// DeleteScheduled deletes a scheduled action.
func (s *Service) DeleteScheduled(ctx context.Context, name, ns, id, dim string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, err := s.target(ns, id, dim)
	if err != nil {
		return err
	}
	for arn, a := range s.scheduled {
		if a.TargetKey == t.Key() && a.Name == name {
			if err := s.o.Store.Delete(ctx, kindScheduled, arn); err != nil {
				return err
			}
			delete(s.scheduled, arn)
			return nil
		}
	}
	return errorf(ErrObjectNotFound, "No scheduled action found for service namespace: %s, resource ID: %s, scalable dimension: %s, scheduled action name: %s", ns, id, dim, name)
}

// ScheduledView is a scheduled action with its target.
type ScheduledView struct {
	ScheduledAction
	Target Target
}

// Scheduled lists scheduled actions, sorted by name.
func (s *Service) Scheduled(ns string, names []string, id, dim string) []ScheduledView {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ScheduledView
	for _, a := range s.scheduled {
		t := s.targets[a.TargetKey]
		if t == nil || t.ServiceNamespace != ns || len(names) > 0 && !slices.Contains(names, a.Name) || id != "" && t.ResourceID != id || dim != "" && t.ScalableDimension != dim {
			continue
		}
		out = append(out, ScheduledView{*a, *t})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// runSchedules fires the scheduled actions that are due. Callers hold s.mu.
func (s *Service) runSchedules(ctx context.Context, now time.Time) {
	for _, a := range s.scheduled {
		t := s.targets[a.TargetKey]
		if t == nil {
			continue
		}
		sched, err := a.parse()
		if err != nil {
			continue
		}
		_, late, due := scaling.DueRun(sched, a.LastRun, now, a.StartTime, a.EndTime, missedGrace)
		if !due {
			continue
		}
		a.LastRun = now
		store.Report(s.log, "autoscaler", "save scheduled run", s.save(ctx, kindScheduled, a.ARN, a, false))
		if t.Suspended.ScheduledScalingSuspended || late {
			continue // missed runs are not replayed
		}
		s.fire(ctx, t, a, now)
	}
}

// fire applies a scheduled action: new bounds, then capacity moved into them.
//
// An action that sets only one bound can cross the other one (MinCapacity
// above the target's MaxCapacity). The user guide says such an action must
// set both "to ensure that the new minimum capacity is not higher than the
// maximum capacity" [AAS-SCHED, scheduled-scaling-policy-overview], and
// never that it moves the other bound, so ebb leaves the bounds as they are
// and records the run as a Failed activity that says why: it never raises
// the user's MaxCapacity (or lowers MinCapacity) by itself.
func (s *Service) fire(ctx context.Context, t *Target, a *ScheduledAction, now time.Time) {
	min, max := t.MinCapacity, t.MaxCapacity
	if a.MinCapacity != nil {
		min = *a.MinCapacity
	}
	if a.MaxCapacity != nil {
		max = *a.MaxCapacity
	}
	desc := fmt.Sprintf("Setting min capacity to %d and max capacity to %d", min, max)
	cause := fmt.Sprintf("scheduled action name %s was triggered", a.Name)
	end := now
	activity := &Activity{
		ActivityID: newUUID(), ServiceNamespace: t.ServiceNamespace, ResourceID: t.ResourceID, ScalableDimension: t.ScalableDimension,
		Description: desc, Cause: cause, StartTime: now, EndTime: &end,
	}
	if min > max {
		activity.StatusCode = StatusFailed
		activity.StatusMessage = fmt.Sprintf("Failed to set min capacity to %d and max capacity to %d: the minimum capacity cannot be greater than the maximum capacity. Set both MinCapacity and MaxCapacity in the scheduled action.", min, max)
		s.saveActivity(activity)
		s.log.Warn("scheduled action crosses the target's bounds", "action", a.Name, "resource", t.ResourceID, "min", min, "max", max)
		return
	}
	t.MinCapacity, t.MaxCapacity = min, max
	store.Report(s.log, "autoscaler", "save target bounds", s.save(ctx, kindTarget, t.Key(), t, false))
	activity.StatusCode = StatusSuccessful
	activity.StatusMessage = fmt.Sprintf("Successfully set min capacity to %d and max capacity to %d", min, max)
	s.saveActivity(activity)
	s.log.Info("scheduled action", "action", a.Name, "resource", t.ResourceID, "min", t.MinCapacity, "max", t.MaxCapacity)
	current, err := s.current(ctx, t)
	if err != nil {
		return
	}
	if p := s.pending[t.Key()]; p != nil {
		current = p.Desired
	}
	switch {
	case current < t.MinCapacity:
		s.startActivity(ctx, t, t.MinCapacity, current, fmt.Sprintf("minimum capacity was set to %d", t.MinCapacity), "", true)
	case current > t.MaxCapacity:
		s.startActivity(ctx, t, t.MaxCapacity, current, fmt.Sprintf("maximum capacity was set to %d", t.MaxCapacity), "", false)
	}
}

// NextRun is when the action runs next after t: its schedule's next time
// within its StartTime and EndTime; false when it will not run again (or
// its schedule cannot be read).
func (a *ScheduledAction) NextRun(t time.Time) (time.Time, bool) {
	s, err := a.parse()
	if err != nil {
		return time.Time{}, false
	}
	if a.StartTime != nil && t.Before(*a.StartTime) {
		t = a.StartTime.Add(-time.Nanosecond)
	}
	next, ok := s.Next(t)
	if !ok || a.EndTime != nil && next.After(*a.EndTime) {
		return time.Time{}, false
	}
	return next, true
}
