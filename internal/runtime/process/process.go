package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ebbscale/ebb/internal/gpu"
	"github.com/ebbscale/ebb/internal/logs"
	"github.com/ebbscale/ebb/internal/runtime"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/process"
)

// Defaults of the container contract.
const (
	DefaultStartLimit         = runtime.DefaultStartLimit
	DefaultStopGrace          = 30 * time.Second
	DefaultPingTimeout        = 2 * time.Second
	DefaultPingInterval       = runtime.DefaultPingInterval
	DefaultUnhealthyThreshold = runtime.DefaultUnhealthyThreshold
)

// Options configure the runtime. Zero fields take the defaults above.
type Options struct {
	// Dir holds the instances' working directories (instances/) and logs (logs/).
	Dir string
	// Self replaces a leading "ebb" in an image's command line; defaults to
	// this executable.
	Self               string
	StartLimit         time.Duration
	StopGrace          time.Duration
	PingTimeout        time.Duration
	PingInterval       time.Duration
	UnhealthyThreshold int
	Logger             *slog.Logger
	// User, when set, is who instances run as (ebb running as root runs
	// them as an unprivileged user); their working directories are theirs.
	User *User
	// ModelDataRoots are the directories a local ModelDataUrl must be
	// under; none allows any path.
	ModelDataRoots []string
	// MaxModelBytes bounds what one model archive may extract to
	// (default DefaultMaxModelBytes); an archive that expands more than
	// MaxExpansion times its size is refused as a decompression bomb.
	MaxModelBytes int64
	// GPUs hands the machine's GPUs to GPU instance types exclusively
	// (CUDA_VISIBLE_DEVICES) and reads their usage; nil or empty: GPU types
	// run without GPUs and publish no GPU metrics.
	GPUs *gpu.Allocator
	// Logs, when set, follows each instance's output file (logs/<id>.log)
	// into its CloudWatch Logs stream.
	Logs runtime.LogFollower
}

// User is the account instances run as.
type User struct {
	Name     string
	UID, GID uint32
}

// Runtime runs instances as local processes.
type Runtime struct {
	opts   Options
	ping   runtime.Pinger
	noGPUs sync.Once // logs once that GPU types run without GPUs
}

// New returns a process runtime; it starts nothing.
func New(opts Options) *Runtime {
	if opts.Self == "" {
		opts.Self, _ = os.Executable()
	}
	if opts.StartLimit == 0 {
		opts.StartLimit = DefaultStartLimit
	}
	if opts.StopGrace == 0 {
		opts.StopGrace = DefaultStopGrace
	}
	if opts.PingTimeout == 0 {
		opts.PingTimeout = DefaultPingTimeout
	}
	if opts.PingInterval == 0 {
		opts.PingInterval = DefaultPingInterval
	}
	if opts.UnhealthyThreshold == 0 {
		opts.UnhealthyThreshold = DefaultUnhealthyThreshold
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxModelBytes == 0 {
		opts.MaxModelBytes = DefaultMaxModelBytes
	}
	return &Runtime{
		opts: opts,
		ping: runtime.NewPinger(opts.PingTimeout),
	}
}

// record is what instance.json holds, for Adopt.
type record struct {
	PID        int       `json:"pid"`
	CreateTime int64     `json:"createTime"` // ms since the epoch, as the kernel reports it
	Endpoint   string    `json:"endpoint"`
	Variant    string    `json:"variant"`
	Deployment string    `json:"deployment"`
	Addr       string    `json:"addr"`
	Started    time.Time `json:"started"`
	GPUs       []string  `json:"gpus,omitempty"` // UUIDs
}

// Start returns an instance at once, as the runtime contract says; the
// launch (model data, the process) happens in the instance's goroutine, and
// a launch that fails ends the instance with an error wrapping
// runtime.ErrLaunch. Only an Image that can never run fails Start itself.
func (r *Runtime) Start(ctx context.Context, spec runtime.Spec) (runtime.Instance, error) {
	argv, err := splitCommand(spec.Image)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", spec.Image, err)
	}
	if len(argv) == 0 {
		return nil, fmt.Errorf("image is empty: give a command line such as \"ebb example-model\"")
	}
	if argv[0] == "ebb" {
		argv[0] = r.opts.Self
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	in := r.newInstance(spec.ID, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), filepath.Join(r.opts.Dir, "instances", spec.ID), 0, nil, nil)
	r.followLog(spec.ID, spec.Endpoint, spec.Variant, in.done)
	go in.launch(spec, argv, port)
	return in, nil
}

