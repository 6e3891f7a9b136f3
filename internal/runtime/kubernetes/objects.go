package kubernetes

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/ebbscale/ebb/internal/runtime"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Labels and annotations ebb puts on its objects. Label values are bounded
// to 63 characters, so the exact endpoint, variant and deployment names
// are annotations; the labels select.
const (
	labelManagedBy   = "app.kubernetes.io/managed-by"
	managedBy        = "ebb"
	labelEndpoint    = "ebb.io/endpoint" // lower-case endpoint name (at most 63 characters)
	labelGroup       = "ebb.io/group"    // the Deployment's name, on its pods
	annEndpoint      = "ebb.io/endpoint-name"
	annVariant       = "ebb.io/variant-name"
	annDeployment    = "ebb.io/deployment-id"
	annInstance      = "ebb.io/instance-id"            // on a pod: the instance bound to it
	annContainers    = "ebb.io/container-instance-ids" // with it, in a pod of several model containers: theirs, in order
	annDeletionCost  = "controller.kubernetes.io/pod-deletion-cost"
	labelServiceName = "kubernetes.io/service-name" // on EndpointSlices
	zoneKey          = "topology.kubernetes.io/zone"
)

// The container contract.
const (
	ModelPort      = 8080
	ModelDir       = "/opt/ml/model"
	containerName  = "model"
	fetcherName    = "fetch-model"
	StopGrace      = 30 // terminationGracePeriodSeconds, as SageMaker gives
	probeSeconds   = 5
	probeTimeout   = 2
	probeThreshold = 3
	// GPUResource is the extended resource NVIDIA's device plugin offers.
	GPUResource = "nvidia.com/gpu"
	// ArtifactsDir is where a multi-model container finds the artifacts
	// the puller beside it fetched, as SageMaker's find theirs.
	ArtifactsDir = "/opt/ml/models"
	// PullerPort is where the puller of a multi-model pod listens, away
	// from the ports model servers use (8080-8082, 8000-8002).
	PullerPort   = 8079
	pullerName   = "model-puller"
	modelsVolume = "models"
)

// groupName names the Deployment (and its Service) of one variant of one
// hosting deployment: readable, unique and a valid DNS label.
func groupName(endpoint, variant, deployment string) string {
	sum := sha256.Sum256([]byte(endpoint + "\x00" + variant + "\x00" + deployment))
	prefix := strings.Trim(dnsLabel(endpoint), "-")
	if len(prefix) > 40 {
		prefix = strings.TrimRight(prefix[:40], "-")
	}
	return "ebb-" + prefix + "-" + hex.EncodeToString(sum[:6])
}

// ownerName names the ConfigMap that owns an endpoint's objects.
func ownerName(endpoint string) string {
	sum := sha256.Sum256([]byte(endpoint))
	prefix := strings.Trim(dnsLabel(endpoint), "-")
	if len(prefix) > 40 {
		prefix = strings.TrimRight(prefix[:40], "-")
	}
	return "ebb-endpoint-" + prefix + "-" + hex.EncodeToString(sum[:4])
}

// dnsLabel lower-cases s and replaces what a DNS label may not hold.
func dnsLabel(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, s)
}

// endpointLabel is the value of labelEndpoint: endpoint names are at most 63
// characters of [a-zA-Z0-9-], a valid label value once lower-cased.
func endpointLabel(endpoint string) string { return strings.ToLower(endpoint) }

// podSettings are the runtime options that shape a pod.
type podSettings struct {
	FetcherImage      string
	FetcherSecret     string
	S3Endpoint        string
	Region            string
	InstanceTypeLabel string
	StartLimitSeconds int32
	// Security is the Pod Security Standard model pods meet: restricted
	// (run as PodUser) or baseline (as their image's user).
	Security string
}

// Pod security: the standards --pod-security names, and the user model
// containers run as under restricted (distroless's nonroot, as ebb's own).
const (
	SecurityRestricted = "restricted"
	SecurityBaseline   = "baseline"
	PodUser            = 65532
)

