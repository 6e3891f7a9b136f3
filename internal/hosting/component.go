package hosting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ebbscale/ebb/internal/router"
	"github.com/ebbscale/ebb/internal/runtime"
	"github.com/ebbscale/ebb/internal/store"
)

// Inference components: models that share the instances of an endpoint
// whose variant names no model. The variant's instances are hosts (a size,
// no model server of their own); each copy of a component is a model-server
// instance of its own, placed on a host with room for its compute resource
// requirements. The endpoint's goroutine owns its components, as it owns
// its instances, so that placement sees every copy on every host; the
// components are persisted in the endpoint's record.

// Component statuses (SageMaker's InferenceComponentStatus).
const (
	ComponentCreating  = "Creating"
	ComponentInService = "InService"
	ComponentUpdating  = "Updating"
	ComponentFailed    = "Failed"
	ComponentDeleting  = "Deleting"
)

const kindComponent = "inference-component"

// Requirements are a copy's ComputeResourceRequirements.
type Requirements struct {
	NumberOfCpuCoresRequired           float64 `json:",omitempty"`
	MinMemoryRequiredInMb              int
	MaxMemoryRequiredInMb              int     `json:",omitempty"`
	NumberOfAcceleratorDevicesRequired float64 `json:",omitempty"`
}

// fits reports whether a copy needing r fits in cpu cores, mem MiB and
// gpus accelerators (a fraction of an accelerator takes a whole one).
func (r Requirements) fits(cpu float64, mem, gpus int) bool {
	return r.NumberOfCpuCoresRequired <= cpu+1e-9 && r.MinMemoryRequiredInMb <= mem &&
		int(math.Ceil(r.NumberOfAcceleratorDevicesRequired)) <= gpus
}

// component is an inference component as persisted in its endpoint's record.
type component struct {
	Name             string    `json:"name"`
	ARN              string    `json:"arn"`
	Variant          string    `json:"variant"`
	Status           string    `json:"status"`
	FailureReason    string    `json:"failureReason,omitempty"`
	CreationTime     time.Time `json:"creationTime"`
	LastModifiedTime time.Time `json:"lastModifiedTime"`
	componentSpec
	DesiredCopies int `json:"desiredCopies"`
	// LastGeneration is the highest generation ever given, so that a
	// rolled-back generation's number is never given again (on Kubernetes
	// its Deployment may still be going).
	LastGeneration int `json:"lastGeneration,omitempty"`
	// Rollout is the rolling update in progress (copyrollout.go);
	// Deployment is the last DeploymentConfig given.
	Rollout    *copyRollout               `json:"rollout,omitempty"`
	Deployment *ComponentDeploymentConfig `json:"deployment,omitempty"`
	// Discard is the generation a rollback left, whose copies go as soon
	// as a copy of the restored one serves; RollbackReason says why it
	// was rolled back.
	Discard        int    `json:"discard,omitempty"`
	RollbackReason string `json:"rollbackReason,omitempty"`
	// RollbackBatch, if set, brings the restored generation's copies back
	// that many at a time (RollbackMaximumBatchSize), the discarded ones
	// serving until replaced.
	RollbackBatch int `json:"rollbackBatch,omitempty"`
}

// componentSpec is what a component's copies run. Generation counts
// specification changes: copies of an older generation are replaced
// (UpdateInferenceComponent), one at a time or, with a DeploymentConfig,
// in batches.
type componentSpec struct {
	ModelName  string          `json:"modelName,omitempty"`
	Container  Container       `json:"container"`
	ResolvedAt time.Time       `json:"resolvedAt"`
	Needs      Requirements    `json:"needs"`
	Generation int             `json:"generation"`
	Spec       json.RawMessage `json:"spec"` // the Specification as given
}

// ComponentView is a snapshot of an inference component for
// DescribeInferenceComponent and ListInferenceComponents.
type ComponentView struct {
	Name, ARN, Endpoint, EndpointARN, Variant string
	Status, FailureReason                     string
	CreationTime, LastModifiedTime            time.Time
	ModelName                                 string
	Container                                 Container
	ResolvedAt                                time.Time
	Needs                                     Requirements
	DesiredCopies, CurrentCopies              int
	InstanceType                              string
	LastDeploymentConfig                      *ComponentDeploymentConfig
	// Rolling is the rolling update in progress, if any.
	Rolling *ComponentRolling
}

