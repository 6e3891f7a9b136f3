package e2e

import (
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
)

func killPID(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }

// TestCrashRecovery kills the server with SIGKILL while endpoints run. The
// restarted server must stop the orphaned instances and bring every endpoint
// back to its desired count.
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

	s2 := startServer(t, dir)
	sm2 := s2.SageMaker()
	for name, want := range map[string]int32{"survivor": 2, "other": 1} {
		waitFor(t, sm2, name, "recovered "+name, func(o *sagemaker.DescribeEndpointOutput) bool {
			return o.EndpointStatus == "InService" && *variantOf(o).CurrentInstanceCount == want
		})
	}
	for id, pid := range before {
		if alive(pid) {
			t.Errorf("orphaned instance %s (pid %d) still running after restart", id, pid)
		}
	}
	after := s2.instances()
	if len(after) != 3 {
		t.Errorf("%d instances after recovery, want 3", len(after))
	}
	for id := range after {
		if _, ok := before[id]; ok {
			t.Errorf("instance %s was adopted; ebb replaces orphans", id)
		}
	}
	invoke(t, s2.Runtime(), "survivor", "1,2,3")

	// A clean shutdown (SIGTERM) stops every instance.
	s2.Stop()
	for id, pid := range after {
		if alive(pid) {
			t.Errorf("instance %s (pid %d) still running after the server stopped", id, pid)
		}
	}
}
