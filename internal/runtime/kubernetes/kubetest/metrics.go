package kubetest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/shirou/gopsutil/v4/process"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The metrics.k8s.io API, as metrics-server serves it: the harness runs a
// pod's containers as processes, so it reads their real CPU time and
// resident memory. CPU is a rate, as metrics-server's is: the CPU time a
// container used since the pod was last read, over that window (the
// process's lifetime on the first read).

// Where the aggregator finds the API: an ExternalName Service resolves to
// the harness's node address on this machine.
const (
	metricsService = "kubetest-metrics-server"
	metricsGroupV  = "v1beta1.metrics.k8s.io"
)

// podMetrics is what the API remembers while it is served: each
// container's CPU time when last read.
type podMetrics struct {
	last map[string]cpuSample // by namespace/pod/container
}

type cpuSample struct {
	cpu time.Duration
	at  time.Time
}

// ServeMetrics serves metrics.k8s.io for the rest of the test, as
// metrics-server would (an APIService through the API server's
// aggregator), and takes it away when the test ends: a test that does not
// ask sees a cluster without metrics-server.
func (c *Cluster) ServeMetrics(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	c.mu.Lock()
	c.metrics = &podMetrics{last: map[string]cpuSample{}}
	c.mu.Unlock()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: metricsService},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "localhost",
			Ports: []corev1.ServicePort{{Name: "https", Port: int32(c.kubelet.addr.Port)}}}}
	if _, err := c.Client.CoreV1().Services("kube-system").Create(ctx, svc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("the metrics Service: %v", err)
	}
	apiService := map[string]any{"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": map[string]any{"name": metricsGroupV},
		"spec": map[string]any{"group": "metrics.k8s.io", "version": "v1beta1", "insecureSkipTLSVerify": true, "groupPriorityMinimum": 100, "versionPriority": 100,
			"service": map[string]any{"namespace": "kube-system", "name": metricsService, "port": c.kubelet.addr.Port}}}
	body, _ := json.Marshal(apiService)
	rest := c.Client.CoreV1().RESTClient()
	if err := rest.Post().AbsPath("/apis/apiregistration.k8s.io/v1/apiservices").Body(body).Do(ctx).Error(); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("the metrics APIService: %v", err)
	}
	t.Cleanup(func() {
		rest.Delete().AbsPath("/apis/apiregistration.k8s.io/v1/apiservices", metricsGroupV).Do(ctx)
		c.Client.CoreV1().Services("kube-system").Delete(ctx, metricsService, metav1.DeleteOptions{})
		waitDiscovery(t, c, false)
		c.mu.Lock()
		c.metrics = nil
		c.mu.Unlock()
	})
	waitDiscovery(t, c, true)
}

// waitDiscovery waits until the API server's discovery lists
// metrics.k8s.io/v1beta1 (served) or no longer does.
func waitDiscovery(t testing.TB, c *Cluster, served bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := c.Client.Discovery().ServerResourcesForGroupVersion("metrics.k8s.io/v1beta1")
		if (err == nil) == served {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics.k8s.io served %v after a minute, want %v: %v", err == nil, served, err)
		}
		time.Sleep(100 * time.Millisecond) // the aggregator's own controllers act on their own time
	}
}

// metricsResources is the group version's discovery document.
func (c *Cluster) metricsResources(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: "metrics.k8s.io/v1beta1",
		APIResources: []metav1.APIResource{{Name: "pods", Namespaced: true, Kind: "PodMetrics", Verbs: metav1.Verbs{"get", "list"}}}})
}

// podMetricsDoc is metrics.k8s.io/v1beta1's PodMetrics.
type podMetricsDoc struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Timestamp         metav1.Time        `json:"timestamp"`
	Window            metav1.Duration    `json:"window"`
	Containers        []containerMetrics `json:"containers"`
}

type containerMetrics struct {
	Name  string              `json:"name"`
	Usage corev1.ResourceList `json:"usage"`
}

func (c *Cluster) podMetrics(w http.ResponseWriter, r *http.Request) {
	ns, pod := r.PathValue("ns"), r.PathValue("pod")
	doc, ok := c.readPod(ns, pod)
	if !ok {
		writeJSON(w, http.StatusNotFound, metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
			Reason: metav1.StatusReasonNotFound, Code: http.StatusNotFound, Message: fmt.Sprintf("podmetrics.metrics.k8s.io %q not found", pod)})
		return
	}
	writeJSON(w, http.StatusOK, doc)
}

func (c *Cluster) podMetricsList(w http.ResponseWriter, r *http.Request) {
	ns := r.PathValue("ns")
	list := struct {
		metav1.TypeMeta `json:",inline"`
		metav1.ListMeta `json:"metadata"`
		Items           []podMetricsDoc `json:"items"`
	}{TypeMeta: metav1.TypeMeta{Kind: "PodMetricsList", APIVersion: "metrics.k8s.io/v1beta1"}, Items: []podMetricsDoc{}}
	pods, err := c.Client.CoreV1().Pods(ns).List(r.Context(), metav1.ListOptions{})
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	for _, p := range pods.Items {
		if doc, ok := c.readPod(ns, p.Name); ok {
			list.Items = append(list.Items, doc)
		}
	}
	writeJSON(w, http.StatusOK, list)
}

// readPod reads the usage of a running pod's containers.
func (c *Cluster) readPod(ns, pod string) (podMetricsDoc, bool) {
	c.mu.Lock()
	runner, m := c.runners[ns], c.metrics
	c.mu.Unlock()
	if runner == nil || m == nil {
		return podMetricsDoc{}, false
	}
	ctrs := runner.containers(pod)
	if len(ctrs) == 0 {
		return podMetricsDoc{}, false
	}
	now := time.Now()
	doc := podMetricsDoc{TypeMeta: metav1.TypeMeta{Kind: "PodMetrics", APIVersion: "metrics.k8s.io/v1beta1"},
		ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: ns}, Timestamp: metav1.NewTime(now)}
	for _, ctr := range ctrs {
		p, err := process.NewProcess(int32(ctr.cmd.Process.Pid))
		if err != nil {
			return podMetricsDoc{}, false
		}
		times, err1 := p.Times()
		mem, err2 := p.MemoryInfo()
		created, err3 := p.CreateTime()
		if err1 != nil || err2 != nil || err3 != nil {
			return podMetricsDoc{}, false
		}
		cpu := time.Duration((times.User + times.System) * float64(time.Second))
		key := ns + "/" + pod + "/" + ctr.name
		c.mu.Lock()
		prev, seen := m.last[key]
		m.last[key] = cpuSample{cpu, now}
		c.mu.Unlock()
		if !seen {
			prev = cpuSample{0, time.UnixMilli(created)}
		}
		window := now.Sub(prev.at)
		var nanocores int64
		if window > 0 {
			nanocores = int64(float64(cpu-prev.cpu) / float64(window) * 1e9)
		}
		doc.Window = metav1.Duration{Duration: window}
		doc.Containers = append(doc.Containers, containerMetrics{Name: ctr.name, Usage: corev1.ResourceList{
			corev1.ResourceCPU:    *resource.NewScaledQuantity(max(0, nanocores), resource.Nano),
			corev1.ResourceMemory: *resource.NewQuantity(int64(mem.RSS), resource.BinarySI),
		}})
	}
	return doc, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}
