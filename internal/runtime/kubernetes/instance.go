package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ebbscale/ebb/internal/runtime"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
)

// instance is one runtime.Instance: a claim on one pod of its group.
type instance struct {
	r  *Runtime
	g  *group
	id string

	// Guarded by r.mu.
	pod      string      // the bound pod; "" while waiting for one
	restarts int32       // the pod's container restarts when bound
	last     *corev1.Pod // the pod as last seen, for failure reasons
	addr     string      // pod IP:8080 once its EndpointSlice lists it ready
	stopping bool
	ended    bool
	isReady  bool // passed its first health check
	logging  bool // its pod's output is followed
	// containers are the IDs of the model containers of a pod of several
	// (StartGroup), in order: each has its own log stream.
	containers []string
	err        error
	cpu        cpuMeter
	addrKnown  chan struct{} // closed when addr is set

	ready     chan struct{}
	done      chan struct{}
	readyOnce sync.Once
}

func (r *Runtime) newInstance(id string, g *group) *instance {
	return &instance{r: r, g: g, id: id, addrKnown: make(chan struct{}), ready: make(chan struct{}), done: make(chan struct{})}
}

func (in *instance) ID() string { return in.id }

func (in *instance) Addr() string {
	in.r.mu.Lock()
	defer in.r.mu.Unlock()
	return in.addr
}

func (in *instance) Ready() <-chan struct{} { return in.ready }
func (in *instance) Done() <-chan struct{}  { return in.done }

func (in *instance) Err() error {
	in.r.mu.Lock()
	defer in.r.mu.Unlock()
	return in.err
}

// bind claims a pod. Callers hold r.mu.
func (in *instance) bind(p *corev1.Pod) {
	in.pod, in.last, in.restarts = p.Name, p, restarts(p)
}

// containerStarted says the pod's model container has run: its output
// can be read.
func containerStarted(p *corev1.Pod) bool {
	for _, c := range p.Status.ContainerStatuses {
		if c.Name == containerName && (c.State.Running != nil || c.State.Terminated != nil || c.LastTerminationState.Terminated != nil) {
			return true
		}
	}
	return false
}

func restarts(p *corev1.Pod) int32 {
	var n int32
	for _, c := range p.Status.ContainerStatuses {
		n += c.RestartCount
	}
	return n
}

// observe applies what the cluster says of the instance's pod (nil: it is
// gone) and whether its EndpointSlice lists it ready at addr. Callers hold
// r.mu.
func (in *instance) observe(p *corev1.Pod, addr string) {
	if in.ended || in.pod == "" {
		return
	}
	switch {
	case p == nil && !in.stopping && in.addr == "":
		in.unbind()
		return
	case p == nil:
		if in.stopping {
			in.finish(nil)
		} else {
			in.finish(fmt.Errorf("its pod %s was deleted", in.pod))
		}
		return
	case in.stopping:
		return
	case p.DeletionTimestamp != nil && in.addr == "":
		// A pod that never served (the ReplicaSet's choice in a scale-in,
		// an eviction) is not the instance: it waits for another.
		in.unbind()
		return
	case p.DeletionTimestamp != nil:
		in.finish(fmt.Errorf("its pod %s is being deleted (evicted or preempted)", p.Name))
		return
	case p.Status.Phase == corev1.PodFailed:
		in.finish(fmt.Errorf("its pod %s failed: %s %s", p.Name, p.Status.Reason, p.Status.Message))
		return
	}
	in.last = p
	if !in.logging && containerStarted(p) {
		in.logging = true
		in.r.followPod(in, p.Name)
	}
	if err := initFailure(p); err != nil {
		in.finish(fmt.Errorf("%w: %v", runtime.ErrLaunch, err))
		return
	}
	if n := restarts(p); n > in.restarts {
		in.finish(fmt.Errorf("the model container of pod %s restarted%s", p.Name, lastExit(p)))
		return
	}
	if addr != "" && in.addr == "" {
		in.addr = net.JoinHostPort(addr, strconv.Itoa(ModelPort))
		close(in.addrKnown)
	}
}

// unbind gives up a pod that went before it served. Callers hold r.mu.
func (in *instance) unbind() {
	if in.r.byPod[in.pod] == in {
		delete(in.r.byPod, in.pod)
	}
	if in.addr != "" {
		in.addr, in.addrKnown = "", make(chan struct{})
	}
	in.pod, in.last = "", nil
	in.r.queue.Add(in.g.name)
}

