package hosting

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ebbscale/ebb/internal/logs"
	"github.com/ebbscale/ebb/internal/router"
	"github.com/ebbscale/ebb/internal/runtime"
)

// endpoint is the goroutine that owns one endpoint: its record and its
// instances. Everything below that touches rec or insts runs on it.
type endpoint struct {
	s      *Service
	cmds   chan command
	events chan event
	poke   chan struct{} // size 1: coalesced wake-ups (backoff timers)
	exited chan struct{}
	view   atomic.Pointer[EndpointView]
	// running lists the healthy instances of the serving deployment.
	running atomic.Pointer[[]RunningInstance]

	// components is the snapshot of its inference components.
	components atomic.Pointer[[]ComponentView]

	rec      endpointRecord
	insts    []*inst
	copies   []*inst              // copies of inference components (component.go)
	failure  string               // why the operation in progress failed
	failures map[string]int       // consecutive instance failures per variant
	notUntil map[string]time.Time // no replacement for a variant before this
	deleted  bool
	// busy is, per serverless variant, when it last needed k+1
	// environments at once (busy[k]); sampled from sampleAt on.
	busy     map[string][]time.Time
	sampleAt time.Time
	// alarmsAt is when a deployment's rollback alarms are read next.
	alarmsAt time.Time
	// copyFailure is, by component, why a copy of a rolling update's new
	// specification failed (copyrollout.go).
	copyFailure map[string]string
}

type command struct {
	fn    func() error
	reply chan error
}

type eventKind int

const (
	eventReady eventKind = iota
	eventDone
)

type event struct {
	kind eventKind
	in   *inst
}

// inst is one instance of a variant of a deployment.
type inst struct {
	rt         runtime.Instance
	deployment string // deployment ID
	variant    string
	started    time.Time
	readyAt    time.Time
	ready      bool
	stopping   bool

	size runtime.InstanceType // a host's (variant that hosts components)
	// A copy of an inference component: its name, host, requirements and
	// the component's generation it runs.
	component  string
	host       *inst
	needs      Requirements
	generation int
}

func newID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// launch starts the goroutine of an endpoint, with the instances adopted
// from a previous server. Callers hold s.mu.
func (s *Service) launch(rec endpointRecord, adopted ...runtime.Adopted) {
	e := &endpoint{
		s:        s,
		cmds:     make(chan command),
		events:   make(chan event, 64),
		poke:     make(chan struct{}, 1),
		exited:   make(chan struct{}),
		rec:      rec,
		failures: map[string]int{}, copyFailure: map[string]string{},
		notUntil: map[string]time.Time{},
		busy:     map[string][]time.Time{},
	}
	now := s.opts.Clock.Now()
	adopted = e.adoptGroups(e.adoptCopies(adopted))
	keep := e.keep()
	for _, a := range adopted {
		d := &e.rec.Current
		if e.rec.Pending != nil && a.Deployment == e.rec.Pending.ID {
			d = e.rec.Pending
		}
		if a.Deployment != d.ID || d.variant(a.Variant) == nil || e.rec.Status == StatusFailed || e.rec.Status == StatusDeleting {
			s.log.Info("stopping an adopted instance its endpoint no longer wants", "endpoint", rec.Name, "variant", a.Variant, "instance", a.Instance.ID())
			go func() {
				a.Instance.Stop(context.Background())
				if !slices.Contains(keep, a.Deployment) {
					s.release(rec.Name, keep...)
				}
			}()
			continue
		}
		// Ready now, so that routes exist before the listener opens. Its
		// startup was measured when it started (zero: not published again).
		in := &inst{rt: a.Instance, deployment: a.Deployment, variant: a.Variant, started: now, readyAt: now, ready: true}
		e.insts = append(e.insts, in)
		go e.watch(in)
	}
	for _, c := range rec.Components {
		s.components[strings.ToLower(c.Name)] = e
	}
	if len(e.insts) > 0 {
		e.publishRoutes()
	}
	e.publishView()
	e.publishComponents()
	s.endpoints[strings.ToLower(rec.Name)] = e
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(e.exited)
		e.run(s.ctx)
	}()
}

