package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Spec describes one instance to start.
type Spec struct {
	// ID names the instance uniquely and for good (hosting chooses it).
	ID string
	// Endpoint, Variant and Deployment (hosting's ID of the endpoint
	// configuration it serves) label the instance for logs and adoption.
	Endpoint, Variant, Deployment string
	// Image is the container image; for the process runtime a command line.
	Image string
	// Environment is passed to the model server.
	Environment map[string]string
	// ModelDataURL is where the model artifacts are (may be empty).
	ModelDataURL string
	// InstanceType sizes the instance.
	InstanceType InstanceType
	// Cores, when not zero, are the CPU cores the instance may use where
	// they are not whole (an inference-component copy's
	// NumberOfCpuCoresRequired, of which InstanceType.VCPUs is the round-up).
	Cores float64
	// Hostname is the container's hostname in a model of several
	// containers (its ContainerHostname); empty: the runtime's choice.
	Hostname string
	// MultiModelPrefix, set for an instance of a multi-model endpoint, is
	// the prefix its artifacts are under (the model's ModelDataUrl;
	// ModelDataURL is then empty): the instance loads them on request, the
	// runtime makes its ArtifactPreparer's artifacts readable to it (and
	// may check the image declares the contract).
	MultiModelPrefix string
}

// Runtime starts instances.
type Runtime interface {
	// Start returns an instance at once; it becomes ready, or ends with
	// an error wrapping ErrLaunch when it cannot be launched (model data,
	// the process, the pod), later. Start itself fails only for a spec that
	// can never run.
	Start(ctx context.Context, spec Spec) (Instance, error)
}

// ErrLaunch is wrapped by the Err of an instance that could not be
// launched at all, as opposed to one that started and then failed.
var ErrLaunch = errors.New("could not launch the instance")

// Adopter is a Runtime whose instances outlive the server: a restarted
// server (after a crash or kill -9) takes them over instead of stopping them
// and starting new ones, so that capacity does not drop to zero for a
// model's startup time.
type Adopter interface {
	// Adopt finds the instances a previous server left running, keeps those
	// that pass a health check (returned ready) and stops the others.
	Adopt(ctx context.Context) ([]Adopted, error)
}

// Adopted is an instance taken over from a previous server, with the labels
// of the Spec it was started with.
type Adopted struct {
	Instance Instance
	// Members are, for a unit of several containers (GroupStarter), the
	// instance of each, in order.
	Members                       []Instance
	Endpoint, Variant, Deployment string
	Started                       time.Time
}

// Feature is a way of hosting beyond one single-container model per
// instance; hosting refuses it, naming the runtime, where the runtime does
// not run it.
type Feature string

// The features a runtime may run (Featured).
const (
	MultiContainer      Feature = "models of several containers"
	MultiModel          Feature = "multi-model endpoints (Mode MultiModel)"
	InferenceComponents Feature = "inference components"
)

// Featured is a Runtime that runs some Features.
type Featured interface {
	Runs(Feature) bool
}

// Runs reports whether rt runs f.
func Runs(rt Runtime, f Feature) bool {
	x, ok := rt.(Featured)
	return ok && x.Runs(f)
}

// GroupStarter is a Runtime that runs the containers of a model of
// several as one unit (a pod, whose containers are scheduled together and
// share a network); others run each container as an instance of its own.
type GroupStarter interface {
	// StartGroup starts one unit of containers (each a Spec of its image,
	// environment, model data, ID and Hostname; spec labels and sizes the
	// unit) and returns an instance per container, in order, each at its
	// own address; they are ready, end and stop together.
	StartGroup(ctx context.Context, spec Spec, containers []Spec) ([]Instance, error)
}

// ArtifactPreparer is a Runtime that puts the artifacts of multi-model
// endpoints where its instances read them (the router loads them on
// demand).
type ArtifactPreparer interface {
	// Artifacts returns the runtime's artifact cache, kept in dir (a
	// runtime whose instances keep their own may not use it).
	Artifacts(dir string) Artifacts
}

// Artifacts makes a multi-model endpoint's artifact readable by its
// instances.
type Artifacts interface {
	// Prepare makes the artifact at url readable by the instance serving
	// at addr and returns its directory as the instance sees it, and how
	// long preparing it took (zero when it was ready). No artifact at url
	// is an error wrapping fs.ErrNotExist.
	Prepare(ctx context.Context, addr, url string) (dir string, took time.Duration, err error)
}

// SharedArtifacts is the Artifacts of a runtime whose instances all read
// one cache, such as a modeldata.Cache's Prepare: the instance does not
// matter.
type SharedArtifacts func(ctx context.Context, url string) (string, time.Duration, error)

