package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/ebbscale/ebb/internal/gpu"
	"github.com/ebbscale/ebb/internal/logs"
	"github.com/ebbscale/ebb/internal/runtime"
	"github.com/ebbscale/ebb/internal/runtime/kubernetes"
	"github.com/ebbscale/ebb/internal/runtime/process"
	"github.com/ebbscale/ebb/internal/store"
	"github.com/ebbscale/ebb/internal/store/postgres"
	k8s "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// newRuntime builds the runtime --runtime names.
func newRuntime(ctx context.Context, c serverConfig, st store.Store, instanceLogs *logs.Store, log *slog.Logger) (runtime.Runtime, error) {
	switch c.Runtime {
	case "kubernetes":
		// Several replicas: a deposed leader's writes to the Kubernetes API
		// are refused like its writes to PostgreSQL.
		var fence func(context.Context) error
		if pg, ok := st.(*postgres.Postgres); ok && c.HALease != "" {
			fence = pg.CheckFence
		}
		return newKubernetesRuntime(ctx, c, fence, log)
	default:
		return newProcessRuntime(c, instanceLogs, log)
	}
}

// kubeClient connects with --kubeconfig, or the in-cluster configuration
// when ebb runs in a pod, and names the namespace to use.
func kubeClient(c serverConfig) (k8s.Interface, string, error) {
	var cfg *rest.Config
	var err error
	if c.Kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	} else {
		cfg, err = rest.InClusterConfig()
		if errors.Is(err, rest.ErrNotInCluster) {
			err = errors.New("not running in a pod: give --kubeconfig")
		}
	}
	if err != nil {
		return nil, "", err
	}
	cfg.QPS, cfg.Burst = 50, 100
	client, err := k8s.NewForConfig(cfg)
	if err != nil {
		return nil, "", err
	}
	ns := c.Namespace
	if ns == "" {
		ns = "default"
		if b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil {
			ns = string(b)
		}
	}
	return client, ns, nil
}

// newKubernetesRuntime runs instances as pods.
func newKubernetesRuntime(ctx context.Context, c serverConfig, fence func(context.Context) error, log *slog.Logger) (runtime.Runtime, error) {
	client, ns, err := kubeClient(c)
	if err != nil {
		return nil, fmt.Errorf("--runtime kubernetes: %w", err)
	}
	s3 := c.S3Endpoint
	if s3 == "" {
		s3 = c.AdvertiseURL
	}
	rt, err := kubernetes.New(ctx, kubernetes.Options{Client: client, Namespace: ns, FetcherImage: c.FetcherImage,
		FetcherSecret: c.FetcherSecret, S3Endpoint: s3, Region: c.Region, InstanceTypeLabel: c.InstanceTypeLabel,
		DCGMURL: c.DCGMURL, StartLimit: c.StartLimit, Fence: fence, Logger: log})
	if err != nil {
		return nil, err
	}
	log.Info("instances run as pods", "namespace", ns)
	return rt, nil
}

// newProcessRuntime runs instances as local processes; those a killed
// server left running are adopted by hosting.Start.
func newProcessRuntime(c serverConfig, instanceLogs *logs.Store, log *slog.Logger) (runtime.Runtime, error) {
	instanceUser, err := resolveInstanceUser(c.InstanceUser)
	if err != nil {
		return nil, err
	}
	roots := c.ModelDataRoots
	if len(roots) == 0 {
		wd, _ := os.Getwd()
		roots = stringList{c.Data, wd}
	}
	for i, r := range roots {
		if abs, err := filepath.Abs(r); err == nil {
			roots[i] = abs
		}
	}
	dir, err := instanceDir(c.Data, instanceUser)
	if err != nil {
		return nil, err
	}
	if dir != c.Data {
		log.Info("instance directories are outside the data directory, which the instance user cannot enter", "dir", dir, "data", c.Data)
	}
	self, _ := os.Executable()
	if instanceUser != nil {
		log.Info("instances run as an unprivileged user", "user", instanceUser.Name, "uid", instanceUser.UID)
		// "ebb" in a command line is this binary; `go run` and a home
		// directory keep it where that user cannot reach it.
		if reachable(filepath.Dir(self), instanceUser) != nil {
			if self, err = copyExecutable(self, filepath.Join(dir, "bin", "ebb")); err != nil {
				return nil, fmt.Errorf("copying ebb where user %s can run it: %w", instanceUser.Name, err)
			}
		}
	}
	src, err := gpu.Open()
	if err != nil {
		log.Info("no GPUs: GPU instance types run without one", "why", err)
	} else {
		log.Info("GPUs found", "gpus", len(src.Devices()))
	}
	var follower process.LogFollower
	if instanceLogs != nil {
		follower = instanceLogs
	}
	return process.New(process.Options{Dir: dir, Self: self, Logger: log, GPUs: gpu.NewAllocator(src), Logs: follower,
		User: instanceUser, ModelDataRoots: roots, MaxModelBytes: c.MaxModelBytes, StartLimit: c.StartLimit}), nil
}

