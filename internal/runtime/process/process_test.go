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
	return testRuntimeIn(t.TempDir())
}

// testRuntimeIn is a runtime on dir: a second one on the same directory is
// a server restarted after kill -9.
func testRuntimeIn(dir string) *Runtime {
	return New(Options{
		Dir:                dir,
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
		New:     func(t *testing.T) runtime.Runtime { return testRuntime(t) },
		Restart: func(t *testing.T, old runtime.Runtime) runtime.Runtime { return testRuntimeIn(old.(*Runtime).opts.Dir) },
		Image:   self,
		Env:     map[string]string{"EBB_TEST_MODEL": "1"},
	})
}

// TestAdopt leaves instances behind as a killed server would and checks
// what a new runtime on the same directory does with them: a healthy one is
// adopted, ready, with its address and labels, and can be stopped; one that
// fails its health check is stopped, SIGKILL of its whole group when it
// ignores SIGTERM; one without a record is found by its working directory
// and stopped; a record whose pid is another process is left alone.
func TestAdopt(t *testing.T) {
	dir := t.TempDir()
	self, _ := os.Executable()
	old := New(Options{Dir: dir, StartLimit: 5 * time.Second})
	healthy, err := old.Start(context.Background(), runtime.Spec{ID: "ep-v-1", Endpoint: "ep", Variant: "v", Deployment: "d1",
		Image: self, Environment: map[string]string{"EBB_TEST_MODEL": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-healthy.Ready():
	case <-healthy.Done():
		t.Fatalf("instance ended: %v", healthy.Err())
	}

	// The unhealthy orphan ignores SIGTERM (a shell that traps it) and does
	// not serve where its record says.
	cmd := exec.Command("sh", "-c", `trap "" TERM; "$0" & wait`, self)
	cmd.Env = append(os.Environ(), "EBB_TEST_MODEL=1", "SAGEMAKER_BIND_TO_PORT=0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go cmd.Wait()
	orphan := filepath.Join(dir, "instances", "orphan-1")
	os.MkdirAll(orphan, 0o755)
	ct := createTime(t, cmd.Process.Pid)
	os.WriteFile(filepath.Join(orphan, "instance.json"), []byte(`{"pid":`+strconv.Itoa(cmd.Process.Pid)+`,"createTime":`+strconv.FormatInt(ct, 10)+`,"deployment":"d1","addr":"127.0.0.1:1"}`), 0o644)
	// One whose server died between starting it and recording it: its
	// working directory has no instance.json.
	unrecorded := filepath.Join(dir, "instances", "unrecorded-1")
	os.MkdirAll(unrecorded, 0o755)
	quiet := exec.Command(self)
	quiet.Dir = unrecorded
	quiet.Env = append(os.Environ(), "EBB_TEST_MODEL=1", "SAGEMAKER_BIND_TO_PORT=0")
	quiet.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := quiet.Start(); err != nil {
		t.Fatal(err)
	}
	quietExited := make(chan struct{})
	go func() { quiet.Wait(); close(quietExited) }()
	stale := filepath.Join(dir, "instances", "stale-1")
	os.MkdirAll(stale, 0o755)
	os.WriteFile(filepath.Join(stale, "instance.json"), []byte(`{"pid":1,"createTime":1}`), 0o644)

	rt := New(Options{Dir: dir, StopGrace: 200 * time.Millisecond})
	adopted, err := rt.Adopt(context.Background())
	if err != nil || len(adopted) != 1 {
		t.Fatalf("Adopt = %v, %v; want the healthy instance", adopted, err)
	}
	a := adopted[0]
	if a.Endpoint != "ep" || a.Variant != "v" || a.Deployment != "d1" || a.Instance.ID() != "ep-v-1" || a.Instance.Addr() != healthy.Addr() {
		t.Fatalf("adopted %+v (%s at %s)", a, a.Instance.ID(), a.Instance.Addr())
	}
	select {
	case <-a.Instance.Ready():
	default:
		t.Fatal("an adopted instance is ready at once")
	}
	if _, err := a.Instance.Stats(); err != nil {
		t.Fatalf("Stats of an adopted instance: %v", err)
	}
	if syscall.Kill(-cmd.Process.Pid, 0) == nil {
		deadline := time.Now().Add(5 * time.Second)
		for syscall.Kill(-cmd.Process.Pid, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // the group lingers as a zombie until cmd.Wait reaps it
		}
		if syscall.Kill(-cmd.Process.Pid, 0) == nil {
			t.Fatal("unhealthy orphan's process group still alive after Adopt")
		}
	}
	select {
	case <-quietExited:
	case <-time.After(10 * time.Second):
		t.Fatal("the instance left without a record still runs after Adopt")
	}
	for _, d := range []string{orphan, stale, unrecorded} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Fatalf("%s not removed", d)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Instance.Stop(ctx); err != nil {
		t.Fatalf("stopping the adopted instance: %v", err)
	}
	<-healthy.Done()
	if a.Instance.Err() != nil {
		t.Fatalf("a clean stop reports %v", a.Instance.Err())
	}
}
