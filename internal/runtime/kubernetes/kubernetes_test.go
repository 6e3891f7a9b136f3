package kubernetes

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/runtime"
	"github.com/ebbscale/ebb/internal/runtime/kubernetes/kubetest"
	"github.com/ebbscale/ebb/internal/runtime/runtimetest"
)

// TestMain turns the test binary into the conformance model server when the
// harness runs it as a pod's container, and stops the control plane.
func TestMain(m *testing.M) {
	if os.Getenv("EBB_TEST_MODEL") == "1" {
		runtimetest.Serve()
		return
	}
	code := m.Run()
	kubetest.StopShared()
	os.Exit(code)
}

const testImage = "ebb.test/conformance"

// testCluster is the shared control plane with one roomy node.
func testCluster(t *testing.T) *kubetest.Cluster {
	c := kubetest.Shared(t)
	nodeOnce.Do(func() {
		nodeErr = c.AddNode(context.Background(), kubetest.NodeSpec{Name: "node-a", CPU: 64, Memory: "256Gi", GPUs: 4,
			Labels: map[string]string{"topology.kubernetes.io/zone": "zone-a", "node.kubernetes.io/instance-type": "m5.large"}})
	})
	if nodeErr != nil {
		t.Fatal(nodeErr)
	}
	return c
}

// testRuntime is a runtime on a namespace of its own, with a short start
// limit, so the suite's start-limit case ends quickly; not shorter, as a
// pod on a machine busy with other tests can take seconds to answer /ping
// (8 s once failed ScaleIn there).
func testRuntime(t *testing.T, c *kubetest.Cluster) *Runtime {
	return testRuntimeLimit(t, c, 15*time.Second)
}

// testRuntimeLimit is testRuntime with another start limit: a test that
// does not try the limit sets a longer one (on a busy machine a pod's
// process can take seconds to start).
func testRuntimeLimit(t *testing.T, c *kubetest.Cluster, limit time.Duration) *Runtime {
	t.Helper()
	ns := c.Namespace(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c.Run(t, ns, map[string][]string{testImage: {self}}, map[string]string{"EBB_TEST_MODEL": "1"})
	return testRuntimeIn(t, c, ns, limit)
}

// testRuntimeIn is a runtime on namespace ns: a second one on the same
// namespace, the first detached, is a restarted (or new leading) server.
func testRuntimeIn(t *testing.T, c *kubetest.Cluster, ns string, limit time.Duration) *Runtime {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt, err := New(ctx, Options{Client: c.Client, Namespace: ns, StartLimit: limit,
		PingInterval: 100 * time.Millisecond, UnhealthyThreshold: 2, InstanceTypeLabel: "node.kubernetes.io/instance-type"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Detach)
	return rt
}

func TestKubernetesConformance(t *testing.T) {
	c := testCluster(t)
	runtimetest.Run(t, runtimetest.Config{
		New: func(t *testing.T) runtime.Runtime { return testRuntime(t, c) },
		Restart: func(t *testing.T, old runtime.Runtime) runtime.Runtime {
			old.(*Runtime).Detach()
			return testRuntimeIn(t, c, old.(*Runtime).o.Namespace, old.(*Runtime).o.StartLimit)
		},
		Image:             testImage,
		ModelDataOverHTTP: true,
		NoStats:           true,
	})
}

var (
	nodeOnce sync.Once
	nodeErr  error
)