// launch prepares and starts the instance's process, then waits for it.
func (in *instance) launch(spec runtime.Spec, argv []string, port int) {
	devs, err := in.r.takeGPUs(spec)
	in.mu.Lock()
	in.gpus = devs
	in.mu.Unlock()
	var cmd *exec.Cmd
	if err == nil {
		cmd, err = in.r.command(spec, argv, port, in.workDir, devs)
	}
	in.mu.Lock()
	if err == nil && in.stopping {
		cmd.Process.Kill() // stopped while launching
	}
	if err == nil {
		in.pid, in.exit = cmd.Process.Pid, cmd.Wait
		in.proc, _ = process.NewProcess(int32(cmd.Process.Pid)) // nil: record refuses the launch
	}
	in.mu.Unlock()
	if err != nil {
		// Paths relative to the data directory: its location is not the API
		// caller's business (the error ends up in a FailureReason).
		if dir, aerr := filepath.Abs(in.r.opts.Dir); aerr == nil {
			err = errors.New(strings.ReplaceAll(err.Error(), dir+string(os.PathSeparator), ""))
		}
		in.mu.Lock()
		in.err = fmt.Errorf("%w: %v", runtime.ErrLaunch, err)
		in.mu.Unlock()
		in.releaseGPUs()
		os.RemoveAll(in.workDir)
		close(in.exited)
		in.r.opts.Logger.Warn("instance could not be launched", "instance", in.id, "err", err)
		close(in.done)
		return
	}
	rec := record{PID: in.pid, Endpoint: spec.Endpoint, Variant: spec.Variant, Deployment: spec.Deployment, Addr: in.addr, Started: time.Now()}
	for _, d := range devs {
		rec.GPUs = append(rec.GPUs, d.UUID)
	}
	if err := in.record(rec); err != nil {
		// A server restarted after a crash could neither adopt nor stop
		// an instance it has no record of: it does not run.
		in.mu.Lock()
		in.err = fmt.Errorf("%w: recording the instance for a restarted server: %v", runtime.ErrLaunch, err)
		in.mu.Unlock()
		syscall.Kill(-in.pid, syscall.SIGKILL)
		in.wait()
		return
	}
	in.r.opts.Logger.Info("instance started", "instance", in.id, "endpoint", spec.Endpoint, "variant", spec.Variant, "pid", in.pid, "addr", in.addr)
	go in.monitor()
	in.wait()
}

// record writes what a restarted server adopts the instance by
// (instance.json, atomically): its labels, address, GPUs, and its pid with
// the process's start time, so that a pid the system has since given to
// another process is never taken for it.
func (in *instance) record(rec record) error {
	if in.proc == nil {
		return errors.New("the process is not in /proc")
	}
	ct, err := in.proc.CreateTime()
	if err != nil {
		return fmt.Errorf("reading the process's start time: %w", err)
	}
	rec.CreateTime = ct
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	tmp := filepath.Join(in.workDir, ".instance.json")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(in.workDir, "instance.json"))
}

// command prepares an instance's working directory and model data and
// starts its process.
func (r *Runtime) command(spec runtime.Spec, argv []string, port int, workDir string, gpus []gpu.Device) (*exec.Cmd, error) {
	logDir := filepath.Join(r.opts.Dir, "logs")
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	modelDir, err := r.prepareModel(spec.ModelDataURL, filepath.Join(workDir, "model"))
	if err != nil {
		return nil, err
	}
	if u := r.opts.User; u != nil {
		if err := chownAll(workDir, u); err != nil {
			return nil, fmt.Errorf("giving the working directory to user %s: %w", u.Name, err)
		}
	}
	logFile, err := os.OpenFile(r.logPath(spec.ID), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child holds its own descriptor
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = workDir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if u := r.opts.User; u != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: []uint32{}}
	}
	// "ebb" inside a command line (sh -c '... exec ebb example-model') is this
	// binary too.
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(r.opts.Self)+string(os.PathListSeparator)+os.Getenv("PATH"))
	if u := r.opts.User; u != nil {
		cmd.Env = append(cmd.Env, "HOME="+workDir, "USER="+u.Name, "LOGNAME="+u.Name)
	}
	for k, v := range spec.Environment {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env,
		"SAGEMAKER_BIND_TO_PORT="+strconv.Itoa(port),
		"PORT="+strconv.Itoa(port),
		"SM_MODEL_DIR="+modelDir,
		"EBB_INSTANCE_ID="+spec.ID,
		"EBB_ENDPOINT_NAME="+spec.Endpoint,
		"EBB_VARIANT_NAME="+spec.Variant,
		"EBB_INSTANCE_VCPUS="+strconv.Itoa(spec.InstanceType.VCPUs),
	)
	if len(gpus) > 0 {
		cmd.Env = append(cmd.Env, "CUDA_VISIBLE_DEVICES="+gpu.VisibleDevices(gpus), "NVIDIA_VISIBLE_DEVICES="+gpu.VisibleDevices(gpus))
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %q: %w", spec.Image, err)
	}
	return cmd, nil
}

