package kubernetes

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/runtime"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
)

// TestKubernetesScaleInWhileStarting: a ready instance is stopped while
// another of its Deployment is still starting, its pod not yet scheduled
// (the node is cordoned). The ReplicaSet prefers that pod to the one
// marked for deletion; ebb then deletes the marked pod itself, and the
// starting instance, whose pod never served, waits for the replacement
// instead of ending. The pod of the instance stopped goes, the other ready
// instance keeps its pod.
func TestKubernetesScaleInWhileStarting(t *testing.T) {
	c := testCluster(t)
	rt := testRuntimeLimit(t, c, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	typ, _ := runtime.LookupInstanceType("ml.m5.large")
	spec := func(id string, env map[string]string) runtime.Spec {
		return runtime.Spec{ID: id, Endpoint: "scalein", Variant: "v1", Deployment: "d1", Image: testImage, Environment: env, InstanceType: typ}
	}
	until := func(what string, cond func() bool) {
		t.Helper()
		if err := wait.PollUntilContextCancel(ctx, 20*time.Millisecond, true, func(context.Context) (bool, error) { return cond(), nil }); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	var ready []runtime.Instance
	for _, id := range []string{"i-1", "i-2"} {
		in, err := rt.Start(ctx, spec(id, nil))
		if err != nil {
			t.Fatal(err)
		}
		ready = append(ready, in)
	}
	for _, in := range ready {
		until("instance ready", func() bool {
			select {
			case <-in.Ready():
				return true
			case <-in.Done():
				t.Fatalf("%s ended: %v", in.ID(), in.Err())
			default:
			}
			return false
		})
	}
	podOf := func(in runtime.Instance) string { return in.(*instance).podName() }
	kept, chosen := podOf(ready[0]), podOf(ready[1])
	cordon := func(on bool) {
		t.Helper()
		patch := fmt.Appendf(nil, `{"spec":{"unschedulable":%t}}`, on)
		if _, err := c.Client.CoreV1().Nodes().Patch(context.Background(), "node-a", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	cordon(true)
	defer cordon(false)
	starting, err := rt.Start(ctx, spec("i-3", nil))
	if err != nil {
		t.Fatal(err)
	}
	until("the starting instance has its pod, unscheduled", func() bool {
		name := podOf(starting)
		if name == "" {
			return false
		}
		p, err := c.Client.CoreV1().Pods(rt.o.Namespace).Get(ctx, name, metav1.GetOptions{})
		return err == nil && p.Spec.NodeName == ""
	})
	first := podOf(starting)
	if err := ready[1].Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ready[1].Err(); err != nil {
		t.Fatalf("a clean stop reports %v", err)
	}
	if _, err := c.Client.CoreV1().Pods(rt.o.Namespace).Get(ctx, chosen, metav1.GetOptions{}); err == nil {
		t.Errorf("pod %s of the instance stopped is still there", chosen)
	}
	cordon(false)
	select {
	case <-starting.Ready():
	case <-starting.Done():
		t.Fatalf("the starting instance ended: %v", starting.Err())
	case <-ctx.Done():
		t.Fatal("the starting instance never became ready")
	}
	if podOf(ready[0]) != kept {
		t.Errorf("the ready instance moved from pod %s to %s", kept, podOf(ready[0]))
	}
	if podOf(starting) == first {
		t.Errorf("the starting instance is ready on pod %s, which the ReplicaSet was to remove", first)
	}
}
