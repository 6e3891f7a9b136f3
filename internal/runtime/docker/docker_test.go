package docker

import (
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/runtime"
	"github.com/ebbscale/ebb/internal/runtime/docker/dockertest"
	"github.com/ebbscale/ebb/internal/runtime/runtimetest"
)

// TestMain turns the test binary into the conformance model server when a
// container runs it, and stops the daemon it started.
func TestMain(m *testing.M) {
	if os.Getenv("EBB_TEST_MODEL") == "1" {
		runtimetest.Serve()
		return
	}
	code := m.Run()
	dockertest.StopShared()
	os.Exit(code)
}

const testImage = "ebb.test/conformance:latest"

// testDaemon is the shared daemon, with the conformance image: this test binary as a
// SageMaker-style container.
func testDaemon(t *testing.T) *dockertest.Daemon {
	d := dockertest.Shared(t)
	imageOnce.Do(func() {
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		d.Image(t, testImage, self, nil, map[string]string{"EBB_TEST_MODEL": "1", "SAGEMAKER_BIND_TO_HOST": "0.0.0.0",
			"SAGEMAKER_BIND_TO_PORT": "8080", "SM_MODEL_DIR": ModelDir}, nil)
	})
	return d
}

func testRuntimeIn(d *dockertest.Daemon, dir string) *Runtime {
	return New(Options{Client: d.Client, Dir: dir, Server: ServerLabel(dir), StartLimit: 8 * time.Second, StopGrace: 5 * time.Second,
		PingInterval: 100 * time.Millisecond, UnhealthyThreshold: 2})
}

func TestDockerConformance(t *testing.T) {
	d := testDaemon(t)
	runtimetest.Run(t, runtimetest.Config{
		New:     func(t *testing.T) runtime.Runtime { return testRuntimeIn(d, t.TempDir()) },
		Restart: func(t *testing.T, old runtime.Runtime) runtime.Runtime { return testRuntimeIn(d, old.(*Runtime).o.Dir) },
		Image:   testImage,
	})
}

var imageOnce sync.Once