// do runs fn on the endpoint's goroutine; if fn succeeds the record is
// persisted before do returns, and if persisting fails the change is undone.
func (e *endpoint) do(ctx context.Context, fn func() error) error {
	c := command{fn: fn, reply: make(chan error, 1)}
	select {
	case e.cmds <- c:
	case <-e.exited:
		return errorf(ErrNotFound, "Could not find endpoint %q.", e.rec.ARN)
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-c.reply
}

func (e *endpoint) run(ctx context.Context) {
	for {
		e.reconcile()
		e.publishView()
		e.publishComponents()
		if e.deleted {
			return
		}
		select {
		case c := <-e.cmds:
			backup := e.rec.clone()
			err := c.fn()
			if err == nil {
				if err = e.save(); err != nil {
					e.rec.setChangeable(backup)
				}
			}
			// Callers see the effect of their call in their next Describe.
			e.reconcile()
			e.publishView()
			e.publishComponents()
			c.reply <- err
		case ev := <-e.events:
			e.handle(ev)
		case <-e.poke:
		case <-ctx.Done():
			e.shutdown()
			return
		}
	}
}

func (e *endpoint) save() error {
	b, err := json.Marshal(e.rec)
	if err != nil {
		return err
	}
	return e.s.opts.Store.Update(context.Background(), kindEndpoint, e.rec.Name, b)
}

func (e *endpoint) inProgress() error {
	switch e.rec.Status {
	case StatusCreating, StatusUpdating, StatusRollingBack, StatusDeleting:
		return errorf(ErrInProgress, "Cannot update in-progress endpoint %q.", e.rec.ARN)
	}
	return nil
}

// beginUpdate starts an UpdateEndpoint.
func (e *endpoint) beginUpdate(d deployment, async json.RawMessage, in UpdateEndpointInput) error {
	retainAll, exclude := in.RetainAll, in.Exclude
	if err := e.inProgress(); err != nil {
		return err
	}
	if len(e.rec.Components) > 0 {
		return errorf(ErrInvalid, "ebb does not update an endpoint that hosts inference components (%s) yet: change its instance count with UpdateEndpointWeightsAndCapacities, or its components with UpdateInferenceComponent.", e.rec.Components[0].Name)
	}
	if i := slices.IndexFunc(d.Variants, func(v variant) bool { return v.Serverless != nil }); i >= 0 && !e.rec.Current.serverless() {
		// SageMaker's guide: an endpoint of instances cannot be converted
		// to a serverless one (the other way is allowed, but not back).
		return errorf(ErrInvalid, "Cannot update endpoint %q to endpoint configuration %q: its variant %q is serverless, and an endpoint of instances cannot become serverless. Create a new endpoint for the serverless configuration.", e.rec.ARN, d.ConfigName, d.Variants[i].Name)
	}
	if retainAll {
		for i := range d.Variants {
			cur := e.rec.Current.variant(d.Variants[i].Name)
			if cur == nil {
				continue
			}
			if !slices.Contains(exclude, "DesiredInstanceCount") {
				d.Variants[i].DesiredCount = cur.DesiredCount
			}
			if !slices.Contains(exclude, "DesiredWeight") {
				d.Variants[i].DesiredWeight = cur.DesiredWeight
			}
		}
	}
	// The new fleet runs beside the old one until traffic moves.
	if err := e.s.checkLimit(e, append(slices.Clone(e.rec.Current.Variants), d.Variants...)); err != nil {
		return err
	}
	cfg := in.Deployment
	if cfg == nil && in.RetainDeployment {
		cfg = e.rec.Deployment
	}
	var ro *rollout
	if cfg != nil {
		if err := checkDeployment(*cfg, e.rec.Current, d); err != nil {
			return err
		}
		if err := e.s.checkAlarms(cfg.alarms()); err != nil {
			return err
		}
		switch {
		case cfg.BlueGreenUpdatePolicy != nil:
			ro = &rollout{Config: *cfg, Started: e.s.opts.Clock.Now(), Step: -1}
		case cfg.RollingUpdatePolicy != nil:
			ro = &rollout{Config: *cfg, Started: e.s.opts.Clock.Now()}
		}
		e.rec.Deployment = cfg
	}
	d.ID = newID()
	e.rec.Pending, e.rec.Rollout = &d, ro
	e.rec.AsyncConfig = async
	e.rec.Status = StatusUpdating
	e.rec.FailureReason = ""
	e.rec.LastModifiedTime = e.s.opts.Clock.Now()
	e.failure = ""
	e.s.log.Info("updating endpoint", "endpoint", e.rec.Name, "config", d.ConfigName)
	return nil
}

// beginCapacityChange starts an UpdateEndpointWeightsAndCapacities.
func (e *endpoint) beginCapacityChange(changes []WeightAndCapacity) error {
	if err := e.inProgress(); err != nil {
		return err
	}
	next := slices.Clone(e.rec.Current.Variants)
	seen := map[string]bool{}
	for _, c := range changes {
		if seen[c.VariantName] {
			return errorf(ErrInvalid, "The variant %q appears more than once in DesiredWeightsAndCapacities; give each variant once.", c.VariantName)
		}
		seen[c.VariantName] = true
		i := slices.IndexFunc(next, func(v variant) bool { return v.Name == c.VariantName })
		if i < 0 {
			return errorf(ErrInvalid, "The variant %q does not exist in endpoint %q.", c.VariantName, e.rec.ARN)
		}
		if c.DesiredInstanceCount == nil && c.DesiredWeight == nil && c.ServerlessUpdateConfig == nil {
			return errorf(ErrInvalid, "Either DesiredWeight, DesiredInstanceCount or ServerlessUpdateConfig must be specified for variant %q.", c.VariantName)
		}
		if u := c.ServerlessUpdateConfig; u != nil {
			sc, err := updateServerless(next[i], *u, e.rec.ARN)
			if err != nil {
				return err
			}
			next[i].Serverless = sc
		}
		if c.DesiredInstanceCount != nil {
			if next[i].Serverless != nil {
				return errorf(ErrInvalid, "The variant %q of endpoint %q is serverless: its environments follow its invocations, and it has no DesiredInstanceCount to set.", c.VariantName, e.rec.ARN)
			}
			next[i].DesiredCount = *c.DesiredInstanceCount
		}
		if c.DesiredWeight != nil {
			next[i].DesiredWeight = *c.DesiredWeight
		}
	}
	if err := e.s.checkLimit(e, next); err != nil {
		return err
	}
	e.rec.Rollback = e.rec.Current.Variants
	e.rec.Current.Variants = next
	e.rec.Status = StatusUpdating
	e.rec.FailureReason = ""
	e.rec.LastModifiedTime = e.s.opts.Clock.Now()
	e.failure = ""
	for _, v := range next {
		if v.Serverless != nil {
			e.s.log.Info("changing serverless variant", "endpoint", e.rec.Name, "variant", v.Name, "max_concurrency", *v.Serverless.MaxConcurrency, "provisioned_concurrency", v.Serverless.provisioned(), "desired_weight", v.DesiredWeight)
			continue
		}
		e.s.log.Info("changing variant capacity", "endpoint", e.rec.Name, "variant", v.Name, "desired_instances", v.DesiredCount, "desired_weight", v.DesiredWeight)
	}
	return nil
}

func (e *endpoint) beginDelete() error {
	switch e.rec.Status {
	case StatusCreating, StatusUpdating, StatusRollingBack:
		return errorf(ErrInProgress, "Cannot update in-progress endpoint %q.", e.rec.ARN)
	case StatusDeleting:
		return nil
	}
	if len(e.rec.Components) > 0 {
		return errorf(ErrInvalid, "Endpoint %q hosts %d inference component(s), such as %s: delete them (DeleteInferenceComponent) before the endpoint.", e.rec.ARN, len(e.rec.Components), e.rec.Components[0].Name)
	}
	e.rec.Status = StatusDeleting
	e.rec.LastModifiedTime = e.s.opts.Clock.Now()
	e.s.log.Info("deleting endpoint", "endpoint", e.rec.Name)
	return nil
}

// handle applies an instance event.
func (e *endpoint) handle(ev event) {
	in := ev.in
	switch ev.kind {
	case eventReady:
		adopted := in.ready // ready from the start: its startup was a previous server's
		in.ready = true
		in.readyAt = e.s.opts.Clock.Now()
		if in.component != "" {
			e.failures["component:"+in.component] = 0
			e.s.log.Info("inference component copy healthy", "endpoint", e.rec.Name, "component", in.component, "instance", in.rt.ID())
			return
		}
		e.failures[in.variant] = 0
		e.s.log.Info("instance healthy", "endpoint", e.rec.Name, "variant", in.variant, "instance", in.rt.ID())
		if v := e.rec.Current.variant(in.variant); v != nil && !v.hosts() && !adopted {
			e.s.started(Startup{Endpoint: e.rec.Name, Variant: in.variant, Took: in.readyAt.Sub(in.started), Serverless: v.Serverless != nil})
		}
	case eventDone:
		if in.component != "" {
			e.copies = slices.DeleteFunc(e.copies, func(x *inst) bool { return x == in })
			if !in.stopping {
				e.copyFailed(in.component, in.generation, in.rt.Err(), in.ready)
			} else {
				e.releaseRetired(in.deployment)
			}
			return
		}
		e.insts = slices.DeleteFunc(e.insts, func(x *inst) bool { return x == in })
		if in.stopping {
			e.releaseRetired(in.deployment)
			return
		}
		err := in.rt.Err()
		e.instanceFailed(in, err)
	}
}

// releaseRetired lets the runtime delete what it holds for a deployment
// the endpoint no longer uses (keep) once its last instance is gone: after
// a blue/green cut-over or a failed update, and a component's retired
// generation or its last after it was deleted.
func (e *endpoint) releaseRetired(deployment string) {
	if e.deleted || e.rec.Status == StatusDeleting {
		return
	}
	keep := e.keep()
	if slices.Contains(keep, deployment) {
		return
	}
	e.s.release(e.rec.Name, keep...)
}

// keep lists the deployments whose runtime objects the endpoint still
// uses: its current and pending ones (with their models of several
// containers), each component's current generation (kept at zero copies,
// so that a scale from zero finds it), and those of every live instance
// and copy.
func (e *endpoint) keep() []string {
	keep := []string{e.rec.Current.ID, groupDeployment(e.rec.Current.ID)}
	if e.rec.Pending != nil {
		keep = append(keep, e.rec.Pending.ID, groupDeployment(e.rec.Pending.ID))
	}
	for _, c := range e.rec.Components {
		keep = append(keep, copyDeployment(c.Name, c.Generation))
	}
	for _, in := range e.insts {
		keep = append(keep, in.deployment, groupDeployment(in.deployment))
	}
	for _, in := range e.copies {
		keep = append(keep, in.deployment)
	}
	slices.Sort(keep)
	return slices.Compact(keep)
}

// instanceFailed records an instance that ended on its own. While the
// endpoint is being created or changed, an instance that never became
// healthy fails the operation; otherwise the instance is replaced, with
// exponential backoff if its variant keeps failing.
func (e *endpoint) instanceFailed(in *inst, err error) {
	reason := fmt.Sprintf("The primary container for production variant %s did not pass the ping health check (%v). See log stream %s of log group %s (aws logs tail %s).",
		in.variant, err, logs.InstanceStream(in.variant, in.rt.ID()), logs.EndpointGroup(e.rec.Name), logs.EndpointGroup(e.rec.Name))
	if errors.Is(err, runtime.ErrLaunch) {
		reason = fmt.Sprintf("Failed to start an instance for production variant %s: %v.", in.variant, err)
	}
	transitional := e.rec.Status == StatusCreating || (e.rec.Status == StatusUpdating && (e.rec.Pending == nil || in.deployment == e.rec.Pending.ID))
	if transitional && !in.ready {
		if e.failure == "" {
			e.failure = reason
		}
		e.s.log.Warn("instance failed to start", "endpoint", e.rec.Name, "variant", in.variant, "instance", in.rt.ID(), "err", err)
		return
	}
	n := e.failures[in.variant] + 1
	e.failures[in.variant] = n
	delay := min(time.Second<<min(n-1, 8), 5*time.Minute)
	if n == 1 {
		delay = 0
	}
	e.notUntil[in.variant] = e.s.opts.Clock.Now().Add(delay)
	if delay > 0 {
		e.wakeIn(delay)
	}
	e.s.log.Warn("instance failed; replacing it", "endpoint", e.rec.Name, "variant", in.variant, "instance", in.rt.ID(), "err", err, "consecutive_failures", n, "replace_in", delay)
}

// reconcile observes the endpoint's instances, plans (planInstances) and
// applies the plan: a move of the status machine first, planning again
// under the new status; otherwise the instances to stop and to start, then
// the inference components' copies on a serving endpoint.
func (e *endpoint) reconcile() {
	e.followInvocations()
	for !e.deleted {
		insts := slices.Clone(e.insts)
		p := planInstances(e.planInput(insts))
		if p.Next != nil {
			e.move(*p.Next)
			continue
		}
		failed := e.failure
		e.applyInstances(insts, p)
		switch e.rec.Status {
		case StatusFailed:
			return
		case StatusDeleting:
			e.s.opts.Routes.Delete(e.rec.Name)
			if len(e.insts) == 0 && len(e.copies) == 0 {
				e.s.forget(e)
				e.deleted = true
			}
			return
		}
		if e.serving() {
			e.convergeComponents()
		}
		if e.failure == failed {
			break
		}
		// A start failed at once: the status machine decides on it.
	}
	e.watchAlarms()
	e.publishRoutes()
}

// planInput is what the plan sees of the endpoint and insts (its variant
// instances).
func (e *endpoint) planInput(insts []*inst) planInput {
	obs := make([]observedInstance, len(insts))
	for i, in := range insts {
		obs[i] = in.observed()
	}
	return planInput{Rec: e.rec, Instances: obs, Failure: e.failure, NotUntil: e.notUntil, Alarming: e.alarming(), Now: e.s.opts.Clock.Now()}
}

func (in *inst) observed() observedInstance {
	return observedInstance{Deployment: in.deployment, Variant: in.variant, Ready: in.ready, Stopping: in.stopping, Started: in.started}
}

// applyInstances stops and starts what the plan says (insts is what it was
// planned on), and asks to be woken when it says; a move of the status
// machine (Next) is reconcile's to apply.
func (e *endpoint) applyInstances(insts []*inst, p instancePlan) {
	for _, i := range p.Stop {
		e.stopWithCopies(insts[i])
	}
	for _, s := range p.Start {
		d := &e.rec.Current
		if d.ID != s.Deployment {
			d = e.rec.Pending
		}
		e.start(d, *d.variant(s.Variant))
	}
	if p.WakeIn > 0 {
		e.wakeIn(p.WakeIn)
	}
}

// move applies a move of the status machine and persists it.
func (e *endpoint) move(t transition) {
	if t.ClearFailure && e.failure != "" {
		e.s.log.Warn("the change in progress failed", "endpoint", e.rec.Name, "reason", e.failure, "then", t.Rec.Status)
	}
	e.s.log.Info("endpoint status", "endpoint", e.rec.Name, "from", e.rec.Status, "to", t.Rec.Status, "reason", t.Rec.FailureReason)
	e.rec.setChangeable(t.Rec)
	if t.ClearFailure {
		e.failure = ""
	}
	if err := e.save(); err != nil {
		e.s.log.Error("persisting endpoint", "endpoint", e.rec.Name, "err", err)
	}
}

func (e *endpoint) live(deploymentID, variantName string) []*inst {
	var out []*inst
	for _, in := range e.insts {
		if in.deployment == deploymentID && in.variant == variantName && !in.stopping {
			out = append(out, in)
		}
	}
	return out
}

// wakeIn reconciles again after d of the endpoint's clock.
func (e *endpoint) wakeIn(d time.Duration) {
	e.s.opts.Clock.AfterFunc(d, func() {
		select {
		case e.poke <- struct{}{}:
		default:
		}
	})
}

func (e *endpoint) start(d *deployment, v variant) {
	typ, _ := runtime.LookupInstanceType(v.InstanceType)
	if v.Serverless != nil {
		typ = serverlessType(*v.Serverless)
	}
	if v.hosts() {
		// A host of inference components: a size for copies to be placed on.
		id := fmt.Sprintf("%s-%s-%s", strings.ToLower(e.rec.Name), strings.ToLower(v.Name), newID())
		in := &inst{rt: newHost(id, e.s.opts.Clock.Now()), deployment: d.ID, variant: v.Name, started: e.s.opts.Clock.Now(), size: typ}
		e.insts = append(e.insts, in)
		go e.watch(in)
		return
	}
	spec := runtime.Spec{
		ID:           fmt.Sprintf("%s-%s-%s", strings.ToLower(e.rec.Name), strings.ToLower(v.Name), newID()),
		Endpoint:     e.rec.Name,
		Variant:      v.Name,
		Deployment:   d.ID,
		Image:        v.Container.Image,
		Environment:  v.Container.Environment,
		ModelDataURL: v.Container.ModelDataUrl,
		InstanceType: typ,
	}
	if v.Container.Mode == "MultiModel" {
		// A prefix: the router loads its models on demand.
		spec.ModelDataURL, spec.MultiModelPrefix = "", v.Container.ModelDataUrl
		// As SageMaker tells a multi-model container.
		spec.Environment = maps.Clone(spec.Environment)
		if spec.Environment == nil {
			spec.Environment = map[string]string{}
		}
		spec.Environment["SAGEMAKER_MULTI_MODEL"] = "true"
	}
	var rt runtime.Instance
	var err error
	if len(v.Containers) > 1 {
		rt, err = e.startGroup(spec, v.Containers)
	} else {
		rt, err = e.s.opts.Runtime.Start(e.s.ctx, spec)
	}
	if err != nil {
		reason := fmt.Sprintf("Failed to start an instance for production variant %s: %v.", v.Name, err)
		e.s.log.Warn("instance could not be started", "endpoint", e.rec.Name, "variant", v.Name, "err", err)
		if e.rec.Status == StatusCreating || e.rec.Status == StatusUpdating {
			if e.failure == "" {
				e.failure = reason
			}
			return
		}
		e.notUntil[v.Name] = e.s.opts.Clock.Now().Add(time.Minute)
		e.wakeIn(time.Minute)
		return
	}
	in := &inst{rt: rt, deployment: d.ID, variant: v.Name, started: e.s.opts.Clock.Now()}
	e.insts = append(e.insts, in)
	go e.watch(in)
}

// startGroup starts the containers of a model of several: as one unit
// where the runtime runs them so (runtime.GroupStarter: a pod), otherwise
// one runtime instance each. Either is labelled apart from the variant's
// deployment (groupDeployment), so that a restarted server knows to gather
// what it adopts of a group (adoptGroups).
func (e *endpoint) startGroup(spec runtime.Spec, containers []Container) (runtime.Instance, error) {
	var specs []runtime.Spec
	hostnames := containerHostnames(containers)
	spec.Deployment = groupDeployment(spec.Deployment)
	for i, c := range containers {
		s := spec
		s.ID = memberID(spec.ID, hostnames[i])
		s.Image, s.Environment, s.ModelDataURL, s.Hostname = c.Image, c.Environment, c.ModelDataUrl, hostnames[i]
		specs = append(specs, s)
	}
	if gs, ok := e.s.opts.Runtime.(runtime.GroupStarter); ok {
		members, err := gs.StartGroup(e.s.ctx, spec, specs)
		if err != nil {
			return nil, err
		}
		return newGroup(spec.ID, members, hostnames), nil
	}
	var members []runtime.Instance
	for _, s := range specs {
		m, err := e.s.opts.Runtime.Start(e.s.ctx, s)
		if err != nil {
			for _, started := range members {
				go started.Stop(context.Background())
			}
			return nil, fmt.Errorf("container %s: %w", s.Hostname, err)
		}
		members = append(members, m)
	}
	return newGroup(spec.ID, members, hostnames), nil
}

// watch forwards an instance's lifecycle to the endpoint's goroutine.
func (e *endpoint) watch(in *inst) {
	select {
	case <-in.rt.Ready():
		select {
		case e.events <- event{eventReady, in}:
		case <-e.exited:
			return
		}
	case <-in.rt.Done():
	}
	<-in.rt.Done()
	select {
	case e.events <- event{eventDone, in}:
	case <-e.exited:
	}
}

// stopWithCopies stops an instance and the copies it hosts.
func (e *endpoint) stopWithCopies(in *inst) {
	if in.stopping {
		return
	}
	e.stop(in)
	for _, cp := range e.copies {
		if cp.host == in && !cp.stopping {
			e.stop(cp)
		}
	}
}

// stop withdraws an instance from routing, lets its requests finish, then
// stops it. The Done event arrives through watch.
func (e *endpoint) stop(in *inst) {
	in.stopping = true
	e.publishRoutes()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), e.s.opts.StopTimeout)
		defer cancel()
		e.s.opts.Routes.Drain(ctx, in.rt.ID())
		in.rt.Stop(ctx)
	}()
}

