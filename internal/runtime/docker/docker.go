package docker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"
	"github.com/shirou/gopsutil/v4/disk"

	"github.com/ebbscale/ebb/internal/gpu"
	"github.com/ebbscale/ebb/internal/logs"
	"github.com/ebbscale/ebb/internal/modeldata"
	"github.com/ebbscale/ebb/internal/runtime"
)

// The container contract, and ebb's labels on its containers.
const (
	ModelPort = 8080
	ModelDir  = "/opt/ml/model"
	// ArtifactsDir is where a multi-model container finds the artifacts
	// it is asked to load, as on SageMaker.
	ArtifactsDir = "/opt/ml/models"

	labelServer     = "ebb.io/server" // which ebb server: a hash of its data directory
	labelInstance   = "ebb.io/instance-id"
	labelEndpoint   = "ebb.io/endpoint-name"
	labelVariant    = "ebb.io/variant-name"
	labelDeployment = "ebb.io/deployment-id"
	labelStarted    = "ebb.io/started"
	labelGPUs       = "ebb.io/gpus" // the UUIDs of the GPUs it was given
	labelPort       = "ebb.io/port" // the container's port serving the contract
)

// Defaults of the runtime.
const (
	DefaultStopGrace   = 30 * time.Second
	DefaultPingTimeout = 2 * time.Second
)

// Options configure the runtime. Zero durations take the defaults.
type Options struct {
	Client *client.Client
	// Dir holds the instances' model data (instances/ID) and what their
	// containers write (logs/ID.log).
	Dir string
	// Server tells this server's containers from another's on the daemon.
	Server             string
	StartLimit         time.Duration
	StopGrace          time.Duration
	PingInterval       time.Duration
	PingTimeout        time.Duration
	UnhealthyThreshold int
	// ModelData fetches s3:// and http(s):// model data.
	ModelData modeldata.Options
	// ModelDataRoots are the directories a local ModelDataUrl must be
	// under (it is mounted into the container); none allows any path.
	ModelDataRoots []string
	// GPUs hands the machine's GPUs to GPU instance types exclusively; nil
	// or empty: GPU types run without.
	GPUs *gpu.Allocator
	// Logs, when set, follows what each container writes into its
	// CloudWatch Logs stream.
	Logs   runtime.LogFollower
	Logger *slog.Logger
}

// Runtime runs instances as Docker containers. Create it with New.
type Runtime struct {
	o      Options
	c      *client.Client
	health runtime.Health
	ping   runtime.Pinger
	log    *slog.Logger
	// artifacts is the host directory of the multi-model artifacts,
	// mounted at ArtifactsDir; set by Artifacts before instances start.
	artifacts string
}

// ServerLabel is the label value that tells the containers of the server
// with data directory dir.
func ServerLabel(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	sum := sha256.Sum256([]byte(dir))
	return hex.EncodeToString(sum[:8])
}

