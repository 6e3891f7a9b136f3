package hosting

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/ebbscale/ebb/internal/store"
)

// Store kinds.
const (
	kindModel          = "model"
	kindEndpointConfig = "endpoint-config"
	kindEndpoint       = "endpoint"
)

// Container is the part of a ContainerDefinition that ebb runs.
type Container struct {
	Image        string            `json:"Image,omitempty"`
	ModelDataUrl string            `json:"ModelDataUrl,omitempty"`
	Environment  map[string]string `json:"Environment,omitempty"`
	// ContainerHostname names a container of a multi-container model
	// (TargetContainerHostname addresses it in Direct mode).
	ContainerHostname string `json:"ContainerHostname,omitempty"`
	Mode              string `json:"Mode,omitempty"` // SingleModel or MultiModel
	// Read only to refuse what ebb does not implement (see CreateModel).
	ModelPackageName string `json:"ModelPackageName,omitempty"`
}

// Model is a SageMaker model. Request keeps the CreateModel request as given
// (without Tags), so DescribeModel answers with everything that was set.
type Model struct {
	Name         string          `json:"name"`
	ARN          string          `json:"arn"`
	CreationTime time.Time       `json:"creationTime"`
	Request      json.RawMessage `json:"request"`
}

// ModelSpec is what hosting reads of a model: CreateModel's request, as
// the API decodes it, and the request kept with the model.
type ModelSpec struct {
	ModelName                string
	PrimaryContainer         *Container
	Containers               []Container
	InferenceExecutionConfig *struct{ Mode string }
}

// CreateModelInput is CreateModel's request. Echo is the request as
// DescribeModel answers it: every member given, Tags aside (SageMaker
// echoes what it does not act on too).
type CreateModelInput struct {
	ModelSpec
	Tags []store.Tag
	Echo json.RawMessage `json:"-"`
}

// execution is how the containers of a model of several serve a request:
// Serial (a pipeline: each container's answer is the next one's input) or
// Direct (the request names one, TargetContainerHostname); "" for one.
func (m *ModelSpec) execution() string {
	switch {
	case m.PrimaryContainer != nil || len(m.Containers) < 2:
		return ""
	case m.InferenceExecutionConfig != nil && m.InferenceExecutionConfig.Mode != "":
		return m.InferenceExecutionConfig.Mode
	}
	return "Serial"
}

// container returns the container an instance runs: the primary container,
// or the first of Containers.
func (m *ModelSpec) container() (Container, bool) {
	if m.PrimaryContainer != nil {
		return *m.PrimaryContainer, true
	}
	if len(m.Containers) > 0 {
		return m.Containers[0], true
	}
	return Container{}, false
}

// EndpointConfig is a SageMaker endpoint configuration, kept like Model.
type EndpointConfig struct {
	Name         string          `json:"name"`
	ARN          string          `json:"arn"`
	CreationTime time.Time       `json:"creationTime"`
	Request      json.RawMessage `json:"request"`
}

// ProductionVariant is what hosting reads of a configured variant.
type ProductionVariant struct {
	VariantName          string
	ModelName            string
	InstanceType         string
	InitialInstanceCount *int
	InitialVariantWeight *float64
	ServerlessConfig     *ServerlessConfig
	// RoutingConfig is only ever LEAST_OUTSTANDING_REQUESTS, what the
	// router does (the API refuses RANDOM); kept to report it.
	RoutingConfig json.RawMessage
	// ManagedInstanceScaling, on a variant that hosts inference
	// components, lets hosting add instances for copies that do not fit
	// and remove empty ones.
	ManagedInstanceScaling *ManagedScaling
}

// ServerlessConfig is a serverless variant's: the memory of each of its
// environments, the most invocations it serves at once, and how many of
// them stay warm (the service model bounds each: 1024-6144, 1-200, 1-200).
type ServerlessConfig struct {
	MemorySizeInMB         *int
	MaxConcurrency         *int
	ProvisionedConcurrency *int
}

// ManagedScaling is a variant's ManagedInstanceScaling.
type ManagedScaling struct {
	Status           string
	MinInstanceCount *int `json:",omitempty"`
	MaxInstanceCount *int `json:",omitempty"`
}

