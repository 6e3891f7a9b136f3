package kubernetes

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/runtime"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// TestKubernetesAdoptScaleOutInFlight: a leader scales a variant's
// Deployment from 1 to 3 and dies before binding the new pods. The next
// leader adopts the ready instance, keeps the two new pods as spares
// (deleting none), and its two new instances bind them: the scale-out
// completes on the pods already starting, never fewer than wanted, and no
// pod is left over. A spare nobody binds goes once the hold ends.
func TestKubernetesAdoptScaleOutInFlight(t *testing.T) {
	c := testCluster(t)
	ns := c.Namespace(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c.Run(t, ns, map[string][]string{testImage: {self}}, map[string]string{"EBB_TEST_MODEL": "1"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	open := func(hold time.Duration) *Runtime {
		rt, err := New(ctx, Options{Client: c.Client, Namespace: ns, StartLimit: 30 * time.Second,
			PingInterval: 100 * time.Millisecond, UnhealthyThreshold: 2, AdoptHold: hold})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(rt.Detach)
		return rt
	}
	spec := func(id string) runtime.Spec {
		return runtime.Spec{ID: id, Endpoint: "adopt", Variant: "v1", Deployment: "d1", Image: testImage}
	}
	ready := func(in runtime.Instance) {
		t.Helper()
		select {
		case <-in.Ready():
		case <-in.Done():
			t.Fatalf("instance %s ended: %v", in.ID(), in.Err())
		case <-ctx.Done():
			t.Fatalf("instance %s not ready", in.ID())
		}
	}
	first := open(time.Hour)
	in, err := first.Start(ctx, spec("i-1"))
	if err != nil {
		t.Fatal(err)
	}
	ready(in)
	name := groupName("adopt", "v1", "d1")
	// The leader's scale-out, and then its death: nothing binds the pods.
	first.Detach()
	deps := c.Client.AppsV1().Deployments(ns)
	if _, err := deps.UpdateScale(ctx, name, &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: autoscalingv1.ScaleSpec{Replicas: 3}}, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := func() (names map[string]bool) {
		l, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: labelGroup + "=" + name})
		if err != nil {
			t.Fatal(err)
		}
		names = map[string]bool{}
		for _, p := range l.Items {
			if p.DeletionTimestamp == nil {
				names[p.Name] = true
			}
		}
		return names
	}
	poll := func(what string, cond func() bool) {
		t.Helper()
		if err := wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(context.Context) (bool, error) { return cond(), nil }); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	poll("the ReplicaSet creates the two pods", func() bool { return len(pods()) == 3 })
	before := pods()

	next := open(5 * time.Second)
	adopted, err := next.Adopt(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(adopted) != 1 || adopted[0].Instance.ID() != "i-1" {
		t.Fatalf("adopted %v, want i-1 only", adopted)
	}
	var started []runtime.Instance
	for _, id := range []string{"i-2", "i-3"} {
		in, err := next.Start(ctx, spec(id))
		if err != nil {
			t.Fatal(err)
		}
		started = append(started, in)
	}
	for _, in := range started {
		ready(in)
	}
	after := pods()
	for p := range before {
		if !after[p] {
			t.Errorf("pod %s of the scale-out in flight was deleted", p)
		}
	}
	if len(after) != 3 {
		t.Errorf("%d pods, want 3: %v", len(after), after)
	}
	// A spare nobody binds: the leader had asked for 4; hosting resumes
	// with 3. Once the hold ends, the Deployment has 3 replicas and 3 pods.
	next.Detach()
	if _, err := deps.UpdateScale(ctx, name, &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: autoscalingv1.ScaleSpec{Replicas: 4}}, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll("the ReplicaSet creates the fourth pod", func() bool { return len(pods()) == 4 })
	third := open(2 * time.Second)
	if adopted, err = third.Adopt(ctx); err != nil || len(adopted) != 3 {
		t.Fatalf("adopted %d instances (%v), want 3", len(adopted), err)
	}
	poll("the spare nobody bound goes after the hold", func() bool {
		d, err := deps.Get(ctx, name, metav1.GetOptions{})
		return err == nil && *d.Spec.Replicas == 3 && len(pods()) == 3
	})
	for _, a := range adopted {
		select {
		case <-a.Instance.Done():
			t.Fatalf("adopted instance %s ended: %v", a.Instance.ID(), a.Instance.Err())
		default:
		}
	}
}
