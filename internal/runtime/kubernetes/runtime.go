package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ebbscale/ebb/internal/runtime"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
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
	// stopSettle is how long Stop waits for the ReplicaSet to remove the
	// marked pod before deleting it itself (see Stop).
	stopSettle = 10 * time.Second
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
	// DCGMURL, if set, is NVIDIA's DCGM exporter (its /metrics), the source
	// of GPUUtilization and GPUMemoryUtilization per pod.
	DCGMURL            string
	StartLimit         time.Duration
	PingInterval       time.Duration
	PingTimeout        time.Duration
	UnhealthyThreshold int
	// AdoptHold is how long an adopted Deployment keeps the replicas the
	// previous leader asked for (see Adopt); default 30 s.
	AdoptHold time.Duration
	// Fence, if set, is asked before every write to the Kubernetes API; an
	// error refuses the write (a replica that lost the leadership).
	Fence  func(context.Context) error
	Logger *slog.Logger
}

// Runtime runs instances as pods. Create it with New.
type Runtime struct {
	o      Options
	c      kubernetes.Interface
	ps     podSettings
	health runtime.Health
	log    *slog.Logger
	ping   *http.Client

	factory     informers.SharedInformerFactory
	pods        corelisters.PodNamespaceLister
	slices      discoverylisters.EndpointSliceNamespaceLister
	deployments appslisters.DeploymentNamespaceLister
	stop        chan struct{}
	stopOnce    sync.Once
	dcgm        *dcgm // nil without Options.DCGMURL

	mu     sync.Mutex
	groups map[string]*group    // by Deployment name
	byPod  map[string]*instance // the live instance bound to each pod
}

// group is one Deployment: the instances of one variant of one hosting
// deployment.
type group struct {
	name    string
	spec    runtime.Spec
	members []*instance // live instances, bound or waiting for a pod, in Start order
	want    int32       // the replicas ebb wants: len(members) when last changed
	applied int32       // the replicas last written (-1: not yet)
	// floor holds the replicas a previous leader asked for while hosting
	// resumes after an adoption (see Adopt); 0 otherwise.
	floor   int32
	created bool // its Deployment exists
	kick    chan struct{}
	done    chan struct{} // closed by Release
	// settled is closed and replaced each time the scaler has written want.
	settled chan struct{}
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
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if _, err := o.Client.AppsV1().Deployments(o.Namespace).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
		return nil, fmt.Errorf("kubernetes runtime: listing Deployments in namespace %q: %w", o.Namespace, err)
	}
	r := &Runtime{
		o: o, c: o.Client, log: o.Logger,
		ps: podSettings{FetcherImage: o.FetcherImage, FetcherSecret: o.FetcherSecret, S3Endpoint: o.S3Endpoint, Region: o.Region,
			InstanceTypeLabel: o.InstanceTypeLabel, StartLimitSeconds: int32(o.StartLimit / time.Second)},
		health: runtime.Health{PingInterval: o.PingInterval, UnhealthyThreshold: o.UnhealthyThreshold},
		ping:   &http.Client{Timeout: o.PingTimeout, Transport: &http.Transport{MaxIdleConnsPerHost: 1, IdleConnTimeout: time.Minute}},
		stop:   make(chan struct{}),
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
	onChange := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { r.changed(obj) },
		UpdateFunc: func(_, obj any) { r.changed(obj) },
		DeleteFunc: func(obj any) { r.changed(obj) },
	}
	if _, err := pods.Informer().AddEventHandler(onChange); err != nil {
		return nil, err
	}
	if _, err := slices.Informer().AddEventHandler(onChange); err != nil {
		return nil, err
	}
	r.pods = pods.Lister().Pods(o.Namespace)
	r.slices = slices.Lister().EndpointSlices(o.Namespace)
	r.deployments = deps.Lister().Deployments(o.Namespace)
	deps.Informer()
	r.factory.Start(r.stop)
	for typ, ok := range r.factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			r.Detach()
			return nil, fmt.Errorf("kubernetes runtime: the %v cache did not sync", typ)
		}
	}
	return r, nil
}

// Detach stops watching the cluster and leaves every pod running: ebb's
// instances outlive the server, and the next one adopts them
// (runtime.Detacher).
func (r *Runtime) Detach() {
	r.stopOnce.Do(func() {
		close(r.stop)
		r.factory.Shutdown()
	})
}