// ComponentRolling is a component's rolling update as it runs: the batch
// (from 1) of how many, and the healthy copies of the new and of the
// previous specification.
type ComponentRolling struct {
	Batch, Batches            int
	NewCopies, PreviousCopies int
	Alarms                    []string
	Started                   time.Time
}

// ComponentInput is the request of CreateInferenceComponent and
// UpdateInferenceComponent.
type ComponentInput struct {
	InferenceComponentName string
	EndpointName           string
	VariantName            string
	Specification          *struct {
		ModelName string
		Container *struct {
			Image       string
			ArtifactUrl string
			Environment map[string]string
		}
		ComputeResourceRequirements *Requirements
	}
	RuntimeConfig *struct{ CopyCount *int }
	// DeploymentConfig rolls a new Specification out in batches
	// (UpdateInferenceComponent only; copyrollout.go).
	DeploymentConfig *ComponentDeploymentConfig
	Tags             []store.Tag
}

// ComponentARN is the ARN of an inference component.
func (s *Service) ComponentARN(name string) string { return s.arn(kindComponent, name) }

// resolveSpec turns a component's Specification into what its copies run.
func (s *Service) resolveSpec(ctx context.Context, c *component, req ComponentInput, hostType string) error {
	spec := req.Specification
	if spec == nil {
		return errorf(ErrInvalid, "Specification is required.")
	}
	switch {
	case spec.ModelName != "" && spec.Container != nil:
		return errorf(ErrInvalid, "Specify either ModelName or Container in the Specification, not both.")
	case spec.ModelName != "":
		m, err := s.DescribeModel(ctx, spec.ModelName)
		if err != nil {
			return err
		}
		var mr ModelSpec
		if err := json.Unmarshal(m.Request, &mr); err != nil {
			return err
		}
		c.ModelName, c.Container = m.Name, Container{}
		c.Container, _ = mr.container()
	case spec.Container != nil && spec.Container.Image != "":
		c.ModelName = ""
		c.Container = Container{Image: spec.Container.Image, ModelDataUrl: spec.Container.ArtifactUrl, Environment: spec.Container.Environment}
	default:
		return errorf(ErrInvalid, "The Specification must give a ModelName or a Container with an Image.")
	}
	if spec.ComputeResourceRequirements == nil {
		return errorf(ErrInvalid, "ComputeResourceRequirements is required in the Specification of an inference component on an endpoint with instances.")
	}
	c.Needs = *spec.ComputeResourceRequirements
	if c.Needs.MaxMemoryRequiredInMb > 0 && c.Needs.MaxMemoryRequiredInMb < c.Needs.MinMemoryRequiredInMb {
		return errorf(ErrInvalid, "MaxMemoryRequiredInMb (%d) must not be less than MinMemoryRequiredInMb (%d).", c.Needs.MaxMemoryRequiredInMb, c.Needs.MinMemoryRequiredInMb)
	}
	typ, err := runtime.LookupInstanceType(hostType)
	if err != nil {
		return errorf(ErrInvalid, "%v", err)
	}
	if !c.Needs.fits(float64(typ.VCPUs), typ.MemoryMiB, typ.GPUs) {
		return errorf(ErrInvalid, "The compute resource requirements of inference component %s (%g CPU cores, %d MiB of memory, %g accelerators) exceed what one %s instance has (%d vCPUs, %d MiB, %d accelerators): a copy could never be placed.",
			c.Name, c.Needs.NumberOfCpuCoresRequired, c.Needs.MinMemoryRequiredInMb, c.Needs.NumberOfAcceleratorDevicesRequired, hostType, typ.VCPUs, typ.MemoryMiB, typ.GPUs)
	}
	c.Spec, _ = json.Marshal(spec)
	c.ResolvedAt = s.opts.Clock.Now()
	return nil
}

