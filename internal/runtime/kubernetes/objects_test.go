package kubernetes

import (
	"strings"
	"testing"

	"github.com/ebbscale/ebb/internal/runtime"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

func TestGroupNamesAreDNSLabels(t *testing.T) {
	// Endpoint names: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}
	long := strings.Repeat("Endpoint-", 7)[:62] + "Z"
	for _, ep := range []string{"a", "My-Endpoint", long} {
		n := groupName(ep, "AllTraffic", "x-"+ep+"-0123456789abcdef")
		if errs := validation.IsDNS1035Label(n); len(errs) > 0 {
			t.Errorf("groupName(%q) = %q: %v", ep, n, errs)
		}
		if errs := validation.IsDNS1123Subdomain(ownerName(ep)); len(errs) > 0 {
			t.Errorf("ownerName(%q): %v", ep, errs)
		}
		if errs := validation.IsValidLabelValue(endpointLabel(ep)); len(errs) > 0 {
			t.Errorf("endpointLabel(%q): %v", ep, errs)
		}
	}
	if groupName("e", "v1", "d1") == groupName("e", "v1", "d2") || groupName("e", "v1", "d1") == groupName("e", "v2", "d1") {
		t.Fatal("distinct variants or deployments share a name")
	}
}

func TestDeploymentFor(t *testing.T) {
	typ, _ := runtime.LookupInstanceType("ml.g5.12xlarge")
	spec := runtime.Spec{ID: "i", Endpoint: "ep", Variant: "v", Deployment: "d", Image: "registry/model:1",
		Environment: map[string]string{"B": "2", "A": "1"}, ModelDataURL: "s3://bucket/model.tar.gz", InstanceType: typ}
	d := deploymentFor(unit{Spec: spec}, 3, nil, podSettings{FetcherImage: "ebb:1", S3Endpoint: "http://ebb:8080", FetcherSecret: "keys",
		InstanceTypeLabel: "node.kubernetes.io/instance-type", StartLimitSeconds: 240})
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	if *d.Spec.Replicas != 3 || c.Env[0].Name != "A" || c.Env[1].Name != "B" {
		t.Errorf("replicas %d, env %v", *d.Spec.Replicas, c.Env)
	}
	if gpus := c.Resources.Limits[GPUResource]; gpus.Value() != 4 {
		t.Errorf("ml.g5.12xlarge GPUs = %v, want 4", gpus.String())
	}
	if c.Resources.Requests.Cpu().Value() != 48 {
		t.Errorf("ml.g5.12xlarge vCPUs = %v, want 48", c.Resources.Requests.Cpu())
	}
	if c.StartupProbe.FailureThreshold != 48 {
		t.Errorf("startup probe allows %d failures, want 240 s / 5 s", c.StartupProbe.FailureThreshold)
	}
	if pod.NodeSelector["node.kubernetes.io/instance-type"] != "g5.12xlarge" {
		t.Errorf("node selector %v", pod.NodeSelector)
	}
	ic := pod.InitContainers[0]
	if ic.Image != "ebb:1" || !strings.Contains(strings.Join(ic.Command, " "), "fetch-model --url s3://bucket/model.tar.gz --dir /opt/ml/model") ||
		ic.EnvFrom[0].SecretRef.Name != "keys" || ic.Env[0].Value != "http://ebb:8080" {
		t.Errorf("init container %+v", ic)
	}
	if d.Spec.Template.Labels[labelGroup] != d.Name || d.Spec.Selector.MatchLabels[labelGroup] != d.Name {
		t.Errorf("selector and template labels disagree")
	}
}

func TestPodReasons(t *testing.T) {
	unschedulable := &corev1.Pod{Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
		Reason: "Unschedulable", Message: "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."}}}}
	pull := &corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "model",
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "Back-off pulling image"}}}}}}
	creating := &corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "model",
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}}}}
	for _, c := range []struct {
		pod  *corev1.Pod
		want string
	}{
		{unschedulable, "Unschedulable: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu."},
		{pull, "container model: ImagePullBackOff: Back-off pulling image"},
		{creating, ""},
	} {
		if got := podReason(c.pod); got != c.want {
			t.Errorf("podReason = %q, want %q", got, c.want)
		}
	}
	failedInit := &corev1.Pod{Status: corev1.PodStatus{InitContainerStatuses: []corev1.ContainerStatus{{Name: "fetch-model",
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}}}}}}
	if err := initFailure(failedInit); err == nil || !strings.Contains(err.Error(), "fetching the model data failed") {
		t.Errorf("initFailure = %v", err)
	}
}

