package hosting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ebbscale/ebb/internal/arn"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ebbscale/ebb/internal/clock"
	"github.com/ebbscale/ebb/internal/router"
	"github.com/ebbscale/ebb/internal/runtime"
	"github.com/ebbscale/ebb/internal/store"
)

// Store is the persistence hosting needs.
type Store interface {
	store.Documents
	store.Tags
}

// Routes is where hosting publishes the instances that may take traffic.
type Routes interface {
	Set(router.Endpoint)
	Delete(name string)
	// Drain waits until the instance, already withdrawn by Set, has no
	// request in flight.
	Drain(ctx context.Context, instanceID string) error
}

// DefaultInstanceLimit is the default account quota of instances per
// instance type, the analogue of SageMaker's "<type> for endpoint usage".
const DefaultInstanceLimit = 20

// Options configure a Service.
type Options struct {
	Store     Store
	Runtime   runtime.Runtime
	Routes    Routes
	Clock     clock.Clock
	Region    string
	AccountID string
	// InstanceLimit caps the instances of each instance type across all
	// endpoints (ResourceLimitExceeded beyond it).
	InstanceLimit int
	// StopTimeout bounds how long stopping one instance may take, drain
	// included.
	StopTimeout time.Duration
	// Deleted, if not nil, receives the name of each endpoint once it is
	// gone, and inference-component/<name> for each inference component
	// (the autoscaler deregisters their targets); sent from a goroutine of
	// its own, so a slow reader never holds an endpoint.
	Deleted chan<- string
	// RuntimeName is --runtime's value, named where a request asks for a
	// feature the runtime does not run (runtime.Featured).
	RuntimeName string
	Logger      *slog.Logger
	// PeakInFlight is the most invocations the router held at once for a
	// serverless variant since the last call (router.PeakInFlight), and
	// Demand where it asks for environments; ServerlessIdle how long an
	// environment stays after it was last needed (default
	// DefaultServerlessIdle).
	PeakInFlight   func(endpoint, variant string) int
	Demand         <-chan router.Demand
	ServerlessIdle time.Duration
	// AlarmState reads a CloudWatch alarm's state (OK, ALARM,
	// INSUFFICIENT_DATA) for deployments' auto-rollback; nil: none is
	// watched, and DeploymentConfig's alarms are refused.
	AlarmState func(name string) (state string, ok bool)
}

// Service is the hosting control plane.
type Service struct {
	opts Options
	log  *slog.Logger

	mu         sync.Mutex // guards endpoints and components
	endpoints  map[string]*endpoint
	components map[string]*endpoint // lower-case component name -> its endpoint
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup

	startupMu sync.Mutex
	startups  []Startup // not yet collected (Startups)
}