// logPath is where an instance's output goes.
func (r *Runtime) logPath(id string) string {
	return filepath.Join(r.opts.Dir, "logs", id+".log")
}

// followLog has Options.Logs follow an instance's output until done.
func (r *Runtime) followLog(id, endpoint, variant string, done <-chan struct{}) {
	if r.opts.Logs == nil {
		return
	}
	if err := r.opts.Logs.Follow(r.logPath(id), logs.EndpointGroup(endpoint), logs.InstanceStream(variant, id), done); err != nil {
		r.opts.Logger.Warn("instance output will not reach its log stream", "instance", id, "err", err)
	}
}

func (r *Runtime) newInstance(id, addr, workDir string, pid int, proc *process.Process, exit func() error) *instance {
	return &instance{r: r, id: id, addr: addr, workDir: workDir, pid: pid, proc: proc, exit: exit,
		ready: make(chan struct{}), done: make(chan struct{}), exited: make(chan struct{})}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type instance struct {
	r       *Runtime
	id      string
	addr    string
	workDir string
	// pid (also its process group) and proc are set once the process has
	// started (under mu: Stop and Stats may run while it launches).
	pid  int
	proc *process.Process
	// exit blocks until the process has ended: exec.Cmd.Wait for a process
	// this server started, a pidfd for one it adopted.
	exit func() error

	ready  chan struct{}
	done   chan struct{}
	exited chan struct{}

	mu       sync.Mutex
	err      error
	stopping bool
	gpus     []gpu.Device // assigned exclusively until the instance ends
}

func (in *instance) ID() string             { return in.id }
func (in *instance) Addr() string           { return in.addr }
func (in *instance) Ready() <-chan struct{} { return in.ready }
func (in *instance) Done() <-chan struct{}  { return in.done }

func (in *instance) isReady() bool {
	select {
	case <-in.ready:
		return true
	default:
		return false
	}
}

func (in *instance) Err() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.err
}

// wait reaps the process and reports how it ended.
func (in *instance) wait() {
	waitErr := in.exit()
	in.mu.Lock()
	if in.err == nil && !in.stopping {
		if waitErr == nil {
			waitErr = errors.New("exited with status 0")
		}
		in.err = fmt.Errorf("instance process ended unexpectedly: %v", waitErr)
	}
	err := in.err
	in.mu.Unlock()
	// Anything the model server left behind in its group goes with it.
	syscall.Kill(-in.pid, syscall.SIGKILL)
	close(in.exited)
	in.releaseGPUs()
	os.RemoveAll(in.workDir)
	if err != nil {
		in.r.opts.Logger.Warn("instance ended", "instance", in.id, "err", err)
	} else {
		in.r.opts.Logger.Info("instance stopped", "instance", in.id)
	}
	close(in.done)
}

// takeGPUs assigns a GPU instance type its GPUs. Where the machine has
// none, it runs without (logged once); where too few are free, the launch
// fails saying so.
func (r *Runtime) takeGPUs(spec runtime.Spec) ([]gpu.Device, error) {
	n := spec.InstanceType.GPUs
	if n == 0 {
		return nil, nil
	}
	if r.opts.GPUs == nil || r.opts.GPUs.Total() == 0 {
		r.noGPUs.Do(func() {
			r.opts.Logger.Warn("this machine has no GPU (or no NVIDIA driver): GPU instance types run without one and publish no GPU metrics", "instance_type", spec.InstanceType.Name)
		})
		return nil, nil
	}
	devs, err := r.opts.GPUs.Take(n)
	if err != nil {
		return nil, fmt.Errorf("instance type %s: %w", spec.InstanceType.Name, err)
	}
	return devs, nil
}

// releaseGPUs gives the instance's GPUs back.
func (in *instance) releaseGPUs() {
	in.mu.Lock()
	devs := in.gpus
	in.gpus = nil
	in.mu.Unlock()
	if len(devs) > 0 {
		in.r.opts.GPUs.Release(devs)
	}
}

