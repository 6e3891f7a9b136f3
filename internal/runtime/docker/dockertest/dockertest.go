// Package dockertest gives tests a Docker daemon and the images they run:
// the one DOCKER_HOST (or the default socket) names when it answers, else a
// private dockerd this test binary starts as root (Debian's docker.io, the
// vfs storage driver, a data root of its own) and stops at its end. No
// registry is reachable from the test machines, so images are built
// offline from a binary and the files its dynamic loader needs (Image).
package dockertest

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/client"
)

// Daemon is a Docker daemon the tests may use.
type Daemon struct {
	// Host is its DOCKER_HOST.
	Host   string
	Client *client.Client

	cmd  *exec.Cmd // nil when the daemon was already running
	dir  string
	lock *os.File // held while this binary's dockerd runs
}

var (
	sharedOnce sync.Once
	shared     *Daemon
	sharedErr  error
	errSkip    = errors.New("no Docker daemon")
)

// Shared returns the daemon of this test binary, starting it the first
// time. Where none answers and none can be started (no dockerd, not root),
// the test is skipped, saying why; under CI it fails.
func Shared(t testing.TB) *Daemon {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = start() })
	if errors.Is(sharedErr, errSkip) && os.Getenv("CI") == "" {
		t.Skipf("%v (CI installs docker.io and runs these tests as root)", sharedErr)
	}
	if sharedErr != nil {
		t.Fatalf("Docker: %v", sharedErr)
	}
	return shared
}

// StopShared stops the daemon this test binary started, if it did.
func StopShared() {
	if shared != nil {
		shared.stop()
	}
}

func start() (*Daemon, error) {
	if host := os.Getenv("DOCKER_HOST"); host != "" {
		return connect(host, nil, "")
	}
	if _, err := os.Stat("/var/run/docker.sock"); err == nil {
		if d, err := connect("unix:///var/run/docker.sock", nil, ""); err == nil {
			return d, nil
		}
	}
	bin, err := exec.LookPath("dockerd")
	if err != nil {
		return nil, fmt.Errorf("%w: none answers and dockerd is not installed (apt-get install docker.io)", errSkip)
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w: none answers and only root can start dockerd", errSkip)
	}
	// One private dockerd at a time on a machine: two would fight over the
	// docker0 bridge and the DOCKER iptables chains. Test binaries that
	// want one (go test runs packages in parallel) wait for each other; the
	// lock goes with the process that holds it, also one killed.
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "ebb-dockertest.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		lock.Close()
		return nil, fmt.Errorf("waiting for the other tests' dockerd: %w", err)
	}
	d, err := startDaemon(bin)
	if err != nil {
		lock.Close()
		return nil, err
	}
	d.lock = lock
	return d, nil
}

// startDaemon starts a private dockerd and waits until it answers.
func startDaemon(bin string) (*Daemon, error) {
	// A short directory: unix socket paths are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "ebb-docker-")
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "docker.sock")
	log, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--storage-driver=vfs", "--data-root", filepath.Join(dir, "root"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"), "-H", "unix://"+sock)
	cmd.Stdout, cmd.Stderr = log, log
	// It ends with the test binary, even one killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting dockerd: %w", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		d, err := connect("unix://"+sock, cmd, dir)
		if err == nil {
			return d, nil
		}
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			cmd.Process.Kill()
			out, _ := os.ReadFile(log.Name())
			return nil, fmt.Errorf("dockerd did not answer within a minute: %v\n%s", err, lastLines(string(out), 20))
		}
		time.Sleep(100 * time.Millisecond) // polling a starting daemon; it sends no event
	}
}

func connect(host string, cmd *exec.Cmd, dir string) (*Daemon, error) {
	c, err := client.NewClientWithOpts(client.WithHost(host), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Ping(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return &Daemon{Host: host, Client: c, cmd: cmd, dir: dir}, nil
}

func (d *Daemon) stop() {
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM) // dockerd stops its containers
	done := make(chan struct{})
	go func() { d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	os.RemoveAll(d.dir)
	d.lock.Close()
}

// Image builds an image named tag, offline: the executable at bin as
// /ebb-model, with the dynamic loader and libraries it needs (ldd), its
// entrypoint /ebb-model with args, env as its environment and labels.
func (d *Daemon) Image(t testing.TB, tag, bin string, args []string, env map[string]string, labels map[string]string) {
	t.Helper()
	files := map[string]string{"ebb-model": bin}
	out, err := exec.Command("ldd", bin).Output()
	if err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			for _, f := range strings.Fields(line) {
				if strings.HasPrefix(f, "/") {
					files[strings.TrimPrefix(f, "/")] = f
				}
			}
		}
	}
	var df strings.Builder
	df.WriteString("FROM scratch\nCOPY . /\n")
	for k, v := range env {
		fmt.Fprintf(&df, "ENV %s=%q\n", k, v)
	}
	for k, v := range labels {
		fmt.Fprintf(&df, "LABEL %q=%q\n", k, v)
	}
	entry := append([]string{"/ebb-model"}, args...)
	fmt.Fprintf(&df, "ENTRYPOINT [%s]\n", quoteAll(entry))
	var ctxTar bytes.Buffer
	tw := tar.NewWriter(&ctxTar)
	add := func(name string, mode int64, body []byte) {
		tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write(body)
	}
	add("Dockerfile", 0o644, []byte(df.String()))
	for name, src := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		add(name, 0o755, b)
	}
	tw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	resp, err := d.Client.ImageBuild(ctx, &ctxTar, build.ImageBuildOptions{Tags: []string{tag}, Remove: true, Version: build.BuilderV1})
	if err != nil {
		t.Fatalf("building %s: %v", tag, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if bytes.Contains(msg, []byte(`"errorDetail"`)) {
		t.Fatalf("building %s: %s", tag, msg)
	}
}

func quoteAll(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
