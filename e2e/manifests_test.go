package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	sagemakertypes "github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/ebbscale/ebb/internal/runtime/kubernetes/kubetest"
)

// The kustomizations a platform team applies (kubectl apply -k).
var overlays = []string{"../deploy/kubernetes", "../deploy/kubernetes/ha"}

// render builds a kustomization as `kubectl apply -k` does.
func render(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var out []*unstructured.Unstructured
	for _, r := range m.Resources() {
		obj, err := r.Map()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
	return out
}

// ebbDeployment is the rendered Deployment of ebb itself.
func ebbDeployment(t *testing.T, objs []*unstructured.Unstructured) *appsv1.Deployment {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == "Deployment" && o.GetName() == "ebb" {
			var d appsv1.Deployment
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &d); err != nil {
				t.Fatal(err)
			}
			return &d
		}
	}
	t.Fatal("no Deployment ebb")
	return nil
}

// TestKubernetesManifestsRender renders every overlay as kubectl apply -k
// does and dry-runs the result against the test API server in a namespace
// that enforces the Pod Security Standard "restricted" (ebb's pod
// included); an image set with `kustomize edit set image` is also the
// model-data init container's (--model-fetcher-image).
func TestKubernetesManifestsRender(t *testing.T) {
	c := kubeCluster(t)
	ns := restrictedNamespace(t, c)
	dyn, mapper := dynamicClient(t, c)
	ctx := context.Background()
	for _, dir := range overlays {
		objs := render(t, dir)
		kinds := map[string]int{}
		for _, o := range objs {
			kinds[o.GetKind()]++
			if o.GetKind() == "Namespace" {
				continue
			}
			o.SetNamespace(ns)
			if o.GetKind() == "RoleBinding" {
				subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
				for _, s := range subjects {
					s.(map[string]any)["namespace"] = ns
				}
				unstructured.SetNestedSlice(o.Object, subjects, "subjects")
			}
			m, err := mapper.RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version)
			if err != nil {
				t.Fatalf("%s: %s %s: %v", dir, o.GetKind(), o.GetName(), err)
			}
			if _, err := dyn.Resource(m.Resource).Namespace(ns).Create(ctx, o, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
				t.Errorf("%s: %s %s refused: %v", dir, o.GetKind(), o.GetName(), err)
			}
		}
		t.Logf("%s: %v", dir, kinds)
		// Its pod, as the ReplicaSet would create it: admitted under "restricted".
		d := ebbDeployment(t, objs)
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "ebb-pod", Namespace: ns, Labels: d.Spec.Template.Labels}, Spec: d.Spec.Template.Spec}
		if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
			t.Errorf("%s: ebb's pod refused in a restricted namespace: %v", dir, err)
		}
		checkFetcherImage(t, d, "ghcr.io/ebbscale/ebb:latest")

		// A team's own registry, set in the overlay as `kustomize edit set
		// image` does, on a copy of the manifests.
		tree := t.TempDir()
		if err := os.CopyFS(tree, os.DirFS(overlays[0])); err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(overlays[0], dir)
		mine := filepath.Join(tree, rel)
		f, err := os.OpenFile(filepath.Join(mine, "kustomization.yaml"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("images:\n  - name: ghcr.io/ebbscale/ebb\n    newName: registry.example/ebb\n    newTag: v1\n")
		f.Close()
		checkFetcherImage(t, ebbDeployment(t, render(t, mine)), "registry.example/ebb:v1")
	}
}

// checkFetcherImage: ebb runs image and gives it to the model pods' init
// container.
func checkFetcherImage(t *testing.T, d *appsv1.Deployment, image string) {
	t.Helper()
	ctr := d.Spec.Template.Spec.Containers[0]
	var env string
	for _, e := range ctr.Env {
		if e.Name == "EBB_IMAGE" {
			env = e.Value
		}
	}
	if ctr.Image != image || env != image || !slices.Contains(ctr.Args, "--model-fetcher-image=$(EBB_IMAGE)") {
		t.Errorf("image %s, EBB_IMAGE %q, args %v: want %s for both, and --model-fetcher-image=$(EBB_IMAGE)", ctr.Image, env, ctr.Args, image)
	}
}

// restrictedNamespace is a fresh namespace enforcing the Pod Security
// Standard "restricted".
func restrictedNamespace(t *testing.T, c *kubetest.Cluster) string {
	t.Helper()
	ns := c.Namespace(t)
	ctx := context.Background()
	n, err := c.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	n.Labels["pod-security.kubernetes.io/enforce"] = "restricted"
	if _, err := c.Client.CoreV1().Namespaces().Update(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The admission check itself: a pod that asks for nothing is refused.
	bare := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "bare"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}}
	if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, bare, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err == nil || !strings.Contains(err.Error(), "restricted") {
		t.Fatalf("the API server does not enforce Pod Security here (a bare pod: %v)", err)
	}
	return ns
}

// dynamicClient reaches the test API server with any kind.
func dynamicClient(t *testing.T, c *kubetest.Cluster) (*dynamic.DynamicClient, *restmapper.DeferredDiscoveryRESTMapper) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return dynamic.NewForConfigOrDie(cfg), restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.Client.Discovery()))
}

// TestKubernetesRestrictedNamespace: in a namespace that enforces the Pod
// Security Standard "restricted", model pods are admitted as ebb makes
// them (--pod-security restricted, the default) and the endpoint serves;
// with --pod-security baseline they are refused, and the endpoint fails
// with the admission's reason in FailureReason.
func TestKubernetesRestrictedNamespace(t *testing.T) {
	c := kubeCluster(t)
	k := startKubeServerIn(t, t.TempDir(), restrictedNamespace(t, c))
	deploy(t, k.SageMaker(), "secure", kubeModel, 1)
	waitInService(t, k.SageMaker(), "secure")
	invoke(t, k.Runtime(), "secure", "1,2,3")

	lax := startKubeServerIn(t, t.TempDir(), restrictedNamespace(t, c), "--pod-security", "baseline", "--instance-start-limit", "5s")
	deploy(t, lax.SageMaker(), "lax", kubeModel, 1)
	o := waitFor(t, lax.SageMaker(), "lax", "the endpoint fails", func(o *sagemaker.DescribeEndpointOutput) bool {
		return o.EndpointStatus == sagemakertypes.EndpointStatusFailed
	})
	if reason := aws.ToString(o.FailureReason); !strings.Contains(reason, `violates PodSecurity "restricted`) {
		t.Fatalf("FailureReason = %q, want the admission's reason", reason)
	}
	t.Logf("FailureReason: %s", aws.ToString(o.FailureReason))
}
