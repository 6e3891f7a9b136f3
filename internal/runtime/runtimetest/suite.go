package runtimetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/runtime"
)

// Config tells the suite how to use a runtime.
type Config struct {
	// New returns a fresh runtime. It must use short health-check intervals
	// (a ping every ~100 ms, unhealthy after a few failures) and a start
	// limit of a few seconds, so the suite's failure cases end quickly.
	New func(t *testing.T) runtime.Runtime
	// Image runs Serve.
	Image string
	// Env is added to every instance's environment (e.g. to tell a re-executed
	// test binary to run Serve).
	Env map[string]string
	// ModelDataOverHTTP serves model archives over http:// instead of giving
	// their local path (a pod cannot read the test's files).
	ModelDataOverHTTP bool
	// NoStats says the runtime has no source of usage figures here (a
	// cluster without metrics-server): Stats must then fail, so that the
	// metrics are absent rather than zero.
	NoStats bool
	// Restart returns a new runtime in old's place, as a server restarted
	// after kill -9 makes one: what old started keeps running (for a
	// runtime.Detacher, old is detached first). Required of an Adopter.
	Restart func(t *testing.T, old runtime.Runtime) runtime.Runtime
}

// eventTimeout bounds waits for real instance events (a process starting,
// exiting); it is a safety net, not a measurement.
const eventTimeout = 60 * time.Second

