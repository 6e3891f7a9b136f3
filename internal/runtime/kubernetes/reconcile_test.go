package kubernetes

import (
	"slices"
	"testing"

	"github.com/ebbscale/ebb/internal/runtime"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestGroupWrites: what a group's objects need, worked out from its
// instances and the cluster, without a cluster.
func TestGroupWrites(t *testing.T) {
	now := metav1.Now()
	pod := func(name string, ann map[string]string, opts ...func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: ann}}
		for _, o := range opts {
			o(p)
		}
		return p
	}
	terminating := func(p *corev1.Pod) { p.DeletionTimestamp = &now }
	bound := func(id string) map[string]string { return map[string]string{annInstance: id} }
	spare := map[string]string{annDeletionCost: lowestDeletionCost}
	dep := func(spec, status int32, settled bool) *appsv1.Deployment {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Generation: 2}, Spec: appsv1.DeploymentSpec{Replicas: &spec},
			Status: appsv1.DeploymentStatus{Replicas: status, ObservedGeneration: 2}}
		if !settled {
			d.Status.ObservedGeneration = 1
		}
		return d
	}
	in := func(id, pod string, stopping bool) *instance { return &instance{id: id, pod: pod, stopping: stopping} }
	cost := &lowestDeletionCost
	for _, tc := range []struct {
		name     string
		g        group
		pods     []*corev1.Pod
		dep      *appsv1.Deployment
		create   bool
		scale    bool
		replicas int32
		annotate map[string]map[string]*string
		remove   []string
	}{
		{name: "no Deployment yet: created with a replica per instance",
			g:      group{spec: unit{Spec: runtime.Spec{Image: "img"}}, members: []*instance{in("a", "", false), in("b", "", false)}},
			create: true, replicas: 2},
		{name: "an adopted group (no image) whose Deployment is gone is not made again",
			g:        group{members: []*instance{in("a", "", false)}},
			replicas: 1},
		{name: "one more instance: scaled",
			g:    group{members: []*instance{in("a", "p1", false), in("b", "", false)}},
			pods: []*corev1.Pod{pod("p1", bound("a"))}, dep: dep(1, 1, true),
			scale: true, replicas: 2},
		{name: "a pod just bound is annotated with its instance, and is no spare",
			g:    group{members: []*instance{in("a", "p1", false)}},
			pods: []*corev1.Pod{pod("p1", spare)}, dep: dep(1, 1, true),
			replicas: 1, annotate: map[string]map[string]*string{"p1": {annInstance: strPtr("a"), annDeletionCost: nil}}},
		{name: "a pod no instance holds is a spare, the first to go",
			g:    group{members: []*instance{in("a", "p1", false)}},
			pods: []*corev1.Pod{pod("p1", bound("a")), pod("p2", bound("gone"))}, dep: dep(1, 2, false),
			replicas: 1, annotate: map[string]map[string]*string{"p2": {annInstance: nil, annDeletionCost: cost}}},
		{name: "stopping: the pod is marked before the replicas go down",
			g:    group{members: []*instance{in("a", "p1", false), in("b", "p2", true)}},
			pods: []*corev1.Pod{pod("p1", bound("a")), pod("p2", bound("b"))}, dep: dep(2, 2, true),
			scale: true, replicas: 1, annotate: map[string]map[string]*string{"p2": {annDeletionCost: cost}}},
		{name: "stopping: the ReplicaSet has not settled yet",
			g:    group{members: []*instance{in("a", "p1", false), in("b", "p2", true)}},
			pods: []*corev1.Pod{pod("p1", bound("a")), pod("p2", map[string]string{annInstance: "b", annDeletionCost: lowestDeletionCost})}, dep: dep(1, 2, false),
			replicas: 1},
		{name: "stopping: settled without the chosen pod going, ebb deletes it",
			g:    group{members: []*instance{in("a", "", false), in("b", "p2", true)}},
			pods: []*corev1.Pod{pod("p1", nil, terminating), pod("p2", map[string]string{annInstance: "b", annDeletionCost: lowestDeletionCost})}, dep: dep(1, 1, true),
			replicas: 1, remove: []string{"p2"}},
		{name: "the pod of a failed instance is deleted",
			g:    group{members: []*instance{in("a", "p1", false)}, doomed: map[string]bool{"p2": true}},
			pods: []*corev1.Pod{pod("p1", bound("a")), pod("p2", bound("x"))}, dep: dep(1, 2, true),
			replicas: 1, remove: []string{"p2"}},
		{name: "an adopted Deployment keeps the previous leader's replicas for the hold",
			g:    group{members: []*instance{in("a", "p1", false)}, floor: 3},
			pods: []*corev1.Pod{pod("p1", bound("a"))}, dep: dep(3, 3, true),
			replicas: 3},
		{name: "a released group writes no replicas",
			g:        group{spec: unit{Spec: runtime.Spec{Image: "img"}}, released: true, members: []*instance{in("a", "", false)}},
			replicas: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.g.writes(tc.pods, tc.dep)
			if w.create != tc.create || w.scale != tc.scale || w.replicas != tc.replicas || !slices.Equal(w.remove, tc.remove) {
				t.Fatalf("create %v scale %v replicas %d remove %v; want %v %v %d %v", w.create, w.scale, w.replicas, w.remove, tc.create, tc.scale, tc.replicas, tc.remove)
			}
			if len(w.annotate) != len(tc.annotate) {
				t.Fatalf("annotate %v, want %v", show(w.annotate), show(tc.annotate))
			}
			for pod, want := range tc.annotate {
				got := w.annotate[pod]
				if len(got) != len(want) {
					t.Fatalf("annotate %s: %v, want %v", pod, show(w.annotate), show(tc.annotate))
				}
				for k, v := range want {
					if g, ok := got[k]; !ok || (g == nil) != (v == nil) || g != nil && *g != *v {
						t.Fatalf("annotate %s: %v, want %v", pod, show(w.annotate), show(tc.annotate))
					}
				}
			}
		})
	}
}

func strPtr(s string) *string { return &s }

func show(m map[string]map[string]*string) map[string]map[string]string {
	out := map[string]map[string]string{}
	for pod, set := range m {
		out[pod] = map[string]string{}
		for k, v := range set {
			out[pod][k] = "<nil>"
			if v != nil {
				out[pod][k] = *v
			}
		}
	}
	return out
}
