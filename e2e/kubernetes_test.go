package e2e

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/ebbscale/ebb/internal/runtime/kubernetes"
	"github.com/ebbscale/ebb/internal/runtime/kubernetes/kubetest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
)

// The images the kubelet stand-in knows: ebb's example model, a slower
// starting one for blue/green, and one that never starts.
const (
	kubeModel     = "ebb.test/example-model:v1"
	kubeModelSlow = "ebb.test/example-model:v2"
	kubeModelLogs = "ebb.test/example-model:logging"
	// kubeModelCPU spends 20 ms of CPU on each request.
	kubeModelCPU = "ebb.test/example-model:cpu"
	// kubeModelBroken answers every invocation 500, as a bad version does.
	kubeModelBroken = "ebb.test/example-model:broken"
	// kubeMultiModel serves the multi-model contract.
	kubeMultiModel = "ebb.test/example-model:multi-model"
	// kubeModelLLM is the LLM-like engine.
	kubeModelLLM = "ebb.test/example-model:llm"
)

var kubeNodes sync.Once

// kubeCluster is the shared control plane with two nodes labelled
// ml.m5.large, in two zones, each with room for 32 such pods: the tests
// leave their pods behind (ebb detaches from them), and every
// TestKubernetes* and every-runtime table test shares these nodes.
func kubeCluster(t testing.TB) *kubetest.Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("slow: runs a Kubernetes control plane")
	}
	c := kubetest.Shared(t)
	kubeNodes.Do(func() {
		// ml.m5.large in two zones, and ml.c5.large (the seeds' async type).
		for _, n := range []struct{ typ, zone string }{{"m5.large", "zone-a"}, {"m5.large", "zone-b"}, {"c5.large", "zone-a"}} {
			if err := c.AddNode(context.Background(), kubetest.NodeSpec{Name: strings.Split(n.typ, ".")[0] + "-" + n.zone, CPU: 64, Memory: "256Gi",
				Labels: map[string]string{"topology.kubernetes.io/zone": n.zone, "node.kubernetes.io/instance-type": n.typ}}); err != nil {
				t.Fatalf("node %s in %s: %v", n.typ, n.zone, err)
			}
		}
	})
	return c
}

// kubeServer runs ebb with --runtime kubernetes in a fresh namespace whose
// pods the harness runs.
type kubeServer struct {
	*server
	cluster *kubetest.Cluster
	ns      string
	runner  *kubetest.Runner
}

func startKubeServer(t testing.TB, dir string, extra ...string) *kubeServer {
	t.Helper()
	c := kubeCluster(t)
	return startKubeServerIn(t, dir, c.Namespace(t), extra...)
}

// startKubeServerIn is startKubeServer in namespace ns.
func startKubeServerIn(t testing.TB, dir, ns string, extra ...string) *kubeServer {
	t.Helper()
	c := kubeCluster(t)
	runner := c.Run(t, ns, map[string][]string{
		kubeModel:       {ebbBin, "example-model", "--work-ms", "2"},
		kubeModelSlow:   {ebbBin, "example-model", "--work-ms", "2", "--startup-delay", "300ms"},
		kubeModelLogs:   {ebbBin, "example-model", "--work-ms", "0", "--log-requests"},
		kubeModelCPU:    {ebbBin, "example-model", "--work-ms", "20"},
		kubeModelBroken: {ebbBin, "example-model", "--error-rate", "1"},
		kubeMultiModel:  {ebbBin, "example-model", "--multi-model", "--model-memory-mb", "100", "--work-ms", "0"},
		kubeModelLLM:    {ebbBin, "example-model", "--llm", "--max-batch", "2", "--time-per-token", "20ms"},
		// The puller beside a multi-model container (its entrypoint is ebb).
		kubernetes.DefaultFetcherImage: {ebbBin},
	}, nil)
	k := &kubeServer{server: restartKubeServer(t, dir, c, ns, extra...), cluster: c, ns: ns, runner: runner}
	t.Cleanup(func() {
		if t.Failed() {
			k.describe(t)
		}
	})
	return k
}

