package kubernetes

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/runtime"
	"github.com/ebbscale/ebb/internal/runtime/runtimetest"
)

// TestKubernetesGivesBackADeafPod: the first pod of an instance is listed
// ready but its process never listens (runtimetest.EnvDeafOnce). After
// PodAnswerLimit the instance gives it back, the ReplicaSet replaces it,
// and the instance is ready on the new pod, well within its start limit.
func TestKubernetesGivesBackADeafPod(t *testing.T) {
	c := testCluster(t)
	ns := c.Namespace(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	mark := filepath.Join(t.TempDir(), "deaf")
	c.Run(t, ns, map[string][]string{testImage: {self}}, map[string]string{"EBB_TEST_MODEL": "1", runtimetest.EnvDeafOnce: mark})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt, err := New(ctx, Options{Client: c.Client, Namespace: ns, StartLimit: time.Minute, PodAnswerLimit: 2 * time.Second,
		PingInterval: 100 * time.Millisecond, UnhealthyThreshold: 2, InstanceTypeLabel: "node.kubernetes.io/instance-type"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Detach)
	typ, _ := runtime.LookupInstanceType("ml.m5.large")
	in, err := rt.Start(ctx, runtime.Spec{ID: "deaf-1", Endpoint: "deaf", Variant: "v1", Deployment: "d1", Image: testImage, InstanceType: typ})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Stop(context.Background()) })
	select {
	case <-in.Ready():
	case <-in.Done():
		t.Fatalf("the instance ended: %v", in.Err())
	case <-ctx.Done():
		t.Fatal("the instance never became ready on a pod that answers")
	}
	// The first process went deaf (it made the mark) and never answers:
	// the instance is ready, so another pod answered.
	if _, err := os.Stat(mark); err != nil {
		t.Fatalf("the first pod never ran (%v): the test proves nothing", err)
	}
}