// securityContexts are the pod's and each container's security settings
// for a Pod Security Standard. Both levels give model pods no service
// account token, the runtime's default seccomp profile, no privilege
// escalation and no capabilities: a model server needs none, and a model
// runs code its author chose. Restricted also runs it as PodUser, not root,
// with the model directory writable to that group.
func securityContexts(level string) (*corev1.PodSecurityContext, *corev1.SecurityContext) {
	pod := &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	if level != SecurityBaseline {
		uid := int64(PodUser)
		pod.RunAsNonRoot, pod.RunAsUser, pod.RunAsGroup, pod.FSGroup = ptr(true), &uid, &uid, &uid
	}
	return pod, &corev1.SecurityContext{AllowPrivilegeEscalation: ptr(false), Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
}

func ptr[T any](v T) *T { return &v }

// deploymentFor builds the Deployment of a spec's group with replicas pods.
func deploymentFor(spec unit, replicas int32, owner *corev1.ConfigMap, ps podSettings) *appsv1.Deployment {
	name := groupName(spec.Endpoint, spec.Variant, spec.Deployment)
	labels := map[string]string{labelManagedBy: managedBy, labelEndpoint: endpointLabel(spec.Endpoint), labelGroup: name}
	annotations := map[string]string{annEndpoint: spec.Endpoint, annVariant: spec.Variant, annDeployment: spec.Deployment}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations, OwnerReferences: ownedBy(owner)},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{labelGroup: name}},
			// Pods come and go one at a time under ebb's control; a new
			// configuration is a new Deployment (blue/green), never a rollout.
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: maps.Clone(labels), Annotations: maps.Clone(annotations)},
				Spec:       podSpec(spec, ps),
			},
		},
	}
	return d
}

// unit is what one pod runs: one model's container, or the containers of
// a model of several (containers; the Spec then labels and sizes the pod).
type unit struct {
	runtime.Spec
	containers []runtime.Spec
}

// all lists the unit's containers.
func (u unit) all() []runtime.Spec {
	if len(u.containers) == 0 {
		return []runtime.Spec{u.Spec}
	}
	return u.containers
}

func podSpec(u unit, ps podSettings) corev1.PodSpec {
	grace := int64(StopGrace)
	podSecurity, containerSecurity := securityContexts(ps.Security)
	pod := corev1.PodSpec{
		SecurityContext:               podSecurity,
		AutomountServiceAccountToken:  ptr(false),
		TerminationGracePeriodSeconds: &grace,
		// SageMaker spreads an endpoint's instances across Availability Zones.
		TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{
			MaxSkew: 1, TopologyKey: zoneKey, WhenUnsatisfiable: corev1.ScheduleAnyway,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{labelEndpoint: endpointLabel(u.Endpoint)}},
		}},
	}
	if ps.InstanceTypeLabel != "" && u.InstanceType.Name != "" { // none: a serverless environment
		pod.NodeSelector = map[string]string{ps.InstanceTypeLabel: strings.TrimPrefix(u.InstanceType.Name, "ml.")}
	}
	for i, c := range u.all() {
		// The first container is "model" and holds the instance's
		// resources; the others of a model of several share the pod.
		name, volume := containerName, "model"
		if i > 0 {
			name, volume = fmt.Sprintf("%s-%d", containerName, i+1), fmt.Sprintf("model-%d", i+1)
		}
		m := modelContainer(c, u, name, volume, ModelPort+i, ps)
		m.SecurityContext = containerSecurity
		if i > 0 {
			m.Resources = corev1.ResourceRequirements{}
		}
		pod.Containers = append(pod.Containers, m)
		pod.Volumes = append(pod.Volumes, corev1.Volume{Name: volume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
		if c.ModelDataURL != "" {
			fetch := fetcher(c.ModelDataURL, volume, ps)
			if i > 0 {
				fetch.Name = fmt.Sprintf("%s-%d", fetcherName, i+1)
			}
			fetch.SecurityContext = containerSecurity
			pod.InitContainers = append(pod.InitContainers, fetch)
		}
	}
	if u.MultiModelPrefix != "" {
		// The model reads what the puller fetches; it cannot write there.
		pod.Containers[0].VolumeMounts = append(pod.Containers[0].VolumeMounts, corev1.VolumeMount{Name: modelsVolume, MountPath: ArtifactsDir, ReadOnly: true})
		p := puller(u.MultiModelPrefix, ps)
		p.SecurityContext = containerSecurity
		pod.Containers = append(pod.Containers, p)
		pod.Volumes = append(pod.Volumes, corev1.Volume{Name: modelsVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	}
	return pod
}

// puller is the container beside a multi-model container that fetches its
// artifacts on request into the volume they share (`ebb fetch-model
// --serve`, the fetcher image's entrypoint being ebb), as SageMaker's agent
// puts an artifact on the instance before the platform loads it; the
// router asks it for each artifact (Artifacts) before POST /models. It
// binds the pod's IP, as model servers bind SAGEMAKER_BIND_TO_HOST. Its
// requests come on top of the instance type's, as a pod overhead; no CPU
// limit, so a large archive extracts as fast as the node allows.
func puller(prefix string, ps podSettings) corev1.Container {
	c := fetcher("", modelsVolume, ps)
	c.Name, c.Command = pullerName, nil
	c.Args = []string{"fetch-model", "--serve", "$(POD_IP):" + strconv.Itoa(PullerPort), "--prefix", prefix, "--dir", ArtifactsDir}
	c.Env = append(c.Env, corev1.EnvVar{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}})
	c.VolumeMounts = []corev1.VolumeMount{{Name: modelsVolume, MountPath: ArtifactsDir}}
	c.Ports = []corev1.ContainerPort{{Name: "puller", ContainerPort: PullerPort}}
	c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(PullerPort)}},
		PeriodSeconds: probeSeconds, TimeoutSeconds: probeTimeout, FailureThreshold: probeThreshold}
	c.Resources = corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")},
	}
	return c
}

