package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebbscale/ebb/internal/modeldata"
	"github.com/ebbscale/ebb/internal/runtime"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
)

// Defaults of the runtime.
const (
	DefaultStartLimit         = runtime.DefaultStartLimit
	DefaultPingInterval       = runtime.DefaultPingInterval
	DefaultPingTimeout        = 2 * time.Second
	DefaultUnhealthyThreshold = runtime.DefaultUnhealthyThreshold
	DefaultFetcherImage       = "ghcr.io/ebbscale/ebb:latest"
	// DefaultAdoptHold: see Options.AdoptHold.
	DefaultAdoptHold = 30 * time.Second
	// DefaultPodAnswerLimit: see Options.PodAnswerLimit.
	DefaultPodAnswerLimit = 30 * time.Second
)

// Options configure the runtime. Zero durations take the defaults.
type Options struct {
	Client    kubernetes.Interface
	Namespace string
	// FetcherImage runs `ebb fetch-model` in the init container that puts
	// ModelDataUrl into /opt/ml/model.
	FetcherImage string
	// FetcherSecret, if set, names a Secret the init container gets as
	// environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY for S3).
	FetcherSecret string
	// S3Endpoint and Region serve s3:// model data in the init container.
	S3Endpoint, Region string
	// InstanceTypeLabel, if set, is the node label an instance type selects:
	// ml.m5.large selects nodes labelled <InstanceTypeLabel>=m5.large
	// (node.kubernetes.io/instance-type on EKS).
	InstanceTypeLabel string
	// PodSecurity is the Pod Security Standard model pods meet:
	// SecurityRestricted (the default) or SecurityBaseline.
	PodSecurity string
	// DCGMURL, if set, is NVIDIA's DCGM exporter (its /metrics), the source
	// of GPUUtilization and GPUMemoryUtilization per pod.
	DCGMURL            string
	StartLimit         time.Duration
	PingInterval       time.Duration
	PingTimeout        time.Duration
	UnhealthyThreshold int
	// PodAnswerLimit is how long a starting instance waits for a pod the
	// cluster lists ready to answer /ping before it gives the pod back and
	// waits for another (within StartLimit); default 30 s.
	PodAnswerLimit time.Duration
	// AdoptHold is how long an adopted Deployment keeps the replicas the
	// previous leader asked for (see Adopt); default 30 s.
	AdoptHold time.Duration
	// Fence, if set, is asked before every write to the Kubernetes API; an
	// error refuses the write (a replica that lost the leadership).
	Fence func(context.Context) error
	// Logs, if set, follows what each pod's model container writes (the pod
	// log API, copied into LogDir) into its CloudWatch Logs stream.
	Logs   runtime.LogFollower
	LogDir string
	Logger *slog.Logger
}

// Runtime runs instances as pods. Create it with New.
type Runtime struct {
	o      Options
	c      kubernetes.Interface
	ps     podSettings
	health runtime.Health
	log    *slog.Logger
	ping   runtime.Pinger

	factory     informers.SharedInformerFactory
	pods        corelisters.PodNamespaceLister
	slices      discoverylisters.EndpointSliceNamespaceLister
	deployments appslisters.DeploymentNamespaceLister
	stop        chan struct{}
	stopOnce    sync.Once
	queue       workqueue.TypedRateLimitingInterface[string] // names of groups to reconcile
	dcgm        *dcgm                                        // nil without Options.DCGMURL
	noMetrics   atomic.Bool                                  // metrics.k8s.io does not answer
	// metricsCheck caches whether the cluster serves metrics.k8s.io.
	metricsCheck struct {
		sync.Mutex
		at      time.Time
		missing bool
	}

	mu     sync.Mutex
	groups map[string]*group    // by Deployment name
	byPod  map[string]*instance // the live instance bound to each pod
}

// group is one Deployment: the instances of one variant of one hosting
// deployment. Guarded by Runtime.mu.
type group struct {
	name    string
	spec    unit
	members []*instance // live instances, bound or waiting for a pod, in Start order
	// floor holds the replicas a previous leader asked for while hosting
	// resumes after an adoption (see Adopt); 0 otherwise.
	floor int32
	// doomed are pods to delete: their instance failed (the ReplicaSet
	// replaces them), or adoption found them unhealthy.
	doomed   map[string]bool
	released bool // Release deleted its objects
}

