package autoscaler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebbscale/ebb/internal/alarm"
	"github.com/ebbscale/ebb/internal/arn"
	"github.com/ebbscale/ebb/internal/clock"
	"github.com/ebbscale/ebb/internal/hosting"
	"github.com/ebbscale/ebb/internal/metricquery"
	"github.com/ebbscale/ebb/internal/monitor"
	"github.com/ebbscale/ebb/internal/router"
	"github.com/ebbscale/ebb/internal/scaling"
	"github.com/ebbscale/ebb/internal/store"
	"github.com/ebbscale/ebb/internal/tagging"
	"github.com/google/uuid"
)

// Store is the persistence the autoscaler needs.
type Store interface {
	store.Documents
	store.Activities
	store.Tags
}

// Hosting is how the autoscaler reads and changes endpoint capacity.
type Hosting interface {
	DescribeEndpoint(ctx context.Context, name string) (hosting.EndpointView, error)
	UpdateEndpointWeightsAndCapacities(ctx context.Context, name string, changes []hosting.WeightAndCapacity) (string, error)
	DescribeInferenceComponent(ctx context.Context, name string) (hosting.ComponentView, error)
	UpdateInferenceComponentRuntimeConfig(ctx context.Context, name string, copies int) (string, error)
}

// Alarms is the part of CloudWatch target tracking needs.
type Alarms interface {
	Put(ctx context.Context, a monitor.MetricAlarm) error
	Delete(ctx context.Context, names []string) ([]string, error)
	Describe(f monitor.Filter) []monitor.MetricAlarm
	Lookup(name string) (*monitor.MetricAlarm, alarm.State, bool)
	ARN(name string) string
}

// Options configure the Service.
type Options struct {
	Store     Store
	Hosting   Hosting
	Alarms    Alarms
	Metrics   metricquery.Store
	Clock     clock.Clock
	Region    string
	AccountID string
	Logger    *slog.Logger
	// MaxTargets is the quota of scalable targets (AWS: 500 for SageMaker).
	MaxTargets int
	// EndpointsDeleted delivers the names of deleted endpoints (hosting's
	// Deleted), whose targets Run deregisters, as AAS does.
	EndpointsDeleted <-chan string
	// ColdStarts delivers the router's requests for capacity at zero
	// instances, which Run answers (see coldStart).
	ColdStarts <-chan router.ColdStartRequest
}

const (
	kindTarget    = "scalable-target"
	kindPolicy    = "scaling-policy"
	kindScheduled = "scheduled-action"
	// kindCooldown is a policy's cooldown, stored on its own (policyCooldown)
	// when an activity completes: thousands a round, each a few dozen bytes
	// where the whole policy would be hundreds, marshaled by reflection.
	kindCooldown = "scaling-policy-cooldown"
)

// policyCooldown is a stored cooldown; it overrides the one stored with the
// policy, which is the cooldown when the policy was last put.
type policyCooldown struct {
	ARN string
	scaling.Cooldown
}

// Quotas (Application Auto Scaling's, not adjustable here).
const (
	MaxTargets         = 500
	MaxPoliciesPerTgt  = 50
	MaxScheduledPerTgt = 200
	MaxStepAdjustments = 20
	ActivityRetention  = 42 * 24 * time.Hour
)

// Service is Application Auto Scaling.
type Service struct {
	o   Options
	log *slog.Logger

	mu        sync.Mutex
	targets   map[string]*Target            // by key
	policies  map[string]*Policy            // by ARN
	byTarget  map[string]map[string]*Policy // target key -> ARN -> policy (the same policies)
	scheduled map[string]*ScheduledAction   // by ARN
	pending   map[string]*Activity          // unfinished activity per target key
	// unsaved are the activities changed since the last flushActivities,
	// each once, in the order they first changed.
	unsaved []*Activity
	// activityDocs and activityBuf are flushActivities' arrays, kept.
	activityDocs []store.ActivityDoc
	activityBuf  []byte

	// queue holds the alarm actions delivered and not yet decided, in
	// order. It is unbounded: a round of 10,000 targets delivers tens of
	// thousands at once (a bounded channel of 4,096 refused most of them),
	// and it grows by at most one action per alarm and evaluation.
	qmu   sync.Mutex
	queue []trigger
	// woken wakes Run when the queue fills (size 1: coalesced).
	woken chan struct{}
	// kick wakes Run to apply pending activities (size 1: coalesced).
	kick chan struct{}
	// running is set while Run runs; without it (tests that drive the loop
	// by hand) Register does not wait for its correction to be applied.
	running atomic.Bool
}

