package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// The runtime is a client-go controller: the informers' handlers only
// enqueue the name of the group (Deployment) an object belongs to, as do
// Start, Stop and an instance that ends; workers take names off the queue
// and reconcile them, one group at a time, and a reconcile whose writes
// fail is retried with the queue's rate limit. Every write follows from
// what the cluster shows and what the instances want (level-triggered), so
// a write that failed or was lost is made again, and one that adoption
// depends on (which instance a pod serves) is never left to chance.

// workers is how many groups are reconciled at once.
const workers = 2

// enqueueObject queues the group of a pod, EndpointSlice or Deployment.
func (r *Runtime) enqueueObject(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	switch o := obj.(type) {
	case *corev1.Pod:
		r.queue.Add(o.Labels[labelGroup])
	case *discoveryv1.EndpointSlice:
		r.queue.Add(o.Labels[labelServiceName])
	case *appsv1.Deployment:
		r.queue.Add(o.Name)
	}
}

// work reconciles queued groups until the queue shuts down.
func (r *Runtime) work() {
	for {
		name, shutdown := r.queue.Get()
		if shutdown {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := r.reconcile(ctx, name)
		cancel()
		if err != nil {
			r.log.Warn("reconciling a Deployment failed; retrying", "deployment", name, "err", err, "retries", r.queue.NumRequeues(name))
			r.queue.AddRateLimited(name)
		} else {
			r.queue.Forget(name)
		}
		r.queue.Done(name)
	}
}

// groupWrites are the writes that bring a group's objects to what its
// instances want, in the order they are made.
type groupWrites struct {
	// create makes the Deployment (its Deployment is absent).
	create bool
	// annotate patches pods' annotations (a nil value removes one).
	annotate map[string]map[string]*string
	// replicas is the Deployment's wanted replicas; scale says it differs
	// from what the cluster shows.
	replicas int32
	scale    bool
	// remove deletes pods: those of instances that failed, and one chosen
	// by a scale-in that its ReplicaSet did not remove.
	remove []string
	spec   unit
}

// reconcile binds the group's waiting instances to free pods, tells bound
// instances what happened to theirs, and makes the writes that follow.
func (r *Runtime) reconcile(ctx context.Context, name string) error {
	r.mu.Lock()
	g := r.groups[name]
	if g == nil {
		r.mu.Unlock()
		return nil
	}
	pods, err := r.pods.List(labels.SelectorFromSet(labels.Set{labelGroup: name}))
	if err != nil {
		r.mu.Unlock()
		return err
	}
	dep, err := r.deployments.Get(name)
	if apierrors.IsNotFound(err) {
		dep, err = nil, nil
	}
	if err != nil {
		r.mu.Unlock()
		return err
	}
	r.observe(g, pods)
	w := g.writes(pods, dep)
	r.mu.Unlock()
	return r.apply(ctx, g, w)
}

// observe binds waiting instances to free pods, oldest first, and applies
// what the cluster says of every bound pod. Callers hold r.mu.
func (r *Runtime) observe(g *group, pods []*corev1.Pod) {
	ready := r.readyAddrs(g.name)
	byName := map[string]*corev1.Pod{}
	for _, p := range pods {
		byName[p.Name] = p
	}
	for pod := range g.doomed {
		if p := byName[pod]; p == nil || p.DeletionTimestamp != nil {
			delete(g.doomed, pod)
		}
	}
	free := freePods(pods, r.byPod, g.doomed)
	for _, in := range slices.Clone(g.members) { // observe may end members
		if in.pod == "" && !in.stopping && len(free) > 0 {
			in.bind(free[0])
			r.byPod[free[0].Name] = in
			free = free[1:]
		}
		in.observe(byName[in.pod], ready[in.pod])
	}
}

// freePods are the group's pods bound to no instance that may yet serve,
// oldest first.
func freePods(pods []*corev1.Pod, byPod map[string]*instance, doomed map[string]bool) []*corev1.Pod {
	var free []*corev1.Pod
	for _, p := range pods {
		if byPod[p.Name] == nil && !doomed[p.Name] && p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodFailed && p.Status.Phase != corev1.PodSucceeded {
			free = append(free, p)
		}
	}
	sortPods(free)
	return free
}

// writes works out what the group's objects need, from its instances and
// the cluster as the informers show it (dep nil: no Deployment). It
// decides and writes nothing. Callers hold r.mu.
//
//   - The Deployment has a replica per instance not being stopped (at
//     least the adoption floor).
//   - A bound pod is annotated with its instance (what adoption reads);
//     a free pod with the lowest deletion cost, as is the pod of an
//     instance being stopped, before the replicas go down: the ReplicaSet
//     then removes that pod, unless it prefers pods that are not running
//     or ready. Once the Deployment has settled at the lower count with
//     the chosen pod still there, ebb deletes it itself: scale-in always
//     removes the pod of the instance hosting stopped.
//   - The pods of instances that failed are deleted (their ReplicaSet
//     replaces them).
func (g *group) writes(pods []*corev1.Pod, dep *appsv1.Deployment) groupWrites {
	w := groupWrites{spec: g.spec, annotate: map[string]map[string]*string{}}
	for _, in := range g.members {
		if !in.stopping {
			w.replicas++
		}
	}
	w.replicas = max(w.replicas, g.floor)
	switch {
	case dep == nil:
		w.create = g.spec.Image != "" && !g.released
	case dep.Spec.Replicas == nil || *dep.Spec.Replicas != w.replicas:
		w.scale = !g.released
	}
	settled := dep != nil && dep.Spec.Replicas != nil && *dep.Spec.Replicas == w.replicas &&
		dep.Status.ObservedGeneration >= dep.Generation && dep.Status.Replicas <= w.replicas
	bound := map[string]*instance{}
	for _, in := range g.members {
		if in.pod != "" {
			bound[in.pod] = in
		}
	}
	for _, p := range pods {
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
			continue
		}
		if g.doomed[p.Name] {
			w.remove = append(w.remove, p.Name)
			continue
		}
		want := map[string]*string{annInstance: nil, annContainers: nil, annDeletionCost: &lowestDeletionCost}
		if in := bound[p.Name]; in != nil {
			want[annInstance] = &in.id
			if len(in.containers) > 0 {
				ids := strings.Join(in.containers, ",")
				want[annContainers] = &ids
			}
			if !in.stopping {
				want[annDeletionCost] = nil
			} else if settled {
				w.remove = append(w.remove, p.Name)
			}
		}
		if patch := annotationPatch(p.Annotations, want); patch != nil {
			w.annotate[p.Name] = patch
		}
	}
	slices.Sort(w.remove)
	return w
}