// modelContainer is the SageMaker container contract for c, serving on
// port, its model data in volume at /opt/ml/model.
func modelContainer(c runtime.Spec, u unit, name, volume string, port int, ps podSettings) corev1.Container {
	env := []corev1.EnvVar{}
	for _, k := range slices.Sorted(maps.Keys(c.Environment)) {
		env = append(env, corev1.EnvVar{Name: k, Value: c.Environment[k]})
	}
	env = append(env,
		corev1.EnvVar{Name: "SAGEMAKER_BIND_TO_PORT", Value: strconv.Itoa(port)},
		corev1.EnvVar{Name: "SAGEMAKER_BIND_TO_HOST", Value: "0.0.0.0"},
		corev1.EnvVar{Name: "SM_MODEL_DIR", Value: ModelDir},
		corev1.EnvVar{Name: "EBB_ENDPOINT_NAME", Value: u.Endpoint},
		corev1.EnvVar{Name: "EBB_VARIANT_NAME", Value: u.Variant},
		corev1.EnvVar{Name: "EBB_INSTANCE_VCPUS", Value: strconv.Itoa(u.InstanceType.VCPUs)},
	)
	ping := corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ping", Port: intstr.FromInt32(int32(port))}}
	// The startup probe gives a model the start limit to load; liveness and
	// readiness then ping as SageMaker does.
	startupThreshold := max(1, ps.StartLimitSeconds/probeSeconds)
	return corev1.Container{
		Name:         name,
		Image:        c.Image,
		Args:         []string{"serve"},
		Ports:        []corev1.ContainerPort{{Name: "http" + strings.TrimPrefix(name, containerName), ContainerPort: int32(port)}},
		Env:          env,
		Resources:    resources(u.InstanceType, u.Cores),
		VolumeMounts: []corev1.VolumeMount{{Name: volume, MountPath: ModelDir}},
		StartupProbe: &corev1.Probe{ProbeHandler: ping, PeriodSeconds: probeSeconds, TimeoutSeconds: probeTimeout,
			FailureThreshold: startupThreshold},
		ReadinessProbe: &corev1.Probe{ProbeHandler: ping, PeriodSeconds: probeSeconds, TimeoutSeconds: probeTimeout,
			FailureThreshold: probeThreshold},
		LivenessProbe: &corev1.Probe{ProbeHandler: ping, PeriodSeconds: probeSeconds, TimeoutSeconds: probeTimeout,
			FailureThreshold: probeThreshold},
	}
}

