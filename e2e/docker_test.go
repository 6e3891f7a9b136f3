package e2e

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/ebbscale/ebb/internal/runtime/docker/dockertest"
)

// dockerModel is the example model as a SageMaker container image, built
// offline from the ebb under test.
const dockerModel = "ebb-e2e/example-model:latest"

var dockerImageOnce sync.Once

// startDockerServer runs ebb with --runtime docker on the tests' daemon,
// with the example model's image built.
func startDockerServer(t testing.TB, dir string, extra ...string) (*server, *dockertest.Daemon) {
	t.Helper()
	d := dockertest.Shared(t)
	dockerImageOnce.Do(func() {
		d.Image(t, dockerModel, ebbBin, []string{"example-model", "--work-ms", "2"},
			map[string]string{"SAGEMAKER_BIND_TO_HOST": "0.0.0.0", "SAGEMAKER_BIND_TO_PORT": "8080"}, nil)
	})
	return startServer(t, dir, append([]string{"--runtime", "docker", "--docker-host", d.Host}, extra...)...), d
}

// containers lists the running containers of ebb's instances, by name.
func containers(t testing.TB, d *dockertest.Daemon) map[string]container.Summary {
	t.Helper()
	list, err := d.Client.ContainerList(context.Background(), container.ListOptions{Filters: filters.NewArgs(filters.Arg("label", "ebb.io/instance-id"))})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]container.Summary{}
	for _, c := range list {
		out[c.Names[0]] = c
	}
	return out
}

// TestDockerEndpointLifecycle: through the Go SDK, an endpoint of the
// example image runs as containers and answers; a container killed under
// load is replaced; ebb killed with -9 and restarted adopts the same
// containers (no duplicate, no orphan); deleting the endpoint removes them.
func TestDockerEndpointLifecycle(t *testing.T) {
	dir := t.TempDir()
	s, d := startDockerServer(t, dir)
	sm, rt := s.SageMaker(), s.Runtime()
	deploy(t, sm, "dock", dockerModel, 2)
	waitInService(t, sm, "dock")
	if got := invoke(t, rt, "dock", "1,2,3"); got.Body == nil {
		t.Fatal("no answer")
	}
	before := containers(t, d)
	if len(before) != 2 {
		t.Fatalf("%d containers, want 2: %v", len(before), slices.Collect(maps.Keys(before)))
	}

	// A container killed under load: replaced, and the endpoint serves on.
	stop := traffic(rt, "dock", 4)
	victim := slices.Collect(maps.Keys(before))[0]
	if err := d.Client.ContainerKill(context.Background(), before[victim].ID, "KILL"); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "a replacement container serves", func() (bool, any) {
		now := containers(t, d)
		_, still := now[victim]
		o, err := sm.DescribeEndpoint(context.Background(), describe("dock"))
		return !still && len(now) == 2 && err == nil && aws.ToInt32(variantOf(o).CurrentInstanceCount) == 2 && o.EndpointStatus == types.EndpointStatusInService, slices.Collect(maps.Keys(now))
	})
	ok, failed, _ := stop()
	t.Logf("under the kill: %d calls served, %d failed", ok, failed)
	if ok == 0 || failed > 4 {
		t.Fatalf("%d calls served, %d failed: want only those in flight on the killed container to fail (at most one per client, 4)", ok, failed)
	}

	// kill -9 and restart: the same containers, adopted.
	running := containers(t, d)
	s.Crash()
	s2, _ := startDockerServer(t, dir)
	o, err := s2.SageMaker().DescribeEndpoint(context.Background(), describe("dock"))
	if err != nil || aws.ToInt32(variantOf(o).CurrentInstanceCount) != 2 {
		t.Fatalf("after the restart: %v, %v", o, err)
	}
	invoke(t, s2.Runtime(), "dock", "4,5,6")
	after := containers(t, d)
	if len(after) != 2 {
		t.Fatalf("%d containers after the restart, want the same 2", len(after))
	}
	for name, c := range after {
		if running[name].ID != c.ID {
			t.Errorf("container %s is new after the restart: it should have been adopted", name)
		}
	}

	// Deleting the endpoint removes its containers.
	if _, err := s2.SageMaker().DeleteEndpoint(context.Background(), &sagemaker.DeleteEndpointInput{EndpointName: aws.String("dock")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "no container left", func() (bool, any) {
		left := containers(t, d)
		return len(left) == 0, slices.Collect(maps.Keys(left))
	})
}

// TestDockerImageThatCannotBePulled: an image no registry serves fails the
// endpoint with the registry's reason in FailureReason.
func TestDockerImageThatCannotBePulled(t *testing.T) {
	s, _ := startDockerServer(t, t.TempDir(), "--instance-start-limit", "20s")
	sm := s.SageMaker()
	deploy(t, sm, "nopull", "registry.invalid/nobody/no-such-model:1", 1)
	o := waitFor(t, sm, "nopull", "the endpoint fails", func(o *sagemaker.DescribeEndpointOutput) bool {
		return o.EndpointStatus == types.EndpointStatusFailed
	})
	if reason := aws.ToString(o.FailureReason); !strings.Contains(reason, "registry.invalid/nobody/no-such-model:1") {
		t.Fatalf("FailureReason = %q, want the pull's error naming the image", reason)
	}
	t.Logf("FailureReason: %s", aws.ToString(o.FailureReason))
}
