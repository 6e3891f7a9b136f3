package kubernetes

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ebbscale/ebb/internal/logs"
	"github.com/ebbscale/ebb/internal/runtime"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// followPod follows the output of the model containers of in's pod, each
// into its own stream: the instance's, or in a pod of several containers,
// each container's (as the other runtimes give each its own). Callers hold
// r.mu.
func (r *Runtime) followPod(in *instance, pod string) {
	if len(in.containers) == 0 {
		go r.followLogs(in.id, pod, containerName, in.g.spec.Endpoint, in.g.spec.Variant, in.done)
		return
	}
	for i, id := range in.containers {
		name := containerName
		if i > 0 {
			name = fmt.Sprintf("%s-%d", containerName, i+1)
		}
		go r.followLogs(id, pod, name, in.g.spec.Endpoint, in.g.spec.Variant, in.done)
	}
}

// followLogs copies what a model container of pod writes, read from the
// pod log API (as `kubectl logs -f`), into LogDir/ID.log, which the log
// store follows into the instance's CloudWatch Logs stream until done, as
// the process and Docker runtimes do; a restarted server resumes the copy
// where it ended (runtime.ContainerLog).
func (r *Runtime) followLogs(id, pod, container, endpoint, variant string, done <-chan struct{}) {
	if r.o.Logs == nil {
		return
	}
	l := runtime.ContainerLog{Path: filepath.Join(r.o.LogDir, id+".log")}
	if err := os.MkdirAll(r.o.LogDir, 0o755); err != nil {
		r.log.Warn("instance output will not reach its log stream", "instance", id, "err", err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-done
		cancel()
	}()
	go func() {
		defer l.Remove()
		// A follow can end before the pod does (the API server restarts, a
		// connection drops): it resumes after the last line copied.
		for wait := time.Second; ctx.Err() == nil; wait = min(2*wait, time.Minute) {
			if err := r.copyPodLog(ctx, pod, container, l); err != nil {
				r.log.Warn("instance output does not reach its log stream; retrying", "instance", id, "pod", pod, "err", err, "in", wait)
			}
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
	}()
	if err := r.o.Logs.Follow(l.Path, logs.EndpointGroup(endpoint), logs.InstanceStream(variant, id), done); err != nil {
		r.log.Warn("instance output will not reach its log stream", "instance", id, "err", err)
	}
}

// copyPodLog follows a container's log into l from after its last line
// until the stream ends.
func (r *Runtime) copyPodLog(ctx context.Context, pod, container string, l runtime.ContainerLog) error {
	since := l.Since()
	opts := &corev1.PodLogOptions{Container: container, Follow: true, Timestamps: true}
	if !since.IsZero() {
		t := metav1.NewTime(since)
		opts.SinceTime = &t // whole seconds: the copy drops what it has
	}
	rc, err := r.c.CoreV1().Pods(r.o.Namespace).GetLogs(pod, opts).Stream(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	return l.Copy(rc, since)
}