// describe logs the namespace's Deployments and pods as the cluster sees
// them, for a failed test to say where instances stopped.
func (k *kubeServer) describe(t testing.TB) {
	ctx := context.Background()
	deps, _ := k.cluster.Client.AppsV1().Deployments(k.ns).List(ctx, metav1.ListOptions{})
	for _, d := range deps.Items {
		t.Logf("deployment %s: replicas %d, ready %d, updated %d; conditions %+v", d.Name, ptrOr(d.Spec.Replicas), d.Status.ReadyReplicas, d.Status.UpdatedReplicas, d.Status.Conditions)
	}
	pods, _ := k.cluster.Client.CoreV1().Pods(k.ns).List(ctx, metav1.ListOptions{})
	for _, p := range pods.Items {
		t.Logf("pod %s: %s on %q at %s, deleting %v; conditions %+v", p.Name, p.Status.Phase, p.Spec.NodeName, p.Status.PodIP, p.DeletionTimestamp != nil, p.Status.Conditions)
		t.Logf("pod %s: its log ends: %s", p.Name, k.runner.LogTail(p.Name, 600))
		// Who listens on the pod's address (a process of another pod that
		// had it would answer for this one).
		if out, err := exec.Command("ss", "-ltnpH", "src", p.Status.PodIP).CombinedOutput(); err == nil && p.Status.PodIP != "" {
			t.Logf("pod %s: listening at %s: %s", p.Name, p.Status.PodIP, out)
		}
	}
	t.Logf("runner processes: %d", k.runner.Processes())
}

func ptrOr[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func restartKubeServer(t testing.TB, dir string, c *kubetest.Cluster, ns string, extra ...string) *server {
	t.Helper()
	args := append([]string{"--runtime", "kubernetes", "--kubeconfig", c.Kubeconfig, "--namespace", ns,
		"--instance-type-label", "node.kubernetes.io/instance-type"}, extra...)
	return startServer(t, dir, args...)
}

// pods lists the namespace's running pods, by name.
func (k *kubeServer) pods(t testing.TB) map[string]corev1.Pod {
	t.Helper()
	list, err := k.cluster.Client.CoreV1().Pods(k.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]corev1.Pod{}
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out[p.Name] = p
		}
	}
	return out
}

// replicas sums the replicas ebb's Deployments ask for.
func (k *kubeServer) replicas(t testing.TB) int32 {
	t.Helper()
	list, err := k.cluster.Client.AppsV1().Deployments(k.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var n int32
	for _, d := range list.Items {
		if d.Spec.Replicas != nil {
			n += *d.Spec.Replicas
		}
	}
	return n
}

// watchReplicas returns a channel closed as soon as one of ebb's
// Deployments asks for n replicas (a watch: no polling interval to miss
// the moment by).
func (k *kubeServer) watchReplicas(t testing.TB, n int32) <-chan struct{} {
	t.Helper()
	w, err := k.cluster.Client.AppsV1().Deployments(k.ns).Watch(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	done := make(chan struct{})
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			if d, ok := ev.Object.(*appsv1.Deployment); ok && d.Spec.Replicas != nil && *d.Spec.Replicas == n {
				close(done)
				return
			}
		}
	}()
	return done
}

// ebbObjects counts what ebb owns in the namespace (Deployments, Services,
// ConfigMaps with its label).
func (k *kubeServer) ebbObjects(t *testing.T) int {
	t.Helper()
	ctx := context.Background()
	sel := metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=ebb"}
	d, err := k.cluster.Client.AppsV1().Deployments(k.ns).List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := k.cluster.Client.CoreV1().Services(k.ns).List(ctx, sel)
	cm, _ := k.cluster.Client.CoreV1().ConfigMaps(k.ns).List(ctx, sel)
	return len(d.Items) + len(s.Items) + len(cm.Items)
}

// waitCond waits (eventually) up to 2 minutes for cond.
func waitCond(t testing.TB, what string, cond func() bool) {
	t.Helper()
	eventually(t, 2*time.Minute, what, func() (bool, any) { return cond(), "not yet" })
}

