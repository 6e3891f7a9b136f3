// Package pgtest runs a private PostgreSQL cluster for tests: initdb and
// pg_ctl from Debian's postgresql package, in a temporary directory, on a
// free loopback port, as an unprivileged user when the tests run as root
// (PostgreSQL refuses to run as root), removed when the tests end.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is one PostgreSQL cluster.
type Server struct {
	// DSN connects to its postgres database as a superuser.
	DSN  string
	Port int
	dir  string
	bin  string
	uid  *syscall.Credential
	// The running postmaster, nil while stopped.
	proc   *os.Process
	exited chan struct{}
}

var (
	shared     *Server
	sharedErr  error
	sharedOnce sync.Once
)

// errNoPostgres: PostgreSQL's binaries are not installed.
var errNoPostgres = errors.New("PostgreSQL is not installed (apt-get install postgresql)")

// Shared returns the test binary's cluster, starting it on first use; stop
// it from TestMain with StopShared. Without PostgreSQL installed the test
// is skipped, except in CI.
func Shared(t testing.TB) *Server {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = start() })
	check(t, sharedErr)
	return shared
}

// Start starts a cluster of the test's own (one it may stop and restart);
// it is removed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start()
	check(t, err)
	t.Cleanup(s.Remove)
	return s
}

func check(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, errNoPostgres) && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("starting PostgreSQL: %v", err)
	}
}

// StopShared removes the shared cluster, if one was started.
func StopShared() {
	if shared != nil {
		shared.Remove()
	}
}

func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errNoPostgres
}

func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func start() (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ebb-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		// PostgreSQL will not run as root: its own user, else nobody.
		name := "postgres"
		u, err := user.Lookup(name)
		if err != nil {
			if u, err = user.Lookup("nobody"); err != nil {
				return nil, fmt.Errorf("no unprivileged user to run PostgreSQL as: %w", err)
			}
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.uid = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
		os.Chmod(dir, 0o755)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	if out, err := s.run("initdb", "-D", filepath.Join(dir, "data"), "-U", "ebb", "--auth=trust", "-E", "UTF8", "--no-sync"); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.Port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s.DSN = fmt.Sprintf("postgres://ebb@127.0.0.1:%d/postgres?sslmode=disable", s.Port)
	if err := s.Start(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if s.uid != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.uid}
	}
	return cmd.CombinedOutput()
}

// Start starts (or restarts after Stop) the cluster and waits until it
// accepts connections. The postmaster is this process's child, with
// SIGQUIT (immediate shutdown) as its parent-death signal: it ends with
// the test binary however that ends (a failed TestMain, a timeout's
// panic, a kill), not only when StopShared or Remove runs.
func (s *Server) Start() error {
	logf, err := os.OpenFile(filepath.Join(s.dir, "log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(filepath.Join(s.bin, "postgres"), "-D", filepath.Join(s.dir, "data"), "-p", strconv.Itoa(s.Port), "-k", s.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200")
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.uid, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting postgres: %w", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.proc, s.exited = cmd.Process, exited
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, s.DSN)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
			return fmt.Errorf("postgres exited at start: %s", log)
		case <-time.After(50 * time.Millisecond): // polling a starting server
		}
		if time.Now().After(deadline) {
			s.Stop()
			log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
			return fmt.Errorf("postgres did not accept connections within 60 s: %v\n%s", err, log)
		}
	}
}

// Stop stops the cluster (fast shutdown: connections are cut) and waits
// for it to exit.
func (s *Server) Stop() error {
	if s.proc == nil {
		return nil
	}
	s.proc.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.proc.Signal(syscall.SIGQUIT)
		<-s.exited
	}
	s.proc = nil
	return nil
}

// Remove stops the cluster and deletes its files.
func (s *Server) Remove() {
	s.Stop()
	os.RemoveAll(s.dir)
}

// Database creates a fresh database and returns its DSN.
func (s *Server) Database(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("postgres://ebb@127.0.0.1:%d/%s?sslmode=disable", s.Port, name)
}