// resolveInstanceUser picks who instances run as. As root, ebb never runs
// an API caller's command line as root: --instance-user, default nobody
// (instanceDir then finds them a directory that user can enter). Otherwise instances run
// as ebb's own user, and --instance-user may only name it.
func resolveInstanceUser(name string) (*process.User, error) {
	if os.Geteuid() != 0 {
		if me, err := user.Current(); name == "" || (err == nil && name == me.Username) {
			return nil, nil
		}
		return nil, usageError{fmt.Errorf("--instance-user=%s: only root can run instances as another user", name)}
	}
	if name == "" {
		name = "nobody"
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, usageError{fmt.Errorf("--instance-user=%s: %v; create the user or name another one", name, err)}
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	if uid == 0 {
		return nil, usageError{fmt.Errorf("--instance-user=%s is root: name an unprivileged user", name)}
	}
	return &process.User{Name: name, UID: uint32(uid), GID: uint32(gid)}, nil
}

// sharedInstanceRoot holds the instance directories of data directories
// the instance user cannot enter.
const sharedInstanceRoot = "/var/lib/ebb/instances"

// instanceDir is where the process runtime keeps the instances' working
// directories, their logs and the ebb binary they run: the data directory,
// or, as root where the instance user cannot enter it (mktemp -d makes
// 0700 directories), a directory of its own under /var/lib/ebb/instances,
// named by the data directory's path so that a restarted server finds its
// instances again. ebb creates it root-owned and mode 0711, as the levels
// above it: the user may enter, not list, and each instance's directory
// inside is still its own. Only where that user cannot reach /var/lib
// either is the data directory refused.
func instanceDir(data string, u *process.User) (string, error) {
	if u == nil || reachable(data, u) == nil {
		return data, nil
	}
	abs, err := filepath.Abs(data)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(abs))
	dir := filepath.Join(sharedInstanceRoot, hex.EncodeToString(sum[:8]))
	for _, p := range []string{filepath.Dir(sharedInstanceRoot), sharedInstanceRoot, dir} {
		switch err := os.Mkdir(p, 0o711); {
		case err == nil:
			if err := os.Chmod(p, 0o711); err != nil { // past the umask
				return "", err
			}
		case !errors.Is(err, fs.ErrExist):
			return "", err
		}
	}
	if err := reachable(dir, u); err != nil {
		return "", fmt.Errorf("--data %s: %w; choose a data directory that user can reach (for example --data /var/lib/ebb), or make that directory enterable (chmod o+x)", data, err)
	}
	return dir, nil
}

// copyExecutable copies the binary at src to dst (mode 0755), atomically.
func copyExecutable(src, dst string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".ebb-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return dst, os.Rename(tmp.Name(), dst)
}

// reachable reports whether u can traverse every directory down to dir.
func reachable(dir string, u *process.User) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for p := abs; ; p = filepath.Dir(p) {
		info, err := os.Stat(p)
		if err != nil {
			return err
		}
		st, _ := info.Sys().(*syscall.Stat_t)
		mode := info.Mode().Perm()
		ok := mode&0o001 != 0 || st != nil && (st.Uid == u.UID && mode&0o100 != 0 || st.Gid == u.GID && mode&0o010 != 0)
		if !ok {
			return fmt.Errorf("instances run as user %s, who cannot enter %s (mode %04o)", u.Name, p, mode)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}