// annotationPatch is the merge patch that gives a pod the wanted
// annotations (nil: remove), or nil when it has them.
func annotationPatch(have map[string]string, want map[string]*string) map[string]*string {
	patch := map[string]*string{}
	for k, v := range want {
		cur, ok := have[k]
		if v == nil && ok || v != nil && (!ok || cur != *v) {
			patch[k] = v
		}
	}
	if len(patch) == 0 {
		return nil
	}
	return patch
}

// apply makes the writes in order, each only if this replica may still
// write; the first that fails ends the attempt (the queue retries it).
func (r *Runtime) apply(ctx context.Context, g *group, w groupWrites) error {
	if !w.create && !w.scale && len(w.annotate) == 0 && len(w.remove) == 0 {
		return nil
	}
	if err := r.fenced(ctx); err != nil {
		return err
	}
	r.mu.Lock()
	released := g.released // since the writes were worked out
	r.mu.Unlock()
	if released {
		return nil
	}
	if w.create {
		if err := r.create(ctx, w.spec, w.replicas); err != nil {
			return err
		}
	}
	for _, pod := range slices.Sorted(maps.Keys(w.annotate)) {
		if err := r.annotate(ctx, pod, w.annotate[pod]); err != nil {
			return err
		}
	}
	if w.scale {
		if err := r.scale(ctx, g.name, w.replicas); err != nil {
			return err
		}
	}
	for _, pod := range w.remove {
		if err := r.c.CoreV1().Pods(r.o.Namespace).Delete(ctx, pod, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting pod %s: %w", pod, err)
		}
	}
	return nil
}

// annotate sets annotations on a pod (a merge patch; a nil value removes
// the annotation). A pod already gone needs none.
func (r *Runtime) annotate(ctx context.Context, pod string, set map[string]*string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": set}})
	if err != nil {
		return err
	}
	_, err = r.c.CoreV1().Pods(r.o.Namespace).Patch(ctx, pod, "application/merge-patch+json", patch, metav1.PatchOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("annotating pod %s: %w", pod, err)
	}
	return nil
}