// giveBack gives up a pod the cluster lists ready that has not answered
// /ping for PodAnswerLimit: ebb cannot reach it (a network policy, a
// broken route, an address another process holds), so it is not the
// instance. The pod is deleted (its ReplicaSet replaces it) and the
// instance waits for another, within its start limit.
func (in *instance) giveBack(addr string) {
	in.r.mu.Lock()
	defer in.r.mu.Unlock()
	if in.ended || in.stopping || in.pod == "" {
		return
	}
	in.r.log.Warn("giving back a ready pod that does not answer GET /ping", "instance", in.id, "pod", in.pod, "addr", addr, "after", in.r.o.PodAnswerLimit)
	in.g.doomed[in.pod] = true
	in.unbind()
}

// finish ends the instance. An instance that ended on its own gives its pod
// back for deletion: the ReplicaSet replaces it. Callers hold r.mu.
func (in *instance) finish(err error) {
	if in.ended {
		return
	}
	in.ended, in.err = true, err
	in.g.members = slices.DeleteFunc(in.g.members, func(x *instance) bool { return x == in })
	if in.pod != "" {
		if in.r.byPod[in.pod] == in {
			delete(in.r.byPod, in.pod)
		}
		if err != nil && !in.stopping {
			in.g.doomed[in.pod] = true
		}
	}
	close(in.done)
	// Its pod goes, or goes to an instance waiting for one.
	in.r.queue.Add(in.g.name)
}

func (in *instance) end(err error) {
	in.r.mu.Lock()
	defer in.r.mu.Unlock()
	in.finish(err)
}

// run waits for the instance to be listed ready, then runs the health
// contract (runtime.Health) itself, as SageMaker does: ebb runs beside
// the pods and asks /ping; the start limit covers both.
func (in *instance) run() {
	r := in.r
	ctx, cancel := in.lifetime()
	defer cancel()
	start, stop := context.WithTimeout(ctx, r.o.StartLimit)
	defer stop()
	var addr string
	for {
		r.mu.Lock()
		known := in.addrKnown
		r.mu.Unlock()
		select {
		case <-known:
		case <-start.Done():
			if ctx.Err() == nil {
				in.end(in.startLimitError())
			}
			return
		}
		addr = in.Addr()
		try, cancel := context.WithTimeout(start, r.o.PodAnswerLimit)
		ok := r.health.WaitReady(try, func() bool { return in.pingOK(addr) })
		cancel()
		if ok {
			break
		}
		if start.Err() != nil {
			if ctx.Err() == nil {
				in.end(fmt.Errorf("its pod %s was ready but did not answer GET /ping with 200 within the start limit (%v)", in.podName(), r.o.StartLimit))
			}
			return
		}
		in.giveBack(addr)
	}
	stop()
	in.markReady()
	in.watchHealth(ctx, addr)
}

func (in *instance) markReady() {
	in.r.mu.Lock()
	in.isReady = true
	in.r.mu.Unlock()
	in.readyOnce.Do(func() { close(in.ready) })
}

// lifetime is a context that ends with the instance or the runtime.
func (in *instance) lifetime() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-in.done:
		case <-in.r.stop:
		case <-ctx.Done():
		}
		cancel()
	}()
	return ctx, cancel
}

// watchHealth runs the contract's pings until ctx ends; failing it ends
// the instance. An instance being stopped is not asked.
func (in *instance) watchHealth(ctx context.Context, addr string) {
	if err := in.r.health.Watch(ctx, func() bool { return in.pingOK(addr) }, in.isStopping); err != nil {
		in.end(fmt.Errorf("failed %d health checks in a row (GET /ping on %s)", in.r.o.UnhealthyThreshold, addr))
	}
}

// pingOK asks /ping of every model container of the pod at addr: a pod of
// several (StartGroup) serves when all do, as its readiness waits for each
// container's probe.
func (in *instance) pingOK(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	for i := range max(1, len(in.containers)) {
		if !in.r.ping.Ping(net.JoinHostPort(host, strconv.Itoa(ModelPort+i))) {
			return false
		}
	}
	return true
}

func (in *instance) isStopping() bool {
	in.r.mu.Lock()
	defer in.r.mu.Unlock()
	return in.stopping
}

func (in *instance) podName() string {
	in.r.mu.Lock()
	defer in.r.mu.Unlock()
	return in.pod
}