// TestKubernetesSeedBlogFlow is the seed blog's flow with instances as
// pods: register 1..4, track InvocationsPerInstance, load brings 4 pods,
// idle brings 1, the activities say why; the Deployment carries the
// SageMaker container contract; deleting the endpoint leaves nothing.
func TestKubernetesSeedBlogFlow(t *testing.T) {
	k := startKubeServer(t, t.TempDir(), "--time-scale", "60")
	sm, rt, as := k.SageMaker(), k.Runtime(), k.AutoScaling()
	ctx := context.Background()
	deploy(t, sm, "kblog", kubeModel, 1)
	waitInService(t, sm, "kblog")
	if got := invoke(t, rt, "kblog", "1,2,3"); len(got.Body) == 0 {
		t.Fatal("empty answer through the pod")
	}

	deps, err := k.cluster.Client.AppsV1().Deployments(k.ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(deps.Items) != 1 {
		t.Fatalf("Deployments = %v, %v; want one", deps, err)
	}
	d := deps.Items[0]
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	if c.Image != kubeModel || strings.Join(c.Args, " ") != "serve" || c.Ports[0].ContainerPort != 8080 ||
		c.ReadinessProbe.HTTPGet.Path != "/ping" || c.LivenessProbe.HTTPGet.Path != "/ping" {
		t.Errorf("container = %+v, want the SageMaker contract (serve, 8080, /ping probes)", c)
	}
	if cpu := c.Resources.Limits.Cpu().Value(); cpu != 2 || c.Resources.Limits.Memory().Value() != 8<<30 {
		t.Errorf("ml.m5.large resources = %v", c.Resources.Limits)
	}
	if pod.NodeSelector["node.kubernetes.io/instance-type"] != "m5.large" || *pod.TerminationGracePeriodSeconds != 30 ||
		len(pod.TopologySpreadConstraints) != 1 || pod.TopologySpreadConstraints[0].TopologyKey != "topology.kubernetes.io/zone" {
		t.Errorf("pod spec = node selector %v, grace %d, spread %+v", pod.NodeSelector, *pod.TerminationGracePeriodSeconds, pod.TopologySpreadConstraints)
	}
	if len(d.OwnerReferences) != 1 || d.OwnerReferences[0].Kind != "ConfigMap" {
		t.Errorf("owner references = %+v", d.OwnerReferences)
	}

	blogScaling(t, sm, rt, as, "kblog", func() {
		pods := k.pods(t)
		nodes := map[string]int{}
		for _, p := range pods {
			nodes[p.Spec.NodeName]++
		}
		t.Logf("pods per node: %v", nodes)
		if len(pods) != 4 {
			t.Errorf("%d pods at 4 instances", len(pods))
		}
	})
	waitCond(t, "one pod left", func() bool { return len(k.pods(t)) == 1 })

	sm.DeleteEndpoint(ctx, &sagemaker.DeleteEndpointInput{EndpointName: aws.String("kblog")})
	waitCond(t, "every object of the endpoint deleted", func() bool { return k.ebbObjects(t) == 0 && len(k.pods(t)) == 0 })
}

// TestKubernetesPodKilled: a pod whose container dies under load is
// replaced through its ReplicaSet; only requests in flight on it fail.
func TestKubernetesPodKilled(t *testing.T) {
	k := startKubeServer(t, t.TempDir())
	sm, rt := k.SageMaker(), k.Runtime()
	deploy(t, sm, "kkill", kubeModel, 2)
	waitInService(t, sm, "kkill")
	before := k.pods(t)
	stop, served := trafficServed(rt, "kkill", 4)
	waitCond(t, "traffic flows before the kill", func() bool { return served() >= 50 })
	var victim corev1.Pod
	for _, p := range before {
		victim = p
		break
	}
	k.runner.Crash(&victim)
	waitCond(t, "a replacement pod serving", func() bool {
		pods := k.pods(t)
		_, old := pods[victim.Name]
		return !old && len(pods) == 2 && k.runner.Processes() == 2
	})
	waitFor(t, sm, "kkill", "two instances again", func(o *sagemaker.DescribeEndpointOutput) bool {
		return *variantOf(o).CurrentInstanceCount == 2
	})
	replaced := served()
	waitCond(t, "traffic flows on the replacement", func() bool { return served() >= replaced+50 })
	ok, failed, first := stop()
	t.Logf("%d requests, %d failed (first: %v)", ok, failed, first)
	if failed > 4 {
		t.Fatalf("%d requests failed: more than the 4 that can be in flight on the killed pod", failed)
	}
	if ok < 100 {
		t.Fatalf("only %d requests succeeded", ok)
	}
}

// TestKubernetesRestartAdopts: ebb killed with -9 and restarted adopts its
// pods: the same pods keep serving, none is added or left over.
func TestKubernetesRestartAdopts(t *testing.T) {
	dir := t.TempDir()
	k := startKubeServer(t, dir)
	sm := k.SageMaker()
	deploy(t, sm, "kadopt", kubeModel, 2)
	waitInService(t, sm, "kadopt")
	before := k.pods(t)
	k.Crash()
	s2 := restartKubeServer(t, dir, k.cluster, k.ns)
	out := waitInService(t, s2.SageMaker(), "kadopt")
	if n := *variantOf(out).CurrentInstanceCount; n != 2 {
		t.Fatalf("CurrentInstanceCount after restart = %d, want 2", n)
	}
	invoke(t, s2.Runtime(), "kadopt", "1,2,3")
	after := k.pods(t)
	for name, p := range after {
		if b, ok := before[name]; !ok || b.UID != p.UID {
			t.Errorf("pod %s is new after the restart: adopted pods should have been kept", name)
		}
	}
	if len(after) != 2 {
		t.Fatalf("%d pods after the restart, want the same 2", len(after))
	}
}

// TestKubernetesBlueGreen: UpdateEndpoint makes a new Deployment; traffic
// moves when its pods are ready, no request fails, and the old Deployment
// is deleted.
func TestKubernetesBlueGreen(t *testing.T) {
	k := startKubeServer(t, t.TempDir())
	sm, rt := k.SageMaker(), k.Runtime()
	ctx := context.Background()
	deploy(t, sm, "kbg", kubeModel, 2)
	waitInService(t, sm, "kbg")
	createConfig(t, sm, "kbg-v2", "kbg-v2", kubeModelSlow, 2)
	stop := traffic(rt, "kbg", 8)
	if _, err := sm.UpdateEndpoint(ctx, &sagemaker.UpdateEndpointInput{EndpointName: aws.String("kbg"), EndpointConfigName: aws.String("kbg-v2")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, sm, "kbg", "cut over to kbg-v2", func(o *sagemaker.DescribeEndpointOutput) bool {
		return o.EndpointStatus == types.EndpointStatusInService && aws.ToString(o.EndpointConfigName) == "kbg-v2"
	})
	waitCond(t, "the old Deployment deleted", func() bool {
		deps, _ := k.cluster.Client.AppsV1().Deployments(k.ns).List(ctx, metav1.ListOptions{})
		return len(deps.Items) == 1 && deps.Items[0].Spec.Template.Spec.Containers[0].Image == kubeModelSlow
	})
	ok, failed, first := stop()
	t.Logf("%d requests during the update, %d failed", ok, failed)
	if failed > 0 {
		t.Fatalf("%d of %d requests failed during UpdateEndpoint; first: %v", failed, ok+failed, first)
	}
	if ok < 50 {
		t.Fatalf("only %d requests ran during the update", ok)
	}
}

// TestKubernetesUnschedulable: an instance type no node offers fails the
// endpoint after the start limit with the scheduler's reason.
func TestKubernetesUnschedulable(t *testing.T) {
	k := startKubeServer(t, t.TempDir(), "--instance-start-limit", "5s")
	sm := k.SageMaker()
	ctx := context.Background()
	if _, err := sm.CreateModel(ctx, &sagemaker.CreateModelInput{ModelName: aws.String("kgpu"),
		PrimaryContainer: &types.ContainerDefinition{Image: aws.String(kubeModel)}, ExecutionRoleArn: aws.String("arn:aws:iam::123456789012:role/ebb")}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{EndpointConfigName: aws.String("kgpu"),
		ProductionVariants: []types.ProductionVariant{{VariantName: aws.String("AllTraffic"), ModelName: aws.String("kgpu"),
			InstanceType: types.ProductionVariantInstanceTypeMlG5Xlarge, InitialInstanceCount: aws.Int32(1)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{EndpointName: aws.String("kgpu"), EndpointConfigName: aws.String("kgpu")}); err != nil {
		t.Fatal(err)
	}
	out := waitFor(t, sm, "kgpu", "Failed", func(o *sagemaker.DescribeEndpointOutput) bool { return o.EndpointStatus == types.EndpointStatusFailed })
	reason := aws.ToString(out.FailureReason)
	t.Logf("FailureReason: %s", reason)
	if !strings.Contains(reason, "Unschedulable") {
		t.Fatalf("FailureReason = %q, want the scheduler's Unschedulable reason", reason)
	}
	deps, _ := k.cluster.Client.AppsV1().Deployments(k.ns).List(ctx, metav1.ListOptions{})
	if len(deps.Items) != 1 {
		t.Fatalf("%d Deployments, want 1", len(deps.Items))
	}
	if gpus := deps.Items[0].Spec.Template.Spec.Containers[0].Resources.Limits["nvidia.com/gpu"]; gpus.Value() != 1 {
		t.Fatalf("the ml.g5.xlarge Deployment does not ask for its GPU")
	}
}

// TestKubernetesManifests applies deploy/kubernetes to a real API server
// (every object must validate) and runs ebb as its ServiceAccount, through
// impersonation, so the Role is shown to be enough for the whole endpoint
// lifecycle, and no more than asked: Secrets and Nodes stay out of reach.
func TestKubernetesManifests(t *testing.T) {
	c := kubeCluster(t)
	ns := c.Namespace(t)
	ctx := context.Background()
	for _, u := range render(t, "../deploy/kubernetes") {
		obj, err := scheme.Scheme.New(u.GroupVersionKind())
		if err == nil {
			err = runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj)
		}
		if err != nil {
			t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
		}
		if err := createIn(ctx, c, ns, obj); err != nil {
			t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
	c.Run(t, ns, map[string][]string{kubeModel: {ebbBin, "example-model", "--work-ms", "2"}}, nil)
	kc, err := os.ReadFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	sa := "system:serviceaccount:" + ns + ":ebb"
	asSA := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(asSA, []byte(strings.Replace(string(kc), "    token:", "    as: "+sa+"\n    token:", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", asSA)
	if err != nil {
		t.Fatal(err)
	}
	client := k8s.NewForConfigOrDie(cfg)
	if _, err := client.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("the ServiceAccount may list Secrets (err %v): the Role grants too much", err)
	}
	if _, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("the ServiceAccount may list Nodes (err %v)", err)
	}

	s := startServer(t, t.TempDir(), "--runtime", "kubernetes", "--kubeconfig", asSA, "--namespace", ns)
	sm := s.SageMaker()
	deploy(t, sm, "krbac", kubeModel, 1)
	waitInService(t, sm, "krbac")
	invoke(t, s.Runtime(), "krbac", "1,2,3")
	setCapacity(t, sm, "krbac", "AllTraffic", 2)
	waitFor(t, sm, "krbac", "two instances", func(o *sagemaker.DescribeEndpointOutput) bool {
		return *variantOf(o).CurrentInstanceCount == 2 && o.EndpointStatus == types.EndpointStatusInService
	})
	sm.DeleteEndpoint(ctx, &sagemaker.DeleteEndpointInput{EndpointName: aws.String("krbac")})
	waitCond(t, "the endpoint's Deployment deleted", func() bool {
		d, err := c.Client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=ebb"})
		return err == nil && len(d.Items) == 0
	})
	if strings.Contains(s.Log(), "forbidden") {
		t.Fatalf("ebb was refused something by its Role:\n%s", s.Log())
	}
}

// createIn creates one manifest object in namespace ns (the Namespace
// object itself is skipped: the test has its own).
func createIn(ctx context.Context, c *kubetest.Cluster, ns string, obj runtime.Object) error {
	var err error
	switch o := obj.(type) {
	case *corev1.Namespace:
		return nil
	case *corev1.ServiceAccount:
		o.Namespace = ns
		_, err = c.Client.CoreV1().ServiceAccounts(ns).Create(ctx, o, metav1.CreateOptions{})
	case *rbacv1.Role:
		o.Namespace = ns
		_, err = c.Client.RbacV1().Roles(ns).Create(ctx, o, metav1.CreateOptions{})
	case *rbacv1.RoleBinding:
		o.Namespace = ns
		for i := range o.Subjects {
			o.Subjects[i].Namespace = ns
		}
		_, err = c.Client.RbacV1().RoleBindings(ns).Create(ctx, o, metav1.CreateOptions{})
	case *corev1.PersistentVolumeClaim:
		o.Namespace = ns
		_, err = c.Client.CoreV1().PersistentVolumeClaims(ns).Create(ctx, o, metav1.CreateOptions{})
	case *appsv1.Deployment:
		o.Namespace = ns
		_, err = c.Client.AppsV1().Deployments(ns).Create(ctx, o, metav1.CreateOptions{})
	case *corev1.Service:
		o.Namespace = ns
		_, err = c.Client.CoreV1().Services(ns).Create(ctx, o, metav1.CreateOptions{})
	default:
		return fmt.Errorf("unexpected kind %T", obj)
	}
	return err
}

// TestKubernetesCPUPolicy is TestCPUPolicy with pods, whose CPU comes
// from metrics.k8s.io (the harness serves their processes' real CPU time
// as metrics-server would): load scales the variant out, idleness back in.
func TestKubernetesCPUPolicy(t *testing.T) {
	kubeCluster(t).ServeMetrics(t)
	k := startKubeServer(t, t.TempDir(), "--time-scale", "60")
	cpuPolicy(t, k.server, kubeModelCPU)
	if strings.Contains(k.Log(), "metrics.k8s.io API (metrics-server) does not answer") {
		t.Error("ebb says the cluster has no metrics-server")
	}
}

// TestKubernetesAsyncFromZero is the first seed's async endpoint from
// zero and back (seedScaleFromZero) with its instances as pods: the seed's
// CPU target tracking takes the idle endpoint to zero, which needs pods'
// CPU from metrics.k8s.io.
func TestKubernetesAsyncFromZero(t *testing.T) {
	kubeCluster(t).ServeMetrics(t)
	var k *kubeServer
	seedScaleFromZero(t, kubeModel, func(extra ...string) *server {
		k = startKubeServer(t, t.TempDir(), extra...)
		return k.server
	})
	eventually(t, time.Minute, "no pod left at zero", func() (bool, any) {
		n := len(k.pods(t))
		return n == 0, n
	})
}

// TestKubernetesNoMetricsServer: in a cluster without metrics.k8s.io (the
// test control plane serves none unless a test asks), CPUUtilization cannot be
// published; ebb says so once in its log and on every console page,
// saying what to install, instead of leaving a CPU policy silently idle.
func TestKubernetesNoMetricsServer(t *testing.T) {
	k := startKubeServer(t, t.TempDir(), "--time-scale", "60")
	deploy(t, k.SageMaker(), "nometrics", kubeModel, 1)
	waitInService(t, k.SageMaker(), "nometrics")
	const notice = "the cluster's metrics.k8s.io API (metrics-server) does not answer"
	eventually(t, time.Minute, "the notice on the console", func() (bool, any) {
		resp, err := http.Get(k.URL + "/console/")
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		page, _ := io.ReadAll(resp.Body)
		return strings.Contains(html.UnescapeString(string(page)), notice) && strings.Contains(string(page), "Install metrics-server"), resp.Status
	})
	if n := strings.Count(k.Log(), notice); n != 1 {
		t.Fatalf("the log says it %d times, want once", n)
	}
}