// TestPodSecurity: model pods meet the Pod Security Standard asked for:
// restricted runs them as PodUser; both mount no token, use the runtime's
// seccomp profile, drop every capability and forbid privilege escalation,
// in the init container too.
func TestPodSecurity(t *testing.T) {
	spec := runtime.Spec{ID: "i", Endpoint: "ep", Variant: "v", Deployment: "d", Image: "m:1", ModelDataURL: "s3://b/m.tar.gz"}
	for _, level := range []string{SecurityRestricted, SecurityBaseline} {
		pod := deploymentFor(unit{Spec: spec}, 1, nil, podSettings{FetcherImage: "ebb:1", Security: level}).Spec.Template.Spec
		sc := pod.SecurityContext
		if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: token %v, seccomp %+v", level, pod.AutomountServiceAccountToken, sc.SeccompProfile)
		}
		nonRoot := sc.RunAsNonRoot != nil && *sc.RunAsNonRoot && *sc.RunAsUser == PodUser && *sc.FSGroup == PodUser
		if nonRoot != (level == SecurityRestricted) || (level == SecurityBaseline && sc.RunAsUser != nil) {
			t.Errorf("%s: pod security context %+v", level, sc)
		}
		for _, c := range append(pod.InitContainers, pod.Containers...) {
			if s := c.SecurityContext; s == nil || *s.AllowPrivilegeEscalation || len(s.Capabilities.Drop) != 1 || s.Capabilities.Drop[0] != "ALL" {
				t.Errorf("%s: container %s security context %+v", level, c.Name, s)
			}
		}
	}
}

// TestFractionalCores: a copy needing a quarter core requests 250m, not a
// whole core (which would leave three quarters of every core idle).
func TestFractionalCores(t *testing.T) {
	typ, _ := runtime.LookupInstanceType("ml.m5.large")
	spec := runtime.Spec{ID: "i", Endpoint: "ep", Variant: "v", Deployment: "d", Image: "m:1", InstanceType: runtime.InstanceType{Name: typ.Name, VCPUs: 1, MemoryMiB: 128}, Cores: 0.25}
	c := deploymentFor(unit{Spec: spec}, 1, nil, podSettings{}).Spec.Template.Spec.Containers[0]
	if got := c.Resources.Requests.Cpu().MilliValue(); got != 250 || c.Resources.Limits.Cpu().MilliValue() != 250 {
		t.Fatalf("CPU request %dm, limit %v; want 250m", got, c.Resources.Limits.Cpu())
	}
}

// TestMultiModelPod: a multi-model container reads, read-only, the volume
// the puller beside it fills, and the puller fetches only under the
// model's prefix, with the fetcher's credentials, on the pod's IP.
func TestMultiModelPod(t *testing.T) {
	spec := runtime.Spec{ID: "i", Endpoint: "ep", Variant: "v", Deployment: "d", Image: "m:1", MultiModelPrefix: "s3://b/models/"}
	pod := deploymentFor(unit{Spec: spec}, 1, nil, podSettings{FetcherImage: "ebb:1", S3Endpoint: "http://ebb:8080", FetcherSecret: "keys"}).Spec.Template.Spec
	if len(pod.InitContainers) != 0 || len(pod.Containers) != 2 {
		t.Fatalf("init containers %d, containers %d: want none and the model with its puller", len(pod.InitContainers), len(pod.Containers))
	}
	model, puller := pod.Containers[0], pod.Containers[1]
	if m := model.VolumeMounts[len(model.VolumeMounts)-1]; m.MountPath != ArtifactsDir || !m.ReadOnly || m.Name != modelsVolume {
		t.Errorf("model mounts %+v, want %s read-only", model.VolumeMounts, ArtifactsDir)
	}
	want := "fetch-model --serve $(POD_IP):8079 --prefix s3://b/models/ --dir /opt/ml/models"
	if puller.Image != "ebb:1" || strings.Join(puller.Args, " ") != want || puller.Command != nil || puller.EnvFrom[0].SecretRef.Name != "keys" {
		t.Errorf("puller %s %v %v, want ebb:1 with args %q and the fetcher's secret", puller.Image, puller.Command, puller.Args, want)
	}
	if e := puller.Env[len(puller.Env)-1]; e.Name != "POD_IP" || e.ValueFrom.FieldRef.FieldPath != "status.podIP" {
		t.Errorf("puller env %+v", puller.Env)
	}
	if puller.VolumeMounts[0].ReadOnly || puller.ReadinessProbe.HTTPGet.Port.IntValue() != PullerPort || puller.SecurityContext == nil {
		t.Errorf("puller mounts %+v, probe %+v, security %+v", puller.VolumeMounts, puller.ReadinessProbe, puller.SecurityContext)
	}
}
