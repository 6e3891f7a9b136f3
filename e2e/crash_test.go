package e2e

import (
	"context"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
)

func killPID(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }

// TestCrashRecovery kills the server with SIGKILL while endpoints run and
// clients keep invoking them. The restarted server adopts the instances
// that are still running (same ids, same processes): from the moment it
// listens, not one request fails and no variant reports fewer instances
// than it wants. An instance that died meanwhile is replaced.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: restarts the server")
	}
	dir := t.TempDir()
	s := startServer(t, dir)
	sm := s.SageMaker()
	deploy(t, sm, "survivor", model, 2)
	deploy(t, sm, "other", model, 1)
	waitInService(t, sm, "survivor")
	waitInService(t, sm, "other")
	before := s.instances()
	if len(before) != 3 {
		t.Fatalf("%d instances before the crash, want 3", len(before))
	}

	s.Crash()
	for id, pid := range before {
		if !alive(pid) {
			t.Fatalf("instance %s died with the server; the test would prove nothing", id)
		}
	}
	// One instance of "other" dies while no server runs: it is replaced.
	var dead string
	for id, pid := range before {
		if len(id) > 5 && id[:5] == "other" {
			dead = id
			killPID(pid)
		}
	}

	s2 := startServer(t, dir)
	sm2, rt2 := s2.SageMaker(), s2.Runtime()
	stop := traffic(rt2, "survivor", 4)
	// Capacity never dips: every Describe of the survivor shows both.
	for range 50 {
		out, err := sm2.DescribeEndpoint(context.Background(), &sagemaker.DescribeEndpointInput{EndpointName: aws.String("survivor")})
		if err != nil {
			t.Fatal(err)
		}
		if got := *variantOf(out).CurrentInstanceCount; got < 2 || out.EndpointStatus != "InService" {
			t.Fatalf("after the restart the survivor has %d instances (%s), want 2", got, out.EndpointStatus)
		}
	}
	waitFor(t, sm2, "other", "recovered other", func(o *sagemaker.DescribeEndpointOutput) bool {
		return o.EndpointStatus == "InService" && *variantOf(o).CurrentInstanceCount == 1
	})
	ok, failed, first := stop()
	if ok == 0 || failed != 0 {
		t.Fatalf("%d of %d invocations failed after the restart; first: %v", failed, ok+failed, first)
	}
	t.Logf("%d invocations after the restart, none failed", ok)

	after := s2.instances()
	if len(after) != 3 {
		t.Errorf("%d instances after recovery, want 3", len(after))
	}
	for id, pid := range before {
		if id == dead {
			if _, ok := after[id]; ok {
				t.Errorf("the dead instance %s was adopted", id)
			}
			continue
		}
		if after[id] != pid || !alive(pid) {
			t.Errorf("instance %s (pid %d) was not adopted: after the restart %v", id, pid, after)
		}
	}

	// A clean shutdown (SIGTERM) stops every instance, adopted ones included.
	s2.Stop()
	for id, pid := range after {
		if alive(pid) {
			t.Errorf("instance %s (pid %d) still running after the server stopped", id, pid)
		}
	}
}