// CreateInferenceComponent creates an inference component on an endpoint
// whose variant hosts components, and starts placing its copies.
func (s *Service) CreateInferenceComponent(ctx context.Context, req ComponentInput) (string, error) {
	if err := s.runs(runtime.InferenceComponents); err != nil {
		return "", err
	}
	if err := checkTags(req.Tags); err != nil {
		return "", err
	}
	arn := s.ComponentARN(req.InferenceComponentName)
	if req.RuntimeConfig == nil || req.RuntimeConfig.CopyCount == nil {
		return "", errorf(ErrInvalid, "RuntimeConfig.CopyCount is required for an inference component on an endpoint with instances.")
	}
	e, err := s.lookup(req.EndpointName)
	if err != nil {
		return "", err
	}
	now := s.opts.Clock.Now()
	c := component{Name: req.InferenceComponentName, ARN: arn, Variant: req.VariantName, Status: ComponentCreating,
		CreationTime: now, LastModifiedTime: now, DesiredCopies: *req.RuntimeConfig.CopyCount}
	s.mu.Lock()
	if _, taken := s.components[strings.ToLower(c.Name)]; taken {
		s.mu.Unlock()
		return "", errorf(ErrExists, "Cannot create already existing inference component %q.", arn)
	}
	s.components[strings.ToLower(c.Name)] = e // reserved; released below on failure
	s.mu.Unlock()
	err = e.do(ctx, func() error {
		if e.rec.Status != StatusInService && e.rec.Status != StatusUpdating {
			return errorf(ErrInvalid, "Endpoint %q is in status %s; inference components can be created on an endpoint that is InService.", e.rec.ARN, e.rec.Status)
		}
		v := e.rec.Current.variant(c.Variant)
		if v == nil {
			return errorf(ErrInvalid, "Variant %s does not exist in endpoint %q.", c.Variant, e.rec.ARN)
		}
		if !v.hosts() {
			return errorf(ErrInvalid, "Variant %s of endpoint %q serves model %s: inference components need an endpoint configuration whose variant names no model.", c.Variant, e.rec.ARN, v.ModelName)
		}
		if err := s.resolveSpec(ctx, &c, req, v.InstanceType); err != nil {
			return err
		}
		e.rec.Components = append(e.rec.Components, c)
		return nil
	})
	if err == nil {
		err = s.addTags(ctx, arn, req.Tags)
	}
	if err != nil {
		s.mu.Lock()
		if e2 := s.components[strings.ToLower(c.Name)]; e2 == e && e.component(c.Name) == nil {
			delete(s.components, strings.ToLower(c.Name))
		}
		s.mu.Unlock()
		return "", err
	}
	s.log.Info("creating inference component", "component", c.Name, "endpoint", e.rec.Name, "copies", c.DesiredCopies)
	return arn, nil
}

// lookupComponent returns the endpoint that holds a component.
func (s *Service) lookupComponent(name string) (*endpoint, error) {
	s.mu.Lock()
	e := s.components[strings.ToLower(name)]
	s.mu.Unlock()
	if e == nil {
		return nil, errorf(ErrNotFound, "Could not find inference component %q.", s.ComponentARN(name))
	}
	return e, nil
}

// DescribeInferenceComponent returns a snapshot of a component.
func (s *Service) DescribeInferenceComponent(ctx context.Context, name string) (ComponentView, error) {
	e, err := s.lookupComponent(name)
	if err != nil {
		return ComponentView{}, err
	}
	for _, v := range *e.components.Load() {
		if strings.EqualFold(v.Name, name) {
			return v, nil
		}
	}
	return ComponentView{}, errorf(ErrNotFound, "Could not find inference component %q.", s.ComponentARN(name))
}

// ComponentQuery filters ListInferenceComponents beyond ListQuery.
type ComponentQuery struct {
	ListQuery
	EndpointNameEquals, VariantNameEquals string
}

// ListInferenceComponents lists components.
func (s *Service) ListInferenceComponents(ctx context.Context, q ComponentQuery) ([]ComponentView, string, error) {
	s.mu.Lock()
	var all []ComponentView
	for _, e := range s.endpoints {
		for _, v := range *e.components.Load() {
			if (q.EndpointNameEquals == "" || strings.EqualFold(v.Endpoint, q.EndpointNameEquals)) &&
				(q.VariantNameEquals == "" || v.Variant == q.VariantNameEquals) {
				all = append(all, v)
			}
		}
	}
	s.mu.Unlock()
	return page(all, q.ListQuery, func(v ComponentView) item { return item{v.Name, v.CreationTime, v.LastModifiedTime, v.Status} })
}

// UpdateInferenceComponentRuntimeConfig sets a component's desired copy
// count (Application Auto Scaling scales components through it).
func (s *Service) UpdateInferenceComponentRuntimeConfig(ctx context.Context, name string, copies int) (string, error) {
	e, err := s.lookupComponent(name)
	if err != nil {
		return "", err
	}
	arn := s.ComponentARN(name)
	return arn, e.do(ctx, func() error {
		c, err := e.changeable(name)
		if err != nil {
			return err
		}
		c.DesiredCopies = copies
		c.Status, c.FailureReason, c.LastModifiedTime = ComponentUpdating, "", s.opts.Clock.Now()
		return nil
	})
}