// New returns the runtime; it starts nothing.
func New(o Options) *Runtime {
	if o.StartLimit == 0 {
		o.StartLimit = runtime.DefaultStartLimit
	}
	if o.StopGrace == 0 {
		o.StopGrace = DefaultStopGrace
	}
	if o.PingInterval == 0 {
		o.PingInterval = runtime.DefaultPingInterval
	}
	if o.PingTimeout == 0 {
		o.PingTimeout = DefaultPingTimeout
	}
	if o.UnhealthyThreshold == 0 {
		o.UnhealthyThreshold = runtime.DefaultUnhealthyThreshold
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Runtime{o: o, c: o.Client, log: o.Logger,
		health: runtime.Health{PingInterval: o.PingInterval, UnhealthyThreshold: o.UnhealthyThreshold},
		ping:   runtime.NewPinger(o.PingTimeout)}
}

// instance is one container.
type instance struct {
	r   *Runtime
	id  string
	dir string // its model data on the host

	mu        sync.Mutex
	container string
	addr      string
	stopping  bool
	ended     bool
	err       error
	gpus      []gpu.Device

	ready, done chan struct{}
	readyOnce   sync.Once
}

func (r *Runtime) newInstance(id string) *instance {
	return &instance{r: r, id: id, dir: filepath.Join(r.o.Dir, "instances", id), ready: make(chan struct{}), done: make(chan struct{})}
}

// Start launches a container for spec and returns at once; it becomes
// ready, or ends, later.
func (r *Runtime) Start(ctx context.Context, spec runtime.Spec) (runtime.Instance, error) {
	if spec.Image == "" {
		return nil, errors.New("image is empty: give a container image")
	}
	in := r.newInstance(spec.ID)
	go in.run(spec)
	return in, nil
}

// run launches the container and runs the health contract until it ends.
func (in *instance) run(spec runtime.Spec) {
	r := in.r
	lctx, cancel := in.lifetime()
	defer cancel()
	start, stopStart := context.WithTimeout(lctx, r.o.StartLimit)
	defer stopStart()
	if err := in.launch(start, spec); err != nil {
		if lctx.Err() == nil {
			in.end(fmt.Errorf("%w: %v", runtime.ErrLaunch, err))
		}
		return
	}
	addr := in.Addr()
	if !r.health.WaitReady(start, func() bool { return in.pingOK(addr) }) {
		if lctx.Err() == nil {
			in.end(fmt.Errorf("container %s did not answer GET /ping with 200 within the start limit (%v)", in.containerName(), r.o.StartLimit))
		}
		return
	}
	stopStart()
	in.readyOnce.Do(func() { close(in.ready) })
	in.watch(lctx, addr)
}

// watch runs the contract's pings until ctx ends; failing them ends the
// instance.
func (in *instance) watch(ctx context.Context, addr string) {
	if err := in.r.health.Watch(ctx, func() bool { return in.pingOK(addr) }, in.isStopping); err != nil {
		in.end(fmt.Errorf("failed %d health checks in a row (GET /ping on %s)", in.r.o.UnhealthyThreshold, addr))
	}
}

// lifetime is a context that ends with the instance.
func (in *instance) lifetime() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-in.done:
		case <-ctx.Done():
		}
		cancel()
	}()
	return ctx, cancel
}

// launch prepares the model data, pulls the image if needed, creates and
// starts the container and learns its published port.
func (in *instance) launch(ctx context.Context, spec runtime.Spec) error {
	r := in.r
	model, err := r.prepareModel(ctx, spec.ModelDataURL, filepath.Join(in.dir, "model"))
	if err != nil {
		return err
	}
	if err := r.pull(ctx, spec.Image); err != nil {
		return err
	}
	if spec.MultiModelPrefix != "" {
		labels, _, err := r.ImageLabels(ctx, spec.Image)
		if err != nil {
			return err
		}
		if err := runtime.CheckMultiModel(spec.Image, labels); err != nil {
			return err
		}
	}
	cfg, host, err := in.containerConfig(spec, model)
	if err != nil {
		return err
	}
	created, err := r.c.ContainerCreate(ctx, cfg, host, nil, nil, "ebb-"+spec.ID)
	if err != nil {
		return fmt.Errorf("creating the container: %w", err)
	}
	in.mu.Lock()
	in.container = created.ID
	stopping := in.stopping
	in.mu.Unlock()
	if stopping {
		// Stop came before the container existed: it goes now.
		r.c.ContainerRemove(context.Background(), created.ID, container.RemoveOptions{Force: true})
		return errors.New("stopped while launching")
	}
	if err := r.c.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		return fmt.Errorf("starting the container: %w", err)
	}
	addr, err := r.publishedAddr(ctx, created.ID, modelPort(spec.Environment))
	if err != nil {
		return err
	}
	in.mu.Lock()
	in.addr = addr
	in.mu.Unlock()
	r.log.Info("instance started", "instance", spec.ID, "endpoint", spec.Endpoint, "variant", spec.Variant, "image", spec.Image, "container", created.ID[:12], "addr", addr)
	r.follow(spec.ID, created.ID, spec.Endpoint, spec.Variant, in.done)
	go in.waitExit(created.ID)
	return nil
}