// shutdown stops every instance when the server stops (a runtime.Detacher's
// keep running); the record stays.
func (e *endpoint) shutdown() {
	e.s.opts.Routes.Delete(e.rec.Name)
	if _, ok := e.s.opts.Runtime.(runtime.Detacher); ok {
		return // pods outlive the server; the next one adopts them
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.s.opts.StopTimeout)
	defer cancel()
	all := append(slices.Clone(e.insts), e.copies...)
	for _, in := range all {
		go in.rt.Stop(ctx)
	}
	for _, in := range all {
		select {
		case <-in.rt.Done():
		case <-ctx.Done():
			return
		}
	}
}

// serving reports whether invocations may reach the endpoint.
func (e *endpoint) serving() bool {
	switch e.rec.Status {
	case StatusInService, StatusUpdating, StatusRollingBack:
		return true
	}
	return false
}

func (e *endpoint) publishRoutes() {
	if !e.serving() {
		e.s.opts.Routes.Delete(e.rec.Name)
		return
	}
	ep := router.Endpoint{Name: e.rec.Name, Async: len(e.rec.AsyncConfig) > 0}
	if e.rec.Current.hostsComponents() {
		ep.Components = e.componentRoutes()
		e.s.opts.Routes.Set(ep)
		return
	}
	for _, v := range e.rec.Current.Variants {
		rv := router.Variant{Name: v.Name, Weight: v.CurrentWeight, Execution: v.Execution}
		if v.Serverless != nil {
			l := v.Serverless.limits()
			rv.Serverless = &l
		}
		if v.Container.Mode == "MultiModel" {
			rv.MultiModel = &router.MultiModel{Prefix: v.Container.ModelDataUrl}
		}
		rv.Instances = e.routed(e.rec.Current.ID, v.Name)
		if ro := e.rec.Rollout; ro != nil && (ro.Step >= 0 || ro.Config.RollingUpdatePolicy != nil) {
			// A deployment shifting traffic: the new fleet takes its share
			// of each variant's; in a rolling one, its instances' share.
			green := e.routed(e.rec.Pending.ID, v.Name)
			share := ro.share(*e.rec.Pending)
			if ro.Config.RollingUpdatePolicy != nil {
				share = float64(len(green)) / float64(max(1, len(green)+len(rv.Instances)))
			}
			rv.Fleet = e.rec.Current.ConfigName
			rv.Green = &router.Fleet{Config: e.rec.Pending.ConfigName, Instances: green, Share: share}
		}
		ep.Variants = append(ep.Variants, rv)
	}
	e.s.opts.Routes.Set(ep)
}