type trigger struct {
	policy *Policy
	monitor.Action
}

// New loads persisted targets, policies and scheduled actions.
func New(ctx context.Context, o Options) (*Service, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxTargets == 0 {
		o.MaxTargets = MaxTargets
	}
	s := &Service{o: o, log: o.Logger, targets: map[string]*Target{}, policies: map[string]*Policy{}, byTarget: map[string]map[string]*Policy{},
		scheduled: map[string]*ScheduledAction{}, pending: map[string]*Activity{}, woken: make(chan struct{}, 1), kick: make(chan struct{}, 1)}
	load := func(kind string, each func([]byte) error) error {
		docs, err := o.Store.List(ctx, kind)
		if err != nil {
			return err
		}
		for _, d := range docs {
			if err := each(d); err != nil {
				return fmt.Errorf("stored %s: %w", kind, err)
			}
		}
		return nil
	}
	if err := load(kindTarget, func(b []byte) error {
		var t Target
		if err := json.Unmarshal(b, &t); err != nil {
			return err
		}
		res, err := parseResource(t.ServiceNamespace, t.ResourceID, t.ScalableDimension)
		if err != nil {
			return fmt.Errorf("target %s: %w", t.ResourceID, err)
		}
		t.res, t.key = res, t.Key()
		s.targets[t.key] = &t
		return nil
	}); err != nil {
		return nil, err
	}
	if err := load(kindPolicy, func(b []byte) error {
		var p Policy
		err := json.Unmarshal(b, &p)
		s.addPolicy(&p)
		return err
	}); err != nil {
		return nil, err
	}
	if err := load(kindCooldown, func(b []byte) error {
		var c policyCooldown
		err := json.Unmarshal(b, &c)
		if p := s.policies[c.ARN]; p != nil {
			p.Cooldown = c.Cooldown
		}
		return err
	}); err != nil {
		return nil, err
	}
	if err := load(kindScheduled, func(b []byte) error {
		var a ScheduledAction
		err := json.Unmarshal(b, &a)
		s.scheduled[a.ARN] = &a
		return err
	}); err != nil {
		return nil, err
	}
	// Activities that had not finished resume.
	docs, err := o.Store.Activities(ctx, "", o.Clock.Now().Add(-ActivityRetention))
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		var a Activity
		if json.Unmarshal(d, &a) == nil && (a.StatusCode == StatusPending || a.StatusCode == StatusInProgress) {
			key := a.ServiceNamespace + "|" + a.ResourceID + "|" + a.ScalableDimension
			if s.pending[key] == nil {
				s.pending[key] = &a
			}
		}
	}
	return s, nil
}

func (s *Service) save(ctx context.Context, kind, name string, v any, create bool) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if create {
		return s.o.Store.Create(ctx, kind, name, s.o.Clock.Now(), b)
	}
	return s.o.Store.Update(ctx, kind, name, b)
}

func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// RegisterInput is RegisterScalableTarget's request.
type RegisterInput struct {
	ServiceNamespace, ResourceID, ScalableDimension string
	MinCapacity, MaxCapacity                        *int
	RoleARN                                         string
	Suspended                                       *Suspended
	Tags                                            []store.Tag
}