// UpdateInferenceComponent changes a component's specification and its
// copy count. Without a DeploymentConfig the new copies start where there
// is room, an old copy stopped for each that finds none once the new ones
// are healthy, and the old generation goes once the new one is complete;
// with one, the copies are replaced in batches with auto-rollback
// (copyrollout.go).
func (s *Service) UpdateInferenceComponent(ctx context.Context, req ComponentInput) (string, error) {
	e, err := s.lookupComponent(req.InferenceComponentName)
	if err != nil {
		return "", err
	}
	arn := s.ComponentARN(req.InferenceComponentName)
	return arn, e.do(ctx, func() error {
		c, err := e.changeable(req.InferenceComponentName)
		if err != nil {
			return err
		}
		next := *c
		if req.Specification != nil {
			v := e.rec.Current.variant(c.Variant)
			if v == nil {
				return errorf(ErrInvalid, "Variant %s no longer exists in endpoint %q.", c.Variant, e.rec.ARN)
			}
			if err := s.resolveSpec(ctx, &next, req, v.InstanceType); err != nil {
				return err
			}
			next.Generation = max(c.Generation, c.LastGeneration) + 1
			next.LastGeneration = next.Generation
		}
		if req.RuntimeConfig != nil && req.RuntimeConfig.CopyCount != nil {
			next.DesiredCopies = *req.RuntimeConfig.CopyCount
		}
		now := s.opts.Clock.Now()
		if cfg := req.DeploymentConfig; cfg != nil {
			if err := checkComponentDeployment(*cfg, next.DesiredCopies); err != nil {
				return err
			}
			if err := s.checkAlarms(cfg.alarms()); err != nil {
				return err
			}
			next.Deployment = cfg
			// It governs a new specification's rollout; a change of the
			// copy count alone has nothing to roll, and the configuration
			// is still the component's LastDeploymentConfig.
			if req.Specification != nil {
				next.Rollout = &copyRollout{Config: *cfg, Previous: c.componentSpec, Started: now}
			}
		}
		next.Status, next.FailureReason, next.LastModifiedTime = ComponentUpdating, "", now
		next.Discard, next.RollbackReason, next.RollbackBatch = 0, "", 0
		delete(e.copyFailure, c.Name)
		*c = next
		return nil
	})
}

// DeleteInferenceComponent stops a component's copies and deletes it.
func (s *Service) DeleteInferenceComponent(ctx context.Context, name string) error {
	e, err := s.lookupComponent(name)
	if err != nil {
		return err
	}
	return e.do(ctx, func() error {
		c := e.component(name)
		if c == nil {
			return errorf(ErrNotFound, "Could not find inference component %q.", s.ComponentARN(name))
		}
		if c.Status != ComponentDeleting {
			c.Status, c.LastModifiedTime = ComponentDeleting, s.opts.Clock.Now()
			s.log.Info("deleting inference component", "component", c.Name, "endpoint", e.rec.Name)
		}
		return nil
	})
}

// component returns the record of a component of e, or nil.
func (e *endpoint) component(name string) *component {
	for i := range e.rec.Components {
		if strings.EqualFold(e.rec.Components[i].Name, name) {
			return &e.rec.Components[i]
		}
	}
	return nil
}

// changeable returns a component that an update may change now.
func (e *endpoint) changeable(name string) (*component, error) {
	c := e.component(name)
	switch {
	case c == nil:
		return nil, errorf(ErrNotFound, "Could not find inference component %q.", e.s.ComponentARN(name))
	case c.Status == ComponentCreating || c.Status == ComponentUpdating || c.Status == ComponentDeleting:
		return nil, errorf(ErrInProgress, "Cannot update inference component %q while it is %s.", c.ARN, c.Status)
	}
	return c, nil
}

// hosts reports whether a variant hosts inference components: it names no
// model, so its instances are hosts.
func (v *variant) hosts() bool { return v.ModelName == "" }

// copiesOf lists the copies of c that are not stopping.
func (e *endpoint) copiesOf(c *component) []*inst {
	var out []*inst
	for _, in := range e.copies {
		if in.component == c.Name && !in.stopping {
			out = append(out, in)
		}
	}
	return out
}

// hostsOf lists the healthy hosts of a variant of the current deployment,
// oldest first.
func (e *endpoint) hostsOf(variant string) []*inst {
	var out []*inst
	for _, in := range e.live(e.rec.Current.ID, variant) {
		if in.ready {
			out = append(out, in)
		}
	}
	slices.SortStableFunc(out, func(a, b *inst) int { return a.started.Compare(b.started) })
	return out
}

