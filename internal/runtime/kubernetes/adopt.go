package kubernetes

import (
	"context"
	"net"
	"strconv"

	"github.com/ebbscale/ebb/internal/runtime"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Adopt takes over the Deployments a previous ebb left (found by label):
// each pod bound to an instance (its annotation) that is ready and answers
// /ping becomes an adopted instance; the other pods are deleted, and each
// Deployment keeps one replica per adopted instance, so that hosting starts
// what is missing and nothing runs twice.
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
		r.mu.Lock()
		g := r.groups[d.Name]
		if g == nil {
			g = r.newGroup(d.Name, runtime.Spec{Endpoint: endpoint, Variant: variant, Deployment: deployment}, true)
		}
		if d.Spec.Replicas != nil {
			g.applied = *d.Spec.Replicas
		}
		ready := r.readyAddrs(d.Name)
		r.mu.Unlock()
		for _, p := range pods {
			in := r.adoptPod(g, p, ready[p.Name])
			if in == nil {
				if p.DeletionTimestamp == nil {
					r.log.Info("deleting a pod no instance can adopt", "pod", p.Name)
					r.deletePod(p.Name)
				}
				continue
			}
			out = append(out, runtime.Adopted{Instance: in, Endpoint: endpoint, Variant: variant, Deployment: deployment, Started: p.CreationTimestamp.Time})
		}
		r.mu.Lock()
		r.setWant(g)
		r.mu.Unlock()
		r.log.Info("adopted a Deployment", "deployment", d.Name, "endpoint", endpoint, "variant", variant, "instances", len(g.members))
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
	in.addr = net.JoinHostPort(addr, strconv.Itoa(ModelPort))
	if !in.pingOK(in.addr) {
		return nil
	}
	r.mu.Lock()
	in.bind(p)
	close(in.addrKnown)
	g.members = append(g.members, in)
	r.byPod[p.Name] = in
	r.mu.Unlock()
	in.readyOnce.Do(func() { close(in.ready) })
	go in.watchHealth(in.addr)
	return in
}

var (
	_ runtime.Adopter  = (*Runtime)(nil)
	_ runtime.Detacher = (*Runtime)(nil)
	_ runtime.Releaser = (*Runtime)(nil)
)
