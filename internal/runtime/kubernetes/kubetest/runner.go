package kubetest

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/modeldata"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// Runner stands in for the kubelets' container runtime in one namespace.
type Runner struct {
	// Images maps an image to the command that stands in for it; the
	// container's args follow it.
	Images map[string][]string
	// Env is added to every container's environment.
	Env map[string]string
	// Fetch configures the model-data init containers.
	Fetch modeldata.Options

	c     *Cluster
	ns    string
	t     testing.TB
	mu    sync.Mutex
	procs map[types.UID]*proc
	done  map[types.UID]bool // pods whose container ran and ended
	stop  chan struct{}
}

type proc struct {
	pod      string
	cmd      *exec.Cmd   // the first container's process, whose group the others join
	all      []container // every container, once all started
	stopping bool
	exited   chan struct{}
}

// container is a pod's container as a process.
type container struct {
	name string
	cmd  *exec.Cmd
}

// Run starts a runner for namespace ns; it stops with the test.
func (c *Cluster) Run(t testing.TB, ns string, images map[string][]string, env map[string]string) *Runner {
	r := &Runner{Images: images, Env: env, c: c, ns: ns, t: t, procs: map[types.UID]*proc{}, done: map[types.UID]bool{}, stop: make(chan struct{})}
	f := informers.NewSharedInformerFactoryWithOptions(c.Client, time.Minute, informers.WithNamespace(ns))
	inf := f.Core().V1().Pods().Informer()
	inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { r.pod(obj) },
		UpdateFunc: func(_, obj any) { r.pod(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				r.kill(p.UID)
			}
		},
	})
	f.Start(r.stop)
	f.WaitForCacheSync(r.stop)
	c.mu.Lock()
	c.runners[ns] = r
	c.mu.Unlock()
	t.Cleanup(func() {
		c.mu.Lock()
		delete(c.runners, ns)
		c.mu.Unlock()
		close(r.stop)
		f.Shutdown()
		r.mu.Lock()
		var all []*proc
		for _, p := range r.procs {
			p.stopping = true
			if p.cmd != nil {
				syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
				all = append(all, p)
			}
		}
		r.mu.Unlock()
		for _, p := range all {
			<-p.exited
		}
	})
	return r
}

// Processes counts the containers running now.
func (r *Runner) Processes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.procs)
}

// LogTail is the last n bytes a pod's model container wrote, for a failed
// test to say what its process did.
func (r *Runner) LogTail(pod string, n int) string {
	b, err := os.ReadFile(filepath.Join(r.c.dir, containerLog(r.ns, pod, "")))
	if err != nil {
		return err.Error()
	}
	return string(b[max(0, len(b)-n):])
}

// containerLog is the file a pod's container writes (and the kubelet's
// log endpoint reads).
func containerLog(ns, pod, container string) string {
	if container == "model" || container == "" {
		return ns + "-" + pod + ".log"
	}
	return ns + "-" + pod + "-" + container + ".log"
}

// pod starts the containers of a pod kwok reports running.
func (r *Runner) pod(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if p.DeletionTimestamp != nil {
		r.kill(p.UID)
		return
	}
	if p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" || len(p.Spec.Containers) == 0 {
		return
	}
	r.mu.Lock()
	if r.procs[p.UID] != nil || r.done[p.UID] {
		r.mu.Unlock()
		return
	}
	pr := &proc{pod: p.Name, exited: make(chan struct{})}
	r.procs[p.UID] = pr
	r.mu.Unlock()
	go r.launch(p.DeepCopy(), pr)
}