// New returns a Service; Start brings persisted endpoints back.
func New(opts Options) *Service {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.InstanceLimit == 0 {
		opts.InstanceLimit = DefaultInstanceLimit
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = 2 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ServerlessIdle == 0 {
		opts.ServerlessIdle = DefaultServerlessIdle
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{opts: opts, log: opts.Logger, endpoints: map[string]*endpoint{}, components: map[string]*endpoint{}, ctx: ctx, cancel: cancel}
}

// Start resumes every persisted endpoint: each returns to its desired
// instance count and finishes whatever operation was in progress.
func (s *Service) Start(ctx context.Context) error {
	docs, err := s.opts.Store.List(ctx, kindEndpoint)
	if err != nil {
		return err
	}
	// Instances a killed server left running keep serving (runtime.Adopter).
	adopted := map[string][]runtime.Adopted{}
	if a, ok := s.opts.Runtime.(runtime.Adopter); ok {
		found, err := a.Adopt(ctx)
		if err != nil {
			return fmt.Errorf("adopting the instances a previous server left running: %w", err)
		}
		for _, in := range found {
			key := strings.ToLower(in.Endpoint)
			adopted[key] = append(adopted[key], in)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, doc := range docs {
		var rec endpointRecord
		if err := json.Unmarshal(doc, &rec); err != nil {
			return fmt.Errorf("stored endpoint: %w", err)
		}
		key := strings.ToLower(rec.Name)
		s.log.Info("resuming endpoint", "endpoint", rec.Name, "status", rec.Status, "adopted_instances", len(adopted[key]))
		s.launch(rec, adopted[key]...)
		delete(adopted, key)
	}
	for _, ins := range adopted {
		for _, in := range ins {
			s.log.Info("stopping an adopted instance of an endpoint that no longer exists", "endpoint", in.Endpoint, "instance", in.Instance.ID())
			go in.Instance.Stop(context.Background())
		}
		go s.release(ins[0].Endpoint)
	}
	if s.opts.Demand != nil {
		go s.followDemand(s.opts.Demand)
	}
	return nil
}

// release lets the runtime delete what it holds for an endpoint's
// deployments other than keep, once their instances are gone
// (runtime.Releaser: a Deployment per variant on Kubernetes).
func (s *Service) release(endpoint string, keep ...string) {
	r, ok := s.opts.Runtime.(runtime.Releaser)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Release(ctx, endpoint, keep...); err != nil {
		s.log.Error("releasing an endpoint's runtime objects", "endpoint", endpoint, "err", err)
	}
}

// Close stops every instance (endpoints stay persisted) and waits.
func (s *Service) Close(ctx context.Context) error {
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Service) arn(kind, name string) string {
	return s.arnPrefix() + kind + "/" + strings.ToLower(name)
}

// arnPrefix is arn:PARTITION:sagemaker:REGION:ACCOUNT: of this server.
func (s *Service) arnPrefix() string { return arn.Prefix("sagemaker", s.opts.Region, s.opts.AccountID) }

// ModelARN, EndpointConfigARN and EndpointARN build ARNs as SageMaker does
// (names in lower case).
func (s *Service) ModelARN(name string) string          { return s.arn(kindModel, name) }
func (s *Service) EndpointConfigARN(name string) string { return s.arn(kindEndpointConfig, name) }
func (s *Service) EndpointARN(name string) string       { return s.arn(kindEndpoint, name) }

// CreateModel stores a model.
func (s *Service) CreateModel(ctx context.Context, req CreateModelInput) (string, error) {
	arn := s.ModelARN(req.ModelName)
	if req.PrimaryContainer != nil && len(req.Containers) > 0 {
		return "", errorf(ErrInvalid, "Specify either PrimaryContainer or Containers, not both.")
	}
	if err := checkContainers(&req.ModelSpec); err != nil {
		return "", err
	}
	c, ok := req.container()
	if err := s.runsModel(req.execution() != "", c.Mode == "MultiModel"); err != nil {
		return "", err
	}
	if c.Mode == "MultiModel" {
		if c.ModelDataUrl == "" {
			return "", errorf(ErrInvalid, "A model with Mode MultiModel needs a ModelDataUrl: the prefix its TargetModel artifacts are under.")
		}
		if check, ok := s.opts.Runtime.(runtime.ModelDataChecker); ok {
			if err := check.CheckModelData(c.ModelDataUrl); err != nil {
				return "", errorf(ErrInvalid, "ModelDataUrl: %v", err)
			}
		}
		if err := s.checkMultiModelImage(ctx, c.Image); err != nil {
			return "", err
		}
	}
	if c.ModelPackageName != "" {
		return "", errorf(ErrInvalid, "ebb does not support model packages (ModelPackageName) yet; give the container's Image and ModelDataUrl.")
	}
	if !ok || c.Image == "" {
		return "", errorf(ErrInvalid, "Either PrimaryContainer or Containers must be specified, with an Image.")
	}
	if err := checkTags(req.Tags); err != nil {
		return "", err
	}
	m := Model{Name: req.ModelName, ARN: arn, CreationTime: s.opts.Clock.Now(), Request: req.Echo}
	if err := s.create(ctx, kindModel, m.Name, m.CreationTime, m); err != nil {
		if errors.Is(err, store.ErrExists) {
			return "", errorf(ErrExists, "Cannot create already existing model %q.", arn)
		}
		return "", err
	}
	return arn, s.addTags(ctx, arn, req.Tags)
}

// DescribeModel returns a model.
func (s *Service) DescribeModel(ctx context.Context, name string) (Model, error) {
	var m Model
	err := s.get(ctx, kindModel, name, &m)
	if errors.Is(err, store.ErrNotFound) {
		return m, errorf(ErrNotFound, "Could not find model %q.", s.ModelARN(name))
	}
	return m, err
}

// DeleteModel deletes a model; endpoints that use it keep running.
func (s *Service) DeleteModel(ctx context.Context, name string) error {
	err := s.opts.Store.Delete(ctx, kindModel, name)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(ErrNotFound, "Could not find model %q.", s.ModelARN(name))
	}
	return err
}

// ListModels lists models.
func (s *Service) ListModels(ctx context.Context, q ListQuery) ([]Model, string, error) {
	all, err := s.summaries(ctx, kindModel)
	if err != nil {
		return nil, "", err
	}
	p, next, err := page(all, q, func(m summary) item { return item{m.Name, m.CreationTime, time.Time{}, ""} })
	out := make([]Model, len(p))
	for i, m := range p {
		out[i] = Model{Name: m.Name, ARN: m.ARN, CreationTime: m.CreationTime}
	}
	return out, next, err
}

// checkContainers checks the containers of a model of several: each has an
// image and serves one model; in Direct mode each is named, uniquely.
func checkContainers(m *ModelSpec) error {
	mode := m.execution()
	if mode == "" {
		if m.InferenceExecutionConfig != nil && m.InferenceExecutionConfig.Mode == "Direct" {
			return errorf(ErrInvalid, "InferenceExecutionConfig Mode Direct needs a model with at least two Containers.")
		}
		return nil
	}
	names := map[string]bool{}
	for i, c := range m.Containers {
		if c.Image == "" {
			return errorf(ErrInvalid, "Container %d of model %s has no Image.", i+1, m.ModelName)
		}
		if c.Mode == "MultiModel" {
			return errorf(ErrInvalid, "Container %d of model %s: a model of several containers serves single models (Mode SingleModel).", i+1, m.ModelName)
		}
		if mode == "Direct" && c.ContainerHostname == "" {
			return errorf(ErrInvalid, "Every container of a model with InferenceExecutionConfig Mode Direct needs a ContainerHostname; container %d of model %s has none.", i+1, m.ModelName)
		}
		if h := c.ContainerHostname; h != "" {
			if names[h] {
				return errorf(ErrInvalid, "ContainerHostname %s is given to two containers of model %s.", h, m.ModelName)
			}
			names[h] = true
		}
	}
	return nil
}

// checkMultiModelImage refuses, as SageMaker does at CreateModel, an image
// whose labels do not declare the multi-model contract, where the runtime
// reads images. An image the runtime does not hold yet is checked when it
// is pulled (the instance fails with the same message): pulling gigabytes
// inside CreateModel would hold the call for minutes.
func (s *Service) checkMultiModelImage(ctx context.Context, image string) error {
	in, ok := s.opts.Runtime.(runtime.ImageInspector)
	if !ok || image == "" {
		return nil
	}
	labels, found, err := in.ImageLabels(ctx, image)
	if err != nil || !found {
		return nil // the launch checks it, or says why it cannot run
	}
	if err := runtime.CheckMultiModel(image, labels); err != nil {
		return errorf(ErrInvalid, "%v", err)
	}
	return nil
}

// runsModel refuses a model of several containers, or a multi-model one,
// where the runtime does not run it.
func (s *Service) runsModel(several, multiModel bool) error {
	if several {
		if err := s.runs(runtime.MultiContainer); err != nil {
			return err
		}
	}
	if multiModel {
		return s.runs(runtime.MultiModel)
	}
	return nil
}

// runs refuses a feature the runtime does not run.
func (s *Service) runs(f runtime.Feature) error {
	if runtime.Runs(s.opts.Runtime, f) {
		return nil
	}
	return errorf(ErrInvalid, "ebb does not run %s with --runtime %s yet.", f, s.opts.RuntimeName)
}

// CreateEndpointConfig stores an endpoint configuration.
func (s *Service) CreateEndpointConfig(ctx context.Context, req CreateEndpointConfigInput) (string, error) {
	arn := s.EndpointConfigARN(req.EndpointConfigName)
	seen := map[string]bool{}
	for _, pv := range req.ProductionVariants {
		if seen[strings.ToLower(pv.VariantName)] {
			return "", errorf(ErrInvalid, "Duplicate VariantName %q in ProductionVariants.", pv.VariantName)
		}
		seen[strings.ToLower(pv.VariantName)] = true
		if pv.ServerlessConfig != nil {
			if err := checkServerless(pv, len(req.ProductionVariants), len(req.AsyncInferenceConfig) > 0); err != nil {
				return "", err
			}
			if err := s.checkServerlessModel(ctx, pv); err != nil {
				return "", err
			}
			if s.opts.PeakInFlight == nil {
				return "", errorf(ErrInvalid, "This server does not run serverless variants (variant %q): it was started without a router to follow their invocations.", pv.VariantName)
			}
			continue
		}
		if pv.InstanceType == "" {
			return "", errorf(ErrInvalid, "InstanceType is required for production variant %q.", pv.VariantName)
		}
		if pv.InitialInstanceCount == nil {
			return "", errorf(ErrInvalid, "InitialInstanceCount is required for production variant %q.", pv.VariantName)
		}
		if pv.ModelName == "" && len(req.ProductionVariants) > 1 {
			// A variant without a model hosts inference components.
			return "", errorf(ErrInvalid, "ModelName is required for production variant %q: an endpoint configuration for inference components has one variant, which names no model.", pv.VariantName)
		}
		if _, err := runtime.LookupInstanceType(pv.InstanceType); err != nil {
			return "", errorf(ErrInvalid, "%v", err)
		}
		if m := pv.ManagedInstanceScaling; m != nil {
			if pv.ModelName != "" {
				return "", errorf(ErrInvalid, "ManagedInstanceScaling is for variants that host inference components (without a ModelName); variant %q names model %s.", pv.VariantName, pv.ModelName)
			}
			if m.enabled() && (m.MinInstanceCount == nil || m.MaxInstanceCount == nil) {
				return "", errorf(ErrInvalid, "ManagedInstanceScaling of variant %q needs MinInstanceCount and MaxInstanceCount when its Status is ENABLED.", pv.VariantName)
			}
			if m.MinInstanceCount != nil && m.MaxInstanceCount != nil && *m.MaxInstanceCount < *m.MinInstanceCount {
				return "", errorf(ErrInvalid, "MaxInstanceCount (%d) of variant %q must not be less than its MinInstanceCount (%d).", *m.MaxInstanceCount, pv.VariantName, *m.MinInstanceCount)
			}
			if m.enabled() && (*pv.InitialInstanceCount < *m.MinInstanceCount || *pv.InitialInstanceCount > *m.MaxInstanceCount) {
				return "", errorf(ErrInvalid, "InitialInstanceCount (%d) of variant %q must be between its MinInstanceCount (%d) and MaxInstanceCount (%d).", *pv.InitialInstanceCount, pv.VariantName, *m.MinInstanceCount, *m.MaxInstanceCount)
			}
		}
		if pv.ModelName == "" {
			continue
		}
		if _, err := s.DescribeModel(ctx, pv.ModelName); err != nil {
			return "", err
		}
	}
	if err := checkTags(req.Tags); err != nil {
		return "", err
	}
	c := EndpointConfig{Name: req.EndpointConfigName, ARN: arn, CreationTime: s.opts.Clock.Now(), Request: req.Echo}
	if err := s.create(ctx, kindEndpointConfig, c.Name, c.CreationTime, c); err != nil {
		if errors.Is(err, store.ErrExists) {
			return "", errorf(ErrExists, "Cannot create already existing endpoint configuration %q.", arn)
		}
		return "", err
	}
	return arn, s.addTags(ctx, arn, req.Tags)
}

// DescribeEndpointConfig returns an endpoint configuration.
func (s *Service) DescribeEndpointConfig(ctx context.Context, name string) (EndpointConfig, error) {
	var c EndpointConfig
	err := s.get(ctx, kindEndpointConfig, name, &c)
	if errors.Is(err, store.ErrNotFound) {
		return c, errorf(ErrNotFound, "Could not find endpoint configuration %q.", s.EndpointConfigARN(name))
	}
	return c, err
}

// DeleteEndpointConfig deletes an endpoint configuration. As in SageMaker,
// endpoints deployed from it keep running.
func (s *Service) DeleteEndpointConfig(ctx context.Context, name string) error {
	err := s.opts.Store.Delete(ctx, kindEndpointConfig, name)
	if errors.Is(err, store.ErrNotFound) {
		return errorf(ErrNotFound, "Could not find endpoint configuration %q.", s.EndpointConfigARN(name))
	}
	return err
}

// ListEndpointConfigs lists endpoint configurations.
func (s *Service) ListEndpointConfigs(ctx context.Context, q ListQuery) ([]EndpointConfig, string, error) {
	all, err := s.summaries(ctx, kindEndpointConfig)
	if err != nil {
		return nil, "", err
	}
	p, next, err := page(all, q, func(c summary) item { return item{c.Name, c.CreationTime, time.Time{}, ""} })
	out := make([]EndpointConfig, len(p))
	for i, c := range p {
		out[i] = EndpointConfig{Name: c.Name, ARN: c.ARN, CreationTime: c.CreationTime}
	}
	return out, next, err
}

// deploymentFor resolves an endpoint configuration into a deployment: each
// variant's model container, initial count and weight.
func (s *Service) deploymentFor(ctx context.Context, configName string) (deployment, json.RawMessage, error) {
	c, err := s.DescribeEndpointConfig(ctx, configName)
	if err != nil {
		return deployment{}, nil, err
	}
	var req EndpointConfigSpec
	if err := json.Unmarshal(c.Request, &req); err != nil {
		return deployment{}, nil, err
	}
	now := s.opts.Clock.Now()
	d := deployment{ConfigName: c.Name, StartTime: now}
	for _, pv := range req.ProductionVariants {
		if pv.ModelName == "" { // hosts inference components
			// Refused here, not left empty: its components could never run.
			if err := s.runs(runtime.InferenceComponents); err != nil {
				return deployment{}, nil, err
			}
			v := variant{Name: pv.VariantName, InstanceType: pv.InstanceType, DesiredWeight: 1, ResolvedAt: now, RoutingConfig: pv.RoutingConfig, Managed: pv.ManagedInstanceScaling}
			if pv.InitialInstanceCount != nil {
				v.DesiredCount = *pv.InitialInstanceCount
			}
			if pv.InitialVariantWeight != nil {
				v.DesiredWeight = *pv.InitialVariantWeight
			}
			d.Variants = append(d.Variants, v)
			continue
		}
		m, err := s.DescribeModel(ctx, pv.ModelName)
		if err != nil {
			return deployment{}, nil, err
		}
		var mr ModelSpec
		if err := json.Unmarshal(m.Request, &mr); err != nil {
			return deployment{}, nil, err
		}
		container, _ := mr.container()
		var containers []Container
		if mr.execution() != "" {
			containers = mr.Containers
		}
		// A model stored under another runtime may ask for what this one
		// does not run.
		if err := s.runsModel(mr.execution() != "", container.Mode == "MultiModel"); err != nil {
			return deployment{}, nil, err
		}
		v := variant{Containers: containers, Execution: mr.execution(), Name: pv.VariantName, ModelName: m.Name, InstanceType: pv.InstanceType, Container: container, DesiredWeight: 1, ResolvedAt: now,
			RoutingConfig: pv.RoutingConfig, Serverless: pv.ServerlessConfig}
		if pv.InitialInstanceCount != nil {
			v.DesiredCount = *pv.InitialInstanceCount
		}
		if c := pv.ServerlessConfig; c != nil {
			v.DesiredCount = c.provisioned() // warm from the start
		}
		if pv.InitialVariantWeight != nil {
			v.DesiredWeight = *pv.InitialVariantWeight
		}
		d.Variants = append(d.Variants, v)
	}
	return d, req.AsyncInferenceConfig, nil
}

// CreateEndpointInput is CreateEndpoint's request.
type CreateEndpointInput struct {
	EndpointName, EndpointConfigName string
	// DeploymentConfig governs no deployment at creation (there is no
	// fleet to shift from; AWS documents nothing of it there): ebb keeps
	// it as the endpoint's deployment configuration, which DescribeEndpoint
	// shows as LastDeploymentConfig and an UpdateEndpoint with
	// RetainDeploymentConfig uses. It is checked as an update's would be.
	DeploymentConfig *DeploymentConfig
	Tags             []store.Tag
}

// CreateEndpoint creates an endpoint and starts deploying it.
func (s *Service) CreateEndpoint(ctx context.Context, in CreateEndpointInput) (string, error) {
	name, configName, tags := in.EndpointName, in.EndpointConfigName, in.Tags
	arn := s.EndpointARN(name)
	if err := checkTags(tags); err != nil {
		return "", err
	}
	d, async, err := s.deploymentFor(ctx, configName)
	if err != nil {
		return "", err
	}
	if err := s.checkLimit(nil, d.Variants); err != nil {
		return "", err
	}
	if cfg := in.DeploymentConfig; cfg != nil {
		if err := checkDeployment(*cfg, d, d); err != nil {
			return "", err
		}
		if err := s.checkAlarms(cfg.alarms()); err != nil {
			return "", err
		}
	}
	now := s.opts.Clock.Now()
	d.ID = newID()
	rec := endpointRecord{
		Name: name, ARN: arn, Status: StatusCreating, CreationTime: now, LastModifiedTime: now,
		Current: d, AsyncConfig: async, Deployment: in.DeploymentConfig,
	}
	if err := s.create(ctx, kindEndpoint, name, now, rec); err != nil {
		if errors.Is(err, store.ErrExists) {
			return "", errorf(ErrExists, "Cannot create already existing endpoint %q.", arn)
		}
		return "", err
	}
	if err := s.addTags(ctx, arn, tags); err != nil {
		return "", err
	}
	s.log.Info("creating endpoint", "endpoint", name, "config", configName)
	s.mu.Lock()
	s.launch(rec)
	s.mu.Unlock()
	return arn, nil
}

// checkLimit enforces the instance quota per instance type: the instances
// that exist or are wanted on live endpoints (a Failed endpoint counts only
// the instances it still has), with self's variants becoming add. The
// request delta in the message is the increase the request asks for, and
// only a request that increases usage beyond the quota is refused.
// Concurrent changes can overshoot the quota by one request; it guards the
// machine, it is not billing.
func (s *Service) checkLimit(self *endpoint, add []variant) error {
	s.mu.Lock()
	all := make([]*endpoint, 0, len(s.endpoints))
	for _, e := range s.endpoints {
		all = append(all, e)
	}
	s.mu.Unlock()
	usage, mine := map[string]int{}, map[string]int{}
	for _, e := range all {
		into := usage
		if e == self {
			into = mine
		}
		footprint(e.view.Load(), into)
	}
	want := map[string]int{}
	for _, v := range add {
		want[v.InstanceType] += v.DesiredCount
	}
	for typ, n := range want {
		increase := n - mine[typ]
		if increase > 0 && usage[typ]+n > s.opts.InstanceLimit {
			return errorf(ErrLimit, "The account-level service limit '%s for endpoint usage' is %d Instances, with current utilization of %d Instances and a request delta of %d Instances. Please use AWS Service Quotas to request an increase for this quota. If AWS Service Quotas is not available, contact AWS support to request an increase for this quota.",
				typ, s.opts.InstanceLimit, usage[typ]+mine[typ], increase)
		}
	}
	return nil
}

// footprint adds what an endpoint holds of each instance type: per variant
// the larger of its wanted and its existing instances, only the existing
// ones once it has Failed.
func footprint(v *EndpointView, into map[string]int) {
	if v == nil {
		return
	}
	count := func(vs []VariantView) {
		for _, vv := range vs {
			n := max(vv.DesiredCount, vv.CurrentCount)
			if v.Status == StatusFailed {
				n = vv.CurrentCount
			}
			into[vv.InstanceType] += n
		}
	}
	count(v.Variants)
	if v.Pending != nil {
		count(v.Pending.Variants)
	}
}

func (s *Service) lookup(name string) (*endpoint, error) {
	s.mu.Lock()
	e := s.endpoints[strings.ToLower(name)]
	s.mu.Unlock()
	if e == nil {
		return nil, errorf(ErrNotFound, "Could not find endpoint %q.", s.EndpointARN(name))
	}
	return e, nil
}

// DescribeEndpoint returns a snapshot of an endpoint.
func (s *Service) DescribeEndpoint(ctx context.Context, name string) (EndpointView, error) {
	e, err := s.lookup(name)
	if err != nil {
		return EndpointView{}, err
	}
	return *e.view.Load(), nil
}

// RunningInstance is a healthy instance serving an endpoint's traffic.
type RunningInstance struct {
	Endpoint, Variant string
	Type              runtime.InstanceType
	Instance          runtime.Instance
	// Component is set for a copy of an inference component, whose
	// utilization is measured against Needs, what it reserved.
	Component string
	Needs     Requirements
	// Serverless marks an environment of a serverless variant (Type is
	// then its memory size and share of CPU).
	Serverless bool
	// Environment is the container's (a variant's first container's, or
	// the component's): what the model asks of ebb (modelmetrics).
	Environment map[string]string
}

// Startup is how long an instance of a variant took from its start to its
// first healthy ping; for an environment of a serverless variant
// (Serverless), SageMaker's ModelSetupTime.
type Startup struct {
	Endpoint, Variant string
	Took              time.Duration
	Serverless        bool
}

// Startups returns the startups since the last call: each instance's once,
// however briefly it lived (a serverless environment may be gone before
// the next usage sample).
func (s *Service) Startups() []Startup {
	s.startupMu.Lock()
	defer s.startupMu.Unlock()
	out := s.startups
	s.startups = nil
	return out
}

// started records an instance's startup for Startups.
func (s *Service) started(st Startup) {
	s.startupMu.Lock()
	defer s.startupMu.Unlock()
	if len(s.startups) < 10000 { // nobody collects: keep a bounded backlog
		s.startups = append(s.startups, st)
	}
}

// RunningInstances lists the healthy instances of every endpoint.
func (s *Service) RunningInstances() []RunningInstance {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []RunningInstance
	for _, e := range s.endpoints {
		if r := e.running.Load(); r != nil {
			out = append(out, *r...)
		}
	}
	return out
}

// ListEndpoints lists endpoints.
func (s *Service) ListEndpoints(ctx context.Context, q ListQuery) ([]EndpointView, string, error) {
	s.mu.Lock()
	all := make([]EndpointView, 0, len(s.endpoints))
	for _, e := range s.endpoints {
		all = append(all, *e.view.Load())
	}
	s.mu.Unlock()
	return page(all, q, func(v EndpointView) item { return item{v.Name, v.CreationTime, v.LastModifiedTime, v.Status} })
}

// UpdateEndpointInput is UpdateEndpoint's request. RetainAll keeps each
// same-named variant's current DesiredInstanceCount and DesiredWeight,
// except the properties named in Exclude. Deployment, if set, shifts
// traffic to the new fleet in steps (rollout.go); RetainDeployment reuses
// the endpoint's last one when Deployment is nil.
type UpdateEndpointInput struct {
	EndpointName, ConfigName string
	RetainAll                bool
	Exclude                  []string
	Deployment               *DeploymentConfig
	RetainDeployment         bool
}

// UpdateEndpoint deploys a new endpoint configuration (blue/green).
func (s *Service) UpdateEndpoint(ctx context.Context, in UpdateEndpointInput) (string, error) {
	e, err := s.lookup(in.EndpointName)
	if err != nil {
		return "", err
	}
	d, async, err := s.deploymentFor(ctx, in.ConfigName)
	if err != nil {
		return "", err
	}
	if !in.RetainAll && len(in.Exclude) > 0 {
		return "", errorf(ErrInvalid, "ExcludeRetainedVariantProperties may be given only with RetainAllVariantProperties set to true.")
	}
	return e.rec.ARN, e.do(ctx, func() error { return e.beginUpdate(d, async, in) })
}

// WeightAndCapacity is one entry of UpdateEndpointWeightsAndCapacities.
type WeightAndCapacity struct {
	VariantName          string
	DesiredWeight        *float64
	DesiredInstanceCount *int
	// ServerlessUpdateConfig changes a serverless variant's
	// MaxConcurrency or ProvisionedConcurrency (what Application Auto
	// Scaling sets for sagemaker:variant:DesiredProvisionedConcurrency).
	ServerlessUpdateConfig *ServerlessUpdate
}

// ServerlessUpdate is what UpdateEndpointWeightsAndCapacities may change of
// a serverless variant; what it leaves out stays.
type ServerlessUpdate struct {
	MaxConcurrency         *int
	ProvisionedConcurrency *int
}

// UpdateEndpointWeightsAndCapacities changes variants' weights and instance
// counts in place; this is what Application Auto Scaling calls.
func (s *Service) UpdateEndpointWeightsAndCapacities(ctx context.Context, name string, changes []WeightAndCapacity) (string, error) {
	e, err := s.lookup(name)
	if err != nil {
		return "", err
	}
	return e.rec.ARN, e.do(ctx, func() error { return e.beginCapacityChange(changes) })
}

// DeleteEndpoint starts deleting an endpoint.
func (s *Service) DeleteEndpoint(ctx context.Context, name string) error {
	e, err := s.lookup(name)
	if err != nil {
		return err
	}
	return e.do(ctx, e.beginDelete)
}

// forget removes a deleted endpoint.
func (s *Service) forget(e *endpoint) {
	s.mu.Lock()
	delete(s.endpoints, strings.ToLower(e.rec.Name))
	s.mu.Unlock()
	if s.opts.Deleted != nil {
		go func() { s.opts.Deleted <- e.rec.Name }()
	}
	ctx := context.Background()
	if err := s.opts.Store.Delete(ctx, kindEndpoint, e.rec.Name); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Error("deleting endpoint record", "endpoint", e.rec.Name, "err", err)
	}
	if tags, err := s.opts.Store.Tags(ctx, e.rec.ARN); err == nil {
		keys := make([]string, len(tags))
		for i, t := range tags {
			keys[i] = t.Key
		}
		store.Report(s.log, "hosting", "delete endpoint tags", s.opts.Store.DeleteTags(ctx, e.rec.ARN, keys))
	}
	s.release(e.rec.Name)
	s.log.Info("endpoint deleted", "endpoint", e.rec.Name)
}

func (s *Service) create(ctx context.Context, kind, name string, created time.Time, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.opts.Store.Create(ctx, kind, name, created, b)
}

func (s *Service) get(ctx context.Context, kind, name string, v any) error {
	b, err := s.opts.Store.Get(ctx, kind, name)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// summary is what a list reads of a stored model or endpoint
// configuration: never its request, so a page costs its entries, not the
// documents of every resource.
type summary struct {
	Name         string    `json:"name"`
	ARN          string    `json:"arn"`
	CreationTime time.Time `json:"creationTime"`
}

func (s *Service) summaries(ctx context.Context, kind string) ([]summary, error) {
	var all []summary
	err := s.opts.Store.Each(ctx, kind, func(b []byte) error {
		var x summary
		err := json.Unmarshal(b, &x)
		all = append(all, x)
		return err
	})
	return all, err
}