// New connects to the cluster, starts the informers of ebb's objects in the
// namespace and waits for their caches.
func New(ctx context.Context, o Options) (*Runtime, error) {
	if o.Client == nil || o.Namespace == "" {
		return nil, errors.New("kubernetes runtime: a client and a namespace are required")
	}
	if o.FetcherImage == "" {
		o.FetcherImage = DefaultFetcherImage
	}
	if o.StartLimit == 0 {
		o.StartLimit = DefaultStartLimit
	}
	if o.PingInterval == 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.PingTimeout == 0 {
		o.PingTimeout = DefaultPingTimeout
	}
	if o.UnhealthyThreshold == 0 {
		o.UnhealthyThreshold = DefaultUnhealthyThreshold
	}
	if o.AdoptHold == 0 {
		o.AdoptHold = DefaultAdoptHold
	}
	if o.PodAnswerLimit == 0 {
		o.PodAnswerLimit = DefaultPodAnswerLimit
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if _, err := o.Client.AppsV1().Deployments(o.Namespace).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		return nil, fmt.Errorf("kubernetes runtime: listing Deployments in namespace %q: %w", o.Namespace, err)
	}
	r := &Runtime{
		o: o, c: o.Client, log: o.Logger,
		ps: podSettings{FetcherImage: o.FetcherImage, FetcherSecret: o.FetcherSecret, S3Endpoint: o.S3Endpoint, Region: o.Region, Security: o.PodSecurity,
			InstanceTypeLabel: o.InstanceTypeLabel, StartLimitSeconds: int32(o.StartLimit / time.Second)},
		health: runtime.Health{PingInterval: o.PingInterval, UnhealthyThreshold: o.UnhealthyThreshold},
		ping:   runtime.NewPinger(o.PingTimeout),
		stop:   make(chan struct{}),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "ebb-kubernetes"}),
		groups: map[string]*group{},
		byPod:  map[string]*instance{},
	}
	if o.DCGMURL != "" {
		r.dcgm = &dcgm{url: o.DCGMURL, client: &http.Client{Timeout: 5 * time.Second}}
	}
	r.factory = informers.NewSharedInformerFactoryWithOptions(o.Client, 10*time.Minute, informers.WithNamespace(o.Namespace),
		informers.WithTweakListOptions(func(lo *metav1.ListOptions) { lo.LabelSelector = labelManagedBy + "=" + managedBy }))
	pods := r.factory.Core().V1().Pods()
	slices := r.factory.Discovery().V1().EndpointSlices()
	deps := r.factory.Apps().V1().Deployments()
	enqueue := cache.ResourceEventHandlerFuncs{
		AddFunc:    r.enqueueObject,
		UpdateFunc: func(_, obj any) { r.enqueueObject(obj) },
		DeleteFunc: r.enqueueObject,
	}
	for _, inf := range []cache.SharedIndexInformer{pods.Informer(), slices.Informer(), deps.Informer()} {
		if _, err := inf.AddEventHandler(enqueue); err != nil {
			return nil, err
		}
	}
	r.pods = pods.Lister().Pods(o.Namespace)
	r.slices = slices.Lister().EndpointSlices(o.Namespace)
	r.deployments = deps.Lister().Deployments(o.Namespace)
	r.factory.Start(r.stop)
	for typ, ok := range r.factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			r.Detach()
			return nil, fmt.Errorf("kubernetes runtime: the %v cache did not sync", typ)
		}
	}
	for range workers {
		go r.work()
	}
	return r, nil
}

// Detach stops watching the cluster and leaves every pod running: ebb's
// instances outlive the server, and the next one adopts them
// (runtime.Detacher).
func (r *Runtime) Detach() {
	r.stopOnce.Do(func() {
		close(r.stop)
		r.queue.ShutDown()
		r.factory.Shutdown()
	})
}

// Start adds an instance to its variant's Deployment (creating the
// Deployment first) and returns at once; the instance binds to a pod and
// becomes ready, or ends, later.
func (r *Runtime) Start(ctx context.Context, spec runtime.Spec) (runtime.Instance, error) {
	if spec.Image == "" {
		return nil, errors.New("image is empty: give a container image")
	}
	return r.start(unit{Spec: spec}), nil
}