// Prepare calls f.
func (f SharedArtifacts) Prepare(ctx context.Context, _, url string) (string, time.Duration, error) {
	return f(ctx, url)
}

// ModelDataChecker is a Runtime that reads model data from some kinds of
// URL only: hosting refuses the others at CreateModel, naming the runtime,
// instead of failing every instance later.
type ModelDataChecker interface {
	// CheckModelData says why the runtime's instances cannot read the
	// artifacts at url (nil: they can).
	CheckModelData(url string) error
}

// GPUUsage is an instance's GPU usage as SageMaker publishes it: percent
// summed over its GPUs (0 to 100 times the number of GPUs).
type GPUUsage struct {
	Utilization, MemoryUtilization float64
}

// Detacher is a Runtime whose instances are meant to outlive the server
// (pods in a cluster): when the server stops, hosting detaches from them
// instead of stopping them, and the next server adopts them (Adopter).
type Detacher interface {
	Detach()
}

// Releaser is a Runtime that holds objects for an endpoint besides its
// instances (a Deployment per variant). Hosting calls Release once the
// instances of the endpoint's deployments other than keep are stopped:
// after a blue/green cut-over (keep: the current one) and when the endpoint
// is deleted (keep: none).
type Releaser interface {
	Release(ctx context.Context, endpoint string, keep ...string) error
}

// Instance is one running model server.
type Instance interface {
	ID() string
	// Addr is the host:port on which the instance serves /ping and /invocations.
	Addr() string
	// Ready is closed once the instance has passed its first health check.
	Ready() <-chan struct{}
	// Done is closed when the instance has ended for any reason; Err says why.
	Done() <-chan struct{}
	// Err is nil while the instance runs and after a clean Stop; otherwise
	// the reason it ended (crash, failed health checks, start limit).
	Err() error
	// Stop asks the instance to end (SIGTERM, then SIGKILL after the grace
	// period) and waits until it has, or until ctx ends.
	Stop(ctx context.Context) error
	// Stats reports resource usage so far.
	Stats() (Stats, error)
}

// Stats is an instance's resource usage.
type Stats struct {
	// CPUTime is the CPU time consumed by the instance's processes so far
	// (user+system, summed over cores); utilisation is its rate of change.
	CPUTime time.Duration
	// MemoryBytes is the resident memory of the instance's processes.
	MemoryBytes uint64
	// DiskBytes is the space used by the instance's working directory.
	DiskBytes uint64
	// DiskPercent is how full the instance's volume is (0-100).
	DiskPercent float64
	// NoDisk says the runtime cannot read disk usage (pods: metrics.k8s.io
	// has none); DiskUtilization is then absent rather than zero.
	NoDisk bool
	// NoUsage says CPUTime and MemoryBytes could not be read (pods
	// without metrics-server, when GPU figures could): they are absent.
	NoUsage bool
	// GPU is the usage of the instance's GPUs, nil where it has none or
	// they cannot be read (the metrics are then absent, never zero).
	GPU *GPUUsage
	// At is when the figures were read.
	At time.Time
}

// AdoptEach adopts items at once (each adoption pings an instance: in
// turn, a server restarted beside many would wait for them one by one)
// and returns those adopted.
func AdoptEach[T any](items []T, adopt func(T) (Adopted, bool)) []Adopted {
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		out []Adopted
	)
	for _, it := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if a, ok := adopt(it); ok {
				mu.Lock()
				out = append(out, a)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

// Noticer is a Runtime that knows of conditions a person running ebb
// should see, such as a metric source the cluster lacks: the server logs
// them and the console shows them on every page.
type Noticer interface {
	// Notices are the conditions that hold now, each a sentence that says
	// what to do.
	Notices() []string
}

// ImageInspector is a Runtime that reads container images before running
// them: hosting checks at CreateModel what SageMaker checks in an image's
// labels there.
type ImageInspector interface {
	// ImageLabels returns the labels of image; found is false when the
	// runtime does not hold the image (it is checked when pulled instead).
	ImageLabels(ctx context.Context, image string) (labels map[string]string, found bool, err error)
}

// MultiModelLabel is the label by which an image declares that it serves
// SageMaker's multi-model contract.
const MultiModelLabel = "com.amazonaws.sagemaker.capabilities.multi-models"

// CheckMultiModel refuses an image whose labels do not declare the
// multi-model contract, in SageMaker's words.
func CheckMultiModel(image string, labels map[string]string) error {
	if labels[MultiModelLabel] == "true" {
		return nil
	}
	return fmt.Errorf("Your image %s does not contain required %s=true Docker label(s).", image, MultiModelLabel)
}