// launch runs the pod's init containers (model data) and its container.
func (r *Runner) launch(p *corev1.Pod, pr *proc) {
	// ended records that the pod's container has run (or never will).
	ended := func() {
		r.mu.Lock()
		delete(r.procs, p.UID)
		r.done[p.UID] = true
		r.mu.Unlock()
		close(pr.exited)
	}
	fail := func(msg string, args ...any) {
		r.t.Logf("kubetest: pod %s: "+msg, append([]any{p.Name}, args...)...)
		ended()
		r.deletePod(p.Name)
	}
	// Each emptyDir volume is a directory of the pod's.
	volumes := map[string]string{}
	for _, v := range p.Spec.Volumes {
		volumes[v.Name] = filepath.Join(r.c.dir, "pods", string(p.UID), v.Name)
		if err := os.MkdirAll(volumes[v.Name], 0o755); err != nil {
			fail("%v", err)
			return
		}
	}
	// local is where path, inside container c, is on this machine: in the
	// directory of the volume mounted there (processes share one
	// filesystem), or path itself.
	local := func(c corev1.Container, path string) string {
		for _, m := range c.VolumeMounts {
			if rest, ok := strings.CutPrefix(path, m.MountPath); ok && (rest == "" || rest[0] == '/') && volumes[m.Name] != "" {
				return volumes[m.Name] + rest
			}
		}
		return path
	}
	for _, ic := range p.Spec.InitContainers {
		if i := slices.Index(ic.Command, "--url"); slices.Contains(ic.Command, "fetch-model") && i >= 0 && i+1 < len(ic.Command) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			err := modeldata.Fetch(ctx, ic.Command[i+1], local(ic, "/opt/ml/model"), r.Fetch)
			cancel()
			if err != nil {
				fail("init container %s: %v", ic.Name, err)
				return
			}
		}
	}
	// The pod's containers are processes of one process group (the
	// first's): they end together, as a pod's containers are torn down.
	var cmds []*exec.Cmd
	var logs []*os.File
	for i, c := range p.Spec.Containers {
		argv, ok := r.Images[c.Image]
		if !ok {
			// As a kubelet that cannot pull it: the pod never serves.
			r.t.Logf("kubetest: pod %s: no stand-in for image %q", p.Name, c.Image)
			for _, cmd := range cmds {
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
			ended()
			return
		}
		env, err := r.containerEnv(p, c)
		if err != nil {
			for _, cmd := range cmds {
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
			fail("%v", err)
			return
		}
		for i, v := range env {
			switch v.Name {
			case "SAGEMAKER_BIND_TO_HOST":
				env[i].Value = p.Status.PodIP
			case "SM_MODEL_DIR":
				env[i].Value = local(c, v.Value)
			}
		}
		argv = slices.Clone(argv)
		for _, a := range c.Args {
			argv = append(argv, local(c, expand(a, env)))
		}
		logFile, err := os.Create(filepath.Join(r.c.dir, containerLog(r.ns, p.Name, c.Name)))
		if err != nil {
			fail("%v", err)
			return
		}
		cmd := exec.Command(argv[0], argv[1:]...)
		out := &stampWriter{w: logFile} // as a container runtime keeps it, for the pod log API
		cmd.Stdout, cmd.Stderr = out, out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL} // ends with the test binary
		if i > 0 {
			cmd.SysProcAttr.Pgid = cmds[0].Process.Pid
		}
		cmd.Env = os.Environ()
		for k, v := range r.Env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		for _, e := range env {
			cmd.Env = append(cmd.Env, e.Name+"="+e.Value)
		}
		if err := cmd.Start(); err != nil {
			logFile.Close()
			for _, cmd := range cmds {
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
			fail("starting %v: %v", argv, err)
			return
		}
		cmds, logs = append(cmds, cmd), append(logs, logFile)
	}
	cmd, logFile := cmds[0], logs[0]
	for i, other := range cmds[1:] {
		go func() {
			other.Wait()
			logs[i+1].Close()
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the pod goes with any of its containers
		}()
	}
	r.mu.Lock()
	pr.cmd = cmd
	for i, c := range cmds {
		pr.all = append(pr.all, container{p.Spec.Containers[i].Name, c})
	}
	if pr.stopping { // deleted while launching
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
	r.mu.Unlock()
	go func() {
		err := cmd.Wait()                               // copies the last of its output
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the pod's other containers go with it
		logFile.Close()
		r.mu.Lock()
		stopped := pr.stopping
		r.mu.Unlock()
		if !stopped { // it died: say why, for the test that sees its pod go
			tail, _ := os.ReadFile(logFile.Name())
			r.t.Logf("kubetest: pod %s: container exited (%v); its log ends:\n%s", p.Name, err, tail[max(0, len(tail)-2000):])
		}
		ended()
		// The container ended: as a kubelet does, remove the pod at once
		// (grace 0), whether it was being deleted (kwok alone would take
		// up to its grace period) or died, when its ReplicaSet replaces it.
		r.deletePod(p.Name)
	}()
}

// containerEnv is c's environment as a kubelet gives it: the keys of the
// Secrets in its envFrom, then its env, with the pod's IP resolved.
func (r *Runner) containerEnv(p *corev1.Pod, c corev1.Container) ([]corev1.EnvVar, error) {
	var env []corev1.EnvVar
	for _, from := range c.EnvFrom {
		if from.SecretRef == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		secret, err := r.c.Client.CoreV1().Secrets(r.ns).Get(ctx, from.SecretRef.Name, metav1.GetOptions{})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("container %s: envFrom: %w", c.Name, err)
		}
		for _, k := range slices.Sorted(maps.Keys(secret.Data)) {
			env = append(env, corev1.EnvVar{Name: k, Value: string(secret.Data[k])})
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "status.podIP" {
			e.Value, e.ValueFrom = p.Status.PodIP, nil
		}
		env = append(env, e)
	}
	return env, nil
}

// expand replaces $(NAME) in a container's argument with the value of its
// environment variable NAME, as a kubelet does.
func expand(arg string, env []corev1.EnvVar) string {
	for _, e := range env {
		arg = strings.ReplaceAll(arg, "$("+e.Name+")", e.Value)
	}
	return arg
}

// kill stops the container of a pod being deleted (SIGTERM, then SIGKILL).
func (r *Runner) kill(uid types.UID) {
	r.mu.Lock()
	pr := r.procs[uid]
	if pr == nil || pr.stopping {
		r.mu.Unlock()
		return
	}
	pr.stopping = true
	if pr.cmd == nil { // still launching: it sees stopping
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGTERM)
	go func() {
		select {
		case <-pr.exited:
		case <-time.After(5 * time.Second):
			syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGKILL)
		}
	}()
}

// Crash kills a pod's container with SIGKILL, as an out-of-memory kill would.
func (r *Runner) Crash(pod *corev1.Pod) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if pr := r.procs[pod.UID]; pr != nil && pr.cmd != nil {
		syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGKILL)
	}
}

func (r *Runner) deletePod(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	zero := int64(0)
	r.c.Client.CoreV1().Pods(r.ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
}

// containers returns the processes of the running pod's containers in
// namespace ns, by name (nil when it is not running).
func (r *Runner) containers(pod string) []container {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, pr := range r.procs {
		if pr.pod == pod && !pr.stopping {
			return slices.Clone(pr.all)
		}
	}
	return nil
}
