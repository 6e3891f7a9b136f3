package e2e

import (
	"context"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/ebbscale/ebb/internal/store/postgres/pgtest"
)

// haReplicas starts n ebb replicas on one PostgreSQL database and the
// Kubernetes control plane, electing a leader with one Lease.
func haReplicas(t testing.TB, n int) (*kubeServer, []*server, func(i int) *server) {
	t.Helper()
	c := kubeCluster(t)
	dsn := pgtest.Shared(t).Database(t)
	ns := c.Namespace(t)
	runner := c.Run(t, ns, map[string][]string{kubeModel: {ebbBin, "example-model", "--work-ms", "2"}}, nil)
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		ln.Close()
	}
	dirs := make([]string, n)
	start := func(i int) *server {
		url := fmt.Sprintf("http://127.0.0.1:%d", ports[i])
		return startServer(t, dirs[i], "--listen", fmt.Sprintf("127.0.0.1:%d", ports[i]), "--runtime", "kubernetes",
			"--kubeconfig", c.Kubeconfig, "--namespace", ns, "--store", dsn, "--ha-lease", "ebb-leader", "--advertise-url", url)
	}
	var reps []*server
	for i := range n {
		dirs[i] = t.TempDir()
		reps = append(reps, start(i))
	}
	return &kubeServer{cluster: c, ns: ns, runner: runner}, reps, start
}

// leaderOf waits until one of the live replicas says it leads.
func leaderOf(t testing.TB, reps []*server, skip map[*server]bool, limit time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		for i, r := range reps {
			if !skip[r] && strings.Contains(r.Log(), `msg="serving as the leader"`) {
				return i
			}
		}
		time.Sleep(20 * time.Millisecond) // polling the replicas' logs
	}
	t.Fatalf("no replica leads within %v", limit)
	return -1
}

func running(s *server) bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// TestHAFailover: three replicas; every one answers the APIs (followers
// forward to the leader); the leader is killed with -9 in the middle of a
// capacity change: a follower leads within 15 s, adopts the pods and
// finishes the change; a leader frozen (SIGSTOP) past its lease is fenced
// off and exits when it resumes.
func TestHAFailover(t *testing.T) {
	k, reps, _ := haReplicas(t, 3)
	first := leaderOf(t, reps, nil, 30*time.Second)
	t.Logf("replica %d leads", first)
	follower := reps[(first+1)%3]
	sm := follower.SageMaker()
	deploy(t, sm, "ha", kubeModel, 1)
	waitInService(t, sm, "ha")
	for _, r := range reps {
		invoke(t, r.Runtime(), "ha", "1,2,3") // through every replica
	}
	stop := traffic(follower.Runtime(), "ha", 2)

	// Kill the leader while a capacity change is in flight.
	setCapacity(t, sm, "ha", "AllTraffic", 3)
	killed := time.Now()
	reps[first].Crash()
	skip := map[*server]bool{reps[first]: true}
	second := leaderOf(t, reps, skip, 15*time.Second)
	t.Logf("replica %d leads %v after the kill", second, time.Since(killed).Round(time.Millisecond))
	waitFor(t, sm, "ha", "the capacity change finished by the new leader", func(o *sagemaker.DescribeEndpointOutput) bool {
		return *variantOf(o).CurrentInstanceCount == 3 && o.EndpointStatus == "InService"
	})
	ok, failed, first_ := stop()
	t.Logf("%d requests through a follower across the failover, %d failed (first: %v)", ok, failed, first_)
	waitCond(t, "exactly 3 pods (adopted, none doubled)", func() bool { return len(k.pods(t)) == 3 })

	// Freeze the leader past its lease: another replica takes over; the
	// frozen one, resumed, is refused and exits.
	frozen := reps[second]
	syscall.Kill(frozen.cmd.Process.Pid, syscall.SIGSTOP)
	skip[frozen] = true
	third := leaderOf(t, reps, skip, 30*time.Second)
	syscall.Kill(frozen.cmd.Process.Pid, syscall.SIGCONT)
	waitCond(t, "the resumed, deposed leader exits", func() bool { return !running(frozen) })
	t.Logf("replica %d leads after the freeze; the frozen one said:\n%s", third, lastLines(frozen.Log(), 3))
	if _, err := reps[third].SageMaker().DescribeEndpoint(context.Background(), &sagemaker.DescribeEndpointInput{EndpointName: aws.String("ha")}); err != nil {
		t.Fatal(err)
	}
	invoke(t, reps[third].Runtime(), "ha", "1,2,3")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
