package kubetest

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// PodCIDR is kwok's pod address range, from the range RFC 2544 sets aside
// for benchmarks. EndpointSlices refuse loopback addresses, so the harness
// makes this range local instead (`ip route add local PodCIDR dev lo`, the
// way 127.0.0.0/8 is local): its processes bind to pod addresses, and
// nothing leaves the machine.
const PodCIDR = "198.18.0.0/16"

// claimPodRange claims one /20 of PodCIDR (4,094 pod addresses) for this
// cluster alone: go test runs test binaries in parallel, and two clusters
// handing out the same addresses would give two pods one address (one of
// them failing with "address already in use", or worse, a request
// reaching the other cluster's model). The claim is an exclusive lock on
// a file named after the range, held until the process ends (the kernel
// lets it go however it ends), so a collision is impossible, not
// unlikely.
func claimPodRange() (cidr string, lock *os.File, err error) {
	dir := filepath.Join(os.TempDir(), "ebb-kubetest-ranges")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	for i := 0; i < 16; i++ {
		f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(i)+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return "", nil, err
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			continue
		}
		return fmt.Sprintf("198.18.%d.0/20", i*16), f, nil
	}
	return "", nil, errors.New("all 16 pod address ranges are in use by other test clusters on this machine")
}

// errNotLocal: the harness could not make the pod range local (it needs
// root and iproute2).
var errNotLocal = errors.New("the pod address range cannot be made local here")

// localPodCIDR routes PodCIDR to the loopback interface, once per machine.
// It needs CAP_NET_ADMIN (CI runs as root).
func localPodCIDR() error {
	out, err := exec.Command("ip", "route", "show", "table", "local", PodCIDR).CombinedOutput()
	if err == nil && strings.Contains(string(out), PodCIDR) {
		return nil
	}
	if out, err := exec.Command("ip", "route", "add", "local", PodCIDR, "dev", "lo").CombinedOutput(); err != nil &&
		!strings.Contains(string(out), "File exists") {
		return fmt.Errorf("%w: ip route add local %s dev lo: %v: %s", errNotLocal, PodCIDR, err, out)
	}
	return nil
}

// Cluster is a running control plane.
type Cluster struct {
	// Kubeconfig is the path of a kubeconfig for the cluster's admin.
	Kubeconfig string
	Client     kubernetes.Interface
	dir        string
	procs      []*exec.Cmd
	rangeLock  *os.File // the claim on this cluster's pod addresses
	kubelet    *kubelet

	mu      sync.Mutex
	runners map[string]*Runner // by namespace
	metrics *podMetrics        // while a test serves metrics.k8s.io
}

// NodeSpec describes a fake node.
type NodeSpec struct {
	Name   string
	Labels map[string]string
	CPU    int
	Memory string // a quantity: "64Gi"
	GPUs   int
	Pods   int // most pods the node takes (default 110, as a kubelet's)
}

var (
	shared     *Cluster
	sharedErr  error
	sharedOnce sync.Once
)

// Shared returns the test binary's control plane, starting it on first use
// (and building it with scripts/k8s-tools the first time on a machine);
// stop it from TestMain with StopShared. Where the pod range cannot be made
// local (not root), the test is skipped, except in CI.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = start() })
	if errors.Is(sharedErr, errNotLocal) && os.Getenv("CI") == "" {
		t.Skipf("%v (CI runs these tests as root)", sharedErr)
	}
	if sharedErr != nil {
		t.Fatalf("starting the Kubernetes control plane: %v", sharedErr)
	}
	return shared
}

// StopShared stops the shared control plane, if one was started.
func StopShared() {
	if shared != nil {
		shared.Stop()
	}
}

