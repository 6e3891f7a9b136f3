package process

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/ebbscale/ebb/internal/gpu"
	"github.com/ebbscale/ebb/internal/runtime"
)

func init() {
	runtime.Register(runtime.Registration{
		Name:    "process",
		Summary: "local processes",
		Logs:    true,
		// Local paths, under the model data roots.
		LocalModelData: true,
		Config:         func() runtime.Config { return &Config{} },
	})
}

// Config is the process runtime's part of `ebb server`'s flags.
type Config struct {
	InstanceUser string
}

// Flags registers --instance-user.
func (c *Config) Flags(fs *flag.FlagSet) {
	fs.StringVar(&c.InstanceUser, "instance-user", c.InstanceUser, "with --runtime process: user the instances run as (default: nobody when ebb runs as root, else ebb's own user)")
}

// Validate checks the flags.
func (c *Config) Validate() error {
	_, err := resolveInstanceUser(c.InstanceUser)
	return err
}

// New builds the runtime; the instances a killed server left running are
// adopted by hosting.
func (c *Config) New(_ context.Context, env runtime.Env) (runtime.Runtime, error) {
	log := env.Logger
	u, err := resolveInstanceUser(c.InstanceUser)
	if err != nil {
		return nil, err
	}
	dir, err := instanceDir(env.Data, u)
	if err != nil {
		return nil, err
	}
	if dir != env.Data {
		log.Info("instance directories are outside the data directory, which the instance user cannot enter", "dir", dir, "data", env.Data)
	}
	self, _ := os.Executable()
	if u != nil {
		log.Info("instances run as an unprivileged user", "user", u.Name, "uid", u.UID)
		// "ebb" in a command line is this binary; `go run` and a home
		// directory keep it where that user cannot reach it.
		if reachable(filepath.Dir(self), u) != nil {
			if self, err = copyExecutable(self, filepath.Join(dir, "bin", "ebb")); err != nil {
				return nil, fmt.Errorf("copying ebb where user %s can run it: %w", u.Name, err)
			}
		}
	}
	src, err := gpu.Open()
	if err != nil {
		log.Info("no GPUs: GPU instance types run without one", "why", err)
	} else {
		log.Info("GPUs found", "gpus", len(src.Devices()))
	}
	return New(Options{Dir: dir, Self: self, Logger: log, GPUs: gpu.NewAllocator(src), Logs: env.Logs,
		User: u, ModelDataRoots: env.ModelDataRoots, MaxModelBytes: env.MaxModelBytes, StartLimit: env.StartLimit}), nil
}

// Runs: every way of hosting runs on local processes (runtime.Featured).
func (r *Runtime) Runs(runtime.Feature) bool { return true }

// resolveInstanceUser picks who instances run as. As root, ebb never runs
// an API caller's command line as root: --instance-user, default nobody
// (instanceDir then finds them a directory that user can enter). Otherwise instances run
// as ebb's own user, and --instance-user may only name it.
func resolveInstanceUser(name string) (*User, error) {
	if os.Geteuid() != 0 {
		if me, err := user.Current(); name == "" || (err == nil && name == me.Username) {
			return nil, nil
		}
		return nil, fmt.Errorf("--instance-user=%s: only root can run instances as another user", name)
	}
	if name == "" {
		name = "nobody"
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("--instance-user=%s: %v; create the user or name another one", name, err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	if uid == 0 {
		return nil, fmt.Errorf("--instance-user=%s is root: name an unprivileged user", name)
	}
	return &User{Name: name, UID: uint32(uid), GID: uint32(gid)}, nil
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
func instanceDir(data string, u *User) (string, error) {
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
func reachable(dir string, u *User) error {
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