// Run runs the conformance suite.
func Run(t *testing.T, c Config) {
	t.Run("StartReadyAddress", func(t *testing.T) {
		t.Parallel()
		in := start(t, c, nil, "")
		waitReady(t, in)
		if got := invoke(t, in, "hello"); got != "hello" {
			t.Fatalf("echo = %q, want hello", got)
		}
	})
	t.Run("EnvironmentAndModelData", func(t *testing.T) {
		t.Parallel()
		archive := modelArchive(t, map[string]string{"weights.txt": "0.5 0.25"})
		if c.ModelDataOverHTTP {
			path := archive
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, path) }))
			t.Cleanup(srv.Close)
			archive = srv.URL + "/model.tar.gz"
		}
		in := start(t, c, map[string]string{"GREETING": "bonjour"}, archive)
		waitReady(t, in)
		if got := invoke(t, in, "env:GREETING"); got != "bonjour" {
			t.Errorf("env:GREETING = %q, want bonjour", got)
		}
		if got := invoke(t, in, "file:weights.txt"); got != "0.5 0.25" {
			t.Errorf("model file = %q, want %q", got, "0.5 0.25")
		}
	})
	t.Run("Stop", func(t *testing.T) {
		t.Parallel()
		in := start(t, c, nil, "")
		waitReady(t, in)
		ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
		defer cancel()
		if err := in.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		waitDone(t, in)
		if err := in.Err(); err != nil {
			t.Fatalf("Err after a clean Stop = %v, want nil", err)
		}
		if _, err := http.Get("http://" + in.Addr() + "/ping"); err == nil {
			t.Fatal("instance still answers after Stop")
		}
	})
	t.Run("CrashDetection", func(t *testing.T) {
		t.Parallel()
		in := start(t, c, nil, "")
		waitReady(t, in)
		post(in, "crash")
		waitDone(t, in)
		if in.Err() == nil {
			t.Fatal("Err after a crash = nil, want the reason")
		}
	})
	t.Run("UnhealthyDetection", func(t *testing.T) {
		t.Parallel()
		in := start(t, c, nil, "")
		waitReady(t, in)
		invoke(t, in, "unhealthy")
		waitDone(t, in)
		if err := in.Err(); err == nil || !strings.Contains(err.Error(), "health") {
			t.Fatalf("Err = %v, want a failed health check", err)
		}
	})
	t.Run("StartLimit", func(t *testing.T) {
		t.Parallel()
		in := start(t, c, map[string]string{EnvNeverReady: "1"}, "")
		waitDone(t, in)
		select {
		case <-in.Ready():
			t.Fatal("an instance that never answered /ping became ready")
		default:
		}
		if in.Err() == nil {
			t.Fatal("Err = nil, want the start-limit failure")
		}
	})
	t.Run("LaunchFailure", func(t *testing.T) {
		t.Parallel()
		// Start returns at once; model data that cannot be read ends the
		// instance with ErrLaunch, never ready.
		in := start(t, c, nil, "/nonexistent/ebb-model.tar.gz")
		waitDone(t, in)
		select {
		case <-in.Ready():
			t.Fatal("an instance that could not launch became ready")
		default:
		}
		if err := in.Err(); !errors.Is(err, runtime.ErrLaunch) {
			t.Fatalf("Err = %v, want one wrapping runtime.ErrLaunch", err)
		}
	})
	t.Run("Adopt", func(t *testing.T) {
		t.Parallel()
		old := c.New(t)
		if _, ok := old.(runtime.Adopter); !ok {
			t.Skip("the runtime's instances end with the server (not a runtime.Adopter)")
		}
		if c.Restart == nil {
			t.Fatal("an Adopter's Config needs Restart")
		}
		ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
		defer cancel()
		d := deployment()
		in := startOn(t, c, old, d, nil, "")
		waitReady(t, in)
		next := c.Restart(t, old)
		adopted, err := next.(runtime.Adopter).Adopt(ctx)
		if err != nil {
			t.Fatalf("Adopt: %v", err)
		}
		if len(adopted) != 1 {
			t.Fatalf("adopted %d instances, want the one running", len(adopted))
		}
		a := adopted[0]
		if a.Instance.ID() != in.ID() || a.Endpoint != "conformance" || a.Variant != "v1" || a.Deployment != d || a.Started.IsZero() {
			t.Fatalf("adopted %s %+v, want %s of conformance/v1/%s with its start time", a.Instance.ID(), a, in.ID(), d)
		}
		select {
		case <-a.Instance.Ready():
		default:
			t.Fatal("an adopted instance is not ready at once")
		}
		if a.Instance.Addr() != in.Addr() {
			t.Errorf("adopted at %s, was at %s", a.Instance.Addr(), in.Addr())
		}
		if got := invoke(t, a.Instance, "still here"); got != "still here" {
			t.Fatalf("echo = %q", got)
		}
		if err := a.Instance.Stop(ctx); err != nil {
			t.Fatalf("stopping an adopted instance: %v", err)
		}
		waitDone(t, a.Instance)
		if err := a.Instance.Err(); err != nil {
			t.Fatalf("Err after a clean Stop = %v, want nil", err)
		}
	})
	t.Run("ScaleIn", func(t *testing.T) {
		// Of several instances of one deployment, the one stopped goes and
		// no other, also while another is still starting.
		t.Parallel()
		rt := c.New(t)
		d := deployment()
		var ins []runtime.Instance
		for range 3 {
			ins = append(ins, startOn(t, c, rt, d, nil, ""))
		}
		for _, in := range ins {
			waitReady(t, in)
		}
		starting := startOn(t, c, rt, d, map[string]string{EnvStartDelay: "1s"}, "")
		ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
		defer cancel()
		chosen := ins[1]
		if err := chosen.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		waitDone(t, chosen)
		if err := chosen.Err(); err != nil {
			t.Fatalf("Err after a clean Stop = %v, want nil", err)
		}
		waitReady(t, starting)
		for _, in := range []runtime.Instance{ins[0], ins[2], starting} {
			select {
			case <-in.Done():
				t.Fatalf("instance %s ended (%v) when %s was stopped", in.ID(), in.Err(), chosen.ID())
			default:
			}
			if got := invoke(t, in, "hello"); got != "hello" {
				t.Fatalf("%s: echo = %q", in.ID(), got)
			}
		}
	})
	t.Run("Stats", func(t *testing.T) {
		t.Parallel()
		in := start(t, c, nil, "")
		waitReady(t, in)
		invoke(t, in, "spin:300")
		s, err := in.Stats()
		if c.NoStats {
			if err == nil {
				t.Fatalf("Stats = %+v without a source of figures, want an error (absent, not zero)", s)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if s.DiskPercent <= 0 || s.DiskPercent > 100 {
			t.Errorf("DiskPercent = %v, want (0, 100]", s.DiskPercent)
		}
		if s.CPUTime < 250*time.Millisecond || s.MemoryBytes == 0 { // /proc counts in 10 ms ticks
			t.Fatalf("Stats = %+v after 300 ms of CPU work, want CPUTime >= 250ms and some memory", s)
		}
	})
}

var seq atomic.Int64 // instance ids and deployments, unique across parallel subtests

// deployment names a new deployment.
func deployment() string { return fmt.Sprintf("d%d", seq.Add(1)) }

// start starts an instance on a runtime of its own, the only one of its
// deployment: the subtests run in parallel, and on Kubernetes the
// instances of one deployment are pods of one ReplicaSet.
func start(t *testing.T, c Config, env map[string]string, modelData string) runtime.Instance {
	t.Helper()
	return startOn(t, c, c.New(t), deployment(), env, modelData)
}

// startOn starts an instance of deployment d on rt; the test's end stops it.
func startOn(t *testing.T, c Config, rt runtime.Runtime, d string, env map[string]string, modelData string) runtime.Instance {
	t.Helper()
	all := map[string]string{}
	for k, v := range c.Env {
		all[k] = v
	}
	for k, v := range env {
		all[k] = v
	}
	typ, _ := runtime.LookupInstanceType("ml.m5.large")
	in, err := rt.Start(context.Background(), runtime.Spec{
		ID:           fmt.Sprintf("%s-%d", strings.ReplaceAll(strings.ToLower(t.Name()), "/", "-"), seq.Add(1)),
		Endpoint:     "conformance",
		Variant:      "v1",
		Deployment:   d,
		Image:        c.Image,
		Environment:  all,
		ModelDataURL: modelData,
		InstanceType: typ,
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
		defer cancel()
		in.Stop(ctx)
	})
	return in
}

func waitReady(t *testing.T, in runtime.Instance) {
	t.Helper()
	select {
	case <-in.Ready():
	case <-in.Done():
		t.Fatalf("instance ended before it was ready: %v", in.Err())
	case <-time.After(eventTimeout):
		t.Fatal("instance not ready")
	}
}

func waitDone(t *testing.T, in runtime.Instance) {
	t.Helper()
	select {
	case <-in.Done():
	case <-time.After(eventTimeout):
		t.Fatal("instance did not end")
	}
}

func post(in runtime.Instance, body string) (*http.Response, error) {
	return http.Post("http://"+in.Addr()+"/invocations", "text/plain", strings.NewReader(body))
}

func invoke(t *testing.T, in runtime.Instance, body string) string {
	t.Helper()
	resp, err := post(in, body)
	if err != nil {
		t.Fatalf("invoke %q: %v", body, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("invoke %q: status %d: %s", body, resp.StatusCode, b)
	}
	return string(b)
}

// modelArchive writes a .tar.gz holding files and returns its path.
func modelArchive(t *testing.T, files map[string]string) string {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	path := filepath.Join(t.TempDir(), "model.tar.gz")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
