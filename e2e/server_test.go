package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
	"github.com/ebbscale/ebb/internal/runtime/docker/dockertest"
	"github.com/ebbscale/ebb/internal/runtime/kubernetes/kubetest"
	"github.com/ebbscale/ebb/internal/store/postgres/pgtest"
)

// ebbBin is the ebb binary built for this test run.
var ebbBin string

func TestMain(m *testing.M) {
	// Tests must not depend on the ambient AWS environment.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			os.Unsetenv(k)
		}
	}
	dir, err := os.MkdirTemp("", "ebb-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// As root, ebb runs instances as nobody: what they need must be
	// reachable (startServer opens the test's data directory likewise).
	os.Chmod(dir, 0o755)
	ebbBin = filepath.Join(dir, "ebb")
	// A first build must print nothing but what go itself says of
	// downloads (the NVML bindings once printed a hundred C warnings).
	out, err := exec.Command("go", "build", "-o", ebbBin, "../cmd/ebb").CombinedOutput()
	var noise []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" && !strings.HasPrefix(line, "go: downloading ") {
			noise = append(noise, line)
		}
	}
	if err != nil || len(noise) > 0 {
		fmt.Fprintf(os.Stderr, "building ebb: %v; the build printed:\n%s\n", err, strings.Join(noise, "\n"))
		os.Exit(1)
	}
	code := m.Run()
	kubetest.StopShared()
	pgtest.StopShared()
	dockertest.StopShared()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one ebb server subprocess.
type server struct {
	t    testing.TB
	cmd  *exec.Cmd
	URL  string
	Data string
	mu   sync.Mutex
	log  strings.Builder
	done chan struct{}
}

var listeningRE = regexp.MustCompile(`msg="ebb server listening" addr=(\S+)`)

// startServer runs "ebb server" on a free loopback port with data in dir.
func startServer(t testing.TB, dir string, extra ...string) *server {
	t.Helper()
	openToInstances(t, dir)
	return launchServer(t, dir, extra...)
}

// launchServer runs "ebb server" with dir as it is.
func launchServer(t testing.TB, dir string, extra ...string) *server {
	t.Helper()
	args := append([]string{"server", "--listen", "127.0.0.1:0", "--data", dir, "--log-level", "debug"}, extra...)
	cmd := exec.Command(ebbBin, args...)
	// The server stops (and stops its instances) when the test binary
	// ends, however it ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, Data: dir, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.log.WriteString(line + "\n")
			s.mu.Unlock()
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		cmd.Wait()
		close(s.done)
	}()
	select {
	case a := <-addr:
		s.URL = "http://" + a
	case <-s.done:
		t.Fatalf("ebb server exited before listening:\n%s", s.Log())
	case <-time.After(30 * time.Second):
		t.Fatalf("ebb server did not start:\n%s", s.Log())
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("server log:\n%s", s.Log())
		}
	})
	return s
}

// openToInstances makes dir and the test's temporary directories above it
// enterable by everyone, as a data directory must be for the unprivileged
// user ebb runs instances as when it runs as root (t.TempDir makes them
// 0700).
func openToInstances(t testing.TB, dir string) {
	t.Helper()
	for p := dir; strings.HasPrefix(p, os.TempDir()+string(os.PathSeparator)); p = filepath.Dir(p) {
		os.Chmod(p, 0o755)
	}
}

// Log returns what the server has logged.
func (s *server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// Stop shuts the server down with SIGTERM and waits.
func (s *server) Stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(90 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// Crash kills the server with SIGKILL, leaving its instances orphaned.
func (s *server) Crash() {
	s.cmd.Process.Kill()
	<-s.done
}

func awsConfig(accessKey, secret string) aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secret, ""),
		HTTPClient:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
	}
}

// withSDKRetries is a client configuration as users have it: the SDK's
// default retryer (3 attempts, exponential backoff with jitter, a retry
// token bucket) rather than the tests' none.
func withSDKRetries(c aws.Config) aws.Config {
	c.Retryer = nil
	return c
}

