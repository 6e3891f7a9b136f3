package process

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/shirou/gopsutil/v4/process"
	"golang.org/x/sys/unix"

	"github.com/ebbscale/ebb/internal/runtime"
)

// Adopt takes over the instances a previous server left running (it was
// killed; a clean stop ends them). An instance is the same process if its
// pid has the create time instance.json recorded; it is kept if it answers
// /ping, and comes back ready with its address, labels and start time, so
// hosting can route to it before the listener opens. Unknown, dead or
// unhealthy instances are stopped and their directories removed.
func (r *Runtime) Adopt(ctx context.Context) ([]runtime.Adopted, error) {
	dirs, err := os.ReadDir(filepath.Join(r.opts.Dir, "instances"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return runtime.AdoptEach(dirs, func(d os.DirEntry) (runtime.Adopted, bool) { return r.adopt(ctx, d.Name()) }), nil
}

// adopt takes over one instance directory, or stops what runs there.
func (r *Runtime) adopt(ctx context.Context, id string) (runtime.Adopted, bool) {
	dir := filepath.Join(r.opts.Dir, "instances", id)
	log := r.opts.Logger.With("instance", id)
	var rec record
	b, err := os.ReadFile(filepath.Join(dir, "instance.json"))
	if err != nil || json.Unmarshal(b, &rec) != nil || rec.PID <= 0 {
		r.reapIn(ctx, dir)
		os.RemoveAll(dir)
		return runtime.Adopted{}, false
	}
	p, err := process.NewProcessWithContext(ctx, int32(rec.PID))
	if err != nil {
		os.RemoveAll(dir)
		return runtime.Adopted{}, false
	}
	if ct, err := p.CreateTime(); err != nil || ct != rec.CreateTime {
		os.RemoveAll(dir) // the pid was reused: not ours
		return runtime.Adopted{}, false
	}
	stop := func(why string) (runtime.Adopted, bool) {
		log.Info("stopping an instance left running", "why", why, "endpoint", rec.Endpoint, "variant", rec.Variant, "pid", rec.PID)
		killGroup(ctx, p, rec.PID, r.opts.StopGrace)
		os.RemoveAll(dir)
		ended := make(chan struct{})
		close(ended)
		r.followLog(id, rec.Endpoint, rec.Variant, ended) // what it wrote last
		return runtime.Adopted{}, false
	}
	if rec.Deployment == "" || rec.Addr == "" {
		return stop("its record predates adoption")
	}
	fd, err := unix.PidfdOpen(rec.PID, 0)
	if err != nil {
		return stop("cannot watch it: " + err.Error())
	}
	in := r.newInstance(id, rec.Addr, dir, rec.PID, p, func() error { return waitPidfd(fd) })
	if len(rec.GPUs) > 0 && r.opts.GPUs != nil {
		in.gpus = r.opts.GPUs.Reserve(rec.GPUs)
	}
	if !in.ping() {
		unix.Close(fd)
		return stop("it fails its health check")
	}
	close(in.ready)
	r.followLog(id, rec.Endpoint, rec.Variant, in.done)
	go in.wait()
	go in.monitor()
	log.Info("adopted an instance left running", "endpoint", rec.Endpoint, "variant", rec.Variant, "pid", rec.PID, "addr", rec.Addr)
	return runtime.Adopted{Instance: in, Endpoint: rec.Endpoint, Variant: rec.Variant, Deployment: rec.Deployment, Started: rec.Started}, true
}

// reapIn stops what runs in the working directory of an instance without
// a record (a server killed between starting its process and recording
// it): every process group with a process whose working directory is dir.
func (r *Runtime) reapIn(ctx context.Context, dir string) {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	procs, err := process.ProcessesWithContext(ctx)
	if err != nil {
		r.opts.Logger.Warn("cannot list processes to stop an instance left without a record", "dir", dir, "err", err)
		return
	}
	self := unix.Getpgrp()
	for _, p := range procs {
		cwd, err := p.CwdWithContext(ctx)
		if err != nil || cwd != dir && !strings.HasPrefix(cwd, dir+string(filepath.Separator)) {
			continue
		}
		pgid, err := unix.Getpgid(int(p.Pid))
		if err != nil || pgid <= 1 || pgid == self {
			continue
		}
		r.opts.Logger.Info("stopping an instance left running without a record", "dir", dir, "pid", p.Pid)
		killGroup(ctx, p, pgid, r.opts.StopGrace)
	}
}

// waitPidfd blocks until the process of a pidfd has ended. The process is
// not this server's child, so its exit status is not known.
func waitPidfd(fd int) error {
	defer unix.Close(fd)
	for {
		_, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, -1)
		if !errors.Is(err, unix.EINTR) {
			return errors.New("exit status unknown (adopted process)")
		}
	}
}

// Interface guard.
var _ runtime.Adopter = (*Runtime)(nil)