// enabled reports whether hosting manages the instance count.
func (m *ManagedScaling) enabled() bool { return m != nil && m.Status == "ENABLED" }

// EndpointConfigSpec is what hosting reads of an endpoint configuration.
type EndpointConfigSpec struct {
	EndpointConfigName   string
	ProductionVariants   []ProductionVariant
	AsyncInferenceConfig json.RawMessage
}

// CreateEndpointConfigInput is CreateEndpointConfig's request; Echo as in
// CreateModelInput.
type CreateEndpointConfigInput struct {
	EndpointConfigSpec
	Tags []store.Tag
	Echo json.RawMessage `json:"-"`
}

// variant is a production variant as deployed on an endpoint: the model's
// container is resolved when the endpoint is created or updated, so later
// changes to the model do not affect running endpoints, as in SageMaker.
type variant struct {
	Name          string    `json:"name"`
	ModelName     string    `json:"modelName"`
	InstanceType  string    `json:"instanceType"`
	Container     Container `json:"container"`
	DesiredCount  int       `json:"desiredCount"`
	DesiredWeight float64   `json:"desiredWeight"`
	CurrentWeight float64   `json:"currentWeight"`
	ResolvedAt    time.Time `json:"resolvedAt"`
	// RoutingConfig is the configured variant's, if it set one.
	RoutingConfig json.RawMessage `json:"routingConfig,omitempty"`
	// Managed is the configured ManagedInstanceScaling, if any.
	Managed *ManagedScaling `json:"managed,omitempty"`
	// Hosted: the variant has hosted an inference component (see
	// manageHosts).
	Hosted bool `json:"hosted,omitempty"`
	// Containers are all the containers of a model of several, each
	// instance running every one of them, and Execution how they serve
	// (ModelSpec.execution); Container is then the first.
	Containers []Container `json:"containers,omitempty"`
	Execution  string      `json:"execution,omitempty"`
	// Serverless is a serverless variant's configuration: its instances
	// are environments that follow its invocations (serverless.go).
	Serverless *ServerlessConfig `json:"serverless,omitempty"`
}

// deployment is one endpoint configuration deployed on an endpoint.
type deployment struct {
	ID         string    `json:"id"`
	ConfigName string    `json:"configName"`
	Variants   []variant `json:"variants"`
	StartTime  time.Time `json:"startTime"`
}

// serverless reports a deployment of a serverless variant.
func (d deployment) serverless() bool {
	return slices.ContainsFunc(d.Variants, func(v variant) bool { return v.Serverless != nil })
}

// hostsComponents reports whether d's variants host inference components.
func (d *deployment) hostsComponents() bool {
	for i := range d.Variants {
		if d.Variants[i].hosts() {
			return true
		}
	}
	return false
}

func (d *deployment) variant(name string) *variant {
	for i := range d.Variants {
		if d.Variants[i].Name == name {
			return &d.Variants[i]
		}
	}
	return nil
}

// endpointRecord is an endpoint as persisted. Current is what serves
// traffic; Pending is the configuration an UpdateEndpoint is rolling out;
// Rollback holds the capacities to return to if an
// UpdateEndpointWeightsAndCapacities fails.
type endpointRecord struct {
	Name             string          `json:"name"`
	ARN              string          `json:"arn"`
	Status           string          `json:"status"`
	FailureReason    string          `json:"failureReason,omitempty"`
	CreationTime     time.Time       `json:"creationTime"`
	LastModifiedTime time.Time       `json:"lastModifiedTime"`
	Current          deployment      `json:"current"`
	Pending          *deployment     `json:"pending,omitempty"`
	Rollback         []variant       `json:"rollback,omitempty"`
	AsyncConfig      json.RawMessage `json:"asyncConfig,omitempty"`
	// Components are the inference components the endpoint hosts.
	Components []component `json:"components,omitempty"`
	// Rollout is the blue/green deployment of Pending in progress, if it
	// has a DeploymentConfig (rollout.go); Deployment is the last
	// DeploymentConfig given (LastDeploymentConfig). Retiring is the old
	// fleet a deployment keeps until RetireAt (TerminationWaitInSeconds).
	Rollout    *rollout          `json:"rollout,omitempty"`
	Deployment *DeploymentConfig `json:"deployment,omitempty"`
	Retiring   *deployment       `json:"retiring,omitempty"`
	RetireAt   time.Time         `json:"retireAt,omitzero"`
}