// routed are the healthy instances of a variant of a deployment, as the
// router takes them.
func (e *endpoint) routed(deploymentID, variant string) []router.Instance {
	var out []router.Instance
	for _, in := range e.live(deploymentID, variant) {
		if in.ready {
			ri := router.Instance{ID: in.rt.ID(), Addr: in.rt.Addr()}
			if g, ok := in.rt.(*group); ok {
				for i, m := range g.members {
					ri.Containers = append(ri.Containers, router.Container{Hostname: g.hostnames[i], Addr: m.Addr()})
				}
			}
			out = append(out, ri)
		}
	}
	return out
}

// publishView stores a snapshot for DescribeEndpoint and ListEndpoints.
func (e *endpoint) publishView() {
	r := &e.rec
	v := &EndpointView{
		Name: r.Name, ARN: r.ARN, ConfigName: r.Current.ConfigName, Status: r.Status,
		FailureReason: r.FailureReason, CreationTime: r.CreationTime, LastModifiedTime: r.LastModifiedTime,
		AsyncConfig: r.AsyncConfig,
		Variants:    e.variantViews(&r.Current),
	}
	if r.Pending != nil {
		v.Pending = &PendingView{ConfigName: r.Pending.ConfigName, StartTime: r.Pending.StartTime, Variants: e.variantViews(r.Pending)}
	}
	v.Deployment = r.Deployment
	if ro := r.Rollout; ro != nil && ro.Back {
		// A rollback in batches: the new fleet's variants say which.
		for i := range v.Pending.Variants {
			pv, b := &v.Pending.Variants[i], ro.rollbackBatch(r.Current.Variants[0])
			missing := r.Current.Variants[0].DesiredCount - ro.Old
			pv.Status = append(pv.Status, VariantStatus{Status: "Deleting", StartTime: r.LastModifiedTime,
				Message: fmt.Sprintf("Rolling back in batches of %d: batch %d of %d.", b, ro.Step+1, max(1, (missing+b-1)/b))})
		}
	} else if ro != nil && ro.Config.RollingUpdatePolicy != nil {
		// A rolling deployment: the new fleet's variants say which batch.
		for i := range v.Pending.Variants {
			pv := &v.Pending.Variants[i]
			b := ro.Config.RollingUpdatePolicy.MaximumBatchSize.batch(pv.DesiredCount)
			st := VariantStatus{Status: "Updating", StartTime: ro.Started,
				Message: fmt.Sprintf("Replacing instances in batches of %d: batch %d of %d.", b, ro.Step+1, (pv.DesiredCount+b-1)/b)}
			if !ro.Since.IsZero() {
				st.Status, st.StartTime = "Baking", ro.Since
			}
			pv.Status = append(pv.Status, st)
		}
	} else if ro != nil && ro.Step >= 0 {
		// Traffic shifting: the new fleet's variants say how far, baking.
		p := ro.Config.BlueGreenUpdatePolicy
		v.Share = ro.share(*r.Pending)
		for i := range v.Pending.Variants {
			pv := &v.Pending.Variants[i]
			pv.CurrentWeight = pv.DesiredWeight * v.Share
			pv.Status = append(pv.Status, VariantStatus{Status: "Baking", StartTime: ro.Since,
				Message: fmt.Sprintf("%g%% of the traffic on the new fleet, baking for %d seconds (step %d of %d).", math.Round(v.Share*1000)/10,
					p.TrafficRoutingConfiguration.WaitIntervalInSeconds, ro.Step+1, len(p.shares(r.Pending.capacity())))})
		}
	}
	e.view.Store(v)

	var running []RunningInstance
	for _, in := range e.insts {
		if in.ready && !in.stopping {
			if vr := e.rec.Current.variant(in.variant); vr != nil && in.deployment == e.rec.Current.ID && !vr.hosts() {
				typ, _ := runtime.LookupInstanceType(vr.InstanceType)
				if vr.Serverless != nil {
					typ = serverlessType(*vr.Serverless)
				}
				running = append(running, RunningInstance{Endpoint: r.Name, Variant: in.variant, Type: typ, Instance: in.rt, Serverless: vr.Serverless != nil,
					Environment: vr.Container.Environment})
			}
		}
	}
	for _, in := range e.copies {
		if in.ready && !in.stopping {
			ri := RunningInstance{Endpoint: r.Name, Variant: in.variant, Type: in.host.size, Instance: in.rt, Component: in.component, Needs: in.needs}
			if c := e.component(in.component); c != nil {
				ri.Environment = c.Container.Environment
			}
			running = append(running, ri)
		}
	}
	e.running.Store(&running)
}

