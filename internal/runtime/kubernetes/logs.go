package kubernetes

import (
	"context"
	"os"
	"path/filepath"

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
	since := l.Since()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-done
		cancel()
	}()
	go func() {
		defer l.Remove()
		opts := &corev1.PodLogOptions{Container: containerName, Follow: true, Timestamps: true}
		if !since.IsZero() {
			t := metav1.NewTime(since)
			opts.SinceTime = &t // whole seconds: the copy drops what it has
		}
		rc, err := r.c.CoreV1().Pods(r.o.Namespace).GetLogs(pod, opts).Stream(ctx)
		if err != nil {
			r.log.Warn("instance output will not reach its log stream", "instance", id, "pod", pod, "err", err)
			<-ctx.Done()
			return
		}
		defer rc.Close()
		if err := l.Copy(rc, since); err != nil {
			r.log.Warn("instance output will not reach its log stream", "instance", id, "err", err)
		}
		<-ctx.Done()
	}()
	if err := r.o.Logs.Follow(l.Path, logs.EndpointGroup(endpoint), logs.InstanceStream(variant, id), done); err != nil {
		r.log.Warn("instance output will not reach its log stream", "instance", id, "err", err)
	}
}