// fetcher is the init container that fetches url into volume.
func fetcher(url, volume string, ps podSettings) corev1.Container {
	fetch := corev1.Container{
		Name:         fetcherName,
		Image:        ps.FetcherImage,
		Command:      []string{"ebb", "fetch-model", "--url", url, "--dir", ModelDir},
		VolumeMounts: []corev1.VolumeMount{{Name: volume, MountPath: ModelDir}},
	}
	if ps.S3Endpoint != "" {
		fetch.Env = append(fetch.Env, corev1.EnvVar{Name: "EBB_S3_ENDPOINT", Value: ps.S3Endpoint})
	}
	if ps.FetcherSecret != "" {
		fetch.EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: ps.FetcherSecret}}}}
	}
	if ps.Region != "" {
		fetch.Env = append(fetch.Env, corev1.EnvVar{Name: "AWS_REGION", Value: ps.Region})
	}
	return fetch
}

// resources turns an instance type into requests and limits (equal, so the
// pod is Guaranteed as a dedicated instance is); GPU types ask for their
// GPUs from NVIDIA's device plugin.
func resources(t runtime.InstanceType, cores float64) corev1.ResourceRequirements {
	rl := corev1.ResourceList{}
	switch {
	case cores > 0:
		rl[corev1.ResourceCPU] = *resource.NewMilliQuantity(int64(math.Round(cores*1000)), resource.DecimalSI)
	case t.VCPUs > 0:
		rl[corev1.ResourceCPU] = *resource.NewQuantity(int64(t.VCPUs), resource.DecimalSI)
	}
	if t.MemoryMiB > 0 {
		rl[corev1.ResourceMemory] = *resource.NewQuantity(int64(t.MemoryMiB)<<20, resource.BinarySI)
	}
	if t.GPUs > 0 {
		rl[GPUResource] = *resource.NewQuantity(int64(t.GPUs), resource.DecimalSI)
	}
	return corev1.ResourceRequirements{Requests: rl, Limits: maps.Clone(rl)}
}

// serviceFor is the headless Service whose EndpointSlices list the group's
// ready pods: the router's addresses.
func serviceFor(d *appsv1.Deployment) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: d.Name, Labels: maps.Clone(d.Labels), Annotations: maps.Clone(d.Annotations),
			OwnerReferences: d.OwnerReferences},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Selector:  map[string]string{labelGroup: d.Name},
			Ports:     []corev1.ServicePort{{Name: "http", Port: ModelPort, TargetPort: intstr.FromInt32(ModelPort)}},
			// Starting pods are listed (not ready) so their failures show.
			PublishNotReadyAddresses: false,
		},
	}
}

// ownerFor is the ConfigMap that owns an endpoint's objects.
func ownerFor(endpoint string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: ownerName(endpoint),
			Labels:      map[string]string{labelManagedBy: managedBy, labelEndpoint: endpointLabel(endpoint)},
			Annotations: map[string]string{annEndpoint: endpoint}},
		Data: map[string]string{"endpoint": endpoint},
	}
}

func ownedBy(owner *corev1.ConfigMap) []metav1.OwnerReference {
	if owner == nil {
		return nil
	}
	return []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID}}
}

// specOf recovers the labels of a Spec from its Deployment (adoption).
func specOf(meta metav1.ObjectMeta) (endpoint, variant, deployment string, err error) {
	endpoint, variant, deployment = meta.Annotations[annEndpoint], meta.Annotations[annVariant], meta.Annotations[annDeployment]
	if endpoint == "" || variant == "" || deployment == "" {
		return "", "", "", fmt.Errorf("%s lacks ebb's annotations", meta.Name)
	}
	return endpoint, variant, deployment, nil
}