// containerConfig is the container of spec: SageMaker's contract, ebb's
// labels, the instance type's limits.
func (in *instance) containerConfig(spec runtime.Spec, model string) (*container.Config, *container.HostConfig, error) {
	r := in.r
	env := make([]string, 0, len(spec.Environment)+1)
	for k, v := range spec.Environment {
		env = append(env, k+"="+v)
	}
	if _, set := spec.Environment["SM_MODEL_DIR"]; !set {
		env = append(env, "SM_MODEL_DIR="+ModelDir) // as the other runtimes tell the model
	}
	port := modelPort(spec.Environment)
	cfg := &container.Config{
		Image: spec.Image, Cmd: []string{"serve"}, Env: env, Hostname: spec.Hostname,
		ExposedPorts: nat.PortSet{port: struct{}{}},
		Labels: map[string]string{labelServer: r.o.Server, labelInstance: spec.ID, labelEndpoint: spec.Endpoint, labelPort: string(port),
			labelVariant: spec.Variant, labelDeployment: spec.Deployment, labelStarted: time.Now().UTC().Format(time.RFC3339Nano)},
	}
	host := &container.HostConfig{
		PortBindings: nat.PortMap{port: []nat.PortBinding{{HostIP: "127.0.0.1"}}},
		Binds:        []string{model + ":" + ModelDir + ":ro"},
	}
	if spec.MultiModelPrefix != "" {
		if r.artifacts == "" {
			return nil, nil, errors.New("a multi-model instance, but this server prepares no artifacts")
		}
		host.Binds = append(host.Binds, r.artifacts+":"+ArtifactsDir+":ro")
	}
	if t := spec.InstanceType; t.VCPUs > 0 {
		host.NanoCPUs = int64(t.VCPUs) * 1e9
		if spec.Cores > 0 {
			host.NanoCPUs = int64(spec.Cores * 1e9)
		}
		host.Memory = int64(t.MemoryMiB) << 20
	}
	if n := spec.InstanceType.GPUs; n > 0 && r.o.GPUs != nil && r.o.GPUs.Total() > 0 {
		devs, err := r.o.GPUs.Take(n)
		if err != nil {
			return nil, nil, fmt.Errorf("instance type %s: %w", spec.InstanceType.Name, err)
		}
		in.mu.Lock()
		in.gpus = devs
		in.mu.Unlock()
		var ids []string
		for _, d := range devs {
			ids = append(ids, d.UUID)
		}
		host.DeviceRequests = []container.DeviceRequest{{Driver: "nvidia", DeviceIDs: ids, Capabilities: [][]string{{"gpu"}}}}
		cfg.Labels[labelGPUs] = strings.Join(ids, ",") // a restarted server holds them again
	}
	return cfg, host, nil
}

// pull fetches an image the daemon lacks, logging its progress; the
// registry's error is the launch's.
func (r *Runtime) pull(ctx context.Context, ref string) error {
	if _, err := r.c.ImageInspect(ctx, ref); err == nil {
		return nil
	} else if !client.IsErrNotFound(err) {
		return fmt.Errorf("image %s: %w", ref, err)
	}
	r.log.Info("pulling an image", "image", ref)
	auth, err := registryAuth(ctx, os.Getenv("DOCKER_CONFIG"), ref)
	if err != nil {
		return fmt.Errorf("pulling image %s: %w", ref, err)
	}
	body, err := r.c.ImagePull(ctx, ref, image.PullOptions{RegistryAuth: auth})
	if err != nil {
		return fmt.Errorf("pulling image %s: %w", ref, err)
	}
	defer body.Close()
	dec := json.NewDecoder(body)
	last := time.Time{}
	for {
		var msg struct {
			Status, Progress, ID string
			ErrorDetail          *struct{ Message string } `json:"errorDetail"`
		}
		if err := dec.Decode(&msg); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("pulling image %s: %w", ref, err)
		}
		if msg.ErrorDetail != nil {
			return fmt.Errorf("pulling image %s: %s", ref, msg.ErrorDetail.Message)
		}
		if time.Since(last) > 2*time.Second {
			last = time.Now()
			r.log.Info("pulling an image", "image", ref, "layer", msg.ID, "status", msg.Status, "progress", msg.Progress)
		}
	}
	r.log.Info("image pulled", "image", ref)
	return nil
}

// modelPort is the port the container serves on: SAGEMAKER_BIND_TO_PORT
// where the model's Environment sets it (as SageMaker tells the containers
// of a pipeline), else 8080.
func modelPort(env map[string]string) nat.Port {
	n := ModelPort
	if p, err := strconv.Atoi(env["SAGEMAKER_BIND_TO_PORT"]); err == nil && p > 0 && p < 65536 {
		n = p
	}
	return nat.Port(strconv.Itoa(n) + "/tcp")
}