// changed re-examines the group of a pod or EndpointSlice that changed.
func (r *Runtime) changed(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	var name string
	switch o := obj.(type) {
	case *corev1.Pod:
		name = o.Labels[labelGroup]
	case *discoveryv1.EndpointSlice:
		name = o.Labels[labelServiceName]
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if g := r.groups[name]; g != nil {
		r.sync(g)
	}
}

// Start adds an instance to its variant's Deployment (creating the
// Deployment first) and returns at once; the instance binds to a pod and
// becomes ready, or ends, later.
func (r *Runtime) Start(ctx context.Context, spec runtime.Spec) (runtime.Instance, error) {
	if spec.Image == "" {
		return nil, errors.New("image is empty: give a container image")
	}
	name := groupName(spec.Endpoint, spec.Variant, spec.Deployment)
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.groups[name]
	if g == nil {
		g = r.newGroup(name, spec, false)
	}
	g.spec = spec
	in := r.newInstance(spec.ID, g)
	if err := r.fetchable(spec.ModelDataURL); err != nil {
		// A local path cannot reach a pod: the launch fails, as the
		// contract has it, without touching the cluster.
		go in.end(fmt.Errorf("%w: %v", runtime.ErrLaunch, err))
		return in, nil
	}
	g.members = append(g.members, in)
	r.setWant(g)
	go in.run()
	r.sync(g)
	return in, nil
}

// fetchable refuses what the init container cannot fetch.
func (r *Runtime) fetchable(u string) error {
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

func (r *Runtime) newGroup(name string, spec runtime.Spec, created bool) *group {
	g := &group{name: name, spec: spec, created: created, applied: -1,
		kick: make(chan struct{}, 1), done: make(chan struct{}), settled: make(chan struct{})}
	r.groups[name] = g
	go r.scaler(g)
	return g
}

// setWant records that the group's Deployment should have one pod per
// live instance not being stopped and wakes its scaler. Callers hold r.mu.
func (r *Runtime) setWant(g *group) {
	g.want = 0
	for _, in := range g.members {
		if !in.stopping {
			g.want++
		}
	}
	g.want = max(g.want, g.floor)
	select {
	case g.kick <- struct{}{}:
	default:
	}
}

// scaler writes the group's wanted replicas: it creates the Deployment (and
// its owner and Service) the first time, then uses the scale subresource,
// retrying on 409 conflicts. Several changes in a row are written once.
func (r *Runtime) scaler(g *group) {
	backoff := time.Second
	for {
		select {
		case <-g.kick:
		case <-g.done:
			return
		case <-r.stop:
			return
		}
		for {
			r.mu.Lock()
			want, created, spec := g.want, g.created, g.spec
			r.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			var err error
			if !created {
				err = r.create(ctx, spec, want)
			} else if want != g.applied {
				err = r.scale(ctx, g.name, want)
				if apierrors.IsNotFound(err) && spec.Image != "" {
					// Deleted behind ebb's back: make it again.
					err = r.create(ctx, spec, want)
				}
			}
			cancel()
			if err == nil {
				r.mu.Lock()
				g.created, g.applied = true, want
				close(g.settled)
				g.settled = make(chan struct{})
				again := g.want != want
				r.mu.Unlock()
				backoff = time.Second
				if again {
					continue
				}
				break
			}
			r.log.Warn("writing a Deployment's replicas failed; retrying", "deployment", g.name, "replicas", want, "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-g.done:
				return
			case <-r.stop:
				return
			}
			backoff = min(2*backoff, 30*time.Second)
		}
	}
}

// create makes sure the endpoint's owner, the group's Service and its
// Deployment exist, the Deployment with replicas pods.
func (r *Runtime) create(ctx context.Context, spec runtime.Spec, replicas int32) error {
	if err := r.fenced(ctx); err != nil {
		return err
	}
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
	if err := r.fenced(ctx); err != nil {
		return err
	}
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

// sync binds waiting instances to free pods and tells bound instances what
// happened to theirs. Callers hold r.mu.
func (r *Runtime) sync(g *group) {
	pods, err := r.pods.List(labels.SelectorFromSet(labels.Set{labelGroup: g.name}))
	if err != nil {
		return
	}
	ready := r.readyAddrs(g.name)
	byName := map[string]*corev1.Pod{}
	for _, p := range pods {
		byName[p.Name] = p
	}
	var free []*corev1.Pod
	for _, p := range pods {
		if r.byPod[p.Name] == nil && p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodFailed && p.Status.Phase != corev1.PodSucceeded {
			free = append(free, p)
		}
	}
	sortPods(free)
	for _, in := range slices.Clone(g.members) { // observe may end members
		if in.pod == "" && !in.stopping {
			if len(free) == 0 {
				continue
			}
			p := free[0]
			free = free[1:]
			in.bind(p)
			r.byPod[p.Name] = in
			// A spare pod (see Adopt) stops being the first to go.
			go r.annotate(p.Name, map[string]*string{annInstance: &in.id, annDeletionCost: nil})
		}
		in.observe(byName[in.pod], ready[in.pod])
	}
}

// resync syncs a group that is still known.
func (r *Runtime) resync(g *group) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.groups[g.name] == g {
		r.sync(g)
	}
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

// annotate sets annotations on a pod (a merge patch; a nil value removes
// the annotation).
func (r *Runtime) annotate(pod string, set map[string]*string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.fenced(ctx); err != nil {
		return err
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": set}})
	if err != nil {
		return err
	}
	_, err = r.c.CoreV1().Pods(r.o.Namespace).Patch(ctx, pod, "application/merge-patch+json", patch, metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		r.log.Warn("annotating a pod", "pod", pod, "annotations", set, "err", err)
	}
	return err
}

// deletePod deletes a pod whose instance ended, so that its ReplicaSet
// replaces it.
func (r *Runtime) deletePod(pod string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.fenced(ctx); err != nil {
		r.log.Warn("not deleting the pod of an ended instance", "pod", pod, "err", err)
		return
	}
	if err := r.c.CoreV1().Pods(r.o.Namespace).Delete(ctx, pod, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		r.log.Warn("deleting the pod of an ended instance", "pod", pod, "err", err)
	}
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
	close(g.done)
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