func (e *endpoint) variantViews(d *deployment) []VariantView {
	var out []VariantView
	for _, v := range d.Variants {
		vv := VariantView{
			Name: v.Name, InstanceType: v.InstanceType, Images: v.images(),
			ResolvedAt: v.ResolvedAt, CurrentWeight: v.CurrentWeight, DesiredWeight: v.DesiredWeight, DesiredCount: v.DesiredCount,
			RoutingConfig: v.RoutingConfig, Managed: v.Managed, Serverless: v.Serverless, CurrentServerless: v.Serverless,
		}
		if i := slices.IndexFunc(e.rec.Rollback, func(r variant) bool { return r.Name == v.Name }); i >= 0 && d == &e.rec.Current {
			// A capacity change in progress: what it changes is not current yet.
			vv.CurrentServerless = e.rec.Rollback[i].Serverless
		}
		var starting, stopping []*inst
		for _, in := range e.insts {
			if in.deployment != d.ID || in.variant != v.Name {
				continue
			}
			switch {
			case in.stopping:
				stopping = append(stopping, in)
			case in.ready:
				vv.CurrentCount++
			default:
				starting = append(starting, in)
			}
		}
		if v.Serverless != nil && e.rec.Status == StatusInService {
			// Its environments come and go with its invocations: no
			// instance is being created, replaced or deleted.
			starting, stopping = nil, nil
		}
		if len(starting) > 0 {
			status, msg := "Creating", fmt.Sprintf("Launching %d instance(s).", len(starting))
			switch {
			case e.rec.Status == StatusUpdating || e.rec.Status == StatusRollingBack:
				status = "Updating"
			case e.rec.Status == StatusInService:
				msg = fmt.Sprintf("Replacing %d unhealthy instance(s).", len(starting))
			}
			vv.Status = append(vv.Status, VariantStatus{Status: status, Message: msg, StartTime: earliest(starting)})
		}
		if len(stopping) > 0 {
			vv.Status = append(vv.Status, VariantStatus{Status: "Deleting", Message: fmt.Sprintf("Stopping %d instance(s).", len(stopping)), StartTime: earliest(stopping)})
		}
		out = append(out, vv)
	}
	return out
}

func earliest(ins []*inst) time.Time {
	t := ins[0].started
	for _, in := range ins[1:] {
		if in.started.Before(t) {
			t = in.started
		}
	}
	return t
}