// convergeComponents observes the components' copies and hosts, plans
// (planCopies) and applies the plan.
func (e *endpoint) convergeComponents() {
	e.advanceComponents()
	in, copies, hosts := e.observeCopies()
	p := planCopies(in)
	for _, i := range p.Stop {
		e.stop(copies[i])
	}
	for _, s := range p.Start {
		e.startCopy(&e.rec.Components[s.Component], hosts[s.Host])
	}
	for i, reason := range p.Reasons {
		e.rec.Components[i].FailureReason = reason
	}
	for _, i := range p.InService {
		c := &e.rec.Components[i]
		e.s.log.Info("inference component in service", "component", c.Name, "copies", c.DesiredCopies, "waiting", p.Waiting[c.Variant])
		c.Status, c.LastModifiedTime = ComponentInService, in.Now
		e.saveOrLog()
	}
	for _, i := range p.Remove {
		e.removeComponent(i)
	}
	e.manageHosts(p.Waiting)
}

// advanceComponents moves the rolling updates of components
// (advanceCopies) on their healthy copies of the new specification, the
// failures of those copies and their alarms.
func (e *endpoint) advanceComponents() {
	now := e.s.opts.Clock.Now()
	for i := range e.rec.Components {
		c := &e.rec.Components[i]
		if c.Rollout == nil || c.Status != ComponentUpdating {
			continue
		}
		ready := 0
		for _, in := range e.copiesOf(c) {
			if in.ready && in.generation == c.Generation {
				ready++
			}
		}
		next, changed, wake := advanceCopies(*c, ready, e.copyFailure[c.Name], e.inAlarm(c.Rollout.Config.alarms()), now)
		if wake > 0 {
			e.wakeIn(wake)
		}
		if !changed {
			continue
		}
		switch {
		case next.RollbackReason != "" && next.Rollout == nil:
			e.s.log.Warn("inference component update rolled back", "component", c.Name, "endpoint", e.rec.Name, "reason", next.RollbackReason)
			delete(e.copyFailure, c.Name)
		case next.Rollout == nil:
			e.s.log.Info("inference component update baked", "component", c.Name, "endpoint", e.rec.Name)
		case next.Rollout.Step != c.Rollout.Step:
			e.s.log.Info("inference component update: next batch", "component", c.Name, "endpoint", e.rec.Name, "batch", next.Rollout.Step+1)
		}
		*c = next
		e.saveOrLog()
	}
}

// observeCopies is what planCopies decides on, with the copies and hosts
// its indexes name.
func (e *endpoint) observeCopies() (copiesInput, []*inst, []*inst) {
	in := copiesInput{Components: e.rec.Components, Stopping: map[string]int{}, CanGrow: map[string]bool{},
		NotUntil: map[string]time.Time{}, Now: e.s.opts.Clock.Now()}
	var hosts []*inst
	for _, v := range e.rec.Current.Variants {
		if v.hosts() {
			for _, h := range e.hostsOf(v.Name) {
				hosts = append(hosts, h)
				in.Hosts = append(in.Hosts, copyHost{Variant: v.Name, Size: h.size})
			}
			in.CanGrow[v.Name] = e.canGrow(v.Name)
		}
	}
	var copies []*inst
	for _, c := range e.copies {
		if c.stopping {
			in.Stopping[c.component]++
			continue
		}
		copies = append(copies, c)
		in.Copies = append(in.Copies, observedCopy{Component: c.component, Generation: c.generation, Host: slices.Index(hosts, c.host),
			HostGone: c.host.stopping || !slices.Contains(e.insts, c.host), Needs: c.needs, Ready: c.ready, Started: c.started})
	}
	for _, c := range e.rec.Components {
		in.NotUntil[c.Name] = e.notUntil["component:"+c.Name]
	}
	return in, copies, hosts
}

// canGrow reports whether instances may still come for a variant's copies:
// some are starting, or managed instance scaling may add one.
func (e *endpoint) canGrow(variant string) bool {
	v := e.rec.Current.variant(variant)
	if v == nil {
		return false
	}
	hosts := e.live(e.rec.Current.ID, variant)
	return !allReady(hosts) || len(hosts) < v.DesiredCount || v.Managed.enabled() && v.DesiredCount < *v.Managed.MaxInstanceCount
}

