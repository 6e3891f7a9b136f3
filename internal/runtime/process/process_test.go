package process

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/runtime"
	"github.com/ebbscale/ebb/internal/runtime/runtimetest"
)

// TestMain turns the test binary into the conformance model server when the
// process runtime re-executes it.
func TestMain(m *testing.M) {
	if os.Getenv("EBB_TEST_MODEL") == "1" {
		runtimetest.Serve()
		return
	}
	os.Exit(m.Run())
}

func testRuntime(t *testing.T) *Runtime {
	return New(Options{
		Dir:                t.TempDir(),
		StartLimit:         3 * time.Second,
		StopGrace:          5 * time.Second,
		PingInterval:       100 * time.Millisecond,
		UnhealthyThreshold: 2,
	})
}

func TestConformance(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	runtimetest.Run(t, runtimetest.Config{
		New:   func(t *testing.T) runtime.Runtime { return testRuntime(t) },
		Image: self,
		Env:   map[string]string{"EBB_TEST_MODEL": "1"},
	})
}

// TestReapStopsOrphans starts an instance the way a server that then died
// would have left it, and checks that a new runtime on the same directory
// stops it.
func TestReapStopsOrphans(t *testing.T) {
	dir := t.TempDir()
	self, _ := os.Executable()
	// The orphan ignores SIGTERM's default (a shell that traps it), so Reap
	// must fall back to SIGKILL of the whole group.
	cmd := exec.Command("sh", "-c", `trap "" TERM; "$0" & wait`, self)
	cmd.Env = append(os.Environ(), "EBB_TEST_MODEL=1", "SAGEMAKER_BIND_TO_PORT=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go cmd.Wait()
	rt := New(Options{Dir: dir, StopGrace: 200 * time.Millisecond})
	in := filepath.Join(dir, "instances", "orphan-1")
	os.MkdirAll(in, 0o755)
	ct := createTime(t, cmd.Process.Pid)
	os.WriteFile(filepath.Join(in, "instance.json"), []byte(`{"pid":`+strconv.Itoa(cmd.Process.Pid)+`,"createTime":`+strconv.FormatInt(ct, 10)+`}`), 0o644)
	// A stale record whose pid is not the process it names must be left alone.
	stale := filepath.Join(dir, "instances", "stale-1")
	os.MkdirAll(stale, 0o755)
	os.WriteFile(filepath.Join(stale, "instance.json"), []byte(`{"pid":1,"createTime":1}`), 0o644)

	n, err := rt.Reap(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("Reap = %d, %v; want 1 orphan stopped", n, err)
	}
	if err := syscall.Kill(-cmd.Process.Pid, 0); err == nil {
		// The group may linger for a moment as a zombie until reaped by cmd.Wait.
		deadline := time.Now().Add(5 * time.Second)
		for syscall.Kill(-cmd.Process.Pid, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if syscall.Kill(-cmd.Process.Pid, 0) == nil {
			t.Fatal("orphan process group still alive after Reap")
		}
	}
	if _, err := os.Stat(in); !os.IsNotExist(err) {
		t.Fatal("orphan working directory not removed")
	}
}