// clone copies the record deep enough for a command to change it in place
// and be undone: its slices and Pending are its own. What their elements
// point to (environments, raw JSON, ManagedScaling) is never changed in
// place, only replaced.
func (r endpointRecord) clone() endpointRecord {
	r.Current.Variants = slices.Clone(r.Current.Variants)
	if r.Pending != nil {
		p := *r.Pending
		p.Variants = slices.Clone(p.Variants)
		r.Pending = &p
	}
	r.Rollback = slices.Clone(r.Rollback)
	r.Components = slices.Clone(r.Components)
	if r.Rollout != nil {
		ro := *r.Rollout
		r.Rollout = &ro
	}
	return r
}

// setChangeable sets every field of r that changes from those of n: Name,
// ARN and CreationTime never do, and API calls read them off the
// endpoint's goroutine.
func (r *endpointRecord) setChangeable(n endpointRecord) {
	r.Status, r.FailureReason, r.LastModifiedTime = n.Status, n.FailureReason, n.LastModifiedTime
	r.Current, r.Pending, r.Rollback = n.Current, n.Pending, n.Rollback
	r.AsyncConfig, r.Components = n.AsyncConfig, n.Components
	r.Rollout, r.Deployment, r.Retiring, r.RetireAt = n.Rollout, n.Deployment, n.Retiring, n.RetireAt
}

// Endpoint statuses (SageMaker's EndpointStatus).
const (
	StatusCreating    = "Creating"
	StatusInService   = "InService"
	StatusUpdating    = "Updating"
	StatusRollingBack = "RollingBack"
	StatusDeleting    = "Deleting"
	StatusFailed      = "Failed"
)

// EndpointView is a consistent snapshot of an endpoint for DescribeEndpoint.
type EndpointView struct {
	Name             string
	ARN              string
	ConfigName       string
	Status           string
	FailureReason    string
	CreationTime     time.Time
	LastModifiedTime time.Time
	Variants         []VariantView
	Pending          *PendingView
	AsyncConfig      json.RawMessage
	// Deployment is the last DeploymentConfig given (LastDeploymentConfig);
	// Share, while one shifts traffic, is the new fleet's share of it.
	Deployment *DeploymentConfig
	Share      float64
}

// VariantView is one production variant's state.
type VariantView struct {
	Name         string
	InstanceType string
	// Images are the images the variant's instances run, one per
	// container (none on a host of inference components). ebb runs an
	// image as named, so each is also its resolved image.
	Images        []string
	ResolvedAt    time.Time
	CurrentWeight float64
	DesiredWeight float64
	CurrentCount  int
	DesiredCount  int
	Status        []VariantStatus
	RoutingConfig json.RawMessage
	Managed       *ManagedScaling
	// Serverless is a serverless variant's configuration, as asked
	// (DesiredServerlessConfig); CurrentServerless as it is while a
	// change to it is in progress (CurrentServerlessConfig).
	Serverless, CurrentServerless *ServerlessConfig
}

// VariantStatus is one entry of a variant's VariantStatus list.
type VariantStatus struct {
	Status    string // Creating, Updating, Deleting, ActivatingTraffic, Baking
	Message   string
	StartTime time.Time
}

// images lists a variant's images, one per container.
func (v variant) images() []string {
	if len(v.Containers) == 0 {
		if v.Container.Image == "" {
			return nil
		}
		return []string{v.Container.Image}
	}
	out := make([]string, len(v.Containers))
	for i, c := range v.Containers {
		out[i] = c.Image
	}
	return out
}

// PendingView describes an UpdateEndpoint in progress.
type PendingView struct {
	ConfigName string
	StartTime  time.Time
	Variants   []VariantView
}