// manageHosts sizes the variants with managed instance scaling: one more
// instance while copies find no room (up to MaxInstanceCount), and the
// instances without copies removed once every copy is placed (down to
// MinInstanceCount), so that idle components take their instances to zero.
// A variant that has never hosted a component keeps its instances:
// SageMaker starts InitialInstanceCount whatever the MinInstanceCount, and
// sizes the fleet to the components once there are some (and after they
// are gone).
func (e *endpoint) manageHosts(pending map[string]int) {
	changed := false
	for i := range e.rec.Current.Variants {
		v := &e.rec.Current.Variants[i]
		if !v.hosts() || !v.Managed.enabled() {
			continue
		}
		if !v.Hosted && slices.ContainsFunc(e.rec.Components, func(c component) bool { return c.Variant == v.Name }) {
			v.Hosted, changed = true, true // saved below, so a restart remembers it
		}
		if !v.Hosted {
			continue
		}
		hosts := e.live(e.rec.Current.ID, v.Name)
		state := make([]managedHost, len(hosts))
		for i, h := range hosts {
			state[i] = managedHost{Ready: h.ready, Started: h.started, HasCopies: slices.ContainsFunc(e.copies, func(c *inst) bool { return c.host == h })}
		}
		count, stop := sizeHosts(v.DesiredCount, *v.Managed.MinInstanceCount, *v.Managed.MaxInstanceCount, state, pending[v.Name])
		if count > v.DesiredCount {
			e.s.log.Info("adding an instance for inference component copies", "endpoint", e.rec.Name, "variant", v.Name, "instances", count)
		}
		for _, i := range stop {
			e.stop(hosts[i])
			e.s.log.Info("removing an instance without inference component copies", "endpoint", e.rec.Name, "variant", v.Name, "instance", hosts[i].rt.ID())
		}
		if count != v.DesiredCount {
			v.DesiredCount, changed = count, true
		}
	}
	if changed {
		insts := slices.Clone(e.insts)
		// Starts and stops only: the status machine moves on the next
		// reconcile.
		e.applyInstances(insts, planInstances(e.planInput(insts)))
		e.saveOrLog()
	}
}

func allReady(ins []*inst) bool {
	for _, in := range ins {
		if !in.ready {
			return false
		}
	}
	return true
}

// removeComponent forgets a deleted component once its copies are gone.
func (e *endpoint) removeComponent(i int) {
	c := e.rec.Components[i]
	e.rec.Components = slices.Delete(e.rec.Components, i, i+1)
	delete(e.copyFailure, c.Name)
	e.saveOrLog()
	e.releaseRetired(copyDeployment(c.Name, c.Generation))
	e.s.mu.Lock()
	if e.s.components[strings.ToLower(c.Name)] == e {
		delete(e.s.components, strings.ToLower(c.Name))
	}
	e.s.mu.Unlock()
	ctx := context.Background()
	if tags, err := e.s.opts.Store.Tags(ctx, c.ARN); err == nil && len(tags) > 0 {
		keys := make([]string, len(tags))
		for i, t := range tags {
			keys[i] = t.Key
		}
		store.Report(e.s.log, "hosting", "delete inference component tags", e.s.opts.Store.DeleteTags(ctx, c.ARN, keys))
	}
	if e.s.opts.Deleted != nil {
		go func() { e.s.opts.Deleted <- "inference-component/" + c.Name }()
	}
	e.s.log.Info("inference component deleted", "component", c.Name, "endpoint", e.rec.Name)
}

func (e *endpoint) saveOrLog() {
	if err := e.save(); err != nil {
		e.s.log.Error("persisting endpoint", "endpoint", e.rec.Name, "err", err)
	}
}