// publishedAddr is where 127.0.0.1 reaches the container's port.
func (r *Runtime) publishedAddr(ctx context.Context, id string, port nat.Port) (string, error) {
	info, err := r.c.ContainerInspect(ctx, id)
	if err != nil {
		return "", err
	}
	if info.NetworkSettings != nil {
		for _, b := range info.NetworkSettings.Ports[port] {
			if b.HostPort != "" {
				return net.JoinHostPort("127.0.0.1", b.HostPort), nil
			}
		}
	}
	return "", fmt.Errorf("the container's port %s is not published (it exited at once?)", port)
}

// ImageLabels returns the labels of an image the daemon holds
// (runtime.ImageInspector).
func (r *Runtime) ImageLabels(ctx context.Context, ref string) (map[string]string, bool, error) {
	info, err := r.c.ImageInspect(ctx, ref)
	if client.IsErrNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("image %s: %w", ref, err)
	}
	if info.Config == nil {
		return nil, true, nil
	}
	return info.Config.Labels, true, nil
}

// Runs says the Docker runtime runs every way of hosting: the containers
// of a model of several, multi-model containers and inference-component
// copies are each a container.
func (r *Runtime) Runs(runtime.Feature) bool { return true }

// Artifacts returns the cache of multi-model artifacts, kept in dir and
// mounted read-only at /opt/ml/models in multi-model containers, which
// find each under it as SageMaker's do (runtime.ArtifactPreparer). An
// artifact is extracted, or a directory copied, into the cache: the
// container sees nothing else of the host.
func (r *Runtime) Artifacts(dir string) runtime.Artifacts {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	os.MkdirAll(dir, 0o755) // mounted before any artifact is prepared
	r.artifacts = dir
	return &artifacts{&modeldata.Cache{Dir: dir, Fill: r.fillArtifact}}
}

// fillArtifact puts the artifact at url into dest, in the cache.
func (r *Runtime) fillArtifact(ctx context.Context, url, dest string) (string, error) {
	dir, err := r.prepareModel(ctx, url, dest)
	if err != nil || dir == dest {
		return dest, err
	}
	if err := os.RemoveAll(dest); err != nil {
		return "", err
	}
	return dest, os.CopyFS(dest, os.DirFS(dir))
}

// artifacts gives the cache's directories as containers see them.
type artifacts struct{ c *modeldata.Cache }

func (a *artifacts) Prepare(ctx context.Context, _, url string) (string, time.Duration, error) {
	dir, took, err := a.c.Prepare(ctx, url)
	if err != nil {
		return "", took, err
	}
	return path.Join(ArtifactsDir, filepath.Base(dir)), took, nil
}

// prepareModel puts the model data where the container mounts it: a
// local directory as it is, a local or fetched .tar.gz extracted, any
// other fetched object as one file.
func (r *Runtime) prepareModel(ctx context.Context, dataURL, dest string) (string, error) {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return "", err
	}
	if dataURL == "" {
		return dest, nil
	}
	if strings.HasPrefix(dataURL, "s3://") || strings.HasPrefix(dataURL, "http://") || strings.HasPrefix(dataURL, "https://") {
		return dest, modeldata.Fetch(ctx, dataURL, dest, r.o.ModelData)
	}
	path, _, err := modeldata.LocalPath(dataURL)
	if err != nil {
		return "", err
	}
	if err := modeldata.Within(path, r.o.ModelDataRoots); err != nil {
		return "", fmt.Errorf("ModelDataUrl %q: %w", dataURL, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("ModelDataUrl %q: no such file or directory (or not readable)", dataURL)
	}
	if info.IsDir() {
		abs, err := filepath.Abs(path)
		return abs, err
	}
	max := r.o.ModelData.MaxBytes
	if max == 0 {
		max = modeldata.DefaultMaxBytes
	}
	if err := modeldata.ExtractFile(path, dest, modeldata.Limit(info.Size(), max)); err != nil {
		return "", fmt.Errorf("ModelDataUrl %q: %w", dataURL, err)
	}
	return dest, nil
}