func (s *server) SageMaker() *sagemaker.Client {
	return sagemaker.NewFromConfig(awsConfig("AKIDTEST", "secret"), func(o *sagemaker.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

func (s *server) Runtime() *sagemakerruntime.Client {
	return sagemakerruntime.NewFromConfig(awsConfig("AKIDTEST", "secret"), func(o *sagemakerruntime.Options) { o.BaseEndpoint = aws.String(s.URL) })
}

// instances lists the instance processes the server runs (from their
// records in the data directory).
func (s *server) instances() map[string]int {
	out := map[string]int{}
	dirs, _ := os.ReadDir(filepath.Join(s.Data, "instances"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(s.Data, "instances", d.Name(), "instance.json"))
		if err != nil {
			continue
		}
		var rec struct{ PID int }
		if json.Unmarshal(b, &rec) == nil {
			out[d.Name()] = rec.PID
		}
	}
	return out
}

func alive(pid int) bool {
	// A zombie still accepts signal 0; check /proc for its state.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return len(f) > 2 && f[2] != "Z"
}

// deploy creates a model, a one-variant endpoint config and an endpoint.
func deploy(t testing.TB, sm *sagemaker.Client, name, image string, count int32) {
	t.Helper()
	createConfig(t, sm, name, name, image, count)
	ctx := context.Background()
	if _, err := sm.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{EndpointName: aws.String(name), EndpointConfigName: aws.String(name)}); err != nil {
		t.Fatalf("CreateEndpoint: %v", err)
	}
}

func createConfig(t testing.TB, sm *sagemaker.Client, model, config, image string, count int32) {
	t.Helper()
	ctx := context.Background()
	if _, err := sm.CreateModel(ctx, &sagemaker.CreateModelInput{
		ModelName:        aws.String(model),
		PrimaryContainer: &types.ContainerDefinition{Image: aws.String(image)},
		ExecutionRoleArn: aws.String("arn:aws:iam::123456789012:role/ebb"),
	}); err != nil {
		t.Fatalf("CreateModel: %v", err)
	}
	if _, err := sm.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{
		EndpointConfigName: aws.String(config),
		ProductionVariants: []types.ProductionVariant{{
			VariantName: aws.String("AllTraffic"), ModelName: aws.String(model),
			InstanceType: types.ProductionVariantInstanceTypeMlM5Large, InitialInstanceCount: aws.Int32(count),
		}},
	}); err != nil {
		t.Fatalf("CreateEndpointConfig: %v", err)
	}
}

// waitInService waits with the SDK's own waiter, polling fast.
func waitInService(t testing.TB, sm *sagemaker.Client, name string) *sagemaker.DescribeEndpointOutput {
	t.Helper()
	w := sagemaker.NewEndpointInServiceWaiter(sm, func(o *sagemaker.EndpointInServiceWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 200*time.Millisecond
	})
	out, err := w.WaitForOutput(context.Background(), &sagemaker.DescribeEndpointInput{EndpointName: aws.String(name)}, 2*time.Minute)
	if err != nil {
		t.Fatalf("waiting for %s to be InService: %v", name, err)
	}
	return out
}

// waitFor polls DescribeEndpoint until cond holds: it waits for an event in
// a real server, not for time to pass.
func waitFor(t testing.TB, sm *sagemaker.Client, name, what string, cond func(*sagemaker.DescribeEndpointOutput) bool) *sagemaker.DescribeEndpointOutput {
	t.Helper()
	var out *sagemaker.DescribeEndpointOutput
	eventually(t, 2*time.Minute, what, func() (bool, any) {
		o, err := sm.DescribeEndpoint(context.Background(), &sagemaker.DescribeEndpointInput{EndpointName: aws.String(name)})
		if err != nil {
			return false, err
		}
		out = o
		return cond(o), fmt.Sprintf("%s, %+v", o.EndpointStatus, o.ProductionVariants)
	})
	return out
}

func invoke(t *testing.T, rt *sagemakerruntime.Client, name, body string) *sagemakerruntime.InvokeEndpointOutput {
	t.Helper()
	out, err := rt.InvokeEndpoint(context.Background(), &sagemakerruntime.InvokeEndpointInput{
		EndpointName: aws.String(name), Body: []byte(body), ContentType: aws.String("text/csv"),
	})
	if err != nil {
		t.Fatalf("InvokeEndpoint: %v", err)
	}
	return out
}

// traffic keeps n clients invoking endpoint until the returned stop is
// called; stop reports how many invocations succeeded and failed, and the
// first failure.
func traffic(rt *sagemakerruntime.Client, endpoint string, n int) (stop func() (ok, failed int64, first error)) {
	stop, _ = trafficServed(rt, endpoint, n)
	return stop
}

// trafficServed is traffic that also says how many invocations have
// succeeded so far, for a test to wait until traffic flows.
func trafficServed(rt *sagemakerruntime.Client, endpoint string, n int) (stop func() (ok, failed int64, first error), served func() int64) {
	return calls(n, func() error {
		_, err := rt.InvokeEndpoint(context.Background(), &sagemakerruntime.InvokeEndpointInput{
			EndpointName: aws.String(endpoint), Body: []byte("1,2,3"), ContentType: aws.String("text/csv")})
		return err
	})
}

// calls keeps n clients making call until the returned stop is called;
// stop reports how many calls succeeded and failed, and the first failure;
// succeeded says how many have so far.
func calls(n int, call func() error) (stop func() (ok, failed int64, first error), succeeded func() int64) {
	var okN, failedN atomic.Int64
	var firstErr atomic.Value
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if err := call(); err != nil {
					failedN.Add(1)
					firstErr.CompareAndSwap(nil, err)
				} else {
					okN.Add(1)
				}
			}
		}()
	}
	return func() (int64, int64, error) {
		close(done)
		wg.Wait()
		first, _ := firstErr.Load().(error)
		return okN.Load(), failedN.Load(), first
	}, okN.Load
}
