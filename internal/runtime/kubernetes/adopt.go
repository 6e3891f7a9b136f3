package kubernetes

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/ebbscale/ebb/internal/runtime"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Adopt takes over the Deployments a previous ebb left (found by label):
// each pod bound to an instance (its annotation) that is ready and answers
// /ping becomes an adopted instance. A pod still starting, bound or not,
// or ready but bound to no instance (the previous leader may have died
// between scaling the Deployment and binding the pod) is kept as a spare:
// hosting's next Start binds it rather than a new pod, and the Deployment
// keeps its replicas for Options.AdoptHold, so the scale-out in flight
// completes and nothing runs twice. Spares are marked as the first pods to
// go, and those hosting has not bound by then are removed by scaling down
// to the instances. Pods that failed, or are ready but do not answer
// /ping, are deleted (their ReplicaSet replaces them).
func (r *Runtime) Adopt(ctx context.Context) ([]runtime.Adopted, error) {
	deps, err := r.deployments.List(labels.SelectorFromSet(labels.Set{labelManagedBy: managedBy}))
	if err != nil {
		return nil, err
	}
	var out []runtime.Adopted
	for _, d := range deps {
		endpoint, variant, deployment, err := specOf(d.ObjectMeta)
		if err != nil {
			r.log.Warn("not adopting a Deployment", "deployment", d.Name, "err", err)
			continue
		}
		pods, err := r.pods.List(labels.SelectorFromSet(labels.Set{labelGroup: d.Name}))
		if err != nil {
			return nil, err
		}
		// The group joins the runtime once its pods are adopted: until then
		// no reconcile takes them for free pods.
		g := &group{name: d.Name, spec: unit{Spec: runtime.Spec{Endpoint: endpoint, Variant: variant, Deployment: deployment}}, doomed: map[string]bool{}}
		if d.Spec.Replicas != nil {
			g.floor = *d.Spec.Replicas
		}
		r.mu.Lock()
		ready := r.readyAddrs(d.Name)
		r.mu.Unlock()
		spares := 0
		for _, p := range pods {
			if p.DeletionTimestamp != nil {
				continue
			}
			if in := r.adoptPod(g, p, ready[p.Name]); in != nil {
				out = append(out, runtime.Adopted{Instance: in, Members: podMembers(in, p), Endpoint: endpoint, Variant: variant, Deployment: deployment,
					Started: p.CreationTimestamp.Time})
				continue
			}
			unhealthy := ready[p.Name] != "" && p.Annotations[annInstance] != "" // ready, bound, and /ping failed
			if !unhealthy && p.Status.Phase != corev1.PodFailed && p.Status.Phase != corev1.PodSucceeded {
				spares++ // free: group.writes marks it the first to go
				continue
			}
			r.log.Info("deleting a pod no instance can adopt", "pod", p.Name, "phase", p.Status.Phase)
			g.doomed[p.Name] = true
		}
		r.mu.Lock()
		if r.groups[d.Name] != nil {
			r.mu.Unlock()
			return nil, fmt.Errorf("adopting Deployment %s: its group is already in use (Adopt runs before the first Start)", d.Name)
		}
		r.groups[d.Name] = g
		r.mu.Unlock()
		r.queue.Add(d.Name)
		time.AfterFunc(r.o.AdoptHold, func() {
			r.mu.Lock()
			g.floor = 0
			r.mu.Unlock()
			r.queue.Add(g.name)
		})
		r.log.Info("adopted a Deployment", "deployment", d.Name, "endpoint", endpoint, "variant", variant, "instances", len(g.members), "spare_pods", spares)
	}
	return out, nil
}

// adoptPod returns an instance for a healthy bound pod, or nil.
func (r *Runtime) adoptPod(g *group, p *corev1.Pod, addr string) *instance {
	id := p.Annotations[annInstance]
	if id == "" || addr == "" || p.DeletionTimestamp != nil {
		return nil
	}
	in := r.newInstance(id, g)
	if ids := p.Annotations[annContainers]; ids != "" {
		in.containers = strings.Split(ids, ",")
	}
	in.addr = net.JoinHostPort(addr, strconv.Itoa(ModelPort))
	if !in.pingOK(in.addr) {
		return nil
	}
	r.mu.Lock()
	in.bind(p)
	in.logging = true
	r.followPod(in, p.Name)
	close(in.addrKnown)
	g.members = append(g.members, in)
	r.byPod[p.Name] = in
	r.mu.Unlock()
	in.markReady()
	go func() {
		ctx, cancel := in.lifetime()
		defer cancel()
		in.watchHealth(ctx, in.addr)
	}()
	return in
}

// podMembers are the instances of the containers of a pod that runs a
// model of several (StartGroup: model, model-2, ... on ports 8080, 8081,
// ...), in order, with the IDs they were started with; nil for a pod of
// one model container.
func podMembers(in *instance, p *corev1.Pod) []runtime.Instance {
	var out []runtime.Instance
	for _, c := range p.Spec.Containers {
		n := 1
		if rest, ok := strings.CutPrefix(c.Name, containerName+"-"); ok {
			var err error
			if n, err = strconv.Atoi(rest); err != nil {
				continue // the puller of a multi-model pod
			}
		} else if c.Name != containerName {
			continue
		}
		if n != len(out)+1 {
			return nil // not a pod StartGroup made
		}
		out = append(out, &member{instance: in, port: ModelPort + n - 1})
	}
	if len(out) < 2 || len(out) != len(in.containers) {
		return nil // not adopted as a group: hosting starts one anew
	}
	for i, m := range out {
		m.(*member).id = in.containers[i]
	}
	return out
}

var (
	_ runtime.Adopter      = (*Runtime)(nil)
	_ runtime.Detacher     = (*Runtime)(nil)
	_ runtime.Releaser     = (*Runtime)(nil)
	_ runtime.Featured     = (*Runtime)(nil)
	_ runtime.GroupStarter = (*Runtime)(nil)
)