// follow copies what the container writes into logs/ID.log, which the
// log store follows into the instance's stream; a restarted server resumes
// the copy where it ended (runtime.ContainerLog).
func (r *Runtime) follow(id, containerID, endpoint, variant string, done <-chan struct{}) {
	if r.o.Logs == nil {
		return
	}
	l := runtime.ContainerLog{Path: filepath.Join(r.o.Dir, "logs", id+".log")}
	if err := os.MkdirAll(filepath.Dir(l.Path), 0o755); err != nil {
		r.log.Warn("instance output will not reach its log stream", "instance", id, "err", err)
		return
	}
	since := l.Since()
	opts := container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: true, Timestamps: true}
	if !since.IsZero() {
		opts.Since = strconv.FormatInt(since.Unix(), 10) // whole seconds: the copy drops what it has
	}
	go func() {
		rc, err := r.c.ContainerLogs(context.Background(), containerID, opts)
		if err != nil {
			r.log.Warn("instance output will not reach its log stream", "instance", id, "err", err)
			return
		}
		defer rc.Close()
		// Docker frames stdout and stderr; each frame holds whole lines.
		pr, pw := io.Pipe()
		go func() {
			_, err := stdcopy.StdCopy(pw, pw, rc)
			pw.CloseWithError(err)
		}()
		if err := l.Copy(pr, since); err != nil {
			r.log.Warn("instance output will not reach its log stream", "instance", id, "err", err)
		}
		<-done
		l.Remove()
	}()
	if err := r.o.Logs.Follow(l.Path, logs.EndpointGroup(endpoint), logs.InstanceStream(variant, id), done); err != nil {
		r.log.Warn("instance output will not reach its log stream", "instance", id, "err", err)
	}
}

// waitExit ends the instance when its container stops running.
func (in *instance) waitExit(id string) {
	waitC, errC := in.r.c.ContainerWait(context.Background(), id, container.WaitConditionNotRunning)
	var why error
	select {
	case res := <-waitC:
		why = fmt.Errorf("its container exited with status %d", res.StatusCode)
		if res.Error != nil {
			why = fmt.Errorf("its container ended: %s", res.Error.Message)
		}
	case err := <-errC:
		why = fmt.Errorf("its container ended: %v", err)
	}
	in.end(why)
}

func (in *instance) ID() string             { return in.id }
func (in *instance) Ready() <-chan struct{} { return in.ready }
func (in *instance) Done() <-chan struct{}  { return in.done }

func (in *instance) Addr() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.addr
}

func (in *instance) Err() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.err
}

func (in *instance) isStopping() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.stopping
}

func (in *instance) containerName() string { return "ebb-" + in.id }

func (in *instance) pingOK(addr string) bool { return in.r.ping.Ping(addr) }

// end records why the instance ended (nil after Stop), says so, then
// removes its container and what it held on the host, once.
func (in *instance) end(why error) {
	in.mu.Lock()
	if in.ended {
		in.mu.Unlock()
		return
	}
	in.ended = true
	if !in.stopping {
		in.err = why
	}
	id, devs, stopping := in.container, in.gpus, in.stopping
	in.gpus = nil
	in.mu.Unlock()
	// Hosting learns at once (it stops routing here); the container and
	// what it held go after.
	close(in.done)
	if why != nil && !stopping {
		in.r.log.Warn("instance ended", "instance", in.id, "err", why)
	}
	if id != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := in.r.c.ContainerRemove(ctx, id, container.RemoveOptions{Force: true}); err != nil && !client.IsErrNotFound(err) {
			in.r.log.Warn("removing an instance's container", "instance", in.id, "err", err)
		}
		cancel()
	}
	if len(devs) > 0 {
		in.r.o.GPUs.Release(devs)
	}
	os.RemoveAll(in.dir)
}

