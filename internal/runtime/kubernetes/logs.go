package kubernetes

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/ebbscale/ebb/internal/logs"
	"github.com/ebbscale/ebb/internal/runtime"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// followLogs copies what the model container of pod writes, read from the
// pod log API (as `kubectl logs -f`), into LogDir/ID.log, which the log
// store follows into the instance's CloudWatch Logs stream until done, as
// the process and Docker runtimes do; a restarted server resumes the copy
// where it ended (runtime.ContainerLog).
func (r *Runtime) followLogs(id, pod, endpoint, variant string, done <-chan struct{}) {
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
			if err := r.copyPodLog(ctx, pod, l); err != nil {
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

// copyPodLog follows the model container's log into l from after its last
// line until the stream ends.
func (r *Runtime) copyPodLog(ctx context.Context, pod string, l runtime.ContainerLog) error {
	since := l.Since()
	opts := &corev1.PodLogOptions{Container: containerName, Follow: true, Timestamps: true}
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
