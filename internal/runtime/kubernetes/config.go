package kubernetes

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ebbscale/ebb/internal/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

func init() {
	runtime.Register(runtime.Registration{
		Name:    "kubernetes",
		Summary: "pods of one Deployment per variant",
		Shared:  true,
		Logs:    true,
		Config: func() runtime.Config {
			return &Config{FetcherImage: DefaultFetcherImage, PodSecurity: SecurityRestricted}
		},
	})
}

// Config is the Kubernetes runtime's part of `ebb server`'s flags.
type Config struct {
	Kubeconfig, Namespace, InstanceTypeLabel string
	FetcherImage, FetcherSecret, DCGMURL     string
	PodSecurity                              string
}

// Flags registers the cluster's flags and the pods'.
func (c *Config) Flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Kubeconfig, "kubeconfig", c.Kubeconfig, "with --runtime kubernetes: the cluster's kubeconfig (default: the in-cluster configuration when ebb runs in a pod)")
	fs.StringVar(&c.Namespace, "namespace", c.Namespace, "with --runtime kubernetes: the namespace of the instances' Deployments (default: ebb's own in a pod, else default)")
	fs.StringVar(&c.InstanceTypeLabel, "instance-type-label", c.InstanceTypeLabel, "with --runtime kubernetes: node label an instance type selects (ml.g5.xlarge -> LABEL=g5.xlarge), e.g. node.kubernetes.io/instance-type; empty: no node selector")
	fs.StringVar(&c.FetcherImage, "model-fetcher-image", c.FetcherImage, "with --runtime kubernetes: image of the init container that runs `ebb fetch-model` for ModelDataUrl")
	fs.StringVar(&c.FetcherSecret, "model-fetcher-secret", c.FetcherSecret, "with --runtime kubernetes: Secret whose keys (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) the model-data init container gets as environment")
	fs.StringVar(&c.PodSecurity, "pod-security", c.PodSecurity, "with --runtime kubernetes: the Pod Security Standard model pods meet: restricted (they run as UID 65532, never root) or baseline (as their image's user, root included); both mount no service-account token, drop every capability and forbid privilege escalation")
	fs.StringVar(&c.DCGMURL, "dcgm-url", c.DCGMURL, "with --runtime kubernetes: NVIDIA DCGM exporter metrics URL (e.g. http://dcgm-exporter.gpu-operator:9400/metrics), the source of per-pod GPU metrics")
}

// Validate checks the flags.
func (c *Config) Validate() error {
	if c.PodSecurity != SecurityRestricted && c.PodSecurity != SecurityBaseline {
		return fmt.Errorf("--pod-security=%s: want restricted or baseline", c.PodSecurity)
	}
	if c.DCGMURL != "" && !strings.HasPrefix(c.DCGMURL, "http://") && !strings.HasPrefix(c.DCGMURL, "https://") {
		return fmt.Errorf("--dcgm-url=%s: want an http:// or https:// URL", c.DCGMURL)
	}
	return nil
}

// New connects to the cluster and builds the runtime.
func (c *Config) New(ctx context.Context, env runtime.Env) (runtime.Runtime, error) {
	client, ns, err := c.Cluster()
	if err != nil {
		return nil, fmt.Errorf("--runtime kubernetes: %w", err)
	}
	rt, err := New(ctx, Options{Client: client, Namespace: ns, FetcherImage: c.FetcherImage,
		FetcherSecret: c.FetcherSecret, S3Endpoint: env.S3URL, Region: env.Region, InstanceTypeLabel: c.InstanceTypeLabel,
		DCGMURL: c.DCGMURL, PodSecurity: c.PodSecurity, StartLimit: env.StartLimit, Fence: env.Fence, Logger: env.Logger,
		Logs: env.Logs, LogDir: filepath.Join(env.Data, "logs")})
	if err != nil {
		return nil, err
	}
	env.Logger.Info("instances run as pods", "namespace", ns)
	return rt, nil
}

// Cluster connects with --kubeconfig, or the in-cluster configuration
// when ebb runs in a pod, and names the namespace to use (the Lease of
// several replicas lives there too).
func (c *Config) Cluster() (kubernetes.Interface, string, error) {
	var cfg *rest.Config
	var err error
	if c.Kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	} else {
		cfg, err = rest.InClusterConfig()
		if errors.Is(err, rest.ErrNotInCluster) {
			err = errors.New("not running in a pod: give --kubeconfig")
		}
	}
	if err != nil {
		return nil, "", err
	}
	cfg.QPS, cfg.Burst = 50, 100
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, "", err
	}
	ns := c.Namespace
	if ns == "" {
		ns = "default"
		if b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil {
			ns = string(b)
		}
	}
	return client, ns, nil
}