// Stop stops the container (SIGTERM, then SIGKILL after the grace period)
// and waits until it has ended.
func (in *instance) Stop(ctx context.Context) error {
	in.mu.Lock()
	if in.ended {
		in.mu.Unlock()
		return nil
	}
	in.stopping = true
	id := in.container
	in.mu.Unlock()
	if id == "" {
		in.end(nil) // not created yet: launch sees stopping
	} else {
		grace := int(in.r.o.StopGrace / time.Second)
		if err := in.r.c.ContainerStop(ctx, id, container.StopOptions{Timeout: &grace}); err != nil && !client.IsErrNotFound(err) {
			in.r.log.Warn("stopping an instance's container", "instance", in.id, "err", err)
		}
		in.end(nil)
	}
	select {
	case <-in.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats reads the container's CPU time and memory from the stats API, and
// how full the volume holding its model data is.
func (in *instance) Stats() (runtime.Stats, error) {
	in.mu.Lock()
	id := in.container
	in.mu.Unlock()
	if id == "" {
		return runtime.Stats{}, errors.New("the instance has no container yet")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := in.r.c.ContainerStatsOneShot(ctx, id)
	if err != nil {
		return runtime.Stats{}, err
	}
	defer resp.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return runtime.Stats{}, err
	}
	st := runtime.Stats{CPUTime: time.Duration(s.CPUStats.CPUUsage.TotalUsage), At: time.Now()}
	mem := s.MemoryStats.Usage
	if cache, ok := s.MemoryStats.Stats["cache"]; ok && cache < mem {
		mem -= cache // as docker stats shows it
	}
	st.MemoryBytes = mem
	if u, err := disk.Usage(in.r.o.Dir); err == nil {
		st.DiskPercent = u.UsedPercent
	} else {
		st.NoDisk = true
	}
	in.mu.Lock()
	devs := in.gpus
	in.mu.Unlock()
	if len(devs) > 0 {
		if u, err := in.r.o.GPUs.Usage(devs); err == nil {
			st.GPU = &runtime.GPUUsage{Utilization: u.Utilization, MemoryUtilization: u.MemoryUtilization}
		}
	}
	return st, nil
}

// Adopt takes over the running containers of this server (its label) that
// answer /ping; the others are removed.
func (r *Runtime) Adopt(ctx context.Context) ([]runtime.Adopted, error) {
	list, err := r.c.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", labelServer+"="+r.o.Server))})
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	return runtime.AdoptEach(list, func(c container.Summary) (runtime.Adopted, bool) { return r.adopt(ctx, c) }), nil
}

func (r *Runtime) adopt(ctx context.Context, c container.Summary) (runtime.Adopted, bool) {
	l := c.Labels
	id := l[labelInstance]
	remove := func(why string) (runtime.Adopted, bool) {
		r.log.Info("removing a container left behind", "container", c.ID[:12], "instance", id, "why", why)
		if err := r.c.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil && !client.IsErrNotFound(err) {
			r.log.Warn("removing a container left behind", "container", c.ID[:12], "err", err)
		}
		if id != "" {
			os.RemoveAll(filepath.Join(r.o.Dir, "instances", id))
		}
		return runtime.Adopted{}, false
	}
	if id == "" || l[labelDeployment] == "" || c.State != "running" {
		return remove("not running, or not an instance")
	}
	port := nat.Port(l[labelPort])
	if port == "" {
		port = modelPort(nil)
	}
	addr, err := r.publishedAddr(ctx, c.ID, port)
	if err != nil {
		return remove(err.Error())
	}
	in := r.newInstance(id)
	in.container, in.addr = c.ID, addr
	if !in.pingOK(addr) {
		return remove("it fails its health check")
	}
	if ids := l[labelGPUs]; ids != "" && r.o.GPUs != nil {
		in.gpus = r.o.GPUs.Reserve(strings.Split(ids, ","))
	}
	in.readyOnce.Do(func() { close(in.ready) })
	r.follow(id, c.ID, l[labelEndpoint], l[labelVariant], in.done)
	go in.waitExit(c.ID)
	go func() {
		lctx, cancel := in.lifetime()
		defer cancel()
		in.watch(lctx, addr)
	}()
	started, _ := time.Parse(time.RFC3339Nano, l[labelStarted])
	r.log.Info("adopted a container left running", "instance", id, "endpoint", l[labelEndpoint], "variant", l[labelVariant], "addr", addr)
	return runtime.Adopted{Instance: in, Endpoint: l[labelEndpoint], Variant: l[labelVariant], Deployment: l[labelDeployment], Started: started}, true
}

// Interface guards.
var (
	_ runtime.Runtime          = (*Runtime)(nil)
	_ runtime.Adopter          = (*Runtime)(nil)
	_ runtime.Featured         = (*Runtime)(nil)
	_ runtime.ArtifactPreparer = (*Runtime)(nil)
	_ runtime.ImageInspector   = (*Runtime)(nil)
	_ runtime.Instance         = (*instance)(nil)
)