// StartGroup runs the containers of a model of several as one pod, as one
// SageMaker instance runs them: the first is the pod's "model" container
// with the instance type's resources, each listens on its own port
// (8080, 8081, ...: SAGEMAKER_BIND_TO_PORT, as SageMaker tells a
// pipeline's containers) with its own model data, and they are ready, end
// and stop together (runtime.GroupStarter).
func (r *Runtime) StartGroup(ctx context.Context, spec runtime.Spec, containers []runtime.Spec) ([]runtime.Instance, error) {
	for i, c := range containers {
		if c.Image == "" {
			return nil, fmt.Errorf("container %d: image is empty: give a container image", i+1)
		}
	}
	in := r.start(unit{Spec: spec, containers: containers})
	out := make([]runtime.Instance, len(containers))
	for i, c := range containers {
		out[i] = &member{instance: in, id: c.ID, port: ModelPort + i}
	}
	return out, nil
}

// start adds an instance of u to its Deployment's group.
func (r *Runtime) start(u unit) *instance {
	name := groupName(u.Endpoint, u.Variant, u.Deployment)
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.groups[name]
	if g == nil {
		g = r.newGroup(name, u)
	}
	g.spec = u
	in := r.newInstance(u.ID, g)
	for _, c := range u.containers {
		in.containers = append(in.containers, c.ID)
	}
	urls := []string{u.MultiModelPrefix}
	for _, c := range u.all() {
		urls = append(urls, c.ModelDataURL)
	}
	for _, url := range urls {
		if err := r.CheckModelData(url); err != nil {
			// A local path cannot reach a pod: the launch fails, as the
			// contract has it, without touching the cluster.
			go in.end(fmt.Errorf("%w: %v", runtime.ErrLaunch, err))
			return in
		}
	}
	g.members = append(g.members, in)
	go in.run()
	r.queue.Add(name)
	return in
}

// CheckModelData refuses model data the init container (or the puller of
// a multi-model pod) cannot fetch (runtime.ModelDataChecker).
func (r *Runtime) CheckModelData(u string) error {
	switch {
	case u == "" || strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://"):
		return nil
	case strings.HasPrefix(u, "s3://"):
		if r.ps.S3Endpoint == "" {
			return fmt.Errorf("ModelDataUrl %q: pods cannot reach an S3 API: start ebb with --advertise-url (ebb's own, as pods reach it) or --s3-endpoint", u)
		}
		return nil
	}
	return fmt.Errorf("ModelDataUrl %q: on Kubernetes model data comes from s3://, http:// or https:// URLs (an init container fetches it)", u)
}

func (r *Runtime) newGroup(name string, spec unit) *group {
	g := &group{name: name, spec: spec, doomed: map[string]bool{}}
	r.groups[name] = g
	return g
}

// create makes sure the endpoint's owner, the group's Service and its
// Deployment exist, the Deployment with replicas pods.
func (r *Runtime) create(ctx context.Context, spec unit, replicas int32) error {
	ns := r.o.Namespace
	owner, err := r.c.CoreV1().ConfigMaps(ns).Create(ctx, ownerFor(spec.Endpoint), metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		owner, err = r.c.CoreV1().ConfigMaps(ns).Get(ctx, ownerName(spec.Endpoint), metav1.GetOptions{})
	}
	if err != nil {
		return fmt.Errorf("the endpoint's owner ConfigMap: %w", err)
	}
	d := deploymentFor(spec, replicas, owner, r.ps)
	if _, err := r.c.CoreV1().Services(ns).Create(ctx, serviceFor(d), metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("Service %s: %w", d.Name, err)
	}
	_, err = r.c.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return r.scale(ctx, d.Name, replicas)
	}
	if err != nil {
		return fmt.Errorf("Deployment %s: %w", d.Name, err)
	}
	r.log.Info("deployment created", "deployment", d.Name, "endpoint", spec.Endpoint, "variant", spec.Variant, "replicas", replicas)
	return nil
}