// startLimitError says why the instance is not ready after the start
// limit, in the pod's own words.
func (in *instance) startLimitError() error {
	in.r.mu.Lock()
	p := in.last
	in.r.mu.Unlock()
	limit := in.r.o.StartLimit
	if p == nil {
		if why := in.r.replicaFailure(in.g.name); why != "" {
			// The cluster refused its pods: admission (Pod Security, a
			// webhook) or a quota, in the ReplicaSet's words.
			return fmt.Errorf("%w: the cluster created no pod of Deployment %s within the start limit (%v): %s", runtime.ErrLaunch, in.g.name, limit, why)
		}
		return fmt.Errorf("%w: no pod of Deployment %s was available to it within the start limit (%v); see the Deployment's events (quota, admission)", runtime.ErrLaunch, in.g.name, limit)
	}
	if reason := podReason(p); reason != "" {
		return fmt.Errorf("%w: pod %s was not ready within the start limit (%v): %s", runtime.ErrLaunch, p.Name, limit, reason)
	}
	return fmt.Errorf("pod %s did not become ready within the start limit (%v)", p.Name, limit)
}

// replicaFailure is why the ReplicaSet of Deployment name cannot create
// its pods, as the Deployment reports it (ReplicaFailure); "" if it can.
func (r *Runtime) replicaFailure(name string) string {
	d, err := r.deployments.Get(name)
	if err != nil {
		return ""
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue {
			return c.Reason + ": " + c.Message
		}
	}
	return ""
}

// podReason is why a pod is not running, as the scheduler and the kubelet
// report it: Unschedulable, ImagePullBackOff, CrashLoopBackOff, ...
func podReason(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
			return c.Reason + ": " + c.Message
		}
	}
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, c := range list {
			if w := c.State.Waiting; w != nil && w.Reason != "" && w.Reason != "ContainerCreating" && w.Reason != "PodInitializing" {
				return fmt.Sprintf("container %s: %s: %s", c.Name, w.Reason, w.Message)
			}
		}
	}
	return ""
}

// initFailure reports a model-data init container that failed.
func initFailure(p *corev1.Pod) error {
	for _, c := range p.Status.InitContainerStatuses {
		for _, st := range []corev1.ContainerState{c.State, c.LastTerminationState} {
			if t := st.Terminated; t != nil && t.ExitCode != 0 {
				return fmt.Errorf("pod %s: fetching the model data failed (init container %s exited %d: %s %s)", p.Name, c.Name, t.ExitCode, t.Reason, t.Message)
			}
		}
	}
	return nil
}

func lastExit(p *corev1.Pod) string {
	for _, c := range p.Status.ContainerStatuses {
		if t := c.LastTerminationState.Terminated; t != nil {
			return fmt.Sprintf(" (exit code %d, %s)", t.ExitCode, t.Reason)
		}
	}
	return ""
}

// lowestDeletionCost marks the pod a scale-in should remove first.
var lowestDeletionCost = strconv.Itoa(-1 << 31)