// Register creates or updates a scalable target and moves the resource's
// capacity into [Min, Max] at once.
func (s *Service) Register(ctx context.Context, in RegisterInput) (string, error) {
	res, err := parseResource(in.ServiceNamespace, in.ResourceID, in.ScalableDimension)
	if err != nil {
		return "", err
	}
	c, _ := res.capacity(ctx, s.o.Hosting)
	if c.registrable != nil {
		return "", c.registrable
	}
	current := c.desired
	key := in.ServiceNamespace + "|" + in.ResourceID + "|" + in.ScalableDimension
	resumed := false
	defer func() {
		if resumed {
			// On resume, policies whose alarms are in breach act now.
			s.retrigger(key)
		}
	}()
	// A correction into the new bounds is applied by Run, the one owner of
	// capacity changes; Register answers once it has been (after mu is
	// released), so the caller sees the change as AWS's callers do.
	var applied chan struct{}
	defer func() {
		if applied != nil && s.running.Load() {
			select {
			case <-applied:
			case <-ctx.Done():
			case <-time.After(30 * time.Second): // Run is stuck: answer anyway, the activity stays Pending
			}
		}
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	t, exists := s.targets[key]
	if !exists {
		if in.MinCapacity == nil || in.MaxCapacity == nil {
			return "", errorf(ErrValidation, "MinCapacity and MaxCapacity are required to register a new scalable target.")
		}
		if len(s.targets) >= s.o.MaxTargets {
			return "", errorf(ErrLimit, "You have reached the maximum of %d scalable targets for the sagemaker service namespace.", s.o.MaxTargets)
		}
		t = &Target{ServiceNamespace: in.ServiceNamespace, ResourceID: in.ResourceID, ScalableDimension: in.ScalableDimension,
			CreationTime: s.o.Clock.Now(), res: res, key: targetKey(in.ServiceNamespace, in.ResourceID, in.ScalableDimension),
			RoleARN: res.serviceRole(s.o.Region, s.o.AccountID),
			ARN:     arn.New("application-autoscaling", s.o.Region, s.o.AccountID, "scalable-target/"+randomID(18))}
	}
	next := *t
	if in.MinCapacity != nil {
		next.MinCapacity = *in.MinCapacity
	}
	if in.MaxCapacity != nil {
		next.MaxCapacity = *in.MaxCapacity
	}
	// in.RoleARN is not kept: SageMaker supports service-linked roles, and
	// for such services AWS documents that Application Auto Scaling uses
	// its service-linked role, which DescribeScalableTargets shows, whatever
	// RoleARN a caller sends.
	if err := tagError(tagging.Check(in.Tags)); err != nil {
		return "", err
	}
	if next.MinCapacity < 0 || next.MaxCapacity < 0 {
		return "", errorf(ErrValidation, "Capacity values must be greater than or equal to 0.")
	}
	if next.MinCapacity > next.MaxCapacity {
		return "", errorf(ErrValidation, "Minimum capacity (%d) cannot be greater than maximum capacity (%d).", next.MinCapacity, next.MaxCapacity)
	}
	if next.MinCapacity < c.least {
		// AAS: "the error message will provide the minimum value".
		return "", errorf(ErrValidation, "Minimum capacity (%d) cannot be less than %d for scalable dimension %s.", next.MinCapacity, c.least, in.ScalableDimension)
	}
	if in.Suspended != nil {
		old := next.Suspended
		next.Suspended = *in.Suspended
		resumed = old.DynamicScalingInSuspended && !next.Suspended.DynamicScalingInSuspended ||
			old.DynamicScalingOutSuspended && !next.Suspended.DynamicScalingOutSuspended
	}
	if err := s.save(ctx, kindTarget, key, &next, !exists); err != nil {
		return "", err
	}
	*t = next
	s.targets[key] = t
	if !exists && len(in.Tags) > 0 {
		if err := s.o.Store.AddTags(ctx, t.ARN, in.Tags); err != nil {
			return "", err
		}
	}
	// Capacity outside the new bounds is corrected at once.
	if current < t.MinCapacity {
		applied = s.startActivity(ctx, t, t.MinCapacity, current, fmt.Sprintf("minimum capacity was set to %d", t.MinCapacity), "", false).applied
	} else if current > t.MaxCapacity {
		applied = s.startActivity(ctx, t, t.MaxCapacity, current, fmt.Sprintf("maximum capacity was set to %d", t.MaxCapacity), "", false).applied
	}
	return t.ARN, nil
}

// Deregister removes a target with its policies (and their alarms) and
// scheduled actions.
func (s *Service) Deregister(ctx context.Context, ns, id, dim string) error {
	if _, err := parseResource(ns, id, dim); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := ns + "|" + id + "|" + dim
	t := s.targets[key]
	if t == nil {
		return noTarget(ns, id, dim)
	}
	for _, p := range s.byTarget[key] {
		if err := s.deletePolicy(ctx, p); err != nil {
			return err
		}
		s.removePolicy(p)
	}
	for arn, a := range s.scheduled {
		if a.TargetKey == key {
			if err := s.o.Store.Delete(ctx, kindScheduled, a.ARN); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			delete(s.scheduled, arn)
		}
	}
	if err := s.o.Store.Delete(ctx, kindTarget, key); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	delete(s.targets, key)
	delete(s.pending, key)
	s.log.Info("scalable target deregistered", "resource", id)
	return nil
}

// coldStart starts one instance for a variant at zero capacity because a
// request arrived (ebb's buffered scale from zero; the router holds the
// request meanwhile). Only scalable targets that allow at least one
// instance may be started this way.
func (s *Service) coldStart(req router.ColdStartRequest) error {
	ctx := context.Background()
	var res resource = variant{req.Endpoint, req.Variant}
	what, cause := fmt.Sprintf("variant %s of endpoint %s", req.Variant, req.Endpoint), "a request arrived while the variant had no instance (ebb cold start)"
	if req.Component != "" {
		res = inferenceComponent{req.Component}
		what, cause = "inference component "+req.Component, "a request arrived while the inference component had no copy (ebb cold start)"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.targets {
		if t.res != res {
			continue
		}
		if t.MaxCapacity < 1 || t.Suspended.DynamicScalingOutSuspended {
			return fmt.Errorf("%s may not scale out", what)
		}
		current, err := s.current(ctx, t)
		if err != nil {
			return err
		}
		if p := s.pending[t.Key()]; p != nil && p.StatusCode == StatusPending {
			current = p.Desired // not applied yet: it will be
		}
		if current > 0 {
			return nil // capacity is already on its way
		}
		s.startActivity(ctx, t, max(1, t.MinCapacity), 0, cause, "", true)
		return nil
	}
	return fmt.Errorf("%s is not a scalable target", what)
}

// AutoscaledVariants names the variants of an endpoint that are targets.
func (s *Service) AutoscaledVariants(endpoint string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, t := range s.targets {
		if v, ok := t.res.(variant); ok && v.ep == endpoint {
			out = append(out, v.name)
		}
	}
	return out
}

// EndpointDeleted deregisters the targets of a deleted endpoint, as AAS does.
func (s *Service) EndpointDeleted(name string) {
	var gone []*Target
	s.mu.Lock()
	for _, t := range s.targets {
		if t.res.endpoint() == name {
			gone = append(gone, t)
		}
	}
	s.mu.Unlock()
	for _, t := range gone {
		if err := s.Deregister(context.Background(), t.ServiceNamespace, t.ResourceID, t.ScalableDimension); err != nil {
			// It stays registered, and scales nothing: its endpoint is gone.
			s.log.Error("deregistering the target of a deleted endpoint", "resource", t.ResourceID, "err", err)
		}
	}
}

// Targets lists targets, filtered by resource ids and dimension, sorted by resource id.
func (s *Service) Targets(ns string, ids []string, dim string) []Target {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Target
	for _, t := range s.targets {
		if t.ServiceNamespace != ns || len(ids) > 0 && !slices.Contains(ids, t.ResourceID) || dim != "" && t.ScalableDimension != dim {
			continue
		}
		view := *t
		view.Predicted = s.predicted(t, s.o.Clock.Now())
		out = append(out, view)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ResourceID < out[j].ResourceID })
	return out
}

func (s *Service) target(ns, id, dim string) (*Target, error) {
	if _, err := parseResource(ns, id, dim); err != nil {
		return nil, err
	}
	t := s.targets[ns+"|"+id+"|"+dim]
	if t == nil {
		return nil, noTarget(ns, id, dim)
	}
	return t, nil
}

// tagError words a refusal of the tagging rules in Application Auto
// Scaling's errors.
func tagError(err error) error {
	var bad *tagging.Error
	switch {
	case !errors.As(err, &bad):
		return err
	case bad.Reserved != "":
		return errorf(ErrValidation, "Tag key %s uses the reserved prefix aws:, which user tags may not use.", bad.Reserved)
	}
	return errorf(ErrTooManyTags, "A scalable target can have at most %d tags.", tagging.Limit)
}

// TagResource and friends tag scalable targets.
func (s *Service) TagResource(ctx context.Context, arn string, tags []store.Tag) error {
	if !s.targetARN(arn) {
		return errorf(ErrResourceNotFound, "No scalable target found for ARN %s.", arn)
	}
	return tagError(tagging.Add(ctx, s.o.Store, arn, tags))
}

func (s *Service) UntagResource(ctx context.Context, arn string, keys []string) error {
	if !s.targetARN(arn) {
		return errorf(ErrResourceNotFound, "No scalable target found for ARN %s.", arn)
	}
	return s.o.Store.DeleteTags(ctx, arn, keys)
}

func (s *Service) ListTags(ctx context.Context, arn string) ([]store.Tag, error) {
	if !s.targetARN(arn) {
		return nil, errorf(ErrResourceNotFound, "No scalable target found for ARN %s.", arn)
	}
	return s.o.Store.Tags(ctx, arn)
}

func (s *Service) targetARN(arn string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.targets {
		if t.ARN == arn {
			return true
		}
	}
	return false
}

func newUUID() string { return uuid.NewString() }