// binDir finds the control-plane binaries: $EBB_K8S_BIN, else what
// scripts/k8s-tools builds (building it the first time).
func binDir() (string, error) {
	if d := os.Getenv("EBB_K8S_BIN"); d != "" {
		return d, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	var out, errb bytes.Buffer
	cmd := exec.Command(filepath.Join(root, "scripts", "k8s-tools"))
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("scripts/k8s-tools: %v: %s", err, errb.String())
	}
	return strings.TrimSpace(out.String()), nil
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "tools", "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no tools/go.mod above the working directory")
		}
		dir = parent
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func start() (*Cluster, error) {
	if err := localPodCIDR(); err != nil {
		return nil, err
	}
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ebb-kube-")
	if err != nil {
		return nil, err
	}
	podRange, rangeLock, err := claimPodRange()
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, rangeLock: rangeLock, runners: map[string]*Runner{}}
	ok := false
	defer func() {
		if !ok {
			c.Stop()
		}
	}()
	logf := func(name string) (*os.File, error) { return os.Create(filepath.Join(dir, name+".log")) }
	run := func(name string, args ...string) error {
		f, err := logf(name)
		if err != nil {
			return err
		}
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Stdout, cmd.Stderr = f, f
		// The control plane ends with the test binary, however it ends.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return err
		}
		c.procs = append(c.procs, cmd)
		return nil
	}
	// etcd.
	clientPort, err := freePort()
	if err != nil {
		return nil, err
	}
	peerPort, err := freePort()
	if err != nil {
		return nil, err
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(clientPort)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(peerPort)
	if err := run("etcd", "--data-dir", filepath.Join(dir, "etcd"), "--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL, "--initial-cluster", "default="+peerURL,
		"--unsafe-no-fsync", "--log-level", "warn"); err != nil {
		return nil, err
	}
	// The API server, with a static admin token and a service-account key.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	keyFile := filepath.Join(dir, "sa.key")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		return nil, err
	}
	tok := make([]byte, 16)
	rand.Read(tok)
	token := hex.EncodeToString(tok)
	tokenFile := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokenFile, []byte(token+`,admin,admin,"system:masters"`+"\n"), 0o600); err != nil {
		return nil, err
	}
	apiPort, err := freePort()
	if err != nil {
		return nil, err
	}
	// The kubelet's log endpoint for every node (kwok's nodes report it).
	if c.kubelet, err = startKubelet(dir, c); err != nil {
		return nil, err
	}
	if err := run("kube-apiserver", "--etcd-servers", etcdURL,
		"--kubelet-certificate-authority", c.kubelet.ca, "--kubelet-preferred-address-types", "InternalIP", "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(apiPort), "--cert-dir", filepath.Join(dir, "certs"), "--token-auth-file", tokenFile,
		"--authorization-mode", "RBAC", "--endpoint-reconciler-type", "none",
		"--service-account-key-file", keyFile, "--service-account-signing-key-file", keyFile,
		"--service-account-issuer", "https://kubernetes.default.svc", "--service-cluster-ip-range", "10.96.0.0/16",
		"--disable-admission-plugins", "ServiceAccount"); err != nil {
		return nil, err
	}
	c.Kubeconfig = filepath.Join(dir, "kubeconfig")
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: https://127.0.0.1:%d
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: %s
contexts:
- name: test
  context: {cluster: test, user: admin}