// scale sets a Deployment's replicas through the scale subresource. The
// API server answers 409 when another writer (the deployment controller
// updating status, another ebb) changed it since it was read: read again.
func (r *Runtime) scale(ctx context.Context, name string, replicas int32) error {
	deps := r.c.AppsV1().Deployments(r.o.Namespace)
	return retry.RetryOnConflict(retry.DefaultBackoff, func() error {
		s, err := deps.GetScale(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if s.Spec.Replicas == replicas {
			return nil
		}
		s.Spec = autoscalingv1.ScaleSpec{Replicas: replicas}
		_, err = deps.UpdateScale(ctx, name, s, metav1.UpdateOptions{})
		return err
	})
}

// readyAddrs maps the group's ready pods to their addresses, from the
// EndpointSlices of its Service. Callers hold r.mu.
func (r *Runtime) readyAddrs(name string) map[string]string {
	slices, err := r.slices.List(labels.SelectorFromSet(labels.Set{labelServiceName: name}))
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for _, s := range slices {
		for _, ep := range s.Endpoints {
			if ep.TargetRef == nil || len(ep.Addresses) == 0 || ep.Conditions.Ready == nil || !*ep.Conditions.Ready {
				continue
			}
			out[ep.TargetRef.Name] = ep.Addresses[0]
		}
	}
	return out
}

// fenced asks Options.Fence whether this replica may still write.
func (r *Runtime) fenced(ctx context.Context) error {
	if r.o.Fence == nil {
		return nil
	}
	return r.o.Fence(ctx)
}

// Runs says which ways of hosting run as pods (runtime.Featured):
// inference components, each component's copies a Deployment of their
// own whose pods request the copy's ComputeResourceRequirements. The
// endpoint's instances are shares of the cluster the size of its instance
// type, on which hosting places copies as SageMaker does (ManagedInstance-
// Scaling adds and removes shares); kube-scheduler puts the pods on nodes
// of that instance type (--instance-type-label), and a copy it cannot
// place fails with its reason. A model of several containers runs as one
// pod of them all (StartGroup). A multi-model container's pod has a puller
// beside it that fetches artifacts on request (Artifacts); its image's
// label cannot be read without pulling it, so a container that does not
// serve the contract says so at its first invocation.
func (r *Runtime) Runs(runtime.Feature) bool { return true }

// Artifacts returns the pullers of multi-model pods: each pod fetches its
// own artifacts into a volume its model container reads (dir is not used;
// runtime.ArtifactPreparer).
func (r *Runtime) Artifacts(string) runtime.Artifacts { return pullers{} }

// pullers asks the puller of the pod serving at addr for an artifact.
type pullers struct{}

func (pullers) Prepare(ctx context.Context, addr, url string) (string, time.Duration, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	return modeldata.Pull(ctx, http.DefaultClient, "http://"+net.JoinHostPort(host, strconv.Itoa(PullerPort)), url)
}

// Release deletes the objects an endpoint holds for its hosting
// deployments other than keep: with nothing kept (the endpoint is gone),
// its owner ConfigMap, and with it, by the garbage collector, everything
// (runtime.Releaser).
func (r *Runtime) Release(ctx context.Context, endpoint string, keep ...string) error {
	if err := r.fenced(ctx); err != nil {
		return err
	}
	kept := map[string]bool{}
	for _, k := range keep {
		kept[k] = true
	}
	deps, err := r.deployments.List(labels.SelectorFromSet(labels.Set{labelEndpoint: endpointLabel(endpoint)}))
	if err != nil {
		return err
	}
	var names []string
	r.mu.Lock()
	for name, g := range r.groups {
		if strings.EqualFold(g.spec.Endpoint, endpoint) && !kept[g.spec.Deployment] {
			names = append(names, name)
			r.dropGroup(g)
		}
	}
	r.mu.Unlock()
	for _, d := range deps {
		if !kept[d.Annotations[annDeployment]] {
			names = append(names, d.Name)
		}
	}
	background := metav1.DeletePropagationBackground
	del := metav1.DeleteOptions{PropagationPolicy: &background}
	var errs []error
	for _, name := range dedupe(names) {
		if err := r.c.AppsV1().Deployments(r.o.Namespace).Delete(ctx, name, del); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
		if err := r.c.CoreV1().Services(r.o.Namespace).Delete(ctx, name, del); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	if len(keep) == 0 {
		if err := r.c.CoreV1().ConfigMaps(r.o.Namespace).Delete(ctx, ownerName(endpoint), del); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	if len(names) > 0 {
		r.log.Info("released deployments", "endpoint", endpoint, "deployments", dedupe(names))
	}
	return errors.Join(errs...)
}

// dropGroup forgets a group whose objects are being deleted. Callers hold r.mu.
func (r *Runtime) dropGroup(g *group) {
	delete(r.groups, g.name)
	g.released = true
	for _, in := range g.members {
		if in.pod != "" {
			delete(r.byPod, in.pod)
		}
		go in.end(errors.New("its deployment was released"))
	}
	g.members = nil
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	out := s[:0:0]
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

var _ runtime.Runtime = (*Runtime)(nil)