// Stop removes the instance's pod and lowers its Deployment's replicas
// (see group.writes for how that pod, and no other, goes), then waits for
// the pod to be gone: SIGTERM, and the 30-second grace. A detached
// runtime stops nothing: its pods are the next server's.
func (in *instance) Stop(ctx context.Context) error {
	r := in.r
	select {
	case <-r.stop:
		return nil
	default:
	}
	r.mu.Lock()
	if in.ended {
		r.mu.Unlock()
		return nil
	}
	in.stopping = true
	if in.pod == "" {
		in.finish(nil)
	}
	r.mu.Unlock()
	r.queue.Add(in.g.name)
	select {
	case <-in.done:
		return nil
	case <-r.stop:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats reads the pod's CPU and memory from the metrics.k8s.io API
// (metrics-server) and its GPUs' usage from the DCGM exporter when one is
// configured. What cannot be read is absent, never zero; with neither
// source, Stats fails.
func (in *instance) Stats() (runtime.Stats, error) {
	r := in.r
	pod := in.podName()
	if pod == "" {
		return runtime.Stats{}, errors.New("the instance has no pod yet")
	}
	st := runtime.Stats{NoDisk: true, At: time.Now()}
	cores, mem, err := r.podMetrics(pod)
	if err != nil {
		st.NoUsage = true
	} else {
		r.mu.Lock()
		st.CPUTime = in.cpu.add(cores, st.At)
		r.mu.Unlock()
		st.MemoryBytes = uint64(mem)
	}
	if r.dcgm != nil {
		if fams, derr := r.dcgm.scrape(); derr == nil {
			st.GPU = podGPU(fams, r.o.Namespace, pod)
		}
	}
	if st.NoUsage && st.GPU == nil {
		return runtime.Stats{}, err
	}
	return st, nil
}

// podMetrics reads a pod's usage from metrics.k8s.io: CPU in cores summed
// over its containers (as SageMaker sums CPUUtilization over cores) and
// memory in bytes.
func (r *Runtime) podMetrics(pod string) (cores float64, mem int64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	raw, err := r.c.CoreV1().RESTClient().Get().AbsPath("/apis/metrics.k8s.io/v1beta1/namespaces", r.o.Namespace, "pods", pod).DoRaw(ctx)
	if err == nil {
		r.noMetrics.Store(false)
	} else if r.metricsAPIMissing() && !r.noMetrics.Swap(true) {
		r.log.Warn(noMetricsNotice, "err", err)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("reading pod metrics (is metrics-server installed?): %w", err)
	}
	var m struct {
		Containers []struct {
			Usage map[string]string `json:"usage"`
		} `json:"containers"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return 0, 0, fmt.Errorf("pod metrics: %w", err)
	}
	for _, c := range m.Containers {
		if q, err := resource.ParseQuantity(c.Usage["cpu"]); err == nil {
			cores += q.AsApproximateFloat64()
		}
		if q, err := resource.ParseQuantity(c.Usage["memory"]); err == nil {
			mem += q.Value()
		}
	}
	return cores, mem, nil
}

// metricsAPIMissing asks the cluster's discovery whether it serves
// metrics.k8s.io at all (a pod's figures are also missing for a new pod's
// first minute, which is not worth a notice); at most every 30 seconds.
func (r *Runtime) metricsAPIMissing() bool {
	r.metricsCheck.Lock()
	defer r.metricsCheck.Unlock()
	if time.Since(r.metricsCheck.at) < 30*time.Second {
		return r.metricsCheck.missing
	}
	_, err := r.c.Discovery().ServerResourcesForGroupVersion("metrics.k8s.io/v1beta1")
	r.metricsCheck.at, r.metricsCheck.missing = time.Now(), apierrors.IsNotFound(err) || apierrors.IsServiceUnavailable(err)
	return r.metricsCheck.missing
}

// noMetricsNotice says what a cluster without metrics.k8s.io costs.
const noMetricsNotice = "CPUUtilization and MemoryUtilization are not published for pods: the cluster's metrics.k8s.io API (metrics-server) does not answer, so a policy or alarm on them never acts. Install metrics-server (kubectl apply -f https://github.com/kubernetes-sigs/metrics-server/releases/latest/download/components.yaml)."

// Notices says when pods' CPU and memory cannot be read
// (runtime.Noticer).
func (r *Runtime) Notices() []string {
	if r.noMetrics.Load() {
		return []string{noMetricsNotice}
	}
	return nil
}

// cpuMeter integrates the CPU rate metrics-server reports (cores, summed
// over the pod's containers) into the cumulative CPU time the runtime
// contract reports.
type cpuMeter struct {
	total time.Duration
	at    time.Time
}

func (m *cpuMeter) add(cores float64, now time.Time) time.Duration {
	if !m.at.IsZero() {
		m.total += time.Duration(cores * float64(now.Sub(m.at)))
	}
	m.at = now
	return m.total
}

// sortPods orders pods oldest first, so waiting instances take the pods
// that have been starting longest.
func sortPods(pods []*corev1.Pod) {
	slices.SortFunc(pods, func(a, b *corev1.Pod) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		if a.Name < b.Name {
			return -1
		}
		return 1
	})
}

// member is one container of a model of several: a view of the instance
// whose pod runs them all, at the container's own port. The first member
// reports the pod's usage; the others add none, so that hosting's sum over
// a model's containers counts the pod once.
type member struct {
	*instance
	id   string
	port int
}

func (m *member) ID() string { return m.id }

func (m *member) Addr() string {
	host, _, err := net.SplitHostPort(m.instance.Addr())
	if err != nil {
		return ""
	}
	return net.JoinHostPort(host, strconv.Itoa(m.port))
}

func (m *member) Stats() (runtime.Stats, error) {
	if m.port == ModelPort {
		return m.instance.Stats()
	}
	return runtime.Stats{NoDisk: true, At: time.Now()}, nil
}