current-context: test
`, apiPort, token)
	if err := os.WriteFile(c.Kubeconfig, []byte(kc), 0o600); err != nil {
		return nil, err
	}
	if err := waitHealthy(fmt.Sprintf("https://127.0.0.1:%d/readyz", apiPort), token, 90*time.Second); err != nil {
		return nil, fmt.Errorf("kube-apiserver: %w (log: %s)", err, tail(filepath.Join(dir, "kube-apiserver.log")))
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 200, 400
	if c.Client, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if err := run("kube-controller-manager", "--kubeconfig", c.Kubeconfig, "--leader-elect=false",
		"--service-account-private-key-file", keyFile, "--use-service-account-credentials=false",
		"--bind-address", "127.0.0.1", "--secure-port", "0", "--controllers", "*",
		"--concurrent-deployment-syncs", "10", "--concurrent-replicaset-syncs", "10", "--concurrent-service-endpoint-syncs", "10"); err != nil {
		return nil, err
	}
	if err := run("kube-scheduler", "--kubeconfig", c.Kubeconfig, "--leader-elect=false", "--bind-address", "127.0.0.1", "--secure-port", "0"); err != nil {
		return nil, err
	}
	kwokPort, err := freePort()
	if err != nil {
		return nil, err
	}
	stages, err := fastStages(bin, dir)
	if err != nil {
		return nil, err
	}
	args := []string{"--kubeconfig", c.Kubeconfig, "--manage-all-nodes", "--cidr", podRange, "--node-lease-duration-seconds", "40",
		"--node-ip", "127.0.0.1", "--node-port", strconv.Itoa(c.kubelet.addr.Port),
		// kwok's own kubelet server would take the node port: it goes aside.
		"--server-address", "127.0.0.1:" + strconv.Itoa(kwokPort)}
	for _, s := range stages {
		args = append(args, "--config", s)
	}
	if err := run("kwok", args...); err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

// fastStages copies kwok's default pod and node stages with their delays
// shortened from 1-6 s to a few milliseconds.
func fastStages(bin, dir string) ([]string, error) {
	var out []string
	delay := regexp.MustCompile(`(durationMilliseconds|jitterDurationMilliseconds): \d+`)
	for _, sub := range []string{"pod/general", "node/fast", "node/heartbeat-with-lease"} {
		files, err := filepath.Glob(filepath.Join(bin, "stage", sub, "*.yaml"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if filepath.Base(f) == "kustomization.yaml" {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			if !strings.Contains(sub, "heartbeat") {
				b = delay.ReplaceAll(b, []byte("$1: 20"))
			}
			dst := filepath.Join(dir, "stage-"+strings.ReplaceAll(sub, "/", "-")+"-"+filepath.Base(f))
			if err := os.WriteFile(dst, b, 0o644); err != nil {
				return nil, err
			}
			out = append(out, dst)
		}
	}
	return out, nil
}

func waitHealthy(url, token string, limit time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s answered %s", url, resp.Status)
		}
		last = err
		time.Sleep(200 * time.Millisecond) // polling a starting process, not waiting for time to pass
	}
	return fmt.Errorf("not healthy within %v: %v", limit, last)
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Stop ends every process of the control plane and removes its files.
func (c *Cluster) Stop() {
	for i := len(c.procs) - 1; i >= 0; i-- {
		p := c.procs[i]
		p.Process.Kill()
		p.Wait()
	}
	if c.kubelet != nil {
		c.kubelet.stop()
	}
	if os.Getenv("EBB_KUBE_KEEP") == "" {
		os.RemoveAll(c.dir)
	}
	c.rangeLock.Close()
}

// Logs is where the control plane's logs are (for a failing test's message).
func (c *Cluster) Logs() string { return c.dir }

// AddNode registers a fake node that kwok manages.
func (c *Cluster) AddNode(ctx context.Context, n NodeSpec) error {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(int64(n.CPU), resource.DecimalSI),
		corev1.ResourceMemory: resource.MustParse(n.Memory),
		corev1.ResourcePods:   *resource.NewQuantity(int64(cmp.Or(n.Pods, 110)), resource.DecimalSI),
	}
	if n.GPUs > 0 {
		capacity["nvidia.com/gpu"] = *resource.NewQuantity(int64(n.GPUs), resource.DecimalSI)
	}
	labels := map[string]string{"type": "kwok", "kubernetes.io/hostname": n.Name, "kubernetes.io/os": "linux"}
	for k, v := range n.Labels {
		labels[k] = v
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: labels, Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"}},
		Status:     corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
	}
	_, err := c.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	return err
}

// Namespace creates a fresh namespace for one test.
func (c *Cluster) Namespace(t testing.TB) string {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	name := "t-" + hex.EncodeToString(b)
	ctx := context.Background()
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return name
}