// adoptCopies takes over the copies of inference components that a
// previous server left running (also after kill -9), so that a restart
// costs no copy its warm model, and returns the other adopted instances.
// The endpoint's hosts are made at once (they are sizes, not machines) and
// each copy goes to the first with room, oldest first, as placement would
// have put it; a copy of no live component, or for which no host has room,
// is stopped. An adopted copy of an older generation keeps that generation
// (an update in progress goes on replacing it) and is counted with the
// component's current requirements, the only ones ebb keeps.
func (e *endpoint) adoptCopies(adopted []runtime.Adopted) []runtime.Adopted {
	var rest, copies []runtime.Adopted
	for _, a := range adopted {
		if _, _, ok := parseCopyDeployment(a.Deployment); ok {
			copies = append(copies, a)
		} else {
			rest = append(rest, a)
		}
	}
	if len(copies) == 0 {
		return rest
	}
	d := &e.rec.Current
	var hosts []*inst
	for _, v := range d.Variants {
		if v.hosts() {
			for range v.DesiredCount {
				e.start(d, v)
				hosts = append(hosts, e.insts[len(e.insts)-1])
			}
		}
	}
	slices.SortFunc(copies, func(a, b runtime.Adopted) int { return a.Started.Compare(b.Started) })
	slots := make([]hostSlot, len(hosts))
	for i, h := range hosts {
		slots[i] = hostSlot{Variant: h.variant, Size: h.size}
	}
	want := make([]adoptedCopy, len(copies))
	gens := make([]int, len(copies))
	comps := make([]*component, len(copies))
	for i, a := range copies {
		name, gen, _ := parseCopyDeployment(a.Deployment)
		if c := e.component(name); c != nil && c.Status != ComponentDeleting && c.Status != ComponentFailed {
			comps[i], gens[i], want[i] = c, gen, adoptedCopy{Variant: c.Variant, Needs: c.Needs}
		}
	}
	now := e.s.opts.Clock.Now()
	for i, host := range placeAdopted(slots, want) {
		a, c := copies[i], comps[i]
		if host < 0 {
			e.s.log.Info("stopping an adopted copy no component wants or has room for", "endpoint", e.rec.Name, "instance", a.Instance.ID(), "deployment", a.Deployment)
			go a.Instance.Stop(context.Background())
			continue
		}
		in := &inst{rt: a.Instance, deployment: a.Deployment, variant: c.Variant, started: now, readyAt: now, ready: true,
			component: c.Name, host: hosts[host], needs: c.Needs, generation: gens[i]}
		e.copies = append(e.copies, in)
		go e.watch(in)
		e.s.log.Info("adopted an inference component copy", "endpoint", e.rec.Name, "component", c.Name, "instance", a.Instance.ID())
	}
	return rest
}

// copyDeployment is the deployment label of the copies of a component's
// generation.
func copyDeployment(name string, generation int) string {
	return fmt.Sprintf("component-%s-%d", strings.ToLower(name), generation)
}

// parseCopyDeployment reads copyDeployment's label back; ok is false for
// any other.
func parseCopyDeployment(label string) (name string, generation int, ok bool) {
	rest, found := strings.CutPrefix(label, "component-")
	i := strings.LastIndexByte(rest, '-')
	if !found || i <= 0 {
		return "", 0, false
	}
	g, err := strconv.Atoi(rest[i+1:])
	if err != nil {
		return "", 0, false
	}
	return rest[:i], g, true
}

// startCopy starts one copy of c on host.
func (e *endpoint) startCopy(c *component, host *inst) *inst {
	mem := c.Needs.MaxMemoryRequiredInMb
	if mem == 0 {
		mem = c.Needs.MinMemoryRequiredInMb
	}
	spec := runtime.Spec{
		ID:       fmt.Sprintf("%s-%s", strings.ToLower(c.Name), newID()),
		Endpoint: e.rec.Name, Variant: c.Variant,
		// Not the variant's deployment: the component's generation (a
		// restarted server adopts the copies it finds by it; on Kubernetes,
		// one Deployment per generation).
		Deployment:   copyDeployment(c.Name, c.Generation),
		Image:        c.Container.Image,
		Environment:  c.Container.Environment,
		ModelDataURL: c.Container.ModelDataUrl,
		InstanceType: runtime.InstanceType{Name: host.size.Name, VCPUs: max(1, int(math.Ceil(c.Needs.NumberOfCpuCoresRequired))), MemoryMiB: mem,
			GPUs: int(math.Ceil(c.Needs.NumberOfAcceleratorDevicesRequired))},
		Cores: c.Needs.NumberOfCpuCoresRequired,
	}
	rt, err := e.s.opts.Runtime.Start(e.s.ctx, spec)
	if err != nil {
		e.copyFailed(c.Name, c.Generation, fmt.Errorf("%w: %v", runtime.ErrLaunch, err), false)
		return nil
	}
	in := &inst{rt: rt, deployment: spec.Deployment, variant: c.Variant, started: e.s.opts.Clock.Now(),
		component: c.Name, host: host, needs: c.Needs, generation: c.Generation}
	e.copies = append(e.copies, in)
	go e.watch(in)
	return in
}

