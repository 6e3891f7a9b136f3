package hosting

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/ebbscale/ebb/internal/runtime"
)

// group is one instance of a model of several containers: a runtime
// instance per container, ready when all are, ended when any ends (the
// others are then stopped), as one SageMaker instance runs every container
// of its model.
type group struct {
	id        string
	members   []runtime.Instance
	hostnames []string
	ready     chan struct{}
	done      chan struct{}

	mu  sync.Mutex
	err error
}

func newGroup(id string, members []runtime.Instance, hostnames []string) *group {
	g := &group{id: id, members: members, hostnames: hostnames, ready: make(chan struct{}), done: make(chan struct{})}
	go g.watch()
	return g
}

func (g *group) watch() {
	ended := make(chan runtime.Instance, len(g.members))
	for _, m := range g.members {
		go func() { <-m.Done(); ended <- m }()
	}
	readyAll := make(chan struct{})
	go func() {
		for _, m := range g.members {
			select {
			case <-m.Ready():
			case <-g.done:
				return
			}
		}
		close(readyAll)
	}()
	select {
	case <-readyAll:
		close(g.ready)
		first := <-ended
		g.end(first)
	case first := <-ended:
		g.end(first)
	}
}

// end records why the first member ended and stops the others.
func (g *group) end(first runtime.Instance) {
	g.mu.Lock()
	g.err = first.Err()
	g.mu.Unlock()
	g.Stop(context.Background())
	close(g.done)
}

func (g *group) ID() string             { return g.id }
func (g *group) Addr() string           { return g.members[0].Addr() }
func (g *group) Ready() <-chan struct{} { return g.ready }
func (g *group) Done() <-chan struct{}  { return g.done }

func (g *group) Err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// Stop stops every container and waits for them.
func (g *group) Stop(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, m := range g.members {
		wg.Add(1)
		go func() { defer wg.Done(); m.Stop(ctx) }()
	}
	wg.Wait()
	return nil
}

// Stats sums the containers' usage, as SageMaker's instance metrics sum
// the primary and supplementary containers.
func (g *group) Stats() (runtime.Stats, error) {
	var out runtime.Stats
	for i, m := range g.members {
		st, err := m.Stats()
		if err != nil {
			return runtime.Stats{}, err
		}
		if i == 0 {
			out = st
			continue
		}
		out.CPUTime += st.CPUTime
		out.MemoryBytes += st.MemoryBytes
		out.DiskBytes += st.DiskBytes
		out.DiskPercent = max(out.DiskPercent, st.DiskPercent)
		out.NoUsage = out.NoUsage || st.NoUsage
		out.NoDisk = out.NoDisk || st.NoDisk
		out.GPU = nil // per container GPU figures are not summed
	}
	return out, nil
}

// groupDeployment labels the instances of a model of several containers
// of hosting deployment id.
func groupDeployment(id string) string { return "containers-" + id }

// containerHostnames are the names by which a model's containers are
// addressed: their ContainerHostname, or container-N.
func containerHostnames(containers []Container) []string {
	out := make([]string, len(containers))
	for i, c := range containers {
		out[i] = c.ContainerHostname
		if out[i] == "" {
			out[i] = fmt.Sprintf("container-%d", i+1)
		}
	}
	return out
}

// memberID is the ID of a group's container where the runtime runs each
// as an instance of its own.
func memberID(group, hostname string) string { return group + "-" + strings.ToLower(hostname) }

// adoptGroups takes over the instances of models of several containers a
// previous server left running, and returns the others with them. A unit
// the runtime ran as one (runtime.GroupStarter: a pod) comes with its
// members; containers run apart are gathered back into their group by
// their IDs. A group is adopted whole, or not at all: what is adopted of
// an incomplete one keeps its group label, which no deployment wants, so
// launch stops it and hosting starts the group anew.
func (e *endpoint) adoptGroups(adopted []runtime.Adopted) []runtime.Adopted {
	var out []runtime.Adopted
	type parts struct {
		first  runtime.Adopted
		byHost map[string]runtime.Instance
	}
	groups := map[string]*parts{}
	var order []string
	for _, a := range adopted {
		hosts, id := e.groupOf(a)
		switch {
		case hosts == nil:
			out = append(out, a)
		case a.Members != nil:
			if len(a.Members) == len(hosts) {
				a.Instance, a.Deployment = newGroup(a.Instance.ID(), a.Members, hosts), id
			}
			out = append(out, a)
		default:
			group, host, ok := splitMemberID(a.Instance.ID(), e.rec.Name, a.Variant, hosts)
			if !ok {
				out = append(out, a)
				continue
			}
			p := groups[group]
			if p == nil {
				p = &parts{first: a, byHost: map[string]runtime.Instance{}}
				groups[group] = p
				order = append(order, group)
			}
			p.byHost[host] = a.Instance
		}
	}
	for _, group := range order {
		p := groups[group]
		hosts, id := e.groupOf(p.first)
		if len(p.byHost) != len(hosts) {
			for _, in := range p.byHost {
				out = append(out, runtime.Adopted{Instance: in, Endpoint: p.first.Endpoint, Variant: p.first.Variant, Deployment: p.first.Deployment})
			}
			continue
		}
		members := make([]runtime.Instance, len(hosts))
		for i, h := range hosts {
			members[i] = p.byHost[h]
		}
		e.s.log.Info("adopted the containers of an instance", "endpoint", e.rec.Name, "variant", p.first.Variant, "instance", group, "containers", len(hosts))
		out = append(out, runtime.Adopted{Instance: newGroup(group, members, hosts), Endpoint: p.first.Endpoint, Variant: p.first.Variant, Deployment: id, Started: p.first.Started})
	}
	return out
}

// groupOf returns, for an adopted instance of a model of several
// containers of the endpoint's current or pending deployment, the
// containers' hostnames and the deployment's ID; nil for any other.
func (e *endpoint) groupOf(a runtime.Adopted) (hosts []string, id string) {
	for _, d := range []*deployment{&e.rec.Current, e.rec.Pending} {
		if d == nil || a.Deployment != groupDeployment(d.ID) {
			continue
		}
		if v := d.variant(a.Variant); v != nil && len(v.Containers) > 1 {
			return containerHostnames(v.Containers), d.ID
		}
	}
	return nil, ""
}

// splitMemberID parses memberID(ID, hostname) for the IDs endpoint.start
// gives (endpoint-variant-XXXXXXXX, the last part newID's).
func splitMemberID(id, endpoint, variant string, hosts []string) (group, host string, ok bool) {
	prefix := strings.ToLower(endpoint) + "-" + strings.ToLower(variant) + "-"
	n := len(prefix) + 8
	if !strings.HasPrefix(id, prefix) || len(id) <= n+1 || id[n] != '-' {
		return "", "", false
	}
	for _, h := range hosts {
		if strings.ToLower(h) == id[n+1:] {
			return id[:n], h, true
		}
	}
	return "", "", false
}