// monitor runs the health contract (runtime.Health): ready at the first
// good ping within the start limit, then a ping every PingInterval until
// the process ends.
func (in *instance) monitor() {
	o := in.r.opts
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-in.exited:
			cancel()
		case <-ctx.Done():
		}
	}()
	h := runtime.Health{PingInterval: o.PingInterval, UnhealthyThreshold: o.UnhealthyThreshold}
	if !in.isReady() {
		start, stop := context.WithTimeout(ctx, o.StartLimit)
		ready := h.WaitReady(start, in.ping)
		stop()
		if !ready {
			if ctx.Err() == nil {
				in.fail(fmt.Errorf("instance did not pass the ping health check within %v", o.StartLimit))
			}
			return
		}
		close(in.ready)
	}
	if err := h.Watch(ctx, in.ping, nil); err != nil {
		in.fail(fmt.Errorf("instance failed %d consecutive ping health checks", o.UnhealthyThreshold))
	}
}

func (in *instance) ping() bool { return in.r.ping.Ping(in.addr) }

// fail ends an instance that broke the contract.
func (in *instance) fail(err error) {
	in.mu.Lock()
	if in.err == nil && !in.stopping {
		in.err = err
	}
	in.mu.Unlock()
	in.terminate()
}

// Stop ends the instance gracefully.
func (in *instance) Stop(ctx context.Context) error {
	in.mu.Lock()
	in.stopping = true
	in.mu.Unlock()
	go in.terminate()
	select {
	case <-in.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// terminate sends SIGTERM to the process group and SIGKILL after the grace period.
func (in *instance) terminate() {
	in.mu.Lock()
	pgid := in.pid
	in.mu.Unlock()
	if pgid == 0 {
		return // still launching: launch kills the process it starts
	}
	syscall.Kill(-pgid, syscall.SIGTERM)
	t := time.NewTimer(in.r.opts.StopGrace)
	defer t.Stop()
	select {
	case <-in.exited:
	case <-t.C:
		in.r.opts.Logger.Warn("instance ignored SIGTERM; killing it", "instance", in.id, "grace", in.r.opts.StopGrace)
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
}

// Stats sums CPU time and resident memory over the instance's process tree.
func (in *instance) Stats() (runtime.Stats, error) {
	select {
	case <-in.exited:
		return runtime.Stats{}, errors.New("instance has ended")
	default:
	}
	in.mu.Lock()
	proc := in.proc
	in.mu.Unlock()
	if proc == nil {
		return runtime.Stats{}, errors.New("instance process not found")
	}
	var s runtime.Stats
	var walk func(p *process.Process, depth int)
	walk = func(p *process.Process, depth int) {
		if t, err := p.Times(); err == nil {
			s.CPUTime += time.Duration((t.User + t.System) * float64(time.Second))
		}
		if m, err := p.MemoryInfo(); err == nil {
			s.MemoryBytes += m.RSS
		}
		if depth > 8 {
			return
		}
		children, _ := p.Children()
		for _, c := range children {
			walk(c, depth+1)
		}
	}
	walk(proc, 0)
	s.DiskBytes = dirSize(in.workDir)
	if u, err := disk.Usage(in.workDir); err == nil {
		s.DiskPercent = u.UsedPercent
	}
	in.mu.Lock()
	devs := in.gpus
	in.mu.Unlock()
	if len(devs) > 0 {
		if u, err := in.r.opts.GPUs.Usage(devs); err == nil {
			s.GPU = &runtime.GPUUsage{Utilization: u.Utilization, MemoryUtilization: u.MemoryUtilization}
		}
	}
	s.At = time.Now()
	return s, nil
}

func dirSize(dir string) uint64 {
	var n uint64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += uint64(info.Size())
			}
		}
		return nil
	})
	return n
}

// killGroup sends SIGTERM to a process group and SIGKILL once grace has passed.
func killGroup(ctx context.Context, p *process.Process, pgid int, grace time.Duration) {
	syscall.Kill(-pgid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if ok, _ := p.IsRunning(); !ok {
			break
		}
		time.Sleep(20 * time.Millisecond) // polling a foreign process; no event to wait on
	}
	syscall.Kill(-pgid, syscall.SIGKILL)
}

// Interface guards.
var (
	_ runtime.Runtime  = (*Runtime)(nil)
	_ runtime.Instance = (*instance)(nil)
)