// copyFailed records a copy that ended on its own or could not start: a
// component being created fails if it never had a healthy copy; otherwise
// the copy is replaced, with backoff while the component keeps failing.
func (e *endpoint) copyFailed(name string, generation int, err error, wasReady bool) {
	c := e.component(name)
	if c == nil {
		return
	}
	e.s.log.Warn("inference component copy failed", "component", name, "endpoint", e.rec.Name, "err", err)
	if c.Rollout != nil && generation == c.Generation {
		e.copyFailure[name] = err.Error() // rolls the update back
	}
	key := "component:" + name
	if c.Status == ComponentCreating && !wasReady && errors.Is(err, runtime.ErrLaunch) {
		c.Status, c.FailureReason, c.LastModifiedTime = ComponentFailed, fmt.Sprintf("Failed to start a copy of inference component %s: %v.", name, err), e.s.opts.Clock.Now()
		e.saveOrLog()
		return
	}
	n := e.failures[key] + 1
	e.failures[key] = n
	delay := min(time.Second<<min(n-1, 8), 5*time.Minute)
	e.notUntil[key] = e.s.opts.Clock.Now().Add(delay)
	e.s.opts.Clock.AfterFunc(delay, func() {
		select {
		case e.poke <- struct{}{}:
		default:
		}
	})
}

// componentRoutes are the routes of an endpoint's components: each with
// its healthy copies.
func (e *endpoint) componentRoutes() []router.Component {
	var out []router.Component
	for i := range e.rec.Components {
		c := &e.rec.Components[i]
		if c.Status == ComponentDeleting {
			continue
		}
		rc := router.Component{Name: c.Name, Variant: c.Variant}
		for _, in := range e.copiesOf(c) {
			if in.ready {
				rc.Copies = append(rc.Copies, router.Instance{ID: in.rt.ID(), Addr: in.rt.Addr()})
			}
		}
		out = append(out, rc)
	}
	return out
}

// publishComponents stores the snapshot Describe and List read.
func (e *endpoint) publishComponents() {
	views := make([]ComponentView, 0, len(e.rec.Components))
	for i := range e.rec.Components {
		c := &e.rec.Components[i]
		v := ComponentView{Name: c.Name, ARN: c.ARN, Endpoint: e.rec.Name, EndpointARN: e.rec.ARN, Variant: c.Variant,
			Status: c.Status, FailureReason: c.FailureReason, CreationTime: c.CreationTime, LastModifiedTime: c.LastModifiedTime,
			ModelName: c.ModelName, Container: c.Container, ResolvedAt: c.ResolvedAt, Needs: c.Needs, DesiredCopies: c.DesiredCopies,
			LastDeploymentConfig: c.Deployment}
		if v.FailureReason == "" {
			v.FailureReason = c.RollbackReason
		}
		if vr := e.rec.Current.variant(c.Variant); vr != nil {
			v.InstanceType = vr.InstanceType
		}
		if ro := c.Rollout; ro != nil {
			b := ro.Config.RollingUpdatePolicy.MaximumBatchSize.batch(c.DesiredCopies)
			v.Rolling = &ComponentRolling{Batch: ro.Step + 1, Batches: (c.DesiredCopies + b - 1) / b, Alarms: ro.Config.alarms(), Started: ro.Started}
		}
		for _, in := range e.copiesOf(c) {
			if !in.ready {
				continue
			}
			v.CurrentCopies++
			if r := v.Rolling; r != nil && in.generation == c.Generation {
				r.NewCopies++
			} else if r != nil {
				r.PreviousCopies++
			}
		}
		views = append(views, v)
	}
	e.components.Store(&views)
}

// hostInstance is an instance of a variant that hosts inference
// components: it has a size and no model server, so it is ready at once
// and ends when stopped.
type hostInstance struct {
	id    string
	ready chan struct{}
	done  chan struct{}
	at    time.Time
}

func newHost(id string, now time.Time) *hostInstance {
	h := &hostInstance{id: id, ready: make(chan struct{}), done: make(chan struct{}), at: now}
	close(h.ready)
	return h
}

func (h *hostInstance) ID() string             { return h.id }
func (h *hostInstance) Addr() string           { return "" }
func (h *hostInstance) Ready() <-chan struct{} { return h.ready }
func (h *hostInstance) Done() <-chan struct{}  { return h.done }
func (h *hostInstance) Err() error             { return nil }
func (h *hostInstance) Stats() (runtime.Stats, error) {
	return runtime.Stats{At: h.at, NoUsage: true, NoDisk: true}, nil
}
func (h *hostInstance) Stop(context.Context) error {
	select {
	case <-h.done:
	default:
		close(h.done)
	}
	return nil
}
